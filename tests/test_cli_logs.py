"""Where the command line's errors go (issue 11, item 7): the rotated log file under
platformdirs.user_log_dir("simjobs"), -v/--log-level on every command, the path in
--help. Real processes, the test's own XDG dirs (conftest)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from simjobs import logfile

pytestmark = pytest.mark.slow


def log_path() -> Path:
    # conftest points XDG_STATE_HOME at the test's own directory.
    return Path(os.environ["XDG_STATE_HOME"]) / "simjobs" / "log" / "simjobs.log"


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


#: Every subcommand (and sub-subcommand), as typed.
COMMANDS = [["run"], ["submit"], ["status"], ["show"], ["cancel"], ["resubmit"], ["repair"],
            ["export"], ["interfaces"], ["demo"], ["app"], ["config"], ["config", "check"],
            ["config", "path"], ["config", "init"], ["completion"]]


def test_the_log_file_is_in_the_user_log_dir_of_the_test():
    assert logfile.log_file() == log_path()
    assert str(log_path()).startswith(os.environ["XDG_STATE_HOME"])


def test_help_names_the_log_file_and_every_command_takes_the_options(cli):
    top = ok(cli("--help")).stdout
    assert str(log_path()) in top  # (a path has no spaces: help text is wrapped at spaces)
    for command in COMMANDS:
        text = ok(cli(*command, "--help")).stdout
        assert "-v, --verbose" in text and "--log-level" in text, command
        assert "simjobs.log" in text, command


def slurm_requeue_config(tmp_path: Path) -> Path:
    """A valid config whose check logs one library warning (--requeue in sbatch_args)."""
    path = tmp_path / "simjobs.toml"
    path.write_text(
        '[log]\npath = "runs.csv"\ninput_dim = 1\n\n'
        '[[interfaces]]\nkind = "slurm"\nname = "cluster"\nlevel = 1\n'
        f'command = "{sys.executable} sim.py"\nsbatch_args = ["--requeue"]\n')
    return path


def test_a_library_warning_goes_to_stderr_and_to_the_file(cli, tmp_path):
    config = slurm_requeue_config(tmp_path)
    result = ok(cli("config", "check", "--config", config))
    assert "has --requeue" in result.stderr
    text = log_path().read_text()
    assert "WARNING" in text and "has --requeue" in text
    # The directory and the file are the user's alone.
    assert stat.S_IMODE(log_path().parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(log_path().stat().st_mode) == 0o600


def test_log_level_error_keeps_warnings_out_of_both(cli, tmp_path):
    config = slurm_requeue_config(tmp_path)
    result = ok(cli("config", "check", "--config", config, "--log-level", "error"))
    assert "--requeue" not in result.stderr
    assert not log_path().exists() or "--requeue" not in log_path().read_text()


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_says_where_the_log_file_is(cli, tmp_path, where):
    config = slurm_requeue_config(tmp_path)
    args = ["config", "path", "--config", config]
    result = ok(cli(*(["-v", *args] if where == "before" else [*args, "-v"])))
    assert f"log file {log_path()}" in result.stderr
    quiet = ok(cli(*args))
    assert "log file" not in quiet.stderr
    assert "INFO" in log_path().read_text()


def test_a_bad_log_level_is_one_usage_line(cli):
    result = cli("status", "--log-level", "loud")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--log-level" in lines[0] and "loud" in lines[0]


def test_a_bug_leaves_its_traceback_in_the_file(tmp_path):
    """An unexpected exception (a bug) still prints Python's traceback, and the file
    keeps it too (the app's terminal hides stderr)."""
    code = ("import sys, simjobs.cli as c, simjobs.cli.status as status\n"
            "def boom(args):\n    raise ZeroDivisionError('a bug in status')\n"
            "status.cmd_status = boom\n"
            "sys.exit(c.main(['status', '--log', 'x.csv']))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "ZeroDivisionError: a bug in status" in result.stderr
    text = log_path().read_text()
    assert "ERROR" in text and "simjobs status failed with a bug" in text
    assert "Traceback (most recent call last)" in text
    assert "ZeroDivisionError: a bug in status" in text


def test_an_unsafe_log_dir_is_one_warning_and_the_command_goes_on(cli, tmp_path, make_config):
    directory = log_path().parent
    directory.mkdir(parents=True)
    directory.chmod(0o777)  # writable by anyone: another user could plant a link
    config = make_config()
    result = ok(cli("config", "path", "--config", config))
    assert result.stderr.count("warning") == 1
    assert "no log file" in result.stderr and "writable by other users" in result.stderr
    assert not log_path().exists()


def test_a_link_in_place_of_the_file_is_not_followed(tmp_path):
    """The file is opened with O_NOFOLLOW: a link planted at its name is refused."""
    target = tmp_path / "elsewhere"
    target.write_text("")
    path = tmp_path / "logs" / "simjobs.log"
    path.parent.mkdir(mode=0o700)
    path.symlink_to(target)
    with pytest.raises(OSError):
        logfile.install(logging.WARNING, path)
    logfile.uninstall()
    assert target.read_text() == ""


def test_the_file_is_rotated(tmp_path, monkeypatch):
    monkeypatch.setattr(logfile, "MAX_BYTES", 2_000)
    path = logfile.install(logging.WARNING, tmp_path / "log" / "simjobs.log")
    try:
        for i in range(100):
            logging.getLogger("simjobs").warning("simjobs: warning number %d, padded %s", i,
                                                 "x" * 40)
    finally:
        logfile.uninstall()
    assert path.stat().st_size <= 2_000
    backups = sorted(p.name for p in path.parent.iterdir())
    assert backups == ["simjobs.log", "simjobs.log.1", "simjobs.log.2", "simjobs.log.3"]
    assert "warning number 99" in path.read_text()
