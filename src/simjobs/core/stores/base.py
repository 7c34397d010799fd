"""The contract every simulations-log store fulfils (CSV and SQLite)."""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Optional
from numbers import Real

from ..errors import SimjobsError
from ..records import LogChange, LogRecord
from ..types import JobStatus


class LogStore(ABC):
    """Persists the records of one simulations log and keeps all of them in memory.

    Parameters
    ----------
    path : str
        The log file.
    input_dim : int
        The number of input coordinates.
    readonly : bool
        A reader never writes, never repairs, never takes the writer lock, and sees what
        the writing process wrote through :meth:`refresh`.

    Contract
    --------
    - ``records`` maps job id (str) -> LogRecord, in the order the records were added.
    - :meth:`add` and :meth:`apply` are each one transaction: after they return, the
      data is on disk (flushed, and fsync'd unless ``sync=False``); a crash at any moment leaves the log readable
      with either all or none of that batch (the incomplete tail is dropped with a
      warning when the log is next opened for writing).
    - Neither ever rewrites the whole log per call: cost per call is O(batch), with any
      compaction amortised (O(1) per change).
    - Opening creates the file (with its header) when missing; an existing file with the
      wrong header or an unreadable field raises LogFormatError naming the file, the line
      and the fix, and changes nothing on disk.
    """

    def __init__(self, path: str | os.PathLike, input_dim: int, *, readonly: bool = False):
        self.path = os.fspath(path)
        self.input_dim = input_dim
        self.readonly = readonly
        self.records: dict[str, LogRecord] = {}
        # One line when the files were found damaged (records or extras missing): the
        # store is then read-only, and changes nothing on disk until repaired.
        self.damage: Optional[str] = None

    @abstractmethod
    def add(self, records: Sequence[LogRecord], sync: bool = True) -> None:
        """Append new records (their ids are known to be new) in one transaction.

        With ``sync=False`` the transaction is written (a killed process loses nothing)
        but made durable against power loss only by the next :meth:`sync`."""

    @abstractmethod
    def apply(self, changes: Sequence[LogChange], sync: bool = True) -> None:
        """Apply changes to existing records (in memory and on disk) in one transaction
        (``sync`` as for :meth:`add`)."""

    def sync(self) -> None:
        """Make every transaction so far durable (fsync)."""

    @abstractmethod
    def refresh(self) -> bool:
        """Load what another process wrote since the last load; True if anything changed.

        Cheap when nothing changed (a stat or a pragma), incremental when possible."""

    def checkpoint(self) -> None:
        """Fold journals into the main file (CSV) / checkpoint the WAL (SQLite)."""

    @abstractmethod
    def close(self) -> None:
        """Checkpoint (when writing) and release files."""

    def _validate_record(self, rec: LogRecord, seen: set) -> None:
        """Check a new record before it is written (ValueError naming the problem)."""
        job_id = rec.job_id
        if not (isinstance(job_id, str) and job_id.isascii() and job_id.isdigit()):
            raise ValueError(f"job id {job_id!r} is not a string of digits")
        if job_id in self.records or job_id in seen:
            raise ValueError(f"The job_id '{job_id}' is already in use.")
        seen.add(job_id)
        if len(rec.coords) != self.input_dim:
            raise ValueError(
                f"job {job_id} has {len(rec.coords)} coordinates, not {self.input_dim}"
            )
        for c in rec.coords:
            if not isinstance(c, Real) or isinstance(c, bool) or not math.isfinite(c):
                raise ValueError(f"job {job_id} has a coordinate {c!r} that is not finite")
        validate_output(job_id, rec.output)
        if not isinstance(rec.status, JobStatus):
            raise ValueError(f"job {job_id} has status {rec.status!r}, not a JobStatus")
        if not isinstance(rec.level, int) or isinstance(rec.level, bool):
            raise ValueError(f"job {job_id} has level {rec.level!r}, not an int")
        if not isinstance(rec.interface_name, str):
            raise ValueError(f"job {job_id} has interface name {rec.interface_name!r}")


def validate_output(job_id: str, output) -> None:
    """An output is None or a finite real number (ValueError otherwise)."""
    if output is not None and (
        not isinstance(output, Real) or isinstance(output, bool) or not math.isfinite(output)
    ):
        raise ValueError(f"job {job_id}: output {output!r} is not a finite number")


def check_log_directory(path: str) -> None:
    """A writer's log must go into an existing, writable directory (one-line error)."""
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        what = "is not a directory" if os.path.exists(d) else "does not exist"
        raise SimjobsError(
            f"cannot create the log {path}: {d} {what}; create the directory "
            "or choose another path"
        )
    if not os.access(d, os.W_OK | os.X_OK):
        raise SimjobsError(
            f"cannot write the log {path}: directory {d} is not writable; "
            "fix its permissions or choose another path"
        )


def _only_writer_of_directory(uid: int, path: str) -> bool:
    """True when ``uid`` owns the directory of ``path`` and nobody else may write it:
    then only that user (or root) can have made the file. This is how a log on a
    network file system looks when the server maps every file to the remote account
    (sshfs, NFS with all_squash): not this process's uid, yet nobody else's file."""
    try:
        st = os.stat(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.st_uid == uid and not st.st_mode & 0o022


def open_own_file(path: str) -> int:
    """Open (creating it if missing) a small sidecar this process rewrites in place, for
    reading and writing: never through a link, and only if this user owns it (one
    another user planted beside the log is refused with one line)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    owner = os.fstat(fd).st_uid
    if owner != os.geteuid() and not _only_writer_of_directory(owner, path):
        os.close(fd)
        raise SimjobsError(
            f"{path} belongs to uid {owner}, not to this user; remove it (and check who "
            "else can write the log's directory)"
        )
    return fd
