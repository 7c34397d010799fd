"""A real terminal for end-to-end tests: a program in a detached tmux session.

``TmuxSession`` starts a command in its own tmux server (``-L``, so the user's tmux is
never touched), sends keys and reads the screen with ``capture-pane``. Tests wait on
what the screen shows, never on fixed sleeps.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from typing import Optional, Union


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


class TmuxSession:
    def __init__(self, command: list[str], width: int = 80, height: int = 24,
                 cwd: Optional[str] = None, env: Optional[dict[str, str]] = None,
                 term: str = "tmux-256color"):
        self.socket = f"simjobs-test-{uuid.uuid4().hex[:8]}"
        self.name = "app"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        # `exec` so the program is the pane's process; its exit closes the pane, which
        # `remain-on-exit` keeps so the last screen (and an error) can still be read.
        shell_cmd = f"cd {shlex.quote(cwd or os.getcwd())} && exec env {exports} " \
                    f"{' '.join(shlex.quote(c) for c in command)}"
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", self.name,
                   "-x", str(width), "-y", str(height), "sh", "-c", shell_cmd,
                   extra_env={"TERM": "xterm-256color"})
        self._tmux("set-option", "-t", self.name, "remain-on-exit", "on")
        self._tmux("set-option", "-t", self.name, "default-terminal", term)

    def _tmux(self, *args: str, extra_env: Optional[dict] = None) -> str:
        env = {**os.environ, **(extra_env or {})}
        env.pop("TMUX", None)
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, env=env, timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def send(self, *keys: str, literal: bool = False) -> None:
        """Send keys (tmux key names such as ``Enter``, ``Escape``, ``C-c``, ``Down``),
        or with ``literal`` the characters of a string as typed."""
        args = ["send-keys", "-t", self.name]
        if literal:
            args.append("-l")
        self._tmux(*args, *keys)

    def type(self, text: str) -> None:
        self.send(text, literal=True)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def alive(self) -> bool:
        out = self._tmux("list-panes", "-t", self.name, "-F", "#{pane_dead}")
        return out.strip() == "0"

    def wait_for(self, pattern: Union[str, re.Pattern], timeout: float = 30.0) -> str:
        """Wait until the screen matches ``pattern`` (a regex); returns the screen."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if regex.search(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(
            f"the screen did not show {regex.pattern!r} within {timeout:g} s; it shows:\n{screen}"
        )

    def wait_until_exited(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return
            time.sleep(0.1)
        raise AssertionError(f"the program did not exit within {timeout:g} s:\n{self.screen()}")

    def kill(self) -> None:
        try:
            self._tmux("kill-server")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass

    def __enter__(self) -> "TmuxSession":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
