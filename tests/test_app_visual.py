"""What the screens look like, checked as text and styles rather than pictures: dialogs
let the main screen show through, the help's columns, a readable cursor row on both
themes, a table and status bar that fit 80 columns, plurals, the load panels of a
watched log without its config, and the log view's filter row and footer at 80x24."""

from __future__ import annotations

import re

import io

import pytest
from rich.console import Console
from textual.color import Color
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from app_fixtures import build_backend, run_async, until, utc_time
from simjobs.app.app import SimjobsApp
from simjobs.app.backend import WatchBackend
from simjobs.app.screens.help import HelpScreen
from simjobs.app.widgets.status_bar import StatusBar
from simjobs.core.types import JobStatus


@pytest.fixture(autouse=True)
def _utc():
    utc_time()


@pytest.fixture
def backend(tmp_path):
    backend = build_backend(tmp_path)
    yield backend
    backend.close()


async def main_ready(app, pilot):
    await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached
                and app.main_screen.table.cursor_job_id is not None)
    await pilot.pause()


def table_lines(table) -> list[str]:
    """The table's lines on screen, as text."""
    return [table.render_line(y).text for y in range(table.size.height)]


def contrast(a: Color, b: Color) -> float:
    """WCAG contrast ratio of two opaque colours."""
    def lum(c: Color) -> float:
        def ch(v: int) -> float:
            v = v / 255
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b)

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# ---- dialogs over the main screen -----------------------------------------------------


@run_async
async def test_dialogs_let_the_main_screen_show_through(backend):
    app = SimjobsApp(backend, theme="simjobs-dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await main_ready(app, pilot)
        assert app.main_screen.styles.background.a == 1  # the main screen is opaque
        for key, name in (("question_mark", "HelpScreen"), ("s", "SubmitScreen"),
                          ("enter", "JobDetailScreen")):
            await pilot.press(key)
            await until(pilot, lambda: type(app.screen).__name__ == name, message=name)
            background = app.screen.styles.background
            assert 0 < background.a < 1, f"{name} background {background}"
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.main_screen)


# ---- help ------------------------------------------------------------------------------


@run_async
async def test_help_descriptions_start_right_after_the_keys_in_every_section(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await main_ready(app, pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        starts = {}
        for static in app.screen.query(".help-section").results(Static):
            console = Console(width=static.content_size.width, file=io.StringIO(),
                              color_system=None)
            console.print(static.content)  # the section's table, as the screen draws it
            for line in console.file.getvalue().splitlines():
                for keys, what in (("s", "Submit inputs"), ("up, k", "Up"), ("q", "Quit")):
                    if line.split("  ")[0].strip() == keys and what in line:
                        starts[what] = line.index(what)
        assert set(starts) == {"Submit inputs", "Up", "Quit"}, starts
        assert len(set(starts.values())) == 1, starts  # one column for all sections


# ---- the cursor row --------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["simjobs-dark", "simjobs-light"])
def test_the_cursor_row_is_one_readable_colour_pair_on_both_themes(backend, theme):
    @run_async
    async def run():
        app = SimjobsApp(backend, theme=theme)
        async with app.run_test(size=(120, 35)) as pilot:
            await main_ready(app, pilot)
            table = app.main_screen.table
            assert table.has_focus
            row = table.model.row_at(table.cursor)
            assert row.status is JobStatus.COMPLETED  # (the fixture's newest job)
            strip = table.render_line(1)
            assert JobStatus.COMPLETED.value in strip.text
            colours = {(s.style.color, s.style.bgcolor) for s in strip if s.text.strip()}
            assert len(colours) == 1, f"the cursor row has several colours: {colours}"
            fg, bg = next(iter(colours))
            variables = app.theme_variables
            assert Color.parse(variables["block-cursor-background"]).rich_color == bg
            ratio = contrast(Color.from_rich_color(fg), Color.from_rich_color(bg))
            assert ratio >= 4.5, f"{theme}: contrast {ratio:.1f}"
            # The other rows keep their status colour.
            other = table.render_line(3)
            assert len({s.style.color for s in other if s.text.strip()}) > 1

    run()


# ---- 80 columns: the table and the status bar ------------------------------------------


@run_async
async def test_at_80_columns_the_table_and_status_bar_show_everything_whole(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await main_ready(app, pilot)
        table = app.main_screen.table
        widths = dict((c.key, w) for c, w in table.columns)
        assert widths["interface"] >= len("local-fast")
        lines = table_lines(table)
        assert any(" local-fast " in line for line in lines)
        assert not any("…" in line for line in lines), "\n".join(lines)
        bar = app.main_screen.status_bar
        line1, line2 = bar.render_text().plain.splitlines()
        assert len(line2) <= bar.size.width - 2
        assert "…" not in line2 and re.search(r"/min(, last \d+ min)?$", line2), line2
        assert line2.startswith("24 jobs: ")


@run_async
async def test_at_80_columns_long_interface_names_and_inputs_are_not_cut(tmp_path):
    """The demo's ``local-accurate`` (14) with the status and inputs of the fixture:
    the table finds the room (single spaces, the short "Time" header) before it cuts a
    cell."""
    from app_fixtures import HeldInterface

    backend = build_backend(tmp_path, interfaces=[
        HeldInterface("local-fast", 1), HeldInterface("local-accurate", 2, max_jobs=2)])
    app = SimjobsApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await main_ready(app, pilot)
        table = app.main_screen.table
        lines = table_lines(table)
        assert any(" local-accurate " in line for line in lines)
        assert not any("…" in line for line in lines), "\n".join(lines)
        assert lines[0].split()[-1] in ("Elapsed", "Time")
        keys = [c.key for c, _ in table.columns]
        assert keys == ["job_id", "level", "interface", "status", "input", "output",
                        "elapsed"]


class _Counts:
    """A model that has only what the status bar asks."""

    def __init__(self, counts: dict, rate: float = 12.5):
        self.status_counts = counts
        self.rate = rate

    def completion_rate(self, interface=None) -> tuple[float, float]:
        return self.rate, 300.0


class _SizedBar(StatusBar):
    width = 80

    @property
    def size(self):
        from textual.geometry import Size

        return Size(self.width, 2)


@pytest.mark.parametrize("width", [80, 120, 200])
def test_status_bar_counts_fit_in_the_longest_wording_that_fits(width):
    many = {JobStatus.PENDING_SUBMIT: 1200, JobStatus.SUBMITTED: 3400,
            JobStatus.RUNNING: 5600, JobStatus.PENDING_CANCEL: 12,
            JobStatus.COMPLETED: 123456, JobStatus.FAILED: 789, JobStatus.FAILED_SUBMIT: 45,
            JobStatus.CANCELLED: 678}
    bar = _SizedBar("runs.csv", _Counts(many))  # type: ignore[arg-type]
    bar.width = width
    line2 = bar.render_text().plain.splitlines()[1]
    assert len(line2) <= width - 2 and "…" not in line2, line2
    assert line2.startswith(f"{sum(many.values()):,} jobs")
    assert "12.5" in line2
    if width >= 200:  # the rate says over which window it was measured
        assert "123,456 completed" in line2 and "12.5 done/min, last 5 min" in line2
    if width <= 80:  # grouped: the numbers still add up
        assert "10,212 active" in line2 and "123,456 done" in line2 and "834 failed" in line2


def test_one_job_is_one_job_not_one_jobs():
    bar = _SizedBar("runs.csv", _Counts({JobStatus.RUNNING: 1}, 0.0))  # type: ignore
    line2 = bar.render_text().plain.splitlines()[1]
    assert line2.startswith("1 job ") or line2.startswith("1 job:"), line2
    assert "1 jobs" not in line2


@run_async
async def test_plurals_with_a_single_job(tmp_path):
    backend = build_backend(tmp_path, n=1)
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await main_ready(app, pilot)
        screen = app.main_screen
        assert "1 job" in screen.status_bar.render_text().plain
        assert "1 jobs" not in screen.status_bar.render_text().plain
        await until(pilot, lambda: "1 of 1 job" in str(
            screen.query_one("#table-info", Static).render()))
        assert "1 of 1 jobs" not in str(screen.query_one("#table-info", Static).render())
        await pilot.press("l")
        await until(pilot, lambda: getattr(app.screen, "loaded", False))
        await pilot.pause()
        title = str(app.screen.query_one("#log-title", Static).render())
        assert "1 record," in title, title


# ---- watching a log without its config ------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (160, 40)])
def test_watched_log_panels_say_what_is_unknown_without_question_marks(tmp_path, size):
    backend = build_backend(tmp_path, n=8)
    backend.close()

    @run_async
    async def run():
        app = SimjobsApp(WatchBackend(tmp_path / "runs.csv", interval=0.05))
        async with app.run_test(size=size) as pilot:
            await main_ready(app, pilot)
            panels = app.main_screen.panels.panels
            await until(pilot, lambda: set(panels) == {"local-fast", "hpc"})
            await pilot.pause()
            for panel in panels.values():
                text = panel.render_text().plain
                assert "?" not in text, text
                if panel.has_class("-compact"):
                    assert "cap —" in text and "/" not in text.split("cap —")[1][:10], text
                    assert f"{panel.info.name[:14]:<14} —" in text, text
                else:
                    assert "capacity unknown" in text and "kind unknown" in text, text
                    assert "█" not in text  # no load bar against an unknown capacity

    run()


# ---- the log view at 80x24 -------------------------------------------------------------


@run_async
async def test_log_view_filter_row_and_footer_fit_80_columns(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await main_ready(app, pilot)
        await pilot.press("l")
        await until(pilot, lambda: getattr(app.screen, "loaded", False))
        await pilot.pause()
        screen = app.screen
        field = screen.query_one("#filter-text", Input)
        assert len(field.placeholder) < field.content_size.width, field.placeholder
        selects = list(screen.query("#filters Select"))
        edges = [field.region.right] + [s.region.x for s in selects]
        assert all(s.region.x > prev for s, prev in
                   zip(selects, [field.region.right] + [s.region.right for s in selects])), \
            f"no gap between the filter fields: {edges}"
        keys = list(screen.query(FooterKey))
        shown = {k.key for k in keys}
        assert {"escape", "slash", "e", "q", "question_mark"} <= shown, shown
        assert all(k.region.right <= 80 and k.region.width >= len(k.description) + 2
                   for k in keys), [(k.key, k.region) for k in keys]
        # The keys left out of the footer are in the log view's help.
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        listed = {keys for _, rows in app.screen.sections for keys, _ in rows}
        assert {"x", "r", "O", "1", "enter", "q"} <= listed, listed


@run_async
async def test_help_lists_each_key_once_per_section(backend):
    app = SimjobsApp(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await main_ready(app, pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        for static in app.screen.query(".help-section").results(Static):
            table = static.content
            keys = list(table.columns[0].cells)
            assert len(keys) == len(set(keys)), f"{table.title}: {keys}"
            if table.title == "Everywhere":
                assert keys.count("ctrl+p") == 1


@pytest.mark.parametrize("width", [80, 200])
def test_status_bar_header_takes_its_short_form_rather_than_wrap(width):
    bar = _SizedBar("/scratch/project/campaign/runs.csv",
                    _Counts({JobStatus.RUNNING: 3}))  # type: ignore[arg-type]
    bar.width = width
    bar.manager_state = ("watching; requests go to the manager, pid 7749 on host vm since "
                         "18:11:02")
    bar.manager_state_short = "watching · manager pid 7749 on vm"
    line1, line2 = bar.render_text().plain.splitlines()
    assert len(line1) <= width - 2, line1
    if width == 80:
        assert line1.endswith("watching · manager pid 7749 on vm"), line1
    else:
        assert line1 == ("/scratch/project/campaign/runs.csv · watching; requests go to the "
                         "manager, pid 7749 on host vm since 18:11:02")
    assert line2.startswith("3 jobs")
