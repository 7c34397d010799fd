"""LogLock: one managing process per log, released by the kernel when it dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from simjobs.core.errors import LogLockedError, SimjobsError
from simjobs.core.lock import LogLock

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def test_acquire_release_and_holder(tmp_path):
    log = tmp_path / "runs.csv"
    lock = LogLock(log)
    assert not lock.held and LogLock.holder(log) is None
    before = time.time()
    lock.acquire()
    assert lock.held
    info = LogLock.holder(log)
    assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
    assert before - 1 <= info["since"] <= time.time() + 1 and isinstance(info["cmd"], str)
    lock.release()
    assert not lock.held and LogLock.holder(log) is None
    assert os.path.exists(str(log) + ".lock")  # left in place on purpose
    lock.release()  # harmless
    lock.acquire()  # can be taken again
    assert LogLock.holder(log)["pid"] == os.getpid()
    lock.release()


def test_second_lock_in_the_same_process_fails_at_once(tmp_path):
    log = tmp_path / "runs.csv"
    first = LogLock(log)
    first.acquire()
    second = LogLock(log)
    start = time.monotonic()
    with pytest.raises(LogLockedError) as err:
        second.acquire()
    assert time.monotonic() - start < 0.5
    msg = str(err.value)
    # Never "another process" for the caller's own (issue 9)
    assert msg.startswith(f"runs.csv is already locked for writing by this process (pid "
                          f"{os.getpid()}) since ")
    assert "another" not in msg
    assert msg.endswith("; use the SimulationsLog already open on it")
    assert "\n" not in msg
    assert err.value.holder["pid"] == os.getpid()
    assert not second.held
    first.release()
    second.acquire()
    assert second.held
    second.release()


def test_holder_probe_does_not_take_the_lock(tmp_path):
    log = tmp_path / "runs.csv"
    lock = LogLock(log)
    lock.acquire()
    for _ in range(20):
        assert LogLock.holder(log)["pid"] == os.getpid()
    lock.release()
    for _ in range(20):
        assert LogLock.holder(log) is None
    lock.acquire()  # the probes left nothing behind
    lock.release()


def test_missing_directory(tmp_path):
    with pytest.raises(SimjobsError) as err:
        LogLock(tmp_path / "nope" / "runs.csv").acquire()
    assert "cannot create the lock file" in str(err.value)
    assert LogLock.holder(tmp_path / "nope" / "runs.csv") is None


HOLDER = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from simjobs.core.lock import LogLock
lock = LogLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
sys.stdin.read()  # hold until killed
"""


def test_lock_is_released_when_the_holder_is_killed(tmp_path):
    log = tmp_path / "runs.csv"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(log), SRC],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        info = LogLock.holder(log)
        assert info["pid"] == proc.pid
        mine = LogLock(log)
        with pytest.raises(LogLockedError) as err:
            mine.acquire()
        assert f"pid {proc.pid} on host {socket.gethostname()}" in str(err.value)
        assert err.value.holder["pid"] == proc.pid
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert LogLock.holder(log) is None
        mine.acquire()
        assert LogLock.holder(log)["pid"] == os.getpid()
        mine.release()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()
