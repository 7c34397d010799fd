"""The in-memory form of one simulations-log record, and of a change to it.

Both stores (CSV and SQLite) keep every record in memory as a :class:`LogRecord`
(reads never touch the disk) and persist :class:`LogChange` batches.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from .types import Input, Job, JobStatus

HISTORY_CODE = {
    JobStatus.COMPLETED: "C",
    JobStatus.FAILED: "F",
    JobStatus.RUNNING: "R",
    JobStatus.SUBMITTED: "S",
    JobStatus.PENDING_SUBMIT: "P",
    JobStatus.FAILED_SUBMIT: "X",
    JobStatus.CANCELLED: "K",
    JobStatus.PENDING_CANCEL: "Q",
    JobStatus.FAILED_CANCEL: "Y",
}
"""The one-letter code of each status in an encoded history (both stores' files)."""
HISTORY_STATUS = {code: status for status, code in HISTORY_CODE.items()}


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()
"""Marks a field of a LogChange that the change leaves as it is."""


class _TimeRef:
    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        # One object each (records compare with "is"): a copy or a pickle is the same.
        return self._name


FIRST_TIME = _TimeRef("FIRST_TIME")
"""A LogRecord's ``created`` passed as this is the first time of its packed history."""
LAST_TIME = _TimeRef("LAST_TIME")
"""A LogRecord's ``changed`` passed as this is the last time of its packed history."""


class _NewList:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<a new empty list>"


_NEW_LIST = _NewList()  # the default of LogRecord's history


class _NoLinks(list):
    """The empty ``resubmitted_as`` that every record never resubmitted shares: one list,
    not one per record (100,000 of them in a campaign), and one that refuses to be
    changed, since links are replaced by a new list, never changed in place."""

    __slots__ = ()

    def _refuse(self, *args, **kwargs):
        raise TypeError("a record's resubmitted_as is replaced by a new list, never "
                        "changed in place")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


#: The empty ``resubmitted_as`` of a record never resubmitted (see :class:`_NoLinks`).
NO_LINKS: list[str] = _NoLinks()


@dataclasses.dataclass(init=False)
class LogRecord:
    """One job in the log.

    The first six fields are exauq's columns; the rest are simjobs' extras, kept where
    they do not disturb an exauq reader (a sidecar file for CSV, extra columns and a
    history table for SQLite).

    ``resubmitted_as`` lists every job this one was resubmitted as, oldest first (an
    empty list: never resubmitted); stores pass it decoded (see :func:`links`).

    ``history`` is a list of (JobStatus, float) pairs, oldest first. A store loading a
    log may pass it packed instead, already checked: a ``str`` whose last two
    ``,``-separated fields are the status letters and the times (see
    :func:`pack_history`). It is decoded into that list the first time it is read, so
    that opening a large log does not build 100,000s of histories nobody looks at
    (:func:`append_history` and :func:`history_columns` leave it packed).

    With a packed history, ``created`` may be passed as :data:`FIRST_TIME` and
    ``changed`` as :data:`LAST_TIME`: the first / last time of that history, parsed the
    first time it is read (or before that history is decoded, replaced or appended to).
    """

    # Slots written out (not slots=True): ``created``, ``changed`` and ``history`` are
    # properties (below) over the slots ``_created``, ``_changed`` and ``_history``,
    # which hold a time or a reference to the packed history's first / last time, and a
    # list or a packed history. (So the fields have no class-level defaults: __init__
    # gives them.)
    __slots__ = ("job_id", "coords", "output", "status", "level", "interface_name",
                 "_created", "_changed", "reason", "resubmit_of", "resubmitted_as",
                 "_history")

    job_id: str
    coords: tuple[float, ...]
    output: Optional[float]
    status: JobStatus
    level: int
    interface_name: str  # "" when the job has no interface yet
    created: Optional[float]  # epoch seconds the record was added
    changed: Optional[float]  # epoch seconds of the last status change
    reason: Optional[str]  # why the job failed / was cancelled / is waiting
    resubmit_of: Optional[str]  # the job this one was resubmitted from
    # The jobs that replaced this one, oldest first (a job may be resubmitted again).
    # Always replaced by a new list, never changed in place: records are shared.
    resubmitted_as: list[str]
    history: list[tuple[JobStatus, float]]

    # Written out rather than generated: the generated one would store the history
    # through the property below, which costs a fifth of the time of building a record.
    def __init__(self, job_id, coords, output, status, level, interface_name, created=None,
                 changed=None, reason=None, resubmit_of=None, resubmitted_as=None,
                 history=_NEW_LIST):
        self.job_id = job_id
        self.coords = coords
        self.output = output
        self.status = status
        self.level = level
        self.interface_name = interface_name
        self._created = created
        self._changed = changed
        self.reason = reason
        self.resubmit_of = resubmit_of
        self.resubmitted_as = NO_LINKS if resubmitted_as is None else resubmitted_as
        self._history = [] if history is _NEW_LIST else history

    # The fields ``history``, ``created`` and ``changed`` (in ==, repr and
    # dataclasses.replace) read and write their slots through these properties, which
    # decode a packed history and resolve FIRST_TIME and LAST_TIME.
    @property
    def history(self) -> list[tuple[JobStatus, float]]:
        """The status history: a list of (JobStatus, float), oldest first."""
        history = self._history
        if history.__class__ is not list:
            _resolve_times(self)
        if history.__class__ is str:  # packed by a store: decode it once, keep the list
            history = self._history = unpack_history(history)
        elif history.__class__ is _Appended:
            packed, appended = history
            history = self._history = unpack_history(packed)
            history += appended
        return history

    @history.setter
    def history(self, history) -> None:
        try:
            old = self._history
        except AttributeError:  # (a record made without __init__: nothing to resolve)
            pass
        else:
            if old.__class__ is not list:
                _resolve_times(self)
        self._history = history

    @history.deleter
    def history(self) -> None:
        del self._history

    @property
    def created(self) -> Optional[float]:
        """Epoch seconds the record was added (None: unknown)."""
        created = self._created
        if created is FIRST_TIME:
            created = self._created = _packed_time(self, False)
        return created

    @created.setter
    def created(self, value: Optional[float]) -> None:
        self._created = value

    @created.deleter
    def created(self) -> None:
        del self._created

    @property
    def changed(self) -> Optional[float]:
        """Epoch seconds of the last status change (None: unknown)."""
        changed = self._changed
        if changed is LAST_TIME:
            changed = self._changed = _packed_time(self, True)
        return changed

    @changed.setter
    def changed(self, value: Optional[float]) -> None:
        self._changed = value

    @changed.deleter
    def changed(self) -> None:
        del self._changed

    @property
    def input(self) -> Input:
        return Input.from_trusted(self.coords)

    def to_job(self) -> Job:
        return Job(self.job_id, self.input, self.level, self.interface_name or None)

    def shallow_copy(self) -> "LogRecord":
        """A copy that later changes to this record do not reach, made cheaply.

        Unlike :func:`dataclasses.replace` it keeps a packed history packed (decoded
        when the copy's ``history`` is first read) and shares the immutable fields and
        the ``resubmitted_as`` list, which is replaced, never changed in place.
        Meant for readers that take a snapshot of many records (the app does, of
        100,000s); the copy's history list is its own, so it may be read while the
        original goes on changing.

        Returns
        -------
        LogRecord
            The copy.
        """
        copy = object.__new__(LogRecord)
        copy.job_id = self.job_id
        copy.coords = self.coords
        copy.output = self.output
        copy.status = self.status
        copy.level = self.level
        copy.interface_name = self.interface_name
        copy._created = self._created
        copy._changed = self._changed
        copy.reason = self.reason
        copy.resubmit_of = self.resubmit_of
        copy.resubmitted_as = self.resubmitted_as
        history = self._history
        if history.__class__ is list:
            history = list(history)
        elif history.__class__ is _Appended:
            history = _Appended((history[0], list(history[1])))
        copy._history = history
        return copy


class _Appended(tuple):
    """A packed history and the list of the (status, time) pairs appended to it since
    (see :func:`append_history`)."""

    __slots__ = ()


def _packed_time(record: LogRecord, last: bool) -> float:
    """The first (or last) time of the record's packed history."""
    history = record._history
    if history.__class__ is _Appended:
        history = history[0]
    times = _split_packed(history)[1]
    return float(times.rpartition(";")[2] if last else times.partition(";")[0])


def _resolve_times(record: LogRecord) -> None:
    """Replace FIRST_TIME / LAST_TIME by the times they refer to (before the packed
    history they refer to is decoded, replaced or appended to)."""
    if record._created is FIRST_TIME:
        record._created = _packed_time(record, False)
    if record._changed is LAST_TIME:
        record._changed = _packed_time(record, True)


def pack_history(history) -> str:
    """A status history packed into a ``str``: ``"<status letters>,<time reprs joined by
    ;>"``, e.g. ``"PSR,1717171717.5;1717171720.25;1717171800.0"``."""
    return (
        "".join([HISTORY_CODE[st] for st, _ in history])
        + ","
        + ";".join([repr(float(t)) for _, t in history])
    )


def _split_packed(packed: str) -> tuple[str, str]:
    """The status letters and the times of a packed history: its last two fields."""
    i = packed.rfind(",")
    return packed[packed.rfind(",", 0, i) + 1:i], packed[i + 1:]


def unpack_history(packed: str) -> list:
    """The history list of a packed history, which must be well formed (one time per
    letter): the status letters and the times are its last two ``,``-separated fields
    (a CSV store passes its meta lines as they are; see :func:`pack_history`)."""
    codes, times = _split_packed(packed)
    if len(codes) == 1:
        return [(HISTORY_STATUS[codes], float(times))]
    if not codes:
        return []
    return list(zip(map(HISTORY_STATUS.__getitem__, codes), map(float, times.split(";"))))


def history_columns(record: LogRecord, more: list = ()) -> tuple[str, str]:
    """The record's history followed by ``more`` (pairs), as (status letters, time reprs
    joined by ";"), without decoding a packed history."""
    history = record._history
    if history.__class__ is _Appended:
        history, appended = history
        more = appended + list(more)
    elif history.__class__ is not str:
        history = list(history) + list(more)
        return (
            "".join([HISTORY_CODE[st] for st, _ in history]),
            ";".join([repr(float(t)) for _, t in history]),
        )
    codes, times = _split_packed(history)
    if not more:
        return codes, times
    more_times = ";".join([repr(float(t)) for _, t in more])
    return (
        codes + "".join([HISTORY_CODE[st] for st, _ in more]),
        times + ";" + more_times if times else more_times,
    )


def append_history(record: LogRecord, status: JobStatus, time: float) -> None:
    """``record.history.append((status, time))``, without decoding a packed history."""
    history = record._history
    if record._changed is LAST_TIME:  # (the first time stays the packed history's)
        record._changed = _packed_time(record, True)
    if history.__class__ is str:
        record._history = _Appended((history, [(status, time)]))
    elif history.__class__ is _Appended:
        history[1].append((status, time))
    else:
        record.history.append((status, time))


@dataclasses.dataclass(slots=True)
class LogChange:
    """A change to one record; fields left UNSET are not changed.

    ``time`` is when the change happened (epoch seconds). A change of ``status`` is
    appended to the record's history with that time and sets ``changed``.
    """

    job_id: str
    time: float
    status: object = UNSET  # JobStatus
    output: object = UNSET  # float | None
    reason: object = UNSET  # str | None
    interface_name: object = UNSET  # str
    resubmitted_as: object = UNSET  # list[str]: all the links, not only a new one

    def apply_to(self, record: LogRecord) -> None:
        """Apply this change to ``record`` in memory."""
        if self.status is not UNSET and self.status != record.status:
            record.status = self.status
            record.changed = self.time
            append_history(record, self.status, self.time)
        if self.output is not UNSET:
            record.output = self.output
        if self.reason is not UNSET:
            record.reason = self.reason
        if self.interface_name is not UNSET:
            record.interface_name = self.interface_name
        if self.resubmitted_as is not UNSET:
            record.resubmitted_as = links(self.resubmitted_as)


def links(value) -> list[str]:
    """Resubmission links as a new list of job ids: ``None`` gives ``[]``, a single id
    (a ``str``, as logs written before links became a list hold) a list of one."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def encode_links(value) -> str:
    """Resubmission links as stored in a file or column: the ids joined by ``;`` (job ids
    are digits). ``""`` for none."""
    return ";".join(links(value))


def decode_links(text: Optional[str]) -> list[str]:
    """The list of links stored by :func:`encode_links`, or by an older simjobs as a
    single id."""
    return text.split(";") if text else NO_LINKS
