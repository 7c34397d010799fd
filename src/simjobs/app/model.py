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
from itertools import compress, repeat
from operator import attrgetter, contains, eq, is_
from typing import Callable, Optional

from ..core.records import LogRecord
from ..core.types import TERMINAL_STATUSES, JobStatus

#: The order statuses are sorted in: the job life cycle.
STATUS_RANK = {s: i for i, s in enumerate([
    JobStatus.PENDING_SUBMIT, JobStatus.SUBMITTED, JobStatus.RUNNING,
    JobStatus.PENDING_CANCEL, JobStatus.FAILED_CANCEL, JobStatus.COMPLETED,
    JobStatus.FAILED, JobStatus.FAILED_SUBMIT, JobStatus.CANCELLED,
])}
#: Minutes of completions kept for the sparklines.
KEEP_MINUTES = 60
#: The window of the completion rates shown (status bar, load panels), in seconds.
RATE_WINDOW = 300.0
#: The shortest window a rate is measured over: 16 jobs done in the first 10 s read
#: as 16 in the last minute, not as 96 a minute.
MIN_RATE_WINDOW = 60.0
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
    """One job as the table shows it: a few fields copied for filtering and counting,
    the rest read from the record when the row is drawn (times are decoded lazily)."""

    __slots__ = ("job_id", "num", "level", "interface", "status", "rec", "key", "in_view",
                 "_hay")

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
        self.rec = record
        self.level = record.level
        self.interface = record.interface_name or ""
        self.status = record.status
        self._hay: Optional[str] = None

    @property
    def coords(self) -> tuple:
        return self.rec.coords

    @property
    def output(self) -> Optional[float]:
        return self.rec.output

    @property
    def created(self) -> Optional[float]:
        return self.rec.created

    @property
    def changed(self) -> Optional[float]:
        return self.rec.changed

    @property
    def reason(self) -> Optional[str]:
        return self.rec.reason

    @property
    def haystack(self) -> str:
        """What the text filter looks in: id, interface and input (lower case)."""
        hay = self._hay
        if hay is None:
            hay = self._hay = (f"{self.job_id} {self.interface} "
                               f"{format_input(self.rec.coords)}").lower()
        return hay

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


def format_duration(seconds: Optional[float], live: bool = False) -> str:
    """``3m05s``; for a job still going (``live``) coarser (5 s steps in its first
    minute, then whole minutes), so that a screen of running jobs redraws rarely."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if live:
        if s < 60:
            return f"{s - s % 5}s"
        if s < 3600:
            return f"{s // 60}m"
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
        format_duration(elapsed(row, now), live=not row.finished),
    )


def primary_function(column: str, now: float) -> Callable[[Row], object]:
    """The value a row is sorted on in ``column`` (ties go by job id: see
    :func:`key_function`). Values of one column are all of one type (floats, ints,
    strings or tuples), which Python's sort compares fastest."""
    if column == "level":
        return _LEVEL
    if column == "interface":
        return _INTERFACE
    if column == "status":
        rank = STATUS_RANK
        return lambda r: rank.get(r.status, 99)
    if column == "input":
        return _COORDS
    if column == "output":
        def output_key(r: Row) -> float:
            o = r.rec.output
            return _NO_OUTPUT if o is None else o  # outputs are finite: None sorts first
        return output_key
    if column == "submitted":
        return lambda r: r.rec.created or 0.0
    if column == "changed":
        return lambda r: r.rec.changed or 0.0
    if column == "elapsed":
        return lambda r: elapsed(r, now) or 0.0
    return _NUM


def key_function(column: str, now: float) -> Callable[[Row], tuple]:
    """The sort key of ``column`` (a total order: the value, then the job id)."""
    primary = primary_function(column, now)
    return lambda r: (primary(r), r.num, r.job_id)


def sort_key(row: Row, column: str, now: float) -> tuple:
    """The sort key of one row (see :func:`key_function`)."""
    return key_function(column, now)(row)


_LEVEL = attrgetter("level")
_INTERFACE = attrgetter("interface")
_COORDS = attrgetter("rec.coords")
_NUM = attrgetter("num")
_ID_ORDER = attrgetter("num", "job_id")
_HAY = attrgetter("_hay")
_CREATED = attrgetter("rec.created")
_CHANGED = attrgetter("rec.changed")
_OUTPUT = attrgetter("rec.output")
_STATUS = attrgetter("status")
_NOT_ENDED = frozenset(JobStatus) - frozenset(TERMINAL_STATUSES)
_NO_OUTPUT = float("-inf")


def column_values(column: str, rows: list[Row], now: float) -> list:
    """``primary_function(column, now)`` of each of ``rows``, by C-level loops where
    the column allows."""
    if column == "status":
        return list(map(STATUS_RANK.__getitem__, map(_STATUS, rows)))
    if column in ("submitted", "changed"):
        get = _CREATED if column == "submitted" else _CHANGED
        return [v or 0.0 for v in map(get, rows)]
    if column == "elapsed":
        ended = TERMINAL_STATUSES
        return [(((changed if status in ended and changed is not None else now) - created)
                 if created is not None else None) or 0.0
                for created, changed, status in zip(map(_CREATED, rows), map(_CHANGED, rows),
                                                    map(_STATUS, rows))]
    if column == "output":
        none = _NO_OUTPUT
        return [none if v is None else v for v in map(_OUTPUT, rows)]
    return list(map(primary_function(column, now), rows))


def sort_rows(rows: list[Row], column: str, now: float, by_id: bool = False) -> list[Row]:
    """``rows`` in the order of ``column`` (ties by job id), each row's ``key`` set to
    its value: one stable sort on the values alone (C-level comparisons of floats, ints
    or strings) of the rows put in job-id order first (``by_id``: they are already; the
    log's order mostly is: a linear pass)."""
    if not by_id:
        rows = sorted(rows, key=_ID_ORDER)
    primary = primary_function(column, now)
    values = column_values(column, rows, now)
    for row, value in zip(rows, values):
        row.key = value
    if primary is _NUM:
        return list(rows)
    order = sorted(range(len(rows)), key=values.__getitem__)
    return list(map(rows.__getitem__, order))


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

    def predicate(self) -> Optional[Callable[[Row], bool]]:
        """A fast test for rows, or None when the filter keeps everything."""
        if not self.active:
            return None
        tests = []
        if self.hide_finished or self.status == ACTIVE:
            tests.append(lambda r: r.status not in TERMINAL_STATUSES)
        if self.status is not None and self.status != ACTIVE:
            wanted = self.status
            tests.append(lambda r: r.status is wanted)
        if self.level is not None:
            level = self.level
            tests.append(lambda r: r.level == level)
        if self.interface is not None:
            name = self.interface
            tests.append(lambda r: r.interface == name)
        words = self.text.lower().split()
        if len(words) == 1:
            word = words[0]
            tests.append(lambda r: word in r.haystack)
        elif words:
            tests.append(lambda r: all(w in r.haystack for w in words))
        if len(tests) == 1:
            return tests[0]
        return lambda r: all(t(r) for t in tests)

    def select(self, rows: list[Row]) -> list[Row]:
        """The rows this filter keeps, in their order: each test one C-level pass over
        the rows (``compress``/``map``), not a Python call per row."""
        out = rows
        if self.hide_finished or self.status == ACTIVE:
            out = list(compress(out, map(_NOT_ENDED.__contains__, map(_STATUS, out))))
        if self.status is not None and self.status != ACTIVE:
            out = list(compress(out, map(is_, map(_STATUS, out), repeat(self.status))))
        if self.level is not None:
            out = list(compress(out, map(eq, map(_LEVEL, out), repeat(self.level))))
        if self.interface is not None:
            out = list(compress(out, map(eq, map(_INTERFACE, out), repeat(self.interface))))
        for word in self.text.lower().split():
            hays = list(map(_HAY, out))
            if None in hays:
                hays = [row.haystack for row in out]
            out = list(compress(out, map(contains, hays, repeat(word))))
        return out if out is not rows else list(rows)

    def narrows(self, old: "Filter") -> bool:
        """True if every row this filter keeps was kept by ``old`` (typing on)."""
        return (self.status == old.status and self.level == old.level
                and self.interface == old.interface
                and self.hide_finished == old.hide_finished
                and self.text.lower().startswith(old.text.lower()))

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
        return bool(self.text.strip() or self.status is not None or self.level is not None
                    or self.interface is not None or self.hide_finished)


# ---- the model ---------------------------------------------------------------------------


class JobModel:
    """Every job, the view (filtered and sorted), and counts kept as jobs change.

    ``_all`` holds every row ascending by its stored sort key; ``_view`` is ``_all``
    itself when no filter is set, else the kept rows in the same order. A new filter
    only filters (no sort); typing on filters the current view; a reversed sort reads
    the same list from the other end.
    """

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.rows: dict[str, Row] = {}
        self._all: list[Row] = []
        self._view: list[Row] = self._all
        self._keep: Optional[Callable[[Row], bool]] = None
        self._by_id: Optional[list[Row]] = None  # every row in job-id order (sorts start there)
        self.sort_column = "job_id"
        self.sort_reverse = True  # newest first
        self.filter = Filter()
        self._counts: Counter = Counter()  # (interface, JobStatus) -> jobs
        #: completions per interface and minute (epoch minute -> jobs): the sparklines
        #: and jobs/min, at a cost that does not grow with the rate
        self.completions: dict[str, Counter] = {}
        #: when this model (the app) started: rates count no completion before it
        self.started = clock()
        self._rated: deque[tuple[float, str]] = deque()  # (time, interface) since started

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

    def index_of(self, job_id: Optional[str]) -> Optional[int]:
        row = self.rows.get(job_id) if job_id is not None else None
        if row is None or not row.in_view:
            return None
        i = self._find(self._view, row)
        if i is None:
            return None
        return len(self._view) - 1 - i if self.sort_reverse else i

    @staticmethod
    def _find(rows: list[Row], row: Row) -> Optional[int]:
        i = bisect.bisect_left(rows, _key_of(row), key=_key_of)
        return i if i < len(rows) and rows[i] is row else None

    # ---- counts --------------------------------------------------------------------------

    @property
    def status_counts(self) -> dict[JobStatus, int]:
        out: dict[JobStatus, int] = {}
        for (_, status), n in self._counts.items():
            if n > 0:
                out[status] = out.get(status, 0) + n
        return out

    def counts_for(self, interface: str) -> dict[JobStatus, int]:
        return {status: n for (name, status), n in self._counts.items()
                if name == interface and n > 0}

    @property
    def interface_status_counts(self) -> dict[tuple[str, str], int]:
        """Jobs per (interface name, status text) ("" for no interface), with every pair
        counted since the model was loaded, 0 when its jobs have all moved on: what the
        table's columns may have to show."""
        return {(name, status.value): n for (name, status), n in self._counts.items()}

    def _note_completion(self, row: Row) -> None:
        changed = row.changed
        if row.status is JobStatus.COMPLETED and changed is not None:
            if changed >= self.started:
                self._rated.append((changed, row.interface))
            bins = self.completions.setdefault(row.interface, Counter())
            bins[int(changed // 60)] += 1
            if len(bins) > 2 * KEEP_MINUTES:  # forget what no view shows any more
                oldest = int(self.clock() // 60) - KEEP_MINUTES
                for minute in [m for m in bins if m < oldest]:
                    del bins[minute]

    def completion_rate(self, interface: Optional[str] = None) -> tuple[float, float]:
        """Completions per minute, and the window in seconds they were counted over.

        The window is the last :data:`RATE_WINDOW` seconds, shortened to the time since
        the app started (completions from before it say nothing of this run's pace) but
        never below :data:`MIN_RATE_WINDOW`."""
        now = self.clock()
        rated = self._rated
        while rated and rated[0][0] < now - RATE_WINDOW:
            rated.popleft()
        window = min(RATE_WINDOW, max(now - self.started, MIN_RATE_WINDOW))
        since = now - window
        n = sum(1 for when, name in rated
                if when >= since and (interface is None or name == interface))
        return n * 60.0 / window, window

    def completion_buckets(self, interface: str, minutes: int = 30) -> list[int]:
        """Completions in each of the last ``minutes`` minutes, oldest first."""
        now_minute = int(self.clock() // 60)
        buckets = [0] * minutes
        for minute, count in self.completions.get(interface, {}).items():
            age = now_minute - minute
            if 0 <= age < minutes:
                buckets[minutes - 1 - age] += count
        return buckets

    # ---- changing ------------------------------------------------------------------------

    def load(self, records: Iterable[LogRecord], completions: bool = True) -> None:
        """Replace everything (once, at start). ``completions=False`` leaves the recent
        completions (which decode each completed job's times) to :meth:`recent_completions`
        and :meth:`set_completions`, e.g. in a thread after the first paint."""
        self.install(self.prepare(records))
        if completions:
            self.set_completions(self.recent_completions())

    def prepare(self, records: Iterable[LogRecord]) -> tuple:
        """Build rows, counts and the sorted list without touching the model (may run
        in a thread); :meth:`install` puts the result in place."""
        make = Row.__new__
        rows: dict[str, Row] = {}
        for record in records:
            row = make(Row)
            job_id = row.job_id = record.job_id
            try:
                row.num = int(job_id)
            except ValueError:
                row.num = 0
            row.rec = record
            row.level = record.level
            row.interface = record.interface_name or ""
            row.status = record.status
            row._hay = None
            row.in_view = False
            rows[job_id] = row
        listed = list(rows.values())
        # Counted by a C-level loop: as fast as counting status values in the loop above.
        counts = Counter(zip(map(_INTERFACE, listed), map(_STATUS, listed)))
        ordered = sort_rows(listed, self.sort_column, self.clock())
        return rows, counts, ordered

    def install(self, prepared: tuple) -> None:
        self.rows, self._counts, self._all = prepared
        self._by_id = None
        self.completions = {}
        self._refilter(self._all)

    def warm_haystacks(self) -> None:
        """Build what the text filter looks in for every row (in a thread, after the
        first paint, so that the first key typed in the filter does not wait for it)."""
        for row in list(self.rows.values()):
            row.haystack  # noqa: B018 - computed and cached by the property

    def recent_completions(self) -> dict[str, Counter]:
        """Completions per interface and minute over the last hour, from the rows (a
        pure function of the rows: may run in a thread)."""
        cutoff = self.clock() - 60 * KEEP_MINUTES
        found: dict[str, Counter] = {}
        for row in list(self.rows.values()):
            if row.status is JobStatus.COMPLETED:
                changed = row.changed
                if changed is not None and changed >= cutoff:
                    found.setdefault(row.interface, Counter())[int(changed // 60)] += 1
        return found

    def set_completions(self, completions: dict[str, Counter]) -> None:
        for name, bins in self.completions.items():  # noted meanwhile: keep them
            completions.setdefault(name, Counter()).update(bins)
        self.completions = completions

    def rebuild(self) -> None:
        """Sort everything from scratch (a new sort column, first load)."""
        rows = sort_rows(self._rows_by_id(), self.sort_column, self.clock(), by_id=True)
        self._all = rows
        self._refilter(rows)

    def _rows_by_id(self) -> list[Row]:
        """Every row in job-id order (kept until a row is added)."""
        by_id = self._by_id
        if by_id is None or len(by_id) != len(self.rows):
            by_id = self._by_id = sorted(self.rows.values(), key=_ID_ORDER)
        return by_id

    def _refilter(self, source: list[Row]) -> None:
        """The view from ``source`` (sorted) and the current filter."""
        keep = self._keep = self.filter.predicate()
        if keep is None:
            for row in self._all:
                row.in_view = True
            self._view = self._all
            return
        for row in self._all if source is self._all else self._view:
            row.in_view = False
        view = self.filter.select(source)
        for row in view:
            row.in_view = True
        self._view = view

    def update(self, records: Iterable[LogRecord]) -> tuple[set[str], bool]:
        """Apply changed or new records.

        Returns the ids of the rows that changed in place, and whether rows were added,
        removed or moved in the view (then the whole visible part needs redrawing).
        """
        records = list(records)
        changed: set[str] = set()
        moved = False
        key = primary_function(self.sort_column, self.clock())
        filtered = self._view is not self._all
        keep = self._keep
        for record in records:
            row = self.rows.get(record.job_id)
            was_completed = False
            if row is None:
                row = Row(record)
                self.rows[row.job_id] = row
                old_key = None
            else:
                was_completed = row.status is JobStatus.COMPLETED
                self._counts[(row.interface, row.status)] -= 1
                row.update(record)
                old_key = row.key
            self._counts[(row.interface, row.status)] += 1
            if row.status is JobStatus.COMPLETED and not was_completed:
                self._note_completion(row)
            new_key = key(row)
            new_in = keep is None or keep(row)
            was_in = row.in_view
            if old_key == new_key and was_in == new_in:
                if new_in:
                    changed.add(row.job_id)
                continue
            moved = True
            if old_key != new_key:
                if old_key is not None:
                    if filtered and was_in:
                        self._remove(self._view, row)
                    self._remove(self._all, row)
                row.key = new_key
                bisect.insort(self._all, row, key=_key_of)
                was_in = False if filtered else True
            if not filtered:
                row.in_view = True
                continue
            if was_in and not new_in:
                self._remove(self._view, row)
            elif new_in and not was_in:
                bisect.insort(self._view, row, key=_key_of)
            row.in_view = new_in
        return changed, moved

    def _remove(self, rows: list[Row], row: Row) -> None:
        i = self._find(rows, row)
        if i is not None:
            del rows[i]
        else:  # keys went stale (never expected): find it the slow way
            rows.remove(row)

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
        old, self.filter = self.filter, flt
        if flt.active and old.active and flt.narrows(old) and self._view is not self._all:
            self._refilter(self._view)  # typing on: look only at what is shown
        else:
            self._refilter(self._all)


def _key_of(row: Row) -> tuple:
    # The whole sort key: the stored value of the sort column, then the job id.
    return (row.key, row.num, row.job_id)
