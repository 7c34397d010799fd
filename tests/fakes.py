"""A scriptable in-process interface, for injecting faults into the manager.

Real components (files, SQLite, processes) are used everywhere else; this fake stands
in for hardware only where a test needs the hardware to misbehave on cue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Optional

from simjobs import HardwareInterface, Job, JobId, JobStatus


class FakeInterface(HardwareInterface):
    """Completes each job after ``polls_to_complete`` RUNNING polls with output = sum
    of the input's coordinates, unless told otherwise."""

    def __init__(self, name: str, level: int = 1, polls_to_complete: int = 0,
                 max_jobs: Optional[int] = None):
        super().__init__(name, level)
        self.polls_to_complete = polls_to_complete
        self._max_jobs = max_jobs
        self.jobs: dict[JobId, Job] = {}
        self.polls: dict[JobId, int] = {}
        self.submit_calls: list[JobId] = []
        self.cancel_calls: list[JobId] = []
        self.status_calls = 0
        self.batch_calls = 0
        self.cancelled: set[JobId] = set()
        self.forced: dict[JobId, JobStatus] = {}
        self.outputs: dict[JobId, object] = {}
        self.fail_submits: int = 0  # fail this many submit calls, then accept
        self.fail_submit_error = RuntimeError("hardware refused the job")
        self.fail_cancels: int = 0
        self.status_error: Optional[Exception] = None
        self.output_error: Optional[Exception] = None
        self.before_statuses: Optional[Callable[[], None]] = None
        self.threads: set[str] = set()
        self._in_call = threading.Lock()
        self.concurrent_calls = 0

    def _enter(self):
        self.threads.add(threading.current_thread().name)
        if not self._in_call.acquire(blocking=False):
            self.concurrent_calls += 1
            self._in_call.acquire()

    def _exit(self):
        self._in_call.release()

    def submit_job(self, job: Job) -> None:
        self._enter()
        try:
            self.submit_calls.append(job.id)
            if self.fail_submits > 0:
                self.fail_submits -= 1
                raise self.fail_submit_error
            self.jobs[job.id] = job
            self.polls.setdefault(job.id, 0)
        finally:
            self._exit()

    def _status(self, job_id: JobId) -> JobStatus:
        if job_id in self.forced:
            return self.forced[job_id]
        if job_id in self.cancelled:
            return JobStatus.CANCELLED
        if job_id not in self.jobs:
            raise KeyError(f"unknown job {job_id}")
        self.polls[job_id] += 1
        if self.polls[job_id] > self.polls_to_complete:
            return JobStatus.COMPLETED
        return JobStatus.RUNNING

    def get_job_status(self, job_id: JobId) -> JobStatus:
        self._enter()
        try:
            self.status_calls += 1
            if self.status_error is not None:
                raise self.status_error
            return self._status(job_id)
        finally:
            self._exit()

    def get_job_statuses(self, job_ids):
        if self.before_statuses is not None:
            self.before_statuses()
        self.batch_calls += 1
        return super().get_job_statuses(job_ids)

    def get_job_output(self, job_id: JobId):
        self._enter()
        try:
            if self.output_error is not None:
                raise self.output_error
            if job_id in self.outputs:
                return self.outputs[job_id]
            return float(sum(self.jobs[job_id].data))
        finally:
            self._exit()

    def cancel_job(self, job_id: JobId) -> None:
        self._enter()
        try:
            self.cancel_calls.append(job_id)
            if self.fail_cancels > 0:
                self.fail_cancels -= 1
                raise RuntimeError("cancel refused")
            self.cancelled.add(job_id)
        finally:
            self._exit()

    def find_jobs(self, job_ids):
        return {j for j in job_ids if j in self.jobs}
