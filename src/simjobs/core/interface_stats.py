"""The interfaces' capacity and health, written beside the log for its viewers.

A viewer of a log another process manages (``simjobs app --watch``) has no interface
objects: only the manager knows each interface's capacity, health and poll latency. The
manager's housekeeping thread writes them to ``<log>.interfaces.json`` with
:class:`InterfaceStatsWriter` (whole, by :func:`~simjobs.core.files.atomic_write`, at
most every :data:`WRITE_INTERVAL` seconds and at once on a health change); viewers read
it with :func:`read_interface_stats`, which never follows a link and treats a missing,
foreign or garbled file as "nothing known". Nothing here imports anything above core.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from typing import TYPE_CHECKING, Any, Optional

from .files import atomic_write
from .lock import this_host

if TYPE_CHECKING:  # pragma: no cover
    from .manager import JobManager

__all__ = ["SUFFIX", "WRITE_INTERVAL", "stats_path", "InterfaceStatsWriter",
           "read_interface_stats"]

logger = logging.getLogger("simjobs")

SUFFIX = ".interfaces.json"
#: The least time between two writes when only poll latencies changed.
WRITE_INTERVAL = 3.0
#: A stats file larger than this is not read (a few interfaces take a few hundred bytes).
MAX_BYTES = 1 << 20
_FIELDS = ("level", "kind", "host", "max_jobs", "health", "health_message", "health_since",
           "last_poll_seconds", "last_poll_time")


def stats_path(log_path) -> str:
    """The stats file of a log: ``<log>.interfaces.json``."""
    return os.path.abspath(os.fsdecode(log_path)) + SUFFIX


class InterfaceStatsWriter:
    """Writes a manager's interface stats beside its log (see the module docstring).

    Parameters
    ----------
    log_path : path
        The log; the file is :func:`stats_path` of it.
    interval : float
        Least seconds between two writes unless an interface's health changed.
    clock : callable
        Monotonic seconds (tests may pass their own).
    """

    def __init__(self, log_path, interval: float = WRITE_INTERVAL,
                 clock=time.monotonic) -> None:
        self.path = stats_path(log_path)
        self.interval = interval
        self.clock = clock
        self.writes = 0
        self._health: Optional[dict] = None
        self._last = float("-inf")
        self._content: Optional[dict] = None  # the interfaces' part written last
        self._failed: Optional[str] = None

    def update(self, manager: "JobManager") -> bool:
        """Write the file if an interface's health changed, or if ``interval`` has
        passed and something else did; returns whether it wrote. Cheap when nothing is
        due (one look at the health of each interface). Errors are logged once, never
        raised: the viewers then show what they knew."""
        health = {name: (h.state, h.message, h.since)
                  for name, h in manager.interface_health().items()}
        if health == self._health and self.clock() - self._last < self.interval:
            return False
        stats = manager.interface_stats()
        doc = {"pid": os.getpid(), "host": this_host(), "written": time.time(),
               "interfaces": {name: {k: s.get(k) for k in _FIELDS}
                              for name, s in stats.items()}}
        self._last = self.clock()
        if health == self._health and self._content == doc["interfaces"]:
            return False  # nothing new to tell
        try:
            atomic_write(self.path, json.dumps(doc, default=str), durable=False)
        except OSError as exc:
            text = f"{exc.strerror or exc}"
            if text != self._failed:
                logger.warning("simjobs: cannot write %s: %s (viewers of the log show "
                               "no interface health)", self.path, text)
            self._failed = text
            return False
        self._failed = None
        self._health = health
        self._content = doc["interfaces"]
        self.writes += 1
        return True


def read_interface_stats(log_path, holder: Optional[dict] = None) -> dict[str, dict[str, Any]]:
    """What the log's manager last wrote about its interfaces: name -> ``level``,
    ``kind``, ``host``, ``max_jobs``, ``health``, ``health_message``, ``health_since``,
    ``last_poll_seconds``, ``last_poll_time``; ``{}`` when there is no such file, it is
    not a regular file (a link is never followed), it belongs to another user than the
    log's holder (``holder["uid"]`` when known, else the log file's owner), it is not
    from the process that holds the log now (``holder`` pid and host: a stale file of a
    manager that ended), or it cannot be read as such.

    Parameters
    ----------
    log_path : path
        The log.
    holder : dict, optional
        The log's holder (:meth:`~simjobs.core.lock.LogLock.holder`); without one, the
        file's own pid is not checked.
    """
    path = stats_path(log_path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return {}
        owner = holder.get("uid") if holder else None
        if not isinstance(owner, int):
            try:
                owner = os.stat(os.fsdecode(log_path)).st_uid
            except OSError:
                return {}
        if st.st_uid != owner:
            return {}  # someone else's file: not the manager's word
        data = os.read(fd, MAX_BYTES + 1)
    except OSError:
        return {}
    finally:
        os.close(fd)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("interfaces"), dict):
        return {}
    if holder and (doc.get("pid") != holder.get("pid") or doc.get("host") != holder.get("host")):
        return {}  # written by a manager that has ended
    return {name: s for name, s in doc["interfaces"].items()
            if isinstance(name, str) and isinstance(s, dict)}
