"""What the JobManager does for a job in each status (exauq's strategy classes).

Each strategy's ``handle(job, job_manager)`` acts for one job whose status has just
been learnt, using only the manager's public surface, as exauq documents it:
``job_manager.get_interface(name)``, ``job_manager.simulations_log`` (its
``insert_result``, ``update_job_status`` and ``get_job_status``) and
``job_manager.remove_job(job)``; with simjobs' manager also ``tracking(job)`` (the
retry counters of a monitored job), ``in_cycle()`` and ``job_strategies``, and the
log's ``set_job_reason``. Any object with those methods will do (a test double, or
your own manager), so you can write a strategy of your own and give it to
``JobManager(..., job_strategies={status: strategy})``.

Two ways to be called:

- Inside the manager's cycle (``job_manager.in_cycle()`` is True), what a strategy
  writes to the log is gathered by :meth:`SimulationsLog.batch` and written once per
  cycle, and no strategy ever sleeps: a retry is scheduled for its due time and the
  worker moves on to other jobs.
- Called directly (your own code, a test), a strategy is a blocking call, as in exauq:
  :class:`PendingSubmitJobStrategy` makes up to ``max_attempts`` attempts, sleeping
  between them, and each write goes to the log at once.
"""

from __future__ import annotations

import math
import random
import time
from abc import ABC, abstractmethod
from numbers import Real
from typing import TYPE_CHECKING, Any, Optional

from .errors import HardwareUnreachableError, InvalidJobStatusError
from .errors import one_line as _one_line  # (not re-exported from here)
from .hardware import CancelInProgress
from .types import TERMINAL_STATUSES, Job, JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from .manager import JobManager, TrackedJob

_KEEP = object()  # "leave this field as it is" for _write


def backoff_delay(attempt: int, initial_delay: float, max_delay: float) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, plus up to
    10% jitter so that many jobs failing together do not retry together."""
    delay = min(initial_delay * (2 ** (attempt - 1)), max_delay)
    return delay + random.uniform(0, 0.1 * delay)


def in_cycle(job_manager: Any) -> bool:
    """True when a strategy runs inside ``job_manager``'s own cycle (its worker), where
    retries are scheduled rather than slept. False for a direct call, and for any
    manager that is not simjobs' own (a test double answers with a mock, not True)."""
    check = getattr(job_manager, "in_cycle", None)
    try:
        return check is not None and check() is True
    except Exception:  # noqa: BLE001 - a stand-in manager without a real answer
        return False


def tracking(job_manager: Any, job: Job) -> Optional["TrackedJob"]:
    """What ``job_manager`` tracks for ``job`` (retry counters, whether the hardware
    has it), or None when it does not monitor the job or is not simjobs' manager."""
    from .manager import TrackedJob

    get = getattr(job_manager, "tracking", None)
    try:
        state = get(job) if get is not None else None
    except Exception:  # noqa: BLE001
        return None
    return state if isinstance(state, TrackedJob) else None


def _write(job_manager: Any, job: Job, status: Optional[JobStatus] = None, *,
           output: Any = _KEEP, reason: Any = _KEEP) -> None:
    """Write through the log's public methods: reason, output, then status (inside a
    batch the three become one change, hence one event carrying all three)."""
    log = job_manager.simulations_log
    key = str(job.id)
    if reason is not _KEEP:
        note = getattr(log, "set_job_reason", None)  # simjobs' log; exauq's has none
        if note is not None:
            note(key, reason)
    if output is not _KEEP:
        log.insert_result(key, output)
    if status is not None:
        log.update_job_status(key, status)


def _end(job_manager: Any, job: Job, status: JobStatus, **fields: Any) -> None:
    """Record a terminal status and stop monitoring the job."""
    _write(job_manager, job, status, **fields)
    job_manager.remove_job(job)


class JobStrategy(ABC):
    """The action the JobManager takes for a job in one status.

    Subclass it and pass an instance as ``JobManager(...,
    job_strategies={JobStatus.X: strategy})`` to replace what the manager does for
    status X. Use only the manager's public methods (see the module's notes); inside
    the manager's cycle never sleep: the worker serves every job of an interface.
    """

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
    """The hardware says the job completed: record its output and COMPLETED, then stop
    monitoring it.

    Inside the manager's cycle, an output that is missing makes the job FAILED with
    that reason (exauq recorded such a job as Completed with no output), and a failure
    to fetch the output is retried on the following polls, ``max_output_attempts`` in
    all, then FAILED. Called directly it behaves as exauq's: a missing output is
    recorded as None with COMPLETED, and an error fetching it is raised. Either way an
    output that is not a finite number makes the job FAILED with that reason.
    """

    max_output_attempts = 5

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        interface = job_manager.get_interface(job.interface_name)
        cycle = in_cycle(job_manager)
        try:
            output = interface.get_job_output(job.id)
        except Exception as exc:  # noqa: BLE001 - per job, never stops monitoring
            state = tracking(job_manager, job)
            if not cycle or state is None:
                raise
            state.output_attempts += 1
            if state.output_attempts >= CompletedJobStrategy.max_output_attempts:
                _end(job_manager, job, JobStatus.FAILED,
                     reason=f"completed, but its output could not be fetched: {_one_line(exc)}")
            return
        if output is None and not cycle:
            _end(job_manager, job, JobStatus.COMPLETED, output=None)
            return
        if output is None:
            reason = "completed without an output"
        elif not isinstance(output, Real) or isinstance(output, bool):
            reason = f"completed with an output that is not a number: {output!r}"
        elif not math.isfinite(output):
            reason = f"completed with a non-finite output: {output!r}"
        else:
            _end(job_manager, job, JobStatus.COMPLETED, output=float(output))
            return
        _end(job_manager, job, JobStatus.FAILED, reason=reason)


class FailedJobStrategy(JobStrategy):
    """The job failed on the hardware: record FAILED (with the reason the interface
    gives, when it has ``failure_reason``) and stop monitoring it."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        interface = job_manager.get_interface(job.interface_name)
        reason: Any = None
        explain = getattr(interface, "failure_reason", None)
        if explain is not None:
            try:
                reason = explain(job.id)
            except Exception as exc:  # noqa: BLE001
                reason = f"failed (its reason could not be read: {_one_line(exc)})"
        if not isinstance(reason, str) or not reason:
            reason = "failed on the hardware"
        _end(job_manager, job, JobStatus.FAILED, reason=reason)


class FailedSubmitJobStrategy(JobStrategy):
    """The job could not be submitted: record FAILED_SUBMIT and stop monitoring it."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        _end(job_manager, job, JobStatus.FAILED_SUBMIT)


class CancelledJobStrategy(JobStrategy):
    """The hardware reports the job cancelled: record CANCELLED and stop monitoring
    (exauq polled such a job forever)."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        _end(job_manager, job, JobStatus.CANCELLED, reason="cancelled on the hardware")


class SubmittedJobStrategy(JobStrategy):
    """The job waits on the hardware: nothing to do (the log says SUBMITTED since the
    submit went through).

    In simjobs' own manager, a job the log says RUNNING that the hardware holds queued
    again (Slurm requeued it, or slurmctld came back with an older state) is shown
    queued again, with a reason, until the hardware starts it. Called directly it does
    nothing, as exauq's does."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        if not in_cycle(job_manager):
            return None
        if job_manager.simulations_log.get_job_status(str(job.id)) == JobStatus.RUNNING:
            _write(job_manager, job, JobStatus.SUBMITTED,
                   reason="queued again by the hardware after it had started (requeued)")
        return None


class RunningJobStrategy(JobStrategy):
    """The job runs: record RUNNING if the log says SUBMITTED (a job pending cancel or
    whose cancel failed keeps that status until it really ends)."""

    @staticmethod
    def handle(job: Job, job_manager: "JobManager") -> None:
        log = job_manager.simulations_log
        if log.get_job_status(str(job.id)) == JobStatus.SUBMITTED:
            log.update_job_status(str(job.id), JobStatus.RUNNING)


class PendingSubmitJobStrategy(JobStrategy):
    """Submit the job to its interface; after ``max_attempts`` failed attempts (5),
    record FAILED_SUBMIT and stop monitoring it.

    The delay before retry ``n`` is ``min(initial_delay * 2**(n-1), max_delay)`` plus
    up to 10% jitter, whichever way the strategy is called:

    - called directly, ``handle`` is a blocking call: it sleeps that delay between
      attempts, as exauq's does;
    - inside the manager's cycle one attempt is made and the next is scheduled for its
      due time; the worker never sleeps and serves other jobs meanwhile. There, a
      HardwareUnreachableError (the interface, not the job, is at fault) waits for the
      hardware without using up attempts.
    """

    initial_delay: float = 2.0
    max_delay: float = 32.0
    max_attempts: int = 5

    @classmethod
    def handle(cls, job: Job, job_manager: "JobManager") -> None:
        interface = job_manager.get_interface(job.interface_name)
        if in_cycle(job_manager):
            try:
                interface.submit_job(job)
            except Exception as exc:  # noqa: BLE001
                cls.record_outcome(job, job_manager, exc)
            else:
                cls.record_outcome(job, job_manager, None)
            return
        for attempt in range(1, cls.max_attempts + 1):
            try:
                interface.submit_job(job)
            except Exception as exc:  # noqa: BLE001
                if attempt == cls.max_attempts:
                    _end(job_manager, job, JobStatus.FAILED_SUBMIT,
                         reason=f"submit failed {attempt} times; last error: {_one_line(exc)}")
                    return
                time.sleep(backoff_delay(attempt, cls.initial_delay, cls.max_delay))
            else:
                state = tracking(job_manager, job)
                if state is not None:
                    state.on_hardware = True
                _write(job_manager, job, JobStatus.SUBMITTED, reason=None)
                return

    @classmethod
    def record_outcome(
        cls, job: Job, job_manager: "JobManager", error: Optional[BaseException]
    ) -> None:
        """Record the result of one submit attempt made in the manager's cycle (``error``
        None: it went through) and schedule the next attempt if one is due."""
        from .manager import TrackedJob

        state = tracking(job_manager, job) or TrackedJob(job, JobStatus.PENDING_SUBMIT, False)
        if error is None:
            state.on_hardware = True
            state.unreachable_tries = 0
            _write(job_manager, job, JobStatus.SUBMITTED, reason=None)
            return
        if isinstance(error, HardwareUnreachableError):
            # Not the job's fault: wait for the hardware without using up attempts.
            state.unreachable_tries += 1
            state.due = time.monotonic() + backoff_delay(
                state.unreachable_tries, cls.initial_delay, cls.max_delay
            )
            _write(job_manager, job,
                   reason=f"hardware unreachable ({_one_line(error)}); waiting to submit")
            return
        state.attempts += 1
        if state.attempts >= cls.max_attempts:
            _end(job_manager, job, JobStatus.FAILED_SUBMIT,
                 reason=f"submit failed {state.attempts} times; last error: {_one_line(error)}")
        else:
            state.due = time.monotonic() + backoff_delay(
                state.attempts, cls.initial_delay, cls.max_delay
            )
            _write(job_manager, job,
                   reason=f"submit attempt {state.attempts} failed ({_one_line(error)}); retrying")


class PendingCancelJobStrategy(JobStrategy):
    """Cancel the job; after ``max_attempts`` failed attempts (5), FAILED_CANCEL.

    The hardware is asked for the job's status first. A job that had already ended
    keeps its real terminal status: the log gets it, the job is no longer monitored,
    and InvalidJobStatusError is raised with ``status`` set to it (inside the manager's
    cycle the manager's strategy for that status records it, so a completed job keeps
    its output; called directly the output is recorded when the interface gives a
    finite one). A job that never reached the hardware is cancelled at once. A job
    left in FAILED_CANCEL is still monitored, so its real end is recorded when it
    comes.

    Retries follow :class:`PendingSubmitJobStrategy`'s delays with this class's
    ``initial_delay`` and ``max_delay``: slept when called directly, scheduled inside
    the manager's cycle.

    Raises
    ------
    InvalidJobStatusError
        If the hardware reports that the job had already ended (``status`` holds it).
    """

    initial_delay: float = 2.0
    max_delay: float = 32.0
    max_attempts: int = 5

    @classmethod
    def handle(cls, job: Job, job_manager: "JobManager") -> None:
        state = tracking(job_manager, job)
        if state is not None and not state.on_hardware:
            _end(job_manager, job, JobStatus.CANCELLED, reason="cancelled before it was submitted")
            return
        interface = job_manager.get_interface(job.interface_name)
        cycle = in_cycle(job_manager)
        attempts = 1 if cycle else cls.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                status = interface.get_job_status(job.id)
                if status in TERMINAL_STATUSES:
                    cls.settle_ended(job, job_manager, status)
                interface.cancel_job(job.id)
            except InvalidJobStatusError:
                raise
            except Exception as exc:  # noqa: BLE001
                if cycle:
                    cls.record_outcome(job, job_manager, exc)
                    return
                if attempt == attempts:
                    _write(job_manager, job, JobStatus.FAILED_CANCEL,
                           reason=f"cancel failed {attempt} times; last error: {_one_line(exc)}")
                    return
                time.sleep(backoff_delay(attempt, cls.initial_delay, cls.max_delay))
            else:
                cls.record_outcome(job, job_manager, None)
                return

    @classmethod
    def settle_ended(cls, job: Job, job_manager: "JobManager", status: JobStatus) -> None:
        """The hardware says ``job`` ended with ``status`` before the cancel reached it:
        record that status, stop monitoring the job and raise InvalidJobStatusError."""
        strategy = None
        if in_cycle(job_manager):
            strategy = job_manager.job_strategies.get(status)
        if strategy is not None:
            strategy.handle(job, job_manager)
        else:
            output: Any = _KEEP
            if status is JobStatus.COMPLETED:
                try:
                    value = job_manager.get_interface(job.interface_name).get_job_output(job.id)
                except Exception:  # noqa: BLE001 - the status is what counts here
                    value = None
                if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value):
                    output = float(value)
            _end(job_manager, job, status, output=output)
        raise InvalidJobStatusError(
            f"Cannot cancel 'job' with terminal status {status}.", status=status
        )

    @classmethod
    def record_outcome(
        cls, job: Job, job_manager: "JobManager", error: Optional[BaseException]
    ) -> None:
        """Record the result of one cancel attempt made in the manager's cycle
        (``error`` None: it went through).

        An error with a terminal ``status`` attribute (an interface's "the job had
        already ended" error) means the job keeps that real ending (see
        :meth:`settle_ended`, which raises InvalidJobStatusError)."""
        from .manager import TrackedJob

        state = tracking(job_manager, job) or TrackedJob(job, JobStatus.PENDING_CANCEL, True)
        ended = getattr(error, "status", None)
        if isinstance(ended, JobStatus) and ended in TERMINAL_STATUSES:
            cls.settle_ended(job, job_manager, ended)
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
                _write(job_manager, job, JobStatus.FAILED_CANCEL,
                       reason=f"cancel failed {state.cancel_attempts} times; "
                              f"last error: {_one_line(error)}")
            else:
                state.cancel_due = time.monotonic() + backoff_delay(
                    state.cancel_attempts, cls.initial_delay, cls.max_delay
                )
            return
        state.unreachable_tries = 0
        _end(job_manager, job, JobStatus.CANCELLED, reason="cancelled by the user")
