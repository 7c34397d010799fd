"""SSHRunner: the :class:`~.runner.CommandRunner` that runs commands on a host over SSH.

asyncssh is asynchronous and the core of simjobs is not, so an SSHRunner owns **one
event loop in one background daemon thread**; its public methods hand coroutines to
that loop (``asyncio.run_coroutine_threadsafe``) and wait for the result, from any
thread. It keeps **one connection**, opened on first use and reused for everything:
each command is a channel on it, so :meth:`SSHRunner.run_many` runs commands
concurrently (at most :attr:`SSHRunner.max_channels` at once: OpenSSH allows 10
sessions per connection by default).

When the connection drops it is opened again on the next call; when opening fails,
the next attempts wait with exponential backoff (0.5 s, 1 s, 2 s ... up to
:attr:`SSHRunner.max_backoff`), and calls made meanwhile fail at once with the last
attempt's error, word for word (no countdown: the same cause is the same message). Every failure
to reach the host raises :class:`~.runner.HostUnreachableError` (the manager shows the
interface as unreachable and keeps its jobs), with one line naming the host and what
to check.

Authentication and host keys (choices):

- **Host keys are always verified**, against ``settings.known_hosts`` or else the
  user's ``~/.ssh/known_hosts``. An unknown or changed key raises
  :class:`~.runner.HostKeyError` saying which, with the fingerprint the host offers (to
  compare) and the ``ssh-keygen -R`` / ``ssh-keyscan`` lines that fix it; the
  connection stops during the key exchange, so nothing (no login, no command) reaches
  that host.
- With ``identity_files`` given, only those keys are offered (no agent): what the
  config says is what is used. Without, asyncssh's defaults apply: the user's ssh agent
  and default keys (``~/.ssh/id_*``) and the ``IdentityFile`` lines of ``~/.ssh/config``.
- ``~/.ssh/config`` is read (``use_ssh_config=True``), so a ``Host`` alias, its
  ``HostName``, ``ProxyJump`` etc. work as with ``ssh``; the port and user of the
  simjobs config win over it when they are given (a port of 22 and no user leave them
  to ``~/.ssh/config``).
- **A second factor** (keyboard-interactive or password questions after, or instead
  of, the key) is answered by the person through the login prompter of
  :mod:`simjobs.core.login`: the app's modal screen, the terminal, or none (then the
  login fails at once, saying how to avoid it). One round of questions per connection
  opened; a failed interactive login is not tried again until
  :func:`~simjobs.core.login.retry_logins` (no retries into a lockout). The answers
  go to the server only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import threading
import time
from collections.abc import Sequence
from typing import Optional, Union

from simjobs.core.login import (
    InteractiveLoginError,
    LoginChallenge,
    LoginPrompt,
    LoginPrompter,
    ask,
    login_failed,
    login_generation,
)

from simjobs.core.text import printable

from .runner import CommandResult, HostKeyError, HostUnreachableError, LoginError, SSHSettings
from .runner import RetryBackoff, host_key_message

#: Seconds a command may run when the caller gives no timeout.
DEFAULT_COMMAND_TIMEOUT = 120.0
#: Seconds a login may take on top of the connect timeout while a person answers a
#: question of the server (the prompters give up sooner: see simjobs.core.login).
LOGIN_ANSWER_TIMEOUT = 600.0


def default_known_hosts() -> str:
    """The user's known_hosts file."""
    return os.path.join(os.path.expanduser("~"), ".ssh", "known_hosts")


class SSHRunner:
    """Runs shell commands on ``settings.host`` over one reused SSH connection.

    Parameters
    ----------
    settings : SSHSettings
        Host, port, user, identity files, known_hosts and connect timeout.
    use_ssh_config : bool, optional
        Read ``~/.ssh/config`` (by default True; see the module docstring).
    keepalive_interval : float, optional
        Seconds between SSH keepalives, so a connection to a host that went away
        is noticed (by default 15; three unanswered ones close it).
    interface : str, optional
        The name of the interface using it, shown to the person asked to log in.
    prompter : callable, optional
        Answers the server's login questions (see :mod:`simjobs.core.login`); by
        default the process's login prompter at the time of the login.

    Attributes
    ----------
    host : str
        ``user@host:port``, as shown to users.
    commands_run : int
        Remote commands (and SFTP transfers) started: the round trips, for tests and
        benchmarks.
    connects : int
        Connections opened.
    """

    #: Channels open at once on the connection.
    max_channels: int = 8
    #: The longest wait between two connection attempts after failures, in seconds.
    max_backoff: float = 15.0
    #: The first wait after a failed connection attempt, in seconds.
    initial_backoff: float = 0.5

    def __init__(self, settings: SSHSettings, *, use_ssh_config: bool = True,
                 keepalive_interval: float = 15.0, interface: str = "",
                 prompter: Optional[LoginPrompter] = None):
        if not isinstance(settings, SSHSettings):
            raise TypeError(f"settings must be an SSHSettings, not {type(settings).__name__}")
        self.settings = settings
        self.host = settings.display
        self.known_hosts = os.path.expanduser(settings.known_hosts or default_known_hosts())
        self.use_ssh_config = use_ssh_config
        self.keepalive_interval = keepalive_interval
        self.interface = interface
        self.prompter = prompter
        self.commands_run = 0
        self.connects = 0
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        # Used only on the loop's thread:
        self._conn = None
        self._conn_lock: Optional[asyncio.Lock] = None
        self._channels: Optional[asyncio.Semaphore] = None
        self._backoff = RetryBackoff()
        self._login_failure: Optional[LoginError] = None  # until retry_logins()
        self._login_generation = 0
        self._asking = 0  # questions of the server waiting for the person
        self._answered = 0  # questions the person has answered (or given up on)

    # ---- the loop thread

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise HostUnreachableError(f"the SSH connection to {self.host} was closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name=f"simjobs-ssh-{self.host}",
                                          daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def _call(self, coro, timeout: float):
        try:
            loop = self._ensure_loop()
        except BaseException:
            coro.close()  # never scheduled: no "never awaited" warning
            raise
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        answered = self._answered
        while True:
            try:
                return future.result(timeout)
            except TimeoutError:
                if (self._asking or self._answered != answered) and not self._closed:
                    # A person is answering the login, or answered during this wait (maybe
                    # just before its end): their time is not the host's, the clock restarts.
                    answered = self._answered
                    continue
                future.cancel()
            raise HostUnreachableError(
                f"{self.host} did not answer within {timeout:g} s; check the host and network"
            ) from None

    # ---- the connection (loop thread only)

    async def _connection(self):
        if self._conn_lock is None:
            self._conn_lock = asyncio.Lock()
            self._channels = asyncio.Semaphore(self.max_channels)
        async with self._conn_lock:
            if self._conn is not None:
                return self._conn
            failure = self._login_failure
            if failure is not None and self._login_generation == login_generation():
                # No new login by itself after a failed interactive one: no lockout.
                raise LoginError(str(failure))
            self._backoff.check()
            try:
                conn = await self._connect()
            except LoginError as exc:
                self._login_failure, self._login_generation = exc, login_generation()
                raise
            except HostUnreachableError as exc:
                self._backoff.failed(exc, self.initial_backoff, self.max_backoff)
                raise
            self._backoff.succeeded()
            self._login_failure = None
            self._conn = conn
            self.connects += 1
            return conn

    async def _connect(self):
        import asyncssh

        s = self.settings
        where = f"{s.host}:{s.port}"
        runner = self

        attempt = _LoginAttempt(self)

        class _Client(asyncssh.SSHClient):
            def connection_lost(self, exc) -> None:  # the connection dropped or closed
                if runner._conn is not None and runner._conn is getattr(self, "conn", None):
                    runner._conn = None

            def connection_made(self, conn) -> None:
                self.conn = conn

            def kbdint_auth_requested(self):
                return attempt.kbdint_requested()

            async def kbdint_challenge_received(self, name, instructions, lang, prompts):
                return await attempt.challenge(name, instructions, prompts)

            async def password_auth_requested(self):
                return await attempt.password()

        if not os.path.isfile(self.known_hosts):
            raise HostKeyError(
                f"cannot check the host key of {where}: the known_hosts file "
                f"{self.known_hosts!r} does not exist; if {s.host} is the right host, run "
                f"ssh-keyscan -p {s.port} {shlex.quote(s.host)} >> "
                f"{shlex.quote(self.known_hosts)}"
            )
        options: dict = dict(
            known_hosts=self.known_hosts,
            # asyncssh's connect_timeout covers the login too, a person typing a code
            # included: _within_connect_timeout applies it to the host's time only.
            connect_timeout=None,
            # A person may be typing a one-time code (calls wait for them: _call).
            login_timeout=max(s.connect_timeout, 10.0) + LOGIN_ANSWER_TIMEOUT,
            keepalive_interval=self.keepalive_interval,
            keepalive_count_max=3,
            client_factory=_Client,
        )
        if s.port != 22 or not self.use_ssh_config:
            options["port"] = s.port
        if s.user:
            options["username"] = s.user
        if s.identity_files:
            options["client_keys"] = [os.path.expanduser(p) for p in s.identity_files]
            options["agent_path"] = None
        if not self.use_ssh_config:
            options["config"] = None
        try:
            return await _within_connect_timeout(asyncssh.connect(s.host, **options),
                                                 s.connect_timeout, attempt)
        except asyncssh.HostKeyNotVerifiable:
            raise HostKeyError(await self._host_key_message()) from None
        except asyncssh.PermissionDenied:
            refusal = attempt.refusal()
            if refusal is not None:
                raise refusal from None
            raise HostUnreachableError(
                f"{where} refused the login of {s.user or 'the current user'}: check the "
                "user and identity_files (or the keys in your ssh agent)"
            ) from None
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            raise HostUnreachableError(
                f"cannot use the identity files {list(s.identity_files)} for {where}: "
                f"{exc}; give unencrypted private keys or use an ssh agent"
            ) from None
        except ConnectionRefusedError:
            raise HostUnreachableError(
                f"cannot connect to {where}: connection refused; check that the host is "
                f"up and sshd listens on port {s.port}"
            ) from None
        except (asyncio.TimeoutError, TimeoutError):
            raise HostUnreachableError(
                f"cannot connect to {where}: no answer within {s.connect_timeout:g} s; "
                "check the host name, the port and the network"
            ) from None
        except (OSError, asyncssh.Error) as exc:
            detail = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            raise HostUnreachableError(f"cannot connect to {where}: {detail}") from None
        except (FileNotFoundError, ValueError) as exc:  # pragma: no cover - bad key file
            raise HostUnreachableError(f"cannot connect to {where}: {exc}") from None

    def host_key_problem(self) -> str:
        """The message a refused host key gets (see :class:`HostKeyError`): whether the
        key is unknown or changed, its fingerprint, and the commands that fix it. Only
        a key exchange reaches the host (no login, no command)."""
        return self._call(self._host_key_message(), self.settings.connect_timeout + 15)

    async def _host_key_message(self) -> str:
        """Why the host key was refused: unknown or changed, with the key's fingerprint
        to compare (learnt from a key exchange alone: no login, no command) and the
        commands that fix it."""
        import asyncssh

        s = self.settings
        try:
            known = asyncssh.read_known_hosts(self.known_hosts).match(s.host, "", s.port)
            changed = bool(known[0])
        except (OSError, ValueError, asyncssh.Error):
            changed = False
        try:
            key = await asyncio.wait_for(asyncssh.get_server_host_key(s.host, s.port),
                                         s.connect_timeout)
            fingerprint = key.get_fingerprint() if key is not None else None
        except Exception:  # noqa: BLE001 - the message is still right without it
            fingerprint = None
        return host_key_message(s.host, s.port, self.known_hosts, changed, fingerprint)

    def _drop(self, conn) -> None:
        if self._conn is conn:
            self._conn = None
        try:
            conn.abort()
        except Exception:  # noqa: BLE001 - it is going anyway
            pass

    async def _run(self, command: str, input: Optional[bytes],
                   timeout: float) -> CommandResult:
        import asyncssh

        conn = await self._connection()
        assert self._channels is not None
        async with self._channels:
            self.commands_run += 1
            try:
                result = await conn.run(command, input=input, encoding=None,
                                        timeout=timeout, check=False)
            except asyncssh.TimeoutError:
                raise HostUnreachableError(
                    f"a command on {self.host} did not finish within {timeout:g} s"
                ) from None
            except asyncssh.ChannelOpenError as exc:
                self._drop(conn)
                raise HostUnreachableError(
                    f"{self.host} refused a new channel ({exc.reason}); reconnecting"
                ) from None
            except (asyncssh.Error, OSError) as exc:
                self._drop(conn)
                detail = getattr(exc, "reason", None) or exc
                raise HostUnreachableError(
                    f"lost the connection to {self.host} ({detail})"
                ) from None
        if result.exit_status is None and result.exit_signal is None:
            self._drop(conn)
            raise HostUnreachableError(
                f"lost the connection to {self.host} while a command ran"
            )
        status = result.exit_status if result.exit_status is not None else -1
        if status < 0:
            status = -1
        return CommandResult(status, _as_bytes(result.stdout), _as_bytes(result.stderr))

    # ---- the CommandRunner API

    def run(self, command: str, input: Optional[bytes] = None,
            timeout: Optional[float] = None) -> CommandResult:
        """Run ``command`` (a shell string for the remote login shell) with ``input``
        on its stdin.

        Raises
        ------
        HostUnreachableError
            When the command could not be run (host down, connection refused or
            dropped, host key unknown: :class:`HostKeyError`, timeout).
        """
        timeout = DEFAULT_COMMAND_TIMEOUT if timeout is None else timeout
        limit = timeout + self.settings.connect_timeout + 15.0
        return self._call(self._run(command, input, timeout), limit)

    def run_many(self, commands: Sequence[tuple[str, Optional[bytes]]],
                 timeout: Optional[float] = None) -> list[Union[CommandResult, Exception]]:
        """Run several commands concurrently as channels of the one connection; one
        result (or the exception it raised) per command, in order."""
        if not commands:
            return []
        timeout = DEFAULT_COMMAND_TIMEOUT if timeout is None else timeout

        async def run_all():
            return await asyncio.gather(
                *(self._run(c, i, timeout) for c, i in commands), return_exceptions=True)

        limit = timeout * (1 + len(commands) // self.max_channels) \
            + self.settings.connect_timeout + 15.0
        return list(self._call(run_all(), limit))

    def put_file(self, data: bytes, remote_path: str, timeout: Optional[float] = None) -> None:
        """Write ``data`` to ``remote_path`` over SFTP (one round trip)."""
        timeout = DEFAULT_COMMAND_TIMEOUT if timeout is None else timeout

        async def put():
            import asyncssh

            conn = await self._connection()
            assert self._channels is not None
            async with self._channels:
                self.commands_run += 1
                try:
                    async with conn.start_sftp_client() as sftp:
                        async with sftp.open(remote_path, "wb") as f:
                            await f.write(data)
                except asyncssh.SFTPError as exc:
                    raise OSError(f"cannot write {remote_path!r} on {self.host}: "
                                  f"{exc.reason}") from None
                except (asyncssh.Error, OSError) as exc:
                    self._drop(conn)
                    raise HostUnreachableError(
                        f"lost the connection to {self.host} ({exc})") from None

        self._call(asyncio.wait_for(put(), timeout), timeout + self.settings.connect_timeout + 15)

    def disconnect(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._loop is None:
            return

        async def drop():
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()
                await conn.wait_closed()

        try:
            self._call(drop(), 10.0)
        except Exception:  # noqa: BLE001 - closing anyway
            pass

    @property
    def connected(self) -> bool:
        """Whether a connection is open now."""
        return self._conn is not None

    def close(self) -> None:
        """Close the connection, stop the loop and join its thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None:
            return

        async def shutdown():
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()
                try:
                    await asyncio.wait_for(conn.wait_closed(), 5.0)
                except Exception:  # noqa: BLE001
                    pass

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10.0)
        except Exception:  # noqa: BLE001 - stop the loop anyway
            pass
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(10.0)
        if not loop.is_running():
            loop.close()

    def __enter__(self) -> "SSHRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SSHRunner({self.host!r})"


class _LoginAttempt:
    """The server's login questions during one connection attempt, answered through the
    login prompter: one round of keyboard-interactive and one password question at most
    (a second round means the first answers were refused: asking again could lock the
    account). What the server says without asking (an empty challenge: often why it
    refused) is kept for the error. The answers are passed on and never kept."""

    def __init__(self, runner: SSHRunner):
        self.runner = runner
        self.kbdint_rounds = 0
        self.password_asked = False
        # A method asked for again means its answers were refused: from then on no
        # question of this attempt reaches the person (nor the server another answer).
        self.refused = False
        self.asked: list[str] = []  # prompt texts answered
        self.said: list[str] = []  # the server's messages
        self.failure: Optional[InteractiveLoginError] = None
        self.asked_seconds = 0.0  # spent waiting for the person, questions answered
        self.asking_since: Optional[float] = None  # a question waiting since then

    @property
    def stopped(self) -> bool:
        return self.refused or self.failure is not None

    def kbdint_requested(self) -> Optional[str]:
        self.kbdint_rounds += 1
        if self.kbdint_rounds > 1:
            self.refused = True
        return None if self.stopped else ""

    async def challenge(self, title: str, instructions: str, prompts) -> Optional[list[str]]:
        # The server's words reach a terminal and error lines: no control characters
        # (an escape sequence in them could rewrite what the person sees).
        instructions = printable(instructions, keep_newlines=True)
        if not prompts:
            if instructions.strip():
                self.said.append(" ".join(instructions.split()))
            return []
        if self.stopped:
            return None
        return await self._ask(LoginChallenge(
            self.runner.interface, self.runner.host, instructions,
            tuple(LoginPrompt(printable(text), bool(echo)) for text, echo in prompts),
            printable(title)))

    async def password(self) -> Optional[str]:
        if self.password_asked:
            self.refused = True
        if self.stopped:
            return None
        self.password_asked = True
        answers = await self._ask(LoginChallenge(
            self.runner.interface, self.runner.host, "",
            (LoginPrompt(f"Password for {self.runner.host}: ", False),)))
        return answers[0] if answers else None

    def seconds_asking(self) -> float:
        """Seconds this attempt has waited for the person so far (a question still
        waiting counts until now): not the host's time."""
        if self.asking_since is None:
            return self.asked_seconds
        return self.asked_seconds + time.monotonic() - self.asking_since

    async def _ask(self, challenge: LoginChallenge) -> Optional[list[str]]:
        runner = self.runner
        runner._asking += 1
        self.asking_since = time.monotonic()
        try:
            answers = await _in_daemon_thread(ask, challenge, runner.prompter)
        except InteractiveLoginError as exc:
            self.failure = exc
            return None
        finally:
            self.asked_seconds += time.monotonic() - self.asking_since
            self.asking_since = None
            runner._answered += 1
            runner._asking -= 1
        self.asked.extend(p.text.strip() for p in challenge.prompts)
        return answers

    def refusal(self) -> Optional[LoginError]:
        """The error for a login refused after (or instead of) questions, else None."""
        if self.failure is not None:
            return LoginError(str(self.failure))
        if not self.asked:
            return None
        said = " ".join(self.said)
        reason = f", saying: {said}" if said else " without saying why"
        if not reason.endswith((".", "!", "?")):
            reason += "."
        asked = "; ".join(dict.fromkeys(self.asked))
        runner = self.runner
        who = f"interface {runner.interface!r} ({runner.host})" if runner.interface \
            else runner.host
        error = LoginError(f"{who} refused the login ({asked}){reason} Nothing more is sent "
                           "to it until you log in again.")
        login_failed(error)
        return error


async def _within_connect_timeout(connecting, timeout: float, attempt: _LoginAttempt):
    """Await ``connecting`` (a login), cancelled with :class:`TimeoutError` once it has
    taken ``timeout`` seconds of the host's time: the time the person spends answering
    the server's questions does not count."""
    task = asyncio.ensure_future(connecting)
    started = time.monotonic()
    try:
        while True:
            left = started + timeout + attempt.seconds_asking() - time.monotonic()
            if attempt.asking_since is not None:
                left = max(left, 1.0)  # look again once the person has answered
            if left <= 0:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise TimeoutError
            done, _ = await asyncio.wait({task}, timeout=left)
            if done:
                return task.result()
    except asyncio.CancelledError:
        task.cancel()
        raise


async def _in_daemon_thread(function, *args):
    """``function(*args)`` in a daemon thread of its own: a person's answer may take
    minutes (the loop serves on meanwhile), and a question nobody answers must not keep
    the process from exiting, as a thread of the loop's executor would (joined at exit)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result, error) -> None:
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def work() -> None:
        try:
            result, error = function(*args), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop closed meanwhile: nobody waits any more
            pass

    threading.Thread(target=work, name="simjobs-login-question", daemon=True).start()
    return await future


def _as_bytes(value) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")
