"""The in-memory form of one simulations-log record, and of a change to it.

Both stores (CSV and SQLite) keep every record in memory as a :class:`LogRecord`
(reads never touch the disk) and persist :class:`LogChange` batches.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from .types import Input, Job, JobStatus


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()
"""Marks a field of a LogChange that the change leaves as it is."""


@dataclasses.dataclass(slots=True)
class LogRecord:
    """One job in the log.

    The first six fields are exauq's columns; the rest are simjobs' extras, kept where
    they do not disturb an exauq reader (a sidecar file for CSV, extra columns and a
    history table for SQLite).
    """

    job_id: str
    coords: tuple[float, ...]
    output: Optional[float]
    status: JobStatus
    level: int
    interface_name: str  # "" when the job has no interface yet
    created: Optional[float] = None  # epoch seconds the record was added
    changed: Optional[float] = None  # epoch seconds of the last status change
    reason: Optional[str] = None  # why the job failed / was cancelled / is waiting
    resubmit_of: Optional[str] = None  # the job this one was resubmitted from
    resubmitted_as: Optional[str] = None  # the job that replaced this one
    history: list[tuple[JobStatus, float]] = dataclasses.field(default_factory=list)

    @property
    def input(self) -> Input:
        return Input._trusted(self.coords)

    def to_job(self) -> Job:
        return Job(self.job_id, self.input, self.level, self.interface_name or None)


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
    resubmitted_as: object = UNSET  # str | None

    def apply_to(self, record: LogRecord) -> None:
        """Apply this change to ``record`` in memory."""
        if self.status is not UNSET and self.status != record.status:
            record.status = self.status
            record.changed = self.time
            record.history.append((self.status, self.time))
        if self.output is not UNSET:
            record.output = self.output
        if self.reason is not UNSET:
            record.reason = self.reason
        if self.interface_name is not UNSET:
            record.interface_name = self.interface_name
        if self.resubmitted_as is not UNSET:
            record.resubmitted_as = self.resubmitted_as
