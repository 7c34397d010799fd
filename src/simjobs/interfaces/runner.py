"""Where the shell commands of the SSH and Slurm interfaces run: here, or on a host over SSH.

A :class:`CommandRunner` runs one shell command string (every value in it already
quoted with :func:`shlex.quote`) and returns its exit status and output. The Slurm
interface drives ``sbatch``/``squeue`` through a runner, so the same code works on a
login node (:class:`LocalRunner`) and through SSH: ``SSHRunner`` (asyncssh, in
:mod:`.ssh_transport`) or ``OpenSSHRunner`` (the system ``ssh``, in
:mod:`.openssh_transport`), chosen by :attr:`SSHSettings.transport` (see :func:`ssh_runner`).

A runner raises :class:`HostUnreachableError` when the command could not be run at all
(connection refused or dropped, the host's key unknown, a timeout): that is a fault of
the way to the host, never an answer about a job, and the interfaces report it as health
"unreachable" while keeping every job's last known status.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Protocol, Sequence, Union

from simjobs.core.errors import HardwareUnreachableError
from simjobs.core.login import InteractiveLoginError
from simjobs.core.text import printable


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
        """The tail of stderr (or stdout when stderr is empty), on one line, without
        control characters (it goes into messages shown on terminals)."""
        raw = printable((self.stderr or self.stdout).decode("utf-8", "replace"),
                        keep_newlines=True).strip()
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


#: The ways to run commands over SSH (``transport`` in a config).
TRANSPORTS = ("asyncssh", "openssh")


@dataclasses.dataclass(frozen=True)
class SSHSettings:
    """How to reach a host over SSH (the ``ssh`` keys of a config's interface).

    ``identity_files`` empty means the user's agent and default keys, as asyncssh finds
    them; ``known_hosts`` None means the user's ``~/.ssh/known_hosts``. Host keys are
    always verified. ``transport`` is one of :data:`TRANSPORTS`: ``"asyncssh"`` (the
    default) or ``"openssh"`` (the system ``ssh`` and the user's ``~/.ssh/config``).
    """

    host: str
    port: int = 22
    user: Optional[str] = None  # None: the current user
    identity_files: tuple[str, ...] = ()
    known_hosts: Optional[str] = None
    connect_timeout: float = 10.0
    transport: str = "asyncssh"

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise ValueError(f"unknown SSH transport {self.transport!r} for {self.host}; use "
                             f"one of {', '.join(repr(t) for t in TRANSPORTS)}")

    @property
    def display(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port != 22 else ""
        return f"{user}{self.host}{port}"


def ssh_runner(settings: SSHSettings, interface: str = "") -> CommandRunner:
    """A new runner reaching ``settings.host`` through ``settings.transport``:
    ``OpenSSHRunner`` for ``"openssh"``, else ``SSHRunner`` (asyncssh), which asks the
    login prompter on behalf of ``interface`` (its name) when the server wants answers.
    OpenSSH never asks (``BatchMode=yes``)."""
    if settings.transport == "openssh":
        from .openssh_transport import OpenSSHRunner

        return OpenSSHRunner(settings)
    from .ssh_transport import SSHRunner  # asyncssh is imported only when it is used

    return SSHRunner(settings, interface=interface)


def host_key_message(host: str, port: int, known_hosts: str, changed: bool,
                     fingerprint: Optional[str]) -> str:
    """Why a host key was refused, on one line, whatever the transport: unknown or
    changed, the fingerprint the host offers (None: it could not be read), and the
    ``ssh-keygen -R`` / ``ssh-keyscan`` commands that fix it."""
    where = f"{host}:{port}"
    # ssh-keygen -R names a host on port 22 without brackets ([h]:22 removes nothing).
    # Quoted: the commands are to be pasted into a shell (a path with spaces...).
    name = shlex.quote(host if port == 22 else f"[{host}]:{port}")
    add = f"ssh-keyscan -p {port} {shlex.quote(host)} >> {shlex.quote(known_hosts)}"
    file = shlex.quote(known_hosts)
    offered = f"the host offers {fingerprint}" if fingerprint else \
        "its fingerprint could not be read"
    if changed:
        return (f"the host key of {where} has CHANGED since it was added to "
                f"{known_hosts} ({offered}); nothing was sent. This can be an "
                "attack, or the host was reinstalled: compare the fingerprint with the "
                "one its administrator gives, and only if they match remove the old key "
                f"(ssh-keygen -R {name} -f {file}) and add the new one "
                f"({add})")
    return (f"the host key of {where} is unknown (not in {known_hosts}; "
            f"{offered}); nothing was sent. Compare the fingerprint with the one the "
            f"host's administrator gives, and only if they match add it: {add}")


class ThreadedRunMany:
    """``run_many`` for a runner whose ``run`` blocks: the commands run at once in a
    pool of :attr:`pool_size` threads, made on first use; :meth:`close_pool` ends it."""

    #: Commands run at once by :meth:`run_many`.
    pool_size: int = 8
    _pool: Optional[ThreadPoolExecutor] = None

    def run_many(self, commands: Sequence[tuple[str, Optional[bytes]]],
                 timeout: Optional[float] = None) -> list[Union[CommandResult, Exception]]:
        """Run several commands concurrently; one result (or the exception it raised)
        per command, in order."""
        if len(commands) <= 1:
            return [self._try(c, i, timeout) for c, i in commands]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.pool_size, thread_name_prefix="simjobs-run")
        futures = [self._pool.submit(self._try, c, i, timeout) for c, i in commands]
        return [f.result() for f in futures]

    def _try(self, command: str, input: Optional[bytes],
             timeout: Optional[float]) -> Union[CommandResult, Exception]:
        try:
            return self.run(command, input, timeout)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - reported per command
            return exc

    def close_pool(self) -> None:
        """Stop the pool's threads (a later :meth:`run_many` makes a new pool)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


class RetryBackoff:
    """When a failed connection may be tried again: the waits double from ``initial``
    up to ``maximum`` seconds, and until then :meth:`check` raises the last attempt's
    error again, word for word (a countdown in it would make every poll look like a new
    cause: a new health event)."""

    def __init__(self) -> None:
        self.wait = 0.0
        self.retry_at = 0.0
        self.last_error: Optional[Exception] = None

    def check(self) -> None:
        """Raise the last error again while the wait after it lasts."""
        if self.last_error is not None and time.monotonic() < self.retry_at:
            raise type(self.last_error)(str(self.last_error))

    def failed(self, error: Exception, initial: float, maximum: float) -> None:
        """An attempt failed with ``error``: wait longer before the next."""
        self.wait = min(maximum, max(initial, self.wait * 2))
        self.retry_at = time.monotonic() + self.wait
        self.last_error = error

    def succeeded(self) -> None:
        """An attempt worked: the next failure waits ``initial`` again."""
        self.wait, self.retry_at, self.last_error = 0.0, 0.0, None


class LocalRunner(ThreadedRunMany):
    """Runs commands on this machine with ``/bin/sh -c``."""

    host = "localhost"

    def __init__(self, env: Optional[dict] = None, max_workers: int = 8):
        self._env = env
        self.pool_size = max_workers

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

    def close(self) -> None:
        self.close_pool()


def expand_remote_path(path: Union[str, Path]) -> str:
    """A workspace path as a remote shell should see it: ``~/x`` and relative paths are
    relative to the remote home (returned without the ``~/``, since commands run there)."""
    text = str(path)
    if text == "~":
        return "."
    if text.startswith("~/"):
        return text[2:] or "."
    return text
