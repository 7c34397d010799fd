"""One export for the CLI and the app (simjobs.export): the same bytes from `simjobs
export` (a real process) and the log view's export dialog (Pilot) for the same records;
exauq's CSV header first; JSON objects with `simjobs status --json`'s keys; ISO 8601 UTC
times; files made with the umask's mode."""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import json
import os
import stat
import subprocess
import sys

import pytest
from textual.widgets import Input as TextInput

from app_fixtures import FIRST_ID, LogViewHost, fill_log, run_async, until
from simjobs.app.backend import WatchBackend
from simjobs.app.screens.export import ExportScreen
from simjobs.app.screens.log_view import SimulationsLogScreen
from simjobs.app.widgets.job_table import JobTable
from simjobs.core.log import SimulationsLog
from simjobs.core.stores.csv_store import header_columns
from simjobs.design import read_inputs_csv
from simjobs.export import EXTRA_COLUMNS, csv_text, iso_time, json_text


def simjobs(*args, cwd, umask=None) -> subprocess.CompletedProcess:
    """``python -m simjobs ARGS`` as a real process (with ``umask``, if given)."""
    def set_umask():
        os.umask(umask)

    result = subprocess.run([sys.executable, "-m", "simjobs", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=120,
                            preexec_fn=set_umask if umask is not None else None)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


@pytest.fixture
def log_path(tmp_path):
    """A log of 3 coordinates: every status, missing outputs, a reason that needs CSV
    quoting (comma, quote, new line), and a resubmission linked both ways."""
    path = tmp_path / "runs.csv"
    log = SimulationsLog(path, 3)
    ids = fill_log(log, 12, interfaces={1: ["local-fast"], 2: ["hpc"]})
    log.set_job_reason(ids[1], 'exit 3: "bad, input"\nsee stderr')
    new_id = str(FIRST_ID + 100)
    log.add_new_records([([0.1, -2.5e-07, 3.0], new_id,
                          log.get_record(ids[2]).status, 1, "local-fast", ids[2])])
    log.link_resubmission(ids[2], new_id)
    log.close()
    return path


async def export_from_the_app(log_path, target) -> None:
    """Open the log view on ``log_path``, sort by id ascending (the log's order, which
    `simjobs export` keeps) and export every record to ``target`` with the dialog."""
    backend = WatchBackend(log_path)
    try:
        app = LogViewHost(backend)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, SimulationsLogScreen)
                        and app.screen.settled)
            screen = app.screen
            screen.query_one(JobTable).focus()
            await pilot.press("O")  # newest first -> oldest first
            await until(pilot, lambda: screen.settled and not screen.model.sort_reverse)
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, ExportScreen)
                        and app.screen.query("#export-path"))
            app.screen.query_one("#export-path", TextInput).value = str(target)
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, ExportScreen))
    finally:
        backend.close()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["csv", "json"])
@run_async
async def test_the_cli_and_the_app_write_the_same_bytes(log_path, tmp_path, suffix):
    cli_file, app_file = tmp_path / f"cli.{suffix}", tmp_path / f"app.{suffix}"
    await asyncio.to_thread(simjobs, "export", "--log", log_path, cli_file, cwd=tmp_path)
    await export_from_the_app(log_path, app_file)
    assert app_file.read_bytes() == cli_file.read_bytes()
    with SimulationsLog.open(log_path, 3, readonly=True) as log:
        records = log.iter_records()
    text = cli_file.read_bytes().decode("utf-8")
    assert text == (csv_text(records, 3) if suffix == "csv" else json_text(records))
    assert len(records) == 13


@pytest.mark.slow
def test_the_csv_header_is_exauqs_then_simjobs_extras_and_reads_back(log_path, tmp_path):
    simjobs("export", "--log", log_path, "out.csv", cwd=tmp_path)
    raw = (tmp_path / "out.csv").read_bytes()
    header = raw.split(b"\r\n", 1)[0].decode()
    # exactly exauq's header (Input_1..Input_d,Output,Job_ID,Job_Status,Job_Level,
    # Interface_Name), CRLF as exauq's csv.writer writes it, then simjobs' own columns
    assert header.split(",") == ["Input_1", "Input_2", "Input_3", "Output", "Job_ID",
                                 "Job_Status", "Job_Level", "Interface_Name", "Created",
                                 "Changed", "Reason", "Resubmit_Of", "Resubmitted_As"]
    assert header.split(",")[:8] == header_columns(3)
    with SimulationsLog.open(log_path, 3, readonly=True) as log:
        records = {r.job_id: r for r in log.iter_records()}
    rows = list(csv.DictReader(io.StringIO(raw.decode(), newline="")))
    assert [r["Job_ID"] for r in rows] == list(records)
    for row in rows:
        rec = records[row["Job_ID"]]
        # exauq's columns hold what exauq's log holds, written as exauq writes them
        assert [row[f"Input_{k}"] for k in (1, 2, 3)] == [str(c) for c in rec.coords]
        assert row["Output"] == ("" if rec.output is None else str(rec.output))
        assert (row["Job_Status"], int(row["Job_Level"]), row["Interface_Name"]) == (
            rec.status.value, rec.level, rec.interface_name)
        assert row["Reason"] == (rec.reason or "")
        assert row["Resubmitted_As"] == ";".join(rec.resubmitted_as)
        assert row["Resubmit_Of"] == (rec.resubmit_of or "")
        created = datetime.datetime.fromisoformat(row["Created"])
        assert created.utcoffset() == datetime.timedelta(0)
        assert abs(created.timestamp() - rec.created) < 0.001
    assert any("\n" in r["Reason"] and '"bad, input"' in r["Reason"] for r in rows)
    assert any(r["Resubmit_Of"] for r in rows) and any(r["Resubmitted_As"] for r in rows)
    # `simjobs submit --csv` (the one input reader) takes the export as inputs
    assert [tuple(i) for i in read_inputs_csv(tmp_path / "out.csv", 3)] == [
        r.coords for r in records.values()]


@pytest.mark.slow
def test_json_objects_have_the_keys_and_values_of_status_json(log_path, tmp_path):
    simjobs("export", "--log", log_path, "out.json", cwd=tmp_path)
    exported = json.loads((tmp_path / "out.json").read_text())
    status = json.loads(simjobs("status", "--log", log_path, "--json", "-a",
                                cwd=tmp_path).stdout)
    assert exported == status  # the same objects, keys and values
    assert set(exported[0]) == {"job_id", "input", "output", "status", "level",
                                "interface_name", "created", "changed", "reason",
                                "resubmit_of", "resubmitted_as", "history"}
    for obj in exported:
        for t in [obj["created"], obj["changed"], *(t for _, t in obj["history"])]:
            if t is not None:
                assert t.endswith("+00:00"), t
                assert datetime.datetime.fromisoformat(t).utcoffset() == datetime.timedelta(0)


def test_times_are_iso_8601_utc_with_milliseconds():
    assert iso_time(0.0) == "1970-01-01T00:00:00.000+00:00"
    assert iso_time(1767276000.25) == "2026-01-01T14:00:00.250+00:00"
    assert iso_time(None) is None


@pytest.mark.slow
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_the_cli_export_follows_the_umask(log_path, tmp_path, umask, mode):
    simjobs("export", "--log", log_path, "out.csv", cwd=tmp_path, umask=umask)
    simjobs("export", "--log", log_path, "out.json", cwd=tmp_path, umask=umask)
    for name in ("out.csv", "out.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664)])
@run_async
async def test_the_app_export_follows_the_umask(log_path, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        await export_from_the_app(log_path, tmp_path / "app.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "app.csv").stat().st_mode) == mode


def test_the_extras_follow_exauqs_columns_in_exauqs_spelling():
    assert csv_text([], 2).splitlines() == [",".join(header_columns(2) + EXTRA_COLUMNS)]
    assert all(c[0].isupper() and " " not in c for c in EXTRA_COLUMNS)
