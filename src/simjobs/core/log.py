"""SimulationsLog: exauq's simulations-log API over a crash-safe, fast store."""

from __future__ import annotations

import atexit
import math
import os
import socket
import threading
import time
import warnings
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import compress
from numbers import Real
from operator import attrgetter, is_not
from typing import Any, Optional, Union

from .errors import (
    LogFormatError,
    LogLockedError,
    NotALogError,
    SimjobsError,
    SimulationsLogLookupError,
    excerpt,
)
from .lock import LogLock, holder_text
from .records import UNSET, LogChange, LogRecord
from .stores import is_sqlite_path, open_store
from .types import (
    TERMINAL_STATUSES,
    FilePath,
    Input,
    Job,
    JobId,
    JobStatus,
    MultiLevel,
    TrainingDatum,
)

JobIdLike = Union[str, int, JobId]


def _as_input(x: Any) -> Input:
    if isinstance(x, Input):
        return x
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        raise TypeError(f"Expected an Input (or a sequence of numbers), but received {x!r}.")
    return Input(*x)


def _check_output(result: Any) -> Optional[float]:
    if result is None:
        return None
    if type(result) is float and math.isfinite(result):
        return result  # the common case, without the slower Real check
    if not isinstance(result, Real) or isinstance(result, bool):
        raise TypeError(f"A simulator output must be a real number, but received {result!r}.")
    if not math.isfinite(result):
        raise ValueError(f"A simulator output must be finite, but received {result!r}.")
    return float(result)


def csv_header_problem(first_line: str) -> Optional[str]:
    """What makes ``first_line`` (a CSV file's first line, without its line break) no
    simulations log header, or None when it may be one (it names Input_ columns; the
    store checks the rest when it opens the log). One rule for every caller: the CLI
    checks a path with it before anything is opened."""
    names = [name.strip().strip('"') for name in first_line.split(",")]
    if any(name.startswith("Input_") for name in names):
        return None
    return (f"the first line, {excerpt(first_line)}, is not a simulations log header "
            "(it names no Input_ columns), so this is no simulations log; check the path")


def infer_input_dim(path: FilePath) -> int:
    """Read the input dimension of an existing log (CSV header or SQLite metadata).

    Raises
    ------
    SimjobsError
        If there is no log at ``path`` or it does not say its dimension.
    """
    path = os.fsdecode(path)
    if not os.path.exists(path):
        raise SimjobsError(f"no simulations log at {path}; check the path")
    if os.path.isdir(path):
        raise SimjobsError(f"{path} is a directory, not a simulations log; name the log file")
    if is_sqlite_path(path):
        import sqlite3

        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'input_dim'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise SimjobsError(f"{path} is not a simjobs SQLite log ({exc})") from None
        finally:
            con.close()
        if row is None:
            raise SimjobsError(f"{path} does not record its input_dim; pass it explicitly")
        return int(row[0])
    try:
        with open(path, newline="", encoding="utf-8") as f:
            first_line = f.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise SimjobsError(f"cannot read {path} as a simulations log ({exc}); check the path") from None
    problem = csv_header_problem(first_line)
    if problem is not None:
        raise NotALogError(f"{path}: {problem}")
    return sum(1 for name in first_line.split(",") if name.strip().strip('"').startswith("Input_"))


def peek_log(
    path: FilePath, n: int = 500, input_dim: Optional[int] = None
) -> Optional[tuple[list[LogRecord], int]]:
    """The newest ``n`` records of the log at ``path`` (in the order they were added)
    and how many records it holds, read without loading the whole log: what a first
    screen shows while the log loads. Statuses and extras are those a full load gives
    (the CSV journal's rows for these records are applied). A record being added at this
    very moment may be missing from both. Never writes, never takes a lock.

    Returns None when the log cannot be peeked at cheaply and surely (no such file,
    not a log, quoted fields near the end of a CSV file...): then open it.
    """
    from .stores.csv_store import peek_csv
    from .stores.sqlite_store import peek_sqlite

    try:
        if input_dim is None:
            input_dim = infer_input_dim(path)
        if is_sqlite_path(path):
            return peek_sqlite(path, input_dim, n)
        return peek_csv(path, input_dim, n)
    except (SimjobsError, OSError, ValueError):
        return None


class _OpenLog:
    """One process's handle on a log file: its store, its writer lock and the mutex
    that guards them. Every SimulationsLog object opened (not read-only) on the same
    file in this process shares one, so they see each other's writes at once and never
    lock each other out; only another process is refused."""

    def __init__(self, path: str, input_dim: int, readonly: bool):
        self.path = path
        self.input_dim = input_dim
        self.readonly = readonly
        self.mutex = threading.RLock()
        self.local = threading.local()  # the batch open on each thread
        self.users = 0
        self.lock: Optional[LogLock] = None
        if not readonly:
            lock = LogLock(path)
            try:
                lock.acquire()
                self.lock = lock
            except LogLockedError:
                pass  # another process writes it: we read, and writes say who holds it
        try:
            self.store = open_store(path, input_dim, readonly=self.lock is None)
        except BaseException:
            if self.lock is not None:
                self.lock.discard()  # a failed open leaves no lock file behind
            raise
        if self.lock is not None and self.store.damage is not None:
            # Damaged (records missing): read-only until repaired, and the lock is free
            # for 'simjobs repair'.
            self.lock.discard()
            self.lock = None

    @property
    def is_writer(self) -> bool:
        return self.lock is not None

    def try_become_writer(self) -> bool:
        """Take the writer's place if the process that held it has let it go."""
        if self.readonly or self.lock is not None:
            return self.lock is not None
        lock = LogLock(self.path)
        try:
            lock.acquire()
        except LogLockedError:
            return False
        try:
            store = open_store(self.path, self.input_dim, readonly=False)
        except BaseException:
            lock.release()
            raise
        if store.damage is not None:  # read-only until repaired (see __init__)
            store.close()
            lock.discard()
            return False
        old, self.store, self.lock = self.store, store, lock
        old.close()
        return True

    def close(self) -> None:
        with self.mutex:
            try:
                self.store.close()
            finally:
                if self.lock is not None:
                    self.lock.release()
                    self.lock = None


# The handles of this process, by absolute path (read-only handles are private).
_handles: dict[str, _OpenLog] = {}
_handles_lock = threading.RLock()  # re-entrant: a finaliser may run inside _join


def _join(path: str, input_dim: int) -> _OpenLog:
    with _handles_lock:
        handle = _handles.get(path)
        if handle is None:
            handle = _handles[path] = _OpenLog(path, input_dim, readonly=False)
        elif handle.input_dim != input_dim:
            raise LogFormatError(
                f"{os.path.basename(path)} is open in this process with input_dim="
                f"{handle.input_dim}, not {input_dim}; open it with input_dim={handle.input_dim}"
            )
        else:
            with handle.mutex:
                handle.try_become_writer()
        handle.users += 1
        return handle


def _leave(handle: _OpenLog) -> None:
    """One SimulationsLog object is done with ``handle``: the last one closes it."""
    with _handles_lock:
        handle.users -= 1
        if handle.users > 0:
            return
        if _handles.get(handle.path) is handle:
            del _handles[handle.path]
    handle.close()


class LogBatch:
    """The changes gathered by :meth:`SimulationsLog.batch` on one thread.

    Attributes
    ----------
    changes : list[LogChange]
        The changes in the order they were made; two changes in a row to the same job
        that touch different fields (e.g. ``insert_result`` then ``update_job_status``)
        are merged into one.
    """

    __slots__ = ("changes",)

    def __init__(self) -> None:
        self.changes: list[LogChange] = []

    def add(self, change: LogChange) -> None:
        """Gather ``change`` (merged into the previous one when it can be)."""
        if self.changes:
            last = self.changes[-1]
            if last.job_id == change.job_id:
                fields = ("status", "output", "reason", "interface_name", "resubmitted_as")
                new = [f for f in fields if getattr(change, f) is not UNSET]
                if all(getattr(last, f) is UNSET for f in new):
                    for f in new:
                        setattr(last, f, getattr(change, f))
                    return
        self.changes.append(change)

    def set(self, job_id: str, field: str, value: Any) -> None:
        """Gather a change of one field of one job (the fast path of :meth:`add`)."""
        changes = self.changes
        if changes:
            last = changes[-1]
            if last.job_id == job_id and getattr(last, field) is UNSET:
                setattr(last, field, value)
                return
        change = LogChange(job_id, time.time())
        setattr(change, field, value)
        changes.append(change)


class _BatchContext:
    def __init__(self, log: "SimulationsLog", local: threading.local, commit: bool,
                 sync: bool):
        self.log, self.local, self.commit, self.sync = log, local, commit, sync
        self.batch: Optional[LogBatch] = None
        self.outer = False

    def __enter__(self) -> LogBatch:
        local = self.local
        current = getattr(local, "batch", None)
        if current is not None:  # nested: part of the batch already open
            self.outer = True
            return current
        self.batch = local.batch = LogBatch()
        return self.batch

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.outer:
            return
        self.local.batch = None
        if exc_type is None and self.commit and self.batch.changes:
            self.log.apply_changes(self.batch.changes, sync=self.sync)


class SimulationsLog:
    """A log of simulation jobs: inputs, levels, interfaces, statuses and outputs.

    The log lives in one file. A ``.csv`` file is kept in exauq's format (exauq reads
    what simjobs writes and the other way round); ``.db``/``.sqlite`` files are SQLite
    in WAL mode. Either way every record is kept in memory, so reads are instant, and
    each write is one small durable transaction, never a rewrite of the whole file.

    One process at a time writes a log: the first process to open a file becomes its
    writer until its SimulationsLog objects on it are closed (or garbage collected) or
    it ends. Within that process every SimulationsLog object on the file shares the one
    writer, so a notebook cell run twice simply gets a second view of the same log:
    each object sees the others' writes at once. A SimulationsLog opened while another
    process writes the log reads it (seeing that process's changes) and raises
    LogLockedError, naming that process, on writes; it takes the writer's place itself
    once that process has let go and it is asked to write.

    Parameters
    ----------
    file : str or os.PathLike
        The log file; created with its header when missing.
    input_dim : int
        The number of coordinates of a simulator input.
    readonly : bool, optional
        (simjobs) Open for reading only, never taking the writer's place.

    Raises
    ------
    TypeError
        If ``file`` is not a path or ``input_dim`` not an int.
    ValueError
        If ``input_dim`` is not positive.
    LogFormatError
        If the file exists but is not a log of this dimension (the message names the
        line and the fix).
    """

    def __init__(self, file: FilePath, input_dim: int, *, readonly: bool = False):
        if not isinstance(file, (str, bytes, os.PathLike)):
            raise TypeError(
                "Argument 'file' must define a file path, but received object of "
                f"type {type(file)} instead."
            )
        if not isinstance(input_dim, int) or isinstance(input_dim, bool):
            raise TypeError(
                "Expected 'input_dim' to be of type integer, but received "
                f"{type(input_dim)} instead."
            )
        if input_dim <= 0:
            raise ValueError(
                "Expected 'input_dim' to be a positive integer, but received "
                f"{input_dim} instead."
            )
        self._path = os.path.abspath(os.fsdecode(file))
        self._input_dim = input_dim
        self._readonly = readonly
        self._handle = _OpenLog(self._path, input_dim, True) if readonly else _join(
            self._path, input_dim)
        if readonly:
            self._handle.users = 1
        self._closed = False
        # Called by close(), or when the object is collected: the last object on a
        # file closes it (atexit is handled below, after the managers have stopped).
        self._leave = weakref.finalize(self, _leave, self._handle)
        self._leave.atexit = False

    @property
    def _store(self):
        # The store shared by every object on the file in this process (see _OpenLog).
        return self._handle.store

    @property
    def _lock(self) -> threading.RLock:
        # The mutex guarding that store and its records.
        return self._handle.mutex

    # ---- simjobs additions ------------------------------------------------------

    @classmethod
    def open(
        cls, file: FilePath, input_dim: Optional[int] = None, *, readonly: bool = False
    ) -> "SimulationsLog":
        """Open a log, reading its input dimension from the file when not given."""
        if input_dim is None:
            input_dim = infer_input_dim(file)
        return cls(file, input_dim, readonly=readonly)

    @property
    def path(self) -> str:
        """The log file's absolute path."""
        return self._path

    @property
    def input_dim(self) -> int:
        """The number of coordinates of a simulator input."""
        return self._input_dim

    @property
    def is_writer(self) -> bool:
        """True when this object may write the log (this process holds the writer lock)."""
        return not self._closed and self._handle.is_writer

    def holder(self) -> Optional[dict]:
        """The process writing this log (pid, host, since, and manager=True when a
        JobManager runs there), or None."""
        return LogLock.holder(self._path)

    def announce_manager(self, running: bool, **info: Any) -> None:
        """Say in the lock file whether a JobManager runs on this log in this process
        (other processes then hand their requests to it rather than give up), with
        ``info`` about it (its uid, its inbox)."""
        lock = self._handle.lock
        if lock is not None and not self._closed:
            lock.announce(manager=running, **info)

    def refresh(self) -> bool:
        """Load what another process wrote; True if anything changed. Writers: no-op."""
        with self._lock:
            if self.is_writer:
                return False
            return self._store.refresh()

    def _sync(self) -> None:
        # A reader sees the writer's latest state before answering.
        if not self._handle.is_writer and not self._closed:
            self._store.refresh()

    @property
    def damage(self) -> Optional[str]:
        """One line saying what is missing from which file when the log's files were
        found damaged (the log is then read-only until ``simjobs repair``), else None."""
        return self._store.damage

    def require_writer(self) -> None:
        """Check that this object may write the log; if the process that held the log
        has let it go, take the writer's place now.

        Raises
        ------
        LogLockedError
            If another process writes the log (the message names it), or the log was
            opened read-only.
        SimjobsError
            If this object has been closed, or the log is damaged (until repaired).
        """
        with self._lock:
            self._require_writer()

    def _require_writer(self) -> None:
        if self._closed:
            raise SimjobsError(f"the simulations log {self._path} is closed")
        if self._store.damage is not None:
            raise SimjobsError(self._store.damage)
        if not self._handle.is_writer and not self._handle.try_become_writer():
            if self._readonly:
                raise LogLockedError(
                    f"{os.path.basename(self._path)} was opened read-only; open it "
                    "without readonly=True to change it"
                )
            holder = LogLock.holder(self._path) or {}
            if (holder.get("pid"), holder.get("host")) == (os.getpid(), socket.gethostname()):
                raise LogLockedError(
                    f"{os.path.basename(self._path)} is already written by this process "
                    "under another path; open it by the same path to share that writer",
                    holder=holder,
                )
            raise LogLockedError(
                f"{os.path.basename(self._path)} is managed by another process "
                f"({holder_text(holder)}); "
                "hand requests to it (the simjobs CLI does) or stop it first",
                holder=holder,
            )

    def _record(self, job_id: JobIdLike, action: str) -> LogRecord:
        key = str(job_id)
        record = self._store.records.get(key)
        if record is None:
            raise SimulationsLogLookupError(
                f"Could not {action} simulation with job ID = {key}: "
                "no such simulation exists."
            )
        return record

    def get_record(self, job_id: JobIdLike) -> LogRecord:
        """The full record of a job, extras included (a copy).

        Raises
        ------
        SimulationsLogLookupError
            If no record has this id.
        """
        with self._lock:
            self._sync()
            record = self._record(job_id, "find")
            return _copy(record)

    def iter_records(self) -> list[LogRecord]:
        """Copies of every record, in the order they were added."""
        with self._lock:
            self._sync()
            return [_copy(r) for r in self._store.records.values()]

    def records(
        self, job_ids: Optional[Iterable[JobIdLike]] = None, *, live: bool = False
    ) -> list[LogRecord]:
        """(simjobs) The records as this object holds them now, cheaply: a snapshot for a
        reader that keeps up with the log by other means (:class:`StatusChanges`, a
        manager's events).

        Unlike :meth:`iter_records` and :meth:`get_record`, a reader of a log another
        process writes does not load that process's latest writes first (call
        :meth:`refresh` for that), and a copy's history is not decoded: copying 100,000
        records takes tens of milliseconds, not seconds.

        Parameters
        ----------
        job_ids : iterable of str, int or JobId, optional
            Only these records, in this order; ids not in the log are left out. By
            default every record, in the order they were added.
        live : bool, optional
            Return the log's own record objects, not copies (:meth:`LogRecord.shallow_copy`).
            They must never be changed, and their fields change as the log does (under
            this log's lock): for a first display of a big log, kept current by events.
            By default False.

        Returns
        -------
        list[LogRecord]

        Raises
        ------
        TypeError
            If ``job_ids`` is one id rather than a collection of them.
        """
        if isinstance(job_ids, (str, bytes, int)):
            raise TypeError(f"Expected a list of job ids, but received {job_ids!r}.")
        with self._lock:
            held = self._store.records
            if job_ids is None:
                found = list(held.values())
            else:
                found = [r for r in map(held.get, map(str, job_ids)) if r is not None]
            # Copied under the lock: a copy never shows half of a change.
            return found if live else list(map(LogRecord.shallow_copy, found))

    def __len__(self) -> int:
        with self._lock:
            self._sync()
            return len(self._store.records)

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            self._sync()
            return str(job_id) in self._store.records

    def status_counts(self) -> dict[JobStatus, int]:
        """How many records have each status."""
        with self._lock:
            self._sync()
            return dict(Counter(r.status for r in self._store.records.values()))

    def max_job_id(self) -> Optional[str]:
        """The largest job id in the log (ids compare as numbers)."""
        with self._lock:
            self._sync()
            ids = self._store.records.keys()
            return max(ids, key=lambda s: (len(s), s)) if ids else None

    def add_new_records(
        self,
        rows: Sequence[tuple],
        *,
        now: Optional[float] = None,
        sync: bool = True,
    ) -> None:
        """Add many records in one transaction (all or none).

        Parameters
        ----------
        rows : sequence of tuples
            ``(x, job_id, job_status, job_level, interface_name[, resubmit_of])``.
        sync : bool, optional
            Make the batch durable (fsync) before returning; with False it is written
            (safe if the process dies) and made durable by the next :meth:`sync`.

        Raises
        ------
        ValueError
            If an id is invalid or in use (in the log or twice in ``rows``), or an
            input has the wrong dimension or a non-finite coordinate. Nothing is added.
        """
        now = time.time() if now is None else now
        with self._lock:
            self._require_writer()
            new: list[LogRecord] = []
            seen: set[str] = set()
            for row in rows:
                x, job_id, status, level, interface_name, *rest = row
                key = str(JobId(job_id))
                x = _as_input(x)
                if len(x) != self._input_dim:
                    raise ValueError(
                        f"Expected input 'x' to have {self._input_dim} coordinates, but got "
                        f"{len(x)} instead."
                    )
                if key in self._store.records or key in seen:
                    raise ValueError(f"The job_id '{key}' is already in use.")
                if not isinstance(status, JobStatus):
                    raise TypeError(f"Expected a JobStatus, but received {status!r}.")
                if not isinstance(level, int) or isinstance(level, bool):
                    raise TypeError(f"Expected 'job_level' to be an int, but received {level!r}.")
                seen.add(key)
                new.append(
                    LogRecord(
                        job_id=key,
                        coords=x.coordinates,  # (the Input's own tuple: no copy)
                        output=None,
                        status=status,
                        level=level,
                        interface_name=interface_name or "",
                        created=now,
                        changed=now,
                        resubmit_of=(str(rest[0]) if rest and rest[0] is not None else None),
                        history=[(status, now)],
                    )
                )
            self._store.add(new, sync)

    def apply_changes(self, changes: Sequence[LogChange], *, sync: bool = True) -> None:
        """Apply many changes in one transaction (``sync`` as for :meth:`add_new_records`).

        Raises
        ------
        SimulationsLogLookupError
            If a change names an unknown job (nothing is applied).
        """
        if not changes:
            return
        with self._lock:
            self._require_writer()
            for change in changes:
                self._record(change.job_id, "update")
            if not self._gather(changes):
                self._store.apply(changes, sync)

    def _gather(self, changes: Sequence[LogChange]) -> bool:
        # Inside batch() on this thread: keep the changes for the batch's transaction.
        batch = getattr(self._handle.local, "batch", None)
        if batch is None:
            return False
        for change in changes:
            batch.add(change)
        return True

    def batch(self, *, commit: bool = True, sync: bool = True) -> "_BatchContext":
        """Group the changes this thread makes in a ``with`` block into one transaction.

        Inside the block, :meth:`insert_result`, :meth:`update_job_status`,
        :meth:`set_job_reason` and :meth:`apply_changes` check their arguments at once
        (and raise as usual) but write nothing; at the end of the block every change is
        written in one transaction, or none if the block raised. Reads inside the block
        see the log as it was before it. New records (:meth:`add_new_record`) are
        written at once. Other threads and objects are not affected; a batch opened
        inside another on the same thread is part of it.

        Parameters
        ----------
        commit : bool, optional
            Write the changes at the end of the block, by default True. With False
            they are only gathered: the caller reviews ``batch.changes`` and writes
            what it keeps with :meth:`apply_changes` (the JobManager does this to write
            what its strategies did in a cycle in one transaction, and to publish
            their events).
        sync : bool, optional
            As for :meth:`apply_changes`.

        Returns
        -------
        context manager
            Its ``as`` target is the :class:`LogBatch` being gathered.

        Examples
        --------
        >>> with log.batch():                          # doctest: +SKIP
        ...     log.insert_result("1", 42.0)
        ...     log.update_job_status("1", JobStatus.COMPLETED)
        """
        return _BatchContext(self, self._handle.local, commit, sync)

    def set_job_reason(self, job_id: JobIdLike, reason: Optional[str]) -> None:
        """(simjobs) Record why a job is in its status (failed, cancelled, waiting to be
        submitted...), as the app and CLI show it; None clears it.

        Raises
        ------
        SimulationsLogLookupError
            If no record has this id.
        """
        if reason is not None and not isinstance(reason, str):
            raise TypeError(f"Expected a reason of type str or None, but received {reason!r}.")
        self._set_field(job_id, "reason", reason, "record a reason for")

    def sync(self) -> None:
        """Make every write so far durable (fsync); cheap when there is nothing to do.

        Does not hold the log's lock while the disk syncs: other threads go on writing."""
        if self.is_writer:
            self._store.sync()

    def link_resubmission(self, old_id: JobIdLike, new_id: JobIdLike) -> None:
        """Record that job ``old_id`` was resubmitted as ``new_id``, keeping the links it
        already has (``resubmitted_as`` lists them all)."""
        with self._lock:
            old = self._record(str(old_id), "update").resubmitted_as
            self.apply_changes([LogChange(job_id=str(old_id), time=time.time(),
                                          resubmitted_as=[*old, str(new_id)])])

    def checkpoint(self) -> None:
        """Fold journals into the main file, so that exauq sees the current state."""
        with self._lock:
            if self.is_writer:
                self._store.checkpoint()

    def close(self) -> None:
        """Stop using this object. The last SimulationsLog object of this process on the
        file writes everything out (see :meth:`checkpoint`) and gives up the writer's
        place; the others go on working."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._leave()

    def __enter__(self) -> "SimulationsLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- exauq's API --------------------------------------------------------------

    def get_simulations(self) -> tuple[tuple[Input, Optional[Real], int], ...]:
        """All simulations in the log.

        Returns
        -------
        tuple[tuple[Input, Optional[Real], int], ...]
            ``(x, y, level)`` per record: the input, the output (None when there is
            none yet) and the level.
        """
        with self._lock:
            self._sync()
            return tuple(
                (r.input, r.output, r.level) for r in self._store.records.values()
            )

    def add_new_record(
        self,
        x: Input,
        job_id: JobIdLike,
        job_status: JobStatus = JobStatus.PENDING_SUBMIT,
        job_level: int = 1,
        interface_name: Optional[str] = None,
    ) -> None:
        """Record a new job.

        Parameters
        ----------
        x : Input
            The simulator input.
        job_id : str, int or JobId
            The job's id: digits only, not in use.
        job_status : JobStatus, optional
            Its status, by default PENDING_SUBMIT.
        job_level : int, optional
            Its level, by default 1.
        interface_name : str, optional
            The interface it is assigned to, by default none.

        Raises
        ------
        ValueError
            If the id is not digits or is in use, or ``x`` has the wrong number of
            coordinates (or a non-finite one).
        """
        self.add_new_records([(x, job_id, job_status, job_level, interface_name)])

    def insert_result(self, job_id: JobIdLike, result: Real) -> None:
        """Set the output of a job.

        Raises
        ------
        SimulationsLogLookupError
            If no record has this id.
        ValueError
            If ``result`` is not finite (simjobs never stores NaN or infinity).
        """
        self._set_field(job_id, "output", _check_output(result), "add output to")

    def _set_field(self, job_id: JobIdLike, field: str, value: Any, action: str) -> None:
        # One field of one record: written at once, or gathered by an open batch.
        key = str(job_id)
        with self._lock:
            self._require_writer()
            self._record(key, action)
            batch = getattr(self._handle.local, "batch", None)
            if batch is not None:
                batch.set(key, field, value)
                return
            change = LogChange(key, time.time())
            setattr(change, field, value)
            self._store.apply([change])

    def get_records(
        self,
        job_ids: Optional[Sequence[JobIdLike]] = None,
        statuses: Optional[Sequence[JobStatus]] = None,
    ) -> list[dict[str, Any]]:
        """Records matching both filters (None: no filter), in the order they were added.

        Returns
        -------
        list[dict[str, Any]]
            One dict per record with keys ``job_id`` (JobId), ``status`` (JobStatus),
            ``input`` (Input) and ``output`` (float or None).
        """
        with self._lock:
            self._sync()
            records = self._store.records
            if job_ids is not None:
                wanted = {str(j) for j in job_ids}
                selected = [r for k, r in records.items() if k in wanted]
            else:
                selected = list(records.values())
            if statuses is not None:
                status_set = set(statuses)
                selected = [r for r in selected if r.status in status_set]
            return [
                {"job_id": JobId(r.job_id), "status": r.status, "input": r.input, "output": r.output}
                for r in selected
            ]

    def get_non_terminated_jobs(self) -> tuple[Job, ...]:
        """Jobs whose status is not terminal (anything but Completed, Failed, Failed
        submit, Cancelled)."""
        with self._lock:
            self._sync()
            return tuple(
                r.to_job() for r in self._store.records.values()
                if r.status not in TERMINAL_STATUSES
            )

    def get_unsubmitted_inputs(self) -> tuple[Input, ...]:
        """Inputs of jobs still pending submission."""
        with self._lock:
            self._sync()
            return tuple(
                r.input for r in self._store.records.values()
                if r.status is JobStatus.PENDING_SUBMIT
            )

    def update_job_status(self, job_id: JobIdLike, new_status: JobStatus) -> None:
        """Set the status of a job.

        Raises
        ------
        SimulationsLogLookupError
            If no record has this id.
        """
        if not isinstance(new_status, JobStatus):
            raise TypeError(f"Expected a JobStatus, but received {new_status!r}.")
        self._set_field(job_id, "status", new_status, "update status of")

    def get_job_status(self, job_id: JobIdLike) -> JobStatus:
        """The status of a job.

        Raises
        ------
        SimulationsLogLookupError
            If no record has this id.
        """
        with self._lock:
            self._sync()
            return self._record(job_id, "retrieve status of").status

    def prepare_training_data(self) -> MultiLevel[list[TrainingDatum]]:
        """The simulations that have an output, as training data per level.

        Every record with an output counts, whatever its status (as in exauq: an
        output inserted with :meth:`insert_result` is training data at once). Warns
        when there is none and returns an empty MultiLevel.
        """
        training: dict[int, list[TrainingDatum]] = defaultdict(list)
        with self._lock:
            self._sync()
            for r in self._store.records.values():
                if r.output is not None:
                    training[r.level].append(TrainingDatum(r.input, r.output))
        if not training:
            warnings.warn(
                "No successfully completed simulations in log, returning empty MultiLevel."
            )
        return MultiLevel(dict(training))


_STATUS = attrgetter("status")


class StatusChanges:
    """What changed in a log another process writes, one :meth:`refresh` after another.

    Made on a reader of the log (the app watching a log that a manager elsewhere
    writes), it notes every record's status; each :meth:`refresh` loads what the writer
    wrote since (two ``stat`` calls when nothing changed) and returns the records whose
    status changed, or that are new, since the one before. Only statuses are compared:
    a manager writes an output, a reason or a resubmission link together with a status
    change. The comparison is a C-level loop: a few milliseconds on 100,000 records.

    Parameters
    ----------
    log : SimulationsLog
        A reader of the log (a writer's :meth:`~SimulationsLog.refresh` loads nothing,
        so its refreshes find no change). Only this object should refresh it, or a
        change loaded elsewhere is found by nobody.
    """

    def __init__(self, log: SimulationsLog):
        self.log = log
        self._records, self._values, self._statuses = self._columns()

    def _columns(self) -> tuple[dict, list, list]:
        # The store's dict (a new one only after the store reloaded the file), its
        # records and their statuses, in the log's order.
        with self.log._lock:
            records = self.log._store.records
            values = list(records.values())
        return records, values, list(map(_STATUS, values))

    def refresh(self) -> list[tuple[LogRecord, Optional[JobStatus]]]:
        """Load the writer's latest changes and say which records they touched.

        Returns
        -------
        list[tuple[LogRecord, Optional[JobStatus]]]
            ``(record, old status)`` for each record whose status changed (``old
            status`` None for a new record), in the log's order. The records are the
            log's own, as with ``records(live=True)``: read them, never change them.
        """
        if not self.log.refresh():
            return []
        records, values, statuses = self._columns()
        old_values, old_statuses = self._values, self._statuses
        n_old = len(old_statuses)
        if records is self._records and len(values) >= n_old:
            # The same records in the same order, maybe new ones after them.
            changed = [(values[i], old_statuses[i])
                       for i in compress(range(n_old), map(is_not, statuses, old_statuses))]
            changed += [(r, None) for r in values[n_old:]]
        else:  # the store reloaded the file: compare by id
            before = dict(zip(map(attrgetter("job_id"), old_values), old_statuses))
            changed = [(r, before.get(r.job_id)) for r, st in zip(values, statuses)
                       if before.get(r.job_id) is not st]
        self._records, self._values, self._statuses = records, values, statuses
        return changed


def _copy(record: LogRecord) -> LogRecord:
    import dataclasses

    return dataclasses.replace(record, history=list(record.history),
                               resubmitted_as=list(record.resubmitted_as))


# Logs still open at interpreter exit are checkpointed, so that the main CSV holds the
# final state for exauq even when a script forgets close(). Registered at import, before
# the manager module's hook, so it runs after the managers have stopped (last-in,
# first-out).
@atexit.register
def _close_open_logs() -> None:
    with _handles_lock:
        handles = list(_handles.values())
        _handles.clear()
    for handle in handles:
        try:
            handle.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
