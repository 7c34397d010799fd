"""What the JobManager does for a job in each status (exauq's strategy classes).

Each strategy's ``handle(job, job_manager)`` acts for one job whose status has just
been learnt. Inside the manager's interface workers the log changes they make are
gathered and written once per cycle; called directly they are written at once.
No strategy ever sleeps: a retry is scheduled for its due time and the worker moves
on to other jobs.
"""

from __future__ import annotations

import math
import random
import time
from abc import ABC, abstractmethod
from numbers import Real
from typing import TYPE_CHECKING, Optional

from .errors import HardwareUnreachableError
from .hardware import CancelInProgress
from .types import TERMINAL_STATUSES, Job, JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from .manager import JobManager


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def backoff_delay(attempt: int, initial_delay: float, max_delay: float) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, plus up to
    10% jitter so that many jobs failing together do not retry together."""
    delay = min(initial_delay * (2 ** (attempt - 1)), max_delay)
    return delay + random.uniform(0, 0.1 * delay)


class JobStrategy(ABC):
    """The action the JobManager takes for a job in one status."""

    @staticmethod
    @abstractmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        """Act on ``job`` on behalf of ``job_manager``.

        Parameters
        ----------
        job : Job
            The job whose status called for this strategy.
        job_manager : JobManager
            The manager that owns the job.
        """


class CompletedJobStrategy(JobStrategy):
    """The hardware says the job completed: fetch its output and record it.

    An output that is missing, not a number or not finite makes the job FAILED with
    that reason (exauq recorded such a job as Completed with no output). A failure to
    fetch the output is retried on the following polls, 5 times in all, then FAILED.
    """

    max_output_attempts = 5

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        interface = job_manager.get_interface(job.interface_name)
        try:
            output = job_manager._call(interface, "get_job_output", job.id)
        except Exception as exc:  # noqa: BLE001 - per job, never stops monitoring
            state = job_manager._state(job)
            state.output_attempts += 1
            if state.output_attempts >= CompletedJobStrategy.max_output_attempts:
                job_manager._record(
                    job, JobStatus.FAILED,
                    reason=f"completed, but its output could not be fetched: {_one_line(exc)}",
                )
            return
        if output is None:
            reason = "completed without an output"
        elif not isinstance(output, Real) or isinstance(output, bool):
            reason = f"completed with an output that is not a number: {output!r}"
        elif not math.isfinite(output):
            reason = f"completed with a non-finite output: {output!r}"
        else:
            job_manager._record(job, JobStatus.COMPLETED, output=float(output))
            return
        job_manager._record(job, JobStatus.FAILED, reason=reason)


class FailedJobStrategy(JobStrategy):
    """The job failed on the hardware: record FAILED, with the reason it gives."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        interface = job_manager.get_interface(job.interface_name)
        try:
            reason = job_manager._call(interface, "failure_reason", job.id)
        except Exception as exc:  # noqa: BLE001
            reason = f"failed (its reason could not be read: {_one_line(exc)})"
        job_manager._record(job, JobStatus.FAILED, reason=reason or "failed on the hardware")


class FailedSubmitJobStrategy(JobStrategy):
    """The job could not be submitted: record FAILED_SUBMIT and stop monitoring it."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        job_manager._record(job, JobStatus.FAILED_SUBMIT)


class CancelledJobStrategy(JobStrategy):
    """The hardware reports the job cancelled: record CANCELLED and stop monitoring
    (exauq polled such a job forever)."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        job_manager._record(job, JobStatus.CANCELLED, reason="cancelled on the hardware")


class SubmittedJobStrategy(JobStrategy):
    """The job waits on the hardware: make sure the log says SUBMITTED."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        if job_manager._state(job).status is JobStatus.PENDING_SUBMIT:
            job_manager._record(job, JobStatus.SUBMITTED)


class RunningJobStrategy(JobStrategy):
    """The job runs: record RUNNING unless the log says so already."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        if job_manager._state(job).status is not JobStatus.RUNNING:
            job_manager._record(job, JobStatus.RUNNING)


class PendingSubmitJobStrategy(JobStrategy):
    """Submit the job to its interface; on failure retry later, 5 attempts in all,
    then FAILED_SUBMIT.

    The delay before retry ``n`` is ``min(initial_delay * 2**(n-1), max_delay)`` plus
    up to 10% jitter. The worker never sleeps for it: it serves other jobs meanwhile.
    """

    initial_delay: float = 2.0
    max_delay: float = 32.0
    max_attempts: int = 5

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        interface = job_manager.get_interface(job.interface_name)
        try:
            job_manager._call(interface, "submit_job", job)
        except Exception as exc:  # noqa: BLE001
            PendingSubmitJobStrategy.record_outcome(job, job_manager, exc)
        else:
            PendingSubmitJobStrategy.record_outcome(job, job_manager, None)

    @classmethod
    def record_outcome(
        cls, job: Job, job_manager: "JobManager", error: Optional[BaseException]
    ) -> None:
        """Record the result of one submit attempt (``error`` None: it went through)."""
        state = job_manager._state(job)
        if error is None:
            state.on_hardware = True
            state.unreachable_tries = 0
            job_manager._record(job, JobStatus.SUBMITTED, reason=None)
            return
        if isinstance(error, HardwareUnreachableError):
            # Not the job's fault: wait for the hardware without using up attempts.
            state.unreachable_tries += 1
            state.due = time.monotonic() + backoff_delay(
                state.unreachable_tries, cls.initial_delay, cls.max_delay
            )
            job_manager._record(
                job, None, reason=f"hardware unreachable ({_one_line(error)}); waiting to submit",
            )
            return
        state.attempts += 1
        if state.attempts >= cls.max_attempts:
            job_manager._record(
                job, JobStatus.FAILED_SUBMIT,
                reason=f"submit failed {state.attempts} times; last error: {_one_line(error)}",
            )
        else:
            state.due = time.monotonic() + backoff_delay(
                state.attempts, cls.initial_delay, cls.max_delay
            )
            job_manager._record(
                job, None,
                reason=f"submit attempt {state.attempts} failed ({_one_line(error)}); retrying",
            )


class PendingCancelJobStrategy(JobStrategy):
    """Cancel the job; on failure retry later, 5 attempts in all, then FAILED_CANCEL.

    The hardware is asked for the job's status first: a job that ended before the
    cancel reached it keeps its real terminal status (with its output, if it
    completed). A job that never reached the hardware is cancelled at once. A job left
    in FAILED_CANCEL is still monitored, so its real end is recorded when it comes.
    """

    initial_delay: float = 2.0
    max_delay: float = 32.0
    max_attempts: int = 5

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        cls = PendingCancelJobStrategy
        state = job_manager._state(job)
        if not state.on_hardware:
            job_manager._record(job, JobStatus.CANCELLED, reason="cancelled before it was submitted")
            return
        interface = job_manager.get_interface(job.interface_name)
        try:
            status = job_manager._call(interface, "get_job_status", job.id)
            if status in TERMINAL_STATUSES:
                job_manager._handle_job(job, status)
                return
            job_manager._call(interface, "cancel_job", job.id)
        except Exception as exc:  # noqa: BLE001
            cls.record_outcome(job, job_manager, exc)
            return
        cls.record_outcome(job, job_manager, None)

    @classmethod
    def record_outcome(
        cls, job: Job, job_manager: "JobManager", error: Optional[BaseException]
    ) -> None:
        """Record the result of one cancel attempt (``error`` None: it went through).

        An error with a terminal ``status`` attribute (an interface's "the job had
        already ended" error) means the job keeps that real ending."""
        state = job_manager._state(job)
        ended = getattr(error, "status", None)
        if isinstance(ended, JobStatus) and ended in TERMINAL_STATUSES:
            job_manager._handle_job(job, ended)
            return
        if isinstance(error, CancelInProgress):
            # Accepted, its processes still stopping: Cancelled once they are gone.
            state.cancel_due = time.monotonic() + max(0.05, float(error.retry_after))
            return
        if isinstance(error, HardwareUnreachableError):
            # Not the cancel's fault: try again later without using up attempts.
            state.unreachable_tries += 1
            state.cancel_due = time.monotonic() + backoff_delay(
                state.unreachable_tries, cls.initial_delay, cls.max_delay
            )
            return
        if error is not None:
            state.cancel_attempts += 1
            if state.cancel_attempts >= cls.max_attempts:
                state.cancel_requested = False
                job_manager._record(
                    job, JobStatus.FAILED_CANCEL,
                    reason=f"cancel failed {state.cancel_attempts} times; "
                           f"last error: {_one_line(error)}",
                )
            else:
                state.cancel_due = time.monotonic() + backoff_delay(
                    state.cancel_attempts, cls.initial_delay, cls.max_delay
                )
            return
        state.unreachable_tries = 0
        job_manager._record(job, JobStatus.CANCELLED, reason="cancelled by the user")
