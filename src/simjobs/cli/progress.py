"""A live view of a running JobManager for the terminal, driven by its events.

:class:`ProgressView` subscribes to the manager and keeps its counters up to date from
the JobEvents alone; the log is read once, at the start. On a terminal it draws a rich
``Live`` table (at most 4 redraws a second): counts of each status per level and per
interface, a progress bar of the jobs of this session, jobs completed per minute and
the last status changes. When stdout is not a terminal it prints one plain line per
status change instead, so that scripts and tests can read it.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Callable, Optional

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ..core.events import Event, InterfaceHealthEvent, JobEvent
from ..core.manager import JobManager
from ..core.types import TERMINAL_STATUSES, JobStatus

RECENT_CHANGES = 10
RATE_WINDOW = 300.0  # seconds over which jobs/min is measured
MIN_RATE_WINDOW = 60.0  # never over less: a burst just after start is not a pace
REFRESH_PER_SECOND = 4

# Display order and short column titles of the statuses.
STATUS_COLUMNS: dict[JobStatus, str] = {
    JobStatus.PENDING_SUBMIT: "pending",
    JobStatus.SUBMITTED: "submitted",
    JobStatus.RUNNING: "running",
    JobStatus.PENDING_CANCEL: "cancelling",
    JobStatus.FAILED_CANCEL: "cancel failed",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.FAILED_SUBMIT: "submit failed",
    JobStatus.CANCELLED: "cancelled",
}
ALWAYS_SHOWN = (JobStatus.PENDING_SUBMIT, JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED)
STATUS_STYLES = {
    JobStatus.COMPLETED: "green",
    JobStatus.FAILED: "red",
    JobStatus.FAILED_SUBMIT: "red",
    JobStatus.FAILED_CANCEL: "red",
    JobStatus.RUNNING: "cyan",
    JobStatus.CANCELLED: "yellow",
    JobStatus.PENDING_CANCEL: "yellow",
}


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _one_line(text: str) -> str:
    # Reasons may hold a stderr tail; a status change stays one line.
    return " ".join(text.split())


def format_event(event: Event) -> str:
    """One plain line describing an event."""
    if isinstance(event, InterfaceHealthEvent):
        detail = f": {event.message}" if event.message else ""
        return f"{_clock(event.time)} interface {event.interface_name}: {event.old_state} -> {event.state}{detail}"
    old = event.old_status.value if event.old_status else "new"
    line = (f"{_clock(event.time)} job {event.job_id} level {event.level} "
            f"{event.interface_name or '-'}: {old} -> {event.new_status.value}")
    if event.output is not None:
        line += f" output={event.output!r}"
    if event.reason:
        line += f" ({_one_line(event.reason)})"
    return line


class ProgressView:
    """Shows the progress of ``manager``'s jobs until :meth:`stop`.

    Parameters
    ----------
    manager : JobManager
        The running manager to follow.
    console : rich.console.Console, optional
        Where to draw; by default a console on stdout.
    title : str, optional
        The heading of the live table.
    resumed : iterable of str, optional
        The ids of the log's jobs that had not ended when the manager started: the
        ones it resumed belong to this session even if they ended before the view
        started (a run that only resumes jobs then says "3/3 done", not "0/0").

    Notes
    -----
    Use as a context manager, or call :meth:`start` and :meth:`stop`. The jobs of
    "this session" (the progress bar) are those the manager monitored when the view
    started, those of ``resumed`` it has ended since, and every job submitted since.
    """

    def __init__(self, manager: JobManager, console: Optional[Console] = None,
                 title: str = "simjobs", *, resumed: Iterable[str] = ()):
        self.manager = manager
        self.console = console or Console()
        self.title = title
        self._resumed = {str(j) for j in resumed}
        self._lock = threading.Lock()
        self._ready = False
        self._buffer: list[Event] = []
        self._jobs: dict[str, tuple[JobStatus, int, str]] = {}  # id -> (status, level, iface)
        self._by_level: dict[int, Counter] = collections.defaultdict(Counter)
        self._by_interface: dict[str, Counter] = collections.defaultdict(Counter)
        self._interface_level: dict[str, int] = {}  # for interfaces known from jobs only
        self._session: set[str] = set()
        self._session_done = 0
        self._completions: collections.deque[float] = collections.deque()
        self._recent: collections.deque[Event] = collections.deque(maxlen=RECENT_CHANGES)
        self._health: dict[str, InterfaceHealthEvent] = {}
        self._started = time.monotonic()
        self._unsubscribe: Optional[Callable[[], None]] = None
        self._live: Optional[Live] = None
        self._pause_lock = threading.Lock()
        self._pauses = 0  # paused() calls under way

    @property
    def live(self) -> bool:
        """True when drawing a live table (stdout is a terminal), False for plain lines."""
        return self.console.is_terminal

    # ---- life cycle

    def start(self) -> "ProgressView":
        # Subscribe before reading the log, buffering events until the snapshot is in:
        # replayed in order, the buffer can only bring the snapshot forward.
        # The manager's jobs before the log: a job ending in between is then active
        # and, in the records, ended; read the other way round it would be neither.
        self._unsubscribe = self.manager.subscribe(self._on_event)
        active = {str(job.id) for job, _ in self.manager.active_jobs()}
        records = self.manager.simulations_log.iter_records()
        with self._lock:
            for r in records:
                self._set(r.job_id, r.status, r.level, r.interface_name)

            def ended(job_id: str) -> bool:
                return job_id in self._jobs and self._jobs[job_id][0] in TERMINAL_STATUSES

            # A resumed job no longer active has ended (or was not resumed: it has not).
            self._session = active | {j for j in self._resumed if ended(j)}
            # (A job submitted since the records were read is not among them yet; its
            # buffered creation event adds it.)
            self._session_done = sum(1 for j in self._session if ended(j))
            buffered, self._buffer = self._buffer, []
            for event in buffered:
                self._apply(event)
                if not self.live:
                    self._print(event)  # under the lock: before any later event's line
            self._ready = True
        if self.live:
            with self._pause_lock:
                self._live = Live(get_renderable=self.render, console=self.console,
                                  refresh_per_second=REFRESH_PER_SECOND, transient=False)
                if not self._pauses:
                    self._live.start()
        return self

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The live table stops drawing meanwhile (the terminal asks a login question),
        then draws again below what was written."""
        with self._pause_lock:
            self._pauses += 1
            if self._pauses == 1 and self._live is not None:
                self._live.stop()
        try:
            yield
        finally:
            with self._pause_lock:
                self._pauses -= 1
                if not self._pauses and self._live is not None:
                    self._live.start()

    def stop(self) -> None:
        """Stop following the manager; prints a one-line summary."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._pause_lock:
            if self._live is not None:
                if not self._pauses:
                    self._live.refresh()
                    self._live.stop()
                self._live = None
        self.console.print(self.summary(), highlight=False, soft_wrap=True)

    def __enter__(self) -> "ProgressView":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- state

    @property
    def done(self) -> int:
        """Jobs of this session that have ended."""
        return self._session_done

    @property
    def total(self) -> int:
        """Jobs of this session."""
        return len(self._session)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobEvent) and event.old_status is event.new_status:
            return  # a repeated status says nothing new
        with self._lock:
            if not self._ready:
                self._buffer.append(event)
                return
            self._apply(event)
        if not self.live:
            self._print(event)

    def _print(self, event: Event) -> None:
        self.console.print(format_event(event), highlight=False, markup=False, soft_wrap=True)

    def _set(self, job_id: str, status: JobStatus, level: int, interface: str) -> None:
        old = self._jobs.get(job_id)
        if old is not None:
            self._by_level[old[1]][old[0]] -= 1
            self._by_interface[old[2]][old[0]] -= 1
        self._jobs[job_id] = (status, level, interface)
        self._by_level[level][status] += 1
        self._by_interface[interface][status] += 1
        self._interface_level.setdefault(interface, level)

    def _apply(self, event: Event) -> None:
        if isinstance(event, InterfaceHealthEvent):
            self._health[event.interface_name] = event
            self._recent.append(event)
            return
        key = str(event.job_id)
        previous = self._jobs.get(key)
        if previous is None or event.old_status is None:
            self._session.add(key)
        was_done = previous is not None and previous[0] in TERMINAL_STATUSES
        self._set(key, event.new_status, event.level, event.interface_name or "")
        if key in self._session and not was_done and event.new_status in TERMINAL_STATUSES:
            self._session_done += 1
        if event.new_status is JobStatus.COMPLETED:
            self._completions.append(time.monotonic())
        self._recent.append(event)

    def jobs_per_minute(self) -> float:
        """Completions per minute over :meth:`rate_window` seconds."""
        now = time.monotonic()
        while self._completions and now - self._completions[0] > RATE_WINDOW:
            self._completions.popleft()
        return len(self._completions) * 60.0 / self.rate_window()

    def rate_window(self) -> float:
        """The last 5 minutes, shortened to the time since this view started (nothing
        before it is counted), but never under a minute: 20 jobs that had ended while no
        manager ran, noticed in the first second after a restart, read as 20 in the last
        minute, not as 1,200 a minute."""
        return min(RATE_WINDOW, max(time.monotonic() - self._started, MIN_RATE_WINDOW))

    def summary(self) -> str:
        with self._lock:
            counts = Counter()
            for key in self._session:
                if key in self._jobs:
                    counts[self._jobs[key][0]] += 1
            done, total = self._session_done, len(self._session)
        parts = ", ".join(f"{n} {s.value}" for s, n in sorted(
            counts.items(), key=lambda item: list(STATUS_COLUMNS).index(item[0])) if n)
        elapsed = _duration(time.monotonic() - self._started)
        return f"{done} of {total} jobs done in {elapsed}" + (f": {parts}" if parts else "")

    # ---- drawing

    def render(self) -> Group:
        """The live view: progress, counts per level and interface, recent changes."""
        with self._lock:
            return Group(self._render_progress(), self._render_counts(), self._render_recent())

    def _render_progress(self) -> Group:
        done, total = self._session_done, len(self._session)
        bar = Table.grid(padding=(0, 1))
        bar.add_column(width=30)
        bar.add_column()
        bar.add_row(
            ProgressBar(total=max(total, 1), completed=done if total else 0, width=30),
            Text(f"{done}/{total} done · {self.jobs_per_minute():.1f} jobs/min "
                 f"(last {self.rate_window() / 60:.0f} min) · "
                 f"{_duration(time.monotonic() - self._started)}"),
        )
        return Group(Text(self.title, style="bold"), bar)

    def _render_counts(self) -> Table:
        shown = [s for s in STATUS_COLUMNS if s in ALWAYS_SHOWN or any(
            c[s] for c in self._by_level.values())]
        table = Table(box=None, pad_edge=False, header_style="bold")
        table.add_column("")
        for status in shown:
            table.add_column(STATUS_COLUMNS[status], justify="right",
                             style=STATUS_STYLES.get(status, ""))
        table.add_column("total", justify="right")
        table.add_column("health")
        by_level = self._interfaces_by_level()
        for level in sorted(set(self._by_level) | set(by_level)):
            counts = self._by_level.get(level, Counter())
            table.add_row(f"level {level}", *self._cells(counts, shown), "")
            for name in by_level.get(level, []):  # each interface under its own level
                counts = self._by_interface.get(name, Counter())
                health = self._health.get(name)
                state = "" if health is None else (
                    health.state + (f": {health.message}" if health.message else ""))
                table.add_row(Text(f"  {name or '(no interface)'}", style="" if name else "dim"),
                              *self._cells(counts, shown), state)
        return table

    def _interfaces_by_level(self) -> dict[int, list[str]]:
        """The interfaces to show under each level: the configured ones in their order,
        then others the log's jobs name (an interface since removed from the config)."""
        by_level: dict[int, list[str]] = collections.defaultdict(list)
        configured = set()
        for interface in self.manager.interfaces:
            by_level[interface.level].append(interface.name)
            configured.add(interface.name)
        for name in sorted(n for n, c in self._by_interface.items()
                           if n not in configured and sum(c.values()) > 0):
            by_level[self._interface_level[name]].append(name)
        return by_level

    @staticmethod
    def _cells(counts: Counter, shown: list[JobStatus]) -> list[str]:
        return [str(counts[s] or "·") for s in shown] + [str(sum(counts.values()))]

    def _render_recent(self) -> Group:
        # One line per change, cut at the screen's edge rather than wrapped.
        lines = [Text("last changes", style="bold")]
        for event in reversed(self._recent):
            if isinstance(event, InterfaceHealthEvent):
                what = f"{event.interface_name}: {event.old_state} -> {event.state}"
                detail = event.message
            else:
                old = event.old_status.value if event.old_status else "new"
                what = (f"{event.job_id} L{event.level} {event.interface_name or '-'}: "
                        f"{old} -> {event.new_status.value}")
                detail = _one_line(event.reason) if event.reason else (
                    "" if event.output is None else f"output {event.output:.6g}")
            line = Text.assemble((_clock(event.time), "dim"), "  ", what,
                                 ("  " + _one_line(detail)) if detail else "")
            line.no_wrap, line.overflow = True, "ellipsis"
            lines.append(line)
        return Group(*lines)
