"""LoginScreen: a server's login questions (a one-time code, a password), and
:class:`AppLoginPrompter`, which asks them from the SSH transport's thread.

The transport waits in a thread of its own (see :mod:`simjobs.core.login`); the screen
lives on Textual's loop. The prompter crosses over with ``App.call_from_thread`` and
waits on a ``threading.Event`` for the person's answer, with a time-out. Answers go
back to the transport only: never logged, never shown (hidden as typed when the server
says so).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ..backend import LoginCancelled, LoginChallenge, on_login_failure

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App

#: Seconds the app waits for the person to answer a login question.
ANSWER_TIMEOUT = 300.0


class LoginScreen(ModalScreen[Optional[list[str]]]):
    """The questions of ``challenge``, one input each (hidden when the server says the
    answer must not echo); enter on the last one logs in, escape gives up."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="login.cancel")]

    CSS_PATH = Path(__file__).with_name("login.tcss")

    def __init__(self, challenge: LoginChallenge):
        super().__init__()
        self.challenge = challenge

    def compose(self) -> ComposeResult:
        c = self.challenge
        with Vertical():
            yield Static(f"{c.who} asks you to log in", id="title")
            for i, text in enumerate(t for t in (c.title, c.instructions) if t.strip()):
                yield Static(text.strip(), classes="instructions", id=f"instructions-{i}")
            for i, prompt in enumerate(c.prompts):
                yield Label(prompt.text.strip(), classes="prompt")
                yield Input(password=not prompt.echo, id=f"answer-{i}")
            yield Static("enter: log in · escape: give up (the interface stays "
                         "unreachable; L asks again)", id="hint")

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        at = inputs.index(event.input)
        if at + 1 < len(inputs):
            inputs[at + 1].focus()
        else:
            self.dismiss([i.value for i in inputs])

    def action_cancel(self) -> None:
        self.dismiss(None)


class AppLoginPrompter:
    """The app's login prompter: shows a :class:`LoginScreen` and waits (in the
    caller's thread) for the answer, at most ``timeout`` seconds."""

    def __init__(self, app: "App", timeout: float = ANSWER_TIMEOUT):
        self.app = app
        self.timeout = timeout
        self._lock = threading.Lock()
        self._waiting: set[threading.Event] = set()
        self._closed = False
        # A refused code (or no answer) is said where the person looks, in the
        # server's words; the interface's panel shows it as its health too.
        self._unlisten = on_login_failure(self._failed)

    def _failed(self, error: Exception) -> None:
        if self._closed:
            return
        # (App.notify is thread-safe, and unlike call_from_thread never waits on a loop
        # that may be stopping.)
        self.app.notify(str(error), title="Login failed", severity="error", timeout=20)

    def __call__(self, challenge: LoginChallenge) -> list[str]:
        done = threading.Event()
        result: dict[str, Optional[list[str]]] = {"answers": None}
        shown: list[LoginScreen] = []

        def answered(answers: Optional[list[str]]) -> None:
            result["answers"] = answers
            done.set()

        def show() -> None:
            screen = LoginScreen(challenge)
            shown.append(screen)
            self.app.push_screen(screen, answered)

        with self._lock:
            if self._closed:
                raise LoginCancelled("the app is closing")
            self._waiting.add(done)
        try:
            try:
                self.app.call_from_thread(show)
            except RuntimeError as exc:  # the app is not running
                raise LoginCancelled(f"the app cannot ask ({exc})") from None
            if not done.wait(self.timeout):
                self._withdraw(shown)
                raise LoginCancelled(f"no answer in the app within {self.timeout:g} s")
        finally:
            with self._lock:
                self._waiting.discard(done)
        if self._closed:
            raise LoginCancelled("the app closed")
        if result["answers"] is None:
            raise LoginCancelled("cancelled in the app")
        return result["answers"]

    def _withdraw(self, shown: list[LoginScreen]) -> None:
        def dismiss() -> None:
            for screen in shown:
                if screen.is_attached:
                    screen.dismiss(None)

        try:
            self.app.call_from_thread(dismiss)
        except RuntimeError:
            pass

    def close(self) -> None:
        """Give up every question still waiting (the app exits)."""
        self._unlisten()
        with self._lock:
            self._closed = True
            waiting = list(self._waiting)
        for event in waiting:
            event.set()
