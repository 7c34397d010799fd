"""On a real terminal (tmux, 80x24): while ``simjobs app`` runs, Textual owns the
terminal, so an error a worker thread logs must not be printed over the screen; it
goes to the log file and to the status bar's count, and E lists it (issue 11, item 7).
Every step waits on what the screen shows, never on a fixed sleep."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from tmux import TmuxSession, tmux_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not tmux_available(), reason="tmux is not installed (CI has it)"),
]

TIMEOUT = 60

#: The app as `simjobs app` starts it, plus a thread that, once the test creates the
#: trigger file, fails and logs it as the manager's threads do (logger.exception).
PROGRAM = """\
import logging, os, sys, threading, time
from simjobs import cli

def fail_later(trigger):
    while not os.path.exists(trigger):
        time.sleep(0.05)
    try:
        raise ConnectionError("the cluster hung up")
    except ConnectionError:
        logging.getLogger("simjobs").exception("simjobs: polling cluster failed")

threading.Thread(target=fail_later, args=(sys.argv[1],), name="simjobs-poll-cluster",
                 daemon=True).start()
sys.exit(cli.main(["app", "--config", sys.argv[2]]))
"""

CONFIG = """\
[log]
path = "runs.csv"
input_dim = 2

[[interfaces]]
kind = "local"
name = "quick"
level = 1
command = "{python} -m simjobs.demo.simulator --level 1"
max_jobs = 1
"""


def log_path() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "simjobs" / "log" / "simjobs.log"


def wait_for_file_text(path: Path, text: str, timeout: float = TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    while True:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in {path} within {timeout} s:\n{content}")
        time.sleep(0.05)


def test_a_thread_error_in_the_running_app_is_counted_listed_and_filed(tmp_path):
    (tmp_path / "simjobs.toml").write_text(CONFIG)
    (tmp_path / "app.py").write_text(PROGRAM)
    trigger = tmp_path / "fail-now"
    env = {k: os.environ[k] for k in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
    with TmuxSession([sys.executable, str(tmp_path / "app.py"), str(trigger),
                      str(tmp_path / "simjobs.toml")], cwd=str(tmp_path), env=env) as tmux:
        tmux.wait_for("managed by this app", timeout=TIMEOUT)
        trigger.touch()
        screen = tmux.wait_for(re.escape("⚠ 1 error (E)"), timeout=TIMEOUT)
        # Not printed over the app (stderr belongs to Textual while it runs).
        assert "polling cluster failed" not in screen and "simjobs: error" not in screen
        text = wait_for_file_text(log_path(), "ConnectionError: the cluster hung up")
        assert "ERROR [" in text and "simjobs-poll-cluster" in text
        assert "Traceback (most recent call last)" in text
        tmux.send("E")
        screen = tmux.wait_for("Recent errors and warnings", timeout=TIMEOUT)
        assert "polling cluster failed" in screen
        assert "ConnectionError: the cluster hung up" in screen
        tmux.send("q")  # closes the list (Escape then q would read as alt+q)
        deadline = time.monotonic() + TIMEOUT
        while "Recent errors and warnings" in tmux.screen():
            assert time.monotonic() < deadline, tmux.screen()
            time.sleep(0.1)
        tmux.send("q")  # no job is going: quits at once
        tmux.wait_until_exited(timeout=TIMEOUT)
