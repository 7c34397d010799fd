"""Interactive logins: how a hardware interface asks the person for a one-time code.

Some hosts (HPC login nodes with a second factor) ask, after the key, for something only
the person has: a one-time code, a password. The transport that meets such a question
(``SSHRunner``) turns it into a :class:`LoginChallenge` and hands it to the **login
prompter** of the process, a callable that returns one answer per prompt:

- the app installs one that shows a modal screen with the server's prompt text;
- the command line installs one that asks on the terminal;
- a process with neither (``simjobs run`` under nohup, a script) has none, and the
  login fails at once with :class:`NoPrompterError`, whose one line names the interface
  and how to avoid the question (``transport = "openssh"`` with a ControlMaster).

The rule against lockouts: a transport asks **once per connection it opens**. When that
login fails (the server refused the answers, the person cancelled or did not answer, no
one could be asked), it raises :class:`InteractiveLoginError` and makes no new attempt by
itself: every later call fails at once with the same error (the interface shows as
unreachable with that reason) until :func:`retry_logins` is called, which the app does
when the person asks to log in again. A connection that drops after a good login is opened
again at the next call, and that opening asks again, once.

Answers are never stored, logged or put in a message: they go from the prompter to the
transport and on to the server.

This module imports nothing above core; the prompters live in the app and the CLI.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Optional

from .errors import HardwareUnreachableError

logger = logging.getLogger("simjobs")


@dataclasses.dataclass(frozen=True)
class LoginPrompt:
    """One question of the server: its text, and whether the answer may be shown as
    typed (``echo`` False: hide it, like a password)."""

    text: str
    echo: bool


@dataclasses.dataclass(frozen=True)
class LoginChallenge:
    """What a server asks during a login, for the person to answer.

    Attributes
    ----------
    interface : str
        The interface that logs in ("" when the transport was made without one).
    host : str
        ``user@host:port`` as shown to users.
    instructions : str
        The server's text above the prompts (often empty).
    prompts : tuple of LoginPrompt
        The questions; the prompter returns one answer for each, in order.
    title : str
        The server's name for the challenge (often empty).
    """

    interface: str
    host: str
    instructions: str
    prompts: tuple[LoginPrompt, ...]
    title: str = ""

    @property
    def who(self) -> str:
        """``interface 'x' (user@host)``, or the host alone."""
        return f"interface {self.interface!r} ({self.host})" if self.interface else self.host


#: A login prompter: the answers to a challenge, one per prompt, or raises
#: :class:`LoginCancelled` (or any exception) to give up.
LoginPrompter = Callable[[LoginChallenge], Sequence[str]]


class LoginCancelled(Exception):
    """The person did not answer (cancelled, timed out, the app closed)."""


class InteractiveLoginError(HardwareUnreachableError):
    """An interactive login did not succeed; no new attempt is made until
    :func:`retry_logins` (see the module docstring)."""


class NoPrompterError(InteractiveLoginError):
    """A server asked for an interactive login and this process has no one to ask."""


def no_prompter_text(challenge: LoginChallenge) -> str:
    """The one line of :class:`NoPrompterError`: which interface, and how to avoid it."""
    asked = "; ".join(p.text.strip() for p in challenge.prompts) or "an interactive login"
    return (f"{challenge.who} asks for an interactive login ({asked}) and this process has "
            "no terminal to ask on: run simjobs in a terminal or in the app to log in, or "
            "set transport = \"openssh\" on that interface and keep an OpenSSH ControlMaster "
            "logged in (README: 'Sites with a second factor')")


_lock = threading.Lock()
_prompter: Optional[LoginPrompter] = None
_generation = 0
_listeners: list[Callable[[InteractiveLoginError], None]] = []


def set_login_prompter(prompter: Optional[LoginPrompter]) -> Optional[LoginPrompter]:
    """Install ``prompter`` as the process's login prompter (None: none); returns the
    one it replaces, so a caller can put it back."""
    global _prompter
    with _lock:
        previous, _prompter = _prompter, prompter
    return previous


def login_prompter() -> Optional[LoginPrompter]:
    """The process's login prompter, or None."""
    with _lock:
        return _prompter


def ask(challenge: LoginChallenge, prompter: Optional[LoginPrompter] = None) -> list[str]:
    """The answers to ``challenge`` from ``prompter`` (by default the process's).

    Blocks until the person answers: call it from a thread that may wait.

    Raises
    ------
    NoPrompterError
        When there is no prompter.
    InteractiveLoginError
        When the prompter gave up (cancelled, timed out), raised any other exception
        (named by its type only: its text may hold the answer) or gave the wrong
        number of answers.

    Either is also told to the listeners of :func:`on_login_failure`.
    """
    prompter = prompter or login_prompter()
    # The questions are logged (info), never the answers.
    logger.info("simjobs: %s asks for an interactive login: %s", challenge.who,
                "; ".join(p.text.strip() for p in challenge.prompts))
    if prompter is None:
        error: InteractiveLoginError = NoPrompterError(no_prompter_text(challenge))
    else:
        try:
            answers = list(prompter(challenge))
        except LoginCancelled as exc:
            error = InteractiveLoginError(
                f"the login to {challenge.who} was not answered ({exc}); nothing more is "
                "sent to it until you log in again")
        except Exception as exc:  # noqa: BLE001 - any failure of the prompter gives up
            # The type only: the exception's text may hold what was typed.
            logger.debug("simjobs: the login prompter failed with %s", type(exc).__name__)
            error = InteractiveLoginError(
                f"the login prompter failed for {challenge.who}: {type(exc).__name__}; "
                "nothing more is sent to it until you log in again")
        else:
            if len(answers) == len(challenge.prompts) \
                    and all(isinstance(a, str) for a in answers):
                logger.info("simjobs: %s: answered, sent to the server", challenge.who)
                return answers
            error = InteractiveLoginError(
                f"the login prompter gave {len(answers)} answers to the "
                f"{len(challenge.prompts)} prompts of {challenge.who}")
    login_failed(error)
    raise error


def on_login_failure(listener: Callable[[InteractiveLoginError], None]) -> Callable[[], None]:
    """Call ``listener(error)`` whenever an interactive login fails (no one to ask, not
    answered, refused by the server), from the thread that met it; returns the function
    that removes it. Commands of the CLI stop waiting on it."""
    with _lock:
        _listeners.append(listener)

    def remove() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def login_failed(error: InteractiveLoginError) -> None:
    """Tell the listeners of :func:`on_login_failure` (a transport calls it when the
    server refuses the answers; :func:`ask` for the other failures). A listener that
    raises is logged and the others are still told; nothing reaches the caller."""
    logger.info("simjobs: %s", error)  # (info: the listeners tell the person)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(error)
        except Exception:  # noqa: BLE001 - a listener's fault must not reach the transport
            logger.exception("simjobs: a listener of failed logins raised")


def retry_logins() -> None:
    """Let every transport whose interactive login failed try once more, at its next
    call (the person asked to log in again)."""
    global _generation
    with _lock:
        _generation += 1


def login_generation() -> int:
    """Counts :func:`retry_logins` calls: a transport that failed to log in waits for it
    to change before it tries again."""
    with _lock:
        return _generation
