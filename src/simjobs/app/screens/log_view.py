"""The simulations log view (``l``): every record, filtered, sorted, summed up, plotted
and exported.

Opened from the app, the view is of the app's own model (:mod:`simjobs.app.model`: one
model, a view per screen with its own filter and sort), kept current by the app's
events; without it (a host app of its own) the records are loaded and indexed in a
thread worker. Either way they are drawn by the virtual
:class:`~simjobs.app.widgets.job_table.JobTable` (only the visible lines are rendered),
so a log of 100,000 records opens without freezing the app. The summary, the plot and
the export all follow the filtered view: the summary and the plot's series are computed
by :mod:`simjobs.app.log_summary`, the export dialog is
:class:`~simjobs.app.screens.export.ExportScreen` (writing with :mod:`simjobs.export`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Label, Select, Static, TabbedContent, TabPane
from textual.widgets import Input as TextInput

from simjobs.app.log_summary import LevelSummary, plot_series, summarise
from simjobs.app.messages import JobsUpdated
from simjobs.app.widgets.filter_input import FilterInput
from simjobs.app.widgets.footer import FittingFooter
from simjobs.app.model import COLUMNS, Filter, JobModel, JobView, Row
from simjobs.app.widgets.job_table import JobTable
from simjobs.app.widgets.plot import ScatterPlot, nice_number
from simjobs.core.records import LogRecord
from simjobs.core.text import plural
from simjobs.core.types import JobStatus

#: Rows at most before the filter is applied after a pause in typing rather than on
#: every key (a rebuild of 100,000 rows takes a noticeable fraction of a second).
DEBOUNCE_ROWS = 20_000
DEBOUNCE_SECONDS = 0.25
#: Seconds at least between two summaries (and plots) redone for live job updates.
SUMMARY_INTERVAL = 1.0


# ---- the screen --------------------------------------------------------------------------


ANY = "any"
#: The text filter's placeholder, and a shorter one when it has not the room.
FILTER_HINT = "/ filter: id, input, interface"
FILTER_HINT_SHORT = "/ filter text"
#: Cells the filter row's three selects take, with their margins (see DEFAULT_CSS).
SELECTS_WIDTH = 18 + 13 + 20 + 3


class SimulationsLogScreen(Screen):
    """Every record of the log; see the module docstring."""

    CSS_PATH = Path(__file__).with_name("log_view.tcss")

    # The footer shows the main keys only, so that it fits in 80 columns with the app's
    # (q, ?, ctrl+p); ? lists every key, those hidden here included.
    BINDINGS = [
        Binding("escape", "close", "Close", id="log.close", tooltip="Back to the jobs"),
        Binding("slash", "focus_filter", "Filter", id="log.filter",
                tooltip="Filter by text (id, input, interface); enter returns to the table"),
        Binding("o", "cycle_sort", "Sort", id="log.sort", tooltip="Sort by the next column"),
        Binding("O", "reverse_sort", "Reverse", id="log.reverse", show=False,
                tooltip="Reverse the sort"),
        Binding("e", "export", "Export", id="log.export",
                tooltip="Export the filtered view to a .csv or .json file"),
        Binding("1", "show_tab('records')", "Records", id="log.records", show=False,
                tooltip="The records"),
        Binding("2", "show_tab('summary')", "Summary", id="log.summary",
                tooltip="Per level: counts, completed, failed, cancelled, min/mean/max output"),
        Binding("3", "show_tab('plot')", "Plot", id="log.plot",
                tooltip="Output against an input coordinate, per level"),
        Binding("x", "next_coordinate", "Plot x", id="log.next_coordinate", show=False,
                tooltip="Plot against the next input coordinate"),
        Binding("r", "reload", "Reload", id="log.reload", show=False,
                tooltip="Read the whole log again"),
        Binding("enter", "details", "Details", id="log.details", show=False,
                tooltip="The highlighted job in full"),
        Binding("question_mark,f1", "help", "Keys", id="log.help",
                tooltip="Every key of the log view, listed"),
    ]

    def __init__(self, backend: Any, model: Optional[JobModel] = None):
        super().__init__()
        self.backend = backend
        #: the rows shown: the app's model when given (kept current by the app; this
        #: screen only adds its own view of it), else one loaded from the log here
        self.source = model if model is not None else JobModel(backend.clock)
        self._shared = model is not None
        self._generation = self.source.generation
        #: this screen's view of the rows (its own filter and sort)
        self.model: JobView = self.source.view()
        self.input_dim: Optional[int] = backend.input_dim
        self.loaded = False
        self.load_seconds: Optional[float] = None
        self.summary: list[LevelSummary] = []
        self.plot_coordinate = 0
        self._pending_filter = None
        self._requested = 0  # summaries asked for
        self._applied = 0  # summaries shown
        self._export_when_loaded = False
        self._summarised_at = 0.0
        self._deferred = None  # the timer of a summary put off by live updates

    def compose(self) -> ComposeResult:
        yield Static(f"Simulations log  {self.backend.log_path}", id="log-title", markup=False)
        with Horizontal(id="filters"):
            yield FilterInput(placeholder=FILTER_HINT, id="filter-text", compact=True)
            yield Select([(s.value, s) for s in JobStatus], prompt="status: any",
                         id="filter-status", compact=True)
            yield Select([], prompt="level: any", id="filter-level", compact=True)
            yield Select([], prompt="interface: any", id="filter-interface", compact=True)
        yield Static("Loading the log…", id="loading")
        with TabbedContent(id="log-tabs", initial="records"):
            with TabPane("Records", id="records"):
                yield JobTable(self.model, id="log-table")
            with TabPane("Summary", id="summary-pane"):
                yield DataTable(id="summary", cursor_type="row", zebra_stripes=False)
            with TabPane("Plot", id="plot"):
                with Horizontal(id="plot-bar"):
                    yield Label("output against")
                    yield Select([], allow_blank=True, prompt="x1", id="plot-coordinate",
                                 compact=True)
                    yield Label("(x: next coordinate)")
                yield ScatterPlot(id="scatter")
        yield FittingFooter(compact=True)  # (at 60 columns: no key under ^p)

    def on_mount(self) -> None:
        table = self.query_one("#summary", DataTable)
        table.add_columns("Level", "Jobs", "Completed", "Failed", "Cancelled",
                          "Min output", "Mean output", "Max output")
        self.query_one(JobTable).focus()
        self._opened_at = time.perf_counter()
        if self._shared:
            self._loaded()  # the app's rows, already current: nothing to read
        else:
            self._load()

    def on_unmount(self) -> None:
        self.source.drop_view(self.model)  # the app's model stops updating it

    def on_resize(self) -> None:
        room = self.size.width - SELECTS_WIDTH
        self.query_one("#filter-text", TextInput).placeholder = (
            FILTER_HINT if room > len(FILTER_HINT) + 1 else FILTER_HINT_SHORT)

    # ---- loading

    @work(thread=True, exclusive=True, group="log-load", exit_on_error=False)
    def _load(self) -> None:
        """Without the app's model: read and index every record off the UI loop."""
        import numpy  # noqa: F401 - the plot needs it: imported here, not on the UI loop

        try:
            records = self.backend.records()
        except Exception as exc:  # noqa: BLE001 - one line on screen, not a traceback
            self.app.call_from_thread(self._load_failed, f"{exc}".splitlines()[0])
            return
        prepared = self.source.prepare(records)
        self.app.call_from_thread(self._loaded, prepared)
        # What the text filter looks in, built now so that the first key typed in the
        # filter does not wait for 100,000 of them.
        self.app.call_from_thread(self.source.adopt_search_texts,
                                  self.source.encode_search_texts())

    def _load_failed(self, message: str) -> None:
        if not self.is_attached:  # closed meanwhile
            return
        self.query_one("#loading", Static).update(f"Could not read the log: {message}")
        self.notify(f"Could not read the log: {message}", severity="error")

    def _loaded(self, prepared: Optional[tuple] = None) -> None:
        if not self.is_attached:  # closed meanwhile
            return
        if prepared is not None:
            self.source.install(prepared)  # (the view is sorted and filtered anew)
        self._generation = self.source.generation
        rows = self.source.rows
        if self.input_dim is None and rows:
            self.input_dim = len(next(iter(rows.values())).coords)
        self.query_one(JobTable).reload()
        self._fill_filter_choices()
        self._fill_plot_choices()
        self.loaded = True
        self.load_seconds = time.perf_counter() - self._opened_at
        self.query_one("#loading").display = False
        self._update_title()
        if self.current_filter() != self.model.filter:  # changed while (re)loading
            self.apply_filter()
        else:
            self._change_view(None)
        if self._export_when_loaded:
            self._export_when_loaded = False
            self.action_export()

    def _fill_filter_choices(self) -> None:
        levels = sorted({r.level for r in self.model.rows.values()} | set(self.backend.levels()))
        names = sorted({r.interface for r in self.model.rows.values() if r.interface}
                       | {n for ns in self.backend.levels().values() for n in ns})
        level_select = self.query_one("#filter-level", Select)
        level_value = level_select.value
        level_select.set_options([(f"level {lvl}", lvl) for lvl in levels])
        if level_value in levels:
            level_select.value = level_value
        iface_select = self.query_one("#filter-interface", Select)
        iface_value = iface_select.value
        iface_select.set_options([(n, n) for n in names])
        if iface_value in names:
            iface_select.value = iface_value

    def _fill_plot_choices(self) -> None:
        dim = self.input_dim or 0
        select = self.query_one("#plot-coordinate", Select)
        select.set_options([(f"x{i + 1}", i) for i in range(dim)])
        if dim:
            select.value = min(self.plot_coordinate, dim - 1)

    # ---- the view: filter, sort, summary, plot

    def current_filter(self) -> Filter:
        def value(select_id: str):
            v = self.query_one(select_id, Select).value
            return None if v is Select.NULL else v

        return Filter(text=self.query_one("#filter-text", TextInput).value.strip(),
                      status=value("#filter-status"), level=value("#filter-level"),
                      interface=value("#filter-interface"))

    # ---- live: the app's coalesced job updates (already in the app's model)

    @on(JobsUpdated)
    def _jobs_updated(self, message: JobsUpdated) -> None:
        if not self.loaded or not self._shared:
            return
        table = self.query_one(JobTable)
        if self.source.generation != self._generation:  # the app's model was (re)loaded
            self._loaded()
            return
        table.show_changes()
        if message.records:
            self._update_title()
            self._change_view(None, live=True)

    def apply_filter(self) -> None:
        """Rebuild the view with the filter as the fields set it now."""
        flt = self.current_filter()
        self._change_view(lambda view: view.set_filter(flt))

    def _change_view(self, change: Optional[Callable[[JobView], None]],
                     live: bool = False) -> None:
        """Change the view (filter, sort: a few milliseconds at 100,000 rows, here on
        the UI loop), then recompute the summary and the plot of what it shows in a
        thread (on 100,000 records that takes a good part of a second)."""
        if not self.loaded:
            return
        if change is not None:
            change(self.model)
            self.query_one(JobTable).reload()
            self._update_title()
        self._requested += 1
        generation = self._requested
        # Live updates refresh the summary and plot at most every SUMMARY_INTERVAL.
        if live and time.monotonic() - self._summarised_at < SUMMARY_INTERVAL:
            self._applied = generation
            if self._deferred is None:
                def later() -> None:
                    self._deferred = None
                    self._change_view(None)

                self._deferred = self.set_timer(SUMMARY_INTERVAL, later)
            return
        self._summarised_at = time.monotonic()
        self._summarise(self.view_rows(), self.plot_coordinate, generation)

    @work(thread=True, group="log-view", exit_on_error=False)
    def _summarise(self, rows: list[Row], coordinate: int, generation: int) -> None:
        summary = summarise(rows)
        series = plot_series(rows, coordinate)
        self.app.call_from_thread(self._summarised, generation, summary, series)

    def _summarised(self, generation: int, summary, series) -> None:
        if not self.is_attached:  # closed meanwhile
            return
        if generation == self._requested:  # (else a newer one follows: it will show)
            self._show_view(summary, series)
        self._applied = max(self._applied, generation)

    @property
    def settled(self) -> bool:
        """Loaded, and every filter/sort asked for is shown (tests wait on this)."""
        return self.loaded and self._applied == self._requested and self._deferred is None

    @on(TextInput.Changed, "#filter-text")
    def _filter_typed(self) -> None:
        if len(self.model.rows) <= DEBOUNCE_ROWS:
            self.apply_filter()
            return
        if self._pending_filter is not None:
            self._pending_filter.stop()
        self._pending_filter = self.set_timer(DEBOUNCE_SECONDS, self.apply_filter)

    @on(TextInput.Submitted, "#filter-text")
    def _filter_done(self) -> None:
        self.apply_filter()
        self.query_one(JobTable).focus()

    @on(Select.Changed, "#filter-status")
    @on(Select.Changed, "#filter-level")
    @on(Select.Changed, "#filter-interface")
    def _filter_selected(self) -> None:
        self.apply_filter()

    @on(Select.Changed, "#plot-coordinate")
    def _coordinate_selected(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL and int(event.value) != self.plot_coordinate:
            self.plot_coordinate = int(event.value)
            self._change_view(None)

    def view_rows(self) -> list[Row]:
        """The rows of the filtered view, in the order shown."""
        return self.model.rows_between(0, len(self.model))

    def view_records(self) -> list[LogRecord]:
        """The records of the filtered view, in the order shown (what export writes):
        copies read now, in one call (a row's record may be the log's own, changing)."""
        return self.backend.get_records([row.job_id for row in self.view_rows()])

    def _show_view(self, summary: list[LevelSummary], series: dict) -> None:
        self.summary = summary
        self._update_title()
        self._update_summary()
        self.query_one(ScatterPlot).set_data(series, f"x{self.plot_coordinate + 1}")

    def _update_title(self) -> None:
        n_all, n_view = len(self.model.rows), len(self.model)
        column = next(c.label for c in COLUMNS if c.key == self.model.sort_column)
        arrow = "↓" if self.model.sort_reverse else "↑"
        flt = self.model.filter.describe()
        shown = f"{n_view:,} shown ({flt})" if flt else "all shown"
        self.query_one("#log-title", Static).update(
            f"Simulations log  {Path(self.backend.log_path).name}  ·  "
            f"{plural(n_all, 'record')}, "
            f"{shown}  ·  sorted by {column}{arrow}")

    def _update_summary(self) -> None:
        table = self.query_one("#summary", DataTable)
        table.clear()

        def num(v: Optional[float]) -> str:
            return "—" if v is None else nice_number(v)

        for s in self.summary:
            table.add_row(str(s.level), f"{s.count:,}", f"{s.completed:,}", f"{s.failed:,}",
                          f"{s.cancelled:,}", num(s.minimum), num(s.mean), num(s.maximum),
                          key=str(s.level))

    # ---- actions

    def action_close(self) -> None:
        self.dismiss()

    def action_help(self) -> None:
        from simjobs.app.screens.help import HelpScreen, key_rows

        here = key_rows(type(self))
        everywhere = [row for row in key_rows(type(self.app))
                      if row[0] not in {keys for keys, _ in here}]
        sections = [
            ("Simulations log", here),
            ("Moving in the table", key_rows(JobTable)),
            ("Everywhere", everywhere),
            ("Text filter", [("enter", "Keep the filter, back to the table"),
                             ("tab", "On to the status, level and interface choices")]),
        ]
        self.app.push_screen(HelpScreen(sections))

    def action_focus_filter(self) -> None:
        self.action_show_tab("records")
        self.query_one("#filter-text", TextInput).focus()

    def action_show_tab(self, tab: str) -> None:
        pane = {"records": "records", "summary": "summary-pane", "plot": "plot"}[tab]
        self.query_one(TabbedContent).active = pane
        focus = {"records": JobTable, "summary": DataTable, "plot": ScatterPlot}[tab]
        widget = self.query_one(focus)
        if widget.can_focus:
            widget.focus()

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        column = keys[(keys.index(self.model.sort_column) + 1) % len(keys)]
        self._change_view(lambda view: view.set_sort(column))

    def action_reverse_sort(self) -> None:
        reverse = not self.model.sort_reverse
        self._change_view(lambda view: view.set_reverse(reverse))

    def action_next_coordinate(self) -> None:
        dim = self.input_dim or 0
        if not dim:
            return
        self.query_one("#plot-coordinate", Select).value = (self.plot_coordinate + 1) % dim
        self.action_show_tab("plot")

    def action_reload(self) -> None:
        if self._shared:  # the app's model is the log as events left it: sort it anew
            self._change_view(lambda view: view.rebuild())
            return
        self.query_one("#loading", Static).update("Reloading the log…")
        self.query_one("#loading").display = True
        self._opened_at = time.perf_counter()
        self._load()

    def action_export(self) -> None:
        if not self.loaded:  # (the command palette asks at once): ask once loaded
            self._export_when_loaded = True
            return
        from simjobs.app.screens.export import ExportScreen

        records = self.view_records()
        log_path = Path(self.backend.log_path).absolute()
        default = log_path.with_name(f"{log_path.stem}-export.csv")  # beside the log
        self.app.push_screen(ExportScreen(records, self.input_dim or 0, str(default)))

    def action_details(self) -> None:
        job_id = self.query_one(JobTable).cursor_job_id
        if job_id is None or not self.loaded:
            return
        from simjobs.app.screens.detail import JobDetailScreen

        self.app.push_screen(JobDetailScreen(self.backend, job_id))
