"""Unique, time-ordered job ids in exauq's ``YYYYMMDDHHMMSSfff`` format."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from .types import JobId

_ONE_MS = timedelta(milliseconds=1)
_FORMAT = "%Y%m%d%H%M%S%f"


class JobIDGenerator:
    """Generates unique job ids from the local time, to the millisecond.

    Ids are 17 digits, ``YYYYMMDDHHMMSSfff``. When several ids are asked for within one
    millisecond, the generator hands out the following milliseconds instead of sleeping
    (exauq sleeps 1 ms per id): a burst of 10,000 ids takes milliseconds and runs at
    most a few seconds ahead of the clock, then the clock catches up. Thread-safe.

    Examples
    --------
    >>> gen = JobIDGenerator()
    >>> job_id = gen.generate_id()
    >>> len(str(job_id))
    17
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._last: datetime | None = None

    def generate_id(self) -> JobId:
        """Return a new job id, later than every id this generator gave before.

        Returns
        -------
        JobId
            A 17-digit id ``YYYYMMDDHHMMSSfff``.
        """
        return JobId(self._next_text())

    def generate_ids(self, n: int) -> list[JobId]:
        """Return ``n`` new ids in one call (one lock acquisition)."""
        with self._lock:
            return [JobId(self._advance()) for _ in range(n)]

    def advance_past(self, job_id: JobId | str) -> None:
        """Never hand out an id at or before ``job_id`` (used to resume a log whose ids
        may run ahead of the clock after a burst)."""
        text = str(job_id)
        if len(text) != 17:
            return
        try:
            stamp = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(
                microsecond=int(text[14:]) * 1000
            )
        except ValueError:
            return
        with self._lock:
            if self._last is None or stamp > self._last:
                self._last = stamp

    def _next_text(self) -> str:
        with self._lock:
            return self._advance()

    def _advance(self) -> str:
        now = datetime.now()
        now = now.replace(microsecond=now.microsecond - now.microsecond % 1000)
        if self._last is not None and now <= self._last:
            now = self._last + _ONE_MS
        self._last = now
        return now.strftime(_FORMAT)[:-3]
