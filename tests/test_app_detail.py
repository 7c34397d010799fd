"""The job detail view: fields, timeline, where it runs and the stdout/stderr tails of
real local jobs (LocalInterface running tests/sims), and the resubmission links."""

from __future__ import annotations

import io
import re
import sys
import time

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import Label, Static

from app_fixtures import build_backend, run_async, until
from helpers import SIMS, wait_for
from simjobs.app.screens.detail import JobDetailScreen
from simjobs.core.types import Input, JobStatus
from simjobs.interfaces.local import LocalInterface


class Host(App):
    """The smallest app holding a backend, pushing one job's detail view on mount."""

    def __init__(self, backend, job_id):
        super().__init__()
        self.backend = backend
        self.job_id = job_id

    def on_mount(self) -> None:
        self.push_screen(JobDetailScreen(self.backend, self.job_id))


def has(text: str, label: str, value: str) -> bool:
    """``text`` holds a line ``label`` then (after some spaces) ``value``."""
    return re.search(rf"^{re.escape(label)}\s+{re.escape(value)}", text, re.M) is not None


def shown(widget: Static) -> str:
    """The text a Static shows (strings and Rich tables alike)."""
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(widget.content)
    return out.getvalue()


@pytest.fixture
def local_backend(tmp_path):
    interfaces = [
        LocalInterface("local", 1, f"{sys.executable} {SIMS / 'sum.py'}", tmp_path / "ws1"),
        LocalInterface("flaky", 2, str(SIMS / "fail.sh"), tmp_path / "ws2"),
    ]
    backend = build_backend(tmp_path, n=0, interfaces=interfaces, clock=time.time)
    yield backend
    backend.close()


def finished(backend, job_id, status):
    return wait_for(lambda: (r := backend.get_record(job_id)) and r.status is status and r,
                    timeout=30, message=f"job {job_id} {status.value}")


async def opened(app, pilot) -> JobDetailScreen:
    await until(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.fetched)
    return app.screen


@run_async
async def test_detail_of_a_completed_local_job(local_backend, tmp_path):
    [job_id] = local_backend.submit([Input(1.5, 2.25)], 1)
    record = finished(local_backend, job_id, JobStatus.COMPLETED)
    app = Host(local_backend, job_id)
    async with app.run_test(size=(120, 35)) as pilot:
        screen = await opened(app, pilot)
        title = str(screen.query_one("#detail-title", Label).render())
        assert f"Job {job_id} · Completed · level 1 · local" in title
        fields = shown(screen.query_one("#fields", Static))
        for label, value in (("Job ID", str(job_id)), ("Input x1", "1.5"), ("Input x2", "2.25"),
                             ("Output", "3.75"), ("Interface", "local"), ("Status", "Completed")):
            assert has(fields, label, value), (label, value, fields)
        timeline = shown(screen.query_one("#timeline", Static)).splitlines()
        statuses = [s.value for s, _ in record.history]
        assert statuses[0] == "Pending submit" and statuses[-1] == "Completed"
        for line, (status, t) in zip(timeline, record.history):
            assert time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) in line
            assert status.value in line
        where = shown(screen.query_one("#where", Static))
        job_dir = screen.details["job_dir"]
        assert job_dir.startswith(str(tmp_path / "ws1")) and str(job_id) in job_dir
        assert "Job directory" in where and job_dir in where
        assert has(where, "Host", "") and has(where, "Exit code", "0")
        assert "summed 2 coordinates" in shown(screen.query_one("#stdout", Static))
        assert shown(screen.query_one("#stderr", Static)).strip() == "(empty)"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, JobDetailScreen))


@run_async
async def test_detail_of_a_failed_job_shows_stderr_and_links_its_resubmission(local_backend):
    [old] = local_backend.submit([Input(0.0, 1.0)], 2)
    finished(local_backend, old, JobStatus.FAILED)
    [new] = local_backend.resubmit([old])
    finished(local_backend, new, JobStatus.FAILED)
    app = Host(local_backend, old)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(app, pilot)
        stderr = shown(screen.query_one("#stderr", Static))
        assert "fatal: the mesh is inverted" in stderr
        assert "this went to stdout" in shown(screen.query_one("#stdout", Static))
        assert has(shown(screen.query_one("#where", Static)), "Exit code", "3")
        fields = shown(screen.query_one("#fields", Static))
        assert has(fields, "Resubmitted as", f"{new}  (n opens it)")
        assert has(fields, "Resubmitted from", "—")
        assert screen.check_action("open_new", ()) and not screen.check_action("open_original", ())
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, JobDetailScreen)
                    and app.screen.job_id == str(new) and app.screen.fetched)
        newer = app.screen
        assert has(shown(newer.query_one("#fields", Static)), "Resubmitted from",
                   f"{old}  (o opens it)")
        await pilot.press("o")
        await until(pilot, lambda: app.screen is not newer and app.screen.job_id == str(old))
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.screen is screen)


@run_async
async def test_details_error_is_one_line_and_the_record_still_shows(tmp_path):
    backend = build_backend(tmp_path, n=4)
    try:
        def unreachable(job_id):
            raise ConnectionError("hpc.example.org: connection refused\n(more detail)")

        backend.job_details = unreachable
        job_id = backend.records()[0].job_id
        app = Host(backend, job_id)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await opened(app, pilot)
            where = shown(screen.query_one("#where", Static)).strip()
            assert where == ("Could not fetch the job's details: ConnectionError: "
                             "hpc.example.org: connection refused")
            assert has(shown(screen.query_one("#fields", Static)), "Job ID", job_id)
    finally:
        backend.close()


@run_async
async def test_unknown_job_says_so(tmp_path):
    backend = build_backend(tmp_path, n=2)
    try:
        app = Host(backend, "99")
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await opened(app, pilot)
            assert "not in the log" in str(screen.query_one("#detail-title", Label).render())
    finally:
        backend.close()


@run_async
async def test_from_the_app_enter_opens_the_highlighted_job_which_updates_live(tmp_path):
    from simjobs.app.app import SimjobsApp

    backend = build_backend(tmp_path, n=0)
    try:
        [job_id] = backend.submit([Input(0.25, 0.5)], 1)
        held = backend.manager.get_interface("local-fast")
        wait_for(lambda: backend.get_record(job_id).status is JobStatus.RUNNING, timeout=15)
        app = SimjobsApp(backend, close_backend=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.main_screen is not None
                        and app.main_screen.table.cursor_job_id == str(job_id))
            await pilot.press("enter")
            screen = await opened(app, pilot)
            assert screen.job_id == str(job_id)
            title = screen.query_one("#detail-title", Label)
            assert "Running" in str(title.render())
            held.finish(job_id, output=7.5)
            await until(pilot, lambda: "Completed" in str(title.render()))
            assert has(shown(screen.query_one("#fields", Static)), "Output", "7.5")
            assert "Completed" in shown(screen.query_one("#timeline", Static))
    finally:
        backend.close()


# ---- snapshots (deterministic: fixed records and clock, UTC) ------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
def test_snapshot_detail_of_a_failed_fixture_job(tmp_path, snap_compare, size):
    from app_fixtures import FIRST_ID, utc_time

    utc_time()
    backend = build_backend(tmp_path, n=24)
    try:
        async def run_before(pilot):
            await until(pilot, lambda: isinstance(pilot.app.screen, JobDetailScreen)
                        and pilot.app.screen.fetched)
            await pilot.pause()

        app = Host(backend, str(FIRST_ID + 3))  # failed, level 2, on the "slurm" interface
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        backend.close()


@run_async
async def test_closing_before_the_details_arrive_is_harmless(tmp_path):
    import threading

    backend = build_backend(tmp_path, n=4)
    release = threading.Event()
    real = backend.job_details

    def slow(job_id):
        release.wait(15)
        return real(job_id)

    backend.job_details = slow
    try:
        job_id = backend.records()[0].job_id
        app = Host(backend, job_id)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, JobDetailScreen))
            screen = app.screen
            assert shown(screen.query_one("#where", Static)).strip() == "Fetching from the interface…"
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, JobDetailScreen))
            release.set()
            await until(pilot, lambda: not any(w.is_running for w in app.workers))
            assert app.is_running and screen.details is None
    finally:
        release.set()
        backend.close()
