"""The app's main screen, driven through Textual's Pilot on real logs and managers.

Every wait is on a condition (``until``), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from app_fixtures import FIRST_ID, HeldInterface, build_backend, run_async, until, utc_time
from helpers import log_held_open, records_of
from rich.console import Console
from textual.command import CommandList, CommandPalette

from simjobs.app.app import SimjobsApp
from simjobs.app.backend import WatchBackend
from simjobs.app.screens.confirm import ConfirmScreen
from simjobs.app.screens.help import HelpScreen
from simjobs.app.themes import remembered_theme
from simjobs.app.model import ACTIVE, JobModel
from simjobs.core.log import SimulationsLog
from simjobs.core.types import TERMINAL_STATUSES, JobStatus

# Positions in the fixture's status pattern (see app_fixtures._PATTERN).
COMPLETED_ID = str(FIRST_ID + 0)
RUNNING_ID = str(FIRST_ID + 1)
FAILED_ID = str(FIRST_ID + 3)
SUBMITTED_ID = str(FIRST_ID + 4)
CANCELLED_ID = str(FIRST_ID + 6)
RUNNING_ID2 = str(FIRST_ID + 7)


@pytest.fixture(autouse=True)
def _utc():
    utc_time()


def table_of(app):
    return app.main_screen.table


def line_text(app, job_id: str) -> str:
    """The rendered text of a job's row (it must be on screen)."""
    table = table_of(app)
    index = table.model.index_of(job_id)
    assert index is not None, f"{job_id} is not in the view"
    y = index - int(table.scroll_offset.y) + 1
    assert 1 <= y <= table.body_height, f"{job_id} is not on screen"
    return table.render_line(y).text


def status_of(app, job_id: str):
    row = app.model.rows.get(job_id)
    return row.status if row else None


def notices(app) -> str:
    return "\n".join(f"{t}: {m}" for t, m, _ in app.notices)


@pytest.fixture
def backend(tmp_path):
    b = build_backend(tmp_path, 24)
    yield b
    b.close()  # idempotent enough: the app closed it already in most tests


def interface(backend, name="local-fast") -> HeldInterface:
    return backend.manager.get_interface(name)


# ---- the screen ------------------------------------------------------------------------


@run_async
async def test_main_screen_shows_every_job_with_status_words_and_counts(backend, tmp_path,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)  # the log path is shown relative to the working dir
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        assert len(app.model) == 24
        text = line_text(app, RUNNING_ID)
        assert RUNNING_ID in text and "Running" in text and "local-fast" in text
        assert "Completed" in line_text(app, COMPLETED_ID)
        completed = backend.get_record(COMPLETED_ID)
        assert f"{completed.output:.6g}" in line_text(app, COMPLETED_ID)
        status = app.main_screen.status_bar.render_text().plain
        assert status.startswith("runs.csv · managed by this app\n")
        assert "24 jobs" in status and "running" in status and "completed" in status
        panels = app.main_screen.panels.panels
        assert set(panels) == {"local-fast", "hpc"}
        hpc = panels["hpc"].render_text().plain
        assert "slurm @ hpc.example.org" in hpc and "/ 8" in hpc and "ok" in hpc


@run_async
async def test_narrow_terminal_puts_one_line_panels_under_a_table_that_fits(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        await pilot.pause()
        screen = app.main_screen
        assert screen.has_class("-narrow")
        panel = screen.panels.panels["local-fast"]
        assert panel.has_class("-compact") and panel.size.height == 1
        assert panel.region.y > screen.table.region.y  # below the table
        table = screen.table
        used = 2 + sum(w for _, w in table.columns) + len(table.columns) - 1
        assert used <= table.scrollable_content_region.width
        keys = [c.key for c, _ in table.columns]
        for key in ("job_id", "level", "interface", "status", "input", "output", "elapsed"):
            assert key in keys
        row = line_text(app, str(table.model.row_at(0).job_id))
        assert table.model.row_at(0).job_id in row  # ids are never cut


# ---- cancelling ------------------------------------------------------------------------


@run_async
async def test_cancel_asks_naming_the_job_then_shows_pending_cancel_then_cancelled(backend):
    job_id = backend.submit([(0.1, 0.2)], 1)[0]
    job_id = str(job_id)
    hw = interface(backend)
    hw.cancel_gate = threading.Event()  # the hardware takes its time to confirm
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: status_of(app, job_id) is JobStatus.RUNNING)
        assert table_of(app).move_to(job_id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert job_id in app.screen.question
        await pilot.press("n")  # no: nothing happens
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert status_of(app, job_id) is JobStatus.RUNNING
        assert backend.get_record(job_id).status is JobStatus.RUNNING and not hw.cancels

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: status_of(app, job_id) is JobStatus.PENDING_CANCEL,
                    message=f"{status_of(app, job_id)} {notices(app)}")
        assert "Pending cancel" in line_text(app, job_id)
        hw.cancel_gate.set()  # the hardware confirms
        await until(pilot, lambda: status_of(app, job_id) is JobStatus.CANCELLED)
        assert "Cancelled" in line_text(app, job_id)
    assert records_of(backend.log_path)[job_id].status is JobStatus.CANCELLED


@run_async
async def test_marked_jobs_cancel_after_one_confirmation_stating_the_count(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        table = table_of(app)
        for job_id in (RUNNING_ID, RUNNING_ID2, COMPLETED_ID):
            assert table.move_to(job_id)
            await pilot.press("space")
        assert table.marked == {RUNNING_ID, RUNNING_ID2, COMPLETED_ID}
        assert line_text(app, RUNNING_ID).startswith("●")  # a visible marker
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Cancel 2 marked jobs?" == app.screen.question
        assert "1 marked job already ended" in app.screen.detail
        await pilot.press("y")
        await until(pilot, lambda: {status_of(app, j) for j in (RUNNING_ID, RUNNING_ID2)}
                    <= {JobStatus.PENDING_CANCEL, JobStatus.CANCELLED})
        await until(pilot, lambda: status_of(app, RUNNING_ID) is JobStatus.CANCELLED
                    and status_of(app, RUNNING_ID2) is JobStatus.CANCELLED,
                    message=lambda: f"{status_of(app, RUNNING_ID)} {status_of(app, RUNNING_ID2)}"
                    f" {backend.get_record(RUNNING_ID)} {notices(app)}")
        assert status_of(app, COMPLETED_ID) is JobStatus.COMPLETED
        assert not table.marked
        assert "2 jobs cancelling; 1 skipped, already ended" in notices(app)


@run_async
async def test_cancelling_a_finished_job_says_why_and_asks_nothing(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        assert table_of(app).move_to(COMPLETED_ID)
        await pilot.press("c")
        await until(pilot, lambda: "already ended" in notices(app))
        assert f"job {COMPLETED_ID} has already ended (Completed)" in notices(app)
        assert not isinstance(app.screen, ConfirmScreen)
        assert status_of(app, COMPLETED_ID) is JobStatus.COMPLETED


# ---- resubmitting ----------------------------------------------------------------------


@run_async
async def test_resubmit_a_failed_job_after_confirmation_adds_the_new_job(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        table = table_of(app)
        assert table.move_to(FAILED_ID)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert FAILED_ID in app.screen.question and "level" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: len(app.model.rows) == 25)
        new_id = table.cursor_job_id
        assert new_id != FAILED_ID
        assert app.model.rows[new_id].level == app.model.rows[FAILED_ID].level
        assert f"{FAILED_ID} → {new_id}" in notices(app)
        record = backend.get_record(FAILED_ID)
        assert record.resubmitted_as == [new_id]
        assert backend.get_record(new_id).resubmit_of == FAILED_ID

        # Again: the confirm names the new job and offers "Resubmit again"; "n" keeps it.
        assert table.move_to(FAILED_ID)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "again" in app.screen.question and new_id in app.screen.detail
        assert app.screen.yes_label == "Resubmit again"
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert len(app.model.rows) == 25
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: len(app.model.rows) == 26)
        newer = table.cursor_job_id
        assert backend.get_record(FAILED_ID).resubmitted_as == [new_id, newer]

        # A running job cannot be resubmitted: said, not asked.
        assert table.move_to(RUNNING_ID)
        await pilot.press("r")
        await until(pilot, lambda: "only failed, failed-submit or cancelled" in notices(app))
        assert not isinstance(app.screen, ConfirmScreen)


# ---- filter, sort, hide finished -------------------------------------------------------


@run_async
async def test_filter_by_text_and_quick_toggles(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        model = app.model
        await pilot.press("slash")
        await pilot.press(*"hpc")
        await until(pilot, lambda: model.filter.text == "hpc")
        shown = model.rows_between(0, len(model))
        assert shown and all(r.interface == "hpc" for r in shown)
        assert len(shown) == sum(1 for r in model.rows.values() if r.interface == "hpc")
        await pilot.press("enter")  # back to the table, filter kept
        assert app.focused is table_of(app)
        await pilot.press("escape")  # clears the filters
        await until(pilot, lambda: len(model) == 24)

        await pilot.press("f")  # status: active
        assert model.filter.status == ACTIVE
        assert all(r.status not in TERMINAL_STATUSES for r in model.rows_between(0, 99))
        await pilot.press("f")  # status: running
        assert {r.status for r in model.rows_between(0, 99)} == {JobStatus.RUNNING}
        await pilot.press("escape")
        await pilot.press("v")  # level 1
        assert model.filter.level == 1 and {r.level for r in model.rows_between(0, 99)} == {1}
        await pilot.press("v")  # level 2
        assert {r.level for r in model.rows_between(0, 99)} == {2}
        await pilot.press("escape", "i")  # first interface (sorted): hpc
        assert model.filter.interface == "hpc"
        assert "interface=hpc" in str(app.main_screen.query_one("#table-info").render())

        # Text matches inputs and ids too.
        await pilot.press("escape", "slash", *COMPLETED_ID[-3:])
        await until(pilot, lambda: len(model) >= 1 and all(
            COMPLETED_ID[-3:] in r.haystack for r in model.rows_between(0, 99)))


@run_async
async def test_sort_key_cycles_the_column_and_another_reverses(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        model = app.model
        ids = [r.job_id for r in model.rows_between(0, 99)]
        assert ids == sorted(ids, reverse=True)  # newest first
        await pilot.press("O")
        assert [r.job_id for r in model.rows_between(0, 99)] == sorted(ids)
        await pilot.press("o")  # next column: level
        assert model.sort_column == "level"
        levels = [r.level for r in model.rows_between(0, 99)]
        assert levels == sorted(levels)
        await pilot.press("o", "o")  # interface, then status
        assert model.sort_column == "status"
        await pilot.press("O")
        header = table_of(app).render_line(0).text
        assert "Status↓" in header
        for _ in range(6):
            await pilot.press("o")
        assert model.sort_column == "job_id"  # all nine columns, round again


@run_async
async def test_hide_finished_hides_terminal_jobs_and_follows_events(backend):
    job_id = str(backend.submit([(0.5, 0.5)], 1)[0])
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: status_of(app, job_id) is JobStatus.RUNNING)
        await pilot.press("h")
        model = app.model
        assert model.filter.hide_finished
        shown = {r.job_id for r in model.rows_between(0, 99)}
        assert job_id in shown
        assert all(model.rows[j].status not in TERMINAL_STATUSES for j in shown)
        interface(backend).finish(job_id, 1.0)
        await until(pilot, lambda: model.index_of(job_id) is None)  # gone when it ends
        await pilot.press("h")
        assert len(model) == 25


@run_async
async def test_events_are_coalesced_and_applied_without_rebuilding(backend, monkeypatch):
    rebuilds = []
    original = JobModel.rebuild
    monkeypatch.setattr(JobModel, "rebuild", lambda self: (rebuilds.append(1), original(self)))
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        before, batches = len(rebuilds), app.applied_batches
        ids = await asyncio.to_thread(backend.submit, [(i / 100, 0.5) for i in range(40)], 1)
        await until(pilot, lambda: all(status_of(app, str(j)) is JobStatus.RUNNING for j in ids))
        # 40 jobs x 3 status changes = 120 events, in a handful of batches, no rebuild.
        assert app.applied_batches - batches < 30
        assert len(rebuilds) == before
        assert len(app.model) == 64




@run_async
async def test_a_batch_of_events_reads_its_records_in_one_call(backend, monkeypatch):
    # One get_record per changed job held the UI loop ~45 ms a batch at 100,000 jobs.
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        singles, bulks = [], []
        get_records = backend.get_records
        monkeypatch.setattr(backend, "get_record", lambda j: singles.append(j))
        lives = []
        monkeypatch.setattr(backend, "get_records", lambda ids, live=False: (
            bulks.append(list(ids)), lives.append(live), get_records(ids, live))[2])
        batches = app.applied_batches
        ids = await asyncio.to_thread(backend.submit, [(i / 100, 0.5) for i in range(40)], 1)
        await until(pilot, lambda: all(status_of(app, str(j)) is JobStatus.RUNNING for j in ids))
        assert singles == []
        assert 1 <= len(bulks) <= app.applied_batches - batches
        assert {str(j) for j in ids} <= {j for batch in bulks for j in batch}
        # The model keeps the log's own records (read-only), not a copy of each.
        assert lives and all(lives)
        own = {r.job_id: r for r in backend.live_records()}
        assert all(app.model.rows[str(j)].rec is own[str(j)] for j in ids)


@run_async
async def test_typing_in_the_filter_redraws_the_table_without_a_layout_of_the_screen(
        backend, monkeypatch):
    # The table's row count is a layout reactive of Textual's: set plainly, each key
    # typed in the filter re-laid out the whole screen (~20 ms at 120x35).
    from textual.screen import Screen

    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        await pilot.press("slash")
        await pilot.pause()
        layouts = []
        original = Screen._refresh_layout
        monkeypatch.setattr(Screen, "_refresh_layout",
                            lambda self, *a, **k: (layouts.append(1), original(self, *a, **k))[1])
        table = table_of(app)
        for text in ("0", "00", "002", "0021"):
            await pilot.press(text[-1])
            await until(pilot, lambda t=text: app.model.filter.text == t)
            await pilot.pause()
            assert len(table.visible_job_ids()) == len(app.model)
            assert table.virtual_size.height == len(app.model) + 1
        assert len(app.model) < 24 and layouts == []


@run_async
async def test_a_burst_of_changes_is_applied_in_bounded_batches_none_lost(backend,
                                                                         monkeypatch):
    # A manager handing 100,000 queued jobs over changes them all at once: applied in
    # one batch they held the UI loop (and the keys) for a second.
    import simjobs.app.app as app_module

    monkeypatch.setattr(app_module, "MAX_BATCH", 7)
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        sizes = []
        get_records = backend.get_records
        monkeypatch.setattr(backend, "get_records",
                            lambda ids, live=False: (sizes.append(len(list(ids))), get_records(ids, live))[1])
        ids = await asyncio.to_thread(backend.submit, [(i / 100, 0.5) for i in range(40)], 1)
        await until(pilot, lambda: all(status_of(app, str(j)) is JobStatus.RUNNING for j in ids))
        assert sizes and max(sizes) <= 7 and sum(sizes) >= 40
        assert len(app.model) == 64 and all(app.model.index_of(str(j)) is not None for j in ids)


@run_async
async def test_every_batch_is_read_by_one_thread_and_no_worker_per_batch(backend, monkeypatch):
    # A Textual thread worker per batch: a Worker made on the UI loop each time (its
    # description the repr of up to 5,000 job ids), run on whichever executor thread was
    # free, each with malloc arenas of its own.
    from textual.worker_manager import WorkerManager

    import simjobs.app.app as app_module

    monkeypatch.setattr(app_module, "MAX_BATCH", 5)  # (many batches)
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        readers, workers = [], []
        get_records = backend.get_records
        monkeypatch.setattr(backend, "get_records", lambda ids, live=False: (
            readers.append(threading.current_thread()), get_records(ids, live))[1])
        add_worker = WorkerManager.add_worker
        monkeypatch.setattr(WorkerManager, "add_worker", lambda self, worker, **kw: (
            workers.append(worker.name), add_worker(self, worker, **kw))[1])
        ids = await asyncio.to_thread(backend.submit, [(i / 100, 0.5) for i in range(40)], 1)
        await until(pilot, lambda: all(status_of(app, str(j)) is JobStatus.RUNNING for j in ids))
        assert len(readers) >= 8  # (40 jobs x 3 changes, 5 jobs a batch)
        assert len(set(readers)) == 1 and readers[0] is not threading.main_thread()
        assert workers == []
    readers[0].join(10)
    assert not readers[0].is_alive()  # it ends with the app


@run_async
async def test_while_keys_are_pressed_batches_are_smaller(backend, monkeypatch):
    # A batch is applied at least every MAX_DEFER however fast one types; at 5,000 jobs
    # it held the loop ~15 ms, which the key typed at that moment waited for.
    import simjobs.app.app as app_module

    monkeypatch.setattr(app_module, "KEY_QUIET", 600.0)  # (a key "just now" for the test)
    monkeypatch.setattr(app_module, "TYPING_BATCH", 3, raising=False)
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        sizes = []
        get_records = backend.get_records
        monkeypatch.setattr(backend, "get_records",
                            lambda ids, live=False: (sizes.append(len(list(ids))), get_records(ids, live))[1])
        await pilot.press("j")
        ids = await asyncio.to_thread(backend.submit, [(i / 100, 0.5) for i in range(20)], 1)
        await until(pilot, lambda: all(status_of(app, str(j)) is JobStatus.RUNNING for j in ids),
                    timeout=60)
        assert sizes and max(sizes) <= 3 and sum(sizes) >= 20
        assert all(app.model.index_of(str(j)) is not None for j in ids)


@run_async
async def test_keys_are_answered_while_a_batchs_records_wait_for_the_log(backend,
                                                                       monkeypatch):
    # The manager may hold the log's lock a while (a batch of 100,000 changes): the
    # records of a batch are read in a thread, so the UI loop never waits for it.
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        gate, inside = threading.Event(), threading.Event()
        get_records = backend.get_records

        def held(ids, live=False):  # (a fault: the log's lock held elsewhere until told)
            inside.set()
            gate.wait(30)
            return get_records(ids, live)

        monkeypatch.setattr(backend, "get_records", held)
        try:
            ids = await asyncio.to_thread(backend.submit, [(0.5, 0.5)], 1)
            await until(pilot, inside.is_set)
            table = table_of(app)
            before = table.cursor
            await pilot.press("j")
            await until(pilot, lambda: table.cursor == before + 1, timeout=5)
            assert not gate.is_set() and status_of(app, str(ids[0])) is None
        finally:
            gate.set()
        await until(pilot, lambda: status_of(app, str(ids[0])) is not None)


@run_async
async def test_the_ui_loop_gets_the_gil_back_within_a_millisecond_while_the_app_runs(backend):
    # The manager's threads compute in Python beside the loop: at Python's default 5 ms
    # switch interval a key waited up to that, several times over.
    before = sys.getswitchinterval()
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        assert sys.getswitchinterval() <= 0.001
    assert sys.getswitchinterval() == before  # given back when the app ends


@run_async
async def test_full_garbage_collections_wait_until_the_keys_rest(backend):
    # Python's full collection scans every object: at 100,000 jobs up to 400 ms, falling
    # on whatever key was being answered. While the app runs it is made on the tick,
    # once no key came for a second; the thresholds are given back when the app ends.
    import gc

    from simjobs.app import collector

    before = gc.get_threshold()
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        assert gc.get_threshold()[2] >= 1 << 20  # Python's counter never makes one now
        full = app.full_collections
        full.last -= collector.EVERY  # (the last one long enough ago)
        made = gc.get_stats()[2]["collections"]
        app.last_key = time.monotonic()  # (as a key: no tick collects meanwhile)
        for _ in range(before[2] + 1):  # each counts towards a full one, as Python's do
            gc.collect(1)
        assert full.due()
        await pilot.press("j")  # a key now: the tick leaves it for later
        assert not full.collect_if_due(app.last_key)  # (what the tick asks)
        assert gc.get_stats()[2]["collections"] == made and full.due()
        app.last_key -= collector.QUIET  # the keys have rested for a second
        await until(pilot, lambda: not full.due(), timeout=10)  # made by the 1 s tick
        assert gc.get_stats()[2]["collections"] > made and full.made >= 1
    assert gc.get_threshold() == before


@run_async
async def test_the_filter_follows_the_bar_in_the_same_frame_as_the_key(backend):
    # On the bar's Changed message the filtered table came a message later, after a
    # frame showing only the key typed: ~17 ms more per key (the next frame).
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        await pilot.press("slash")
        bar = app.main_screen.query_one("#filter-bar")
        bar.value = "0021"  # as a key typed sets it; nothing awaited after
        assert app.model.filter.text == "0021" and len(app.model) == 1

@run_async
async def test_lines_drawn_last_stay_cached_when_the_line_cache_is_full(backend, monkeypatch):
    # A cache that was cleared when full dropped the lines just drawn (the screen being
    # read); the least recently drawn lines are the ones to forget.
    from simjobs.app.widgets import job_table

    monkeypatch.setattr(job_table, "LINE_CACHE_SIZE", 16)
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        await pilot.pause()
        table = table_of(app)
        assert table.body_height >= 24
        drawn = []
        original = table._draw_row
        monkeypatch.setattr(table, "_draw_row",
                            lambda row, *a: (drawn.append(row.job_id), original(row, *a))[1])
        table.notify_style_update()  # every line drawn anew from here
        for y in range(1, 25):  # 24 jobs: more lines than the cache holds
            table.render_line(y)
        assert len(drawn) == 24
        drawn.clear()
        for y in range(9, 25):  # the 16 drawn last: all still cached
            table.render_line(y)
        assert drawn == []
        table.render_line(1)  # the first was forgotten (least recently drawn)
        assert len(drawn) == 1

# ---- help, themes, quitting ------------------------------------------------------------


@run_async
async def test_help_lists_every_key(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(100, 50)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = " ".join(f"{k} {w}" for _, rows in app.screen.sections for k, w in rows)
        for key in ("s ", "c ", "r ", "space", "enter", "l ", "/", "f ", "v ", "i ", "h ",
                    "o ", "O ", "up, k", "down, j", "q ", "?", "ctrl+p"):
            assert key in text, key
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main_screen)


@run_async
async def test_theme_switch_from_the_palette_is_remembered(tmp_path):
    backend = build_backend(tmp_path, 4)
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        assert app.theme == "simjobs-dark"
        header_style = list(table_of(app).render_line(0))[1].style
        row_style = list(table_of(app).render_line(2))[2].style
        await pilot.press("ctrl+p")
        await pilot.press(*"simjobs-light")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette)
                    and app.screen.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await until(pilot, lambda: app.theme == "simjobs-light")
        await until(pilot, lambda: list(table_of(app).render_line(0))[1].style
                    != header_style, message="the table follows the theme")
        assert list(table_of(app).render_line(2))[2].style != row_style  # rows too
        await until(pilot, lambda: remembered_theme() == "simjobs-light")
    (tmp_path / "again").mkdir()
    app2 = SimjobsApp(build_backend(tmp_path / "again", 0))
    assert app2.theme == "simjobs-light"  # the next start uses it
    app2.backend.close()


@run_async
async def test_theme_option_picks_and_remembers(tmp_path):
    backend = build_backend(tmp_path, 0)
    app = SimjobsApp(backend, theme="simjobs-light")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        assert app.theme == "simjobs-light"
        assert app.current_theme.dark is False
    assert remembered_theme() == "simjobs-light"


@run_async
async def test_quit_with_running_jobs_asks_and_they_resume_next_start(tmp_path):
    backend = build_backend(tmp_path, 12)  # 3 running, 1 submitted among them
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        running = backend.running_count()
        assert running > 0
        statuses = [r.status for r in backend.records()]
        n_running, n_queued = statuses.count(JobStatus.RUNNING), statuses.count(JobStatus.SUBMITTED)
        assert n_running and n_queued
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        # running and queued told apart (queued jobs do not start until a manager runs),
        # counted as the status bar counts them
        assert f"{n_running} running, {n_queued} queued" in app.screen.question
        status = app.main_screen.status_bar.render_text().plain
        assert f"{n_running} running" in status and f"{n_queued} submitted" in status
        assert "Running jobs go on running" in app.screen.detail
        assert "Queued jobs wait: only a running simjobs starts them" in app.screen.detail
        await pilot.press("n")
        await until(pilot, lambda: app.screen is app.main_screen)
        assert app.is_running
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)
    still = [r for r in records_of(tmp_path / "runs.csv").values()
             if r.status not in TERMINAL_STATUSES]
    assert len(still) == running  # tracked in the log, untouched
    from simjobs.app.backend import ManagedBackend

    log = SimulationsLog(tmp_path / "runs.csv", 2)
    resumed = ManagedBackend(log, [HeldInterface("local-fast", 1), HeldInterface("hpc", 2)])
    try:
        assert resumed.running_count() == running
    finally:
        resumed.close()


@run_async
async def test_quit_with_nothing_running_exits_at_once(tmp_path):
    backend = build_backend(tmp_path, 0)
    app = SimjobsApp(backend)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)


# ---- watching a log another process manages --------------------------------------------

WRITER = """
import sys, time
from simjobs.core.log import SimulationsLog
from simjobs.core.records import LogChange
from simjobs.core.types import JobStatus
log = SimulationsLog(sys.argv[1], 2)
log.add_new_records([((0.9, 0.9), "30000101000000000", JobStatus.PENDING_SUBMIT, 1, "local-fast")])
log.apply_changes([LogChange(sys.argv[2], time.time(), status=JobStatus.COMPLETED, output=7.5)])
log.close()
"""


def _closed_fixture_log(tmp_path, n=8):
    backend = build_backend(tmp_path, n)
    backend.close()
    return tmp_path / "runs.csv"


@run_async
async def test_watch_mode_sees_changes_made_by_another_process(tmp_path):
    path = _closed_fixture_log(tmp_path)
    backend = WatchBackend(path, interval=0.05)
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        assert len(app.model) == 8 and backend.readonly
        assert "read-only" in app.main_screen.status_bar.render_text().plain or \
            "read-only" in backend.manager_state()
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", WRITER, str(path),
                                                 RUNNING_ID], check=True, timeout=60)
        await until(pilot, lambda: "30000101000000000" in app.model.rows
                    and status_of(app, RUNNING_ID) is JobStatus.COMPLETED)
        assert "7.5" in line_text(app, RUNNING_ID)
        assert "Pending submit" in line_text(app, "30000101000000000")


@run_async
async def test_watch_mode_without_a_manager_disables_acting_naming_the_holder(tmp_path):
    path = _closed_fixture_log(tmp_path)
    with log_held_open(path) as holder:
        backend = WatchBackend(path)
        app = SimjobsApp(backend)
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: app.main_screen is not None
                        and app.main_screen.is_attached)
            for key in ("c", "s", "r"):
                app.notices.clear()
                await pilot.press(key)
                await until(pilot, lambda: "read-only" in notices(app))
                assert f"pid {holder.pid}" in notices(app)
                assert "runs no simjobs manager" in notices(app)
                assert not isinstance(app.screen, ConfirmScreen)
    # Nobody holds it: still read-only, and it says so.
    backend = WatchBackend(path)
    try:
        assert backend.readonly and "no process manages runs.csv" in backend.readonly_reason
    finally:
        backend.close()


@pytest.mark.slow
@run_async
async def test_watch_mode_hands_cancel_to_the_running_manager(tmp_path, make_config,
                                                               background_run, cli, gate):
    from helpers import sim_command, wait_for
    from simjobs.core.control import manager_holder

    config = make_config(interfaces=[{"name": "local", "level": 1,
                                      "command": sim_command("gate.py"), "max_jobs": 4}])
    proc = background_run(config)
    log_path = tmp_path / "runs.csv"
    wait_for(lambda: log_path.exists() and manager_holder(str(log_path)), timeout=60)
    result = cli("submit", "--config", config, "0.25", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    job_id = str(__import__("json").loads(result.stdout)["job_ids"][0])
    backend = WatchBackend(log_path, interval=0.05)
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: status_of(app, job_id) is JobStatus.RUNNING, timeout=60)
        assert not backend.readonly
        assert f"pid {proc.pid}" in backend.manager_state()
        assert table_of(app).move_to(job_id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: status_of(app, job_id) is JobStatus.CANCELLED, timeout=60)
    assert records_of(log_path)[job_id].status is JobStatus.CANCELLED
    assert proc.poll() is None  # the manager still runs: nobody took its log over


@run_async
async def test_an_unreachable_interface_shows_since_when_and_why(backend):
    from simjobs.core.errors import HardwareUnreachableError

    job_id = str(backend.submit([(0.3, 0.3)], 2)[0])  # gives hpc a job to poll
    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: status_of(app, job_id) is JobStatus.RUNNING)
        panel = app.main_screen.panels.panels["hpc"]
        assert "ok" in panel.shown_text
        interface(backend, "hpc").poll_error = HardwareUnreachableError(
            "ssh: connect to host hpc.example.org port 22: Connection refused")
        await until(pilot, lambda: "unreachable since" in panel.shown_text)
        text = panel.shown_text
        assert "Connection refused" in text
        since = backend.interfaces()[1].health_since
        assert time.strftime("%H:%M", time.localtime(since)) in text
        assert panel.has_class("-unhealthy")
        assert "ok" in app.main_screen.panels.panels["local-fast"].shown_text
        interface(backend, "hpc").poll_error = None  # back
        await until(pilot, lambda: "unreachable" not in panel.shown_text)


@run_async
async def test_keys_open_the_submit_log_and_detail_screens(backend):
    from simjobs.app.screens.detail import JobDetailScreen
    from simjobs.app.screens.log_view import SimulationsLogScreen
    from simjobs.app.screens.submit import SubmitScreen

    app = SimjobsApp(backend)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        for key, screen_class in (("s", SubmitScreen), ("l", SimulationsLogScreen)):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, screen_class), message=key)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.main_screen, message=key)
        assert table_of(app).move_to(FAILED_ID)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, JobDetailScreen))
        assert str(app.screen.job_id) == FAILED_ID


def test_a_config_whose_log_another_process_holds_opens_read_only(tmp_path, make_config):
    from simjobs.app.backend import open_backend
    from simjobs.config import load_config

    config = load_config(make_config())
    _closed_fixture_log(tmp_path)
    before = (tmp_path / "runs.csv").read_bytes()
    with log_held_open(tmp_path / "runs.csv") as holder:
        backend = open_backend(config)
        try:
            assert isinstance(backend, WatchBackend) and backend.readonly
            assert f"pid {holder.pid}" in backend.readonly_reason
            assert len(backend.records()) == 8
            assert [i.name for i in backend.interfaces()][0] == "local"  # from the config
        finally:
            backend.close()
    assert (tmp_path / "runs.csv").read_bytes() == before  # never written


@run_async
async def test_a_backend_opened_after_the_first_paint(tmp_path):
    from simjobs.app.app import OpeningScreen

    path = _closed_fixture_log(tmp_path)
    opened = threading.Event()

    def factory():
        opened.wait(10)  # a slow open
        return WatchBackend(path)

    app = SimjobsApp(factory, opening="opening runs.csv…")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OpeningScreen))
        assert app.backend is None and app.screen.text == "opening runs.csv…"
        opened.set()
        await until(pilot, lambda: app.main_screen is not None and app.screen is app.main_screen)
        assert len(app.model) == 8 and app.backend.mode == "watch"


@run_async
async def test_a_backend_that_cannot_open_ends_the_app_with_its_error(tmp_path):
    from simjobs.core.errors import SimjobsError

    def factory():
        raise SimjobsError("runs.csv: no such simulations log; check the path")

    app = SimjobsApp(factory)
    async with app.run_test() as pilot:
        await until(pilot, lambda: not app.is_running)
    assert "no such simulations log" in str(app.startup_error)
    assert app.return_code == 1


@run_async
async def test_the_palette_offers_the_main_actions(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Submit jobs", "Cancel jobs", "Resubmit jobs", "Simulations log view",
                       "Export the log", "Toggle hide finished", "Theme: simjobs-light"):
            assert wanted in titles, wanted
        await pilot.press("ctrl+p", *"Toggle hide")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette)
                    and app.screen.query_one(CommandList).option_count > 0)
        await pilot.press("enter")
        await until(pilot, lambda: app.model.filter.hide_finished)
        assert all(not r.finished for r in app.model.rows_between(0, 99))


def test_watch_reads_never_swallow_a_change_its_events_must_announce(tmp_path):
    path = _closed_fixture_log(tmp_path)
    backend = WatchBackend(path, interval=3600)  # refreshed only when told, here
    events = []
    backend.subscribe(events.append)
    try:
        backend.check_now()  # the baseline
        subprocess.run([sys.executable, "-c", WRITER, str(path), RUNNING_ID], check=True,
                       timeout=60)
        # Reading (as the app does for each event) does not load the change behind
        # the watcher's back...
        assert backend.get_record(RUNNING_ID).status is JobStatus.RUNNING
        assert len(backend.records()) == 8
        # ...so the watcher sees it, and tells.
        assert backend.check_now() == 2
        assert backend.wait_idle(10)
        by_id = {str(e.job_id): e for e in events}
        assert by_id[RUNNING_ID].new_status is JobStatus.COMPLETED
        assert by_id[RUNNING_ID].old_status is JobStatus.RUNNING
        assert by_id["30000101000000000"].old_status is None
        assert backend.get_record(RUNNING_ID).output == 7.5
    finally:
        backend.close()


@run_async
async def test_a_long_unreachable_cause_is_short_in_the_panel_and_whole_in_the_detail(backend):
    """The load panel shows the cause of an unreachable interface in short (its first
    clause; the whole is the panel's tooltip), the job detail view shows it whole, and
    the tails say the interface is unreachable rather than "not available"."""
    from simjobs.app.screens.detail import JobDetailScreen
    from simjobs.core.errors import HardwareUnreachableError

    cause = ("cannot connect to hpc.example.org:22: no answer within 10 s; check the host "
             "name, the port and the network (the login node may be down for maintenance "
             "until 18:00, see https://status.example.org/hpc)")
    job_id = str(backend.submit([(0.3, 0.3)], 2)[0])
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: status_of(app, job_id) is JobStatus.RUNNING)
        hpc = interface(backend, "hpc")
        hpc.poll_error = HardwareUnreachableError(cause)

        def no_details(job_id):
            raise HardwareUnreachableError(cause)

        hpc.job_details = no_details
        panel = app.main_screen.panels.panels["hpc"]
        await until(pilot, lambda: "unreachable since" in panel.shown_text)
        assert "no answer within 10 s" in panel.shown_text
        assert "check the host name" not in panel.shown_text  # the fix: in the detail
        assert str(panel.tooltip).endswith(cause)
        app.push_screen(JobDetailScreen(backend, job_id))
        await until(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.fetched)
        def shown(widget_id: str) -> str:
            out = io.StringIO()
            Console(file=out, width=400, color_system=None).print(
                app.screen.query_one(widget_id).content)
            return " ".join(out.getvalue().split())

        assert cause in shown("#where")  # whole, fix included
        stdout = shown("#stdout")
        assert "unreachable" in stdout and "not available" not in stdout
        hpc.poll_error = None


def drawn_lines(widget) -> list[str]:
    """The lines a widget draws now, as text (wrapping and cutting included)."""
    from textual.geometry import Region

    size = widget.size
    return [strip.text for strip in widget.render_lines(Region(0, 0, size.width, size.height))]


@run_async
async def test_watch_viewer_at_80x24_fits_its_header_and_learns_the_interfaces_from_the_manager(
        tmp_path):
    from simjobs.core.errors import HardwareUnreachableError

    managed = build_backend(tmp_path)  # a manager on the log, in this process
    try:
        managed.submit([(0.3, 0.3)], 2)  # gives hpc a job to poll
        backend = WatchBackend(tmp_path / "runs.csv", interval=0.05)
        app = SimjobsApp(backend)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.main_screen is not None
                        and app.main_screen.is_attached and len(app.model) == 25)
            await pilot.pause()
            bar = app.main_screen.status_bar
            header, counts = drawn_lines(bar)
            # The header's short form fits; the counts line is the second line, whole.
            assert f"watching · manager pid {os.getpid()}" in header, header
            from simjobs.core.lock import this_host

            # (a long path gives way, with "…", to who manages the log)
            assert header.rstrip().endswith(f"on {this_host()}"), header
            assert counts.strip().startswith("25 jobs"), (header, counts)
            # Capacity, kind and health come from the manager's stats file.
            panels = app.main_screen.panels.panels
            fast, hpc = panels["local-fast"], panels["hpc"]
            await until(pilot, lambda: "/4" in fast.shown_text and "/8" in hpc.shown_text)
            assert "cap —" not in fast.shown_text and "health —" not in fast.shown_text
            assert " ok" in fast.shown_text and "slurm" in hpc.shown_text
            await until(pilot, lambda: "poll —" not in hpc.shown_text
                        and re.search(r"poll (<1|\d+) ms", hpc.shown_text), timeout=30)
            interface(managed, "hpc").poll_error = HardwareUnreachableError(
                "ssh: connect to host hpc.example.org port 22: Connection refused")
            await until(pilot, lambda: "unreachable since" in hpc.shown_text)
            assert hpc.has_class("-unhealthy") and "Connection refused" in hpc.shown_text
            assert " ok" in fast.shown_text
    finally:
        managed.close()
    # The manager has gone: what it last wrote is stale, not its word any more.
    backend = WatchBackend(tmp_path / "runs.csv")
    try:
        assert backend.interface_stats() == {}
        assert all(i.health == "unknown" for i in backend.interfaces())
    finally:
        backend.close()


# ---- small things that read wrong (issue 11, item 6) -----------------------------------


async def main_shown(app, pilot) -> None:
    await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)


def info_text(app) -> str:
    from textual.widgets import Static

    return str(app.main_screen.query_one("#table-info", Static).render())


@run_async
async def test_at_80_columns_the_sorted_column_shows_with_its_arrow_named_as_the_info_line_says(
        backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await main_shown(app, pilot)
        table = table_of(app)
        seen = {}
        for _ in range(9):  # every column once
            await pilot.press("o")
            column = app.model.sort_column
            await until(pilot, lambda: table.render_line(0).text.count("↓")
                        + table.render_line(0).text.count("↑") == 1)
            header = table.render_line(0).text
            arrow = "↓" if app.model.sort_reverse else "↑"
            label = table.label(column)
            assert f"{label}{arrow}" in header, (column, header)
            await until(pilot, lambda: f"sort {label}{arrow}" in info_text(app))
            seen[column] = label
        assert seen["submitted"] == "Submitted" and seen["changed"] == "Last change"
        assert seen["elapsed"] in ("Elapsed", "Time")


@run_async
async def test_a_filter_that_matches_nothing_says_so_and_esc_clears_it(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await main_shown(app, pilot)
        table = table_of(app)
        await pilot.press("slash", *"zzz")
        await until(pilot, lambda: len(app.model) == 0)
        await pilot.pause()
        assert table.render_line(1).text.strip() == 'no jobs match "zzz" (esc clears)'
        await pilot.press("escape")  # from the filter bar still
        await until(pilot, lambda: len(app.model) == 24 and not app.model.filter.active)
        assert "no jobs match" not in table.render_line(1).text
        # a status filter with no job: the same, naming it
        app.main_screen.set_filter(status=JobStatus.FAILED_CANCEL)
        await pilot.pause()
        assert "no jobs match status=Failed cancel (esc clears)" in table.render_line(1).text
        await pilot.press("escape")
        await until(pilot, lambda: len(app.model) == 24)


@run_async
async def test_f_cycles_every_status_with_failed_cancel_and_F_goes_back(backend):
    from simjobs.app.screens.main import STATUS_CYCLE

    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await main_shown(app, pilot)
        assert JobStatus.FAILED_CANCEL in STATUS_CYCLE
        assert set(STATUS_CYCLE) == {None, ACTIVE, *JobStatus}
        await pilot.press("F")
        await until(pilot, lambda: app.model.filter.status is JobStatus.CANCELLED)
        await pilot.press("F")
        await until(pilot, lambda: app.model.filter.status is JobStatus.FAILED_CANCEL)
        assert "status=Failed cancel" in info_text(app)
        await pilot.press("f")
        await until(pilot, lambda: app.model.filter.status is JobStatus.CANCELLED)
        await pilot.press("f")
        await until(pilot, lambda: app.model.filter.status is None)
        await pilot.press("f")
        await until(pilot, lambda: app.model.filter.status == ACTIVE)


@run_async
async def test_space_marks_and_moves_down_and_the_help_says_so(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await main_shown(app, pilot)
        table = table_of(app)
        first = table.cursor_job_id
        await pilot.press("space")
        await until(pilot, lambda: first in table.marked)
        assert table.cursor == 1
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = {keys: text for _, section in app.screen.sections for keys, text in section}
        space = next(text for keys, text in rows.items() if "space" in keys)
        assert "then move down" in space, space
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    assert re.search(r"`space` \| mark or unmark the row and move down", readme)


@run_async
async def test_the_highlighted_running_jobs_elapsed_ticks_each_second_only_on_its_row(tmp_path):
    from app_fixtures import FIXED_NOW

    now = [FIXED_NOW]
    backend = build_backend(tmp_path, clock=lambda: now[0])
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await main_shown(app, pilot)
        table = table_of(app)
        assert table.move_to(RUNNING_ID)
        await pilot.pause()
        # created 23 minutes before "now"; the other running job 17 minutes before
        assert line_text(app, RUNNING_ID).rstrip().endswith("23m00s")
        assert line_text(app, RUNNING_ID2).rstrip().endswith("17m")
        now[0] += 1
        await until(pilot, lambda: line_text(app, RUNNING_ID).rstrip().endswith("23m01s"),
                    timeout=10)  # the app's one-second tick redraws it
        now[0] += 1
        await until(pilot, lambda: line_text(app, RUNNING_ID).rstrip().endswith("23m02s"),
                    timeout=10)
        assert line_text(app, RUNNING_ID2).rstrip().endswith("17m")  # coarse: not redrawn
        # the highlight moves on: the row it left goes back to coarse steps
        await pilot.press("down")
        await until(pilot, lambda: line_text(app, RUNNING_ID).rstrip().endswith("23m"))


@run_async
async def test_at_60x15_nothing_is_cropped_and_every_footer_key_reads_whole(backend):
    from textual.widgets import Input
    from textual.widgets._footer import FooterKey

    app = SimjobsApp(backend)
    async with app.run_test(size=(60, 15)) as pilot:
        await main_shown(app, pilot)
        await pilot.pause()
        table = table_of(app)
        assert table.line_width() <= table.scrollable_content_region.width, table.columns
        keys = [c.key for c, _ in table.columns]
        assert "output" in keys and "status" in keys
        assert table.move_to(FAILED_ID)
        await pilot.pause()
        assert "Failed" in line_text(app, FAILED_ID) and "—" in line_text(app, FAILED_ID)

        def footer_reads_whole(screen) -> None:
            shown = [k for k in screen.query(FooterKey) if k.display]
            palette = [k for k in shown if k.has_class("-command-palette")]
            others = [k for k in shown if not k.has_class("-command-palette")]
            edge = palette[0].region.x if palette else screen.size.width
            assert others and all(k.region.right <= edge for k in others), \
                [(k.key, k.region) for k in shown]
            return {k.key for k in shown}

        shown = footer_reads_whole(app.screen)
        assert {"q", "question_mark"} <= shown, shown  # quit and help always
        await pilot.press("l")
        await until(pilot, lambda: getattr(app.screen, "loaded", False))
        await pilot.pause(0.3)
        shown = footer_reads_whole(app.screen)
        assert {"q", "question_mark", "escape"} <= shown, shown
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main_screen)
        await pilot.press("s")
        await until(pilot, lambda: type(app.screen).__name__ == "SubmitScreen"
                    and isinstance(app.focused, Input))
        form = app.screen.query_one("#dialog")

        def hints_inside() -> bool:  # every hint shown lies inside the form, none cut
            hints = [k for k in app.screen.query(FooterKey) if k.display]
            return {"escape", "ctrl+s", "ctrl+n", "ctrl+t", "ctrl+l"} <= \
                {k.key for k in hints} and \
                all(form.region.contains_region(k.region) for k in hints)

        await until(pilot, hints_inside, timeout=10,
                    message=lambda: str([(k.key, k.display, k.region) for k in
                                         app.screen.query(FooterKey)]) + str(form.region))
