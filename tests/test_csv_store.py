"""CsvStore: exauq's CSV format, the journal, crash safety, readers and bad input."""

from __future__ import annotations

import copy
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings

import pytest

from simjobs.core.errors import LogFormatError, SimjobsError, SimulationsLogLookupError
from simjobs.core.records import LogChange, LogRecord
from simjobs.core.stores import CsvStore, LogStore, SqliteStore, open_store
from simjobs.core.types import JobStatus

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "data", "exauq_samples")
SRC = os.path.join(os.path.dirname(HERE), "src")
with open(os.path.join(SAMPLES, "expected.json")) as _f:
    EXPECTED = json.load(_f)
SAMPLE_DIMS = {"dim3_mixed.csv": 3, "dim12.csv": 12, "dim2_header_only.csv": 2}
HEADER3 = "Input_1,Input_2,Input_3,Output,Job_ID,Job_Status,Job_Level,Interface_Name"
T0 = 1_700_000_000.0


JOURNAL_HEADER = re.compile(rb"#simjobs-journal,1,[0-9a-f]{16}\r\n")


def meta_generation(path) -> str:
    """The generation the last compaction wrote into the meta file ("": none yet)."""
    try:
        with open(str(path) + ".meta", "rb") as f:
            return f.readline().split(b",")[3].decode()
    except FileNotFoundError:
        return ""


def journal_is_empty(path) -> bool:
    """The journal holds only its header line (what a compaction leaves)."""
    with open(path, "rb") as f:
        return bool(JOURNAL_HEADER.fullmatch(f.read()))


def rec(i, coords=(0.1, 0.2, 0.3), status=JobStatus.PENDING_SUBMIT, iface="hpc_a", **kw):
    t = kw.pop("created", T0 + i)
    return LogRecord(
        str(i), tuple(coords), kw.pop("output", None), status, kw.pop("level", 1), iface,
        created=t, changed=t, history=[(status, t)], **kw,
    )


def snapshot(directory) -> dict:
    """Every file in ``directory`` with its bytes."""
    out = {}
    for name in sorted(os.listdir(directory)):
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[name] = f.read()
    return out


def state(store: LogStore) -> dict:
    return {k: copy.deepcopy(v) for k, v in store.records.items()}


def open_quiet(path, dim=3, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return CsvStore(path, dim, **kw)


def exauq_read(path):
    """Read a log exactly as exauq does: csv.DictReader on the file opened with newline=''."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---- the exauq samples -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLE_DIMS))
@pytest.mark.parametrize("readonly", [True, False])
def test_reads_every_exauq_sample_as_expected(tmp_path, name, readonly):
    path = tmp_path / name
    shutil.copy(os.path.join(SAMPLES, name), path)
    before = snapshot(tmp_path)
    store = open_quiet(path, SAMPLE_DIMS[name], readonly=readonly)
    got = [
        {
            "input": list(r.coords),
            "output": r.output,
            "job_id": r.job_id,
            "status": r.status.value,
            "level": r.level,
            "interface_name": r.interface_name,
        }
        for r in store.records.values()
    ]
    assert got == EXPECTED[name]
    for r in store.records.values():
        assert all(type(c) is float for c in r.coords)  # "3" reads as 3.0, like float(v)
        assert r.created is None and r.history == []  # no sidecar: no extras
    store.close()
    # Opening and closing without changes writes nothing (no journal, no meta).
    assert snapshot(tmp_path) == before


def test_dim12_coordinates_are_read_by_number_not_string_order(tmp_path):
    path = tmp_path / "dim12.csv"
    shutil.copy(os.path.join(SAMPLES, "dim12.csv"), path)
    store = open_quiet(path, 12, readonly=True)
    first = store.records["20240601120000011"]
    assert first.coords == tuple(float(i) for i in range(1, 13))


def test_exact_floats_of_the_mixed_sample(tmp_path):
    path = tmp_path / "m.csv"
    shutil.copy(os.path.join(SAMPLES, "dim3_mixed.csv"), path)
    r = open_quiet(path, readonly=True).records["20240601120000002"]
    assert r.coords[0] == 1e-300
    assert str(r.coords[1]) == "-0.0"
    assert r.coords[2] == 123456789.12345679
    assert r.output == 123456789.01234567


# ---- what we write is what exauq reads -------------------------------------------------


def test_written_file_is_exactly_exauq_format(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    store.add(
        [
            rec(1, (0.1, 2.5e-07, -0.0)),
            rec(2, (3, 4, 5), iface=""),
            rec(3, (1e-300, -1.5, 123456789.12345679), iface='odd, "name"'),
        ]
    )
    store.apply(
        [
            LogChange("1", T0 + 10, status=JobStatus.COMPLETED, output=0.6),
            LogChange("2", T0 + 11, status=JobStatus.FAILED, reason="exit 1"),
        ]
    )
    store.close()
    raw = path.read_bytes()
    assert raw.startswith(HEADER3.encode() + b"\r\n")
    assert raw.count(b"\r\n") == 4 and raw.count(b"\n") == 4  # CRLF everywhere
    assert raw.splitlines()[1] == b"0.1,2.5e-07,-0.0,0.6,1,Completed,1,hpc_a"
    assert raw.splitlines()[2] == b"3,4,5,,2,Failed,1,"
    rows = exauq_read(path)
    assert rows[0] == {
        "Input_1": "0.1", "Input_2": "2.5e-07", "Input_3": "-0.0", "Output": "0.6",
        "Job_ID": "1", "Job_Status": "Completed", "Job_Level": "1", "Interface_Name": "hpc_a",
    }
    assert rows[1]["Output"] == "" and rows[1]["Interface_Name"] == ""
    assert rows[2]["Interface_Name"] == 'odd, "name"'
    assert rows[2]["Input_1"] == "1e-300" and rows[2]["Input_3"] == "123456789.12345679"
    # csv.writer would have written the very same bytes.
    expected = []
    for r in (rows):
        expected.append([r[c] for c in HEADER3.split(",")])
    import io

    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER3.split(",")] + expected)
    assert raw == buf.getvalue().encode()


def test_after_close_the_main_file_alone_has_the_final_state(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    store.add([rec(i) for i in range(1, 6)])
    store.apply([LogChange("3", T0 + 50, status=JobStatus.RUNNING, interface_name="hpc_b")])
    store.apply([LogChange("3", T0 + 60, status=JobStatus.COMPLETED, output=1.25)])
    store.apply([LogChange("5", T0 + 61, status=JobStatus.CANCELLED)])
    # Before close, the changes live in the journal: the main file has the added lines.
    assert [r["Job_Status"] for r in exauq_read(path)] == ["Pending submit"] * 5
    final = state(store)
    store.close()
    rows = {r["Job_ID"]: r for r in exauq_read(path)}
    assert rows["3"]["Job_Status"] == "Completed" and rows["3"]["Output"] == "1.25"
    assert rows["3"]["Interface_Name"] == "hpc_b"
    assert rows["5"]["Job_Status"] == "Cancelled"
    assert journal_is_empty(str(path) + ".journal")
    # The main file without its sidecars reads back the same exauq fields.
    only_main = tmp_path / "copy.csv"
    shutil.copy(path, only_main)
    plain = open_quiet(only_main, readonly=True)
    for job_id, r in final.items():
        p = plain.records[job_id]
        assert (p.coords, p.output, p.status, p.level, p.interface_name) == (
            r.coords, r.output, r.status, r.level, r.interface_name)
    # With its sidecars the extras come back too.
    again = open_quiet(path)
    assert state(again) == final
    assert again.records["3"].history == [
        (JobStatus.PENDING_SUBMIT, T0 + 3), (JobStatus.RUNNING, T0 + 50),
        (JobStatus.COMPLETED, T0 + 60)]
    again.close()


def test_extras_round_trip_through_journal_and_meta(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    weird = 'line1\nline2\r\n, "quoted" \\n backslash'
    store.add([rec(1), rec(2, resubmit_of="1", reason=None)])
    store.apply(
        [
            LogChange("1", T0 + 5, status=JobStatus.FAILED, reason=weird, resubmitted_as="2"),
            LogChange("2", T0 + 6, reason=""),
        ]
    )
    final = state(store)
    assert final["1"].reason == weird and final["2"].reason == ""
    # From the journal (no close: the writer is still open)...
    assert state(open_quiet(path, readonly=True)) == final
    store.close()
    # ...and from the meta file after compaction.
    assert journal_is_empty(str(path) + ".journal")
    assert state(open_quiet(path, readonly=True)) == final
    assert state(open_quiet(path)) == final


def test_existing_column_order_is_kept_and_inputs_read_by_name(tmp_path):
    path = tmp_path / "perm.csv"
    cols = ["Job_ID", "Input_2", "Output", "Interface_Name", "Input_1", "Job_Level",
            "Job_Status"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerow(["7", "0.2", "", "hpc", "0.1", "2", "Running"])
    store = open_quiet(path, 2)
    assert store.records["7"].coords == (0.1, 0.2)
    store.add([rec(8, (1.5, 2.5))])
    lines = path.read_bytes().split(b"\r\n")
    assert lines[0] == ",".join(cols).encode()
    assert lines[2] == b"8,2.5,,hpc_a,1.5,1,Pending submit"
    store.apply([LogChange("7", T0, status=JobStatus.COMPLETED, output=3.0)])
    store.close()
    lines = path.read_bytes().split(b"\r\n")
    assert lines[0] == ",".join(cols).encode()
    assert lines[1] == b"7,0.2,3.0,hpc,0.1,2,Completed"
    assert open_quiet(path, 2, readonly=True).records["8"].coords == (1.5, 2.5)


def test_floats_round_trip_exactly(tmp_path):
    import random

    rng = random.Random(7)
    values = [rng.uniform(-1e6, 1e6) for _ in range(200)] + [
        5e-324, 1.7976931348623157e308, -0.0, 0.1, 1 / 3, 2.5e-07, 1e22, 123456789.12345679]
    path = tmp_path / "f.csv"
    store = CsvStore(path, 3)
    store.add([rec(i, (v, -v, v / 7), output=v) for i, v in enumerate(values, start=1)])
    store.close()
    back = open_quiet(path, readonly=True)
    for i, v in enumerate(values, start=1):
        r = back.records[str(i)]
        assert r.coords == (v, -v, v / 7) and r.output == v
        assert [repr(c) for c in r.coords] == [repr(v), repr(-v), repr(v / 7)]


def test_a_change_appends_to_the_journal_and_never_rewrites_the_main_file(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    store.add([rec(i) for i in range(1, 51)])
    ino, size = os.stat(path).st_ino, os.path.getsize(path)
    jsize = os.path.getsize(str(path) + ".journal")
    store.apply([LogChange("10", T0 + 100, status=JobStatus.RUNNING)])
    assert os.stat(path).st_ino == ino and os.path.getsize(path) == size
    assert os.path.getsize(str(path) + ".journal") > jsize
    store.close()


def test_compaction_when_the_journal_reaches_max_1000_and_records(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    store.add([rec(i) for i in range(1, 11)])  # 10 journal rows
    gen = meta_generation(path)
    for k in range(989):
        store.apply([LogChange(str(1 + k % 10), T0 + 100 + k, output=float(k))])
    assert meta_generation(path) == gen  # 999 rows: not yet
    store.apply([LogChange("1", T0 + 5000, status=JobStatus.COMPLETED, output=9.0)])
    assert meta_generation(path) != gen  # the 1000th row compacted the log
    assert journal_is_empty(str(path) + ".journal")
    assert {r["Job_ID"]: r["Output"] for r in exauq_read(path)}["1"] == "9.0"
    final = state(store)
    store.close()
    assert state(open_quiet(path)) == final


def test_adds_alone_also_compact_so_the_journal_stays_bounded(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    journal = str(path) + ".journal"
    compacted_after = []
    for batch in range(8):
        # (By its generation: a new main file may get the inode number of the old.)
        gen = meta_generation(path)
        store.add([rec(1000 * batch + i) for i in range(1, 1001)])
        if meta_generation(path) != gen:
            compacted_after.append(batch + 1)
            assert journal_is_empty(journal)
    # Geometric: after 1,000, 2,000, 4,000 and 8,000 records.
    assert compacted_after == [1, 2, 4, 8]
    store.close()


def test_add_validation_and_unknown_ids_write_nothing(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    store.add([rec(1)])
    before = snapshot(tmp_path)
    with pytest.raises(ValueError):
        store.add([rec(2), rec(1)])
    with pytest.raises(ValueError):
        store.add([rec(3, (0.1, 0.2))])
    with pytest.raises(ValueError):
        store.add([rec(4, (0.1, float("nan"), 0.2))])
    with pytest.raises(SimulationsLogLookupError):
        store.apply([LogChange("1", T0, status=JobStatus.RUNNING), LogChange("99", T0)])
    with pytest.raises(ValueError):
        store.apply([LogChange("1", T0, output=float("inf"))])
    assert snapshot(tmp_path) == before
    assert list(store.records) == ["1"] and store.records["1"].status is JobStatus.PENDING_SUBMIT
    store.close()


# ---- crash safety ----------------------------------------------------------------------


def _files(path):
    return {s: open(str(path) + s, "rb").read() if os.path.exists(str(path) + s) else None
            for s in ("", ".journal", ".meta", ".commit")}


def _restore(path, files):
    for s, data in files.items():
        p = str(path) + s
        if data is None:
            if os.path.exists(p):
                os.unlink(p)
        else:
            with open(p, "wb") as f:
                f.write(data)


def _reopen(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = CsvStore(path, 3)
    return store, [str(w.message) for w in caught]


def _prepared_log(path):
    store = CsvStore(path, 3)
    store.add([rec(1), rec(2), rec(3)])
    store.close()  # a snapshot with a meta file
    store = CsvStore(path, 3)
    store.apply([LogChange("1", T0 + 10, status=JobStatus.RUNNING, reason="started")])
    return store


def test_crash_at_every_byte_of_an_add(tmp_path):
    path = tmp_path / "runs.csv"
    store = _prepared_log(path)
    old_files, old_state = _files(path), state(store)
    store.add([rec(4, iface='x,"y"'), rec(5, (1e-300, -0.0, 7))])
    new_files, new_state = _files(path), state(store)
    store._close_fds()  # the process "dies" here
    assert old_state != new_state
    # The journal is written first: cut it anywhere -> the old state.
    j0, j1 = old_files[".journal"], new_files[".journal"]
    for k in range(len(j0), len(j1) + 1):
        _restore(path, dict(old_files, **{".journal": j1[:k]}))
        reopened, msgs = _reopen(path)
        expect = new_state if k == len(j1) else old_state
        assert state(reopened) == expect, k
        assert bool(msgs) == (len(j0) < k < len(j1)), (k, msgs)
        if msgs:
            assert msgs[0].startswith(str(path) + ".journal: dropped an incomplete last")
        reopened.close()
        assert state(open_quiet(path)) == expect  # repaired: no second warning
    # Then the main file: its batch is committed in the journal -> the new state.
    m0, m1 = old_files[""], new_files[""]
    line_ends = {i + 1 for i in range(len(m1)) if m1[i:i + 1] == b"\n"}
    for k in range(len(m0), len(m1) + 1):
        _restore(path, dict(new_files, **{"": m1[:k]}))
        reopened, msgs = _reopen(path)
        assert state(reopened) == new_state, k
        if k in line_ends or k == len(m0):
            assert msgs == [], (k, msgs)
        else:
            assert len(msgs) == 1 and msgs[0].startswith(
                f"{path}: dropped an incomplete last line (a write was interrupted): ")
        reopened.close()
        assert _files(path)[""] == exauq_bytes_of(new_state)


def exauq_bytes_of(st):
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER3.split(","))
    for r in st.values():
        w.writerow([*map(str, r.coords), "" if r.output is None else str(r.output), r.job_id,
                    r.status.value, str(r.level), r.interface_name])
    return buf.getvalue().encode()


def test_crash_at_every_byte_of_an_apply(tmp_path):
    path = tmp_path / "runs.csv"
    store = _prepared_log(path)
    old_files, old_state = _files(path), state(store)
    store.apply(
        [
            LogChange("2", T0 + 20, status=JobStatus.COMPLETED, output=2.5),
            LogChange("3", T0 + 21, status=JobStatus.FAILED, reason="a,\"b\"\nc"),
        ]
    )
    new_files, new_state = _files(path), state(store)
    store._close_fds()
    j0, j1 = old_files[".journal"], new_files[".journal"]
    assert new_files[""] == old_files[""]
    for k in range(len(j0), len(j1) + 1):
        # (The .commit file is written after the journal's fdatasync: still the old.)
        _restore(path, dict(new_files, **{".journal": j1[:k], ".commit": old_files[".commit"]}))
        reopened, msgs = _reopen(path)
        expect = new_state if k == len(j1) else old_state
        assert state(reopened) == expect, k
        assert bool(msgs) == (len(j0) < k < len(j1)), (k, msgs)
        reopened.close()
        assert state(open_quiet(path)) == expect


def test_a_readonly_reader_ignores_a_torn_tail_and_changes_nothing(tmp_path):
    path = tmp_path / "runs.csv"
    store = _prepared_log(path)
    old_state = state(store)
    store.add([rec(4)])
    store._close_fds()
    with open(path, "ab") as f:
        f.write(b"0.5,0.6,0.")  # a torn append
    with open(str(path) + ".journal", "ab") as f:
        f.write(b"99,c,2,1.0,s,Runn")
    before = snapshot(tmp_path)
    reader = open_quiet(path, readonly=True)
    assert set(reader.records) == {"1", "2", "3", "4"}
    assert reader.records["1"] == old_state["1"]
    assert reader.refresh() is False
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("meta_existed", [True, False])
def test_crash_between_compaction_steps_reads_back_right(tmp_path, meta_existed):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    store.add([rec(1), rec(2), rec(3)])
    if meta_existed:
        store.checkpoint()
        store.apply([LogChange("1", T0 + 5, status=JobStatus.SUBMITTED)])
    store.apply([LogChange("1", T0 + 10, status=JobStatus.RUNNING, reason="r")])
    store.apply([LogChange("2", T0 + 11, status=JobStatus.COMPLETED, output=4.0)])
    pre, final = _files(path), state(store)
    store.checkpoint()
    post = _files(path)
    store._close_fds()
    assert JOURNAL_HEADER.fullmatch(post[".journal"]) and not JOURNAL_HEADER.fullmatch(
        pre[".journal"])
    combos = {
        "new main, old meta, old journal": {"": post[""], ".meta": pre[".meta"],
                                            ".journal": pre[".journal"]},
        "new main and meta, old journal": {"": post[""], ".meta": post[".meta"],
                                           ".journal": pre[".journal"]},
        "all new": post,
    }
    for name, files in combos.items():
        _restore(path, files)
        (tmp_path / "runs.csv.tmp").write_bytes(b"half a compaction")
        assert state(open_quiet(path, readonly=True)) == final, name
        reopened = open_quiet(path)
        assert state(reopened) == final, name
        assert not (tmp_path / "runs.csv.tmp").exists()  # the writer cleans up
        reopened.apply([LogChange("3", T0 + 30, status=JobStatus.RUNNING)])
        reopened.close()
        again = open_quiet(path)
        assert again.records["3"].history[-1] == (JobStatus.RUNNING, T0 + 30), name
        assert again.records["1"].history == final["1"].history, name
        again.close()


CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[2])
from simjobs.core.stores import open_store
from simjobs.core.records import LogRecord, LogChange
from simjobs.core.types import JobStatus
store = open_store(sys.argv[1], 3)
i = len(store.records)
while True:
    i += 1
    t = float(i)
    store.add([LogRecord(str(i), (i / 3, -i / 7, 0.1), None, JobStatus.PENDING_SUBMIT, 1,
                         "hpc", created=t, changed=t, history=[(JobStatus.PENDING_SUBMIT, t)])])
    print("add", i, flush=True)
    store.apply([LogChange(str(i), t + 0.5, status=JobStatus.COMPLETED, output=i / 3 - i / 7,
                           reason="done")])
    print("apply", i, flush=True)
"""


def run_and_kill(log_path, n_acks):
    """Run a writer in a child process and SIGKILL it after ``n_acks`` acknowledged calls."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(log_path), SRC],
        stdout=subprocess.PIPE, text=True,
    )
    acked = []
    for line in proc.stdout:
        acked.append(line.split())
        if len(acked) >= n_acks:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    return acked


def check_after_kill(store, acked):
    for op, i in acked:
        r = store.records[i]
        n = int(i)
        assert r.coords == (n / 3, -n / 7, 0.1)
        if op == "apply":
            assert r.status is JobStatus.COMPLETED and r.output == n / 3 - n / 7
            assert r.history == [(JobStatus.PENDING_SUBMIT, float(n)),
                                 (JobStatus.COMPLETED, n + 0.5)]
    for r in store.records.values():  # anything past the last ack is whole, too
        assert r.status in (JobStatus.PENDING_SUBMIT, JobStatus.COMPLETED)
        assert (r.output is None) == (r.status is JobStatus.PENDING_SUBMIT)


@pytest.mark.parametrize("suffix", [".csv", ".db"])
def test_sigkill_mid_writes_loses_no_acknowledged_write(tmp_path, suffix):
    path = tmp_path / f"runs{suffix}"
    acked = run_and_kill(path, 1500)  # > 1000 journal rows: a compaction happens too
    acked += run_and_kill(path, 301)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a torn last line is possible and fine
        store = open_store(path, 3)
    check_after_kill(store, acked)
    store.close()
    if suffix == ".csv":
        rows = {r["Job_ID"]: r for r in exauq_read(path)}
        assert set(rows) == set(store.records)
        for op, i in acked:
            if op == "apply":
                assert rows[i]["Job_Status"] == "Completed"


# ---- readers -------------------------------------------------------------------------


def test_reader_sees_appends_and_changes_incrementally(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    writer = CsvStore(path, 3)
    writer.add([rec(1), rec(2)])
    reader = open_quiet(path, readonly=True)
    assert reader.refresh() is False
    # Incremental: no full reload while nothing was compacted.
    monkeypatch.setattr(reader, "_reload", lambda: pytest.fail("full reload"))
    writer.add([rec(3)])
    writer.apply([LogChange("1", T0 + 9, status=JobStatus.RUNNING, reason="go")])
    assert reader.refresh() is True
    assert state(reader) == state(writer)
    assert reader.refresh() is False
    writer.apply([LogChange("3", T0 + 10, status=JobStatus.COMPLETED, output=1.0)])
    writer.add([rec(4)])
    assert reader.refresh() is True
    assert state(reader) == state(writer)
    monkeypatch.undo()
    # After a compaction the reader reloads (the main file was replaced).
    writer.checkpoint()
    writer.apply([LogChange("4", T0 + 11, status=JobStatus.CANCELLED)])
    assert reader.refresh() is True
    assert state(reader) == state(writer)
    writer.add([rec(5)])
    assert reader.refresh() is True
    assert state(reader) == state(writer)
    assert list(reader.records) == ["1", "2", "3", "4", "5"]
    with pytest.raises(SimjobsError):
        reader.add([rec(6)])
    writer.close()
    assert reader.refresh() is True and state(reader) == state(writer)


def test_reader_retries_when_a_compaction_happens_while_it_reads(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    writer = CsvStore(path, 3)
    writer.add([rec(1), rec(2)])
    writer.apply([LogChange("1", T0 + 9, status=JobStatus.RUNNING)])
    reader = open_quiet(path, readonly=True)
    writer.apply([LogChange("2", T0 + 10, status=JobStatus.COMPLETED, output=2.0)])
    from simjobs.core.stores import csv_load

    real_read = csv_load.read_fd
    compacted = []

    def read_then_compact(p):
        got = real_read(p)
        if p == str(path) and not compacted:  # between reading main and the journal
            compacted.append(1)
            writer.checkpoint()
        return got

    writer.add([rec(3)])
    monkeypatch.setattr(reader, "_main_ino", -1)  # force a full reload
    monkeypatch.setattr(csv_load, "read_fd", read_then_compact)
    assert reader.refresh() is True
    assert compacted and state(reader) == state(writer)
    writer.close()


# ---- bad input -------------------------------------------------------------------------


def _write(path, text):
    with open(path, "w", newline="") as f:
        f.write(text)


BAD_LINES = {
    "not_a_number": ("0.1,abc,0.3,,5,Running,1,hpc", "line 3: Input_2 is 'abc', not a number"),
    "bad_output": ("0.1,0.2,0.3,x1,5,Running,1,hpc", "line 3: Output is 'x1', not a number"),
    "nan_input": ("nan,0.2,0.3,,5,Running,1,hpc", "line 3: Input_1 is 'nan', not a finite"),
    "unknown_status": ("0.1,0.2,0.3,,5,Runing,1,hpc", "line 3: Job_Status is 'Runing', not one"),
    "bad_level": ("0.1,0.2,0.3,,5,Running,1.5,hpc", "line 3: Job_Level is '1.5', not a whole"),
    "bad_id": ("0.1,0.2,0.3,,5a,Running,1,hpc", "line 3: Job_ID is '5a', not a job id"),
    "fields": ("0.1,0.2,0.3,,5,Running,1", "line 3: has 7 fields but the header has 8"),
    "duplicate": ("0.1,0.2,0.3,,4,Running,1,hpc", "line 3: Job_ID 4 is already used"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
@pytest.mark.parametrize("readonly", [False, True])
def test_an_unreadable_line_raises_naming_file_and_line_and_changes_nothing(
    tmp_path, case, readonly
):
    line, message = BAD_LINES[case]
    path = tmp_path / "runs.csv"
    _write(path, f"{HEADER3}\r\n0.1,0.2,0.3,,4,Running,1,hpc\r\n{line}\r\n0.5,0.5,0.5,,6,Running,1,\r\n")
    before = snapshot(tmp_path)
    with pytest.raises(LogFormatError) as err:
        CsvStore(path, 3, readonly=readonly)
    text = str(err.value)
    assert text.startswith(f"{path} {message}"), text
    assert text.endswith("; fix or remove that line") and "\n" not in text
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("readonly", [False, True])
def test_wrong_header_and_wrong_dimension(tmp_path, readonly):
    path = tmp_path / "runs.csv"
    _write(path, "Input_1,Input_2,Output,Job_ID,Job_Status,Job_Level,Interface_Name\r\n")
    before = snapshot(tmp_path)
    with pytest.raises(LogFormatError) as err:
        CsvStore(path, 3, readonly=readonly)
    assert str(err.value) == (
        f"{path}: header has Input_1..Input_2 but input_dim is 3; open it with "
        "input_dim=2 or use another file")
    for header in ("a,b,c\r\n", HEADER3.replace("Job_Level", "Level") + "\r\n",
                   HEADER3.replace("Input_2", "Input_4") + "\r\n", "\r\n" + HEADER3 + "\r\n"):
        _write(path, header)
        before = snapshot(tmp_path)
        with pytest.raises(LogFormatError) as err:
            CsvStore(path, 3, readonly=readonly)
        assert str(err.value).startswith(f"{path} line 1: header "), header
        assert "fix the header or use another file" in str(err.value)
        assert snapshot(tmp_path) == before


def test_damaged_journal_raises_naming_its_line(tmp_path):
    path = tmp_path / "runs.csv"
    store = CsvStore(path, 3)
    store.add([rec(1)])
    store._close_fds()
    with open(str(path) + ".journal", "ab") as f:
        f.write(b"garbage,row\r\n")
    before = snapshot(tmp_path)
    with pytest.raises(LogFormatError) as err:
        CsvStore(path, 3)
    # (line 1: the journal's header)
    assert str(err.value).startswith(f"{path}.journal line 3: is not a journal row")
    assert snapshot(tmp_path) == before


def test_missing_directory_and_path_under_a_file(tmp_path):
    before = snapshot(tmp_path)
    with pytest.raises(SimjobsError) as err:
        CsvStore(tmp_path / "nope" / "runs.csv", 3)
    assert "does not exist" in str(err.value) and "create the directory" in str(err.value)
    assert snapshot(tmp_path) == before and os.listdir(tmp_path) == []
    (tmp_path / "file.txt").write_text("x")
    before = snapshot(tmp_path)
    with pytest.raises(SimjobsError) as err:
        CsvStore(tmp_path / "file.txt" / "runs.csv", 3)  # fails for root too
    assert "is not a directory" in str(err.value) and "\n" not in str(err.value)
    assert snapshot(tmp_path) == before


def test_unwritable_directory(unwritable_dir):
    d = unwritable_dir
    with pytest.raises(SimjobsError) as err:
        CsvStore(d / "runs.csv", 3)
    assert "is not writable" in str(err.value)
    assert os.listdir(d) == []


def test_readonly_missing_file(tmp_path):
    with pytest.raises(SimjobsError) as err:
        CsvStore(tmp_path / "runs.csv", 3, readonly=True)
    assert str(err.value).startswith(f"no log at {tmp_path / 'runs.csv'}")
    assert os.listdir(tmp_path) == []


def test_new_log_is_created_with_its_header(tmp_path):
    path = tmp_path / "runs.csv"
    CsvStore(path, 3).close()
    assert path.read_bytes() == HEADER3.encode() + b"\r\n"
    assert sorted(os.listdir(tmp_path)) == ["runs.csv"]
    assert exauq_read(path) == []


def test_open_store_chooses_by_suffix(tmp_path):
    for name, cls in [("a.csv", CsvStore), ("a.txt", CsvStore), ("a", CsvStore),
                      ("a.db", SqliteStore), ("a.SQLITE", SqliteStore),
                      ("a.sqlite3", SqliteStore)]:
        store = open_store(tmp_path / name, 2)
        assert type(store) is cls, name
        store.close()
