"""A big log: the table draws only the rows on screen, whatever the number of jobs."""

from __future__ import annotations


from app_fixtures import build_backend, run_async, until, utc_time
from simjobs.app.app import SimjobsApp
from simjobs.app.widgets.job_table import JobTable


@run_async
async def test_ten_thousand_jobs_draw_only_the_visible_lines(tmp_path, monkeypatch):
    utc_time()
    drawn: list[int] = []
    original = JobTable.render_line
    monkeypatch.setattr(JobTable, "render_line",
                        lambda self, y: (drawn.append(y), original(self, y))[1])
    backend = build_backend(tmp_path, 10_000)
    app = SimjobsApp(backend, live_stats=False)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.loaded
                    and app.main_screen.table.region.height > 0)
        table = app.main_screen.table
        await pilot.pause()
        assert len(app.model) == 10_000
        height = table.size.height
        for keys in (["j"] * 5, ["pagedown"], ["o"], ["O"], ["end"], ["slash", "9", "9"]):
            drawn.clear()
            await pilot.press(*keys)
            await pilot.pause()
            # Each key redraws at most the visible lines (a few times), never 10,000.
            assert 0 < len(drawn) <= 4 * height * len(keys), (keys, len(drawn))
        shown = app.model.rows_between(0, len(app.model))
        assert shown and all("99" in r.haystack for r in shown)  # the filter applied


@run_async
async def test_a_peek_at_the_newest_jobs_shows_while_the_log_opens(tmp_path):
    import threading

    from simjobs.app.backend import PeekBackend, WatchBackend, peek_backend

    utc_time()
    build_backend(tmp_path, 8).close()
    path = tmp_path / "runs.csv"
    opened = threading.Event()

    def factory():
        opened.wait(10)  # a slow open
        return WatchBackend(path)

    app = SimjobsApp(factory, peek=lambda: peek_backend(path, n=3, min_bytes=0), live_stats=False)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: app.main_screen is not None
                    and app.screen is app.main_screen and app.main_screen.table.size.height)
        assert isinstance(app.backend, PeekBackend) and not app.loaded
        newest = [r.job_id for r in app.backend.live_records()][::-1]
        assert app.main_screen.table.visible_job_ids() == newest
        info = app.main_screen.query_one("#table-info").render().plain
        assert "loading runs.csv" in info and "newest 3 of 8 jobs shown" in info
        await pilot.press("s")  # nothing is done from the peek alone
        await pilot.pause()
        assert any("still opening" in message for _, message, _ in app.notices)
        opened.set()
        await until(pilot, lambda: app.loaded)
        await pilot.pause()
        assert app.backend.mode == "watch" and len(app.model) == 8
        assert app.peek_total is None
        info = app.main_screen.query_one("#table-info").render().plain
        assert "8 of 8 jobs" in info and "newest" not in info
    assert peek_backend(path) is None  # a small log: opened at once, no peek
