"""Logs on shared and network file systems (issue 8, item 10): file-system detection,
the lock's heartbeat across hosts, unsupported locks, SQLite's journal mode."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import wait_for
from simjobs.core import Input, SimulationsLog
from simjobs.core import filesystems
from simjobs.core.errors import LogLockedError, SimjobsError
from simjobs.core.filesystems import FileSystem, file_system
from simjobs.core.lock import LogLock

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def mounted(tmp_path: Path, name: str, *mount_args: str):
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    point = tmp_path / name
    point.mkdir()
    done = subprocess.run(["mount", *mount_args, str(point)], capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"mount {' '.join(mount_args)} failed as root: {done.stderr.strip()}")
    return point


def stat_f_type(path: Path) -> int:
    """The statfs type as coreutils' stat reads it: the oracle for ours."""
    out = subprocess.run(["stat", "-f", "-c", "%t", str(path)], capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip(), 16)


@pytest.fixture
def tmpfs(tmp_path):
    point = mounted(tmp_path, "tmpfs", "-t", "tmpfs", "-o", "size=1m", "tmpfs")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=True)


@pytest.fixture
def ext4(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    image = tmp_path / "ext4.img"
    with open(image, "wb") as f:
        f.truncate(8 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    point = mounted(tmp_path, "ext4", "-o", "loop", str(image))
    yield point
    subprocess.run(["umount", "-l", str(point)], check=True)


@pytest.fixture
def sshfs(tmp_path, ssh_server):
    """The test sshd user's home mounted over loopback with sshfs (FUSE): a real network
    file system on this machine (its kernel has no NFS client); a fresh directory in it."""
    if os.geteuid() != 0:
        pytest.skip("mounting sshfs here needs root")
    exe = shutil.which("sshfs")
    if exe is None:
        pytest.skip("sshfs is missing: scripts/services/install-tools.sh installs it")
    point = tmp_path / "sshfs"
    point.mkdir()
    options = (f"IdentityFile={ssh_server['key']},UserKnownHostsFile={ssh_server['known_hosts']},"
               "StrictHostKeyChecking=yes,BatchMode=yes")
    done = subprocess.run([exe, "-p", ssh_server["port"], "-o", options,
                           f"{ssh_server['user']}@{ssh_server['host']}:", str(point)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode:
        pytest.fail(f"sshfs over loopback failed: {done.stderr.strip()}")
    work = point / f"simjobs-fsys-{os.getpid()}-{tmp_path.name}"
    work.mkdir()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        subprocess.run(["umount", "-l", str(point)], check=True)


def test_statfs_detection_on_tmpfs_and_ext4(tmpfs, ext4):
    for point, kind, magic in ((tmpfs, "tmpfs", 0x01021994), (ext4, "ext4", 0xEF53)):
        log = point / "sub" / "runs.csv"  # not created yet: its nearest directory counts
        fs = file_system(log)
        assert (fs.type, fs.magic, fs.mount_point) == (kind, magic, str(point))
        assert fs.magic == stat_f_type(point)
        assert not fs.network
    assert "size=1024k" in file_system(tmpfs).options


def test_statfs_detection_on_a_real_network_file_system(sshfs):
    fs = file_system(sshfs / "runs.db")
    assert fs.type == "fuse.sshfs" and fs.magic == 0x65735546 == stat_f_type(sshfs)
    assert fs.mount_point == str(sshfs.parent) and fs.network


def test_sqlite_and_the_lock_on_a_real_network_file_system(sshfs):
    db = sshfs / "runs.db"
    with SimulationsLog.open(db, 2) as log:
        log.add_new_record(Input(1, 2), "1")
        assert journal_mode(db) == "delete" and not (sshfs / "runs.db-wal").exists()
        note = LogLock._read_info(str(db) + ".lock")
        assert note["host"] and note["pid"] == os.getpid()
        assert note["heartbeat_every"] > 0 and abs(note["heartbeat"] - time.time()) < 60
        with SimulationsLog.open(db, 2, readonly=True) as reader:
            assert [str(r["job_id"]) for r in reader.get_records()] == ["1"]
    assert LogLock._read_info(str(db) + ".lock")["released"]


@pytest.mark.parametrize("kind", ["nfs4", "lustre", "gpfs", "cifs", "fuse.sshfs", "ceph"])
def test_network_file_systems_are_network(kind):
    assert FileSystem(kind).network
    assert not FileSystem("fuseblk").network and not FileSystem("xfs").network


# ---- the lock on a file system whose flock does not reach other hosts ------------------


HOLDER = """
import sys, time
from simjobs.core import SimulationsLog
log = SimulationsLog.open(sys.argv[1], 2)
print("held", flush=True)
sys.stdin.readline()  # until told to close
log.close()
print("closed", flush=True)
"""


def holder_on(host: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC, "SIMJOBS_TEST_LOCALFLOCK": host,
           "SIMJOBS_LOCK_HEARTBEAT": "0.2"}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(log)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == "held\n"
    return proc


def manage_from(host: str, log: Path) -> subprocess.CompletedProcess:
    """Open the log for writing as a JobManager would, from a process on ``host``."""
    code = ("import sys\nfrom simjobs.core.lock import LogLock\n"
            "lock = LogLock(sys.argv[1]); lock.acquire(); print('got it')")
    env = {**os.environ, "PYTHONPATH": SRC, "SIMJOBS_TEST_LOCALFLOCK": host,
           "SIMJOBS_LOCK_HEARTBEAT": "0.2"}
    return subprocess.run([sys.executable, "-c", code, str(log)], env=env, text=True,
                          capture_output=True, timeout=60)


def test_a_live_heartbeat_on_another_host_refuses_although_flock_succeeded(tmp_path):
    log = tmp_path / "runs.csv"
    first = holder_on("login1", log)
    try:
        refused = manage_from("login2", log)
        assert refused.returncode != 0 and "got it" not in refused.stdout
        assert "LogLockedError" in refused.stderr
        assert "host login1" in refused.stderr and "heartbeat" in refused.stderr
        assert "flock is not shared between the hosts" in refused.stderr
        # The holder keeps beating: still refused a few heartbeats later.
        before = LogLock._read_info(str(log) + ".lock")["heartbeat"]
        wait_for(lambda: LogLock._read_info(str(log) + ".lock")["heartbeat"] > before + 0.5,
                 timeout=30)
        assert manage_from("login2", log).returncode != 0
        # Readers on the second host see who holds it.
        holder = subprocess.run(
            [sys.executable, "-c", "import sys, json; from simjobs.core.lock import LogLock;"
             "print(json.dumps(LogLock.holder(sys.argv[1])))", str(log)],
            env={**os.environ, "PYTHONPATH": SRC, "SIMJOBS_TEST_LOCALFLOCK": "login2"},
            capture_output=True, text=True, check=True).stdout
        assert '"host": "login1"' in holder
    finally:
        first.stdin.write("\n")
        first.stdin.flush()
        assert first.stdout.readline() == "closed\n"
        first.wait(timeout=30)
    # Released cleanly: the other host may take it at once.
    assert manage_from("login2", log).stdout == "got it\n"


def test_a_second_simjobs_run_on_another_host_refuses_a_live_manager(tmp_path, make_config):
    """Two real managers (`simjobs run`) on two "login nodes" whose flock does not reach
    each other, as on Lustre mounted with localflock."""
    config = make_config()
    log = tmp_path / "runs.csv"

    def run_on(host: str, **kwargs):
        env = {**os.environ, "SIMJOBS_TEST_LOCALFLOCK": host, "SIMJOBS_LOCK_HEARTBEAT": "0.2"}
        return subprocess.Popen([sys.executable, "-m", "simjobs", "run", "--config", str(config)],
                                cwd=tmp_path, env=env, text=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, **kwargs)

    first = run_on("login1")
    try:
        wait_for(lambda: (LogLock._read_info(str(log) + ".lock") or {}).get("manager"),
                 timeout=60)
        second = run_on("login2")
        _, err = second.communicate(timeout=120)
        assert second.returncode == 1, err
        assert "simjobs: error: " in err and "host login1" in err and "Traceback" not in err
        assert first.poll() is None  # the first manager goes on
    finally:
        first.terminate()
        first.communicate(timeout=60)
    assert first.returncode == 0
    assert manage_from("login2", log).stdout == "got it\n"  # a clean stop frees it at once


def test_a_killed_holders_heartbeat_goes_stale_and_frees_the_log(tmp_path):
    log = tmp_path / "runs.csv"
    first = holder_on("login1", log)
    assert manage_from("login2", log).returncode != 0
    first.kill()
    first.wait()
    # 3 heartbeats (0.2 s) + the allowed clock skew after its last beat.
    wait_for(lambda: manage_from("login2", log).returncode == 0, timeout=60, interval=0.5)


def test_flock_unsupported_names_the_missing_mount_option(tmp_path, monkeypatch):
    lustre = FileSystem("lustre", 0x0BD00BD0, "/lustre/scratch", frozenset({"noflock"}))
    monkeypatch.setattr(filesystems, "file_system", lambda path: lustre)

    def no_locks(fd, operation):  # injected: what a noflock Lustre client answers
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr("simjobs.core.lock.fcntl.flock", no_locks)
    with pytest.raises(SimjobsError) as caught:
        LogLock(tmp_path / "runs.csv").acquire()
    text = str(caught.value)
    assert "no locks available" in text and "lustre on /lustre/scratch" in text.lower()
    assert "-o flock" in text


# ---- SQLite on a network file system -------------------------------------------------------


def journal_mode(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def test_sqlite_uses_a_rollback_journal_on_a_network_file_system(tmp_path, monkeypatch):
    db = tmp_path / "runs.db"
    with SimulationsLog.open(db, 2) as log:  # local: WAL
        log.add_new_record(Input(1, 2), "1")
    assert journal_mode(db) == "wal"

    nfs = FileSystem("nfs4", 0x6969, str(tmp_path), frozenset({"rw", "hard"}))
    monkeypatch.setattr(filesystems, "file_system", lambda path: nfs)
    with SimulationsLog.open(db, 2) as log:
        log.add_new_record(Input(3, 4), "2")
        assert not (tmp_path / "runs.db-wal").exists()
        assert journal_mode(db) == "delete"
        with SimulationsLog.open(db, 2, readonly=True) as reader:
            assert {str(r["job_id"]) for r in reader.get_records()} == {"1", "2"}


def test_sqlite_refuses_a_network_file_system_without_shared_locks(tmp_path, monkeypatch):
    lustre = FileSystem("lustre", 0x0BD00BD0, "/lustre/scratch", frozenset({"localflock"}))
    monkeypatch.setattr(filesystems, "file_system", lambda path: lustre)
    with pytest.raises(SimjobsError) as caught:
        SimulationsLog.open(tmp_path / "runs.db", 2)
    assert "localflock" in str(caught.value) and "CSV log" in str(caught.value)
    assert os.listdir(tmp_path) == []  # nothing created
