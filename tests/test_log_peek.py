"""peek_log: the newest records of a log and its size, read without loading it."""

from __future__ import annotations

import time

import pytest

from simjobs.core.log import SimulationsLog, peek_log
from simjobs.core.records import LogChange
from simjobs.core.types import JobStatus

FIELDS = ("job_id", "coords", "output", "status", "level", "interface_name", "created",
          "changed", "reason", "resubmit_of", "resubmitted_as", "history")


def _fields(record):
    return tuple(getattr(record, f) for f in FIELDS)


def _make(path, n, *, close=True, changes_after=0, name="hpc"):
    log = SimulationsLog(path, 2)
    t = time.time() - 1000
    rows = [((i / n, 1 - i / n), str(1000 + i), JobStatus.PENDING_SUBMIT, 1 + i % 2, name)
            for i in range(n)]
    log.add_new_records(rows, now=t)
    log.apply_changes([LogChange(str(1000 + i), t + 1, status=JobStatus.RUNNING)
                       for i in range(n)])
    log.apply_changes([LogChange(str(1000 + i), t + 2, status=JobStatus.COMPLETED,
                                 output=float(i)) for i in range(0, n, 3)])
    log.apply_changes([LogChange(str(1000 + i), t + 3, status=JobStatus.FAILED,
                                 reason="exit 1") for i in range(1, n, 3)])
    if close:
        log.close()
        if changes_after:  # a second session: changes only in the journal
            log = SimulationsLog(path, 2)
            log.add_new_records([((0.5, 0.5), str(1000 + n), JobStatus.PENDING_SUBMIT, 1,
                                  name)], now=t + 4)
            log.apply_changes([LogChange(str(1000 + i), t + 5, status=JobStatus.CANCELLED)
                               for i in range(n - changes_after, n, 3)])
            return log
        return None
    return log


def _check_same_as_full_load(path, k):
    got = peek_log(path, k)
    assert got is not None
    peeked, total = got
    full = SimulationsLog.open(path, readonly=True)
    try:
        assert total == len(full)
        newest = full.iter_records()[-len(peeked):]
        assert len(peeked) == min(k, len(full))
        assert [_fields(r) for r in peeked] == [_fields(r) for r in newest]
    finally:
        full.close()


@pytest.mark.parametrize("suffix", [".csv", ".db"])
def test_peek_gives_the_newest_records_as_a_full_load_does(tmp_path, suffix):
    path = tmp_path / f"runs{suffix}"
    _make(path, 3000)
    _check_same_as_full_load(path, 50)
    _check_same_as_full_load(path, 5000)  # more than there are: all of them


@pytest.mark.parametrize("suffix", [".csv", ".db"])
def test_peek_applies_what_only_the_journal_holds_while_a_writer_has_the_log(tmp_path, suffix):
    path = tmp_path / f"runs{suffix}"
    writer = _make(path, 600, changes_after=40)
    try:
        _check_same_as_full_load(path, 30)
        _check_same_as_full_load(path, 100)
    finally:
        writer.close()


def test_peek_of_a_log_still_open_without_compaction(tmp_path):
    path = tmp_path / "runs.csv"
    writer = _make(path, 200, close=False)  # everything after the header: journal rows
    try:
        _check_same_as_full_load(path, 20)
    finally:
        writer.close()


def test_peek_declines_what_it_cannot_read_surely(tmp_path):
    assert peek_log(tmp_path / "missing.csv") is None
    path = tmp_path / "runs.csv"
    _make(path, 20, name="a,b")  # quoted fields near the end: the log must be loaded
    assert peek_log(path, 10) is None
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,log\r\n1,2,3\r\n")
    assert peek_log(bad) is None
