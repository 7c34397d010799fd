"""Interactive logins on the command line: the server's questions (a one-time code, a
password) asked on the terminal, see :mod:`simjobs.core.login`.

A command that runs a manager installs :class:`TerminalPrompter` when its stdin is a
terminal. Without one (``nohup``, cron, a pipe) it installs nothing, so a host that asks
fails at once with one line saying which interface needs a login and how to avoid it.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import threading
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

    def pause_with(self, pause: Optional[Callable[[], ContextManager]]) -> None:
        """While a question is asked, enter ``pause()`` (a live table stops drawing)."""
        with self._lock:  # not in the middle of a question
            self._pause = pause

    def __call__(self, challenge: LoginChallenge) -> list[str]:
        with self._lock:
            pause = self._pause() if self._pause is not None else contextlib.nullcontext()
            with pause:
                try:
                    fd = os.open(self.tty, os.O_RDWR | os.O_NOCTTY)
                except OSError as exc:
                    raise LoginCancelled(f"cannot open the terminal: {exc.strerror}") from None
                try:
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
            new = termios.tcgetattr(fd)
            new[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSAFLUSH, new)
        try:
            os.write(fd, text.encode())
            data = b""
            while not data.endswith(b"\n"):
                ready, _, _ = select.select([fd], [], [], self.timeout)
                if not ready:
                    raise LoginCancelled(f"no answer on the terminal within {self.timeout:g} s")
                chunk = os.read(fd, 1024)
                if not chunk:
                    raise LoginCancelled("the terminal closed")
                data += chunk
        finally:
            if not echo:
                termios.tcsetattr(fd, termios.TCSAFLUSH, old)
                os.write(fd, b"\n")
        return data.decode("utf-8", "replace").rstrip("\r\n")


@contextlib.contextmanager
def terminal_login() -> Iterator[Optional[TerminalPrompter]]:
    """Install a :class:`TerminalPrompter` when stdin is a terminal (else none, so that
    a question fails at once); yields it (or None) and puts the previous one back."""
    prompter = TerminalPrompter() if _has_terminal() else None
    previous = set_login_prompter(prompter)
    try:
        yield prompter
    finally:
        set_login_prompter(previous)


def _has_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed stdin
        return False
