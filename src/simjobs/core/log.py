"""SimulationsLog: exauq's simulations-log API over a crash-safe, fast store."""

from __future__ import annotations

import atexit
import math
import os
import threading
import time
import warnings
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from numbers import Real
from typing import Any, Optional, Union

from .errors import LogLockedError, NotALogError, SimjobsError, SimulationsLogLookupError, excerpt
from .lock import LogLock, holder_text
from .records import LogChange, LogRecord
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


class SimulationsLog:
    """A log of simulation jobs: inputs, levels, interfaces, statuses and outputs.

    The log lives in one file. A ``.csv`` file is kept in exauq's format (exauq reads
    what simjobs writes and the other way round); ``.db``/``.sqlite`` files are SQLite
    in WAL mode. Either way every record is kept in memory, so reads are instant, and
    each write is one small durable transaction, never a rewrite of the whole file.

    One process at a time writes a log: the first SimulationsLog opened on a file
    (in any process) becomes its writer until :meth:`close` or the process ends. A
    SimulationsLog opened while another process writes the log reads it (seeing that
    process's changes) and raises LogLockedError on writes.

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
        self._lock = threading.RLock()
        self._writer_lock: Optional[LogLock] = None
        if not readonly:
            lock = LogLock(self._path)
            try:
                lock.acquire()
                self._writer_lock = lock
            except LogLockedError:
                pass  # another process writes it: we read, and writes will say who holds it
        try:
            self._store = open_store(
                self._path, input_dim, readonly=self._writer_lock is None
            )
        except BaseException:
            if self._writer_lock is not None:
                self._writer_lock.discard()  # a failed open leaves no lock file behind
            raise
        self._closed = False
        if self._writer_lock is not None and self._store.damage is not None:
            # Damaged (records missing): read-only until repaired, and the lock is free
            # for 'simjobs repair'.
            self._writer_lock.discard()
            self._writer_lock = None
        if self._writer_lock is not None:
            _open_writers.add(self)

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
        """True when this object may write the log (it holds the writer lock)."""
        return self._writer_lock is not None and not self._closed

    def holder(self) -> Optional[dict]:
        """The process writing this log (pid, host, since, and manager=True when a
        JobManager runs there), or None."""
        return LogLock.holder(self._path)

    def _announce_manager(self, running: bool, **info) -> None:
        if self._writer_lock is not None:
            self._writer_lock.announce(manager=running, **info)

    def refresh(self) -> bool:
        """Load what another process wrote; True if anything changed. Writers: no-op."""
        with self._lock:
            if self.is_writer:
                return False
            return self._store.refresh()

    def _sync(self) -> None:
        # A reader sees the writer's latest state before answering.
        if self._writer_lock is None and not self._closed:
            self._store.refresh()

    @property
    def damage(self) -> Optional[str]:
        """One line saying what is missing from which file when the log's files were
        found damaged (the log is then read-only until ``simjobs repair``), else None."""
        return self._store.damage

    def _require_writer(self) -> None:
        if self._closed:
            raise SimjobsError(f"the simulations log {self._path} is closed")
        if self._store.damage is not None:
            raise SimjobsError(self._store.damage)
        if self._writer_lock is None:
            holder = LogLock.holder(self._path)
            if holder:
                raise LogLockedError(
                    f"{os.path.basename(self._path)} is managed by another process "
                    f"({holder_text(holder)}); "
                    "hand requests to it (the simjobs CLI does) or stop it first",
                    holder=holder,
                )
            raise LogLockedError(
                f"{os.path.basename(self._path)} was opened read-only; open it "
                "without readonly=True to change it"
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
                        coords=tuple(x),
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
            self._store.apply(changes, sync)

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
        """Write everything out (see :meth:`checkpoint`) and give up the writer's place."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._store.close()
            finally:
                if self._writer_lock is not None:
                    self._writer_lock.release()
                _open_writers.discard(self)

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
        output = _check_output(result)
        with self._lock:
            self._require_writer()
            self._record(job_id, "add output to")
            self._store.apply([LogChange(job_id=str(job_id), time=time.time(), output=output)])

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
        with self._lock:
            self._require_writer()
            self._record(job_id, "update status of")
            self._store.apply(
                [LogChange(job_id=str(job_id), time=time.time(), status=new_status)]
            )

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
        """The completed simulations with outputs, as training data per level.

        Warns when there is none and returns an empty MultiLevel.
        """
        training: dict[int, list[TrainingDatum]] = defaultdict(list)
        with self._lock:
            self._sync()
            for r in self._store.records.values():
                if r.status is JobStatus.COMPLETED and r.output is not None:
                    training[r.level].append(TrainingDatum(r.input, r.output))
        if not training:
            warnings.warn(
                "No successfully completed simulations in log, returning empty MultiLevel."
            )
        return MultiLevel(dict(training))


def _copy(record: LogRecord) -> LogRecord:
    import dataclasses

    return dataclasses.replace(record, history=list(record.history),
                               resubmitted_as=list(record.resubmitted_as))


# Logs still open at interpreter exit are checkpointed, so that the main CSV holds the
# final state for exauq even when a script forgets close().
_open_writers: "weakref.WeakSet[SimulationsLog]" = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    for log in list(_open_writers):
        try:
            log.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
