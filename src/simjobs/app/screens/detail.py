"""The job detail view (``enter``): every field of a job, its timeline, where it runs,
and the tails of its stdout and stderr.

The record comes from the log (in memory, instant); where the job runs and its output
tails come from ``backend.job_details``, which may be a round trip to a remote host, so
they are fetched in a thread worker and shown when they arrive. The jobs a job was
resubmitted from or as open with ``o`` / ``n``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from simjobs.app.messages import JobsUpdated
from simjobs.app.model import format_duration
from simjobs.core.records import LogRecord
from simjobs.core.types import TERMINAL_STATUSES


def format_when(t: Optional[float], now: float) -> str:
    """``2026-01-01 13:59:00 (1m00s ago)``; ``—`` when unknown."""
    if t is None:
        return "—"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
    age = now - t
    if age >= 0:
        return f"{stamp} ({format_duration(age)} ago)"
    return stamp


def format_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def fields_table(record: LogRecord, now: float) -> Table:
    """Every field of the record, labelled."""
    table = _table()
    table.add_row("Job ID", record.job_id)
    table.add_row("Status", record.status.value)
    table.add_row("Level", str(record.level))
    table.add_row("Interface", record.interface_name or "— (not assigned yet)")
    for i, c in enumerate(record.coords, start=1):
        table.add_row(f"Input x{i}", repr(float(c)))
    table.add_row("Output", format_value(record.output))
    table.add_row("Submitted", format_when(record.created, now))
    table.add_row("Last change", format_when(record.changed, now))
    if record.created is not None:
        end = record.changed if record.status in TERMINAL_STATUSES else now
        if end is not None:
            table.add_row("Elapsed", format_duration(end - record.created))
    table.add_row("Reason", record.reason or "—")
    table.add_row("Resubmitted from", (record.resubmit_of + "  (o opens it)")
                  if record.resubmit_of else "—")
    links = record.resubmitted_as
    table.add_row("Resubmitted as", (", ".join(links) + (
        "  (n opens it)" if len(links) == 1 else "  (n opens the last)")) if links else "—")
    return table


def timeline_table(record: LogRecord) -> Table:
    """The status changes, oldest first, with the time each took."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, justify="right", style="dim")
    history = list(record.history)
    if not history:
        table.add_row("—", "no status change recorded", "")
    for i, (status, t) in enumerate(history):
        after = "" if i == 0 else f"+{format_duration(t - history[i - 1][1])}"
        table.add_row(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)), status.value, after)
    return table


#: What "Where it runs" shows from ``job_details``, in this order. ``{kind}`` and
#: ``{scheduler}`` stand for a batch interface's kind and scheduler name ("sge",
#: "Grid Engine"): its details name the scheduler's job id ``<kind>_job_id``.
WHERE_FIELDS = [
    ("kind", "Kind"), ("host", "Host"), ("node", "Node"), ("partition", "Partition"),
    ("queue", "Queue"), ("job_dir", "Job directory"), ("{kind}_job_id", "{scheduler} job id"),
    ("{kind}_state", "{scheduler} state"), ("{kind}_reason", "{scheduler} reason"),
    ("pid", "PID"), ("status", "Status (job dir)"), ("started", "Started"),
    ("ended", "Ended"), ("exit_code", "Exit code"),
]


def where_fields(details: dict) -> list[tuple[str, str]]:
    """:data:`WHERE_FIELDS` for these details: the scheduler's keys and names filled in
    (batch interfaces' details name their ``scheduler``; a user's own interface that
    gives ``<kind>_job_id`` without it gets its kind, capitalised)."""
    kind = next((key[:-len("_job_id")] for key in details if key.endswith("_job_id")),
                "slurm")
    scheduler = details.get("scheduler") or kind.capitalize()
    return [(key.format(kind=kind), label.format(scheduler=scheduler))
            for key, label in WHERE_FIELDS]


def where_table(details: dict, now: float) -> Table:
    """Where the job runs, from ``backend.job_details`` (only what it knows)."""
    table = _table()
    for key, label in where_fields(details):
        if key not in details or details[key] is None or details[key] == "":
            continue
        value = details[key]
        if key in ("started", "ended") and isinstance(value, (int, float)):
            text = format_when(float(value), now)
        else:
            text = format_value(value)
        table.add_row(label, text)
    if details.get("note"):
        table.add_row("Note", str(details["note"]))
    if details.get("health"):
        table.add_row("Interface", Text(str(details["health"]), style="yellow"))
    if details.get("error"):
        table.add_row("Error", Text(str(details["error"]), style="bold red"))
    if not table.row_count:
        table.add_row("—", "the interface gave no details for this job")
    return table


class JobDetailScreen(ModalScreen[None]):
    """One job in full; see the module docstring."""

    CSS_PATH = Path(__file__).with_name("detail.tcss")

    BINDINGS = [
        Binding("escape", "close", "Close", id="detail.close", tooltip="Back"),
        Binding("r", "refresh_details", "Refresh", id="detail.refresh",
                tooltip="Ask the interface again (output tails, exit code)"),
        Binding("o", "open_original", "Resubmitted from", id="detail.original",
                tooltip="The job this one was resubmitted from"),
        Binding("n", "open_new", "Resubmitted as", id="detail.new",
                tooltip="The job that replaced this one"),
    ]

    def __init__(self, backend: Any, job_id: Any):
        super().__init__()
        self.backend = backend
        self.job_id = str(job_id)
        self.record: Optional[LogRecord] = None
        self.details: Optional[dict] = None  # None until fetched
        self.details_error: Optional[str] = None

    def compose(self) -> ComposeResult:
        with Vertical(id="detail-dialog"):
            yield Label(f"Job {self.job_id}", id="detail-title")
            with VerticalScroll(id="detail-body"):
                yield Static(id="fields")
                yield Label("Timeline", classes="section")
                yield Static(id="timeline")
                yield Label("Where it runs", classes="section")
                yield Static("Fetching from the interface…", id="where")
                yield Label("stdout (last lines)", classes="section")
                yield Static("Fetching…", id="stdout", classes="tail", markup=False)
                yield Label("stderr (last lines)", classes="section")
                yield Static("Fetching…", id="stderr", classes="tail", markup=False)
            yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()
        self._show_record()
        self._fetch_details()

    # ---- the record (from the log, instant)

    def _show_record(self) -> None:
        self.record = self.backend.get_record(self.job_id)
        title = self.query_one("#detail-title", Label)
        if self.record is None:
            title.update(f"Job {self.job_id}: not in the log")
            self.query_one("#fields", Static).update(
                f"The log has no job {self.job_id}; it may have been removed.")
            self.query_one("#timeline", Static).update("—")
            return
        now = self.backend.clock()
        title.update(f"Job {self.job_id} · {self.record.status.value} · level "
                     f"{self.record.level} · {self.record.interface_name or 'no interface'}")
        self.query_one("#fields", Static).update(fields_table(self.record, now))
        self.query_one("#timeline", Static).update(timeline_table(self.record))
        self.refresh_bindings()

    @on(JobsUpdated)
    def _jobs_updated(self, message: JobsUpdated) -> None:
        """Follow the job live: a new status redraws the fields and the timeline, and
        fetches the details again (the tails have grown, the exit code is known)."""
        mine = [r for r in message.records if r.job_id == self.job_id]
        if not mine:
            return
        old_status = self.record.status if self.record is not None else None
        self._show_record()
        if self.record is not None and self.record.status is not old_status:
            self._fetch_details()

    # ---- where it runs and the tails (maybe remote: a thread)

    @work(thread=True, exclusive=True, group="job-details", exit_on_error=False)
    def _fetch_details(self) -> None:
        try:
            details = self.backend.job_details(self.job_id)
            error = None
        except Exception as exc:  # noqa: BLE001 - shown in one line, never a traceback
            details, error = {}, f"{type(exc).__name__}: {exc}".splitlines()[0]
        self.app.call_from_thread(self._show_details, details or {}, error)

    def _show_details(self, details: dict, error: Optional[str]) -> None:
        if not self.is_attached:  # closed while the interface was answering
            return
        self.details = details
        self.details_error = error
        now = self.backend.clock()
        where = self.query_one("#where", Static)
        if error is not None:
            where.update(Text(f"Could not fetch the job's details: {error}", style="bold red"))
        else:
            where.update(where_table(details, now))
        for key, widget_id in (("stdout_tail", "#stdout"), ("stderr_tail", "#stderr")):
            tail = details.get(key)
            if tail is None and details.get("unreachable"):
                text = "(not fetched: the interface is unreachable now; see Error above)"
            elif tail is None:
                text = "(not available from this interface)" if error is None else "—"
            elif not tail.strip():
                text = "(empty)"
            else:
                text = tail.rstrip("\n")
            self.query_one(widget_id, Static).update(text)

    @property
    def fetched(self) -> bool:
        """The details have arrived (or failed): tests wait on this."""
        return self.details is not None

    # ---- actions

    def check_action(self, action: str, parameters: tuple) -> Optional[bool]:
        if action == "open_original":
            return bool(self.record and self.record.resubmit_of)
        if action == "open_new":
            return bool(self.record and self.record.resubmitted_as)
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_refresh_details(self) -> None:
        self.details = None
        self._show_record()
        self.query_one("#where", Static).update("Fetching from the interface…")
        self._fetch_details()

    def action_open_original(self) -> None:
        if self.record and self.record.resubmit_of:
            self.app.push_screen(JobDetailScreen(self.backend, self.record.resubmit_of))

    def action_open_new(self) -> None:
        if self.record and self.record.resubmitted_as:
            self.app.push_screen(JobDetailScreen(self.backend, self.record.resubmitted_as[-1]))
