"""The one-managing-process rule: an exclusive ``flock`` on ``<log>.lock``.

The kernel drops the lock when its holder exits for any reason (SIGKILL included), so a
crashed manager never leaves a stale lock behind. The lock file is never deleted:
deleting it would race with a process that has just locked it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from typing import Optional

from .errors import LogLockedError, SimjobsError

LOCK_SUFFIX = ".lock"


def lock_path_for(log_path) -> str:
    """The lock file of a log."""
    return os.fsdecode(log_path) + LOCK_SUFFIX


def holder_text(holder: dict) -> str:
    """Who holds a log, from its lock file's note: ``pid 4242 on host login1 since
    14:02:11`` (the one wording every message about a holder uses)."""
    since = holder.get("since")
    when = ""
    if isinstance(since, (int, float)):
        when = " since " + time.strftime("%H:%M:%S", time.localtime(since))
    return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}{when}"


class LogLock:
    """The writer's lock on a simulations log.

    Parameters
    ----------
    log_path : str or os.PathLike
        The log file; the lock file is ``<log_path>.lock``.

    Each LogLock opens the lock file afresh, so two LogLock objects conflict even within
    one process.

    Examples
    --------
    >>> lock = LogLock("runs.csv")          # doctest: +SKIP
    >>> lock.acquire()                      # doctest: +SKIP
    >>> LogLock.holder("runs.csv")["pid"]   # doctest: +SKIP
    4242
    >>> lock.release()                      # doctest: +SKIP
    """

    def __init__(self, log_path):
        self.log_path = os.fsdecode(log_path)
        self.path = lock_path_for(log_path)
        self._fd: Optional[int] = None
        self.created = False
        self.info: dict = {}

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock at once, or raise LogLockedError naming the holder.

        Raises
        ------
        LogLockedError
            Another process (or another LogLock object) holds the lock.
        SimjobsError
            The lock file cannot be created (missing or read-only directory).
        """
        if self._fd is not None:
            return
        self.created = not os.path.exists(self.path)
        try:
            # Never through a link: one planted by another user would have us truncate
            # and write the file it points at.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as exc:
            # ELOOP; EACCES in a sticky directory when the link is another user's.
            if exc.errno in (errno.ELOOP, errno.EACCES) and os.path.islink(self.path):
                raise SimjobsError(
                    f"{self.path} is a symbolic link, which simjobs never follows (did "
                    "another user put it there?); remove it and try again"
                ) from None
            raise SimjobsError(
                f"cannot create the lock file {self.path}: {exc.strerror or exc}; check "
                "that its directory exists and is writable"
            ) from None
        # LogLock.holder() probes with a shared lock for a few microseconds; a couple
        # of quick retries keep such a probe from passing for a holder.
        for attempt in range(4):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise SimjobsError(
                        f"cannot lock {self.path}: {exc.strerror or exc}"
                    ) from None
                if attempt == 3:
                    os.close(fd)
                    holder = self._read_info(self.path) or {}
                    raise LogLockedError(
                        self._locked_message(holder), holder=holder
                    ) from None
                time.sleep(0.001)
        self._fd = fd
        self.info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.time(),
            "cmd": " ".join(sys.argv) if sys.argv else "",
        }
        self._write_info()

    def announce(self, **info) -> None:
        """Add to what the lock file says about its holder (e.g. ``manager=True`` once a
        JobManager runs here and serves requests handed to it)."""
        if self._fd is not None:
            self.info.update(info)
            self._write_info()

    def _write_info(self) -> None:
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(self.info).encode(), 0)
            os.fsync(self._fd)
        except OSError:
            pass  # the lock is what counts; the note about its holder is a courtesy

    def discard(self) -> None:
        """Release, and remove the lock file if this object created it (an open that
        failed must leave nothing behind). Safe: nobody else can hold a file we just
        created and still hold."""
        created = getattr(self, "created", False) and self._fd is not None
        if created:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self.release()

    def _locked_message(self, holder: dict) -> str:
        name = os.path.basename(self.log_path)
        who = holder_text(holder) if holder else "its lock file says nothing more"
        return (
            f"{name} is managed by another process ({who}); stop it, or hand requests "
            "to it with the simjobs CLI"
        )

    def release(self) -> None:
        """Give the lock up (the file stays). Calling it when not held does nothing."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "LogLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self):
        try:
            self.release()
        except Exception:
            pass

    @staticmethod
    def _read_info(path: str) -> Optional[dict]:
        try:
            with open(path, "rb") as f:
                data = f.read(65536)
            info = json.loads(data.decode("utf-8"))
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    @staticmethod
    def holder(log_path) -> Optional[dict]:
        """What the process holding the log's lock wrote about itself (``pid``, ``host``,
        ``since``, ``cmd``), or None when nobody holds it. Never takes the lock."""
        path = lock_path_for(log_path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                held = True
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                held = False
        finally:
            os.close(fd)
        if not held:
            return None
        return LogLock._read_info(path) or {}
