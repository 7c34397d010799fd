"""Where simjobs' errors go: a rotated log file, and the recent entries in memory.

Every command (and the app, whose terminal belongs to Textual while it runs, so that
nothing written to stderr is seen) records the ``simjobs`` logger's messages in
``<user log dir>/simjobs.log`` (:func:`log_file`; the user log dir is
``platformdirs.user_log_dir("simjobs")``, e.g. ``~/.local/state/simjobs/log`` on Linux),
rotated at :data:`MAX_BYTES` with :data:`BACKUP_COUNT` old files kept. The messages
from worker threads (a manager's ``logger.exception``) land there too.

:func:`recent_entries` keeps the newest warnings and errors in memory and tells
subscribers about each new one (the app's status bar counts them).

This module imports nothing above ``simjobs.core`` and no Textual or Rich.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import logging.handlers
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

#: The logger every simjobs module logs to.
LOGGER_NAME = "simjobs"
#: The log file's name in the user log dir.
FILE_NAME = "simjobs.log"
#: Rotate the file when it reaches this size...
MAX_BYTES = 1_000_000
#: ...keeping this many older files (simjobs.log.1, .2, .3).
BACKUP_COUNT = 3
#: How many warnings and errors :func:`recent_entries` keeps.
RECENT = 100
#: The levels ``--log-level`` accepts, by name.
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FORMAT = "%(asctime)s %(levelname)s [%(process)d %(threadName)s] %(name)s: %(message)s"


class LogDirError(Exception):
    """The log directory is unsafe or cannot be made (the message says which and why)."""


def log_dir() -> Path:
    """The user log directory of simjobs (``platformdirs.user_log_dir("simjobs")``)."""
    import platformdirs

    return Path(platformdirs.user_log_dir("simjobs"))


def log_file() -> Path:
    """The log file every command writes to (see the module's docstring)."""
    return log_dir() / FILE_NAME


def level_number(name: str) -> int:
    """The logging level for a ``--log-level`` name (debug, info, warning, error).

    Raises
    ------
    ValueError
        For another name.
    """
    try:
        return LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown log level {name!r}; use one of: "
                         f"{', '.join(LEVELS)}") from None


def _safe_dir(directory: Path) -> None:
    """Make ``directory`` (mode 0700) or check the one there: a real directory (not a
    link), owned by this user, writable by no one else. The file in it is then opened
    by name without another user being able to swap it for a link."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise LogDirError(f"cannot create the log directory {directory}: "
                          f"{exc.strerror or exc}") from None
    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode):
        raise LogDirError(f"{directory} is not a directory (a link?); remove it so that "
                          "simjobs can make its log directory there")
    if st.st_uid != os.geteuid():
        raise LogDirError(f"{directory} belongs to another user; remove it or set "
                          "XDG_STATE_HOME to a directory of yours")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise LogDirError(f"{directory} is writable by other users; "
                          f"'chmod go-w {directory}' makes it safe for the log file")


class _FileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose file (and its rotated copies) is private to the
    user: created mode 0600, never through a symbolic link."""

    def _open(self):
        fd = os.open(self.baseFilename,
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


_installed: Optional[logging.Handler] = None
_install_lock = threading.Lock()


def install(level: int = logging.WARNING, path: Optional[Path] = None) -> Path:
    """Record the ``simjobs`` logger's messages at ``level`` and above in the log file
    (once per process; a second call sets the level of the handler already there).

    Also turns on :func:`recent_entries`. Returns the file's path.

    Raises
    ------
    LogDirError
        When the log directory cannot be made or is not safe to write in.
    OSError
        When the file cannot be opened.
    """
    global _installed
    path = Path(path) if path is not None else log_file()
    logger = logging.getLogger(LOGGER_NAME)
    with _install_lock:
        if _installed is None:
            _safe_dir(path.parent)
            handler = _FileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT,
                                   encoding="utf-8")
            handler.setFormatter(logging.Formatter(FORMAT))
            logger.addHandler(handler)
            _installed = handler
        _installed.setLevel(level)
        installed_path = Path(_installed.baseFilename)
    recent_entries()
    lower_logger_level(level)
    return installed_path


def uninstall() -> None:
    """Stop writing the log file (tests; the process's exit closes it otherwise)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            logging.getLogger(LOGGER_NAME).removeHandler(_installed)
            _installed.close()
            _installed = None


def lower_logger_level(level: int) -> None:
    """Let the ``simjobs`` logger pass messages at ``level`` (each handler still keeps
    its own level); never raises a level another caller lowered."""
    logger = logging.getLogger(LOGGER_NAME)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One warning or error, as the app lists it."""

    time: float
    level: str
    message: str
    #: the last line of the traceback, when the entry has one ("ValueError: ...")
    exception: str = ""


class RecentEntries(logging.Handler):
    """Keeps the newest warnings and errors (:data:`RECENT`) and counts the errors;
    calls each subscriber (from the logging thread) after a new entry."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._entries: collections.deque[Entry] = collections.deque(maxlen=RECENT)
        self._errors = 0
        self._total = 0
        self._subscribers: list[Callable[[], None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        exception = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            exception = f"{type(exc).__name__}: {exc}"
        entry = Entry(record.created, record.levelname,
                      " ".join(record.getMessage().split()).removeprefix("simjobs: "),
                      exception)
        with self.lock:
            self._entries.append(entry)
            self._total += 1
            if record.levelno >= logging.ERROR:
                self._errors += 1
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a subscriber's fault must not loop back here
                pass

    @property
    def error_count(self) -> int:
        """How many errors (and worse) were logged since this process started."""
        with self.lock:
            return self._errors

    @property
    def total(self) -> int:
        """How many warnings and errors were logged since this process started."""
        with self.lock:
            return self._total

    def entries(self, since: int = 0) -> list[Entry]:
        """The newest warnings and errors, oldest first; with ``since`` (an earlier
        :attr:`total`), only those logged after that moment."""
        with self.lock:
            entries = list(self._entries)
            newer = self._total - since
        return entries[len(entries) - newer:] if newer < len(entries) else entries

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after each new entry; returns a function that stops it."""
        with self.lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe


_recent: Optional[RecentEntries] = None


def recent_entries() -> RecentEntries:
    """The process's :class:`RecentEntries`, attached to the ``simjobs`` logger on the
    first call."""
    global _recent
    with _install_lock:
        if _recent is None:
            _recent = RecentEntries()
            logging.getLogger(LOGGER_NAME).addHandler(_recent)
        return _recent


def entry_time(entry: Entry) -> str:
    """The entry's local time, ``HH:MM:SS``."""
    return time.strftime("%H:%M:%S", time.localtime(entry.time))
