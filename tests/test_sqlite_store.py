"""SqliteStore: WAL, exact floats, extras, incremental readers, bad input."""

from __future__ import annotations

import copy
import os
import sqlite3
import threading

import pytest

from simjobs.core.errors import LogFormatError, SimjobsError, SimulationsLogLookupError
from simjobs.core.records import LogChange
from simjobs.core.stores import SqliteStore
from simjobs.core.types import JobStatus

from test_csv_store import T0, check_after_kill, rec, run_and_kill, snapshot


def state(store) -> dict:
    return {k: copy.deepcopy(v) for k, v in store.records.items()}


def test_round_trip_with_exact_floats_and_extras(tmp_path):
    path = tmp_path / "runs.db"
    store = SqliteStore(path, 3)
    store.add(
        [
            rec(1, (1e-300, -0.0, 123456789.12345679)),
            rec(2, (3, 4, 5), iface="", resubmit_of="1", level=2),
            rec(3, (0.1, 2.5e-07, 5e-324)),
        ]
    )
    store.apply(
        [
            LogChange("1", T0 + 10, status=JobStatus.RUNNING, interface_name="hpc_b"),
            LogChange("1", T0 + 11, status=JobStatus.COMPLETED, output=-0.0),
            LogChange("2", T0 + 12, status=JobStatus.FAILED, reason="exit 1\n,\"x\""),
            LogChange("2", T0 + 13, resubmitted_as="3"),
            LogChange("3", T0 + 14, output=1 / 3),
        ]
    )
    final = state(store)
    assert final["1"].history == [
        (JobStatus.PENDING_SUBMIT, T0 + 1), (JobStatus.RUNNING, T0 + 10),
        (JobStatus.COMPLETED, T0 + 11)]
    store.close()
    back = SqliteStore(path, 3)
    assert state(back) == final
    r1 = back.records["1"]
    assert [repr(c) for c in r1.coords] == ["1e-300", "-0.0", "123456789.12345679"]
    assert repr(r1.output) == "-0.0"
    assert back.records["2"].coords == (3.0, 4.0, 5.0)
    assert all(type(c) is float for c in back.records["2"].coords)
    assert back.records["2"].resubmitted_as == ["3"] and back.records["2"].resubmit_of == "1"
    assert list(back.records) == ["1", "2", "3"]
    back.close()


def test_wal_mode_tables_and_indexes(tmp_path):
    path = tmp_path / "runs.db"
    store = SqliteStore(path, 2)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0]: r[1] for r in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL")}
    assert "ON records(status)" in indexes["records_status"]
    assert "ON records(seq)" in indexes["records_seq"]
    cols = [r[1] for r in conn.execute("PRAGMA table_info(records)")]
    for name in ("job_id", "x1", "x2", "output", "status", "level", "interface_name", "created",
                 "changed", "reason", "resubmit_of", "resubmitted_as", "seq"):
        assert name in cols
    pk = [r[1] for r in conn.execute("PRAGMA table_info(records)") if r[5]]
    assert pk == ["job_id"]
    assert dict(conn.execute("SELECT key, value FROM meta"))["input_dim"] == "2"
    store.add([rec(1, (0.5, 0.5))])
    store.apply([LogChange("1", T0 + 5, status=JobStatus.RUNNING)])
    assert conn.execute("SELECT job_id, status, time FROM history ORDER BY id").fetchall() == [
        ("1", "Pending submit", T0 + 1), ("1", "Running", T0 + 5)]
    conn.close()
    store.close()


def test_each_write_is_one_transaction(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    store = SqliteStore(path, 3)
    store.add([rec(1)])
    before = state(store)
    with pytest.raises(ValueError):
        store.add([rec(2), rec(1)])  # duplicate: nothing written
    with pytest.raises(SimulationsLogLookupError):
        store.apply([LogChange("1", T0, status=JobStatus.RUNNING), LogChange("9", T0)])
    with pytest.raises(ValueError):
        store.apply([LogChange("1", T0, output=float("nan"))])
    assert state(store) == before
    # A failure inside the transaction rolls all of it back, memory included.
    real = store._transaction

    def failing(work, sync=True):
        def broken(conn):
            work(conn)
            raise sqlite3.OperationalError("disk I/O error")
        return real(broken, sync)

    monkeypatch.setattr(store, "_transaction", failing)
    with pytest.raises(sqlite3.OperationalError):
        store.apply([LogChange("1", T0 + 1, status=JobStatus.RUNNING)])
    with pytest.raises(sqlite3.OperationalError):
        store.add([rec(2), rec(3)])
    monkeypatch.undo()
    assert state(store) == before
    store.close()
    assert state(SqliteStore(path, 3)) == before


def test_reader_refresh_is_incremental(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    writer = SqliteStore(path, 3)
    writer.add([rec(1), rec(2)])
    reader = SqliteStore(path, 3, readonly=True)
    assert state(reader) == state(writer)
    assert reader.refresh() is False
    monkeypatch.setattr(reader, "_load_all", lambda: pytest.fail("full reload"))
    seen = []
    real_execute = reader._conn.execute

    class Spy:
        def __getattr__(self, name):
            return getattr(reader._conn_real, name)

        def execute(self, sql, *args):
            seen.append(sql)
            return real_execute(sql, *args)

    reader._conn_real = reader._conn
    reader._conn = Spy()
    writer.add([rec(3)])
    writer.apply([LogChange("1", T0 + 9, status=JobStatus.RUNNING, reason="go")])
    assert reader.refresh() is True
    assert state(reader) == state(writer)
    assert any("WHERE seq > ?" in s for s in seen)
    seen.clear()
    assert reader.refresh() is False
    assert seen == ["PRAGMA data_version"]  # nothing changed: one pragma
    writer.apply([LogChange("3", T0 + 10, status=JobStatus.COMPLETED, output=2.0)])
    writer.add([rec(4)])
    assert reader.refresh() is True
    assert state(reader) == state(writer)
    assert list(reader.records) == ["1", "2", "3", "4"]
    with pytest.raises(SimjobsError):
        reader.apply([LogChange("1", T0)])
    reader._conn = reader._conn_real
    writer.checkpoint()
    writer.close()
    reader.close()


def test_reader_never_blocks_the_writer(tmp_path):
    path = tmp_path / "runs.db"
    writer = SqliteStore(path, 3)
    writer.add([rec(i) for i in range(1, 101)])
    reader = SqliteStore(path, 3, readonly=True)
    # A reader in the middle of a read transaction does not stop commits (WAL).
    reader._conn.execute("BEGIN")
    reader._conn.execute("SELECT count(*) FROM records").fetchone()
    import time

    start = time.monotonic()
    for i in range(1, 101):
        writer.apply([LogChange(str(i), T0 + 100 + i, status=JobStatus.RUNNING)])
    writer.checkpoint()  # cannot pass the reader's snapshot, but does not fail or hang
    assert time.monotonic() - start < 5
    reader._conn.execute("COMMIT")
    assert reader.refresh() is True
    assert state(reader) == state(writer)
    writer.close()
    reader.close()


def test_threads_share_one_store(tmp_path):
    path = tmp_path / "runs.db"
    store = SqliteStore(path, 3)
    store.add([rec(i) for i in range(1, 201)])
    errors = []

    def work(k):
        try:
            for i in range(k, 201, 4):
                store.apply([LogChange(str(i), T0 + 500, status=JobStatus.COMPLETED,
                                       output=float(i))])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store.close()
    back = SqliteStore(path, 3)
    assert all(r.status is JobStatus.COMPLETED and r.output == float(r.job_id)
               for r in back.records.values())
    back.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_input_dim_mismatch(tmp_path, readonly):
    path = tmp_path / "runs.db"
    SqliteStore(path, 2).close()
    before = snapshot(tmp_path)
    with pytest.raises(LogFormatError) as err:
        SqliteStore(path, 3, readonly=readonly)
    assert str(err.value) == (
        f"{path}: log has input_dim 2 but input_dim is 3; open it with input_dim=2 or use "
        "another file")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("readonly", [False, True])
def test_not_a_database_or_a_foreign_one(tmp_path, readonly):
    path = tmp_path / "runs.db"
    path.write_bytes(b"Input_1,Output,Job_ID,Job_Status,Job_Level,Interface_Name\r\n" * 20)
    before = snapshot(tmp_path)
    with pytest.raises(LogFormatError) as err:
        SqliteStore(path, 1, readonly=readonly)
    assert "is not an SQLite database" in str(err.value)
    assert snapshot(tmp_path) == before
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    with pytest.raises(LogFormatError) as err:
        SqliteStore(other, 1, readonly=readonly)
    assert "no simjobs log tables" in str(err.value)
    assert snapshot(tmp_path) == before


def test_missing_directory_path_under_a_file_and_readonly_missing(tmp_path):
    with pytest.raises(SimjobsError) as err:
        SqliteStore(tmp_path / "nope" / "runs.db", 3)
    assert "does not exist" in str(err.value)
    assert os.listdir(tmp_path) == []
    (tmp_path / "file.txt").write_text("x")
    before = snapshot(tmp_path)
    with pytest.raises(SimjobsError) as err:
        SqliteStore(tmp_path / "file.txt" / "runs.db", 3)
    assert "is not a directory" in str(err.value)
    with pytest.raises(SimjobsError) as err:
        SqliteStore(tmp_path / "runs.db", 3, readonly=True)
    assert str(err.value).startswith(f"no log at {tmp_path / 'runs.db'}")
    assert snapshot(tmp_path) == before


def test_unwritable_directory(unwritable_dir):
    d = unwritable_dir
    with pytest.raises(SimjobsError) as err:
        SqliteStore(d / "runs.db", 3)
    assert "is not writable" in str(err.value)
    assert os.listdir(d) == []


def test_sigkill_twice_then_reopen(tmp_path):
    path = tmp_path / "runs.sqlite"
    acked = run_and_kill(path, 400)
    acked += run_and_kill(path, 101)
    store = SqliteStore(path, 3)
    check_after_kill(store, acked)
    store.close()
