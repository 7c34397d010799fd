"""Where the shell commands of the SSH and Slurm interfaces run: here, or on a host over SSH.

A :class:`CommandRunner` runs one shell command string (every value in it already
quoted with :func:`shlex.quote`) and returns its exit status and output. The Slurm
interface drives ``sbatch``/``squeue`` through a runner, so the same code works on a
login node (:class:`LocalRunner`) and through SSH (``SSHRunner`` in :mod:`.ssh_transport`).

A runner raises :class:`HostUnreachableError` when the command could not be run at all
(connection refused or dropped, the host's key unknown, a timeout): that is a fault of
the way to the host, never an answer about a job, and the interfaces report it as health
"unreachable" while keeping every job's last known status.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Protocol, Sequence, Union

from simjobs.core.errors import HardwareUnreachableError
from simjobs.core.login import InteractiveLoginError


class HostUnreachableError(HardwareUnreachableError):
    """A command could not be run because the host (or the service) cannot be reached."""


class HostKeyError(HostUnreachableError):
    """The host's key is unknown or has changed; nothing was sent to the host."""


class LoginError(HostUnreachableError, InteractiveLoginError):
    """The host asked for an interactive login (a one-time code, a password) and it did
    not succeed: refused, unanswered, or no one to ask. The runner tries again only after
    :func:`simjobs.core.login.retry_logins` (see :mod:`simjobs.core.login`)."""


@dataclasses.dataclass(frozen=True)
class CommandResult:
    """What one command did: its exit status (-1 when killed by a signal) and output."""

    exit_status: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def error_text(self, max_chars: int = 300) -> str:
        """The tail of stderr (or stdout when stderr is empty), on one line."""
        raw = (self.stderr or self.stdout).decode("utf-8", "replace").strip()
        one_line = " | ".join(line.strip() for line in raw.splitlines() if line.strip())
        return one_line[-max_chars:]


class CommandRunner(Protocol):
    """Runs shell commands somewhere (see the module docstring)."""

    #: Shown in the app and ``simjobs interfaces`` ("localhost", "user@host:port").
    host: str

    def run(self, command: str, input: Optional[bytes] = None,
            timeout: Optional[float] = None) -> CommandResult:
        """Run ``command`` (a shell string) with ``input`` on stdin; raise
        :class:`HostUnreachableError` when it could not be run at all."""
        ...

    def run_many(self, commands: Sequence[tuple[str, Optional[bytes]]],
                 timeout: Optional[float] = None) -> list[Union[CommandResult, Exception]]:
        """Run several commands concurrently; one result (or the exception) each, in order."""
        ...

    def close(self) -> None:
        """Release the connection, if any."""
        ...


@dataclasses.dataclass(frozen=True)
class SSHSettings:
    """How to reach a host over SSH (the ``ssh`` keys of a config's interface).

    ``identity_files`` empty means the user's agent and default keys, as asyncssh finds
    them; ``known_hosts`` None means the user's ``~/.ssh/known_hosts``. Host keys are
    always verified.
    """

    host: str
    port: int = 22
    user: Optional[str] = None  # None: the current user
    identity_files: tuple[str, ...] = ()
    known_hosts: Optional[str] = None
    connect_timeout: float = 10.0

    @property
    def display(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port != 22 else ""
        return f"{user}{self.host}{port}"


class LocalRunner:
    """Runs commands on this machine with ``/bin/sh -c``."""

    host = "localhost"

    def __init__(self, env: Optional[dict] = None, max_workers: int = 8):
        self._env = env
        self._pool: Optional[ThreadPoolExecutor] = None
        self._max_workers = max_workers

    def run(self, command: str, input: Optional[bytes] = None,
            timeout: Optional[float] = None) -> CommandResult:
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", command], input=input if input is not None else b"",
                capture_output=True, timeout=timeout,
                env=None if self._env is None else {**os.environ, **self._env},
            )
        except subprocess.TimeoutExpired as exc:
            raise HostUnreachableError(
                f"command timed out after {timeout:g} s: {command[:80]}"
            ) from exc
        except OSError as exc:  # /bin/sh missing, out of processes...
            raise HostUnreachableError(f"cannot run a command here: {exc}") from exc
        status = proc.returncode if proc.returncode >= 0 else -1
        return CommandResult(status, proc.stdout, proc.stderr)

    def run_many(self, commands: Sequence[tuple[str, Optional[bytes]]],
                 timeout: Optional[float] = None) -> list[Union[CommandResult, Exception]]:
        if len(commands) <= 1:
            return [self._try(c, i, timeout) for c, i in commands]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="simjobs-run")
        futures = [self._pool.submit(self._try, c, i, timeout) for c, i in commands]
        return [f.result() for f in futures]

    def _try(self, command: str, input: Optional[bytes],
             timeout: Optional[float]) -> Union[CommandResult, Exception]:
        try:
            return self.run(command, input, timeout)
        except Exception as exc:  # noqa: BLE001 - reported per command
            return exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


def expand_remote_path(path: Union[str, Path]) -> str:
    """A workspace path as a remote shell should see it: ``~/x`` and relative paths are
    relative to the remote home (returned without the ``~/``, since commands run there)."""
    text = str(path)
    if text == "~":
        return "."
    if text.startswith("~/"):
        return text[2:] or "."
    return text
