"""End to end in a real terminal: ``simjobs app`` in a detached tmux session (80x24).

Keys are sent the way a user types them and every step waits on what ``capture-pane``
shows (never on a fixed sleep): submit an input at level 1 through the submit form
and see it Completed; submit a long job at level 2, cancel it (with the confirmation)
and see it Cancelled; submit another long job, quit (confirming: a job still runs),
check the log file, start the app again and see the same jobs in the same states; the
still-running job is resumed and is cancelled from the second app.

Level 1 runs the demo simulator (fast, never failing); level 2 runs a "long"
simulator that waits for a stop file (created at teardown, so nothing outlives the
test). Once at TERM=tmux-256color and once at TERM=screen-256color.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from simjobs.core.log import SimulationsLog
from simjobs.core.types import JobStatus
from tmux import TmuxSession, tmux_available

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not tmux_available(), reason="tmux is not installed (CI has it)"),
]

#: Generous: the machine running the suite may be loaded.
TIMEOUT = 60
STATUSES = "|".join(re.escape(s.value) for s in JobStatus)
#: One job row of the table: (job id, level, interface, status).
ROW = re.compile(rf"^\W*?(\d{{17}})\s+(\d)\s+(\S+)\s+({STATUSES})\b", re.M)

LONG_SIM = """\
import os, sys, time
stop = {stop!r}
deadline = time.monotonic() + 900
while not os.path.exists(stop) and time.monotonic() < deadline:
    time.sleep(0.05)
with open(sys.argv[2], "w") as f:
    f.write("1.0\\n")
"""

CONFIG = """\
[log]
path = "runs.csv"
input_dim = 2

[manager]
polling_interval = 0.2

[[interfaces]]
kind = "local"
name = "quick"
level = 1
command = "{{python}} -m simjobs.demo.simulator --level 1"
workspace = "work/quick"
max_jobs = 4

[[interfaces]]
kind = "local"
name = "long"
level = 2
command = "{{python}} {long_sim}"
workspace = "work/long"
max_jobs = 4
"""


class App:
    """``simjobs app --config`` in tmux, with the few moves the tests make."""

    def __init__(self, tmp_path: Path, term: str):
        self.tmp_path = tmp_path
        self.config = tmp_path / "simjobs.toml"
        xdg = tmp_path / "xdg"
        env = {
            "TERM": term,
            "TZ": "UTC",
            "SIMJOBS_DEMO_FAST": "1",
            "SIMJOBS_DEMO_FAILURE_RATE": "0",
            "XDG_CONFIG_HOME": str(xdg / "config"),
            "XDG_DATA_HOME": str(xdg / "data"),
            "XDG_CACHE_HOME": str(xdg / "cache"),
            "XDG_STATE_HOME": str(xdg / "state"),
        }
        self.tmux = TmuxSession([sys.executable, "-m", "simjobs", "app", "--config",
                                 str(self.config)], width=80, height=24, cwd=str(tmp_path),
                                env=env, term=term)

    # ---- reading the screen -----------------------------------------------------------

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> str:
        return self.tmux.wait_for(pattern, timeout)

    def rows(self, screen: Optional[str] = None) -> dict[str, tuple[int, str, str]]:
        """The job rows on screen: id -> (level, interface, status)."""
        screen = self.tmux.screen() if screen is None else screen
        return {m[1]: (int(m[2]), m[3], m[4]) for m in ROW.finditer(screen)}

    def wait_row(self, job_id: str, status: str, timeout: float = TIMEOUT) -> str:
        return self.wait_for(rf"(?m)^\W*{job_id}\s+\d\s+\S+\s+{re.escape(status)}\b", timeout)

    def wait_new_row(self, known: set[str], status: str, timeout: float = TIMEOUT) -> str:
        """Wait for a job not in ``known`` showing ``status``; returns its id."""
        screen = self.wait_for(
            rf"(?m)^\W*(?!{'|'.join(known) or 'x'})\d{{17}}\s+\d\s+\S+\s+{re.escape(status)}\b",
            timeout)
        new = [j for j, (_, _, s) in self.rows(screen).items() if j not in known and s == status]
        assert len(new) == 1, screen
        return new[0]

    def cursor(self) -> tuple[int, int]:
        out = self.tmux._tmux("display-message", "-p", "-t", self.tmux.name,
                              "#{cursor_x} #{cursor_y}")
        x, y = out.split()
        return int(x), int(y)

    def wait_cursor_in(self, field: str, timeout: float = TIMEOUT) -> None:
        """Wait until the terminal's cursor sits in the first row's ``field`` ("x1" or
        "x2"): keys typed before the form has moved the focus would go elsewhere."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.tmux.screen().splitlines()
            x, y = self.cursor()
            if y < len(lines):
                m = re.search(r"#1\s+(x1) .*?(x2) ", lines[y])
                if m:
                    lo, hi = (m.end(1), m.start(2)) if field == "x1" else (m.end(2), 10**6)
                    if lo < x < hi:
                        return
            time.sleep(0.1)
        raise AssertionError(f"the {field} field never got the cursor:\n{self.tmux.screen()}")

    # ---- acting -----------------------------------------------------------------------

    def submit(self, x1: str, x2: str, level: int) -> None:
        """``s``, type the two coordinates, choose ``level``, submit (ctrl+s)."""
        self.tmux.send("s")
        self.wait_for(r"Submit jobs")
        self.wait_cursor_in("x1")
        self.tmux.type(x1)
        self.wait_for(rf"x1 {re.escape(x1)}\s")
        self.tmux.send("Tab")  # keys typed on at once could still reach x1
        self.wait_cursor_in("x2")
        self.tmux.type(x2)
        self.wait_for(rf"x1 {re.escape(x1)}\s+x2 {re.escape(x2)}\s")
        self.wait_for(r"Submit 1\b")  # valid: the button counts the inputs
        if level != 1:
            # ctrl+l goes to the level selector and opens its list (the other levels).
            self.tmux.send("C-l")
            self.wait_for(rf"(?m)^\W*{level}: long")
            self.tmux.send(*["Down"] * (level - 1), "Enter")
            self.wait_for(rf"Level {level}: long")
        self.tmux.send("C-s")
        self.wait_for(rf"Submitted 1 job at level {level}")

    def cancel_top(self, job_id: str) -> None:
        """Cancel the top row (newest first), which must be ``job_id``."""
        self.tmux.send("g", "c")
        self.wait_for(rf"Cancel job {job_id}\?")
        self.tmux.send("y")


def log_records(path: Path) -> dict[str, tuple[JobStatus, int, str, Optional[float]]]:
    log = SimulationsLog.open(path, readonly=True)
    try:
        return {r.job_id: (r.status, r.level, r.interface_name, r.output)
                for r in log.iter_records()}
    finally:
        log.close()


@pytest.fixture
def workdir(tmp_path):
    stop = tmp_path / "stop-long-jobs"
    long_sim = tmp_path / "long_sim.py"
    long_sim.write_text(LONG_SIM.format(stop=str(stop)))
    (tmp_path / "simjobs.toml").write_text(CONFIG.format(long_sim=long_sim))
    apps: list[App] = []
    yield tmp_path, apps
    for app in apps:
        app.tmux.kill()
    stop.touch()  # any long job still running ends now


@pytest.mark.parametrize("term", ["tmux-256color", "screen-256color"])
def test_submit_complete_cancel_quit_and_resume(workdir, term):
    tmp_path, apps = workdir
    log_path = tmp_path / "runs.csv"

    app = App(tmp_path, term)
    apps.append(app)
    screen = app.wait_for(r"\b0 of 0 jobs")
    assert "read-only" not in screen  # this app manages the log

    # An input at level 1, through the submit form: it runs and completes.
    app.submit("0.25", "0.5", level=1)
    quick = app.wait_new_row(set(), "Completed")
    screen = app.wait_row(quick, "Completed")
    assert app.rows(screen)[quick][:2] == (1, "quick")
    assert re.search(rf"{quick}\s+1\s+quick\s+Completed\s+0\.25, 0\.5\s+-?\d", screen), screen

    # A long job at level 2: running, then cancelled after the confirmation.
    app.submit("0.75", "0.125", level=2)
    cancelled = app.wait_new_row({quick}, "Running")
    assert app.rows()[cancelled][:2] == (2, "long")
    app.cancel_top(cancelled)
    app.wait_row(cancelled, "Cancelled")

    # Another long job, still running when we quit: the app asks first.
    app.submit("0.5", "0.5", level=2)
    running = app.wait_new_row({quick, cancelled}, "Running")
    screen = app.wait_for(r"3 of 3 jobs")
    assert app.rows(screen) == {
        quick: (1, "quick", "Completed"),
        cancelled: (2, "long", "Cancelled"),
        running: (2, "long", "Running"),
    }
    app.tmux.send("q")
    app.wait_for(r"Jobs still going: 1 running\. Quit\?")
    app.tmux.send("y")
    app.tmux.wait_until_exited(TIMEOUT)

    # The log file says the same.
    records = log_records(log_path)
    assert {j: r[:3] for j, r in records.items()} == {
        quick: (JobStatus.COMPLETED, 1, "quick"),
        cancelled: (JobStatus.CANCELLED, 2, "long"),
        running: (JobStatus.RUNNING, 2, "long"),
    }
    assert records[quick][3] is not None
    assert records[cancelled][3] is None

    # Started again: the same jobs, in the same states; the running one is resumed.
    app.tmux.kill()
    again = App(tmp_path, term)
    apps.append(again)
    screen = again.wait_for(r"\b3 of 3 jobs")
    assert "read-only" not in screen  # managed again, not watched
    # The count can show a frame before the rows are drawn: wait for all three.
    for job_id in (quick, cancelled, running):
        screen = again.wait_for(rf"(?m)^\W*{job_id}\s")
    assert again.rows(screen) == {
        quick: (1, "quick", "Completed"),
        cancelled: (2, "long", "Cancelled"),
        running: (2, "long", "Running"),
    }
    again.cancel_top(running)
    again.wait_row(running, "Cancelled")
    again.tmux.send("q")  # nothing runs any more: no question
    again.tmux.wait_until_exited(TIMEOUT)

    records = log_records(log_path)
    assert {j: r[0] for j, r in records.items()} == {
        quick: JobStatus.COMPLETED, cancelled: JobStatus.CANCELLED,
        running: JobStatus.CANCELLED,
    }


def test_keys_typed_ahead_of_the_submit_form_are_not_lost(workdir):
    """Over SSH with type-ahead, ``s0.5<Tab>0.25<Enter>`` arrives in one read: every key
    after ``s`` must land in the form, in order (they were dropped before it painted)."""
    tmp_path, apps = workdir
    app = App(tmp_path, "tmux-256color")
    apps.append(app)
    app.wait_for(r"\b0 of 0 jobs")
    app.tmux.send("s0.5", "Tab", "0.25", "Enter")  # one send-keys: one write to the pty
    job = app.wait_new_row(set(), "Completed")
    records = log_records(tmp_path / "runs.csv")
    assert list(records) == [job]
    log = SimulationsLog.open(tmp_path / "runs.csv", readonly=True)
    try:
        assert log.get_record(job).coords == (0.5, 0.25)
    finally:
        log.close()
