"""Exceptions of the simjobs core (the first three match exauq's)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Optional

from .types import JobId, JobStatus


class SimulationsLogLookupError(Exception):
    """Raised when a simulations log has no record with a given job id."""


class InvalidJobStatusError(Exception):
    """Raised when a job's status does not allow an action (e.g. cancelling a finished job).

    Attributes
    ----------
    status : JobStatus or None
        The status that made the action impossible.
    """

    def __init__(self, msg, status: Optional[JobStatus] = None):
        super().__init__(msg)
        self.status = status


class UnknownJobIdError(Exception):
    """Raised when job ids do not name any job.

    Attributes
    ----------
    unknown_ids : Collection[JobId] or None
        The ids that named no job.
    """

    def __init__(
        self, msg: Optional[str] = "", unknown_ids: Optional[Collection[JobId]] = None
    ):
        super().__init__(msg)
        self.unknown_ids = unknown_ids


class SimjobsError(Exception):
    """A problem the user can fix; its message is one line naming the problem and the fix."""


class LogFormatError(SimjobsError, ValueError):
    """The simulations log on disk is not in a format simjobs can read."""


class LogLockedError(SimjobsError):
    """Another process manages this simulations log.

    Attributes
    ----------
    holder : dict
        What the holder wrote about itself: ``pid``, ``host`` and ``since``.
    """

    def __init__(self, msg: str, holder: Optional[dict] = None):
        super().__init__(msg)
        self.holder = holder or {}


class HardwareUnreachableError(SimjobsError):
    """An interface could not reach its hardware (host down, connection dropped,
    scheduler not answering). Raised by an interface's calls, it says nothing about the
    jobs: a submit that meets it waits and retries without using up its attempts, and
    a poll that meets it keeps every job's last known status."""
