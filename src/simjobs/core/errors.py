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


class NotALogError(LogFormatError):
    """The file is not a simulations log at all (another kind of file), as opposed to a
    log with a damaged line: a wrong path, which the CLI answers with exit code 2."""


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


#: How much of a file's content an error message quotes.
EXCERPT_LIMIT = 80


def excerpt(text, limit: int = EXCERPT_LIMIT, quote: bool = True) -> str:
    """``text`` quoted for an error message (repr, so control bytes show as escapes),
    cut to about ``limit`` characters: a damaged line of 16 KB must not become a 16 KB
    message. ``quote=False`` leaves out the quotes (for a message that quotes content).

    Examples
    --------
    >>> excerpt("1/3")
    "'1/3'"
    >>> excerpt("\\x00" * 1000).endswith("… (1000 characters)")
    True
    """
    if isinstance(text, BaseException):
        text = str(text)
    quoted = repr(text)
    if not quote and isinstance(text, str):
        quoted = quoted[1:-1]
    if len(quoted) <= limit:
        return quoted
    return f"{quoted[:limit]}… ({len(str(text))} characters)"


def one_line(exc: BaseException) -> str:
    """``exc`` in one line for a reason or a health message: its type and the first
    line of its message.

    Examples
    --------
    >>> one_line(OSError("disk full\\nmore detail"))
    'OSError: disk full'
    >>> one_line(TimeoutError())
    'TimeoutError'
    """
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
