"""The contract every simulations-log store fulfils (CSV and SQLite)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence

from ..records import LogChange, LogRecord


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
