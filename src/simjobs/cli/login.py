"""Interactive logins on the command line: the server's questions (a one-time code, a
password) asked on the terminal, see :mod:`simjobs.core.login`.

A command that runs a manager installs :class:`TerminalPrompter` when the process has
a terminal it can open (``/dev/tty``: the questions are asked there, so ``simjobs run <
inputs.txt`` in a terminal still asks). Without one (``nohup``, cron, setsid) it
installs nothing, so a host that asks fails at once with one line saying which interface
needs a login and how to avoid it.

The question is read in a thread of the transport (a daemon thread): a Ctrl-C ends the
command from the main thread while that read waits, and the read's own clean-up never
runs. So the terminal's settings are also put back from the main thread, when the
command leaves :func:`terminal_login` (and at exit): echo is never left off.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import termios
import threading
import time
from collections.abc import Callable, Iterator
from typing import ContextManager, Optional

from ..core.login import LoginCancelled, LoginChallenge, set_login_prompter

#: Seconds a question waits for its answer on the terminal.
ANSWER_TIMEOUT = 300.0


class TerminalPrompter:
    """Asks a server's login questions on the controlling terminal (``/dev/tty``),
    one challenge at a time, hiding the answer when the server says so.

    Parameters
    ----------
    timeout : float, optional
        Seconds to wait for each answer before giving up (LoginCancelled).
    tty : str, optional
        The terminal device, by default ``/dev/tty``.
    """

    def __init__(self, timeout: float = ANSWER_TIMEOUT, tty: str = "/dev/tty"):
        self.timeout = timeout
        self.tty = tty
        self._lock = threading.Lock()
        self._pause: Optional[Callable[[], ContextManager]] = None
        # The terminal's settings while a hidden answer is read (echo off), else None.
        self._saved: Optional[list] = None
        self._saved_lock = threading.Lock()
        self._stopped = False  # stop(): a question waiting gives up within 0.2 s

    def pause_with(self, pause: Optional[Callable[[], ContextManager]]) -> None:
        """While a question is asked, enter ``pause()`` (a live table stops drawing)."""
        with self._lock:  # not in the middle of a question
            self._pause = pause

    def stop(self) -> None:
        """The command is ending (Ctrl-C, an error): a question waiting for its answer
        gives up within 0.2 s (:class:`LoginCancelled`, so the transport's call returns and
        the manager can shut down), later ones too, and the terminal's settings are put
        back. Idempotent."""
        self._stopped = True
        self.restore_terminal()

    def __call__(self, challenge: LoginChallenge) -> list[str]:
        if self._stopped:
            raise LoginCancelled("the command is ending")
        with self._lock:
            pause = self._pause() if self._pause is not None else contextlib.nullcontext()
            with pause:
                try:
                    fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY)
                except OSError as exc:
                    raise LoginCancelled(f"cannot open the terminal: {exc.strerror}") from None
                try:
                    if _in_background(fd):
                        raise LoginCancelled("simjobs runs in the background of its terminal; "
                                             "bring it to the foreground (fg) to answer")
                    return self._ask(fd, challenge)
                finally:
                    os.close(fd)

    def _ask(self, fd: int, challenge: LoginChallenge) -> list[str]:
        head = f"\nsimjobs: {challenge.who} asks you to log in"
        lines = [head] + [line for line in (challenge.title, challenge.instructions)
                          if line.strip()]
        os.write(fd, ("\n".join(lines) + "\n").encode())
        answers = []
        for prompt in challenge.prompts:
            answers.append(self._read_line(fd, prompt.text, prompt.echo))
        return answers

    def _read_line(self, fd: int, text: str, echo: bool) -> str:
        old = termios.tcgetattr(fd)
        if not echo:  # off before the prompt shows: nothing typed after it can echo
            with self._saved_lock:
                self._saved = old
            new = termios.tcgetattr(fd)
            new[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSAFLUSH, new)
        try:
            os.write(fd, text.encode())
            data = b""
            deadline = time.monotonic() + self.timeout
            while not data.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LoginCancelled(f"no answer on the terminal within {self.timeout:g} s")
                if self._stopped:
                    raise LoginCancelled("the command is ending")
                ready, _, _ = select.select([fd], [], [], min(left, 0.2))
                if not ready:
                    continue
                chunk = os.read(fd, 1024)
                if not chunk:
                    raise LoginCancelled("the terminal closed")
                data += chunk
        finally:
            if not echo:
                with self._saved_lock:
                    if self._saved is not None:  # (else restore_terminal did it)
                        self._saved = None
                        termios.tcsetattr(fd, termios.TCSAFLUSH, old)
                        os.write(fd, b"\n")
        return data.decode("utf-8", "replace").rstrip("\r\n")

    def restore_terminal(self) -> None:
        """Put back the terminal's settings if a hidden answer is being read (echo is
        off): for the main thread when the command ends (Ctrl-C) while the question
        waits in another thread. Does nothing otherwise; safe to call at any time."""
        with self._saved_lock:
            saved, self._saved = self._saved, None
            if saved is None:
                return
            try:
                fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY)
            except OSError:
                return  # the terminal is gone: nothing to put back
            try:
                termios.tcsetattr(fd, termios.TCSANOW, saved)
                os.write(fd, b"\n")
            except OSError:
                pass
            finally:
                os.close(fd)


@contextlib.contextmanager
def terminal_login() -> Iterator[Optional[TerminalPrompter]]:
    """Install a :class:`TerminalPrompter` when the process has a terminal (else none,
    so that a question fails at once); yields it (or None) and puts the previous one
    back, and the terminal's settings too if a question was still waiting (Ctrl-C).
    Call the prompter's :meth:`~TerminalPrompter.stop` before waiting for work that may
    be waiting for an answer (a manager's shutdown)."""
    prompter = TerminalPrompter() if has_terminal() else None
    previous = set_login_prompter(prompter)
    if prompter is not None:
        atexit.register(prompter.restore_terminal)  # an exit that skips the finally
    try:
        yield prompter
    finally:
        set_login_prompter(previous)
        if prompter is not None:
            prompter.stop()
            atexit.unregister(prompter.restore_terminal)


def has_terminal(tty: str = "/dev/tty") -> bool:
    """Whether this process can ask a person: its controlling terminal opens and it
    runs in its foreground. Not stdin: ``simjobs run < inputs.txt`` in a terminal has a
    person to ask, and the prompter asks on ``/dev/tty`` anyway."""
    try:
        fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
    except OSError:  # no controlling terminal (nohup + setsid, cron, a service)
        return False
    try:
        return os.isatty(fd) and not _in_background(fd)
    finally:
        os.close(fd)


def _in_background(fd: int) -> bool:
    """Whether this process is in the background of its terminal ``fd``: one started
    with ``&`` (``nohup simjobs run &``) reading it would be stopped (SIGTTIN), never
    answered. False when ``fd`` is not this process's controlling terminal."""
    try:
        return os.tcgetpgrp(fd) != os.getpgrp()
    except OSError:  # not our controlling terminal: no job control applies
        return False
