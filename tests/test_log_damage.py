"""Damaged files never lose data silently (issue 8 item 7).

Every file of a log is cut at every byte: opening it gives either the full state, or one
clear line (the log opened read-only, or an error) and files left as they were."""

from __future__ import annotations

import copy
import os
import warnings

import pytest

from simjobs.core.errors import LogFormatError, SimjobsError
from simjobs.core.records import LogChange
from simjobs.core.stores import CsvStore, SqliteStore
from simjobs.core.types import JobStatus

from test_csv_store import T0, rec

SUFFIXES = ("", ".meta", ".journal", ".commit")


def state(store) -> dict:
    return {k: copy.deepcopy(v) for k, v in store.records.items()}


def files_of(directory) -> dict:
    out = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            out[name] = f.read()
    return out


def restore(directory, files: dict) -> None:
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


def open_quietly(path, store_class=CsvStore, **kw):
    """(store or the exception raised, the warnings given)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            store = store_class(path, 3, **kw)
        except (LogFormatError, SimjobsError) as exc:
            store = exc
    return store, [str(w.message) for w in caught]


def csv_log_with_a_journal(path) -> dict:
    """A log with a snapshot (main + meta with extras) and a journal holding new records
    and changes after it, as a writer killed at that moment leaves it; its state."""
    store = CsvStore(path, 3)
    store.add([rec(i) for i in range(1, 7)])
    store.apply([
        LogChange("1", T0 + 10, status=JobStatus.FAILED, reason="exit 1"),
        LogChange("2", T0 + 11, status=JobStatus.RUNNING),
        LogChange("1", T0 + 12, resubmitted_as=["5"]),
    ])
    store.checkpoint()
    store.add([rec(7), rec(8, iface="hpc_b")])
    store.apply([LogChange("2", T0 + 20, status=JobStatus.COMPLETED, output=2.5),
                 LogChange("7", T0 + 21, status=JobStatus.RUNNING, reason="r")])
    final = state(store)
    store._close_fds()  # the writer dies here: no compaction at close
    return final


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_csv_log_cut_anywhere_opens_whole_or_says_what_is_missing(tmp_path, suffix):
    path = tmp_path / "runs.csv"
    final = csv_log_with_a_journal(path)
    whole = files_of(tmp_path)
    name = "runs.csv" + suffix
    assert len(whole[name]) > 30
    said = 0
    for k in range(len(whole[name])):
        restore(tmp_path, dict(whole, **{name: whole[name][:k]}))
        cut = files_of(tmp_path)
        store, msgs = open_quietly(path)
        if isinstance(store, Exception):  # a clear error, nothing changed
            assert "\n" not in str(store) and files_of(tmp_path) == cut, k
            said += 1
            continue
        if store.damage is not None:
            said += 1
            assert msgs == [store.damage], (k, msgs)
            assert "\n" not in store.damage and "simjobs repair" in store.damage, k
            assert store.damage.startswith(str(tmp_path)), k
            with pytest.raises(SimjobsError, match="opened read-only"):
                store.apply([LogChange("3", T0 + 50, status=JobStatus.RUNNING)])
            store.close()
            assert files_of(tmp_path) == cut, k  # nothing deleted or rewritten
            continue
        assert state(store) == final, (k, msgs)
        store.close()
    # Only a cut inside a line the journal holds too can be made whole again.
    if suffix == "":
        assert said >= len(whole[name]) - 2 * 40
    elif suffix == ".commit":  # only a witness: the log is whole without it
        assert said == 0
    else:
        assert said == len(whole[name])


@pytest.mark.parametrize("how", ["removed", "emptied"])
def test_a_removed_or_emptied_journal_does_not_revert_to_the_snapshot(tmp_path, how):
    path = tmp_path / "runs.csv"
    csv_log_with_a_journal(path)
    journal = tmp_path / "runs.csv.journal"
    if how == "removed":
        journal.unlink()
    else:
        journal.write_bytes(b"")
    before = files_of(tmp_path)
    for readonly in (False, True):
        store, msgs = open_quietly(path, readonly=readonly)
        assert store.damage is not None and msgs == [store.damage]
        assert f"runs.csv.journal: is {'missing' if how == 'removed' else 'empty'}" \
            in store.damage
        store.close()
    assert files_of(tmp_path) == before


def test_a_removed_meta_file_is_noticed(tmp_path):
    path = tmp_path / "runs.csv"
    csv_log_with_a_journal(path)
    (tmp_path / "runs.csv.meta").unlink()
    store, msgs = open_quietly(path)
    assert store.damage.startswith(f"{path}.meta: is missing") and msgs == [store.damage]
    store.close()


def test_a_main_file_cut_names_how_many_records_are_missing(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    store.add([rec(i) for i in range(1, 51)])
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[:data.index(b",17,") - 20])  # records 16..50 cut away
    store, msgs = open_quietly(path)
    assert len(store.records) == 15
    assert store.damage == (
        f"{path}: 35 of the 50 records of its last compaction are missing (the file holds "
        f"15 of them; cut or emptied); opened read-only: restore it from a backup, or run "
        f"'simjobs repair {path}' to keep what is left (it backs the files up first)")
    store.close()


def test_repair_backs_the_files_up_then_keeps_what_is_left(tmp_path, cli):
    path = tmp_path / "runs.csv"
    csv_log_with_a_journal(path)
    data = path.read_bytes()
    path.write_bytes(data[:data.index(b",4,")])  # records 4.. of the snapshot cut away
    damaged = files_of(tmp_path)
    store, _ = open_quietly(path, readonly=True)
    left = state(store)
    store.close()
    assert set(left) == {"1", "2", "3", "7", "8"}

    result = cli("repair", path)
    assert result.returncode == 0, result.stderr
    assert "3 of the 6 records of its last compaction are missing" in result.stdout
    (backup,) = [n for n in os.listdir(tmp_path) if n.startswith("runs.csv.backup-")]
    assert f"backed up to {tmp_path / backup}; the log now holds 5 records" in result.stdout
    assert files_of(tmp_path / backup) == damaged  # every file, byte for byte
    assert oct(os.stat(tmp_path / backup).st_mode & 0o777) == "0o700"

    store, msgs = open_quietly(path)
    assert msgs == [] and store.damage is None and state(store) == left
    store.apply([LogChange("7", T0 + 60, status=JobStatus.COMPLETED, output=1.0)])
    store.close()
    result = cli("repair", path)
    assert result.returncode == 0 and "whole (5 records); nothing to repair" in result.stdout
    assert len([n for n in os.listdir(tmp_path) if ".backup-" in n]) == 1


def test_repair_refuses_while_a_process_holds_the_log(tmp_path, cli):
    from simjobs.core.log import SimulationsLog

    path = tmp_path / "runs.csv"
    log = SimulationsLog(path, 3)
    try:
        result = cli("repair", path)
        assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
        assert f"runs.csv is managed by another process (pid {os.getpid()}" in result.stderr
        assert not [n for n in os.listdir(tmp_path) if ".backup-" in n]
    finally:
        log.close()


# ---- SQLite ----------------------------------------------------------------------------------


def db_files(directory) -> dict:
    """The files that hold data (SQLite's -shm index is rebuilt by any reader, which may
    also leave an empty -wal file)."""
    return {k: v for k, v in files_of(directory).items()
            if not k.endswith("-shm") and not (k.endswith("-wal") and not v)}


def open_db(path, **kw):
    return open_quietly(path, SqliteStore, **kw)


def cut_points(data: bytes, page: int = 4096, step: int = 61) -> list[int]:
    """Every ``step``-th byte, and each page or frame boundary with its neighbours."""
    points = set(range(0, len(data), step))
    for b in range(0, len(data) + 1, page):
        points |= {b - 1, b, b + 1}
    return sorted(k for k in points if 0 <= k < len(data))


def check_cut_db(tmp_path, path, whole: dict, name: str, final: dict, points) -> int:
    said = 0
    for k in points:
        restore(tmp_path, dict(whole, **{name: whole[name][:k]}))
        cut = db_files(tmp_path)
        store, msgs = open_db(path)
        if isinstance(store, Exception):
            assert "\n" not in str(store) and db_files(tmp_path) == cut, k
            said += 1
            continue
        if store.damage is not None:
            said += 1
            assert msgs == [store.damage] and "simjobs repair" in store.damage, k
            with pytest.raises(SimjobsError, match="opened read-only"):
                store.apply([LogChange("3", T0 + 50, status=JobStatus.RUNNING)])
            store.close()
            assert db_files(tmp_path) == cut, k
            continue
        assert state(store) == final, (k, len(store.records), msgs)
        store.close()
    return said


def test_an_sqlite_database_cut_anywhere_opens_whole_or_says_so(tmp_path):
    path = tmp_path / "runs.db"
    store = SqliteStore(path, 3)
    store.add([rec(i) for i in range(1, 41)])
    store.apply([LogChange("1", T0 + 10, status=JobStatus.FAILED, reason="exit 1")])
    final = state(store)
    store.close()
    whole = db_files(tmp_path)
    points = cut_points(whole["runs.db"])
    said = check_cut_db(tmp_path, path, whole, "runs.db", final, points)
    assert said >= len(points) - 40  # (a cut of unused pages at the end loses nothing)


def test_an_sqlite_wal_cut_or_removed_is_noticed(tmp_path):
    path = tmp_path / "runs.db"
    store = SqliteStore(path, 3)
    store.add([rec(i) for i in range(1, 41)])
    store.checkpoint()
    for k in range(1, 9):  # commits only in the WAL, as a killed writer leaves them
        store.apply([LogChange(str(k), T0 + 10 + k, status=JobStatus.RUNNING)])
    final = state(store)
    whole = db_files(tmp_path)
    store._conn.close()  # (no checkpoint: the writer dies)
    store._closed = True
    assert len(whole["runs.db-wal"]) > 4096
    wal = whole["runs.db-wal"]
    frame = 4096 + 24
    points = [0, 1, 31, 32, 33, *cut_points(wal[32:], frame, 97)]
    points = sorted({p + 32 if p >= 32 else p for p in points} - {len(wal)})
    said = check_cut_db(tmp_path, path, whole, "runs.db-wal", final, points)
    assert said == len(points)
    restore(tmp_path, {k: v for k, v in whole.items() if k != "runs.db-wal"})
    store, msgs = open_db(path)
    assert "committed transactions are missing" in store.damage and msgs == [store.damage]
    store.close()


@pytest.mark.parametrize("suffix", ["csv", "db"])
def test_a_damaged_log_is_read_only_for_the_api_and_a_manager(tmp_path, suffix):
    from simjobs.core.log import SimulationsLog
    from simjobs.core.lock import LogLock
    from simjobs.core.manager import JobManager
    from simjobs.core.types import Input

    from fakes import FakeInterface

    path = tmp_path / f"runs.{suffix}"
    if suffix == "csv":
        csv_log_with_a_journal(path)
        os.unlink(str(path) + ".journal")
    else:
        store = SqliteStore(path, 3)
        store.add([rec(1)])
        store.close()
        with open(str(path) + ".commit", "w") as f:  # as if commits were lost
            f.write("%016d\n" % 99)
    before = db_files(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = SimulationsLog(path, 3)
    assert log.damage is not None and [str(w.message) for w in caught] == [log.damage]
    assert not log.is_writer and LogLock.holder(str(path)) is None  # free for repair
    assert log.get_job_status("1") is not None  # what is left reads
    with pytest.raises(SimjobsError) as err:
        log.add_new_record(Input(1, 2, 3), "42")
    assert str(err.value) == log.damage
    with pytest.raises(SimjobsError) as err:
        JobManager(log, [FakeInterface("hpc")])
    assert str(err.value) == log.damage
    log.close()
    assert db_files(tmp_path) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
@pytest.mark.parametrize("suffix", ["csv", "db"])
def test_a_commit_file_planted_by_another_user_is_refused(tmp_path, suffix):
    path = tmp_path / f"runs.{suffix}"
    store = open_quietly(path, CsvStore if suffix == "csv" else SqliteStore)[0]
    store.add([rec(1)])
    store.close()
    commit = tmp_path / f"runs.{suffix}.commit"
    commit.unlink()
    commit.write_bytes(b"")
    os.chown(commit, 65534, 65534)  # nobody's
    store, _ = open_quietly(path, CsvStore if suffix == "csv" else SqliteStore)
    assert isinstance(store, SimjobsError)
    assert str(store) == (f"{commit} belongs to uid 65534, not to this user; remove it (and "
                          "check who else can write the log's directory)")
