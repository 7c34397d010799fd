"""Handing requests to the process that manages a log, so that each runs exactly once.

While a JobManager runs on a log (``simjobs run``, the app), other processes must not
write that log. The CLI's ``submit``, ``cancel`` and ``resubmit`` and a watching app
instead hand a request to the manager through the log's inbox, ``<log>.inbox/``, with
:func:`hand_over` (the one client, used by both). The manager's housekeeping thread
serves the inbox (:class:`RequestInbox`) a few times a second.

Who may hand requests over: the inbox is made by the manager, mode 0700, and belongs to
the user the manager runs as. A manager refuses to start on an inbox that is not its
user's or that others can write, and acts only on request files that are regular files
of its own user, opened without following links. So only the log's owner can submit or
cancel through it; anyone who can read the log can still watch it, read-only.

The files in the inbox, for a request with the client-made id ``ID``:

``ID.wait``
    Made by the client before the request and locked (``flock``) while it waits. A
    manager acts only on a request whose sender still waits: one left behind by a killed
    client is dropped, never run later behind its user's back.
``ID.req``
    The request, a JSON object (``id``, ``op`` and its arguments). The client withdraws
    it (Ctrl-C, time-out) by deleting it, which succeeds only if no manager took it.
``ID.taken``
    A manager claims a request by renaming ``ID.req`` to this name (atomic: the client's
    withdrawal and the claim cannot both succeed).
``handled.jsonl``
    The manager's journal: one fsync'd line ``started`` before it acts on a request and
    one ``done`` with the reply after. A request whose id is there is never run again:
    a repeat is answered from the journal, and one whose manager was killed while acting
    on it gets a reply saying so. Entries are kept for a week.
``ID.resp``
    The reply, removed by the client once read; replies nobody read are removed after
    a day.

Every file is written whole (:func:`~simjobs.core.files.atomic_write`) or created with
``O_EXCL|O_NOFOLLOW``, and every name is resolved relative to the inbox directory's open
file descriptor, never through a link.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import math
import os
import pwd
import re
import stat
import time
import uuid
import warnings
from typing import TYPE_CHECKING, Any, Optional

from .command import hint
from .errors import InvalidJobStatusError, SimjobsError, UnknownJobIdError
from .files import TEMP_SUFFIX, atomic_write
from .lock import LogLock, holder_text

if TYPE_CHECKING:  # pragma: no cover
    from .manager import JobManager

logger = logging.getLogger("simjobs")

__all__ = [
    "NoManagerError", "HandOverError", "InboxError", "RequestRefusedError",
    "RequestPendingError", "RequestInterrupted", "inbox_dir", "manager_holder",
    "settled_holder", "plain_writer_text", "hand_over_refusal", "hand_over",
    "send_request", "RequestInbox", "open_inbox", "InboxWarning", "handle_request", "validate_request",
]

#: Replies nobody read, and wait files of killed clients, are removed after this long.
REPLY_TTL = 24 * 3600.0
#: Handled request ids are remembered (a repeat answered, not run) for this long.
JOURNAL_TTL = 7 * 24 * 3600.0
JOURNAL_NAME = "handled.jsonl"
#: A request file larger than this is refused rather than read (100,000 inputs of
#: ten coordinates take about 20 MB).
MAX_REQUEST_BYTES = 256 * 1024 * 1024
#: A holder that took the log's lock this recently and has not said it runs a manager
#: may be a manager still starting (loading the log, resuming its jobs): waited for.
MANAGER_STARTUP_GRACE = 1.0

_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_OPS = ("submit", "cancel", "resubmit")
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class NoManagerError(SimjobsError):
    """No process manages the log, so there is nobody to hand a request to."""


class HandOverError(SimjobsError):
    """A request cannot be handed to the log's manager from this process (the log is
    held by a process that runs no manager, the manager runs as another user, or its
    inbox is not safe to use). Nothing was sent."""


class InboxError(SimjobsError):
    """A manager refuses the log's inbox: another user's, or writable by others."""


class RequestRefusedError(SimjobsError):
    """The manager answered the request with an error (nothing of it was done)."""


class RequestPendingError(SimjobsError):
    """The request was taken by the manager but not answered in time; whether it ran
    shows in the log. ``request_id`` names it."""

    def __init__(self, msg: str, request_id: str):
        super().__init__(msg)
        self.request_id = request_id


class RequestInterrupted(SimjobsError):
    """Waiting for the manager was interrupted (Ctrl-C). ``withdrawn`` tells whether the
    request was withdrawn before the manager took it (then nothing was done)."""

    def __init__(self, msg: str, request_id: str, withdrawn: bool):
        super().__init__(msg)
        self.request_id = request_id
        self.withdrawn = withdrawn


def inbox_dir(log_path) -> str:
    """The inbox directory of a log: ``<log>.inbox``."""
    return os.path.abspath(os.fsdecode(log_path)) + ".inbox"


def _user(uid: int) -> str:
    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


# ---- who holds the log -----------------------------------------------------------------


def manager_holder(log_path) -> Optional[dict]:
    """The process whose JobManager manages ``log_path`` (pid, host, since), or None.

    A process that merely holds the log open for writing (a script's SimulationsLog)
    is not a manager: ``LogLock.holder`` tells about any holder."""
    holder = LogLock.holder(log_path)
    return holder if holder and holder.get("manager") else None


def settled_holder(log_path, grace: float = MANAGER_STARTUP_GRACE) -> Optional[dict]:
    """The process holding the log's writer lock (a manager or a script's open
    SimulationsLog), or None. A holder that has not (yet) said it runs a manager is
    given ``grace`` seconds since it took the lock to say so: a starting ``simjobs run``
    holds the lock while it loads the log and resumes its jobs."""
    deadline = time.monotonic() + grace
    while True:
        holder = LogLock.holder(log_path)
        if holder is None or holder.get("manager"):
            return holder
        since = holder.get("since")  # missing: the lock was taken an instant ago
        starting = not isinstance(since, (int, float)) or time.time() - since < grace
        if not starting or time.monotonic() >= deadline:
            return holder
        time.sleep(0.05)  # another process: nothing to wait on but its lock file


def plain_writer_text(log_path, holder: dict) -> str:
    """Why nothing can be handed over while ``holder``, which runs no manager, holds
    the log open for writing."""
    cmd = " ".join(str(holder.get("cmd") or "").split())
    what = holder_text(holder) + (f" ({cmd})" if cmd else "")
    return (f"{os.path.basename(os.fsdecode(log_path))} is open for writing in {what}, "
            "which runs no simjobs manager to hand requests to; close the log there (or "
            "end that process) and retry")


def _inbox_problem(path: str, st: os.stat_result, uid: int) -> Optional[str]:
    """What makes the directory ``st`` at ``path`` unsafe as an inbox of user ``uid``."""
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory (a link or a file someone put there)"
    if st.st_uid != uid:
        return f"{path} belongs to {_user(st.st_uid)}, not to {_user(uid)}"
    if st.st_mode & 0o022:
        return (f"{path} can be written by other users (mode "
                f"{stat.S_IMODE(st.st_mode):03o})")
    return None


def hand_over_refusal(log_path, holder: Optional[dict] = None) -> Optional[str]:
    """Why this process could not hand a request to the manager of ``log_path``, as one
    line, or None when it can (a manager runs, as this process's user, with a safe
    inbox). Cheap: one or two ``stat`` calls and the lock file's note."""
    name = os.path.basename(os.fsdecode(log_path))
    holder = holder if holder is not None else LogLock.holder(log_path)
    if holder is None:
        return f"no process manages {name}"
    if not holder.get("manager"):
        return plain_writer_text(log_path, holder)
    path = inbox_dir(log_path)
    uid = os.geteuid()
    owner = holder.get("uid")
    if isinstance(owner, int) and owner != uid:
        return (f"{name} is managed by {_user(owner)} ({holder_text(holder)}); only that "
                "user can submit, cancel or resubmit: ask them, or watch read-only")
    if holder.get("requests") is False:
        return (f"the manager of {name} ({holder_text(holder)}) takes no requests: it "
                f"refused its inbox {path}, which others could write (its warning says "
                "why); have the inbox removed and restart that manager")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return (f"the manager of {name} ({holder_text(holder)}) has no inbox ({path}): "
                "it runs an older simjobs; restart it with this one")
    except OSError as exc:
        return f"cannot reach {path}: {exc.strerror or exc}"
    if owner is None and stat.S_ISDIR(st.st_mode) and st.st_uid != uid:  # an older note
        return (f"{name} is managed by {_user(st.st_uid)} ({holder_text(holder)}); only "
                "that user can submit, cancel or resubmit: ask them, or watch read-only")
    problem = _inbox_problem(path, st, uid)
    if problem:
        return f"{problem}; not handing requests through it: remove it and restart the manager"
    return None


# ---- the client ----------------------------------------------------------------------


def _open_client_inbox(log_path, holder: dict) -> int:
    refusal = hand_over_refusal(log_path, holder)
    if refusal:
        raise HandOverError(refusal)
    path = inbox_dir(log_path)
    try:
        fd = os.open(path, _DIR)
    except OSError as exc:
        raise HandOverError(f"cannot open {path}: {exc.strerror or exc}; not handing "
                            "requests through it") from None
    problem = _inbox_problem(path, os.fstat(fd), os.geteuid())  # swapped since the lstat?
    if problem:
        os.close(fd)
        raise HandOverError(f"{problem}; not handing requests through it")
    return fd


def _read_own_file(name: str, dir_fd: int, limit: int) -> bytes:
    """The content of ``name`` in ``dir_fd`` if it is a regular file of this process's
    user, opened without following a link; ValueError saying what is wrong otherwise."""
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"{name} is a symbolic link, not a file") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{name} is not a regular file")
        if st.st_uid != os.geteuid():
            raise ValueError(f"{name} belongs to {_user(st.st_uid)}, not to "
                             f"{_user(os.geteuid())}")
        if st.st_size > limit:
            raise ValueError(f"{name} is {st.st_size:,} bytes, more than the "
                             f"{limit:,} allowed")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _unlink(name: str, dir_fd: int) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
        return True
    except FileNotFoundError:
        return False


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _start_waiting(request_id: str, dir_fd: int) -> int:
    """Create and lock ``ID.wait``: the sign, for the manager, that someone waits."""
    name = f"{request_id}.wait"
    try:
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=dir_fd)
    except FileExistsError:  # a repeat of this id: its earlier sender must be gone
        fd = os.open(name, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            os.close(fd)
            raise HandOverError(f"{name} in the inbox is not this user's file; not "
                                "handing requests through it") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise HandOverError(f"another process already waits for request {request_id}; "
                            "give each request its own id") from None
    return fd


def send_request(log_path, request: dict, timeout: float = 10.0, *,
                 request_id: Optional[str] = None, holder: Optional[dict] = None) -> dict:
    """Hand ``request`` to the manager of ``log_path``; return its reply as it is.

    Requests: ``{"op": "submit", "inputs": [[...], ...], "level": 1}``,
    ``{"op": "cancel", "job_ids": [...]}``, ``{"op": "resubmit", "job_ids": [...], "again": false}``.
    The reply has ``"ok"`` and, on failure, a one-line ``"error"``. Most callers want
    :func:`hand_over`, which turns a failed reply into an exception.

    Parameters
    ----------
    request_id : str, optional
        The request's id (letters, digits, ``-`` and ``_``); a new random one when
        omitted. A request sent again with the id of one the manager handled is
        answered from its journal, not run again.
    holder : dict, optional
        The lock file's note, when the caller has just read it.

    Raises
    ------
    NoManagerError
        No process manages the log (or it stopped before taking the request, which
        was withdrawn: nothing was done).
    HandOverError
        The request cannot be handed over from here (see :func:`hand_over_refusal`).
    RequestPendingError
        The manager took the request but did not answer within ``timeout`` seconds.
        If it did not take it, the request is withdrawn and the error says that
        nothing was done (a plain SimjobsError).
    RequestInterrupted
        KeyboardInterrupt while waiting: the request is withdrawn if not yet taken.
    """
    name = os.path.basename(os.fsdecode(log_path))
    holder = holder if holder is not None else LogLock.holder(log_path)
    if holder is None:
        raise NoManagerError(f"no process manages {name}")
    # Time first, so the manager (which takes requests in name order) serves them in
    # the order they were sent.
    request_id = request_id or f"{time.time_ns():016x}-{uuid.uuid4().hex}"
    if not _ID.fullmatch(request_id):
        raise ValueError(f"request id {request_id!r}: use 1 to 64 letters, digits, - or _")
    who = f"the manager of {name} ({holder_text(holder)})"
    dir_fd = _open_client_inbox(log_path, holder)
    wait_fd = None
    try:
        wait_fd = _start_waiting(request_id, dir_fd)
        body = json.dumps({**request, "id": request_id}, allow_nan=False)
        sent = False
        try:
            try:
                atomic_write(f"{request_id}.req", body, private=True, replace=False,
                             dir_fd=dir_fd)
            except FileExistsError:
                pass  # sent before under this id and not yet taken: its reply will do
            sent = True
            reply = _wait_reply(log_path, request_id, dir_fd, timeout)
        except KeyboardInterrupt:
            if _unlink(f"{request_id}.req", dir_fd):
                raise RequestInterrupted(
                    f"interrupted: request {request_id} was withdrawn before {who} took "
                    "it; nothing was done", request_id, withdrawn=True) from None
            # Interrupted while writing it: sent only if the manager has it (it keeps a
            # .taken until its .resp is written).
            if not sent and not any(_exists(f"{request_id}.{kind}", dir_fd)
                                    for kind in ("taken", "resp")):
                raise RequestInterrupted(
                    f"interrupted before request {request_id} was sent; nothing was done",
                    request_id, withdrawn=True) from None
            raise RequestInterrupted(
                f"interrupted, but {who} had already taken request {request_id}: it "
                f"goes on; `{hint('status')}` shows whether it ran", request_id,
                withdrawn=False) from None
        if reply is not None:
            return reply
        if _unlink(f"{request_id}.req", dir_fd):
            if LogLock.holder(log_path) is None:
                raise NoManagerError(f"{who} stopped before taking request {request_id}; "
                                     "it was withdrawn and nothing was done")
            raise SimjobsError(
                f"{who} did not take request {request_id} within {timeout:g} s, so it was "
                "withdrawn and nothing was done; the manager is busy or stuck: check it")
        reply = _take_reply(request_id, dir_fd)  # answered just now?
        if reply is not None:
            return reply
        raise RequestPendingError(
            f"sent as request {request_id}; {who} has not answered within {timeout:g} s; "
            f"`{hint('status')}` shows whether it ran", request_id)
    finally:
        if wait_fd is not None:
            _unlink(f"{request_id}.wait", dir_fd)
            os.close(wait_fd)
        os.close(dir_fd)


def _take_reply(request_id: str, dir_fd: int) -> Optional[dict]:
    """The reply to ``request_id`` if there is one (removed once read), else None."""
    name = f"{request_id}.resp"
    try:
        data = _read_own_file(name, dir_fd, MAX_REQUEST_BYTES)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise HandOverError(f"the reply to request {request_id} is unsafe to read: {exc}"
                            ) from None
    _unlink(name, dir_fd)
    try:
        reply = json.loads(data)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        return {"ok": False, "error": f"the manager's reply to request {request_id} is no "
                                      "JSON object"}
    return reply


def _wait_reply(log_path, request_id: str, dir_fd: int, timeout: float) -> Optional[dict]:
    """The reply, or None after ``timeout`` seconds or once no manager holds the log."""
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + 1.0
    delay = 0.01
    while True:
        reply = _take_reply(request_id, dir_fd)
        if reply is not None:
            return reply
        now = time.monotonic()
        if now >= deadline:
            return None
        if now >= next_check:
            next_check = now + 1.0
            if LogLock.holder(log_path) is None:
                return _take_reply(request_id, dir_fd)  # one last look
        # Another process answers: there is nothing to wait on but the file.
        time.sleep(min(delay, max(0.0, deadline - now)))
        delay = min(delay * 1.5, 0.1)


def hand_over(log_path, request: dict, timeout: float = 10.0, *,
              holder: Optional[dict] = None, request_id: Optional[str] = None) -> dict:
    """Hand ``request`` to the manager of ``log_path`` and return its successful reply:
    the one client of the inbox, used by the CLI and the app alike.

    Raises
    ------
    NoManagerError
        No process manages the log.
    HandOverError
        The log is held by a process that runs no manager, the manager runs as another
        user, or its inbox is unsafe. Nothing was sent.
    UnknownJobIdError, InvalidJobStatusError, RequestRefusedError
        The manager refused the request (its reply's error, one line).
    RequestPendingError, RequestInterrupted, SimjobsError
        See :func:`send_request`.
    """
    name = os.path.basename(os.fsdecode(log_path))
    holder = holder if holder is not None else LogLock.holder(log_path)
    if holder is not None and not holder.get("manager"):
        raise HandOverError(plain_writer_text(log_path, holder))
    reply = send_request(log_path, request, timeout, request_id=request_id, holder=holder)
    if reply.get("ok"):
        return reply
    error = reply.get("error") or "the manager refused the request"
    if reply.get("unknown_ids"):
        raise UnknownJobIdError(error, unknown_ids=reply["unknown_ids"])
    if reply.get("status"):
        raise InvalidJobStatusError(error)
    raise RequestRefusedError(f"the manager of {name} refused: {error}")


# ---- the manager's side ---------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", list: "a list", dict: "an object", str: "a string",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _number_text(value: Any) -> str:
    return repr(value) if type(value) in (int, float) else _type_name(value)


def validate_request(request: Any) -> dict:
    """``request`` checked and normalised; ValueError naming the first thing wrong.

    Examples
    --------
    >>> validate_request({"op": "cancel", "job_ids": [7]})["job_ids"]
    ['7']
    >>> validate_request([1, 2])
    Traceback (most recent call last):
    ValueError: a request must be a JSON object, not a list
    """
    if not isinstance(request, dict):
        raise ValueError(f"a request must be a JSON object, not {_type_name(request)}")
    op = request.get("op")
    if op not in _OPS:
        if "op" not in request:
            raise ValueError(f"'op' is missing (one of {', '.join(_OPS)})")
        raise ValueError(f"'op' is {op!r}; use one of {', '.join(_OPS)}")
    if op == "submit":
        return {"op": op, **_checked_submit(request)}
    return {"op": op, **_checked_job_ids(op, request)}


def _checked_submit(request: dict) -> dict[str, Any]:
    """The ``level`` and ``inputs`` of a submit request, checked."""
    level = request.get("level", 1)
    if type(level) is not int or level < 1:
        raise ValueError(f"'level' is {_number_text(level)}, not a whole number >= 1")
    inputs = request.get("inputs")
    if not isinstance(inputs, list):
        raise ValueError("'inputs' is " + ("missing" if "inputs" not in request
                                            else _type_name(inputs))
                         + "; give a list of inputs, each a list of numbers")
    for i, x in enumerate(inputs):
        if not isinstance(x, list) or not x:
            raise ValueError(f"inputs[{i}] is {_type_name(x)}, not a list of numbers")
        for j, c in enumerate(x):
            _check_coordinate(f"inputs[{i}][{j}]", c)
    return {"level": level, "inputs": inputs}


def _check_coordinate(where: str, c: Any) -> None:
    """ValueError naming ``where`` unless ``c`` is a finite number (not a bool)."""
    if type(c) not in (int, float):
        raise ValueError(f"{where} is {_type_name(c)}, not a number")
    try:
        finite = math.isfinite(c)
    except OverflowError:  # an int beyond any float
        finite = False
    if not finite:
        digits = str(c)
        shown = repr(c) if type(c) is float else f"{digits[:12]}... ({len(digits)} digits)"
        raise ValueError(f"{where} is {shown}, not a finite number")


def _checked_job_ids(op: str, request: dict) -> dict[str, Any]:
    """The ``job_ids`` (as text) of a cancel or resubmit request, and a resubmit's
    ``again``, checked."""
    job_ids = request.get("job_ids")
    if not isinstance(job_ids, list) or not all(type(j) in (int, str) for j in job_ids):
        raise ValueError("'job_ids' is " + ("missing" if "job_ids" not in request
                                             else _type_name(job_ids))
                         + "; give a list of job ids")
    out: dict[str, Any] = {"job_ids": [str(j) for j in job_ids]}
    if op == "resubmit":
        again = request.get("again", False)
        if type(again) is not bool:
            raise ValueError(f"'again' is {_type_name(again)}, not true or false")
        out["again"] = again
    return out


def handle_request(manager: "JobManager", request: Any) -> dict[str, Any]:
    """Carry out one request on ``manager``; every error becomes ``{"ok": False,
    "error": "one line"}`` (a bad request names what is wrong), never an exception."""
    try:
        request = validate_request(request)
    except ValueError as exc:
        return {"ok": False, "error": f"bad request: {exc}"}
    op = request["op"]
    try:
        if op == "submit":
            jobs = manager.submit_many(request["inputs"], request["level"])
            return {"ok": True, "job_ids": [str(j.id) for j in jobs],
                    "interfaces": [j.interface_name for j in jobs]}
        if op == "cancel":
            result = manager.cancel_many(request["job_ids"])
            return {"ok": True, "cancelled": [str(j.id) for j in result.cancelled],
                    "skipped": {str(k): v.value for k, v in result.skipped.items()}}
        ids = request["job_ids"]
        jobs = manager.resubmit(ids, again=request["again"])
        return {"ok": True, "job_ids": [str(j.id) for j in jobs],
                "pairs": [[str(old), str(j.id)] for old, j in zip(ids, jobs)]}
    except UnknownJobIdError as exc:
        return {"ok": False, "error": str(exc),
                "unknown_ids": [str(u) for u in (exc.unknown_ids or [])]}
    except InvalidJobStatusError as exc:
        return {"ok": False, "error": str(exc),
                "status": exc.status.value if exc.status else None}
    except (ValueError, TypeError, KeyError, SimjobsError) as exc:
        return {"ok": False, "error": str(exc) or type(exc).__name__}
    except Exception as exc:  # noqa: BLE001 - the sender gets a line, the manager goes on
        logger.warning("simjobs: request %s failed: %s: %s", op, type(exc).__name__, exc)
        return {"ok": False, "error": f"the manager failed on it ({type(exc).__name__}: "
                                      f"{exc})"}


def open_inbox(log_path) -> Optional["RequestInbox"]:
    """The manager's inbox of ``log_path`` (made if missing), or None with a one-line
    :class:`InboxWarning` when it is refused (another user's, writable by others): the
    manager then runs but takes no requests from other processes."""
    try:
        return RequestInbox(log_path)
    except InboxError as exc:
        warnings.warn(str(exc), InboxWarning, stacklevel=3)
        return None


class InboxWarning(UserWarning):
    """A manager refused its log's inbox and takes no requests handed over."""


class RequestInbox:
    """The manager's side of a log's inbox: made (or checked) when a manager starts,
    served by its housekeeping thread.

    Parameters
    ----------
    log_path : str or os.PathLike
        The managed log; the inbox is ``<log>.inbox``.

    Raises
    ------
    InboxError
        The inbox exists but is not this user's, is writable by others, or is no
        directory: one line naming it, its owner and the fix.
    """

    def __init__(self, log_path):
        self.path = inbox_dir(log_path)
        self._fd: Optional[int] = self._open(self.path)
        try:
            self._journal: dict[str, dict] = {}
            self._journal_fd = self._load_journal()
        except OSError as exc:
            os.close(self._fd)
            raise InboxError(f"cannot read the inbox's journal {self.path}/{JOURNAL_NAME}: "
                             f"{exc.strerror or exc}; remove it and start again") from None
        except BaseException:
            os.close(self._fd)
            raise
        self._next_sweep = 0.0

    @staticmethod
    def _open(path: str) -> int:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise InboxError(f"cannot create the inbox {path}: {exc.strerror or exc}; "
                             "check that the log's directory is writable") from None
        uid = os.geteuid()
        try:
            fd = os.open(path, _DIR)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise InboxError(f"cannot open the inbox {path}: {exc.strerror or exc}"
                                 ) from None
            fd = None
        st = os.fstat(fd) if fd is not None else os.lstat(path)
        problem = _inbox_problem(path, st, uid)
        if problem:
            if fd is not None:
                os.close(fd)
            fix = ("check what is in it, then 'chmod 700' it" if st.st_uid == uid
                   and stat.S_ISDIR(st.st_mode) else
                   "have it removed (its owner or root can) and restart the manager, "
                   "which then makes its own (mode 0700)")
            raise InboxError(f"refusing the inbox {problem}: this manager takes no "
                             f"requests from other processes until then; {fix}")
        os.fchmod(fd, 0o700)  # mkdir's mode was cut by the umask; ours, so ours to fix
        return fd

    # ---- the journal of handled ids

    def _load_journal(self) -> int:
        fd = os.open(JOURNAL_NAME, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600, dir_fd=self._fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                raise InboxError(f"{self.path}/{JOURNAL_NAME} is not this user's file; "
                                 "remove it and start again")
            data = b""
            while chunk := os.read(fd, 1 << 20):
                data += chunk
            end = data.rfind(b"\n") + 1
            if end != len(data):  # a line cut by a crash: the next one must start clean
                os.ftruncate(fd, end)
            now, kept, dropped = time.time(), [], 0
            for line in data[:end].splitlines():
                try:
                    entry = json.loads(line)
                    request_id = entry["id"]
                    when = float(entry["time"])
                except (ValueError, KeyError, TypeError):
                    dropped += 1
                    continue
                if entry.get("state") == "done" and now - when > JOURNAL_TTL:
                    self._journal.pop(request_id, None)
                    dropped += 1
                    continue
                self._journal[request_id] = entry
                kept.append(line)
            if dropped:  # rewrite it without the old entries
                atomic_write(JOURNAL_NAME, b"".join(
                    json.dumps(e).encode() + b"\n" for e in self._journal.values()),
                    private=True, dir_fd=self._fd)
                os.close(fd)
                fd = os.open(JOURNAL_NAME, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW
                             | os.O_CLOEXEC, dir_fd=self._fd)
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _record(self, request_id: str, state: str, reply: Optional[dict] = None) -> None:
        entry = {"id": request_id, "state": state, "time": time.time()}
        if reply is not None:
            entry["reply"] = reply
        line = json.dumps(entry).encode() + b"\n"
        view = memoryview(line)
        while view:
            view = view[os.write(self._journal_fd, view):]
        os.fsync(self._journal_fd)
        self._journal[request_id] = entry

    def handled(self, request_id: str) -> Optional[dict]:
        """What the journal says of ``request_id`` (``state``: started or done, and the
        ``reply`` when done), or None if this inbox never took it."""
        return self._journal.get(request_id)

    # ---- serving

    def close(self) -> None:
        """Close the inbox's file descriptors (the directory stays for the next manager:
        its journal answers repeats)."""
        fds, self._fd = (self._fd, self._journal_fd), None
        if fds[0] is not None:
            for fd in fds:
                os.close(fd)

    def serve(self, manager: "JobManager") -> int:
        """Act on every request waiting in the inbox; returns how many were taken."""
        if self._fd is None:
            return 0
        now = time.time()
        if now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + 3600
        names = sorted(os.listdir(self._fd))
        served = 0
        # A .taken seen now was left by a manager killed while handling it (this one
        # finishes each request before it returns).
        for name in names:
            stem, dot, kind = name.rpartition(".")
            if dot and kind in ("req", "taken") and _ID.fullmatch(stem):
                served += self._serve_one(manager, stem, claimed=kind == "taken")
        return served

    def _sender_waits(self, request_id: str) -> bool:
        try:
            fd = os.open(f"{request_id}.wait", _READ, dir_fd=self._fd)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def _serve_one(self, manager: "JobManager", request_id: str, claimed: bool) -> int:
        taken = f"{request_id}.taken"
        waits = self._sender_waits(request_id)  # checked before the claim: see .wait
        if not claimed:
            try:
                os.rename(f"{request_id}.req", taken, src_dir_fd=self._fd,
                          dst_dir_fd=self._fd)
            except FileNotFoundError:
                return 0  # withdrawn by its sender just now
        entry = self._journal.get(request_id)
        if entry is not None and entry.get("state") == "done":
            reply = entry.get("reply") or {"ok": False, "error": "no reply recorded"}
        elif entry is not None:
            reply = {"ok": False, "interrupted": True, "error": (
                f"the manager was stopped while acting on request {request_id}; it may "
                f"have been done in part or in full: `{hint('status')}` shows what was")}
            self._record(request_id, "done", reply)
        elif not waits:
            # Its sender was killed (or gave up) before anyone took it: nobody waits for
            # the answer, and its user may have sent it again. Dropped, never run (the
            # reply is still written, for a sender whose lock this host cannot see).
            reply = {"ok": False, "dropped": True, "error": (
                f"request {request_id} was dropped: its sender had stopped waiting "
                "before a manager took it; nothing was done")}
            self._record(request_id, "done", reply)
            _unlink(f"{request_id}.wait", self._fd)
        else:
            try:
                data = _read_own_file(taken, self._fd, MAX_REQUEST_BYTES)
                request = json.loads(data)
                if isinstance(request, dict) and request.get("id", request_id) != request_id:
                    raise ValueError(f"its id {request.get('id')!r} is not the file's")
            except (OSError, ValueError) as exc:
                reply = {"ok": False, "error": f"bad request: {exc}"}
            else:
                self._record(request_id, "started")
                reply = handle_request(manager, request)
            self._record(request_id, "done", reply)
        atomic_write(f"{request_id}.resp", json.dumps(reply), private=True,
                     dir_fd=self._fd)
        _unlink(taken, self._fd)
        return 1

    def _sweep(self, now: float) -> None:
        """Remove replies nobody read, wait files of killed clients and temporary files
        of killed writers, once they are a day old."""
        for name in os.listdir(self._fd):
            if not (name.endswith((".resp", ".wait")) or
                    (name.startswith(".") and name.endswith(TEMP_SUFFIX))):
                continue
            try:
                st = os.stat(name, dir_fd=self._fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if now - st.st_mtime < REPLY_TTL:
                continue
            if name.endswith(".wait") and self._sender_waits(name[: -len(".wait")]):
                continue  # someone has waited a day: leave it
            _unlink(name, self._fd)
