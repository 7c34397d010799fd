"""The command line's conventions (issue 11, item 8): `config check|path|init`, shell
completion, `run --json`, the version in one place. Real processes on real configs."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import simjobs

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def one_line_error(result, *parts: str, code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simjobs: error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


# ---- config check | path | init ------------------------------------------------------------


def test_config_init_writes_an_example_that_checks(cli, tmp_path):
    result = ok(cli("config", "init"))
    path = tmp_path / "simjobs.toml"
    text = path.read_text()
    assert text.startswith("# simjobs config") and "[[interfaces]]" in text
    assert "config check" in result.stderr
    # Mode 0666 less the umask, like any file the user makes.
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    check = ok(cli("config", "check"))
    assert check.stdout.startswith(f"{path}: ok; ./simjobs.toml in the working directory")
    assert "interface local: local, level 1, max_jobs 2" in check.stdout
    assert "created at the first run" in check.stdout
    assert not (tmp_path / "runs.csv").exists()  # checking creates nothing


def test_config_init_never_overwrites(cli, tmp_path):
    path = tmp_path / "simjobs.toml"
    path.write_text("# mine\n")
    one_line_error(cli("config", "init"), "simjobs.toml exists", "never overwrites")
    assert path.read_text() == "# mine\n"
    # Nor a link another process left at the name (O_EXCL: not followed).
    link = tmp_path / "other.toml"
    link.symlink_to(tmp_path / "target.toml")
    one_line_error(cli("config", "init", link), "other.toml exists")
    assert not (tmp_path / "target.toml").exists()


def test_config_init_user_writes_the_user_config(cli, tmp_path):
    ok(cli("config", "init", "--user"))
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "simjobs" / "config.toml"
    assert user.is_file()
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    result = ok(cli("config", "path", cwd=elsewhere))
    assert result.stdout.strip() == str(user)
    assert "the user config file" in result.stderr


def test_config_check_reports_the_first_problem_in_one_line(cli, tmp_path):
    path = tmp_path / "simjobs.toml"
    path.write_text('[log]\npath = "runs.csv"\ninput_dim = 0\n[[interfaces]]\nkind = "local"\n'
                    'name = "a"\nlevel = 1\ncommand = "true"\n')
    one_line_error(cli("config", "check"), "simjobs.toml", "input_dim")


def test_config_check_without_a_config_says_how_to_make_one(cli):
    one_line_error(cli("config", "check"), "no config file", "config init")


def test_config_path_says_which_and_why(cli, tmp_path, monkeypatch):
    local = tmp_path / "simjobs.toml"
    local.write_text("")
    result = ok(cli("config", "path"))
    assert result.stdout.strip() == str(local)
    assert "./simjobs.toml in the working directory" in result.stderr
    named = tmp_path / "named.toml"
    named.write_text("")
    monkeypatch.setenv("SIMJOBS_CONFIG", str(named))
    result = ok(cli("config", "path"))
    assert result.stdout.strip() == str(named) and "named by $SIMJOBS_CONFIG" in result.stderr
    given = tmp_path / "given.toml"
    given.write_text("")
    result = ok(cli("config", "path", "--config", given))
    assert result.stdout.strip() == str(given) and "given with --config" in result.stderr


# ---- shell completion -----------------------------------------------------------------------


def complete_in_bash(script: str, words: list[str]) -> list[str]:
    """What bash offers after ``words`` (the last one being completed), with the
    script sourced: the shell's own completion machinery, no stubs."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    line = " ".join(words)
    program = (f"{script}\n"
               f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; "
               f"COMP_POINT=${{#COMP_LINE}}\n"
               "_shtab_simjobs\n"
               "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    result = subprocess.run([bash, "--norc", "--noprofile", "-c", program],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_completion_completes_commands_and_options(cli):
    script = ok(cli("completion", "bash")).stdout
    assert "_shtab_simjobs" in script
    assert "status" in complete_in_bash(script, ["simjobs", "st"])
    assert set(complete_in_bash(script, ["simjobs", "config", ""])) >= {"check", "path", "init"}
    assert "--log-level" in complete_in_bash(script, ["simjobs", "status", "--log-"])


def test_zsh_completion_is_a_zsh_script(cli):
    script = ok(cli("completion", "zsh")).stdout
    assert script.startswith("#compdef simjobs")
    zsh = shutil.which("zsh")
    if zsh is not None:  # at least it parses
        assert subprocess.run([zsh, "-n", "-c", script], timeout=60).returncode == 0


def test_completion_of_an_unknown_shell_is_one_usage_line(cli):
    one_line_error(cli("completion", "fish"), "invalid choice", "fish")


# ---- run --json --------------------------------------------------------------------------


def test_run_json_prints_one_event_per_line_with_status_keys(cli, make_config, tmp_path):
    config = make_config()
    submitted = ok(cli("submit", "--config", config, "--input", "1,2", "--input", "3,4"))
    ids = submitted.stdout.split()
    result = ok(cli("run", "--config", config, "--until-done", "--json"))
    events = [json.loads(line) for line in result.stdout.splitlines()]  # every line is JSON
    assert events, result.stderr
    jobs = [e for e in events if e["event"] == "job"]
    assert {e["job_id"] for e in jobs} == set(ids)
    status = {r["job_id"]: r for r in json.loads(ok(cli("status", "--config", config,
                                                         "--json")).stdout)}
    for job_id in ids:
        last = [e for e in jobs if e["job_id"] == job_id][-1]
        assert last["status"] == "Completed"
        shared = (set(last) & set(status[job_id])) - {"status"}
        assert shared >= {"job_id", "level", "interface_name", "output", "changed", "reason"}
        for key in shared:  # the same names hold the same values, in the same form
            assert last[key] == status[job_id][key], key
        assert last["status"] == status[job_id]["status"]
    assert set(jobs[0]) - set(status[ids[0]]) == {"event", "old_status"}


# ---- version and packaging ------------------------------------------------------------------


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_version_is_written_once(cli):
    version = pyproject()["version"]
    assert simjobs.__version__ == version
    assert ok(cli("--version")).stdout.strip() == f"simjobs {version}"
    # No other file of the package spells it out.
    for path in (ROOT / "src" / "simjobs").rglob("*.py"):
        assert f'"{version}"' not in path.read_text(), path


def test_the_built_wheel_carries_license_types_and_metadata(tmp_path):
    """Built offline with the test extra's hatchling, as a release would be."""
    pytest.importorskip("hatchling", reason="install the test extra (pip install -e '.[test]')")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("simjobs-*.whl")
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "simjobs/py.typed" in names
    assert "simjobs/config_example.toml" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata
    assert f"Version: {pyproject()['version']}" in metadata
    assert "Project-URL: Homepage" in metadata
    assert "Requires-Dist: shtab" in metadata
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "the simjobs developers" in license_text


def test_run_json_prints_interface_health_events(cli, tmp_path, make_config):
    """An interface that cannot be reached: its health event is a line too (a real
    127.0.0.1 that refuses; SIGTERM ends the run, as Ctrl-C would)."""
    config = make_config(interfaces=[{"kind": "ssh", "name": "nowhere", "level": 1,
                                      "host": "127.0.0.1", "port": 1, "command": "true"}])
    # A job waiting for it: the manager tries the interface.
    assert cli("submit", "--config", config, "0.5", "0.5", "--timeout", "1").returncode == 1
    run = subprocess.Popen([sys.executable, "-m", "simjobs", "run", "--config", str(config),
                            "--json"], cwd=tmp_path, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        # Wait (a condition with a generous bound) for the first line.
        ready, _, _ = select.select([run.stdout], [], [], 60)
        line = run.stdout.readline() if ready else ""
    finally:
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=120)
    assert line, stderr
    event = json.loads(line)
    assert event["event"] == "interface" and event["interface_name"] == "nowhere"
    assert event["old_state"] == "ok" and event["state"] == "unreachable"
    assert "127.0.0.1" in event["message"]
