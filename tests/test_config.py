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
    # what the config reports is what the interfaces it builds run (one default)
    assert [s.effective_max_jobs for s in config.interfaces] == [
        i.describe()["max_jobs"] for i in interfaces]
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
        lambda t: t.replace('kind = "local"', 'kind = "torque"', 1),
        ["interfaces[0].kind must be one of 'local', 'ssh', 'slurm', 'pbs', 'lsf', 'sge' "
         "(got 'torque')"]),
    "ssh without host": (
        lambda t: t.replace('kind = "local"', 'kind = "ssh"', 1),
        ["interfaces[0].host is missing; add host = "]),
    "local with a host": (
        lambda t: t.replace('max_jobs = 3', 'max_jobs = 3\nhost = "example.org"'),
        ["unknown key 'host' in interfaces[0]"]),
    "slurm with an ssh key at the top": (
        lambda t: t.replace('kind = "local"', 'kind = "slurm"', 1).replace(
            'max_jobs = 3', 'max_jobs = 3\nhost = "example.org"'),
        ["unknown key 'host' in interfaces[0]"]),
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


# Remote interfaces: an ssh one and a slurm one driven through SSH. Local files (keys,
# known_hosts) are made by the test; the remote ones are never contacted by load_config.
REMOTE = """\
[log]
path = "runs.csv"
input_dim = 2

[[interfaces]]
kind = "ssh"
name = "server"
level = 1
host = "sim.example.org"
port = 2200
user = "me"
workspace = "runs/it's here"
command = "python3 /opt/sim/run.py --fast"
max_jobs = 8
identity_file = "keys/id_test"
known_hosts = "keys/known_hosts"
connect_timeout = 3

[[interfaces]]
kind = "slurm"
name = "cluster"
level = 2
workspace = "scratch/simjobs"
command = ["~/bin/sim", "--level", "2"]
partition = "debug"
sbatch_args = ["--time=00:10:00", "--mem=1G"]
max_jobs = 100

[interfaces.ssh]
host = "login.example.org"
identity_files = ["keys/id_test"]
"""


def remote_config(tmp_path: Path, text: str = REMOTE) -> Path:
    (tmp_path / "keys").mkdir(exist_ok=True)
    (tmp_path / "keys" / "id_test").write_text("not really a key\n")
    (tmp_path / "keys" / "known_hosts").write_text("")
    return write(tmp_path, text)


def test_ssh_and_remote_slurm_interfaces_are_read_without_contacting_anything(tmp_path):
    path = remote_config(tmp_path)
    before = tree(tmp_path)
    config = load_config(path)
    server, cluster = config.interfaces
    assert (server.kind, server.name, server.level, server.max_jobs) == ("ssh", "server", 1, 8)
    # The remote command is split, never looked up on this machine.
    assert server.command == ("python3", "/opt/sim/run.py", "--fast")
    assert str(server.workspace) == "runs/it's here"  # remote, relative to the remote home
    assert server.ssh.host == "sim.example.org" and server.ssh.port == 2200
    assert server.ssh.user == "me" and server.ssh.connect_timeout == 3.0
    assert server.ssh.identity_files == (str(tmp_path / "keys" / "id_test"),)
    assert server.ssh.known_hosts == str(tmp_path / "keys" / "known_hosts")
    assert server.host == "me@sim.example.org:2200"
    assert cluster.kind == "slurm" and cluster.command == ("~/bin/sim", "--level", "2")
    assert (cluster.partition, cluster.sbatch_args) == ("debug", ("--time=00:10:00", "--mem=1G"))
    assert cluster.ssh.host == "login.example.org" and cluster.ssh.port == 22
    assert cluster.ssh.known_hosts is None  # the user's ~/.ssh/known_hosts
    assert str(cluster.workspace) == "scratch/simjobs"

    interfaces = config.build_interfaces()
    try:
        from simjobs.interfaces.ssh import SSHInterface
        from simjobs.interfaces.slurm import SlurmInterface

        ssh_iface, slurm_iface = interfaces
        assert isinstance(ssh_iface, SSHInterface) and isinstance(slurm_iface, SlurmInterface)
        assert ssh_iface.describe()["kind"] == "ssh"
        assert ssh_iface.describe()["host"] == "me@sim.example.org:2200"
        assert ssh_iface.workspace == "runs/it's here" and ssh_iface.max_jobs == 8
        assert ssh_iface.command == ["python3", "/opt/sim/run.py", "--fast"]
        assert (slurm_iface.name, slurm_iface.level, slurm_iface.max_jobs) == ("cluster", 2, 100)
    finally:
        for iface in interfaces:
            iface.close()
    assert tree(tmp_path) == before  # neither loading nor building created anything here


def test_a_local_slurm_interface_resolves_its_command_like_a_local_one(tmp_path):
    text = VALID.replace('kind = "local"', 'kind = "slurm"', 1).replace(
        "max_jobs = 3", 'max_jobs = 3\npartition = "debug"')
    config = load_config(write(tmp_path, text))
    cluster = config.interfaces[0]
    assert cluster.kind == "slurm" and cluster.ssh is None and cluster.host is None
    assert cluster.command == (sys.executable, str(SIMS / "sum.py"))
    assert cluster.workspace == tmp_path / "work" / "fast"
    assert cluster.partition == "debug" and cluster.sbatch_args == ()


REMOTE_BAD = {
    "ssh port": (
        lambda t: t.replace("port = 2200", "port = 70000"),
        ["interfaces[0].port must be a port number 1-65535 (got 70000)"]),
    "ssh identity file missing": (
        lambda t: t.replace('"keys/id_test"\nknown', '"keys/nope"\nknown'),
        ["interfaces[0].identity_file 'keys/nope': no such file", "check the path"]),
    "ssh both identity keys": (
        lambda t: t.replace("connect_timeout = 3", 'connect_timeout = 3\nidentity_files = []'),
        ["interfaces[0]: give identity_file or identity_files, not both"]),
    "ssh known_hosts missing": (
        lambda t: t.replace('"keys/known_hosts"', '"keys/nope_hosts"'),
        ["interfaces[0].known_hosts 'keys/nope_hosts': no such file",
         "ssh-keyscan -p 2200 sim.example.org >>"]),
    "ssh connect_timeout": (
        lambda t: t.replace("connect_timeout = 3", "connect_timeout = 0"),
        ["interfaces[0].connect_timeout must be a number of seconds > 0 (got 0)"]),
    "ssh command with {python}": (
        lambda t: t.replace('"python3 /opt/sim/run.py --fast"', '"{python} sim.py"'),
        ["interfaces[0].command: {python} is this machine's Python"]),
    "ssh command missing": (
        lambda t: t.replace('command = "python3 /opt/sim/run.py --fast"\n', ""),
        ["interfaces[0].command is missing"]),
    "ssh command unparsable": (
        lambda t: t.replace('"python3 /opt/sim/run.py --fast"', "'python3 \"sim.py'"),
        ["interfaces[0].command cannot be parsed (No closing quotation)"]),
    "ssh unknown key": (
        lambda t: t.replace("connect_timeout = 3", "conect_timeout = 3"),
        ["unknown key 'conect_timeout' in interfaces[0]; did you mean 'connect_timeout'?"]),
    "slurm ssh table key": (
        lambda t: t.replace('host = "login.example.org"', 'hostname = "login.example.org"'),
        ["unknown key 'hostname' in interfaces[1].ssh"]),
    "slurm ssh without host": (
        lambda t: t.replace('host = "login.example.org"\n', ""),
        ["interfaces[1].ssh.host is missing"]),
    "slurm ssh not a table": (
        lambda t: t.replace("[interfaces.ssh]\nhost = \"login.example.org\"\n"
                            "identity_files = [\"keys/id_test\"]\n", 'ssh = "login"\n'),
        ["interfaces[1].ssh must be a table"]),
    "slurm sbatch_args": (
        lambda t: t.replace('sbatch_args = ["--time=00:10:00", "--mem=1G"]',
                            'sbatch_args = "--time=10"'),
        ["interfaces[1].sbatch_args must be a list of strings"]),
    "slurm partition": (
        lambda t: t.replace('partition = "debug"', 'partition = "two words"'),
        ["interfaces[1].partition must be a partition name"]),
}


@pytest.mark.parametrize("case", list(REMOTE_BAD))
def test_bad_remote_config_is_one_line_naming_the_key_and_creates_nothing(tmp_path, case):
    change, expected = REMOTE_BAD[case]
    text = change(REMOTE)
    assert text != REMOTE, "the case should change the config"
    path = remote_config(tmp_path, text)
    before = tree(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(path).build_interfaces()
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    for part in expected:
        assert part in message, message
    assert tree(tmp_path) == before


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
