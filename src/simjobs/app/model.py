"""The app's model: every job as a row, and filtered, sorted views of them.

Kept apart from the widgets (no Textual here) so that it can be changed in bulk at event
speed: what rows are sorted and filtered on is kept in numpy arrays, one entry per row,
so a sort is one argsort and a filter a few vectorised comparisons, at 100,000 jobs as
at 100; a batch of changes re-sorts a view only when a changed row's sort value or
filter verdict changed; a reversed sort is the same order read from the other end. One
model serves several views (the job table's, the log view's).
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from collections import Counter, deque
from collections.abc import Iterable
from itertools import chain
from operator import attrgetter
from typing import Callable, Optional

import numpy as np

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
    the rest read from the record when the row is drawn (times are decoded lazily).

    As few per-row objects as will do (a 100,000-job campaign has 100,000 rows): the
    job id's number and the search text live in the model's arrays, not here."""

    __slots__ = ("job_id", "slot", "level", "interface", "status", "rec")

    def __init__(self, record: LogRecord):
        self.job_id = record.job_id
        self.slot = -1  # its index in the model's rows and arrays
        self.interface = None
        self.rec = record
        self.update(record)

    def update(self, record: LogRecord) -> bool:
        """Take the fields of a newer record of this job; True if its input changed
        (a manager never changes it: a hand-edited log may)."""
        old, self.rec = self.rec, record
        self.level = record.level
        new_input = record.coords is not old.coords and record.coords != old.coords
        self.interface = record.interface_name or ""
        self.status = record.status
        return new_input

    @property
    def num(self) -> int:
        """The job id as a number (0 when it is not one): what it is sorted by."""
        return _number(self.job_id)

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
        """What the text filter looks in: id, interface and input (lower case). Made
        when asked (the model keeps them encoded: :meth:`JobModel.search_texts`)."""
        return f"{self.job_id} {self.interface} {format_input(self.rec.coords)}".lower()

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
    """Every job (its rows, per-column arrays of what they are sorted and filtered on,
    counts kept as jobs change) and :class:`JobView` s of them.

    Each row has a slot: its index in :attr:`slots` and in the arrays (job id number,
    level, interface code, status rank; submission and change times and outputs once a
    view sorts on them). A view is a sort and a filter over every row: sorting is one
    argsort of a column's array, filtering a few vectorised comparisons (the text filter
    a pass over the rows' search texts, narrowed as typing goes on), and a batch of
    changes costs a pass over the arrays, not a Python call per row and key.

    The model is also its main view (the job table's): ``len(model)``,
    :meth:`row_at`, :meth:`set_sort`, ... act on :attr:`main`; :meth:`view` makes
    another over the same rows (the log view's).
    """

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.rows: dict[str, Row] = {}
        self.slots: list[Row] = []
        self._num = np.zeros(0, np.int64)  # the job id as a number (0 when it is not one)
        self._level = np.zeros(0, np.int64)
        self._iface = np.zeros(0, np.int32)  # a code per interface name (see _codes)
        self._status = np.zeros(0, np.int8)  # STATUS_RANK of the status
        self._codes: dict[str, int] = {}  # interface name -> code, in order of appearance
        #: "created", "changed", "output" of each row (missing: see _value_arrays)
        self._values: dict[str, np.ndarray] = _value_arrays([])
        self._coords: Optional[np.ndarray] = None  # (rows, dimensions), when used
        self._input_order: Optional[np.ndarray] = None  # slots by input (cached)
        self._texts: Optional[np.ndarray] = None  # see search_texts
        self._retexts = 0  # rows whose search text changed (see adopt_search_texts)
        self._id_order: Optional[np.ndarray] = None  # slots in job-id order (cached)
        self._counts: Counter = Counter()  # (interface, JobStatus) -> jobs
        #: completions per interface and minute (epoch minute -> jobs): the sparklines
        #: and jobs/min, at a cost that does not grow with the rate
        self.completions: dict[str, Counter] = {}
        #: when this model (the app) started: rates count no completion before it
        self.started = clock()
        self._rated: deque[tuple[float, str]] = deque()  # (time, interface) since started
        self._views: list[weakref.ref] = []
        #: how many times :meth:`install` replaced every row (views made before see it)
        self.generation = 0
        self.main = JobView(self)

    # ---- the main view -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.main)

    def row_at(self, index: int) -> Row:
        """The row the main view shows at ``index`` (0 = top)."""
        return self.main.row_at(index)

    def rows_between(self, start: int, stop: int) -> list[Row]:
        return self.main.rows_between(start, stop)

    def index_of(self, job_id: Optional[str]) -> Optional[int]:
        return self.main.index_of(job_id)

    def set_sort(self, column: str, reverse: Optional[bool] = None) -> None:
        self.main.set_sort(column, reverse)

    def set_reverse(self, reverse: bool) -> None:
        self.main.set_reverse(reverse)

    def set_filter(self, flt: "Filter") -> None:
        self.main.set_filter(flt)

    def rebuild(self) -> None:
        self.main.rebuild()

    def take_changes(self) -> tuple[set[str], bool]:
        return self.main.take_changes()

    sort_column = property(lambda self: self.main.sort_column,
                           lambda self, v: setattr(self.main, "sort_column", v))
    sort_reverse = property(lambda self: self.main.sort_reverse,
                            lambda self, v: setattr(self.main, "sort_reverse", v))
    filter = property(lambda self: self.main.filter,
                      lambda self, v: setattr(self.main, "filter", v))

    def view(self, sort_column: str = "job_id", sort_reverse: bool = True,
             flt: Optional["Filter"] = None) -> "JobView":
        """Another view of these rows, kept current by :meth:`update` as long as it is
        referenced (or until :meth:`drop_view`)."""
        view = JobView(self, sort_column, sort_reverse, flt)
        view.rebuild()
        return view

    def drop_view(self, view: "JobView") -> None:
        self._views = [ref for ref in self._views if ref() not in (None, view)]

    def _live_views(self) -> list["JobView"]:
        views = [ref() for ref in self._views]
        if None in views:
            self._views = [ref for ref, v in zip(self._views, views) if v is not None]
        return [v for v in views if v is not None]

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

    # ---- the columns ---------------------------------------------------------------------

    def _code(self, name: str) -> int:
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = len(self._codes)
        return code

    def id_order(self) -> np.ndarray:
        """Every slot in job-id order (by number, then by the id's text: ties of ids
        that are not numbers, or numbers written two ways)."""
        order = self._id_order
        if order is None or len(order) != len(self.slots):
            num = self._num
            order = np.argsort(num, kind="stable")  # (the log's order mostly is: fast)
            ranked = num[order]
            if len(ranked) > 1 and not bool(np.all(ranked[1:] > ranked[:-1])):
                slots = self.slots
                order = np.array(sorted(range(len(slots)),
                                        key=lambda i: (slots[i].num, slots[i].job_id)),
                                 dtype=np.intp)
            self._id_order = order
        return order

    def _coords_array(self) -> np.ndarray:
        coords = self._coords
        if coords is None or len(coords) != len(self.slots):
            tuples = [row.rec.coords for row in self.slots]
            widths = set(map(len, tuples))
            width = max(widths, default=0)
            if len(widths) == 1:  # (the usual case: one C-level pass, not one per row)
                coords = np.fromiter(chain.from_iterable(tuples), np.float64,
                                     len(tuples) * width).reshape(len(tuples), width)
            else:
                coords = np.full((len(tuples), width), -np.inf)
                for i, c in enumerate(tuples):  # (shorter inputs sort first, as tuples do)
                    coords[i, :len(c)] = c
            self._coords = coords
        return coords

    def ended(self) -> np.ndarray:
        """Per slot: the job has ended."""
        return _ENDED_RANK[self._status]

    def column_key(self, column: str, now: float) -> Optional[np.ndarray]:
        """The value each slot is sorted on in ``column`` (ties go by job id), or None
        for the job id itself and the input (sorted by :meth:`order_by`)."""
        if column == "level":
            return self._level
        if column == "interface":
            rank = np.empty(len(self._codes), np.int32)
            for r, name in enumerate(sorted(self._codes)):
                rank[self._codes[name]] = r
            return rank[self._iface] if len(rank) else self._iface
        if column == "status":
            return self._status
        if column in ("output", "submitted", "changed"):
            return self._values["created" if column == "submitted" else column]
        if column == "elapsed":
            created = self._values["created"]
            changed = self._values["changed"]
            end = np.where(self.ended() & (changed != 0.0), changed, now)
            return np.where(created != 0.0, end - created, 0.0)
        return None

    def order_by(self, column: str, key: Optional[np.ndarray]) -> np.ndarray:
        """Every slot ascending by ``key`` (the column's values), ties by job id."""
        by_id = self.id_order()
        if key is not None:
            return by_id[np.argsort(key[by_id], kind="stable")]
        if column == "input":
            order = self._input_order
            if order is None or len(order) != len(by_id):
                coords = self._coords_array()[by_id]
                order = by_id if coords.shape[1] == 0 else by_id[np.lexsort(coords.T[::-1])]
                self._input_order = order
            return order
        return by_id

    def search_texts(self) -> np.ndarray:
        """What the text filter looks in (:attr:`Row.haystack`), per slot, UTF-8 in a
        numpy bytes array: a word is looked for in 100,000 of them by one C-level
        ``find`` (a few milliseconds), whatever the number of rows it matches. Made
        when first needed (or in a thread beforehand: :meth:`encode_search_texts`), kept
        current by :meth:`update` from then on."""
        texts = self._texts
        if texts is None:
            texts = self._texts = _encoded(self.slots)
        return texts

    def encode_search_texts(self) -> tuple:
        """The search texts of every row as they are now, made in a thread (after the
        first paint, so that the first key typed in the filter need not wait for
        100,000 of them): hand the result to :meth:`adopt_search_texts` on the thread
        that changes the model."""
        generation, retexts = self.generation, self._retexts
        slots = list(self.slots)  # (rows appended meanwhile are encoded on adoption)
        return generation, retexts, len(slots), _encoded(slots)

    def adopt_search_texts(self, encoded: tuple) -> None:
        """Take what :meth:`encode_search_texts` made, unless the rows were replaced or
        a row's search text changed meanwhile (then they are made when first needed)."""
        generation, retexts, n, texts = encoded
        if self._texts is not None or generation != self.generation \
                or retexts != self._retexts:
            return
        if len(self.slots) > n:
            texts = np.concatenate([texts, _encoded(self.slots[n:])])
        self._texts = texts

    # ---- changing ------------------------------------------------------------------------

    def load(self, records: Iterable[LogRecord], completions: bool = True) -> None:
        """Replace everything (once, at start). ``completions=False`` leaves the recent
        completions (which decode each completed job's times) to :meth:`recent_completions`
        and :meth:`set_completions`, e.g. in a thread after the first paint."""
        self.install(self.prepare(records))
        if completions:
            self.set_completions(self.recent_completions())

    def prepare(self, records: Iterable[LogRecord]) -> tuple:
        """Build the rows, counts and arrays without touching the model (may run in a
        thread); :meth:`install` puts the result in place."""
        make = Row.__new__
        rows: dict[str, Row] = {}
        for record in records:
            row = make(Row)
            job_id = row.job_id = record.job_id
            row.rec = record
            row.level = record.level
            row.interface = record.interface_name or ""
            row.status = record.status
            rows[job_id] = row
        slots = list(rows.values())
        for i, row in enumerate(slots):
            row.slot = i
        # Counted by a C-level loop: as fast as counting status values in the loop above.
        counts = Counter(zip(map(_INTERFACE, slots), map(_STATUS, slots)))
        codes: dict[str, int] = {}
        for name in sorted({name for name, _ in counts}):
            codes[name] = len(codes)
        n = len(slots)
        arrays = (np.fromiter(map(_number, map(_JOB_ID, slots)), np.int64, n),
                  np.fromiter(map(_LEVEL, slots), np.int64, n),
                  np.fromiter(map(codes.__getitem__, map(_INTERFACE, slots)), np.int32, n),
                  np.fromiter(map(STATUS_RANK.__getitem__, map(_STATUS, slots)), np.int8, n))
        return rows, slots, counts, codes, arrays, _value_arrays(slots)

    def install(self, prepared: tuple) -> None:
        rows, slots, counts, codes, arrays, values = prepared
        self.rows, self.slots, self._counts, self._codes = rows, slots, counts, codes
        self._num, self._level, self._iface, self._status = arrays
        self._values = values
        self._coords = self._input_order = self._id_order = self._texts = None
        self.completions = {}
        self.generation += 1
        for view in self._live_views():
            view._text = ((), None)  # (its answers were for the old rows)
            view.rebuild()

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

    def update(self, records: Iterable[LogRecord]) -> None:
        """Apply changed or new records to the rows and every view (once for all of
        them: each view keeps what changed for it until :meth:`JobView.take_changes`).
        """
        changed_slots: list[int] = []
        new_rows: list[Row] = []
        new_input = False
        new_text: list[Row] = []  # rows whose search text changed
        counts = self._counts
        for record in records:
            row = self.rows.get(record.job_id)
            if row is None:
                row = Row(record)
                row.slot = len(self.slots) + len(new_rows)
                self.rows[row.job_id] = row
                new_rows.append(row)
                counts[(row.interface, row.status)] += 1
                if row.status is JobStatus.COMPLETED:
                    self._note_completion(row)
                continue
            was_completed = row.status is JobStatus.COMPLETED
            counts[(row.interface, row.status)] -= 1
            interface = row.interface
            moved = row.update(record)
            if moved or row.interface != interface:
                new_text.append(row)
            new_input |= moved
            counts[(row.interface, row.status)] += 1
            if row.status is JobStatus.COMPLETED and not was_completed:
                self._note_completion(row)
            changed_slots.append(row.slot)
        if new_rows:
            self._append(new_rows)
        if new_text:
            self._retexts += len(new_text)
            if self._texts is not None:
                self._set_texts(new_text)
        touched = np.array(sorted(set(changed_slots)), dtype=np.intp)
        if len(touched):
            self._write(touched)
        if new_input:
            self._coords = self._input_order = None
        added = np.arange(len(self.slots) - len(new_rows), len(self.slots), dtype=np.intp)
        for view in self._live_views():
            view.apply(touched, added, new_input)

    def _append(self, new_rows: list[Row]) -> None:
        self.slots.extend(new_rows)
        n = len(new_rows)
        codes = [self._code(row.interface) for row in new_rows]
        self._num = np.concatenate([self._num, np.fromiter(map(_number, map(_JOB_ID, new_rows)),
                                                           np.int64, n)])
        self._level = np.concatenate([self._level,
                                      np.fromiter(map(_LEVEL, new_rows), np.int64, n)])
        self._iface = np.concatenate([self._iface, np.array(codes, np.int32)])
        self._status = np.concatenate([self._status, np.fromiter(
            map(STATUS_RANK.__getitem__, map(_STATUS, new_rows)), np.int8, n)])
        more = _value_arrays(new_rows)
        for name, col in self._values.items():
            self._values[name] = np.concatenate([col, more[name]])
        self._coords = self._input_order = self._id_order = None
        if self._texts is not None:  # (else made when needed, or adopted)
            self._texts = np.concatenate([self._texts, _encoded(new_rows)])

    def _set_texts(self, rows: list[Row]) -> None:
        new = _encoded(rows)
        if new.dtype.itemsize > self._texts.dtype.itemsize:  # (else cut short)
            self._texts = self._texts.astype(new.dtype)
        self._texts[[row.slot for row in rows]] = new

    def _write(self, touched: np.ndarray) -> None:
        """The arrays' entries of the rows at ``touched`` (changed records)."""
        rows = list(map(self.slots.__getitem__, touched.tolist()))
        n = len(rows)
        self._level[touched] = np.fromiter(map(_LEVEL, rows), np.int64, n)
        self._iface[touched] = [self._code(row.interface) for row in rows]
        self._status[touched] = np.fromiter(
            map(STATUS_RANK.__getitem__, map(_STATUS, rows)), np.int8, n)
        for name, new in _value_arrays(rows).items():
            self._values[name][touched] = new


class JobView:
    """A filtered, sorted view of a :class:`JobModel` 's rows (see its docstring).

    ``_order`` holds every slot ascending by the sort key stored in ``_keys`` (the
    column's values when last sorted: a running job's elapsed time is not re-sorted
    each second), ties by job id; ``_shown`` the slots the filter keeps, in that order.
    A new filter only filters (no sort); typing on filters the rows the text filter
    kept; a reversed sort reads the same order from the other end.
    """

    def __init__(self, model: JobModel, sort_column: str = "job_id",
                 sort_reverse: bool = True, flt: Optional[Filter] = None):
        self.model = model
        self.sort_column = sort_column
        self.sort_reverse = sort_reverse
        self.filter = flt if flt is not None else Filter()
        self._order = np.zeros(0, np.intp)
        self._keys: Optional[np.ndarray] = None
        self._mask: Optional[np.ndarray] = None  # per slot: kept by the filter (None: all)
        self._text: tuple[tuple[str, ...], Optional[np.ndarray]] = ((), None)
        self._shown = self._order
        self._pos: Optional[np.ndarray] = None  # per slot: its index in _shown, or -1
        self._changed: set[str] = set()
        self._moved = False
        model._views.append(weakref.ref(self))

    # ---- what the table reads ------------------------------------------------------------

    @property
    def rows(self) -> dict[str, Row]:
        """Every row of the model (shown or not), by job id."""
        return self.model.rows

    @property
    def clock(self) -> Callable[[], float]:
        return self.model.clock

    @property
    def interface_status_counts(self) -> dict[tuple[str, str], int]:
        return self.model.interface_status_counts

    def __len__(self) -> int:
        return len(self._shown)

    def row_at(self, index: int) -> Row:
        """The row shown at ``index`` (0 = top)."""
        shown = self._shown
        slot = shown[len(shown) - 1 - index] if self.sort_reverse else shown[index]
        return self.model.slots[slot]

    def rows_between(self, start: int, stop: int) -> list[Row]:
        n = len(self._shown)
        start, stop = max(0, start), min(n, stop)
        if start >= stop:
            return []
        if self.sort_reverse:
            part = self._shown[n - stop:n - start][::-1]
        else:
            part = self._shown[start:stop]
        return list(map(self.model.slots.__getitem__, part.tolist()))

    def index_of(self, job_id: Optional[str]) -> Optional[int]:
        row = self.model.rows.get(job_id) if job_id is not None else None
        if row is None:
            return None
        pos = self._pos
        if pos is None or len(pos) != len(self.model.slots):
            pos = self._pos = np.full(len(self.model.slots), -1, np.intp)
            pos[self._shown] = np.arange(len(self._shown))
        i = int(pos[row.slot]) if row.slot < len(pos) else -1
        if i < 0:
            return None
        return len(self._shown) - 1 - i if self.sort_reverse else i

    def update(self, records: Iterable[LogRecord]) -> None:
        """:meth:`JobModel.update` (every view of the model follows)."""
        self.model.update(records)

    def take_changes(self) -> tuple[set[str], bool]:
        """What :meth:`JobModel.update` changed since last asked: the ids of shown rows
        changed in place, and whether rows were added, removed or moved (then redraw
        everything visible). A sort, filter or load asked for is not counted: whoever
        asked redraws."""
        changed, moved = self._changed, self._moved
        self._changed, self._moved = set(), False
        return changed, moved

    # ---- sorting and filtering -----------------------------------------------------------

    def set_sort(self, column: str, reverse: Optional[bool] = None) -> None:
        if column not in COLUMN_KEYS:
            raise ValueError(f"unknown column {column!r}; one of {', '.join(COLUMN_KEYS)}")
        self.sort_column = column
        if reverse is not None:
            self.sort_reverse = reverse
        self.rebuild()

    def set_reverse(self, reverse: bool) -> None:
        self.sort_reverse = reverse  # the same order read from the other end

    def set_filter(self, flt: Filter) -> None:
        old, self.filter = self.filter, flt
        narrowing = flt.active and old.active and flt.narrows(old)
        self._refilter(narrowing)

    def rebuild(self) -> None:
        """Sort everything from scratch (a new sort column, first load), then filter."""
        model = self.model
        key = model.column_key(self.sort_column, model.clock())
        self._keys = None if key is None else key.copy()
        self._order = model.order_by(self.sort_column, self._keys)
        self._refilter(False)

    def _refilter(self, narrowing: bool) -> None:
        self._mask = self._match(np.arange(len(self.model.slots), dtype=np.intp), narrowing)
        self._show()

    def _show(self) -> None:
        mask = self._mask
        self._shown = self._order if mask is None else self._order[mask[self._order]]
        self._pos = None

    def _match(self, slots: np.ndarray, narrowing: bool = False) -> Optional[np.ndarray]:
        """Per slot of ``slots`` (every slot, or the changed ones): kept by the filter;
        None when the filter keeps everything."""
        flt, model = self.filter, self.model
        if not flt.active:
            self._text = ((), None)
            return None
        keep = np.ones(len(slots), bool)
        if flt.hide_finished or flt.status == ACTIVE:
            keep &= ~model.ended()[slots]
        if flt.status is not None and flt.status != ACTIVE:
            keep &= model._status[slots] == STATUS_RANK.get(flt.status, -1)
        if flt.level is not None:
            keep &= model._level[slots] == flt.level
        if flt.interface is not None:
            keep &= model._iface[slots] == model._codes.get(flt.interface, -1)
        words = tuple(flt.text.lower().split())
        if words:
            keep &= self._text_mask(words, slots, narrowing)
        else:
            self._text = ((), None)
        return keep

    def _text_mask(self, words: tuple[str, ...], slots: np.ndarray,
                   narrowing: bool) -> np.ndarray:
        """The text filter's part of :meth:`_match`. Every slot's answer is kept for the
        words: typing on looks only at the slots the shorter text kept, for the words
        they may lack, and a batch of changes only at the changed and new rows."""
        model = self.model
        n = len(model.slots)
        old_words, old = self._text
        if len(slots) < n and old is not None and old_words == words:
            if len(old) < n:  # new rows: look at them
                new = np.arange(len(old), n, dtype=np.intp)
                old = np.concatenate([old, self._words_in(words, new)])
            # A changed row's search text changes with its interface only.
            old[slots] = self._words_in(words, slots)
            self._text = (words, old)
            return old[slots]
        if narrowing and old is not None and len(old) == n:
            # The rows kept have every old word already: look for the new ones only.
            candidates = np.flatnonzero(old)
            words_new = tuple(w for w in words if w not in old_words)
        else:
            candidates = np.arange(n, dtype=np.intp)
            words_new = words
        mask = np.zeros(n, bool)
        mask[candidates] = self._words_in(words_new, candidates) if words_new else True
        self._text = (words, mask)
        return mask[slots]

    def _words_in(self, words: tuple[str, ...], slots: np.ndarray) -> np.ndarray:
        """Per slot: every word is in its search text. Each word one C-level pass over
        the texts of the slots the words before it kept."""
        found = np.ones(len(slots), bool)
        alive = np.arange(len(slots), dtype=np.intp)
        texts = self.model.search_texts()
        hays = texts if len(slots) == len(texts) else texts[slots]
        for word in words:
            hit = _STRINGS.find(hays, word.encode()) >= 0
            found[alive[~hit]] = False
            alive = alive[hit]
            hays = hays[hit]
        return found

    # ---- following changes ---------------------------------------------------------------

    def apply(self, touched: np.ndarray, added: np.ndarray, new_input: bool = False) -> None:
        """The rows at ``touched`` changed and those at ``added`` are new (the model's
        arrays hold them already; ``new_input``: a changed row's input changed): re-sort
        or re-filter only if one of them moved."""
        resort = self._keys_moved(touched, added) or bool(len(added)) \
            or (new_input and self.sort_column == "input")
        refiltered = self._filter_moved(np.concatenate([touched, added]))
        if resort:
            self._order = self.model.order_by(self.sort_column, self._keys)
        if resort or refiltered:
            self._show()
            self._moved = True
        if len(touched):
            in_view = touched if self._mask is None else touched[self._mask[touched]]
            slots = self.model.slots
            self._changed.update(slots[i].job_id for i in in_view.tolist())

    def _keys_moved(self, touched: np.ndarray, added: np.ndarray) -> bool:
        """Store the sort values of the changed and new rows; True if a changed row's
        value changed."""
        if self._keys is None or not (len(touched) or len(added)):
            return False
        model = self.model
        fresh = model.column_key(self.sort_column, model.clock())
        keys = self._keys
        if len(keys) < len(fresh):
            keys = self._keys = np.concatenate([keys, fresh[len(keys):]])
        if len(touched) and not np.array_equal(keys[touched], fresh[touched]):
            keys[touched] = fresh[touched]
            return True
        return False

    def _filter_moved(self, changing: np.ndarray) -> bool:
        """The filter's verdict on the rows at ``changing``; True if one changed."""
        if not self.filter.active:
            return False
        n = len(self.model.slots)
        mask = self._mask
        if mask is None:
            mask = np.ones(n, bool)
        elif len(mask) < n:
            mask = np.concatenate([mask, np.zeros(n - len(mask), bool)])
        self._mask = mask
        if not len(changing):
            return False
        kept = self._match(changing)
        moved = not np.array_equal(mask[changing], kept)
        mask[changing] = kept
        return moved


def _number(job_id: str) -> int:
    # The job id as a number for sorting (17-digit ids fit an int64); 0 if it is none.
    try:
        num = int(job_id)
    except ValueError:
        return 0
    return num if -2**63 < num < 2**63 else 0


def _encoded(rows: list[Row]) -> np.ndarray:
    """The rows' search texts, UTF-8 (a word's bytes are in a text's bytes exactly when
    the word is in the text), as a numpy bytes array."""
    if not rows:
        return np.zeros(0, "S1")
    return np.array([row.haystack.encode() for row in rows])


def _value_arrays(rows: list[Row]) -> dict[str, np.ndarray]:
    """The creation and change times (0.0 when missing: sorted first) and outputs
    (below every output when missing: outputs are finite) of ``rows``."""
    n = len(rows)
    recs = list(map(_REC, rows))
    return {"created": np.fromiter((t or 0.0 for t in map(_CREATED, recs)), np.float64, n),
            "changed": np.fromiter((t or 0.0 for t in map(_CHANGED, recs)), np.float64, n),
            "output": np.fromiter((_NO_OUTPUT if v is None else v for v in map(_OUTPUT, recs)),
                                  np.float64, n)}


_LEVEL = attrgetter("level")
_INTERFACE = attrgetter("interface")
_JOB_ID = attrgetter("job_id")
#: numpy's string functions: np.strings (numpy 2: C loops), else np.char
_STRINGS = getattr(np, "strings", np.char)
_STATUS = attrgetter("status")
_NO_OUTPUT = float("-inf")
_REC = attrgetter("rec")
_CREATED = attrgetter("created")
_CHANGED = attrgetter("changed")
_OUTPUT = attrgetter("output")
#: Per status rank: the status is an end (hide-finished and "active" filters).
_ENDED_RANK = np.array([s in TERMINAL_STATUSES for s in sorted(STATUS_RANK,
                                                               key=STATUS_RANK.get)], bool)
