"""The interface stats file a manager writes beside its log for the log's viewers
(core/interface_stats.py): what it holds, when it is written, and that a reader never
follows a link and never takes another user's, a stale or a garbled file for the
manager's word."""

from __future__ import annotations

import json
import os
import time

import pytest

from app_fixtures import build_backend
from helpers import wait_for
from simjobs.core.errors import HardwareUnreachableError
from simjobs.core.interface_stats import (
    InterfaceStatsWriter,
    read_interface_stats,
    stats_path,
)
from simjobs.core.lock import LogLock


@pytest.fixture
def backend(tmp_path):
    backend = build_backend(tmp_path)
    yield backend
    backend.close()


def _held(backend, name):
    return backend.manager.get_interface(name)


def test_the_manager_writes_capacity_health_and_poll_latency_beside_its_log(backend, tmp_path):
    log = tmp_path / "runs.csv"
    path = stats_path(log)
    assert path == str(log) + ".interfaces.json"
    job_id = str(backend.submit([(0.3, 0.3)], 2)[0])  # hpc then has a job to poll
    wait_for(lambda: read_interface_stats(log, LogLock.holder(log)).get("hpc", {})
             .get("last_poll_seconds") is not None, timeout=30)
    stats = read_interface_stats(log, LogLock.holder(log))
    assert set(stats) == {"local-fast", "hpc"}
    hpc = stats["hpc"]
    assert (hpc["level"], hpc["kind"], hpc["host"], hpc["max_jobs"]) == \
        (2, "slurm", "hpc.example.org", 8)
    assert hpc["health"] == "ok" and isinstance(hpc["health_since"], float)
    assert stats["local-fast"]["max_jobs"] == 4
    doc = json.loads(open(path).read())
    assert doc["pid"] == os.getpid()
    # A health change is written at once, with its cause and since when.
    before = time.time()
    _held(backend, "hpc").poll_error = HardwareUnreachableError("ssh: connection refused")
    wait_for(lambda: read_interface_stats(log, LogLock.holder(log))["hpc"]["health"]
             == "unreachable", timeout=30)
    hpc = read_interface_stats(log, LogLock.holder(log))["hpc"]
    assert "connection refused" in hpc["health_message"]
    assert hpc["health_since"] >= before - 1
    assert job_id


def test_writes_come_at_most_every_interval_unless_health_changes(backend, tmp_path):
    now = [1000.0]
    writer = InterfaceStatsWriter(tmp_path / "other.csv", interval=3.0, clock=lambda: now[0])
    manager = backend.manager
    assert writer.update(manager) and writer.writes == 1
    assert not writer.update(manager)  # nothing due: not even looked at
    now[0] += 10
    assert not writer.update(manager)  # due, but nothing changed: not rewritten
    assert writer.writes == 1
    # A health change is written at once, interval or not.
    _held(backend, "hpc").poll_error = HardwareUnreachableError("down")
    backend.submit([(0.1, 0.2)], 2)
    wait_for(lambda: manager.interface_health()["hpc"].state == "unreachable", timeout=30)
    assert writer.update(manager) and writer.writes == 2
    doc = json.loads(open(stats_path(tmp_path / "other.csv")).read())
    assert doc["interfaces"]["hpc"]["health"] == "unreachable"


def test_a_writer_that_cannot_write_says_so_once_and_raises_nothing(backend, tmp_path, caplog):
    writer = InterfaceStatsWriter(tmp_path / "gone" / "runs.csv")  # no such directory
    assert not writer.update(backend.manager)
    assert not writer.update(backend.manager)
    warnings = [r for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(warnings) == 1 and "viewers of the log" in warnings[0].getMessage()


def _write(path, doc) -> None:
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc))


def test_readers_tolerate_a_missing_garbled_or_strange_file(tmp_path):
    log = tmp_path / "runs.csv"
    log.write_text("")
    holder = {"pid": 42, "host": "h", "manager": True}
    assert read_interface_stats(log, holder) == {}  # missing
    path = stats_path(log)
    for garbled in ("{not json", "[1, 2]", '{"interfaces": 3}', "\xff\xfe", ""):
        _write(path, garbled)
        assert read_interface_stats(log, holder) == {}, garbled
    good = {"pid": 42, "host": "h", "interfaces": {"a": {"max_jobs": 3}, "b": 7}}
    _write(path, good)
    assert read_interface_stats(log, holder) == {"a": {"max_jobs": 3}}  # "b" is no dict
    # written by another process than the one holding the log now: stale
    assert read_interface_stats(log, {"pid": 43, "host": "h"}) == {}
    assert read_interface_stats(log, {"pid": 42, "host": "other"}) == {}


def test_readers_never_follow_a_link_nor_read_another_users_file(tmp_path):
    log = tmp_path / "runs.csv"
    log.write_text("")
    holder = {"pid": 42, "host": "h", "uid": os.geteuid()}
    elsewhere = tmp_path / "planted.json"
    _write(elsewhere, {"pid": 42, "host": "h", "interfaces": {"a": {"max_jobs": 99}}})
    path = stats_path(log)
    os.symlink(elsewhere, path)
    assert read_interface_stats(log, holder) == {}
    os.unlink(path)
    os.mkfifo(path)  # not a regular file: never read (nor waited on)
    assert read_interface_stats(log, holder) == {}
    os.unlink(path)
    _write(path, {"pid": 42, "host": "h", "interfaces": {"a": {"max_jobs": 99}}})
    assert read_interface_stats(log, holder) == {"a": {"max_jobs": 99}}
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    os.chown(path, 65534, 65534)  # another user's file (nobody)
    assert read_interface_stats(log, holder) == {}
    # without a uid in the holder's note, the log file's owner is the manager's user
    assert read_interface_stats(log, {"pid": 42, "host": "h"}) == {}
    os.chown(log, 65534, 65534)
    assert read_interface_stats(log, {"pid": 42, "host": "h"}) == {"a": {"max_jobs": 99}}
