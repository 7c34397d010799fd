"""Where the app's errors go (issue 11, item 7) and the user's keymap (item 8), with Pilot
on real logs and managers.

While the app runs Textual owns the terminal: an error a worker thread logs must still
reach the log file and the status bar's count, which opens the list of recent entries.
Every wait is on a condition (``until``), never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from pathlib import Path

import pytest

from app_fixtures import FIXED_NOW, build_backend, notes, run_async, until, utc_time
from simjobs import logfile
from simjobs.app.app import SimjobsApp
from simjobs.app.keymap import keymap_path
from simjobs.app.screens.errors import ErrorsScreen
from simjobs.app.screens.help import HelpScreen


@pytest.fixture(autouse=True)
def _utc():
    utc_time()


@pytest.fixture
def log_file():
    """The real log file handler, as the CLI installs it, in this test's XDG state dir."""
    path = logfile.install(logging.WARNING)
    yield path
    logfile.uninstall()


def main_ready(app):
    return lambda: app.main_screen is not None and app.main_screen.is_attached


@contextlib.asynccontextmanager
async def running(tmp_path, size):
    """The app on the fixture's backend (8 jobs), its main screen up."""
    app = SimjobsApp(build_backend(tmp_path, 8), live_stats=False)
    async with app.run_test(size=size) as pilot:
        await until(pilot, main_ready(app))
        yield app, pilot


def status_line(app) -> str:
    return app.main_screen.status_bar.render_text().plain


def log_from_a_thread(message: str) -> None:
    """``logger.exception`` in a worker thread, as the manager's threads do."""

    def work():
        try:
            raise RuntimeError("the interface's answer was garbage")
        except RuntimeError:
            logging.getLogger("simjobs").exception("simjobs: %s", message)

    thread = threading.Thread(target=work, name="simjobs-worker-test")
    thread.start()
    thread.join()


@run_async
async def test_an_error_logged_from_a_thread_is_counted_filed_and_listed(tmp_path, log_file):
    async with running(tmp_path, (120, 35)) as (app, pilot):
        assert "⚠" not in status_line(app)  # none yet: nothing shown
        log_from_a_thread("polling local-fast failed")
        await until(pilot, lambda: "⚠ 1 error (E)" in status_line(app),
                    message=lambda: status_line(app))
        log_from_a_thread("polling local-fast failed again")
        await until(pilot, lambda: "⚠ 2 errors (E)" in status_line(app),
                    message=lambda: status_line(app))
        # In the file, with the thread's name and the traceback.
        text = log_file.read_text()
        assert "ERROR [" in text and "simjobs-worker-test" in text
        assert "polling local-fast failed again" in text
        assert "RuntimeError: the interface's answer was garbage" in text
        assert "Traceback (most recent call last)" in text
        # E opens the recent entries, newest first, with the file's path.
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, ErrorsScreen))
        screen = app.screen
        assert [e.message for e in screen.entries] == [
            "polling local-fast failed", "polling local-fast failed again"]
        assert screen.entries[0].exception == "RuntimeError: the interface's answer was garbage"
        assert screen.log_file == str(log_file)
        assert screen.focused is screen.query_one("#errors-list")  # keyboard: it scrolls
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main_screen)


@run_async
async def test_a_click_on_the_count_opens_the_list(tmp_path):
    async with running(tmp_path, (120, 35)) as (app, pilot):
        log_from_a_thread("a failure")
        await until(pilot, lambda: "⚠ 1 error" in status_line(app), message=lambda: status_line(app))
        bar = app.main_screen.status_bar
        x = status_line(app).index("⚠") + 2 + 1  # the padding, then into the link
        await pilot.click(bar, offset=(x, 0))
        await until(pilot, lambda: isinstance(app.screen, ErrorsScreen))


@run_async
async def test_errors_before_the_app_started_are_not_its_own(tmp_path):
    log_from_a_thread("an error of an earlier app in this process")
    async with running(tmp_path, (120, 35)) as (app, pilot):
        assert app.error_count == 0
        assert "⚠" not in status_line(app)
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, ErrorsScreen))
        assert app.screen.entries == []


@run_async
async def test_help_shows_the_log_file(tmp_path):
    async with running(tmp_path, (100, 50)) as (app, pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = str(app.screen.query_one("#help-log-file").render())
        assert str(logfile.log_file()) in shown
        assert str(logfile.log_file()).startswith(str(tmp_path.parent))  # the test's XDG dir
        keys = " ".join(f"{k} {w}" for _, rows in app.screen.sections for k, w in rows)
        assert "E The recent errors and warnings" in keys


# ---- keymap -----------------------------------------------------------------------------


def write_keymap(text: str):
    path = keymap_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@run_async
async def test_keymap_remaps_a_binding_by_id(tmp_path):
    write_keymap('# mine\nhelp = "f2"\nerrors = "ctrl+e"\n')
    async with running(tmp_path, (100, 50)) as (app, pilot):
        assert not [n for n in notes(app) if "keymap" in n.lower()]
        await pilot.press("question_mark")  # no longer the help key
        await pilot.pause()
        assert app.screen is app.main_screen
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = dict(row for _, rows in app.screen.sections for row in rows)
        assert rows.get("f2") == "Every key, listed"  # the help lists the keys in use
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main_screen)
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ErrorsScreen))


@pytest.mark.parametrize("text, expected", [
    ('submit = "a"\nnot_a_binding = "z"\n', "1 unknown binding id: not_a_binding"),
    ('submit = "a"\nquit = 3\n', "quit: not a key string"),
])
def test_keymap_problems_are_one_warning_and_the_rest_applies(tmp_path, text, expected):
    write_keymap(text)

    @run_async
    async def check():
        async with running(tmp_path, (100, 40)) as (app, pilot):
            warnings = [n for n in notes(app) if "keymap.toml" in n]
            assert len(warnings) == 1 and expected in warnings[0], notes(app)
            assert "\n" not in warnings[0]
            assert app.user_keymap == {"submit": "a"}
            await pilot.press("a")
            await until(pilot, lambda: type(app.screen).__name__ == "SubmitScreen")

    check()


@run_async
async def test_a_keymap_that_is_not_toml_is_one_warning_not_a_crash(tmp_path):
    write_keymap('submit = "a\n[[[')
    async with running(tmp_path, (100, 40)) as (app, pilot):
        warnings = [n for n in notes(app) if "keymap.toml" in n]
        assert len(warnings) == 1 and "invalid TOML" in warnings[0], notes(app)
        assert app.user_keymap == {}
        await pilot.press("s")  # the default keys still work
        await until(pilot, lambda: type(app.screen).__name__ == "SubmitScreen")


# ---- what it looks like ------------------------------------------------------------------

#: A fixed place for the snapshots' log (the status bar shows its path).
SNAP_ROOT = Path("/tmp/simjobs-snapshots-errors")


def log_fixed(message: str, level: int = logging.ERROR, exception: str = "") -> None:
    """A log record at the fixture's fixed time (the list shows the time)."""
    record = logging.makeLogRecord({"name": "simjobs", "levelno": level,
                                    "levelname": logging.getLevelName(level),
                                    "msg": message, "created": FIXED_NOW})
    if exception:
        error = RuntimeError(exception)
        record.exc_info = (RuntimeError, error, None)
    logging.getLogger("simjobs").handle(record)


@pytest.fixture
def snap_app(request, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(SNAP_ROOT / "state"))
    directory = SNAP_ROOT / request.node.name.replace("[", "-").replace("]", "")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    yield lambda: SimjobsApp(build_backend(directory), theme="simjobs-dark", live_stats=False)
    shutil.rmtree(directory, ignore_errors=True)


async def two_errors_and_a_warning(pilot) -> None:
    app = pilot.app
    await until(pilot, main_ready(app))
    log_fixed("simjobs: interface hpc: squeue failed: connection refused", logging.WARNING)
    log_fixed("simjobs: polling hpc failed", exception="squeue: error: slurm_load_jobs")
    log_fixed("simjobs: the event subscriber failed", exception="division by zero")
    await until(pilot, lambda: app.error_count == 2
                and "⚠ 2 errors" in status_line(app), message=lambda: status_line(app))
    await pilot.pause()


async def errors_list(pilot) -> None:
    await two_errors_and_a_warning(pilot)
    await pilot.press("E")
    await until(pilot, lambda: isinstance(pilot.app.screen, ErrorsScreen))
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 35)], ids=["80x24", "120x35"])
@pytest.mark.parametrize("steps", [two_errors_and_a_warning, errors_list],
                         ids=["status_bar", "list"])
def test_snapshot(snap_compare, snap_app, steps, size):
    assert snap_compare(snap_app(), terminal_size=size, run_before=steps)
