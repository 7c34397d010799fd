"""The one-managing-process rule: an exclusive ``flock`` on ``<log>.lock``.

The kernel drops the lock when its holder exits for any reason (SIGKILL included), so a
crashed manager never leaves a stale lock behind. The lock file is never deleted:
deleting it would race with a process that has just locked it.

On a shared file system ``flock`` may not reach other hosts (Lustre mounted with
``localflock``, NFS with ``local_lock``): there the holder also refreshes a heartbeat in
the lock file's note, and a process on another host that takes the flock but sees a live
heartbeat refuses (:meth:`LogLock.acquire`).

``SIMJOBS_TEST_LOCALFLOCK=<host>`` (tests only) makes this process behave like a client
of such a file system named ``<host>``: its flock is not seen by any other process, and
it heartbeats as on a network file system.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import threading
import time
import weakref
from typing import Optional

from . import filesystems
from .errors import LogLockedError, SimjobsError

LOCK_SUFFIX = ".lock"
#: Seconds between two heartbeats of a holder on a shared file system; tests shorten it
#: with SIMJOBS_LOCK_HEARTBEAT.
HEARTBEAT_EVERY = 5.0
#: How far apart the clocks of two hosts may be (a heartbeat is a wall-clock time).
CLOCK_SKEW = 2.0
_NOTE_SIZE = 512  # the note is rewritten in place at this size: a reader never sees it half-cut


def _heartbeat_every() -> float:
    try:
        every = float(os.environ.get("SIMJOBS_LOCK_HEARTBEAT", HEARTBEAT_EVERY))
    except ValueError:
        return HEARTBEAT_EVERY
    return every if every > 0 else HEARTBEAT_EVERY


def _test_host() -> Optional[str]:
    """The host name SIMJOBS_TEST_LOCALFLOCK gives this process (tests only), or None."""
    return os.environ.get("SIMJOBS_TEST_LOCALFLOCK") or None


def this_host() -> str:
    """The name this process gives itself in lock notes."""
    return _test_host() or socket.gethostname()


def heartbeat_alive(info: dict, now: Optional[float] = None) -> bool:
    """True when a lock note's heartbeat is recent enough that its writer may still run:
    within three of its intervals plus the allowed clock skew, and not released."""
    beat, every = info.get("heartbeat"), info.get("heartbeat_every")
    if info.get("released") or not isinstance(beat, (int, float)) \
            or not isinstance(every, (int, float)):
        return False
    now = time.time() if now is None else now
    return now - beat <= 3 * every + CLOCK_SKEW


def _other_host_holder(info: Optional[dict]) -> Optional[dict]:
    """The note, when it is a live holder on another host (flock may not reach it)."""
    if info and info.get("host") != this_host() and heartbeat_alive(info):
        return info
    return None


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
    one process (SimulationsLog objects of one process on one file share one LogLock).

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
        self._beating: Optional[threading.Event] = None  # set to stop the heartbeat
        # The note is written from the heartbeat thread too: one writer at a time, and
        # never to a descriptor release() has closed (its number may be reused).
        self._note_mutex = threading.Lock()

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock at once, or raise LogLockedError naming the holder.

        Raises
        ------
        LogLockedError
            Another process (or another LogLock object) holds the lock, or, on a shared
            file system, the note shows a live heartbeat of a holder on another host.
        SimjobsError
            The lock file cannot be created (missing or read-only directory) or opened
            (read-only or immutable file), or the file system does not support flock
            (the message names the missing mount option).
        """
        if self._fd is not None:
            return
        self.created = not os.path.exists(self.path)
        fd = self._open_lock_file()
        # LogLock.holder() probes with a shared lock for a few microseconds; a couple
        # of quick retries keep such a probe from passing for a holder.
        for attempt in range(4):
            try:
                _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise SimjobsError(self._cannot_lock_text(exc)) from None
                if attempt == 3:
                    os.close(fd)
                    holder = self._read_info(self.path) or {}
                    raise LogLockedError(
                        self._locked_message(holder), holder=holder
                    ) from None
                time.sleep(0.001)
        self._refuse_other_host(fd)
        self._fd = fd
        self.info = {
            "pid": os.getpid(),
            "host": this_host(),
            "since": time.time(),
            "cmd": (" ".join(sys.argv) if sys.argv else "")[:200],
        }
        self._start_heartbeat()
        self._write_info()

    # ---- opening, and the rules of shared file systems ---------------------------------

    def _open_lock_file(self) -> int:
        """The lock file opened for writing, or a SimjobsError that says truly why not."""
        try:
            # Never through a link: one planted by another user would have us truncate
            # and write the file it points at.
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as exc:
            # ELOOP; EACCES in a sticky directory when the link is another user's.
            if exc.errno in (errno.ELOOP, errno.EACCES) and os.path.islink(self.path):
                raise SimjobsError(
                    f"{self.path} is a symbolic link, which simjobs never follows (did "
                    "another user put it there?); remove it and try again"
                ) from None
            reason = filesystems.os_reason(exc)
            if os.path.lexists(self.path) and exc.errno in (errno.EACCES, errno.EPERM,
                                                            errno.EROFS):
                fix = ("the file system is mounted read-only; open the log read-only"
                       if exc.errno == errno.EROFS else
                       f"the file is read-only or immutable: make it writable (chmod u+w "
                       f"{self.path}; as root, chattr -i), or open the log read-only")
                raise SimjobsError(
                    f"cannot open the lock file {self.path} for writing: {reason}; {fix}"
                ) from None
            raise SimjobsError(
                f"cannot create the lock file {self.path}: {reason}; check that its "
                "directory exists and is writable"
            ) from None

    def _cannot_lock_text(self, exc: OSError) -> str:
        reason = filesystems.os_reason(exc)
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return f"cannot lock {self.path}: {reason}; {filesystems.flock_unsupported_text(self.path)}"
        return f"cannot lock {self.path}: {reason}"

    def _refuse_other_host(self, fd: int) -> None:
        """After flock succeeded: refuse when the note shows a live holder on another
        host, whose flock this host cannot see (Lustre ``localflock``, NFS
        ``local_lock``). A holder on this host is dead, or flock would have failed."""
        holder = _other_host_holder(self._read_info(self.path))
        if holder is None:
            return
        _flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        age = max(0.0, time.time() - holder["heartbeat"])
        raise LogLockedError(
            f"{self._locked_message(holder)} (its heartbeat in {os.path.basename(self.path)} "
            f"is {age:.0f} s old although this host got the file lock: flock is not shared "
            f"between the hosts; {self._shared_lock_fix()})",
            holder=holder,
        )

    def _shared_lock_fix(self) -> str:
        fs = filesystems.file_system(self.path)
        if fs.type.startswith("lustre"):
            return "mount Lustre with -o flock rather than localflock"
        if fs.type.startswith("nfs"):
            return "mount NFS without local_lock"
        return "use a file system whose locks are shared between hosts"

    def _start_heartbeat(self) -> None:
        """On a shared file system, refresh the note's heartbeat until released."""
        if _test_host() is None and not filesystems.file_system(self.path).network:
            return  # flock is exact on a local file system: no other host can see it
        every = _heartbeat_every()
        self.info["heartbeat"] = time.time()
        self.info["heartbeat_every"] = every
        stop = self._beating = threading.Event()
        me = weakref.ref(self)  # the thread must not keep a forgotten lock alive

        def beat() -> None:
            while not stop.wait(every):
                lock = me()
                if lock is None or not lock._beat(stop):
                    return
                del lock

        threading.Thread(target=beat, name=f"simjobs-heartbeat {self.log_path}",
                         daemon=True).start()

    def announce(self, **info) -> None:
        """Add to what the lock file says about its holder (e.g. ``manager=True`` once a
        JobManager runs here and serves requests handed to it)."""
        if self._fd is not None:
            with self._note_mutex:
                self.info.update(info)
            self._write_info()

    def _beat(self, stop: threading.Event) -> bool:
        """One heartbeat; False once the lock was released (the thread then ends)."""
        with self._note_mutex:
            if self._beating is not stop or self._fd is None:
                return False
            self.info["heartbeat"] = time.time()
            self._write_note()
            return True

    def _write_info(self) -> None:
        with self._note_mutex:
            self._write_note()

    def _write_note(self) -> None:
        fd = self._fd
        if fd is None:
            return
        # Rewritten in place at a fixed size (one pwrite, no truncation first), so a
        # reader on another host never finds the note empty or half-written.
        data = json.dumps(self.info).encode()
        data += b" " * (_NOTE_SIZE - 1 - len(data)) + b"\n"
        try:
            os.pwrite(fd, data, 0)
            if os.fstat(fd).st_size > len(data):
                os.ftruncate(fd, len(data))
            os.fsync(fd)
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
        if holder and (holder.get("pid"), holder.get("host")) == (os.getpid(),
                                                                  socket.gethostname()):
            # Never call the caller's own process "another" (SimulationsLog objects of
            # one process share one LogLock; this is a second LogLock made by hand).
            since = holder.get("since")
            when = (" since " + time.strftime("%H:%M:%S", time.localtime(since))
                    if isinstance(since, (int, float)) else "")
            return (
                f"{name} is already locked for writing by this process (pid "
                f"{os.getpid()}){when}; use the SimulationsLog already open on it"
            )
        return (
            f"{name} is managed by another process ({who}); stop it, or hand requests "
            "to it with the simjobs CLI"
        )

    def release(self) -> None:
        """Give the lock up (the file stays). Calling it when not held does nothing."""
        with self._note_mutex:
            if self._beating is not None:
                self._beating.set()
                self._beating = None
                # Said while still holding it: a host that cannot see our flock may go on.
                self.info["released"] = time.time()
                self._write_note()
            fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            _flock(fd, fcntl.LOCK_UN)
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
                _flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                held = True
            else:
                _flock(fd, fcntl.LOCK_UN)
                held = False
        finally:
            os.close(fd)
        if not held:
            # A holder on another host whose flock does not reach us still counts.
            return _other_host_holder(LogLock._read_info(path))
        return LogLock._read_info(path) or {}


def _flock(fd: int, operation: int) -> None:
    """fcntl.flock, except under SIMJOBS_TEST_LOCALFLOCK (tests only), where, as on a
    Lustre client mounted with localflock, no other process sees it: it always succeeds."""
    if _test_host() is None:
        fcntl.flock(fd, operation)
