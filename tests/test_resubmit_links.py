"""A job resubmitted more than once keeps every link (``resubmitted_as`` is a list), in
both stores, and logs written when it held a single id still read."""

from __future__ import annotations

import sqlite3

import pytest

from simjobs.core.records import LogChange
from simjobs.core.stores import CsvStore, SqliteStore, open_store
from simjobs.core.types import JobStatus

from test_csv_store import T0, rec


@pytest.fixture(params=["csv", "db"])
def path(request, tmp_path):
    return str(tmp_path / f"runs.{request.param}")


def test_every_link_is_kept_on_disk_and_seen_by_a_reader(path):
    store = open_store(path, 3)
    store.add([rec(1, status=JobStatus.FAILED), rec(2, resubmit_of="1"),
               rec(3, resubmit_of="1")])
    store.apply([LogChange("1", T0 + 10, resubmitted_as=["2"])])
    reader = open_store(path, 3, readonly=True)
    store.apply([LogChange("1", T0 + 11, resubmitted_as=["2", "3"])])
    assert store.records["1"].resubmitted_as == ["2", "3"]
    assert reader.refresh()
    assert reader.records["1"].resubmitted_as == ["2", "3"]
    assert reader.records["2"].resubmitted_as == []
    reader.close()
    store.close()
    back = open_store(path, 3)
    assert back.records["1"].resubmitted_as == ["2", "3"]
    assert back.records["3"].resubmitted_as == []
    back.close()


def test_a_csv_log_written_with_a_single_link_still_reads(tmp_path):
    # As simjobs wrote it before links became a list: meta version 2, one id.
    path = tmp_path / "runs.csv"
    header = "Input_1,Input_2,Input_3,Output,Job_ID,Job_Status,Job_Level,Interface_Name"
    path.write_bytes((f"{header}\r\n0.1,0.2,0.3,,1,Failed,1,hpc\r\n"
                      "0.1,0.2,0.3,,2,Pending submit,1,hpc\r\n").encode())
    (tmp_path / "runs.csv.meta").write_bytes(
        b"#simjobs-meta,2,0\r\n1,^,$,,,2,PF,1700000000.0;1700000001.0\r\n"
        b"2,^,$,,1,,P,1700000002.0\r\n")
    for readonly in (True, False):
        store = CsvStore(path, 3, readonly=readonly)
        assert store.records["1"].resubmitted_as == ["2"]
        assert store.records["2"].resubmitted_as == [] and store.records["2"].resubmit_of == "1"
        store.close()


def test_an_sqlite_log_written_with_a_single_link_still_reads(tmp_path):
    path = tmp_path / "runs.db"
    store = SqliteStore(path, 3)
    store.add([rec(1, status=JobStatus.FAILED), rec(2, resubmit_of="1")])
    store.close()
    with sqlite3.connect(path) as conn:  # a single id, as simjobs wrote it before
        conn.execute("UPDATE records SET resubmitted_as='2' WHERE job_id='1'")
    conn.close()
    for readonly in (True, False):
        store = SqliteStore(path, 3, readonly=readonly)
        assert store.records["1"].resubmitted_as == ["2"]
        assert store.records["2"].resubmitted_as == []
        store.close()
