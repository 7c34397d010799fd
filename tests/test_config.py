"""The TOML config: every bad input is one line naming file and key, and creates nothing."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import SIMS, config_text, records_of, sim_command, tree
from simjobs.config import (
    DEFAULT_POLLING_INTERVAL,
    ConfigError,
    find_config,
    load_config,
    user_config_path,
)
from simjobs.core import Input, JobManager, JobStatus
from simjobs.interfaces import LocalInterface, resolve_command

VALID = """\
[log]
path = "runs.csv"
input_dim = 2

[manager]
polling_interval = 0.05

[[interfaces]]
kind = "local"
name = "fast"
level = 1
command = "{python} SUM"
workspace = "work/fast"
max_jobs = 3

[[interfaces]]
kind = "local"
name = "slow"
level = 2
command = ["{python}", "SUM"]
workspace = "work/slow"
""".replace("SUM", str(SIMS / "sum.py"))


def write(tmp_path: Path, text: str, name: str = "demo.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_valid_config_resolves_paths_against_its_directory(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    path = write(tmp_path, VALID)
    config = load_config(path)
    assert config.path == path
    assert config.log_path == tmp_path / "runs.csv"
    assert config.input_dim == 2
    assert config.polling_interval == 0.05
    assert [s.name for s in config.interfaces] == ["fast", "slow"]
    fast, slow = config.interfaces
    assert fast.command == (sys.executable, str(SIMS / "sum.py"))
    assert slow.command == fast.command
    assert fast.workspace == tmp_path / "work" / "fast"
    assert (fast.max_jobs, slow.max_jobs) == (3, None)
    assert slow.effective_max_jobs == (os.cpu_count() or 1)
    assert config.levels == (1, 2)
    assert tree(tmp_path) == ["demo.toml"]  # loading creates nothing


def test_valid_config_builds_working_interfaces_and_log(tmp_path):
    config = load_config(write(tmp_path, VALID))
    interfaces = config.build_interfaces()
    assert all(isinstance(i, LocalInterface) for i in interfaces)
    assert [(i.name, i.level, i.max_jobs) for i in interfaces] == [
        ("fast", 1, 3), ("slow", 2, os.cpu_count() or 1)]
    assert (tmp_path / "work" / "fast").is_dir() and (tmp_path / "work" / "slow").is_dir()

    log = config.open_log()
    manager = JobManager(log, interfaces, polling_interval=config.polling_interval)
    try:
        low = manager.submit(Input(1.0, 2.0), level=1)
        high = manager.submit(Input(0.25, 0.5), level=2)
        assert manager.wait_until_done(timeout=30)
    finally:
        manager.shutdown()
        log.close()
    records = records_of(tmp_path / "runs.csv")
    assert records[str(low.id)].status is JobStatus.COMPLETED
    assert records[str(low.id)].output == 3.0
    assert records[str(high.id)].output == 0.75
    assert records[str(high.id)].interface_name == "slow"


def test_polling_interval_defaults_for_configs(tmp_path):
    config = load_config(write(tmp_path, VALID.replace("polling_interval = 0.05", "")))
    assert config.polling_interval == DEFAULT_POLLING_INTERVAL == 1.0


def test_input_dim_may_come_from_an_existing_log(tmp_path):
    (tmp_path / "runs.csv").write_text(
        "Input_1,Input_2,Input_3,Output,Job_ID,Job_Status,Job_Level,Interface_Name\r\n")
    config = load_config(write(tmp_path, VALID.replace("input_dim = 2\n", "")))
    assert config.input_dim is None
    with config.open_log(readonly=True) as log:
        assert log.input_dim == 3


def test_a_relative_simulator_path_resolves_against_the_config_dir(tmp_path, monkeypatch):
    sim = tmp_path / "bin" / "sim.sh"
    sim.parent.mkdir()
    sim.write_text("#!/bin/sh\necho 1 > \"$2\"\n")
    sim.chmod(0o755)
    monkeypatch.chdir("/")
    config = load_config(write(tmp_path, VALID.replace(
        f'"{{python}} {SIMS / "sum.py"}"', '"bin/sim.sh --flag"')))
    assert config.interfaces[0].command == (str(sim), "--flag")


def test_a_home_relative_simulator_path_is_expanded(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    sim = home / "bin" / "sim.sh"
    sim.write_text("#!/bin/sh\necho 1 > \"$2\"\n")
    sim.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    config = load_config(write(tmp_path, VALID.replace(
        f'"{{python}} {SIMS / "sum.py"}"', '"~/bin/sim.sh"')))
    assert config.interfaces[0].command == (str(sim),)


def test_a_bare_simulator_name_is_pinned_to_its_path_on_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sim = bin_dir / "my-sim"
    sim.write_text("#!/bin/sh\necho 1 > \"$2\"\n")
    sim.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.environ["PATH"]]))
    config = load_config(write(tmp_path, VALID.replace(
        f'"{{python}} {SIMS / "sum.py"}"', '"my-sim --fast {python}"')))
    assert config.interfaces[0].command == (str(sim), "--fast", sys.executable)
    assert config.build_interfaces()[0].command == [str(sim), "--fast", sys.executable]


# The command values (TOML) both checks get; relative to the config's directory.
COMMANDS = [
    '""', '["  "]', "'\"open'", "5", '["a", 1]', '"no-such-simulator-xyz --fast"',
    '"./missing.sh"', '"~/missing.sh"', f'"./{"not-executable.sh"}"', '"./a-dir"',
    '"a-dir/"',
    # valid ones
    '"./sim.sh --flag"', '"~/sim.sh"', '["sim.sh"]', f'"{sys.executable} x.py"',
]


@pytest.mark.parametrize("toml_value", COMMANDS)
def test_config_and_local_interface_check_a_command_alike(tmp_path, monkeypatch, toml_value):
    """One check (resolve_command) behind both: the same verdict, the same message."""
    for name, mode in (("not-executable.sh", 0o644), ("sim.sh", 0o755)):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(mode)
    (tmp_path / "a-dir").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", os.pathsep.join([str(tmp_path), os.environ["PATH"]]))
    monkeypatch.chdir(tmp_path)  # LocalInterface resolves against the current directory
    value = tomllib.loads(f"v = {toml_value}")["v"]
    path = write(tmp_path, VALID.replace(f'"{{python}} {SIMS / "sum.py"}"', toml_value))
    key = "interfaces[0].command"
    try:
        expected = resolve_command(value, tmp_path, placeholders={"{python}": sys.executable},
                                   what=key)
    except ValueError as exc:
        with pytest.raises(ConfigError) as from_config:
            load_config(path)
        assert str(from_config.value) == f"{path}: {exc}"
        with pytest.raises(ValueError) as from_interface:
            LocalInterface("loc", 1, value, tmp_path / "ws")
        assert str(from_interface.value) == str(exc).replace(
            key, "The command of interface 'loc'")
        assert not (tmp_path / "ws").exists()
    else:
        assert list(load_config(path).interfaces[0].command) == expected
        assert LocalInterface("loc", 1, value, tmp_path / "ws").command == expected


# ---- every problem: one line naming file and key; nothing on disk ---------------------

NOT_EXECUTABLE = "not-executable.sh"

BAD = {
    "toml syntax": (
        lambda t: t.replace('name = "fast"', 'name = "fast'),
        ["demo.toml line 10: invalid TOML", "fix the syntax"]),
    "unknown key": (
        lambda t: t.replace("max_jobs = 3", "maxjobs = 3"),
        ["demo.toml: unknown key 'maxjobs' in interfaces[0]; did you mean 'max_jobs'?"]),
    "unknown table key": (
        lambda t: t.replace("polling_interval", "poll_interval"),
        ["unknown key 'poll_interval' in [manager]; did you mean 'polling_interval'?"]),
    "unknown top-level table": (
        lambda t: t + '\n[logs]\npath = "x"\n',
        ["unknown key 'logs' in the top level; did you mean 'log'?"]),
    "max_jobs zero": (
        lambda t: t.replace('workspace = "work/slow"', 'workspace = "work/slow"\nmax_jobs = 0'),
        ["demo.toml: interfaces[1].max_jobs must be an integer >= 1 (got 0)"]),
    "max_jobs string": (
        lambda t: t.replace("max_jobs = 3", 'max_jobs = "3"'),
        ["interfaces[0].max_jobs must be an integer >= 1 (got '3')"]),
    "missing command": (
        lambda t: t.replace(f'command = "{{python}} {SIMS / "sum.py"}"\n', ""),
        ["interfaces[0].command is missing", "command = "]),
    "empty command": (
        lambda t: t.replace(f'"{{python}} {SIMS / "sum.py"}"', '"  "'),
        ["interfaces[0].command is empty"]),
    "command not found": (
        lambda t: t.replace(f'"{{python}} {SIMS / "sum.py"}"', '"no-such-simulator-xyz --fast"'),
        ["interfaces[0].command: 'no-such-simulator-xyz' was not found on PATH"]),
    "command path missing": (
        lambda t: t.replace(f'"{{python}} {SIMS / "sum.py"}"', '"./missing.sh"'),
        ["interfaces[0].command: './missing.sh' does not exist"]),
    "command is a directory": (
        lambda t: t.replace(f'"{{python}} {SIMS / "sum.py"}"', '"/"'),
        ["interfaces[0].command: '/' is not a file", "give the simulator's program"]),
    "command not executable": (
        lambda t: t.replace(f'"{{python}} {SIMS / "sum.py"}"', f'"./{NOT_EXECUTABLE}"'),
        [f"interfaces[0].command: './{NOT_EXECUTABLE}' is not executable", "chmod +x"]),
    "duplicate names": (
        lambda t: t.replace('name = "slow"', 'name = "fast"'),
        ["interfaces[1].name 'fast' is already used by interfaces[0]"]),
    "input_dim zero": (
        lambda t: t.replace("input_dim = 2", "input_dim = 0"),
        ["demo.toml: log.input_dim must be an integer >= 1 (got 0)"]),
    "input_dim text": (
        lambda t: t.replace("input_dim = 2", 'input_dim = "two"'),
        ["log.input_dim must be an integer >= 1 (got 'two')"]),
    "input_dim missing, no log": (
        lambda t: t.replace("input_dim = 2\n", ""),
        ["log.input_dim is missing and the log does not exist yet"]),
    "log dir missing": (
        lambda t: t.replace('path = "runs.csv"', 'path = "no/such/dir/runs.csv"'),
        ["log.path 'no/such/dir/runs.csv': the directory", "does not exist"]),
    "log path missing": (
        lambda t: t.replace('path = "runs.csv"\n', ""),
        ["log.path is missing"]),
    "level not an int": (
        lambda t: t.replace("level = 2", 'level = "2"'),
        ["interfaces[1].level must be an integer >= 1 (got '2')"]),
    "level missing": (
        lambda t: t.replace("level = 2\n", ""),
        ["interfaces[1].level is missing"]),
    "unknown kind": (
        lambda t: t.replace('kind = "local"', 'kind = "pbs"', 1),
        ["interfaces[0].kind must be one of 'local' (got 'pbs')"]),
    "ssh not yet": (
        lambda t: t.replace('kind = "local"', 'kind = "ssh"', 1),
        ["interfaces[0].kind 'ssh' is not supported yet"]),
    "slurm not yet": (
        lambda t: t.replace('kind = "local"', 'kind = "slurm"', 1),
        ["interfaces[0].kind 'slurm' is not supported yet"]),
    "no interfaces": (
        lambda t: t[: t.index("[[interfaces]]")],
        ["demo.toml: no interfaces: add at least one [[interfaces]]"]),
    "polling interval negative": (
        lambda t: t.replace("polling_interval = 0.05", "polling_interval = -1"),
        ["manager.polling_interval must be a number of seconds > 0 (got -1)"]),
    "command unparsable": (
        lambda t: t.replace(f'"{{python}} {SIMS / "sum.py"}"', "'\"{python} sim.py'"),
        ["interfaces[0].command cannot be parsed (No closing quotation); check its quotes"]),
    "command not a string": (
        lambda t: t.replace(f'"{{python}} {SIMS / "sum.py"}"', "3"),
        ["interfaces[0].command must be a string or a list of strings (got 3)"]),
    "workspace under a file": (
        lambda t: t.replace('workspace = "work/fast"', f'workspace = "{NOT_EXECUTABLE}/ws"'),
        ["interfaces[0].workspace", "is a file, not a directory"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_config_is_one_line_naming_the_key_and_creates_nothing(tmp_path, case):
    change, expected = BAD[case]
    (tmp_path / NOT_EXECUTABLE).write_text("#!/bin/sh\n")
    (tmp_path / NOT_EXECUTABLE).chmod(0o644)
    path = write(tmp_path, change(VALID))
    before = tree(tmp_path)
    with pytest.raises(ConfigError) as info:
        config = load_config(path)
        config.build_interfaces()  # never reached: nothing may be built from a bad config
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    for part in expected:
        assert part.replace("demo.toml", str(path)) in message, message
    assert tree(tmp_path) == before


def test_log_in_an_unwritable_directory(tmp_path, unwritable_dir):
    path = write(tmp_path, VALID.replace('path = "runs.csv"', 'path = "unwritable/runs.csv"'))
    with pytest.raises(ConfigError, match=r"log.path .* is not writable"):
        load_config(path)
    assert os.listdir(unwritable_dir) == []


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml: no such config file"):
        load_config(tmp_path / "nope.toml")


# ---- where the config is found ---------------------------------------------------------


def test_config_search_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no config file: pass --config FILE"):
        find_config()

    user = user_config_path()
    assert str(user).startswith(os.environ["XDG_CONFIG_HOME"])
    user.parent.mkdir(parents=True)
    user.write_text(VALID)
    assert find_config() == user

    (tmp_path / "simjobs.toml").write_text(VALID)
    assert find_config() == Path("simjobs.toml")

    write(tmp_path, VALID)
    other = write(tmp_path, VALID, "other.toml")
    monkeypatch.setenv("SIMJOBS_CONFIG", str(other))
    assert find_config() == other
    assert find_config(tmp_path / "demo.toml") == tmp_path / "demo.toml"  # --config wins
    with pytest.raises(ConfigError, match="missing.toml: no such config file"):
        find_config("missing.toml")


def test_helpers_config_text_is_a_valid_config(tmp_path):
    path = tmp_path / "simjobs.toml"
    path.write_text(config_text(interfaces=[
        {"name": "a", "level": 1, "command": sim_command("sum.py")},
        {"name": "b", "level": 2, "command": sim_command("fail.sh"), "max_jobs": 1},
    ]))
    config = load_config(path)
    assert [(s.name, s.level) for s in config.interfaces] == [("a", 1), ("b", 2)]
