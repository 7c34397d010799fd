"""Snapshots (pytest-textual-snapshot) of every screen and modal of the whole app, at
80x24 and 120x35: main, main with the filter bar open, help, confirm (cancel), submit
(inputs tab and batch tab), log view (records and plot), job detail and login (a
server's one-time-code question).

Deterministic: the app runs on ``app_fixtures.build_backend`` (fixed records, ids and
clock, held interfaces), times are shown in UTC, the log is always at the same path
(the status bar shows it), no poll latencies are shown (they depend on the machine),
and text cursors do not blink. Update with ``pytest tests/test_app_snapshots.py
--snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from app_fixtures import FIRST_ID, build_backend
from simjobs.app.app import SimjobsApp

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 35), id="120x35")]
#: A fixed place for the logs: the status bar shows the log's path.
LOG_ROOT = Path("/tmp/simjobs-snapshots")
#: The fixture's rows, newest first: the second is Running, the third Completed.
RUNNING_ID = str(FIRST_ID + 22)
COMPLETED_ID = str(FIRST_ID + 21)


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def make_app(request, utc, monkeypatch):
    """A SimjobsApp on the fixed backend, its log at a fixed path for this test."""
    # The help screen shows the log file's path (platformdirs.user_log_dir): fixed too.
    monkeypatch.setenv("XDG_STATE_HOME", str(LOG_ROOT / "state"))
    directory = LOG_ROOT / request.node.name.replace("[", "-").replace("]", "")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)

    def make() -> SimjobsApp:
        # live_stats=False: "poll —", as poll latencies depend on the moment
        return SimjobsApp(build_backend(directory), theme="simjobs-dark", live_stats=False)

    yield make
    shutil.rmtree(directory, ignore_errors=True)


async def until(pilot: Pilot, condition: Callable[[], bool], what: str,
                timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await pilot.pause(0.05)


def on(pilot: Pilot, name: str) -> bool:
    return type(pilot.app.screen).__name__ == name


async def settled(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False  # the cursor shown, whatever the moment
    await pilot.pause()


async def main_ready(pilot: Pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached
                and app.main_screen.table.cursor_job_id is not None, "the main screen")


Steps = Callable[[Pilot], Awaitable[None]]


async def main_screen(pilot: Pilot) -> None:
    await main_ready(pilot)
    await settled(pilot)


async def filter_open(pilot: Pilot) -> None:
    await main_ready(pilot)
    await pilot.press("slash", *"hpc")
    await until(pilot, lambda: len(pilot.app.model) == 6, "the filter keeping the hpc jobs")
    await settled(pilot)


async def help_screen(pilot: Pilot) -> None:
    await main_ready(pilot)
    await pilot.press("question_mark")
    await until(pilot, lambda: on(pilot, "HelpScreen"), "the help screen")
    await settled(pilot)


async def confirm_cancel(pilot: Pilot) -> None:
    await main_ready(pilot)
    await pilot.press("down")
    await until(pilot, lambda: pilot.app.main_screen.table.cursor_job_id == RUNNING_ID,
                "the cursor on the running job")
    await pilot.press("c")
    await until(pilot, lambda: on(pilot, "ConfirmScreen"), "the confirmation")
    await settled(pilot)


async def submit_inputs(pilot: Pilot) -> None:
    await main_ready(pilot)
    await pilot.press("s")
    await until(pilot, lambda: on(pilot, "SubmitScreen")
                and isinstance(pilot.app.focused, Input), "the submit form, x1 focused")
    await pilot.press(*"0.25", "tab", *"0.5")
    await until(pilot, lambda: "Submit 1" in str(pilot.app.screen.query_one("#submit").label),
                "a valid input")
    await settled(pilot)


async def submit_batch(pilot: Pilot) -> None:
    await main_ready(pilot)
    await pilot.press("s")
    await until(pilot, lambda: on(pilot, "SubmitScreen")
                and isinstance(pilot.app.focused, Input), "the submit form")
    await pilot.press("ctrl+t")
    await until(pilot, lambda: pilot.app.screen.mode == "csv"
                and pilot.app.focused is pilot.app.screen.query_one("#csv-path Input"),
                "the batch tab, its path field focused")
    await settled(pilot)


async def log_view(pilot: Pilot) -> None:
    await main_ready(pilot)
    await pilot.press("l")
    await until(pilot, lambda: on(pilot, "SimulationsLogScreen")
                and getattr(pilot.app.screen, "loaded", False), "the log view, loaded")
    await settled(pilot)


async def log_view_plot(pilot: Pilot) -> None:
    await log_view(pilot)
    await pilot.press("3")
    from simjobs.app.widgets.plot import ScatterPlot

    await until(pilot, lambda: pilot.app.screen.query_one(ScatterPlot).point_count > 0,
                "the plot")
    await settled(pilot)


async def job_detail(pilot: Pilot) -> None:
    await main_ready(pilot)
    await pilot.press("down", "down")
    await until(pilot, lambda: pilot.app.main_screen.table.cursor_job_id == COMPLETED_ID,
                "the cursor on the completed job")
    await pilot.press("enter")
    await until(pilot, lambda: on(pilot, "JobDetailScreen")
                and getattr(pilot.app.screen, "fetched", False), "the detail, fetched")
    await settled(pilot)


async def login(pilot: Pilot) -> None:
    """The login window as a TOTP server's question makes it, three digits typed."""
    from simjobs.app.screens.login import LoginScreen
    from simjobs.core.login import LoginChallenge, LoginPrompt

    await main_ready(pilot)
    challenge = LoginChallenge("hpc", "me@login.cluster.example.org",
                               "Two-factor login: open your authenticator app.",
                               (LoginPrompt("Verification code: ", False),))
    pilot.app.push_screen(LoginScreen(challenge))
    await until(pilot, lambda: on(pilot, "LoginScreen")
                and isinstance(pilot.app.focused, Input), "the login window")
    await pilot.press(*"123")
    await settled(pilot)


SCREENS = [
    pytest.param(main_screen, id="main"),
    pytest.param(filter_open, id="filter"),
    pytest.param(help_screen, id="help"),
    pytest.param(confirm_cancel, id="confirm"),
    pytest.param(submit_inputs, id="submit"),
    pytest.param(submit_batch, id="submit_batch"),
    pytest.param(log_view, id="log_view"),
    pytest.param(log_view_plot, id="log_view_plot"),
    pytest.param(job_detail, id="detail"),
    pytest.param(login, id="login"),
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("steps", SCREENS)
def test_snapshot(snap_compare, make_app, steps: Steps, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=steps)


#: A small terminal (issue 11): nothing cropped at an edge (cells cut with "…"), no
#: footer key run under another, every key hint of the submit form shown.
SMALL = [
    pytest.param(main_screen, id="main"),
    pytest.param(log_view, id="log_view"),
    pytest.param(submit_inputs, id="submit"),
]


async def sorted_by_submitted(pilot: Pilot) -> None:
    """At 80 columns, where the times are left out, sorting by Submitted shows it."""
    await main_ready(pilot)
    await pilot.press(*"o" * 6)
    await until(pilot, lambda: pilot.app.model.sort_column == "submitted", "sort by Submitted")
    await settled(pilot)


async def no_match(pilot: Pilot) -> None:
    await main_ready(pilot)
    await pilot.press("slash", *"zzz", "enter")
    await until(pilot, lambda: len(pilot.app.model) == 0, "a filter matching nothing")
    await settled(pilot)


@pytest.mark.parametrize("steps", SMALL)
def test_snapshot_60x15(snap_compare, make_app, steps: Steps):
    assert snap_compare(make_app(), terminal_size=(60, 15), run_before=steps)


@pytest.mark.parametrize("steps", [pytest.param(sorted_by_submitted, id="sorted_by_submitted"),
                                   pytest.param(no_match, id="no_match")])
def test_snapshot_80x24_main(snap_compare, make_app, steps: Steps):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=steps)
