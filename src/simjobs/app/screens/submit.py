"""The submit form (``s``): inputs typed in, read from a CSV file, or a Latin hypercube.

A modal screen. Every field is checked as it is typed and the submit button stays
disabled while anything is invalid. Submitting runs in a thread worker, in chunks, with
a progress bar, so a batch of 100,000 inputs never freezes the app. Escape before
submitting closes the form with nothing submitted; escape during a batch stops it after
the chunk being submitted (the notification says how many went).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    Select,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
)
from textual.widgets import Input as TextInput
from textual.worker import get_current_worker

from simjobs.app.widgets.footer import FittingFooter
from simjobs.design import (
    DesignError,
    latin_hypercube,
    parse_coordinate,
    parse_count,
    parse_seed,
    read_inputs_csv,
)
from simjobs.core.text import plural
from simjobs.core.types import Input

Parser = Callable[[str], Any]


def chunk_size(total: int) -> int:
    """Inputs per call to ``backend.submit``: about 1% of the batch, 50 to 2,000, so the
    progress bar moves and each call stays short."""
    return max(50, min(2000, total // 100))


class FieldInput(TextInput):
    """An Input that handles keys arriving together in the order they were typed.

    Keys that arrive in one read (tmux send-keys, a paste or typing ahead over a slow
    link: ``0.25``, tab, ``0.5``) are all forwarded to the focused field at once. The
    field types the characters itself, but a key bound to an action (tab, backspace,
    the arrows) runs only once it has bubbled up to the app, after the characters
    behind it were typed: ``0.250.5`` all in x1. So this field runs the binding of such
    a key at once, in order, and hands the keys still queued for it once the focus has
    moved on to the widget that has the focus now."""

    async def on_key(self, event: events.Key) -> None:
        # Textual runs this before Input's own key handler (the handlers of the classes
        # in the MRO, in turn, until one prevents the default): a key left alone here is
        # typed (or acted on) by Input as usual.
        focused = self.screen.focused
        if focused is not self:  # typed ahead of a key that moved the focus on
            event.stop()
            event.prevent_default()
            if focused is not None:
                focused.post_message(events.Key(event.key, event.character))
            return
        if event.is_printable:
            return
        if event.key == "tab" or event.key == "shift+tab":
            handled = True
            if event.key == "tab":
                self.screen.focus_next()
            else:
                self.screen.focus_previous()
        else:
            # The bindings of the focus chain, as the app would run them when the key
            # got back to it (a private method of Textual's; without it, that path).
            check = getattr(self.app, "_check_bindings", None)
            handled = bool(check is not None and await check(event.key))
        if handled:
            event.stop()
            event.prevent_default()


class NumberField(Vertical):
    """A labelled one-line field checked by ``parser`` as it is typed; the error shows
    under it once the field has been typed into (or a submit was attempted)."""

    DEFAULT_CSS = """
    NumberField { height: auto; width: 1fr; min-width: 16; padding: 0 1 0 0; }
    NumberField > Horizontal { height: 1; }
    NumberField Label.field-label { width: auto; padding: 0 1 0 0; }
    NumberField Input { width: 1fr; }
    NumberField Static.field-error { color: $text-error; height: auto; display: none; }
    NumberField.-invalid.-touched Static.field-error { display: block; }
    NumberField.-invalid.-touched Input { text-style: underline; }
    """

    def __init__(self, label: str, parser: Parser, *, value: str = "", placeholder: str = "",
                 id: Optional[str] = None, classes: Optional[str] = None):
        super().__init__(id=id, classes=classes)
        self.label = label
        self.parser = parser
        self._initial = value
        self._placeholder = placeholder
        self.error: Optional[str] = None
        self.parsed: Any = None
        try:  # valid or not from the start (the form's submit button asks at once)
            self.parsed = parser(value)
        except DesignError as exc:
            self.error = str(exc)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label, classes="field-label")
            yield FieldInput(self._initial, placeholder=self._placeholder, compact=True)
        yield Static("", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.check()

    @property
    def input(self) -> TextInput:
        return self.query_one(TextInput)

    @property
    def text(self) -> str:
        return self.input.value

    def check(self) -> bool:
        """Parse the text; shows or clears the error. True when valid."""
        try:
            self.parsed = self.parser(self.input.value)
        except DesignError as exc:
            self.parsed = None
            self.set_error(str(exc))
            return False
        self.set_error(None)
        return True

    def set_error(self, error: Optional[str]) -> None:
        self.error = error
        self.set_class(error is not None, "-invalid")
        self.query_one(".field-error", Static).update(f"{self.label}: {error}" if error else "")

    @property
    def valid(self) -> bool:
        return self.error is None

    def touch(self) -> None:
        self.add_class("-touched")

    @on(TextInput.Changed)
    def _changed(self, event: TextInput.Changed) -> None:
        if event.value != self._initial:
            self.touch()
        self.check()


class InputRow(Horizontal):
    """One input to submit: a field per coordinate."""

    DEFAULT_CSS = """
    InputRow { height: auto; margin: 0 0 1 0; }
    InputRow > Label.row-label { width: 4; color: $text-muted; }
    InputRow > Grid { height: auto; grid-gutter: 0 0; grid-rows: auto; }
    """

    def __init__(self, number: int, input_dim: int):
        super().__init__(classes="input-row")
        self.number = number
        self.input_dim = input_dim

    def compose(self) -> ComposeResult:
        yield Label(f"#{self.number}", classes="row-label")
        grid = Grid()
        grid.styles.grid_size_columns = min(self.input_dim, 4)
        with grid:
            for i in range(1, self.input_dim + 1):
                yield NumberField(f"x{i}", parse_coordinate, placeholder="number",
                                  classes="coordinate")

    @property
    def fields(self) -> list[NumberField]:
        return list(self.query(NumberField))

    def to_input(self) -> Input:
        return Input.from_trusted(tuple(f.parsed for f in self.fields))


class SubmitScreen(ModalScreen[Optional[list]]):
    """Submit inputs at a level: typed rows, a CSV file, or a Latin hypercube design.

    Dismissed with the list of new job ids, or None when cancelled.
    """

    CSS_PATH = Path(__file__).with_name("submit.tcss")

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="submit.cancel",
                tooltip="Close the form, submitting nothing (during a batch: stop after the chunk)"),
        Binding("ctrl+s", "submit", "Submit", id="submit.submit", priority=True,
                tooltip="Submit the inputs of the tab shown, at the chosen level"),
        Binding("ctrl+n", "add_row", "Add input", id="submit.add_row", priority=True,
                tooltip="Another input row, to submit several at once"),
        Binding("ctrl+r", "remove_row", "Remove input", id="submit.remove_row", priority=True,
                tooltip="Remove the input row being edited"),
        Binding("ctrl+t", "switch_tab", "Inputs/Batch", id="submit.switch_tab", priority=True,
                tooltip="Switch between typed inputs and a batch (CSV file or design)"),
        Binding("ctrl+l", "choose_level", "Level", id="submit.level", priority=True,
                tooltip="Go to the level selector and open its list"),
    ]

    def __init__(self, backend: Any, *, level: Optional[int] = None):
        super().__init__()
        self.backend = backend
        self.input_dim: Optional[int] = backend.input_dim
        self.level_map: dict[int, list[str]] = dict(sorted(backend.levels().items()))
        self._initial_level = level if level in self.level_map else (
            next(iter(self.level_map)) if self.level_map else None)
        self._row_count = 0
        self._csv_state: tuple[str, Optional[int], Optional[str]] = ("", None, None)
        self._submitting = False
        self._stop_requested = False

    # ---- layout

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Submit jobs", id="title")
            if self.backend.readonly:
                reason = self.backend.readonly_reason or "read-only"
                yield Static(
                    f"{reason[0].upper()}{reason[1:]}. Submitting is disabled here.",
                    classes="banner", id="readonly-banner", markup=False)
            if not self.level_map:
                yield Static("No interface serves any level: add an interface to the "
                             "config to submit jobs.", classes="banner", id="no-levels")
            with Horizontal(id="level-bar"):
                yield Label("Level")
                yield Select(
                    [(f"{lvl}: {', '.join(names)}", lvl) for lvl, names in self.level_map.items()],
                    allow_blank=not self.level_map, value=self._initial_level
                    if self._initial_level is not None else Select.NULL,
                    id="level", compact=True,
                )
            with TabbedContent(id="tabs", initial="single"):
                with TabPane("Inputs", id="single"):
                    with VerticalScroll(classes="pane-body", id="rows"):
                        if self.input_dim:
                            yield self._new_row()
                        else:
                            yield Static("The log's input dimension is not known yet: "
                                         "submit a CSV file from the Batch tab.",
                                         classes="banner", id="no-dim")
                    yield Button("+ add input (ctrl+n)", id="add-row",
                                 disabled=not self.input_dim)
                with TabPane("Batch", id="batch"):
                    with VerticalScroll(classes="pane-body"):
                        with RadioSet(id="batch-source"):
                            yield RadioButton("CSV file", value=True, id="source-csv")
                            yield RadioButton("Latin hypercube design", id="source-lhs")
                        with Vertical(id="csv-pane"):
                            yield NumberField("CSV file", self._path_ok, id="csv-path",
                                              placeholder="path of a CSV file: one input per line")
                            yield Static("One input per line, header optional.",
                                         classes="preview", id="csv-preview", markup=False)
                        with Vertical(id="lhs-pane"):
                            yield from self._lhs_fields()
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("", id="message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Submit", id="submit", variant="primary", disabled=True)
            yield FittingFooter(wrap=True)  # every key hint, on two lines if need be

    def _lhs_fields(self) -> ComposeResult:
        if not self.input_dim:
            yield Static("The log's input dimension is not known yet: a design needs it.",
                         classes="banner")
            return
        with Horizontal(id="lhs-top"):
            yield NumberField("points", parse_count, id="lhs-n", placeholder="n")
            yield NumberField("seed", parse_seed, id="lhs-seed", placeholder="optional")
        for i in range(1, self.input_dim + 1):
            with Horizontal(classes="bounds-row"):
                yield Label(f"x{i}")
                yield NumberField("lower", parse_coordinate, value="0", classes="lower",
                                  id=f"lhs-lower-{i}")
                yield NumberField("upper", parse_coordinate, value="1", classes="upper",
                                  id=f"lhs-upper-{i}")
        yield Static("", classes="preview", id="lhs-preview", markup=False)

    def _new_row(self) -> InputRow:
        self._row_count += 1
        return InputRow(self._row_count, self.input_dim)

    def on_mount(self) -> None:
        self.query_one("#lhs-pane").display = False
        # Tab goes level -> x1 ... xd (every row) -> submit: the tab strip is reached by
        # ctrl+t, the add-row and cancel buttons by ctrl+n and escape, and the scrolling
        # panes follow the focused field by themselves.
        for widget in (*self.query_one(TabbedContent).query(Tabs), *self.query(".pane-body"),
                       self.query_one("#add-row"), self.query_one("#cancel")):
            widget.can_focus = False
        # Focus the first field now, not after a refresh: keys typed at once must not
        # see the focus jump back to it.
        self._focus_first_field()
        self._update_submit()
        # Keys typed right after `s`, before this form existed, were held by the app:
        # they go to the field just focused, in the order they were typed.
        release = getattr(self.app, "release_keys", None)
        if release is not None:
            self.app.call_later(release)

    def _focus_first_field(self) -> None:
        """Focus the first field of what the submit button would submit."""
        first = {"rows": "InputRow Input", "csv": "#csv-path Input",
                 "lhs": "#lhs-n Input"}[self.mode]
        fields = self.query(first)
        if fields:
            fields.first().focus()

    # ---- the keys that apply (the footer shows only these)

    def check_action(self, action: str, parameters: tuple) -> Optional[bool]:
        """Adding or removing input rows applies on the Inputs tab only, and removing
        only while there is more than one row: elsewhere those keys are off and left
        out of the footer (``refresh_bindings`` when the tab or the rows change)."""
        if action in ("add_row", "remove_row"):
            try:
                tabs = self.query_one(TabbedContent)
            except NoMatches:  # not composed yet
                return True
            if tabs.active != "single" or not self.input_dim:
                return False
            if action == "remove_row" and len(self.query(InputRow)) <= 1:
                return False
        return True

    # ---- validation

    def _path_ok(self, text: str) -> str:
        if not text.strip():
            raise DesignError("enter the path of a CSV file of inputs")
        return text

    @property
    def mode(self) -> str:
        """"rows", "csv" or "lhs": what the submit button would submit."""
        if self.query_one(TabbedContent).active == "single":
            return "rows"
        return "lhs" if self.query_one("#source-lhs", RadioButton).value else "csv"

    @property
    def level(self) -> Optional[int]:
        value = self.query_one("#level", Select).value
        return None if value is Select.NULL else value

    def _rows_valid(self) -> bool:
        rows = list(self.query(InputRow))
        return bool(rows) and all(f.valid for r in rows for f in r.fields)

    def _check_bounds(self) -> bool:
        if not self.input_dim:
            return False
        ok = True
        for i in range(1, self.input_dim + 1):
            lo = self.query_one(f"#lhs-lower-{i}", NumberField)
            hi = self.query_one(f"#lhs-upper-{i}", NumberField)
            if lo.check() and hi.check() and lo.parsed > hi.parsed:
                hi.set_error(f"must be at least the lower bound {lo.parsed:g}")
                hi.touch()
            ok = ok and lo.valid and hi.valid
        return ok

    def _lhs_valid(self) -> bool:
        if not self.input_dim:
            return False
        n = self.query_one("#lhs-n", NumberField)
        seed = self.query_one("#lhs-seed", NumberField)
        ok = self._check_bounds() and n.valid and seed.valid
        preview = self.query_one("#lhs-preview", Static)
        if ok:
            box = " × ".join(
                f"[{self.query_one(f'#lhs-lower-{i}', NumberField).parsed:g}, "
                f"{self.query_one(f'#lhs-upper-{i}', NumberField).parsed:g}]"
                for i in range(1, self.input_dim + 1))
            seeded = f", seed {seed.parsed}" if seed.parsed is not None else ", random seed"
            points = plural(n.parsed, "point")
            preview.update(f"{points} of a Latin hypercube in {box}{seeded}")
        else:
            preview.update("")
        return ok

    def _csv_valid(self) -> bool:
        path, count, _error = self._csv_state
        return count is not None and path == self.query_one("#csv-path", NumberField).text

    def _update_submit(self) -> None:
        mode = self.mode
        valid = {"rows": self._rows_valid, "csv": self._csv_valid, "lhs": self._lhs_valid}[mode]()
        button = self.query_one("#submit", Button)
        button.disabled = (not valid or self.level is None or self.backend.readonly
                           or self._submitting)
        count = {"rows": lambda: len(self.query(InputRow)),
                 "csv": lambda: self._csv_state[1],
                 "lhs": lambda: self.query_one("#lhs-n", NumberField).parsed}[mode]()
        button.label = f"Submit {count:,}" if valid and count else "Submit"

    @on(TextInput.Changed)
    def _field_changed(self, event: TextInput.Changed) -> None:
        field = event.input.parent.parent if event.input.parent else None
        if isinstance(field, NumberField) and field.id == "csv-path":
            self._csv_state = (event.value, None, None)
            self._preview_csv(event.value)
        self._update_submit()

    @on(TabbedContent.TabActivated)
    @on(Select.Changed)
    def _context_changed(self, event) -> None:
        self._update_submit()
        self.refresh_bindings()
        if isinstance(event, Select.Changed) and self.focused is event.select:
            # A level was chosen: on to the first field (typing went nowhere before).
            self._focus_first_field()

    @on(RadioSet.Changed)
    def _source_changed(self, event: RadioSet.Changed) -> None:
        lhs = self.query_one("#source-lhs", RadioButton).value
        self.query_one("#csv-pane").display = not lhs
        self.query_one("#lhs-pane").display = lhs
        self._update_submit()
        if self.focused is event.radio_set:
            self._focus_first_field()

    @work(thread=True, exclusive=True, group="csv-preview", exit_on_error=False)
    def _preview_csv(self, path: str) -> None:
        """Read the CSV file off the UI loop (it may be large) and show its count."""
        if not path.strip():
            return
        try:
            inputs = read_inputs_csv(path, self.input_dim)
            state = (path, len(inputs), None)
            first = inputs[0]
            text = (f"{plural(len(inputs), 'input')} of "
                    f"{plural(len(first), 'coordinate')}, first "
                    f"{tuple(first)}")
        except DesignError as exc:
            state = (path, None, str(exc))
            text = str(exc)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._show_csv_preview, state, text)

    def _show_csv_preview(self, state: tuple, text: str) -> None:
        field = self.query_one("#csv-path", NumberField)
        if state[0] != field.text:  # typed on since: a newer preview is on its way
            return
        self._csv_state = state
        preview = self.query_one("#csv-preview", Static)
        preview.update(text)
        preview.set_class(state[1] is None, "-bad")
        self._update_submit()

    # ---- actions

    async def action_add_row(self) -> None:
        if not self.input_dim or self._submitting:
            return
        if self.query_one(TabbedContent).active != "single":
            self.query_one(TabbedContent).active = "single"
        rows = self.query_one("#rows", VerticalScroll)
        row = self._new_row()
        await rows.mount(row)
        row.fields[0].input.focus()
        rows.scroll_to_widget(row)
        self._update_submit()
        self.refresh_bindings()

    async def action_remove_row(self) -> None:
        rows = list(self.query(InputRow))
        if len(rows) <= 1 or self._submitting:
            return
        focused = self.focused
        target = next((r for r in rows if focused is not None and r in focused.ancestors), rows[-1])
        await target.remove()
        self._update_submit()
        self.refresh_bindings()

    def action_choose_level(self) -> None:
        select = self.query_one("#level", Select)
        if select.disabled or not self.level_map:
            return
        select.focus()
        select.expanded = True

    def action_switch_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "batch" if tabs.active == "single" else "single"
        # The pane shown becomes focusable after the next refresh.
        self.call_after_refresh(self._focus_first_field)

    def action_cancel(self) -> None:
        if self._submitting:
            self._stop_requested = True
            self.query_one("#message", Static).update("Stopping after the current chunk…")
            return
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#submit")
    @on(TextInput.Submitted)
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#add-row")
    async def _add_pressed(self) -> None:
        await self.action_add_row()

    def action_submit(self) -> None:
        if self._submitting:
            return
        if self.backend.readonly:
            self.notify(f"Cannot submit: {self.backend.readonly_reason}",
                        title="Read-only", severity="warning")
            return
        level = self.level
        if level is None:
            self.notify("Choose a level served by an interface first.", severity="warning")
            return
        mode = self.mode
        for field in self._active_fields():
            field.touch()
        self._update_submit()
        if self.query_one("#submit", Button).disabled:
            self.notify(self._first_problem() or "Fix the highlighted fields first.",
                        severity="error", title="Not submitted")
            return
        if mode == "rows":
            inputs = [row.to_input() for row in self.query(InputRow)]
            make: Callable[[], list[Input]] = lambda: inputs
        elif mode == "csv":
            path = self.query_one("#csv-path", NumberField).text
            dim = self.input_dim
            make = lambda: read_inputs_csv(path, dim)
        else:
            n = self.query_one("#lhs-n", NumberField).parsed
            seed = self.query_one("#lhs-seed", NumberField).parsed
            lower = [self.query_one(f"#lhs-lower-{i}", NumberField).parsed
                     for i in range(1, self.input_dim + 1)]
            upper = [self.query_one(f"#lhs-upper-{i}", NumberField).parsed
                     for i in range(1, self.input_dim + 1)]
            make = lambda: latin_hypercube(n, lower, upper, seed)
        self._set_submitting(True)
        self._submit_worker(make, level)

    def _active_fields(self) -> list[NumberField]:
        mode = self.mode
        if mode == "rows":
            return [f for r in self.query(InputRow) for f in r.fields]
        if mode == "csv":
            return [self.query_one("#csv-path", NumberField)]
        return list(self.query_one("#lhs-pane").query(NumberField))

    def _first_problem(self) -> Optional[str]:
        if self.mode == "csv":
            return self._csv_state[2]
        for field in self._active_fields():
            if field.error:
                return f"{field.label}: {field.error}"
        return None

    def _set_submitting(self, submitting: bool) -> None:
        self._submitting = submitting
        self.query_one("#progress", ProgressBar).set_class(submitting, "-running")
        for widget in self.query(TextInput):
            widget.disabled = submitting
        self.query_one("#level", Select).disabled = submitting
        self.query_one("#add-row", Button).disabled = submitting or not self.input_dim
        self.query_one("#submit", Button).disabled = True
        if not submitting:
            self._update_submit()

    @work(thread=True, exclusive=True, group="submit", exit_on_error=False)
    def _submit_worker(self, make: Callable[[], list[Input]], level: int) -> None:
        """Build the inputs and submit them in chunks, reporting progress to the UI."""
        ids: list = []
        total = 0
        error: Optional[str] = None
        try:
            inputs = make()
            total = len(inputs)
            self.app.call_from_thread(self._progress, 0, total)
            step = chunk_size(total)
            for start in range(0, total, step):
                if self._stop_requested:
                    break
                ids.extend(self.backend.submit(inputs[start:start + step], level))
                self.app.call_from_thread(self._progress, len(ids), total)
        except DesignError as exc:
            error = str(exc)
        except Exception as exc:  # a refusal by the backend: one line, never a traceback
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        self.app.call_from_thread(self._finished, ids, total, level, error)

    def _progress(self, done: int, total: int) -> None:
        self.query_one("#progress", ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#message", Static).update(f"Submitting… {done:,} of {total:,}")

    def _finished(self, ids: list, total: int, level: int, error: Optional[str]) -> None:
        names = ", ".join(self.level_map.get(level, []))
        where = f"level {level}" + (f" ({names})" if names else "")
        n = len(ids)
        jobs = plural(n, "job")
        if error is not None:
            self._set_submitting(False)
            self._stop_requested = False
            prefix = f"Submitted {jobs} at {where}, then stopped: " if n else "Nothing submitted: "
            self.query_one("#message", Static).update(prefix + error)
            self.notify(prefix + error, title="Submit failed", severity="error")
            if n:
                self.dismiss(ids)
            return
        if self._stop_requested and n < total:
            self.notify(f"Stopped: submitted {jobs} of {total:,} at {where}.",
                        title="Submit stopped", severity="warning")
        else:
            self.notify(f"Submitted {jobs} at {where}.", title="Submitted")
        self.dismiss(ids)
