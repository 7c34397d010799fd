"""The job table's model: every job as a row, and the filtered, sorted view of them.

Kept apart from the widget so that it can be changed in bulk at event speed without
touching Textual: an update moves only the rows that changed (a bisect on the stored
sort key), the view is re-sorted only when a sort or filter changes, and a reversed
sort is the same list read from the other end.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Callable, Optional

from ...core.records import LogRecord
from ...core.types import TERMINAL_STATUSES, JobStatus

#: The order statuses are sorted in: the job life cycle.
STATUS_RANK = {s: i for i, s in enumerate([
    JobStatus.PENDING_SUBMIT, JobStatus.SUBMITTED, JobStatus.RUNNING,
    JobStatus.PENDING_CANCEL, JobStatus.FAILED_CANCEL, JobStatus.COMPLETED,
    JobStatus.FAILED, JobStatus.FAILED_SUBMIT, JobStatus.CANCELLED,
])}
ACTIVE = "active"  # the status filter that keeps every job not yet ended


@dataclasses.dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    align: str = "left"  # or "right"
    hide_rank: int = 0  # hidden first (highest rank) when the table is narrow


COLUMNS: tuple[Column, ...] = (
    Column("job_id", "Job ID", 17),
    Column("level", "Lvl", 3, "right"),
    Column("interface", "Interface", 12),
    Column("status", "Status", 14),
    Column("input", "Input", 16),
    Column("output", "Output", 10, "right"),
    Column("submitted", "Submitted", 9, hide_rank=2),
    Column("changed", "Last change", 11, hide_rank=1),
    Column("elapsed", "Elapsed", 7, "right"),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)


class Row:
    """One job as the table shows it."""

    __slots__ = ("job_id", "num", "level", "interface", "status", "coords", "output",
                 "created", "changed", "reason", "key", "in_view", "haystack", "cells")

    def __init__(self, record: LogRecord):
        self.job_id = record.job_id
        try:
            self.num = int(record.job_id)
        except ValueError:
            self.num = 0
        self.key: Optional[tuple] = None
        self.in_view = False
        self.update(record)

    def update(self, record: LogRecord) -> None:
        self.level = record.level
        self.interface = record.interface_name or ""
        self.status = record.status
        self.coords = record.coords
        self.output = record.output
        self.created = record.created
        self.changed = record.changed
        self.reason = record.reason
        self.cells: Optional[tuple[str, ...]] = None
        self.haystack = f"{self.job_id} {self.interface} {format_input(self.coords)}".lower()

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


# ---- formatting --------------------------------------------------------------------------


def format_number(value: Optional[float]) -> str:
    if value is None:
        return "—"
    return f"{value:.6g}"


def format_input(coords: tuple) -> str:
    return ", ".join(f"{c:.3g}" for c in coords)


def format_time(t: Optional[float], now: float) -> str:
    """``14:02:11`` today, ``01 Jan 13:00`` another day."""
    if t is None:
        return "—"
    lt, ln = time.localtime(t), time.localtime(now)
    if lt[:3] == ln[:3]:
        return time.strftime("%H:%M:%S", lt)
    return time.strftime("%d %b %H:%M", lt)


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def elapsed(row: Row, now: float) -> Optional[float]:
    if row.created is None:
        return None
    end = row.changed if row.finished and row.changed is not None else now
    return end - row.created


def cell_texts(row: Row, now: float) -> tuple[str, ...]:
    """The texts of a row's cells (before fitting them to their widths)."""
    return (
        row.job_id,
        str(row.level),
        row.interface or "—",
        row.status.value,
        format_input(row.coords),
        format_number(row.output),
        format_time(row.created, now),
        format_time(row.changed, now),
        format_duration(elapsed(row, now)),
    )


def sort_key(row: Row, column: str, now: float) -> tuple:
    """A total order: the column's value, then the job id."""
    if column == "level":
        value = (row.level,)
    elif column == "interface":
        value = (row.interface,)
    elif column == "status":
        value = (STATUS_RANK.get(row.status, 99),)
    elif column == "input":
        value = row.coords
    elif column == "output":
        value = (0, 0.0) if row.output is None else (1, row.output)
    elif column == "submitted":
        value = (row.created or 0.0,)
    elif column == "changed":
        value = (row.changed or 0.0,)
    elif column == "elapsed":
        value = (elapsed(row, now) or 0.0,)
    else:
        value = ()
    return (*value, row.num, row.job_id)


# ---- the filter --------------------------------------------------------------------------


@dataclasses.dataclass
class Filter:
    """What the view keeps: all of these at once ('and')."""

    text: str = ""
    status: object = None  # None, ACTIVE, or a JobStatus
    level: Optional[int] = None
    interface: Optional[str] = None
    hide_finished: bool = False

    def matches(self, row: Row) -> bool:
        if self.hide_finished and row.status in TERMINAL_STATUSES:
            return False
        if self.status is not None:
            if self.status == ACTIVE:
                if row.status in TERMINAL_STATUSES:
                    return False
            elif row.status is not self.status:
                return False
        if self.level is not None and row.level != self.level:
            return False
        if self.interface is not None and row.interface != self.interface:
            return False
        if self.text:
            hay = row.haystack
            return all(word in hay for word in self.text.lower().split())
        return True

    def describe(self) -> str:
        parts = []
        if self.text:
            parts.append(f'"{self.text}"')
        if self.status is not None:
            parts.append(f"status={'active' if self.status == ACTIVE else self.status.value}")
        if self.level is not None:
            parts.append(f"level={self.level}")
        if self.interface is not None:
            parts.append(f"interface={self.interface}")
        if self.hide_finished:
            parts.append("finished hidden")
        return ", ".join(parts)

    @property
    def active(self) -> bool:
        return bool(self.describe())


# ---- the model ---------------------------------------------------------------------------


class JobModel:
    """Every job, the view (filtered and sorted), and counts kept as jobs change."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.rows: dict[str, Row] = {}
        self._view: list[Row] = []  # always ascending by Row.key
        self.sort_column = "job_id"
        self.sort_reverse = True  # newest first
        self.filter = Filter()
        self.status_counts: Counter = Counter()
        self.interface_counts: dict[str, Counter] = {}
        #: completion times per interface, oldest first (for the sparklines and jobs/min)
        self.completions: dict[str, deque] = {}

    # ---- reading the view ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._view)

    def row_at(self, index: int) -> Row:
        """The row shown at ``index`` (0 = top)."""
        view = self._view
        return view[len(view) - 1 - index] if self.sort_reverse else view[index]

    def rows_between(self, start: int, stop: int) -> list[Row]:
        n = len(self._view)
        return [self.row_at(i) for i in range(max(0, start), min(n, stop))]

    def index_of(self, job_id: str) -> Optional[int]:
        row = self.rows.get(job_id)
        if row is None or not row.in_view:
            return None
        i = bisect.bisect_left(self._view, row.key, key=_key_of)
        if i >= len(self._view) or self._view[i] is not row:
            return None  # cannot happen while keys are consistent; be safe
        return len(self._view) - 1 - i if self.sort_reverse else i

    # ---- counts --------------------------------------------------------------------------

    def _count(self, row: Row, sign: int) -> None:
        self.status_counts[row.status] += sign
        if self.status_counts[row.status] <= 0:
            del self.status_counts[row.status]
        per = self.interface_counts.setdefault(row.interface, Counter())
        per[row.status] += sign
        if per[row.status] <= 0:
            del per[row.status]

    def _note_completion(self, row: Row) -> None:
        if row.status is JobStatus.COMPLETED and row.changed is not None:
            times = self.completions.setdefault(row.interface, deque())
            if not times or times[-1] <= row.changed:
                times.append(row.changed)
            else:
                bisect.insort(times, row.changed)
            cutoff = self.clock() - 3600
            while times and times[0] < cutoff:
                times.popleft()

    def completions_per_minute(self, minutes: int = 10, interface: Optional[str] = None) -> float:
        now = self.clock()
        since = now - 60 * minutes
        sources = [self.completions.get(interface, ())] if interface else self.completions.values()
        n = sum(1 for times in sources for t in times if since <= t <= now)
        return n / minutes

    def completion_buckets(self, interface: str, minutes: int = 30) -> list[int]:
        """Completions per minute over the last ``minutes`` minutes, oldest first."""
        now = self.clock()
        buckets = [0] * minutes
        for t in self.completions.get(interface, ()):
            age = int((now - t) // 60)
            if 0 <= age < minutes:
                buckets[minutes - 1 - age] += 1
        return buckets

    # ---- changing ------------------------------------------------------------------------

    def load(self, records: Iterable[LogRecord]) -> None:
        """Replace everything (once, at start)."""
        self.rows = {}
        self.status_counts = Counter()
        self.interface_counts = {}
        self.completions = {}
        for record in records:
            row = Row(record)
            self.rows[row.job_id] = row
            self._count(row, +1)
            if row.status is JobStatus.COMPLETED and row.changed is not None:
                self.completions.setdefault(row.interface, []).append(row.changed)
        cutoff = self.clock() - 3600
        self.completions = {
            name: deque(sorted(t for t in times if t >= cutoff))
            for name, times in self.completions.items()
        }
        self.rebuild()

    def rebuild(self) -> None:
        """Filter and sort from scratch (a new sort or filter)."""
        now = self.clock()
        column, keep = self.sort_column, self.filter.matches
        view = []
        for row in self.rows.values():
            row.in_view = keep(row)
            if row.in_view:
                row.key = sort_key(row, column, now)
                view.append(row)
        view.sort(key=_key_of)
        self._view = view

    def update(self, records: Iterable[LogRecord]) -> tuple[set[str], bool]:
        """Apply changed or new records.

        Returns the ids of the rows that changed in place, and whether rows were added,
        removed or moved in the view (then the whole visible part needs redrawing).
        """
        records = list(records)
        changed: set[str] = set()
        moved = False
        many = len(records) > max(200, len(self._view) // 20)
        now = self.clock()
        column, keep = self.sort_column, self.filter.matches
        for record in records:
            row = self.rows.get(record.job_id)
            was_completed = False
            if row is None:
                row = Row(record)
                self.rows[row.job_id] = row
                self._count(row, +1)
            else:
                was_completed = row.status is JobStatus.COMPLETED
                self._count(row, -1)
                row.update(record)
                self._count(row, +1)
            if row.status is JobStatus.COMPLETED and not was_completed:
                self._note_completion(row)
            new_in = keep(row)
            if many:
                row.in_view = new_in
                moved = True
                continue
            new_key = sort_key(row, column, now) if new_in else None
            if row.in_view and new_in and new_key == row.key:
                changed.add(row.job_id)
                continue
            if row.in_view:
                self._remove(row)
            if new_in:
                row.key = new_key
                bisect.insort(self._view, row, key=_key_of)
                row.in_view = True
            moved = True
        if many:
            self.rebuild()
        return changed, moved

    def _remove(self, row: Row) -> None:
        i = bisect.bisect_left(self._view, row.key, key=_key_of)
        if i < len(self._view) and self._view[i] is row:
            del self._view[i]
        else:  # keys went stale (never expected): find it the slow way
            self._view.remove(row)
        row.in_view = False

    def set_sort(self, column: str, reverse: Optional[bool] = None) -> None:
        if column not in COLUMN_KEYS:
            raise ValueError(f"unknown column {column!r}; one of {', '.join(COLUMN_KEYS)}")
        self.sort_column = column
        if reverse is not None:
            self.sort_reverse = reverse
        self.rebuild()

    def set_reverse(self, reverse: bool) -> None:
        self.sort_reverse = reverse  # the same list read from the other end

    def set_filter(self, flt: Filter) -> None:
        self.filter = flt
        self.rebuild()


def _key_of(row: Row) -> tuple:
    return row.key
