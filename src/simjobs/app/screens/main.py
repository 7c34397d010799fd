"""MainScreen: the job table, the status bar and the interface load panels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input, Static

from ...core.text import plural
from ...core.types import RESUBMITTABLE_STATUSES, TERMINAL_STATUSES, JobStatus
from ..messages import JobsUpdated
from ..widgets.filter_input import FilterInput
from ..widgets.footer import FittingFooter
from ..model import ACTIVE, COLUMN_KEYS, Filter, JobModel
from ..widgets.job_table import JobTable
from ..widgets.load_panel import LoadPanels
from ..widgets.status_bar import StatusBar
from .confirm import ConfirmScreen

if TYPE_CHECKING:  # pragma: no cover
    from ..app import SimjobsApp

#: Below this many columns the load panels go under the table, one line each.
NARROW = 140
#: The status filter's steps: `f` goes forward, `F` back (each status, a failed cancel
#: too: such a job goes on running and needs a look).
STATUS_CYCLE = [None, ACTIVE, JobStatus.RUNNING, JobStatus.SUBMITTED, JobStatus.PENDING_SUBMIT,
                JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.FAILED_SUBMIT,
                JobStatus.PENDING_CANCEL, JobStatus.FAILED_CANCEL, JobStatus.CANCELLED]


def _next(options: list, current, step: int = 1):
    try:
        return options[(options.index(current) + step) % len(options)]
    except ValueError:
        return options[0]


class MainScreen(Screen):
    """Jobs on the left (or on top), interfaces on the right (or below)."""

    BINDINGS = [
        Binding("s", "submit", "Submit", id="submit", tooltip="Submit inputs as new jobs"),
        Binding("c", "cancel", "Cancel", id="cancel",
                tooltip="Cancel the highlighted job, or every marked job"),
        Binding("r", "resubmit", "Resubmit", id="resubmit",
                tooltip="Resubmit the highlighted (or marked) failed/cancelled jobs"),
        Binding("space", "mark", "Mark", show=False, id="mark",
                tooltip="Mark or unmark the highlighted job, then move down (space space "
                        "space marks three in a row)"),
        Binding("enter", "detail", "Detail", id="detail", tooltip="Show the job's details"),
        Binding("l", "log_view", "Log", id="log_view", tooltip="The simulations log view"),
        Binding("slash", "filter", "Filter", id="filter",
                tooltip="Filter by text (id, input, interface)"),
        Binding("f", "cycle_status", "Status", show=False, id="cycle_status",
                tooltip="Filter by status: cycle all / active / each status"),
        Binding("F", "cycle_status_back", "Status back", show=False, id="cycle_status_back",
                tooltip="Filter by status: the previous step of the f cycle"),
        Binding("v", "cycle_level", "Level", show=False, id="cycle_level",
                tooltip="Filter by level: cycle all / each level"),
        Binding("i", "cycle_interface", "Interface", show=False, id="cycle_interface",
                tooltip="Filter by interface: cycle all / each interface"),
        Binding("h", "toggle_finished", "Hide done", show=False, id="toggle_finished",
                tooltip="Hide or show finished jobs"),
        Binding("o", "cycle_sort", "Sort", show=False, id="cycle_sort",
                tooltip="Sort by the next column"),
        Binding("O", "reverse_sort", "Reverse", show=False, id="reverse_sort",
                tooltip="Reverse the sort order"),
        Binding("escape", "clear", "Clear", show=False, id="clear",
                tooltip="Clear the filters, then the marks"),
    ]

    CSS_PATH = Path(__file__).with_name("main.tcss")

    def __init__(self, model: JobModel) -> None:
        super().__init__()
        self.model = model

    @property
    def simjobs(self) -> "SimjobsApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        backend = self.simjobs.backend
        self.status_bar = StatusBar(str(backend.log_path), self.model, id="status-bar")
        self.table = JobTable(self.model, id="job-table")
        self.table.no_match_hint = " (esc clears)"  # (see action_clear)
        self.panels = LoadPanels(backend.interfaces(), self.model, id="panels")
        yield self.status_bar
        with Horizontal(id="body"):
            with Vertical(id="jobs"):
                yield Static("", id="table-info")
                yield FilterInput(placeholder="filter: id, input or interface (enter/esc to "
                                  "close)", id="filter-bar")
                yield self.table
            yield self.panels
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        # The filter follows the bar's value as it is set, not on its Changed message:
        # that comes a message later, after a frame showing the key typed, and the
        # filtered table waited for the next frame (~17 ms later at most 60 a second).
        self.watch(self.query_one("#filter-bar", Input), "value", self._filter_changed,
                   init=False)
        self._show_manager_state()
        self.table.reload()
        self.table.focus()
        self.update_info()

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW
        if narrow != self.has_class("-narrow"):
            self.set_class(narrow, "-narrow")
            self.panels.set_compact(narrow)
        self.status_bar.update_view()

    # ---- live updates ---------------------------------------------------------------------

    def on_jobs_updated(self, message: JobsUpdated) -> None:
        if message.records:
            self.table.show_changes()  # (the app put them into the model)
            known = set(self.panels.panels)
            for info in self.simjobs.backend.interfaces():
                if info.name not in known:
                    self.panels.add_interface(info)
        self.refresh_views()

    def refresh_views(self) -> None:
        """Redraw the summaries (each does nothing when what it shows is unchanged)."""
        self._show_manager_state()
        self.status_bar.update_view()
        self.panels.update_views()
        self.update_info()

    def _show_manager_state(self) -> None:
        backend = self.simjobs.backend
        self.status_bar.manager_state = backend.manager_state()
        self.status_bar.manager_state_short = backend.manager_state(short=True)

    def update_info(self) -> None:
        model = self.model
        arrow = "↓" if model.sort_reverse else "↑"
        if not self.simjobs.loaded:
            parts = [f"loading {self.simjobs.backend.log_path.name}…"]
        else:
            parts = [f"{len(model):,} of {plural(len(model.rows), 'job')}"]
        # (the column's header as the table draws it: "Time" when it is short of room)
        parts.append(f"sort {self.table.label(model.sort_column)}{arrow}")
        described = model.filter.describe()
        if described:
            parts.append(f"filter {described}")
        if self.table.marked:
            parts.append(f"{len(self.table.marked)} marked")
        if self.simjobs.backend.readonly:
            parts.append("read-only")
        text = " · ".join(parts)
        try:
            info = self.query_one("#table-info", Static)
        except NoMatches:  # the screen is closing
            return
        if getattr(info, "_simjobs_text", None) != text:
            info._simjobs_text = text
            info.update(text, layout=False)  # one line, fixed: no re-layout of the screen

    def on_job_table_labels_changed(self, message: JobTable.LabelsChanged) -> None:
        self.update_info()

    # ---- filters and sorting --------------------------------------------------------------

    def set_filter(self, **changes) -> None:
        current = self.model.filter
        flt = Filter(**{**current.__dict__, **changes})
        self.model.set_filter(flt)
        self.table.reload()
        self.update_info()

    def action_filter(self) -> None:
        bar = self.query_one("#filter-bar", Input)
        bar.add_class("-open")
        bar.focus()

    def _filter_changed(self, value: str) -> None:
        self.set_filter(text=value.strip())

    @on(Input.Submitted, "#filter-bar")
    def _filter_done(self, event: Input.Submitted) -> None:
        self._close_filter()

    def _close_filter(self) -> None:
        bar = self.query_one("#filter-bar", Input)
        if not bar.value:
            bar.remove_class("-open")
        self.table.focus()

    def action_clear(self) -> None:
        bar = self.query_one("#filter-bar", Input)
        if bar.has_focus and (len(self.model) or not self.model.filter.active):
            self._close_filter()
            return
        if self.model.filter.active:  # (from the bar too when nothing matches: "esc clears")
            self.table.focus()
            bar.value = ""
            bar.remove_class("-open")
            self.set_filter(text="", status=None, level=None, interface=None,
                            hide_finished=False)
            self.notify("filters cleared", timeout=2)
        elif self.table.marked:
            self.table.clear_marks()
            self.update_info()

    def action_cycle_status(self) -> None:
        self.set_filter(status=_next(STATUS_CYCLE, self.model.filter.status))

    def action_cycle_status_back(self) -> None:
        self.set_filter(status=_next(STATUS_CYCLE, self.model.filter.status, -1))

    def action_cycle_level(self) -> None:
        levels = sorted({r.level for r in self.model.rows.values()} |
                        set(self.simjobs.backend.levels()))
        self.set_filter(level=_next([None, *levels], self.model.filter.level))

    def action_cycle_interface(self) -> None:
        names = sorted({r.interface for r in self.model.rows.values() if r.interface} |
                       {i.name for i in self.simjobs.backend.interfaces()})
        self.set_filter(interface=_next([None, *names], self.model.filter.interface))

    def action_toggle_finished(self) -> None:
        hide = not self.model.filter.hide_finished
        self.set_filter(hide_finished=hide)
        self.notify("finished jobs hidden" if hide else "finished jobs shown", timeout=2)

    def action_cycle_sort(self) -> None:
        column = _next(list(COLUMN_KEYS), self.model.sort_column)
        self.model.set_sort(column)
        self.table.reload()
        self.update_info()

    def action_reverse_sort(self) -> None:
        self.model.set_reverse(not self.model.sort_reverse)
        self.table.reload()
        self.update_info()

    # ---- marking, cancelling, resubmitting ------------------------------------------------

    def action_mark(self) -> None:
        self.table.toggle_mark()
        self.table.action_cursor_down()
        self.update_info()

    def _selected(self) -> list[str]:
        """The marked jobs, or else the highlighted one."""
        if self.table.marked:
            return sorted(self.table.marked)
        return [self.table.cursor_job_id] if self.table.cursor_job_id else []

    def _refuse_readonly(self) -> bool:
        backend = self.simjobs.backend
        if backend.readonly:
            self.notify(backend.readonly_reason, title="Read-only", severity="warning",
                        timeout=8)
            return True
        return False

    def action_cancel(self) -> None:
        if self._refuse_readonly():
            return
        ids = self._selected()
        if not ids:
            self.notify("no job to cancel: the table is empty", severity="warning")
            return
        rows = [self.model.rows[i] for i in ids if i in self.model.rows]
        ended = [r for r in rows if r.status in TERMINAL_STATUSES]
        live = [r for r in rows if r.status not in TERMINAL_STATUSES]
        if not live:
            if len(ended) == 1:
                r = ended[0]
                self.notify(f"job {r.job_id} has already ended ({r.status.value}): "
                            "nothing to cancel", title="Not cancelled", severity="warning")
            else:
                self.notify(f"all {len(ended)} marked jobs have already ended: nothing to "
                            "cancel", title="Not cancelled", severity="warning")
            return
        if len(rows) == 1 and not self.table.marked:
            r = live[0]
            question = f"Cancel job {r.job_id}?"
            detail = f"{r.status.value} on {r.interface or 'no interface yet'}, level {r.level}"
        else:
            question = f"Cancel {plural(len(live), 'marked job')}?"
            detail = (f"{plural(len(ended), 'marked job')} already ended "
                      "and will be skipped" if ended else "")
        ids_live = [r.job_id for r in live]

        def answered(yes: Optional[bool]) -> None:
            if yes:
                self._cancel(ids_live, [r.job_id for r in ended])

        self.app.push_screen(ConfirmScreen(question, detail, yes="Cancel jobs", no="Keep"),
                             answered)

    @work(thread=True, exclusive=False, group="act", exit_on_error=False)
    def _cancel(self, ids: list[str], ended: list[str]) -> None:
        backend = self.simjobs.backend
        try:
            result = backend.cancel(ids)
        except Exception as exc:  # noqa: BLE001 - one line for the user, never a traceback
            self.app.call_from_thread(self.notify, f"cancel failed: {exc}",
                                      title="Cancel", severity="error", timeout=8)
            return
        records = [r for r in (backend.get_record(j.id) for j in result.cancelled) if r]
        self.app.call_from_thread(self._cancelled, result, ended, records)

    def _cancelled(self, result, ended: list[str], records) -> None:
        self.table.apply_records(records)  # shows PENDING_CANCEL at once
        self.table.clear_marks()
        skipped = {str(k): v for k, v in result.skipped.items()}
        for job_id in ended:
            row = self.model.rows.get(job_id)
            if row is not None:
                skipped.setdefault(job_id, row.status)
        n = len(result.cancelled)
        message = f"{plural(n, 'job')} cancelling"
        if skipped:
            message += (f"; {len(skipped)} skipped, already ended ("
                        + ", ".join(f"{k}: {v.value}" for k, v in list(skipped.items())[:3])
                        + (", …" if len(skipped) > 3 else "") + ")")
        self.notify(message, title="Cancel")
        self.refresh_views()

    def action_resubmit(self) -> None:
        if self._refuse_readonly():
            return
        ids = self._selected()
        rows = [self.model.rows[i] for i in ids if i in self.model.rows]
        ok = [r for r in rows if r.status in RESUBMITTABLE_STATUSES]
        not_ok = [r for r in rows if r.status not in RESUBMITTABLE_STATUSES]
        if not ok:
            if len(rows) == 1:
                self.notify(f"job {rows[0].job_id} is {rows[0].status.value}: only failed, "
                            "failed-submit or cancelled jobs can be resubmitted",
                            title="Not resubmitted", severity="warning")
            else:
                self.notify("none of the marked jobs failed or was cancelled: nothing to "
                            "resubmit", title="Not resubmitted", severity="warning")
            return
        # A job already resubmitted runs once more only if the person says so: the
        # confirm names its new job(s) and its yes reads "Resubmit again".
        again = [r for r in ok if r.rec.resubmitted_as]
        if len(ok) == 1 and not self.table.marked:
            question = f"Resubmit job {ok[0].job_id} at level {ok[0].level}?"
            detail = f"It is {ok[0].status.value}; a new job runs the same input."
            if again:
                question = f"Resubmit job {ok[0].job_id} again, at level {ok[0].level}?"
                detail = (f"It was already resubmitted as {', '.join(ok[0].rec.resubmitted_as)}; "
                          "another new job runs the same input.")
        else:
            question = f"Resubmit {plural(len(ok), 'job')}, each at its own level?"
            notes = []
            if not_ok:
                notes.append(f"{plural(len(not_ok), 'marked job')} neither "
                             "failed nor was cancelled and will be skipped")
            if again:
                notes.append(f"{len(again)} {'was' if len(again) == 1 else 'were'} already "
                             f"resubmitted ({again[0].job_id} as "
                             f"{', '.join(again[0].rec.resubmitted_as)}"
                             f"{', …' if len(again) > 1 else ''}) and will run again")
            detail = "; ".join(notes)

        def answered(yes: Optional[bool]) -> None:
            if yes:
                self._resubmit([r.job_id for r in ok], bool(again))

        yes = "Resubmit again" if again else "Resubmit"
        self.app.push_screen(ConfirmScreen(question, detail, yes=yes, no="Keep"), answered)

    @work(thread=True, group="act", exit_on_error=False)
    def _resubmit(self, ids: list[str], again: bool = False) -> None:
        backend = self.simjobs.backend
        try:
            new_ids = backend.resubmit(ids, again)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"resubmit failed: {exc}",
                                      title="Resubmit", severity="error", timeout=8)
            return
        records = [r for r in (backend.get_record(j) for j in [*ids, *map(str, new_ids)]) if r]
        self.app.call_from_thread(self._resubmitted, ids, [str(j) for j in new_ids], records)

    def _resubmitted(self, old: list[str], new: list[str], records) -> None:
        self.table.apply_records(records)
        self.table.clear_marks()
        if new:
            self.table.move_to(new[0])
        pairs = ", ".join(f"{o} → {n}" for o, n in list(zip(old, new))[:3])
        more = ", …" if len(new) > 3 else ""
        self.notify(f"resubmitted {plural(len(new), 'job')}: {pairs}{more}",
                    title="Resubmit")
        self.refresh_views()

    # ---- other screens --------------------------------------------------------------------

    def action_submit(self) -> None:
        # The app holds the keys typed after `s` (see SimjobsApp.on_event): the form
        # releases them once its first field has the focus; anything else, now.
        # The other screens are imported when first used: the app starts sooner.
        if self._refuse_readonly():
            self.app.call_later(self.simjobs.release_keys)
            return
        from .submit import SubmitScreen

        self.app.push_screen(SubmitScreen(self.simjobs.backend))

    def action_log_view(self) -> None:
        from .log_view import SimulationsLogScreen

        self.app.push_screen(SimulationsLogScreen(self.simjobs.backend, self.model))

    def action_detail(self) -> None:
        job_id = self.table.cursor_job_id
        if job_id is None:
            self.notify("no job highlighted", severity="warning")
            return
        from .detail import JobDetailScreen

        self.app.push_screen(JobDetailScreen(self.simjobs.backend, job_id))

