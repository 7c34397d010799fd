"""Fixtures shared by the test suite: isolated user dirs, configs, and the CLI as a process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from helpers import config_text


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user config/data/state/cache dirs (the log file
    is in the state dir) or a config named by the environment (platformdirs follows the
    XDG variables on Linux)."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    # The log file (platformdirs.user_log_dir: $XDG_STATE_HOME/simjobs/log on Linux).
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("SIMJOBS_CONFIG", raising=False)
    monkeypatch.delenv("SIMJOBS_DEMO_FAST", raising=False)


@pytest.fixture
def make_config(tmp_path):
    """Write a config (see :func:`config_text`) to ``tmp_path/simjobs.toml``; returns its path."""

    def make(name: str = "simjobs.toml", **kwargs) -> Path:
        path = tmp_path / name
        path.write_text(config_text(**kwargs))
        return path

    return make


@pytest.fixture
def cli(tmp_path):
    """Run ``python -m simjobs ARGS...`` in ``tmp_path``; returns the CompletedProcess."""

    def run(*args, cwd: Optional[Path] = None, timeout: float = 120,
            input: Optional[str] = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "simjobs", *map(str, args)],
            cwd=cwd or tmp_path, capture_output=True, text=True, timeout=timeout, input=input,
        )

    return run


@pytest.fixture
def gate(tmp_path, monkeypatch):
    """The gate file of ``tests/sims/gate.py``: its jobs run until it exists. Opened at
    teardown, so no job outlives the test by more than a moment."""
    path = tmp_path / "gate-open"
    monkeypatch.setenv("SIMJOBS_TEST_GATE", str(path))
    yield path
    path.touch()


@pytest.fixture
def background_run(tmp_path):
    """Start ``simjobs run --config FILE`` in the background; stopped at teardown."""
    started: list[subprocess.Popen] = []

    def start(config: Path, *extra: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simjobs", "run", "--config", str(config), *extra],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def unwritable_dir(tmp_path):
    """An empty directory nobody can write, root included.

    As a normal user, mode 0o500 does it. Root ignores modes, so as root the directory
    is made immutable with chattr +i, which binds root too (os.access reports it)."""
    d = tmp_path / "unwritable"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o500)
        yield d
        d.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(d)], capture_output=True).returncode:
        pytest.fail("running as root, an unwritable directory needs chattr +i, which failed here")
    try:
        yield d
    finally:
        subprocess.run([chattr, "-i", str(d)], check=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With SIMJOBS_REQUIRE_SERVICES=1 (set by .ci/run), a skipped test is a failure.

    Tests that need a server (sshd, Slurm) skip with a reason on a machine without it;
    CI starts those servers, so a skip there means a test that did not run."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") \
            and os.environ.get("SIMJOBS_REQUIRE_SERVICES") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but SIMJOBS_REQUIRE_SERVICES=1 requires it to run: {reason}"


# ---- real test services (started by scripts/services/, see its README) -------------------

def _service_env(prefix_var: str, default_dir: str) -> dict[str, str]:
    """The ``export`` lines of a started service: from the environment, else from the
    ``env`` file the start script writes into its state dir."""
    state_dir = Path(os.environ.get(prefix_var) or default_dir)
    values: dict[str, str] = {}
    env_file = state_dir / "env"
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line[len("export "):].partition("=")
                values[key.strip()] = value.strip().strip("'\"")
    values.update({k: v for k, v in os.environ.items()
                   if k.startswith("SIMJOBS_SSH") or k.startswith("SIMJOBS_SLURM")
                   or k == "SLURM_CONF"})
    return values


@pytest.fixture(scope="session")
def ssh_server() -> dict[str, str]:
    """The loopback sshd of ``scripts/services/start-sshd.sh``: a dict with host, port,
    user, key, known_hosts and dir. Skips (a failure under CI) when it is not running."""
    import socket

    env = _service_env("SIMJOBS_SSHD_DIR", "/tmp/simjobs-sshd")
    needed = ("SIMJOBS_SSH_HOST", "SIMJOBS_SSH_PORT", "SIMJOBS_SSH_USER", "SIMJOBS_SSH_KEY",
              "SIMJOBS_SSH_KNOWN_HOSTS")
    if not all(k in env for k in needed):
        pytest.skip("no test sshd: run `bash scripts/services/start-sshd.sh` first")
    try:
        socket.create_connection((env["SIMJOBS_SSH_HOST"], int(env["SIMJOBS_SSH_PORT"])),
                                 timeout=2).close()
    except OSError as exc:
        pytest.skip(f"test sshd not answering on {env['SIMJOBS_SSH_HOST']}:"
                    f"{env['SIMJOBS_SSH_PORT']} ({exc}): run scripts/services/start-sshd.sh")
    return {
        "host": env["SIMJOBS_SSH_HOST"], "port": env["SIMJOBS_SSH_PORT"],
        "user": env["SIMJOBS_SSH_USER"], "key": env["SIMJOBS_SSH_KEY"],
        "known_hosts": env["SIMJOBS_SSH_KNOWN_HOSTS"],
        "dir": env.get("SIMJOBS_SSHD_DIR", "/tmp/simjobs-sshd"),
    }


@pytest.fixture(scope="session")
def slurm_cluster() -> dict[str, str]:
    """The one-node Slurm of ``scripts/services/start-slurm.sh``: a dict with conf,
    partition and dir; SLURM_CONF is set for the tests' commands. Skips (a failure
    under CI) when it is not running."""
    env = _service_env("SIMJOBS_SLURM_DIR", "/tmp/simjobs-slurm")
    if "SLURM_CONF" not in env or shutil.which("sinfo") is None:
        pytest.skip("no test Slurm: run `bash scripts/services/start-slurm.sh` first")
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]
    probe = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if "UP" not in probe.stdout:
        pytest.skip(f"test Slurm controller not answering ({probe.stdout.strip()} "
                    f"{probe.stderr.strip()}): run scripts/services/start-slurm.sh")
    return {
        "conf": env["SLURM_CONF"], "partition": env.get("SIMJOBS_SLURM_PARTITION", "debug"),
        "dir": env.get("SIMJOBS_SLURM_DIR", "/tmp/simjobs-slurm"),
    }


@pytest.fixture(scope="session")
def sge() -> dict[str, str]:
    """The one-node Grid Engine of ``scripts/services/start-sge.sh``: a dict with root,
    cell, queue, dir (its state dir) and qmaster_pid_file; SGE_ROOT and SGE_CELL are set
    for the tests' commands. Skips (a failure under CI) when it is not running."""
    env = _service_env("SIMJOBS_SGE_DIR", "/tmp/simjobs-sge")
    env.update({k: v for k, v in os.environ.items()
                if k.startswith("SIMJOBS_SGE") or k in ("SGE_ROOT", "SGE_CELL")})
    if env.get("SIMJOBS_SGE") != "1" or shutil.which("qsub") is None:
        pytest.skip("no test Grid Engine: run `bash scripts/services/start-sge.sh` first")
    os.environ["SGE_ROOT"], os.environ["SGE_CELL"] = env["SGE_ROOT"], env["SGE_CELL"]
    queue = env.get("SIMJOBS_SGE_QUEUE", "all.q")
    probe = subprocess.run(["qstat", "-q", queue], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"test Grid Engine qmaster not answering ({probe.stderr.strip()}): "
                    "run scripts/services/start-sge.sh")
    return {
        "root": env["SGE_ROOT"], "cell": env["SGE_CELL"], "queue": queue,
        "dir": env.get("SIMJOBS_SGE_DIR", "/tmp/simjobs-sge"),
        "qmaster_pid_file": "/var/spool/gridengine/qmaster/qmaster.pid",
    }
