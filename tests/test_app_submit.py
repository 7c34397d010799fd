"""The submit form: typed inputs, several rows, CSV batches, Latin hypercube designs,
escape, and the read-only refusal; on a real log and manager (app_fixtures)."""

from __future__ import annotations


import pytest
from textual.app import App
from textual.widgets import Button, ProgressBar, RadioButton, Select, Static
from textual.widgets import Input as TextInput

from app_fixtures import build_backend, fill_log, notes, run_async, until, utc_time
from simjobs.app.backend import WatchBackend
from simjobs.design import latin_hypercube
from simjobs.app.screens.submit import InputRow, NumberField, SubmitScreen
from simjobs.core.log import SimulationsLog


class Host(App):
    """The smallest app holding a backend, pushing the submit form on mount."""

    def __init__(self, backend):
        super().__init__()
        self.backend = backend
        self.result = "not dismissed"

    def on_mount(self) -> None:
        self.push_screen(SubmitScreen(self.backend), self._dismissed)

    def _dismissed(self, result) -> None:
        self.result = result


async def type_into(pilot, field: NumberField, text: str) -> None:
    field.input.focus()
    field.input.value = ""
    await pilot.pause()
    await pilot.press(*text)


@pytest.fixture
def backend(tmp_path):
    utc_time()
    backend = build_backend(tmp_path, n=4)
    yield backend
    backend.close()


def screen_of(app) -> SubmitScreen:
    assert isinstance(app.screen, SubmitScreen)
    return app.screen


@run_async
async def test_valid_input_is_submitted_and_notified(backend):
    before = len(backend.records())
    app = Host(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        x1, x2 = screen.query_one(InputRow).fields
        assert screen.query_one("#submit", Button).disabled  # empty fields
        await type_into(pilot, x1, "0.25")
        await type_into(pilot, x2, "-1.5e1")
        await until(pilot, lambda: not screen.query_one("#submit", Button).disabled)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.result != "not dismissed")
        assert len(app.result) == 1
        record = backend.get_record(app.result[0])
        assert record.coords == (0.25, -15.0) and record.level == 1
        assert len(backend.records()) == before + 1
        assert "Submitted 1 job at level 1 (local-fast)." in notes(app)


@run_async
async def test_invalid_input_shows_error_under_field_and_blocks_submit(backend):
    before = len(backend.records())
    app = Host(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        x1, x2 = screen.query_one(InputRow).fields
        await type_into(pilot, x1, "abc")
        await type_into(pilot, x2, "1")
        error = x1.query_one(".field-error", Static)
        await until(pilot, lambda: error.display and "'abc' is not a number" in str(error.render()))
        assert screen.query_one("#submit", Button).disabled
        await type_into(pilot, x1, "inf")
        await until(pilot, lambda: "not finite" in str(error.render()))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen and app.result == "not dismissed"
        assert any("not finite" in n for n in notes(app))
        assert len(backend.records()) == before
        # fixing the field enables submit and clears the error
        await type_into(pilot, x1, "2")
        await until(pilot, lambda: not screen.query_one("#submit", Button).disabled)
        assert not error.display


def footer_keys(screen) -> set[str]:
    """The keys the form's footer shows now."""
    from textual.widgets._footer import FooterKey

    return {key.key for key in screen.query(FooterKey)}


@run_async
async def test_footer_shows_only_the_keys_that_apply_to_the_tab_and_rows(backend):
    app = Host(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        # Inputs tab, one row: adding applies, removing does not (nothing to remove).
        await until(pilot, lambda: footer_keys(screen) >= {"ctrl+s", "ctrl+n", "ctrl+t"},
                    message=f"inputs-tab footer: {footer_keys(screen)}")
        assert "ctrl+r" not in footer_keys(screen)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: "ctrl+r" in footer_keys(screen),
                    message=f"footer with two rows: {footer_keys(screen)}")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(screen.query(InputRow)) == 1
                    and "ctrl+r" not in footer_keys(screen))
        # Batch tab: no input rows there, so neither key is offered, nor acts.
        await pilot.press("ctrl+t")
        await until(pilot, lambda: screen.mode == "csv")
        await until(pilot, lambda: not {"ctrl+n", "ctrl+r"} & footer_keys(screen),
                    message=f"batch-tab footer: {footer_keys(screen)}")
        assert {"escape", "ctrl+s", "ctrl+t"} <= footer_keys(screen)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen.mode == "csv" and len(screen.query(InputRow)) == 1
        # Back on the Inputs tab, adding is offered again.
        await pilot.press("ctrl+t")
        await until(pilot, lambda: screen.mode == "rows" and "ctrl+n" in footer_keys(screen))


@run_async
async def test_keys_arriving_together_land_in_the_fields_they_were_typed_for(backend):
    """``0.25``, tab, ``0.5`` in one read (tmux send-keys, a paste, typing ahead over a
    slow link) once all went into x1 as ``0.250.5``: every key was forwarded to x1
    before tab, bubbling up to the screen's binding, moved the focus."""
    from textual import events

    app = Host(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        await pilot.press("ctrl+n")  # two rows: tab goes on to the next row too
        row1, row2 = screen.query(InputRow)
        row1.fields[0].input.focus()
        await pilot.pause()
        keys = [*"0.25", "tab", *"0.5", "tab", *"-1", "shift+tab", "end", "backspace", *"75"]
        for key in keys:  # all queued before the app handles the first one
            character = key if len(key) == 1 else ("\t" if key == "tab" else None)
            app.post_message(events.Key(key, character))
        await until(pilot, lambda: row2.fields[0].text == "-1",
                    message=f"texts: {[f.text for r in (row1, row2) for f in r.fields]}")
        await pilot.pause()
        assert [f.text for f in row1.fields] == ["0.25", "0.75"]
        assert [f.text for f in row2.fields] == ["-1", ""]
        assert app.focused is row1.fields[1].input


@run_async
async def test_several_rows_at_a_chosen_level(backend):
    app = Host(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        await pilot.press("ctrl+n")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: len(screen.query(InputRow)) == 3)
        assert app.focused is screen.query(InputRow)[2].fields[0].input  # the new row
        await pilot.press("ctrl+r")  # removes the focused (third) row
        await until(pilot, lambda: len(screen.query(InputRow)) == 2)
        values = [("1", "2"), ("3", "4")]
        for row, pair in zip(screen.query(InputRow), values):
            for field, text in zip(row.fields, pair):
                await type_into(pilot, field, text)
        # choose level 2 with the keyboard: ctrl+l opens the level list from anywhere
        await pilot.press("ctrl+l")
        await until(pilot, lambda: screen.query_one("#level", Select).expanded)
        await pilot.press("down", "enter")
        await until(pilot, lambda: screen.level == 2)
        await until(pilot, lambda: str(screen.query_one("#submit", Button).label) == "Submit 2")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.result != "not dismissed")
        records = [backend.get_record(j) for j in app.result]
        assert [r.coords for r in records] == [(1.0, 2.0), (3.0, 4.0)]
        assert {r.level for r in records} == {2} and {r.interface_name for r in records} == {"hpc"}
        assert "Submitted 2 jobs at level 2 (hpc)." in notes(app)


@run_async
async def test_batch_from_csv_names_the_bad_line_then_submits_the_good_file(backend, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2\n0.1,0.2\n0.3,oops\n0.5,0.6\n")
    good = tmp_path / "good.csv"
    good.write_text("x1,x2\n0.1,0.2\n0.3,0.4\n0.5,0.6\n")
    before = len(backend.records())
    app = Host(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: screen.mode == "csv")
        path = screen.query_one("#csv-path", NumberField)
        preview = screen.query_one("#csv-preview", Static)
        path.input.focus()
        path.input.value = str(bad)  # (as a paste: typing a long path key by key is slow)
        await until(pilot, lambda: "line 3 of bad.csv, column 2: 'oops' is not a number"
                    in str(preview.render()))
        assert screen.query_one("#submit", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(backend.records()) == before and app.result == "not dismissed"
        path.input.value = str(good)
        await until(pilot, lambda: "3 inputs of 2 coordinates" in str(preview.render()))
        await until(pilot, lambda: not screen.query_one("#submit", Button).disabled)
        await pilot.press("enter")  # enter in the field submits too
        await until(pilot, lambda: app.result != "not dismissed")
        coords = [backend.get_record(j).coords for j in app.result]
        assert coords == [(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]


@run_async
async def test_latin_hypercube_design_submitted_in_chunks_with_progress(backend):
    calls: list[int] = []
    real_submit = backend.submit

    def counting_submit(inputs, level):
        calls.append(len(inputs))
        return real_submit(inputs, level)

    backend.submit = counting_submit
    app = Host(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        await pilot.press("ctrl+t")
        screen.query_one("#source-lhs", RadioButton).value = True
        await until(pilot, lambda: screen.mode == "lhs")
        await type_into(pilot, screen.query_one("#lhs-n", NumberField), "300")
        await type_into(pilot, screen.query_one("#lhs-seed", NumberField), "11")
        await type_into(pilot, screen.query_one("#lhs-lower-2", NumberField), "-5")
        await type_into(pilot, screen.query_one("#lhs-upper-2", NumberField), "-6")
        upper = screen.query_one("#lhs-upper-2", NumberField)
        await until(pilot, lambda: upper.error == "must be at least the lower bound -5")
        assert screen.query_one("#submit", Button).disabled
        await type_into(pilot, upper, "5")
        preview = screen.query_one("#lhs-preview", Static)
        await until(pilot, lambda: "300 points of a Latin hypercube in [0, 1] × [-5, 5], seed 11"
                    in str(preview.render()))
        progress = screen.query_one("#progress", ProgressBar)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.result != "not dismissed")
        assert calls == [50] * 6  # 300 inputs in chunks of 50
        assert progress.progress == 300 and progress.total == 300
        expected = latin_hypercube(300, [0.0, -5.0], [1.0, 5.0], seed=11)
        assert [backend.get_record(j).coords for j in app.result] == [tuple(x) for x in expected]
        assert "Submitted 300 jobs at level 1 (local-fast)." in notes(app)


@run_async
async def test_escape_submits_nothing(backend):
    before = len(backend.records())
    app = Host(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        x1, x2 = screen.query_one(InputRow).fields
        await type_into(pilot, x1, "1")
        await type_into(pilot, x2, "2")
        await until(pilot, lambda: not screen.query_one("#submit", Button).disabled)
        await pilot.press("escape")
        await until(pilot, lambda: app.result is None)
        assert not isinstance(app.screen, SubmitScreen)
    assert len(backend.records()) == before


@run_async
async def test_read_only_backend_explains_instead_of_submitting(tmp_path):
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    fill_log(log, 4, interfaces={1: ["local-fast"]})
    log.close()
    watch = WatchBackend(tmp_path / "runs.csv")
    try:
        assert watch.readonly
        app = Host(watch)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            screen = screen_of(app)
            banner = screen.query_one("#readonly-banner", Static)
            assert "no process manages runs.csv" in str(banner.render())
            x1, x2 = screen.query_one(InputRow).fields
            await type_into(pilot, x1, "1")
            await type_into(pilot, x2, "2")
            assert screen.query_one("#submit", Button).disabled
            await pilot.press("ctrl+s")
            await until(pilot, lambda: any("no process manages runs.csv" in n for n in notes(app)))
            assert app.screen is screen and app.result == "not dismissed"
        assert len(watch.records()) == 4
    finally:
        watch.close()


@run_async
async def test_from_the_app_s_opens_the_form_and_the_job_reaches_the_table(backend):
    from simjobs.app.app import SimjobsApp

    app = SimjobsApp(backend, close_backend=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SubmitScreen))
        screen = app.screen
        x1, x2 = screen.query_one(InputRow).fields
        await type_into(pilot, x1, "0.125")
        await type_into(pilot, x2, "8")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, SubmitScreen))
        new = [r for r in backend.records() if r.coords == (0.125, 8.0)]
        assert len(new) == 1
        await until(pilot, lambda: new[0].job_id in app.model.rows)


@run_async
async def test_keys_typed_with_s_before_the_form_exists_land_in_its_fields(backend):
    """``s0.5<tab>0.25<enter>`` arriving in one read: the keys after ``s`` reached a
    form with no focused field yet and were dropped (x1 stayed empty)."""
    from textual import events

    from simjobs.app.app import SimjobsApp

    app = SimjobsApp(backend, close_backend=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.main_screen is not None and app.main_screen.is_attached)
        for key in ["s", *"0.5", "tab", *"0.25", "enter"]:  # all queued at once
            character = {"tab": "\t", "enter": "\r"}.get(key, key)
            app.post_message(events.Key(key, character))
        await until(pilot, lambda: any(r.coords == (0.5, 0.25) for r in backend.records()),
                    message="the typed-ahead input was never submitted")
        await until(pilot, lambda: not isinstance(app.screen, SubmitScreen))  # enter submitted


@run_async
async def test_tab_goes_level_then_fields_then_submit_and_a_chosen_level_moves_on(backend):
    app = Host(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: len(screen.query(InputRow)) == 2)
        for number, field in enumerate(f for r in screen.query(InputRow) for f in r.fields):
            await type_into(pilot, field, str(number))
        fields = [f.input for r in screen.query(InputRow) for f in r.fields]
        level = screen.query_one("#level", Select)
        submit = screen.query_one("#submit", Button)
        await until(pilot, lambda: not submit.disabled)  # (a disabled one is skipped)
        level.focus()
        await pilot.pause()
        seen = []
        for _ in range(len(fields) + 2):
            await pilot.press("tab")
            await pilot.pause()
            seen.append(app.focused)
        # no tab strip, add-row or cancel button, scrolling pane in between; then wraps
        assert seen == [*fields, submit, level]
        # ctrl+l, a level chosen with enter: the focus goes on to x1, where typing lands
        await pilot.press("ctrl+l")
        await until(pilot, lambda: level.expanded)
        await pilot.press("down", "enter")
        await until(pilot, lambda: screen.level == 2)
        await until(pilot, lambda: app.focused is fields[0])
        await pilot.press(*"7")
        await until(pilot, lambda: fields[0].value == "7")  # (focus selects the old text)


@run_async
async def test_batch_options_take_the_focus_at_their_first_field(backend):
    app = Host(backend)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        await pilot.press("ctrl+t")
        path = screen.query_one("#csv-path", NumberField).input
        await until(pilot, lambda: app.focused is path)
        radios = screen.query_one("#batch-source")
        radios.focus()
        await pilot.pause()
        await pilot.press("right", "enter")  # the Latin hypercube option
        await until(pilot, lambda: screen.mode == "lhs")
        n = screen.query_one("#lhs-n", NumberField).input
        await until(pilot, lambda: app.focused is n)
        await pilot.press("ctrl+t")  # back to typed inputs: x1
        x1 = screen.query_one(InputRow).fields[0].input
        await until(pilot, lambda: app.focused is x1)


@run_async
async def test_ui_answers_during_a_batch_and_escape_stops_it_after_the_chunk(backend):
    """A chunk that takes long (a slow interface) never freezes the form: escape is
    handled while it runs, and the batch stops after it."""
    import threading

    release = threading.Event()
    calls: list[int] = []
    real_submit = backend.submit

    def slow_submit(inputs, level):
        calls.append(len(inputs))
        if len(calls) == 1:
            assert release.wait(15), "the test never released the first chunk"
        return real_submit(inputs, level)

    backend.submit = slow_submit
    before = len(backend.records())
    app = Host(backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_of(app)
        await pilot.press("ctrl+t")
        screen.query_one("#source-lhs", RadioButton).value = True
        await until(pilot, lambda: screen.mode == "lhs")
        await type_into(pilot, screen.query_one("#lhs-n", NumberField), "500")
        await until(pilot, lambda: not screen.query_one("#submit", Button).disabled)
        await pilot.press("ctrl+s")
        progress = screen.query_one("#progress", ProgressBar)
        await until(pilot, lambda: calls and progress.has_class("-running"))
        assert progress.display and progress.total == 500 and progress.progress == 0
        await pilot.press("escape")  # handled while the first chunk is still blocked
        message = screen.query_one("#message", Static)
        await until(pilot, lambda: "Stopping after the current chunk" in str(message.render()))
        assert app.screen is screen
        release.set()
        await until(pilot, lambda: app.result != "not dismissed")
        assert calls == [50] and len(app.result) == 50
        assert "Stopped: submitted 50 jobs of 500 at level 1 (local-fast)." in notes(app)
    assert len(backend.records()) == before + 50


# ---- snapshots (deterministic: fixed records and clock, UTC) ------------------------------


def steady(screen) -> None:
    """No blinking cursor in a snapshot (it would be drawn or not by chance)."""
    for field in screen.query(TextInput):
        field.cursor_blink = False


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
def test_snapshot_submit_form_with_an_invalid_field(backend, snap_compare, size):
    async def run_before(pilot):
        await until(pilot, lambda: isinstance(pilot.app.screen, SubmitScreen))
        await pilot.pause()
        screen = screen_of(pilot.app)
        await pilot.press("ctrl+n")
        x1, x2 = screen.query(InputRow)[0].fields
        await type_into(pilot, x1, "0.5")
        await type_into(pilot, x2, "1e")
        steady(screen)
        await pilot.pause()

    assert snap_compare(Host(backend), terminal_size=size, run_before=run_before)


def test_snapshot_submit_form_latin_hypercube(backend, snap_compare):
    async def run_before(pilot):
        await until(pilot, lambda: isinstance(pilot.app.screen, SubmitScreen))
        await pilot.pause()
        screen = screen_of(pilot.app)
        await pilot.press("ctrl+t")
        screen.query_one("#source-lhs", RadioButton).value = True
        await until(pilot, lambda: screen.mode == "lhs")
        await type_into(pilot, screen.query_one("#lhs-n", NumberField), "100")
        await type_into(pilot, screen.query_one("#lhs-seed", NumberField), "7")
        steady(screen)
        await pilot.pause()

    assert snap_compare(Host(backend), terminal_size=(80, 24), run_before=run_before)
