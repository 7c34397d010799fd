"""Handing requests to the process that manages a log.

While a JobManager runs on a log (say, the app in tmux), other processes must not
write that log. The CLI's ``submit``, ``cancel`` and ``resubmit`` instead drop a
request file into ``<log>.inbox/``; the manager's housekeeping thread picks it up
within a fraction of a second, acts, and writes a response file next to it.
Files are written to a temporary name and renamed, so neither side reads half a file.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import TYPE_CHECKING, Any, Optional

from .errors import InvalidJobStatusError, SimjobsError, UnknownJobIdError
from .lock import LogLock

if TYPE_CHECKING:  # pragma: no cover
    from .manager import JobManager


class NoManagerError(SimjobsError):
    """No process manages the log, so there is nobody to hand a request to."""


def inbox_dir(log_path: str) -> str:
    return os.path.abspath(log_path) + ".inbox"


def _write_atomic(path: str, data: dict) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def send_request(log_path: str, request: dict, timeout: float = 10.0) -> dict:
    """Hand ``request`` to the manager of ``log_path`` and return its response.

    Requests: ``{"op": "submit", "inputs": [[...], ...], "level": 1}``,
    ``{"op": "cancel", "job_ids": [...]}``, ``{"op": "resubmit", "job_ids": [...], "again": bool}``.
    The response has ``"ok"`` and, on failure, a one-line ``"error"``.

    Raises
    ------
    NoManagerError
        If no process manages the log.
    SimjobsError
        If the manager does not answer within ``timeout`` seconds.
    """
    holder = LogLock.holder(log_path)
    if not holder:
        raise NoManagerError(f"no process manages {log_path}")
    if not holder.get("manager"):
        raise SimjobsError(
            f"{log_path} is open for writing in pid {holder.get('pid')} on host "
            f"{holder.get('host')}, which runs no simjobs manager to hand requests to; "
            "close the log there (or start a manager in it) and retry"
        )
    inbox = inbox_dir(log_path)
    os.makedirs(inbox, exist_ok=True)
    name = f"{time.time():.6f}-{uuid.uuid4().hex}"
    _write_atomic(os.path.join(inbox, name + ".req"), request)
    response_path = os.path.join(inbox, name + ".resp")
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        if os.path.exists(response_path):
            with open(response_path) as f:
                response = json.load(f)
            os.unlink(response_path)
            return response
        time.sleep(delay)  # waiting for another process: nothing to wait on but the file
        delay = min(delay * 1.5, 0.1)
    try:
        os.unlink(os.path.join(inbox, name + ".req"))
    except FileNotFoundError:
        pass  # taken just now: the manager will still act on it
    raise SimjobsError(
        f"the manager of {log_path} (pid {holder.get('pid')}) did not answer within "
        f"{timeout:g} s; is it stuck? check it, or stop it and retry"
    )


def serve_requests(manager: "JobManager") -> int:
    """Act on every request waiting in the manager's inbox; returns how many."""
    inbox = inbox_dir(manager.simulations_log.path)
    try:
        names = sorted(n for n in os.listdir(inbox) if n.endswith(".req"))
    except FileNotFoundError:
        return 0
    for name in names:
        path = os.path.join(inbox, name)
        try:
            with open(path) as f:
                request = json.load(f)
            os.unlink(path)
        except (OSError, ValueError):
            continue  # withdrawn by its sender, or not ours
        response = handle_request(manager, request)
        _write_atomic(path[: -len(".req")] + ".resp", response)
    return len(names)


def handle_request(manager: "JobManager", request: dict) -> dict[str, Any]:
    """Carry out one request on ``manager``; errors become ``{"ok": False, ...}``."""
    op = request.get("op")
    try:
        if op == "submit":
            jobs = manager.submit_many(request["inputs"], int(request.get("level", 1)))
            return {"ok": True, "job_ids": [str(j.id) for j in jobs],
                    "interfaces": [j.interface_name for j in jobs]}
        if op == "cancel":
            result = manager.cancel_many(request["job_ids"])
            return {"ok": True, "cancelled": [str(j.id) for j in result.cancelled],
                    "skipped": {str(k): v.value for k, v in result.skipped.items()}}
        if op == "resubmit":
            ids = list(request["job_ids"])
            jobs = manager.resubmit(ids, again=request.get("again") is True)
            return {"ok": True, "job_ids": [str(j.id) for j in jobs],
                    "pairs": [[str(old), str(j.id)] for old, j in zip(ids, jobs)]}
        return {"ok": False, "error": f"unknown request {op!r}"}
    except UnknownJobIdError as exc:
        return {"ok": False, "error": str(exc),
                "unknown_ids": [str(u) for u in (exc.unknown_ids or [])]}
    except InvalidJobStatusError as exc:
        return {"ok": False, "error": str(exc),
                "status": exc.status.value if exc.status else None}
    except (ValueError, TypeError, KeyError, SimjobsError, RuntimeError) as exc:
        return {"ok": False, "error": str(exc)}


def manager_holder(log_path: str) -> Optional[dict]:
    """The process whose JobManager manages ``log_path`` (pid, host, since), or None.

    A process that merely holds the log open for writing (a script's SimulationsLog)
    is not a manager: ``LogLock.holder`` tells about any holder."""
    holder = LogLock.holder(log_path)
    return holder if holder and holder.get("manager") else None
