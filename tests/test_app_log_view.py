"""The simulations log view: every record, filters, sort, per-level summary, plot and
export; on a real log and manager with deterministic records (app_fixtures)."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import re
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Select, Static, TabbedContent
from textual.widgets import Input as TextInput

from app_fixtures import LogViewHost, build_backend, notes, run_async, until, utc_time
from helpers import tree
from simjobs.app.log_summary import summarise
from simjobs.app.screens.export import ExportScreen
from simjobs.app.screens.log_view import SimulationsLogScreen
from simjobs.app.widgets.job_table import JobTable
from simjobs.app.widgets.plot import ScatterPlot
from simjobs.core.types import JobStatus
from simjobs.export import ExportError, write_export


async def opened(app, pilot) -> SimulationsLogScreen:
    await until(pilot, lambda: isinstance(app.screen, SimulationsLogScreen) and app.screen.settled)
    return app.screen


def shown_ids(screen: SimulationsLogScreen) -> list[str]:
    return [row.job_id for row in screen.view_rows()]


@pytest.fixture
def backend(tmp_path):
    backend = build_backend(tmp_path, n=24)
    yield backend
    backend.close()


@run_async
async def test_every_record_is_shown_terminal_ones_included(backend):
    records = backend.records()
    app = LogViewHost(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(app, pilot)
        assert sorted(shown_ids(screen)) == sorted(r.job_id for r in records)
        statuses = {row.status for row in screen.view_rows()}
        assert {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED,
                JobStatus.FAILED_SUBMIT, JobStatus.RUNNING} <= statuses
        table = screen.query_one(JobTable)
        newest = max(records, key=lambda r: int(r.job_id)).job_id
        assert table.visible_job_ids()[0] == newest  # newest first, drawn on screen
        title = str(screen.query_one("#log-title", Static).render())
        assert "24 records, all shown" in title
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SimulationsLogScreen))


@run_async
async def test_filters_by_text_status_level_and_interface(backend):
    records = backend.records()
    app = LogViewHost(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await opened(app, pilot)
        await pilot.press("slash", *"hpc")
        await until(pilot, lambda: screen.settled and len(screen.model) < 24)
        assert set(shown_ids(screen)) == {r.job_id for r in records if r.interface_name == "hpc"}
        await pilot.press("enter")  # back to the table
        assert isinstance(app.focused, JobTable)
        screen.query_one("#filter-text", TextInput).value = ""
        screen.query_one("#filter-status", Select).value = JobStatus.COMPLETED
        screen.query_one("#filter-level", Select).value = 1
        expected = {r.job_id for r in records
                    if r.status is JobStatus.COMPLETED and r.level == 1}
        await until(pilot, lambda: screen.settled and set(shown_ids(screen)) == expected)
        assert 0 < len(expected) < 24
        title = str(screen.query_one("#log-title", Static).render())
        assert f"{len(expected)} shown (status=Completed, level=1)" in title
        screen.query_one("#filter-status", Select).clear()
        screen.query_one("#filter-level", Select).clear()
        screen.query_one("#filter-interface", Select).value = "local-fast"
        expected = {r.job_id for r in records if r.interface_name == "local-fast"}
        await until(pilot, lambda: screen.settled and set(shown_ids(screen)) == expected)


@run_async
async def test_sort_cycles_columns_and_reverses(backend):
    app = LogViewHost(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(app, pilot)
        ids = shown_ids(screen)
        assert ids == sorted(ids, key=int, reverse=True)
        await pilot.press("o")  # next column: level
        await until(pilot, lambda: screen.settled and screen.model.sort_column == "level")
        levels = [row.level for row in screen.view_rows()]
        assert levels == sorted(levels, reverse=True) and levels[0] == 2
        await pilot.press("O")  # reverse
        await until(pilot, lambda: screen.settled and not screen.model.sort_reverse)
        levels = [row.level for row in screen.view_rows()]
        assert levels == sorted(levels) and levels[0] == 1
        assert "sorted by Lvl↑" in str(screen.query_one("#log-title", Static).render())
        table = screen.query_one(JobTable)
        assert table.cursor_job_id == ids[0]  # the cursor stays on its job, kept in sight
        assert table.cursor_job_id in table.visible_job_ids()


def expected_summary(records):
    out = {}
    for level in sorted({r.level for r in records}):
        mine = [r for r in records if r.level == level]
        outputs = [r.output for r in mine if r.output is not None]
        out[level] = dict(
            count=len(mine),
            completed=sum(r.status is JobStatus.COMPLETED for r in mine),
            failed=sum(r.status in (JobStatus.FAILED, JobStatus.FAILED_SUBMIT) for r in mine),
            cancelled=sum(r.status is JobStatus.CANCELLED for r in mine),
            minimum=min(outputs), maximum=max(outputs), mean=sum(outputs) / len(outputs),
        )
    return out


@run_async
async def test_summary_per_level_matches_the_records(backend):
    records = backend.records()
    app = LogViewHost(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(app, pilot)
        expected = expected_summary(records)
        got = {s.level: s for s in screen.summary}
        assert set(got) == {1, 2}
        for level, want in expected.items():
            s = got[level]
            assert (s.count, s.completed, s.failed, s.cancelled) == (
                want["count"], want["completed"], want["failed"], want["cancelled"])
            assert math.isclose(s.minimum, want["minimum"])
            assert math.isclose(s.mean, want["mean"])
            assert math.isclose(s.maximum, want["maximum"])
        await pilot.press("2")
        assert screen.query_one(TabbedContent).active == "summary-pane"
        table = screen.query_one("#summary", DataTable)
        row = table.get_row("1")
        assert row[:5] == ["1", str(expected[1]["count"]), str(expected[1]["completed"]),
                           str(expected[1]["failed"]), str(expected[1]["cancelled"])]
        # the summary follows the filter
        screen.query_one("#filter-level", Select).value = 2
        await until(pilot, lambda: screen.settled and [s.level for s in screen.summary] == [2])
        assert table.row_count == 1 and table.get_row("2")[1] == str(expected[2]["count"])


@run_async
async def test_plot_of_output_against_a_coordinate_per_level(backend):
    records = backend.records()
    app = LogViewHost(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await opened(app, pilot)
        await pilot.press("3")
        plot = screen.query_one(ScatterPlot)
        await until(pilot, lambda: plot.size.height > 5)
        with_output = [r for r in records if r.output is not None]
        assert plot.point_count == len(with_output)
        by_level = {lvl: sum(r.level == lvl for r in with_output) for lvl in (1, 2)}
        text = plot.text()
        # A legend that reads as one (not as key hints: "1 level 1" read as "press 1")
        legend = text.splitlines()[0]
        assert legend.startswith("Legend: "), legend
        assert f'"1" level 1 ({by_level[1]} points)' in legend, legend
        assert f'"2" level 2 ({by_level[2]} points)' in legend, legend
        assert '"*" several levels' in legend, legend
        assert not re.search(r"(^|\s)[0-9] level", legend), legend
        assert "x1 →" in text
        grid = "\n".join(text.splitlines()[1:-2])
        assert grid.count("1") >= 1 and "2" in grid
        xs = [r.coords[0] for r in with_output]
        assert f"{min(xs):.4g}" in text.splitlines()[-1]
        await pilot.press("x")
        await until(pilot, lambda: screen.settled and "x2 →" in plot.text())


@run_async
async def test_export_csv_and_json_refuses_to_overwrite_without_confirmation(backend, tmp_path):
    records = backend.records()
    out = tmp_path / "export" / "level2.csv"
    out.parent.mkdir()
    app = LogViewHost(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(app, pilot)
        screen.query_one("#filter-level", Select).value = 2
        await until(pilot, lambda: screen.settled and len(screen.model) < 24)
        screen.query_one(JobTable).focus()
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        dialog = app.screen
        path = dialog.query_one("#export-path", TextInput)
        path.value = str(out)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ExportScreen))
        level2 = [r for r in records if r.level == 2]
        with out.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["Job_ID"] for r in rows] == shown_ids(screen)
        assert {r["Job_ID"] for r in rows} == {r.job_id for r in level2}
        assert list(rows[0]) == ["Input_1", "Input_2", "Output", "Job_ID", "Job_Status",
                                 "Job_Level", "Interface_Name", "Created", "Changed", "Reason",
                                 "Resubmit_Of", "Resubmitted_As"]
        by_id = {r.job_id: r for r in level2}
        for row in rows:
            rec = by_id[row["Job_ID"]]
            assert (float(row["Input_1"]), float(row["Input_2"])) == rec.coords
            assert row["Job_Status"] == rec.status.value
            assert row["Output"] == ("" if rec.output is None else repr(rec.output))
        assert any(f"Exported {len(level2)} records to {out}." == n for n in notes(app))
        before = out.read_bytes(), out.stat().st_mtime_ns

        # the same path again: refused until confirmed
        screen.query_one("#filter-level", Select).clear()
        await until(pilot, lambda: screen.settled and len(screen.model) == 24)
        screen.query_one(JobTable).focus()
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        dialog = app.screen
        dialog.query_one("#export-path", TextInput).value = str(out)
        await pilot.press("enter")
        message = dialog.query_one("#export-message", Static)
        await until(pilot, lambda: "already exists" in str(message.render()))
        assert "ctrl+o overwrites it" in str(message.render())
        assert (out.read_bytes(), out.stat().st_mtime_ns) == before
        await pilot.press("ctrl+o")
        await until(pilot, lambda: not isinstance(app.screen, ExportScreen))
        with out.open(newline="") as f:
            assert len(list(csv.DictReader(f))) == 24

        # JSON, and a bad extension named in one line with nothing written
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExportScreen))
        dialog = app.screen
        dialog.query_one("#export-path", TextInput).value = str(tmp_path / "all.txt")
        await pilot.press("enter")
        message = dialog.query_one("#export-message", Static)
        await until(pilot, lambda: "does not end in .csv or .json" in str(message.render()))
        assert "\n" not in str(message.render()) and not (tmp_path / "all.txt").exists()
        dialog.query_one("#export-path", TextInput).value = str(tmp_path / "all.json")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ExportScreen))
        data = json.loads((tmp_path / "all.json").read_text())
        assert len(data) == 24 and {d["job_id"] for d in data} == {r.job_id for r in records}
        first = next(d for d in data if d["output"] is not None)
        rec = next(r for r in records if r.job_id == first["job_id"])
        assert first["input"] == list(rec.coords) and first["output"] == rec.output
        assert first["created"].endswith("+00:00")


def test_export_errors_change_nothing_on_disk(backend, tmp_path):
    records = backend.records()
    (tmp_path / "d.csv").mkdir()
    target = tmp_path / "x.json"
    target.write_text("keep")
    before = tree(tmp_path)
    for path, fragment in [(tmp_path / "no" / "x.csv", "does not exist; create it"),
                           (tmp_path / "d.csv", "is a directory"),
                           (target, "already exists; confirm to overwrite"),
                           (tmp_path / "x.xlsx", "does not end in .csv or .json"),
                           ("  ", "enter the path")]:
        with pytest.raises(ExportError, match=fragment) as info:
            write_export(records, path, 2)
        assert "\n" not in str(info.value)
    assert tree(tmp_path) == before and target.read_text() == "keep"


def test_summarise_ignores_missing_outputs():
    class R:
        def __init__(self, level, status, output):
            self.level, self.status, self.output = level, status, output

    summary = summarise([R(1, JobStatus.COMPLETED, 2.0), R(1, JobStatus.FAILED, None),
                         R(1, JobStatus.COMPLETED, 4.0), R(3, JobStatus.RUNNING, None)])
    assert [(s.level, s.count, s.completed, s.failed, s.mean) for s in summary] == [
        (1, 3, 2, 1, 3.0), (3, 1, 0, 0, None)]


@pytest.mark.slow
@run_async
async def test_100k_records_open_without_freezing_the_app(tmp_path):
    # A watched log: no manager polling 40,000 fixture jobs in the background, so the
    # test measures the view, not the manager.
    from app_fixtures import fill_log
    from simjobs.app.backend import WatchBackend
    from simjobs.core.log import SimulationsLog

    log = SimulationsLog(tmp_path / "runs.csv", 2)
    fill_log(log, 100_000, interfaces={1: ["local-fast"], 2: ["hpc"]})
    log.close()
    backend = WatchBackend(tmp_path / "runs.csv")
    try:
        app = LogViewHost(backend)
        async with app.run_test(size=(120, 35)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, SimulationsLogScreen))
            screen = app.screen
            # The screen is up and answers keys while the records load in a thread.
            await pilot.press("2")
            assert screen.query_one(TabbedContent).active == "summary-pane"
            await until(pilot, lambda: screen.settled, timeout=120)
            assert len(screen.model) == 100_000
            assert sum(s.count for s in screen.summary) == 100_000
            await pilot.press("1")
            table = screen.query_one(JobTable)
            await until(pilot, lambda: len(table.visible_job_ids()) > 20)
            print(f"\n100k records loaded in {screen.load_seconds:.2f} s after the screen opened")
    finally:
        backend.close()


@run_async
async def test_from_the_app_l_opens_the_view_which_follows_jobs_live_and_enter_opens_detail(
        backend):
    from simjobs.app.app import SimjobsApp
    from simjobs.app.screens.detail import JobDetailScreen
    from simjobs.core.types import Input

    app = SimjobsApp(backend, close_backend=False)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        await pilot.press("l")
        screen = await opened(app, pilot)
        assert len(screen.model) == 24
        [job_id] = await asyncio.to_thread(backend.submit, [Input(0.5, 0.5)], 1)
        await until(pilot, lambda: screen.settled and str(job_id) in shown_ids(screen))
        backend.manager.get_interface("local-fast").finish(job_id, output=42.0)
        await until(pilot, lambda: screen.settled and any(
            s.level == 1 and s.maximum == 42.0 for s in screen.summary))
        table = screen.query_one(JobTable)
        table.focus()
        table.move_to(str(job_id))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobDetailScreen))
        assert app.screen.job_id == str(job_id)


@run_async
async def test_the_log_view_opened_from_the_app_is_a_view_of_the_apps_model(backend,
                                                                         monkeypatch):
    """No second copy of every record with its own early-event buffer: the log view is
    another view (its own sort and filter) of the rows the job table shows, updated
    once per batch of events for both."""
    from simjobs.app.app import SimjobsApp
    from simjobs.app.model import JobModel
    from simjobs.core.types import Input

    app = SimjobsApp(backend, close_backend=False)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        reads = []
        monkeypatch.setattr(backend, "records", lambda: reads.append(1) or [])
        await pilot.press("l")
        screen = await opened(app, pilot)
        assert reads == []  # nothing read from the log again
        assert screen.source is app.model and len(screen.model) == 24
        assert all(screen.model.rows[j] is row for j, row in app.model.rows.items())
        await pilot.press("o")  # its own sort: the job table keeps its own
        await until(pilot, lambda: screen.settled and screen.model.sort_column == "level")
        assert app.model.sort_column == "job_id"
        updates = []
        original = JobModel.update
        monkeypatch.setattr(JobModel, "update",
                            lambda self, records: (updates.append(1), original(self, records)))
        batches = app.applied_batches
        [job_id] = await asyncio.to_thread(backend.submit, [Input(0.5, 0.5)], 1)
        await until(pilot, lambda: screen.settled and str(job_id) in shown_ids(screen))
        assert app.model.index_of(str(job_id)) is not None  # in the job table too
        assert 1 <= len(updates) == app.applied_batches - batches  # once a batch, not a screen
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SimulationsLogScreen))
        assert screen.model not in [ref() for ref in app.model._views]  # dropped


@run_async
async def test_export_asked_before_the_log_has_loaded_opens_once_it_has(backend):
    class ExportAtOnce(App):
        def __init__(self):
            super().__init__()
            self.backend = backend

        def on_mount(self) -> None:
            screen = SimulationsLogScreen(backend)
            self.push_screen(screen)
            screen.action_export()  # as the command palette's "Export" does

    app = ExportAtOnce()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ExportScreen)
                    and app.screen.query("#export-path"))
        assert len(app.screen.records) == 24
        # beside the log, in full (not in the working directory), and said in full
        beside = backend.log_path.parent.absolute() / "runs-export.csv"
        assert app.screen.query_one("#export-path", TextInput).value == str(beside)
        message = app.screen.query_one("#export-message", Static)
        assert f"Writes {beside};" in str(message.render())
        # a relative path is shown as the full path it stands for
        app.screen.query_one("#export-path", TextInput).value = "sub/x.json"
        await until(pilot, lambda: f"Writes {Path.cwd() / 'sub' / 'x.json'};" in str(
            message.render()))


# ---- snapshots (deterministic: fixed records and clock, UTC) ------------------------------


def snapshot_app(backend):
    utc_time()
    return LogViewHost(backend)


async def settled(pilot):
    await until(pilot, lambda: isinstance(pilot.app.screen, SimulationsLogScreen)
                and pilot.app.screen.settled)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
def test_snapshot_log_view_records(backend, snap_compare, size):
    assert snap_compare(snapshot_app(backend), terminal_size=size, run_before=settled)


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
def test_snapshot_log_view_plot(backend, snap_compare, size):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(snapshot_app(backend), terminal_size=size, run_before=run_before)


def test_snapshot_log_view_summary(backend, snap_compare):
    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("2")
        await pilot.pause()

    assert snap_compare(snapshot_app(backend), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_export_refusing_to_overwrite(backend, snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs-export.csv").write_text("already here\n")

    async def run_before(pilot):
        await settled(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(pilot.app.screen, ExportScreen)
                    and pilot.app.screen.query("#export-path"))
        # The default is the full path beside the log, which differs from run to run: a
        # relative path keeps the picture the same.
        pilot.app.screen.query_one("#export-path", TextInput).value = "runs-export.csv"
        await pilot.press("enter")
        message = pilot.app.screen.query_one("#export-message", Static)
        await until(pilot, lambda: "already exists" in str(message.render()))
        pilot.app.screen.query_one("#export-path", TextInput).cursor_blink = False
        await pilot.pause()

    assert snap_compare(snapshot_app(backend), terminal_size=(80, 24), run_before=run_before)


@run_async
async def test_r_reloads_the_whole_log_keeping_filter_and_sort(backend):
    from simjobs.core.types import Input

    app = LogViewHost(backend)  # no SimjobsApp: no live updates, only the reload
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(app, pilot)
        screen.query_one("#filter-level", Select).value = 1
        await until(pilot, lambda: screen.settled and len(screen.model) < 24)
        await pilot.press("o")
        await until(pilot, lambda: screen.settled and screen.model.sort_column == "level")
        n_level1 = len(screen.model)
        [new] = await asyncio.to_thread(backend.submit, [Input(0.5, 0.5)], 1)
        screen.query_one(JobTable).focus()
        await pilot.press("r")
        await until(pilot, lambda: screen.settled and str(new) in shown_ids(screen))
        assert len(screen.model) == n_level1 + 1 and len(screen.model.rows) == 25
        assert screen.model.sort_column == "level"
        assert {row.level for row in screen.view_rows()} == {1}


def test_plot_grid_marks_each_level_and_overlaps():
    from simjobs.app.widgets.plot import plot_grid

    grid, ranges = plot_grid({1: ([0.0, 1.0], [0.0, 1.0]), 2: ([0.0, 0.5], [0.0, 0.5])}, 5, 3)
    assert ranges == ((0.0, 1.0), (0.0, 1.0))
    rows = ["".join(r) for r in grid]
    assert rows[0][4] == "1"  # (1, 1): top right, level 1 only
    assert rows[2][0] == "*"  # (0, 0): both levels
    assert rows[1][2] == "2"  # (0.5, 0.5): the middle, level 2 only
    assert plot_grid({}, 5, 3)[1] is None


def test_the_plot_legend_reads_as_a_legend_at_80_columns_and_shorter_when_it_must():
    from simjobs.app.widgets.plot import ScatterPlot

    plot = ScatterPlot()
    plot.series = {1: ([0.1] * 8, [1.0] * 8), 2: ([0.2] * 2, [2.0] * 2)}
    text = "".join(t for t, _ in plot.legend(78))  # the plot's width at 80 columns
    assert text == 'Legend: "1" level 1 (8 points) · "2" level 2 (2 points) · "*" several levels'
    short = "".join(t for t, _ in plot.legend(40))
    assert short == '"1" L1 (8) · "2" L2 (2) · "*" several', short
