"""Helpers shared by the tests (import with ``from helpers import wait_for``)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

if TYPE_CHECKING:
    from simjobs.core.records import LogRecord

T = TypeVar("T")
SIMS = Path(__file__).parent / "sims"


def wait_for(predicate: Callable[[], T], timeout: float = 10, interval: float = 0.02,
             message: str = "") -> T:
    """Poll ``predicate`` until it returns something true, and return that.

    The way tests wait for another thread or process: on a condition, with a timeout,
    never a fixed sleep.

    Raises
    ------
    AssertionError
        If ``predicate`` is still false after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {message or predicate}")
        time.sleep(interval)


def sim_command(name: str) -> str:
    """The config ``command`` running the test simulator ``tests/sims/<name>``."""
    path = SIMS / name
    return f"{{python}} {path}" if name.endswith(".py") else str(path)


def config_text(
    *,
    log: str = "runs.csv",
    input_dim: Optional[int] = 2,
    polling_interval: float = 0.05,
    interfaces: Optional[list[dict]] = None,
) -> str:
    """A config file's text; ``interfaces`` default to one local level-1 ``sum.py``."""
    if interfaces is None:
        interfaces = [{"name": "local", "level": 1, "command": sim_command("sum.py"), "max_jobs": 4}]
    lines = ["[log]", f"path = {json.dumps(log)}"]
    if input_dim is not None:
        lines.append(f"input_dim = {input_dim}")
    lines += ["", "[manager]", f"polling_interval = {polling_interval}"]
    for spec in interfaces:
        spec = {"kind": "local", "workspace": f"work/{spec['name']}", **spec}
        lines += ["", "[[interfaces]]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in spec.items()]
    return "\n".join(lines) + "\n"


def records_of(log_path: Path) -> dict[str, LogRecord]:
    """The records of a log by job id, read in this process without disturbing a writer."""
    from simjobs.core.log import SimulationsLog

    if not Path(log_path).exists():
        return {}
    with SimulationsLog.open(log_path, readonly=True) as log:
        return {r.job_id: r for r in log.iter_records()}


def tree(path: Path) -> list[str]:
    """Every file and directory under ``path`` (relative), to check nothing was created."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def file_states(path: Path) -> dict[str, tuple[bytes, int]]:
    """The bytes and mtime (ns) of every file under ``path``, to check none was touched."""
    return {str(p.relative_to(path)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file()}


HOLD_LOG_SCRIPT = """\
import sys
from simjobs.core import SimulationsLog
log = SimulationsLog(sys.argv[1], int(sys.argv[2]))
print("open" if log.is_writer else "not the writer", flush=True)
sys.stdin.readline()
log.close()
"""


@contextlib.contextmanager
def log_held_open(log_path: Path, input_dim: int = 2) -> Iterator[subprocess.Popen]:
    """A process (not a manager) holding ``log_path`` open for writing, as a script's
    SimulationsLog does, until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOG_SCRIPT, str(log_path), str(input_dim)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "open"
        yield proc
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.write("\n")
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def pid_gone(pid: int) -> bool:
    """True when ``pid`` is no live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2:].split()[0] in (b"Z", b"X")


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


class FullDisk:
    """A small tmpfs mounted at ``path`` (as root), for full-disk tests: :meth:`fill`
    takes every free byte, :meth:`free` gives them back. Skips the test when it cannot
    mount (not root, or no mount rights in this container)."""

    def __init__(self, path, size_kb: int = 512):
        import pytest

        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=1777",
                              "tmpfs", str(self.path)], capture_output=True, text=True)
        if out.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs for the full-disk test: {out.stderr.strip()}")
        self.filler = self.path / ".filler"

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        assert os.statvfs(self.path).f_bavail == 0

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


# ---- a cancel whose manager dies in the grace period (issue 8, item 4) -----------------

#: A simulator that traps SIGTERM (noting it in ./got_term) and keeps a child that
#: ignores it: only SIGKILL ends its process group.
TERM_TRAPPING_SH = """#!/bin/sh
(trap '' TERM; exec sleep 600) &
child=$!
echo "$child" > child_pid.tmp && mv child_pid.tmp child_pid
trap 'echo term >> got_term' TERM
echo "$$" > sim_pid.tmp && mv sim_pid.tmp sim_pid
while kill -0 "$child" 2>/dev/null; do wait; done
"""

#: A managing process: ``python -c MANAGING_SCRIPT LOG JOB_ROOT POLL ACTION INTERFACE``,
#: INTERFACE a JSON object {"kind": "local"|"ssh", "args": [...], "kwargs": {...}}.
#: "submit-and-cancel" submits one job, cancels it once it runs and then waits to be
#: killed; "resume" manages the log until every job has ended and prints "done True".
MANAGING_SCRIPT = """
import json, os, sys, time
from simjobs.core import Input, JobManager
from simjobs.core.log import SimulationsLog
from simjobs.interfaces import LocalInterface, SSHInterface

log_path, job_root, poll, action, spec = sys.argv[1:6]
spec = json.loads(spec)
kind = {"local": LocalInterface, "ssh": SSHInterface}[spec["kind"]]
iface = kind(*spec["args"], **spec["kwargs"])
log = SimulationsLog(log_path, 1)
manager = JobManager(log, [iface], polling_interval=float(poll))
print("managing", flush=True)
if action == "submit-and-cancel":
    job = manager.submit(Input(1.0))
    d = os.path.join(job_root, str(job.id))
    while not all(os.path.exists(os.path.join(d, n)) for n in ("pid", "sim_pid", "child_pid")):
        time.sleep(0.01)
    manager.cancel(job.id)
    time.sleep(600)  # killed by the test inside the grace period
else:
    print("done", manager.wait_until_done(timeout=120), flush=True)
    manager.shutdown()
    log.close()
"""


def managing_process(log_path: Path, job_root: Path, poll: float, action: str,
                     interface: dict) -> subprocess.Popen:
    """Start MANAGING_SCRIPT with this checkout's simjobs (after any PYTHONPATH set)."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH"), src) if p)}
    return subprocess.Popen(
        [sys.executable, "-c", MANAGING_SCRIPT, str(log_path), str(job_root), str(poll),
         action, json.dumps(interface)],
        env=env, stdout=subprocess.PIPE, text=True)


def resume_until_killed(log_path: Path, job_root: Path, poll: float, interface: dict,
                        pids: list[int], timeout: float) -> None:
    """Restart: a "resume" managing process must see the process group ``pids[0]`` (and
    every one of ``pids``) gone within ``timeout`` seconds of its start, then end with
    every job ended."""
    process = managing_process(log_path, job_root, poll, "resume", interface)
    try:
        assert process.stdout.readline().strip() == "managing"
        wait_for(lambda: not group_members(pids[0]) and all(pid_gone(p) for p in pids),
                 timeout=timeout, message="the group killed after the restart")
        assert process.stdout.readline().split() == ["done", "True"]
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)


def kill_leftovers(process: subprocess.Popen, pids: Optional[list[int]]) -> None:
    """Test clean-up: kill a managing process and the given pids, if still there."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=60)
    for pid in pids or ():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


def assert_corrected_late(record, output: float) -> None:
    """``record`` was first concluded Failed (no exit code), then corrected to Completed
    with ``output`` when its wrapper's exit code came late; its history keeps both."""
    from simjobs.core.types import JobStatus

    assert record.output == output
    assert "corrected: first recorded Failed" in record.reason
    assert [s for s, _ in record.history][-2:] == [JobStatus.FAILED, JobStatus.COMPLETED]
