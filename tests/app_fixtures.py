"""Deterministic backends for the app's tests, snapshots, screenshots and benchmarks.

``build_backend(tmp_path)`` gives a real :class:`ManagedBackend`: a real SimulationsLog
in ``tmp_path`` filled with fixed records (fixed ids, inputs, outputs and times), a real
JobManager, and :class:`HeldInterface` hardware whose jobs change only when the test
says so. The clock is fixed at :data:`FIXED_NOW`. Times are shown in local time: call
:func:`utc_time` (or set TZ=UTC) so that snapshots do not depend on the machine's zone.

    from app_fixtures import build_backend, HeldInterface, FIXED_NOW
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from pathlib import Path
from typing import Optional

from textual.app import App

from simjobs.app.backend import ManagedBackend
from simjobs.app.screens.log_view import SimulationsLogScreen
from simjobs.core.hardware import HardwareInterface
from simjobs.core.log import SimulationsLog
from simjobs.core.records import LogChange
from simjobs.core.types import Job, JobId, JobStatus

#: 2026-01-01 14:00:00 UTC: "now" in every deterministic app.
FIXED_NOW = 1767276000.0
#: The first fixed job id (17 digits, like the manager's ids); the others follow it.
FIRST_ID = 20260101130000000


def run_async(test):
    """Run an ``async def`` test (Pilot) with asyncio.run: the suite has no asyncio
    plugin. Fixtures still work (pytest reads the wrapped signature)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


async def until(pilot, predicate, timeout: float = 30.0, message="") -> None:
    """Let the app run until ``predicate()`` is true (a condition, not a fixed sleep);
    ``message`` (a string, or a callable giving one) says what was awaited."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            if callable(message):
                message = message()
            raise AssertionError(f"not true within {timeout} s: {message or predicate}")
        await pilot.pause(0.02)


def notes(app) -> list[str]:
    """The messages of the app's notifications."""
    return [n.message for n in app._notifications]


def fixed_clock() -> float:
    return FIXED_NOW


def utc_time() -> None:
    """Show times in UTC in this process (snapshots must not depend on the time zone)."""
    os.environ["TZ"] = "UTC"
    time.tzset()


class HeldInterface(HardwareInterface):
    """Hardware whose jobs do only what the test tells them.

    A submitted job reports RUNNING until :meth:`finish`, :meth:`fail` or :meth:`set`;
    a cancel is done at once (or when ``cancel_gate`` is set). Jobs it never
    received (resumed from the log) are not answered for and are claimed as held, so a
    resumed log stays exactly as it was written.
    """

    def __init__(self, name: str, level: int = 1, *, kind: str = "local",
                 host: str = "localhost", max_jobs: Optional[int] = 4):
        super().__init__(name, level)
        self.kind = kind
        self.host = host
        self._max_jobs = max_jobs
        self.states: dict[JobId, JobStatus] = {}
        self.outputs: dict[JobId, float] = {}
        self.submitted: list[JobId] = []
        self.cancels: list[JobId] = []
        #: while set to an unset threading.Event, cancel_job waits for it (a slow
        #: hardware cancel: the job stays PENDING_CANCEL meanwhile)
        self.cancel_gate = None
        #: raised by every poll while set (e.g. HardwareUnreachableError)
        self.poll_error: Optional[Exception] = None

    def submit_job(self, job: Job) -> None:
        self.submitted.append(job.id)
        self.states[job.id] = JobStatus.RUNNING
        self.outputs.setdefault(job.id, float(sum(job.data)))

    def get_job_status(self, job_id: JobId) -> JobStatus:
        # Asked about one job (before a cancel): a resumed job it never received is held
        # as running. Polls (get_job_statuses) leave such jobs unanswered instead, so
        # that a resumed log shows exactly what was written.
        return self.states.get(job_id, JobStatus.RUNNING)

    def get_job_statuses(self, job_ids):
        if self.poll_error is not None:
            raise self.poll_error
        return {j: self.states[j] for j in job_ids if j in self.states}

    def get_job_output(self, job_id: JobId):
        return self.outputs.get(job_id)

    def cancel_job(self, job_id: JobId) -> None:
        self.cancels.append(job_id)
        if self.cancel_gate is not None:
            self.cancel_gate.wait(30)
        self.states[job_id] = JobStatus.CANCELLED

    def find_jobs(self, job_ids):
        return set(job_ids)

    def describe(self) -> dict:
        return {"kind": self.kind, "host": self.host, "max_jobs": self._max_jobs}

    def job_details(self, job_id: JobId) -> dict:
        return {"host": self.host, "job_dir": f"/scratch/{self.name}/{job_id}",
                "stdout_tail": f"running job {job_id}\n", "stderr_tail": ""}

    # ---- on cue ----------------------------------------------------------------------

    def finish(self, job_id, output: Optional[float] = None) -> None:
        job_id = JobId(job_id)
        if output is not None:
            self.outputs[job_id] = output
        self.states[job_id] = JobStatus.COMPLETED

    def fail(self, job_id) -> None:
        self.states[JobId(job_id)] = JobStatus.FAILED

    def set(self, job_id, status: JobStatus) -> None:
        self.states[JobId(job_id)] = status


# A fixed mix of statuses: (status, output) by position, repeated.
_PATTERN = [
    (JobStatus.COMPLETED, True), (JobStatus.RUNNING, False), (JobStatus.COMPLETED, True),
    (JobStatus.FAILED, False), (JobStatus.SUBMITTED, False), (JobStatus.COMPLETED, True),
    (JobStatus.CANCELLED, False), (JobStatus.RUNNING, False), (JobStatus.FAILED_SUBMIT, False),
    (JobStatus.COMPLETED, True), (JobStatus.RUNNING, False), (JobStatus.COMPLETED, True),
]
_REASONS = {
    JobStatus.FAILED: "exit code 1: simulator raised ValueError",
    JobStatus.FAILED_SUBMIT: "5 submit attempts failed: connection refused",
    JobStatus.CANCELLED: "cancelled by the user",
}


def fill_log(log: SimulationsLog, n: int, *, interfaces: dict[int, list[str]],
             now: float = FIXED_NOW, first_id: int = FIRST_ID,
             pattern: Optional[list] = None) -> list[str]:
    """Add ``n`` fixed records (ids ``first_id``, ``first_id + 1``, ...; submitted one a
    minute up to ``now``, roughly a quarter at level 2). Returns the ids."""
    pattern = pattern or _PATTERN
    levels = sorted(interfaces)
    rows, changes, ids = [], [], []
    start = now - 60 * n
    dim = log.input_dim
    for i in range(n):
        job_id = str(first_id + i)
        level = levels[-1] if (len(levels) > 1 and i % 4 == 3) else levels[0]
        names = interfaces[level]
        name = names[i % len(names)]
        coords = [round(((i * 37 + k * 11) % 100) / 100, 2) for k in range(dim)]
        rows.append((coords, job_id, JobStatus.PENDING_SUBMIT, level, name))
        ids.append(job_id)
    for i, row in enumerate(rows):  # one a minute
        log.add_new_records([row], now=start + 60 * i, sync=False)
    log.sync()
    for i, job_id in enumerate(ids):
        status, has_output = pattern[i % len(pattern)]
        t0 = start + 60 * i
        if status is JobStatus.PENDING_SUBMIT:
            continue
        if status is not JobStatus.FAILED_SUBMIT:
            changes.append(LogChange(job_id, t0 + 5, status=JobStatus.SUBMITTED))
        if status in (JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED):
            changes.append(LogChange(job_id, t0 + 10, status=JobStatus.RUNNING))
        if status is not JobStatus.SUBMITTED and status is not JobStatus.RUNNING:
            output = round(sum(rows[i][0]) * (1 + 0.1 * rows[i][3]), 4) if has_output else None
            changes.append(LogChange(job_id, t0 + 40, status=status, output=output,
                                     reason=_REASONS.get(status)))
    log.apply_changes(changes)
    return ids


def default_interfaces() -> list[HeldInterface]:
    return [
        HeldInterface("local-fast", 1, kind="local", host="localhost", max_jobs=4),
        HeldInterface("hpc", 2, kind="slurm", host="hpc.example.org", max_jobs=8),
    ]


def build_backend(tmp_path: Path, n: int = 24, *, input_dim: int = 2,
                  interfaces: Optional[list[HardwareInterface]] = None,
                  log_name: str = "runs.csv", polling_interval: float = 0.05,
                  clock=fixed_clock) -> ManagedBackend:
    """A managed backend on a fixed log of ``n`` records in ``tmp_path`` (see module doc).

    With the default HeldInterfaces nothing changes until a test acts. Close it with
    ``backend.close()`` (the app does on exit)."""
    interfaces = interfaces if interfaces is not None else default_interfaces()
    log = SimulationsLog(tmp_path / log_name, input_dim)
    by_level: dict[int, list[str]] = {}
    for i in interfaces:
        by_level.setdefault(i.level, []).append(i.name)
    if n:
        fill_log(log, n, interfaces=by_level)
    return ManagedBackend(log, interfaces, polling_interval=polling_interval, clock=clock)


class LogViewHost(App):
    """The smallest app holding a backend, pushing the simulations log view on mount."""

    TITLE = "Host"  # the title its snapshots were taken with

    def __init__(self, backend):
        super().__init__()
        self.backend = backend

    def on_mount(self) -> None:
        self.push_screen(SimulationsLogScreen(self.backend))

