"""JobManager: submits jobs to hardware interfaces, watches them, records everything.

How it runs (and why it does not stall like exauq's):

- Each interface has its own worker thread, the only thread that calls that interface,
  so one slow or hanging interface never delays another and no interface is ever
  called from two threads at once.
- A worker's cycle: submits that are due (in one ``submit_jobs`` batch), cancels that
  are due, then, once per polling interval, ONE ``get_job_statuses`` call for all its
  jobs on the hardware. Retries wait for their due time; nothing sleeps in a cycle.
- The log changes of a cycle are written in one transaction, then published as
  events. A user's cancel is written to the log before any hardware is asked, and a
  status learnt in the same moment never overwrites it.
- Every hardware call and every strategy runs under its own ``try``: an exception
  is handled for its job (retry, FAILED with the reason, or the real status) and the
  loop goes on.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from collections.abc import Mapping
from itertools import islice
from typing import Any, Callable, Optional, Union

from . import strategies as _s
from .login import InteractiveLoginError
from .errors import (
    HardwareUnreachableError,
    InvalidJobStatusError,
    LogLockedError,
    SimjobsError,
    SimulationsLogLookupError,
    UnknownJobIdError,
    one_line,
)
from .control import open_inbox
from .events import Event, EventBus, InterfaceHealthEvent, JobEvent
from .hardware import (
    HEALTH_DEGRADED,
    HEALTH_OK,
    HEALTH_UNREACHABLE,
    HardwareInterface,
    InterfaceHealth,
)
from .ids import JobIDGenerator
from .interface_stats import InterfaceStatsWriter
from .log import SimulationsLog
from .records import UNSET, LogChange
from .types import (
    RESUBMITTABLE_STATUSES,
    TERMINAL_STATUSES,
    Input,
    Job,
    JobId,
    JobStatus,
    MultiLevel,
)

logger = logging.getLogger("simjobs")


class _Problems:
    """Each distinct error of the manager's loops logged once, and once more when it
    clears: a full disk must not print the same error every cycle for hours.

    A *site* is one place that can fail again and again (the log writes, one
    interface's cycle); its error counts as the same while its text is the same.
    """

    def __init__(self):
        self._shown: dict[str, str] = {}  # site -> the text of its current error
        self._mutex = threading.Lock()

    @staticmethod
    def text(exc: BaseException) -> str:
        text = " ".join(str(exc).split())
        if isinstance(exc, SimjobsError):  # already one line for a person
            return text
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    def failed(self, site: str, what: str, exc: BaseException, then: str = "") -> None:
        """Log ``simjobs: <what>: <error><then>`` unless ``site`` already has this error."""
        text = self.text(exc)
        with self._mutex:
            if self._shown.get(site) == text:
                return
            self._shown[site] = text
        logger.error("simjobs: %s: %s%s", what, text, then, exc_info=exc)

    def cleared(self, site: str, what: str) -> None:
        """Say once that ``site`` works again, if an error of it was logged."""
        if site not in self._shown:  # the common case, without taking the lock
            return
        with self._mutex:
            text = self._shown.pop(site, None)
        if text is not None:
            logger.warning("simjobs: %s works again (it failed with: %s)", what, text)

JobIdLike = Union[str, int, JobId]
#: The outcome of a job an interface's batch call did not answer for.
_NO_ANSWER = RuntimeError("the interface's cancel_jobs gave no outcome for this job")

#: Polls in a row without an answer for a job before the hardware is asked whether it
#: still has that job at all.
UNANSWERED_LIMIT = 5
#: Jobs a worker hands its interface in one cycle; more due go in the next cycles, at
#: once. A 100,000-job campaign handed over whole made 100,000 outcomes, log changes,
#: journal rows and events at the same moment (tens of MB that the process keeps as
#: its peak), and one log write and one event batch the app took seconds to absorb.
MAX_SUBMITS_PER_CYCLE = 5000


@dataclasses.dataclass(eq=False, slots=True)  # (slots: one per job of a 100,000-job campaign)
class TrackedJob:
    """What a JobManager knows about one job it monitors (see
    :meth:`JobManager.tracking`): its last known status and the counters strategies
    use to schedule retries inside the manager's cycle.

    Attributes
    ----------
    job : Job
    status : JobStatus
        The last status written for it.
    on_hardware : bool
        The interface has (or may have) received the job.
    attempts, due : int, float
        Failed submit attempts so far; ``time.monotonic()`` before which the next
        one is not made.
    cancel_requested, cancel_attempts, cancel_due : bool, int, float
        The same for a cancel the user asked for.
    output_attempts : int
        Failed attempts to fetch a completed job's output.
    unreachable_tries : int
        Calls in a row that met HardwareUnreachableError (they use up no attempts).
    """

    job: Job
    status: JobStatus
    on_hardware: bool  # the interface has (or may have) received the job
    needs_reconcile: bool = False  # resumed as pending submit: ask the hardware first
    attempts: int = 0
    due: float = 0.0
    cancel_requested: bool = False
    cancel_attempts: int = 0
    cancel_due: float = 0.0
    output_attempts: int = 0
    unanswered: int = 0  # polls in a row that gave no status for this job
    unreachable_tries: int = 0  # submits that met HardwareUnreachableError in a row


@dataclasses.dataclass
class CancelResult:
    """What :meth:`JobManager.cancel_many` did: jobs now pending cancel, and the ids
    skipped because the job had already ended (with that status)."""

    cancelled: list[Job]
    skipped: dict[JobId, JobStatus]


class _Worker(threading.Thread):
    """Drives one interface: the only thread that ever calls it."""

    def __init__(self, manager: "JobManager", interface: HardwareInterface):
        super().__init__(name=f"simjobs-{interface.name}", daemon=True)
        self.manager = manager
        self.interface = interface
        self.jobs: dict[JobId, TrackedJob] = {}
        self.wake = threading.Event()
        self.next_poll = 0.0
        self.busy_call: Optional[str] = None
        self.busy_since = 0.0
        self.last_error: Optional[str] = None
        self.unreachable = False  # last_error came from HardwareUnreachableError
        self.last_poll_seconds: Optional[float] = None
        self.last_poll_time: Optional[float] = None
        self.health = InterfaceHealth()
        self.pending: list[LogChange] = []  # changes of the cycle under way
        self.next_late = 0.0  # when to ask the interface for late results next
        self.removals: list[Job] = []  # remove_job() calls of the cycle's strategies
        self.gathering = False  # strategies are running: their writes are batched

    @contextlib.contextmanager
    def gather(self):
        """Run strategies with their log writes gathered (one transaction per phase,
        written by flush) and their remove_job calls kept until those writes are done."""
        manager = self.manager
        self.gathering = True
        batch = None
        try:
            if manager._native_log:
                with manager._simulations_log.batch(commit=False) as batch:
                    yield
            else:  # another kind of log: strategies write to it directly
                yield
        finally:
            self.gathering = False
            if batch is not None:
                self.pending.extend(batch.changes)

    def run(self) -> None:
        manager = self.manager
        while not manager._stop.is_set():
            what = f"the cycle of interface {self.interface.name}"
            try:
                self.cycle()
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any bug
                manager.problems.failed(f"cycle {self.interface.name}", what, exc)
            else:
                manager.problems.cleared(f"cycle {self.interface.name}", what)
            timeout = self.next_wait()
            self.wake.wait(timeout)
            self.wake.clear()

    def next_wait(self) -> Optional[float]:
        with self.manager._lock:
            states = list(self.jobs.values())
        if not states and not self.pending and not self.watching_late():
            return None  # nothing to do until a job arrives (wake)
        now = time.monotonic()
        due = [self.next_poll] if any(s.on_hardware for s in states) else []
        if self.watching_late():
            due.append(self.next_late)
        due += [s.due for s in states if s.status is JobStatus.PENDING_SUBMIT and not s.on_hardware]
        due += [s.cancel_due for s in states if s.cancel_requested]
        if self.pending:
            due.append(now + 1.0)  # retry a log write that failed
        return max(0.0, min(due) - now) if due else None

    def cycle(self) -> None:
        """One round: reconcile resumed jobs, then the due cancels, the due submits, a
        poll and the late results, each phase's changes written before the next acts."""
        now = time.monotonic()
        with self.manager._lock:
            states = list(self.jobs.values())
        reconcile = [s for s in states if s.needs_reconcile]
        if reconcile:
            self.reconcile(reconcile)
            self.flush()  # the poll below reads the log: it must say SUBMITTED first
        cancels = [s for s in states if s.cancel_requested and s.cancel_due <= now]
        if cancels:
            self.cancel_phase(cancels)
            self.flush()  # each phase's changes reach the log before the next one acts
        # Chosen after the cancels: a job just cancelled is not submitted. The oldest
        # first, at most MAX_SUBMITS_PER_CYCLE (next_wait says the rest are due now).
        submits = list(islice((s for s in states if _submit_due(s, now)),
                              MAX_SUBMITS_PER_CYCLE))
        if submits:
            self.submit_phase(submits)
            self.flush()
        if now >= self.next_poll:
            with self.gather():
                self.poll()
        self.flush()
        if now >= self.next_late and self.watching_late():
            self.late_results()

    def cancel_phase(self, cancels: list[TrackedJob]) -> None:
        """Hand the jobs due a cancel to the pending-cancel strategy (the default one in
        one ``cancel_jobs`` call where the interface has it)."""
        manager = self.manager
        # The log is durable before this worker asks its hardware to act.
        manager._sync_log()
        cancels = [s for s in cancels if s.job.id in self.jobs]
        strategy = manager._job_strategies[JobStatus.PENDING_CANCEL]
        with self.gather():
            if not _is_default(strategy, _s.PendingCancelJobStrategy):
                self.run_custom(cancels, strategy)
            elif getattr(self.interface, "cancel_jobs", None) is not None:
                self.cancel_batch(cancels)
            else:
                for s in cancels:
                    self.guard(s.job, strategy.handle, s.job, manager)

    def submit_phase(self, submits: list[TrackedJob]) -> None:
        """Hand the jobs due a submit to the pending-submit strategy (the default one in
        one ``submit_jobs`` call)."""
        manager = self.manager
        manager._sync_log()  # durable before the hardware acts
        strategy = manager._job_strategies[JobStatus.PENDING_SUBMIT]
        with self.gather():
            if _is_default(strategy, _s.PendingSubmitJobStrategy):
                self.submit(submits, strategy)
            else:
                self.run_custom(submits, strategy)

    def run_custom(self, states: list[TrackedJob], strategy: _s.JobStrategy) -> None:
        """A strategy the user gave for a pending status, job by job. One that leaves
        its job pending is asked again a polling interval later, not at once."""
        retry_at = time.monotonic() + max(self.manager._polling_interval, 1.0)
        for s in states:
            s.due = s.cancel_due = retry_at
            self.guard(s.job, strategy.handle, s.job, self.manager)

    def guard(self, job: Job, fn: Callable, *args) -> None:
        site = f"jobs of {self.interface.name}"
        # Strategies call the hardware themselves: name them if one hangs.
        self.busy_call = getattr(fn, "__qualname__", "a job strategy")
        self.busy_since = time.monotonic()
        try:
            fn(*args)
        except InvalidJobStatusError:
            pass  # a cancel that found its job ended: the strategy recorded the end
        except Exception as exc:  # noqa: BLE001 - one job's trouble is that job's alone
            self.manager.problems.failed(site, f"handling job {job.id}", exc)
        else:
            self.manager.problems.cleared(site, f"handling the jobs of {self.interface.name}")
        finally:
            self.busy_call = None

    def reconcile(self, states: list[TrackedJob]) -> None:
        """Ask the hardware which resumed pending jobs it already holds.

        When it cannot tell (None, or an error), a pending submit is submitted (as in
        exauq) and a pending cancel is sent to the hardware."""
        found = self.find(states)
        for s in states:
            s.needs_reconcile = False
            if found is None:
                continue
            s.on_hardware = s.job.id in found
            if s.on_hardware and s.status is JobStatus.PENDING_SUBMIT:
                self.manager._record(s.job, JobStatus.SUBMITTED)

    def find(self, states: list[TrackedJob]) -> Optional[set]:
        ids = [s.job.id for s in states]
        try:
            found = self.manager._call(self.interface, "find_jobs", ids)
        except Exception as exc:  # noqa: BLE001
            # A failed interactive login is told once, by its own listeners (the CLI's
            # one line, the app's screen) and the health: only the log file gets it here.
            level = logging.INFO if isinstance(exc, InteractiveLoginError) else logging.WARNING
            logger.log(level, "simjobs: %s could not say which jobs it holds: %s",
                       self.interface.name, exc)
            return None
        return None if found is None else set(found)

    def settle_unanswered(self, states: list[TrackedJob]) -> None:
        """Jobs the hardware has not answered for in UNANSWERED_LIMIT polls in a row
        are looked for; one the hardware has no record of ends FAILED."""
        suspects = [s for s in states if s.unanswered and s.unanswered % UNANSWERED_LIMIT == 0]
        if not suspects:
            return
        found = self.find(suspects)
        if found is None:
            return  # it cannot tell: keep the last known status and keep asking
        for s in suspects:
            if s.job.id not in found:
                self.manager._record(
                    s.job, JobStatus.FAILED,
                    reason=f"the hardware has no record of this job (no answer in "
                           f"{s.unanswered} polls); it was lost or cleaned up",
                )

    def submit(self, states: list[TrackedJob], strategy: _s.PendingSubmitJobStrategy) -> None:
        jobs = [s.job for s in states]
        try:
            outcomes = self.manager._call(self.interface, "submit_jobs", jobs)
        except Exception as exc:  # noqa: BLE001 - the whole batch failed
            outcomes = {job.id: exc for job in jobs}
        unreachable = [e for e in outcomes.values() if isinstance(e, HardwareUnreachableError)]
        if unreachable and len(unreachable) == len(jobs):
            self.last_error, self.unreachable = one_line(unreachable[0]), True
            self.manager._update_health(self)
        elif self.unreachable and len(unreachable) < len(jobs):
            self.last_error, self.unreachable = None, False  # it answered again
            self.manager._update_health(self)
        for job in jobs:
            self.guard(job, strategy.record_outcome, job, self.manager, outcomes.get(job.id))

    def cancel_batch(self, states: list[TrackedJob]) -> None:
        """Cancel many jobs in one ``cancel_jobs`` call of an interface that has it."""
        manager = self.manager
        strategy = manager._job_strategies[JobStatus.PENDING_CANCEL]
        on_hardware = []
        for s in states:
            if s.on_hardware:
                on_hardware.append(s.job)
            else:  # never submitted: cancelled at once, the hardware is not asked
                self.guard(s.job, strategy.handle, s.job, manager)
        if not on_hardware:
            return
        try:
            outcomes = manager._call(self.interface, "cancel_jobs", [j.id for j in on_hardware])
        except Exception as exc:  # noqa: BLE001 - the whole batch failed
            outcomes = {job.id: exc for job in on_hardware}
        for job in on_hardware:
            outcome = outcomes.get(job.id, _NO_ANSWER) if isinstance(outcomes, dict) else _NO_ANSWER
            self.guard(job, strategy.record_outcome, job, manager, outcome)

    def poll(self) -> None:
        manager = self.manager
        started = time.monotonic()
        with manager._lock:
            states = [s for s in self.jobs.values() if s.on_hardware and not s.cancel_requested]
        if not states:
            return  # the first job to arrive is polled at once, not an interval later
        self.next_poll = started + manager._polling_interval
        try:
            statuses = manager._call(self.interface, "get_job_statuses", [s.job.id for s in states])
        except Exception as exc:  # noqa: BLE001 - jobs keep their last known status
            self.last_error = one_line(exc)
            self.unreachable = isinstance(exc, HardwareUnreachableError)
            manager._update_health(self)
            if self.unreachable:
                return  # no answer about any job: nothing to count against them
            for s in states:
                s.unanswered += 1
            self.settle_unanswered(states)
            return
        for s in states:
            s.unanswered = 0 if s.job.id in statuses else s.unanswered + 1
        self.settle_unanswered(states)
        self.last_error = None
        self.unreachable = False
        self.last_poll_seconds = time.monotonic() - started
        self.last_poll_time = time.time()
        manager._update_health(self)
        for s in states:
            status = statuses.get(s.job.id)
            if status is not None:
                self.guard(s.job, manager._handle_job, s.job, status)

    def watching_late(self) -> bool:
        try:
            return bool(getattr(self.interface, "watching_late_results", False))
        except Exception:  # noqa: BLE001 - an interface's bug is not the loop's
            return False

    def late_results(self) -> None:
        """Record what the interface learnt late about jobs it reported FAILED (once
        per polling interval while it watches some)."""
        self.next_late = time.monotonic() + self.manager._polling_interval
        try:
            late = self.manager._call(self.interface, "late_results")
        except Exception as exc:  # noqa: BLE001 - asked again next interval
            logger.warning("simjobs: %s: late results: %s", self.interface.name, exc)
            return
        for job_id, status in (late or {}).items():
            try:
                self.manager._correct_failed(self.interface, JobId(job_id), status)
            except Exception:  # noqa: BLE001
                logger.exception("simjobs: correcting job %s failed", job_id)

    def flush(self, final: bool = False) -> None:
        if self.pending:
            changes, self.pending = self.pending, []
            try:
                self.manager._apply(changes)
            except Exception as exc:  # noqa: BLE001 - keep them and write them next cycle
                if final:  # nothing comes after: say what becomes of them
                    self.manager.problems.failed(
                        "log at shutdown", "writing the log at shutdown", exc,
                        f"; {len(changes)} status change(s) not recorded (the next start "
                        "asks the hardware again)")
                else:
                    self.manager.problems.failed("log", "writing the log", exc,
                                                 "; the changes are kept and written again")
                self.pending = changes + self.pending
                return
            self.manager.problems.cleared("log", "writing the log")
        # Only now that the log says how they ended do waiters learn they are done.
        removals, self.removals = self.removals, []
        active = self.manager._active
        for job in removals:
            if job.id in active:  # most ended, and _apply has removed them already
                self.manager.remove_job(job)


class JobManager:
    """Submits simulator inputs to hardware interfaces and tracks them to the end.

    Parameters
    ----------
    simulations_log : SimulationsLog
        Where every job is recorded (written before any hardware is asked to act).
    interfaces : list[HardwareInterface]
        The hardware; each serves one level and has a unique name.
    polling_interval : float, optional
        Seconds between two status polls of an interface, by default 10.
    wait_for_pending : bool, optional
        Block in the constructor until every job resumed from the log has ended, by
        default False.
    job_strategies : mapping of JobStatus to JobStrategy, optional
        (simjobs) Replace what the manager does for a job in these statuses; the
        others keep the default strategies (see :mod:`simjobs.core.strategies`). A
        replacement for PENDING_SUBMIT or PENDING_CANCEL is called job by job (the
        default ones submit and cancel in one batch per interface).

    Raises
    ------
    TypeError
        If an interface is not a HardwareInterface, or a strategy has no ``handle``.
    ValueError
        If an interface has no name, or two share a name.
    LogLockedError
        If another process manages the log, or another JobManager of this process
        is live on it: one log has one manager at a time. The message names that
        manager; call its :meth:`shutdown` first (:meth:`running_on` finds it).

    Notes
    -----
    At construction every job of the log that has not ended is resumed: a job the
    hardware already holds is not submitted again. Worker threads are daemons:
    forgetting :meth:`shutdown` never hangs the interpreter at exit.

    The log may be any object with SimulationsLog's public methods (exauq's own, a
    test double): the manager then writes through ``add_new_record``,
    ``insert_result`` and ``update_job_status`` one call at a time (slower, and
    without simjobs' extras: locking, batching, reasons, and events for what the
    strategies write).

    Examples
    --------
    >>> manager = JobManager(log, [interface], polling_interval=1)
    >>> job = manager.submit(Input(0.0, 1.0))
    >>> manager.wait_until_done()
    >>> manager.shutdown()
    """

    #: Seconds a hardware call may take before the interface is reported degraded.
    call_timeout: float = 60.0

    def __init__(
        self,
        simulations_log: SimulationsLog,
        interfaces: list[HardwareInterface],
        polling_interval: float = 10,
        wait_for_pending: bool = False,
        job_strategies: Optional[Mapping[JobStatus, _s.JobStrategy]] = None,
    ):
        self._validate_interfaces(interfaces)
        if not isinstance(polling_interval, (int, float)) or polling_interval < 0:
            raise ValueError(
                f"polling_interval must be a number of seconds >= 0, not {polling_interval!r}"
            )
        self._simulations_log = simulations_log
        # simjobs' own log (not a look-alike such as Mock(spec=SimulationsLog), which
        # passes isinstance): batched, locked, with reasons and extras.
        self._native_log = issubclass(type(simulations_log), SimulationsLog)
        self._polling_interval = float(polling_interval)
        self._interfaces = self._init_multi_level_interfaces(interfaces)
        self._name_index = {i.name: i for i in interfaces}
        self._lock = threading.RLock()
        self._done = threading.Condition(self._lock)
        self._stop = threading.Event()
        #: Errors of the manager's loops, each logged once until it clears.
        self.problems = _Problems()
        self._events = EventBus()
        self._id_generator = JobIDGenerator()
        self._job_strategies = self._init_job_strategies(job_strategies)
        self._started = time.time()
        self._active: dict[JobId, TrackedJob] = {}
        self._local = threading.local()
        self._workers = {i.name: _Worker(self, i) for i in interfaces}
        self._housekeeper: Optional[threading.Thread] = None
        self._idle_checkpointed = True
        # Capacity and health for the log's viewers (they have no interface objects).
        self._stats_file = InterfaceStatsWriter(simulations_log.path) \
            if self._native_log else None

        _claim_log(simulations_log, self)
        try:
            self._inbox = None
            if self._native_log:
                self._inbox = open_inbox(simulations_log.path)  # None: refused, with a warning
                # ids stay above the log's even if the clock went back
                last = simulations_log.max_job_id()
                if last is not None:
                    self._id_generator.advance_past(last)
            resumed = self._resume_jobs()
        except BaseException:
            if self.__dict__.get("_inbox") is not None:
                self._inbox.close()
            _release_log(simulations_log, self)
            raise
        _live_managers.add(self)
        self._start_threads()
        if self._native_log:
            # Other processes may hand requests over (if the inbox is ours: "requests").
            simulations_log.announce_manager(True, uid=os.geteuid(),
                                             requests=self._inbox is not None)
        self.monitor(resumed)
        if wait_for_pending:
            self.wait_until_done()

    # ---- exauq's API --------------------------------------------------------------

    @property
    def simulations_log(self) -> SimulationsLog:
        """(Read-only) The simulations log of this manager."""
        return self._simulations_log

    @property
    def interface_job_counts(self) -> dict[str, int]:
        """How many jobs each interface has under monitoring (by interface name)."""
        with self._lock:
            return {name: len(w.jobs) for name, w in self._workers.items()}

    def submit(self, x: Input, level: int = 1) -> Job:
        """Submit one simulator input as a job at ``level``.

        The job is recorded as PENDING_SUBMIT on the least-loaded interface of the
        level, then submitted by that interface's worker.

        Parameters
        ----------
        x : Input
            The simulator input.
        level : int, optional
            The level to run it at, by default 1.

        Returns
        -------
        Job
            The new job.

        Raises
        ------
        ValueError
            If no interface serves ``level``, or ``x`` has the wrong dimension.
        """
        return self.submit_many([x], level)[0]

    def cancel(self, job_id: JobIdLike) -> Job:
        """Cancel a job that has not ended (ids may be given as JobId, str or int).

        The log says PENDING_CANCEL at once; the job becomes CANCELLED when its
        hardware confirms (or keeps its real status if it ended first).

        Returns
        -------
        Job
            The job being cancelled.

        Raises
        ------
        UnknownJobIdError
            If no job has this id (``unknown_ids`` holds it).
        InvalidJobStatusError
            If the job has already ended (``status`` holds its status).
        """
        result = self.cancel_many([job_id])
        if result.skipped:
            status = next(iter(result.skipped.values()))
            raise InvalidJobStatusError(
                f"Cannot cancel 'job' with terminal status {status}.", status=status
            )
        return result.cancelled[0]

    def monitor(self, jobs: Sequence[Job]) -> None:
        """Start (or keep) monitoring ``jobs`` until each reaches a terminal status."""
        with self._lock:
            for job in jobs:
                if job.id in self._active:
                    continue
                worker = self._workers.get(job.interface_name)
                if worker is None:
                    raise ValueError(f"No interface found with name '{job.interface_name}'.")
                try:
                    status = self._simulations_log.get_job_status(job.id)
                except SimulationsLogLookupError:
                    status = JobStatus.PENDING_SUBMIT
                if status in TERMINAL_STATUSES:
                    continue
                # Pending jobs are checked with the hardware before anything is done
                # for them: a crash may have come before or after it heard of them.
                state = TrackedJob(
                    job=job, status=status,
                    on_hardware=status is not JobStatus.PENDING_SUBMIT,
                    needs_reconcile=status in (JobStatus.PENDING_SUBMIT, JobStatus.PENDING_CANCEL),
                    cancel_requested=status is JobStatus.PENDING_CANCEL,
                )
                self._active[job.id] = state
                worker.jobs[job.id] = state
                worker.wake.set()
            self._idle_checkpointed = False

    def get_interface(self, interface_name: str) -> HardwareInterface:
        """The interface with this name.

        Raises
        ------
        ValueError
            If there is none.
        """
        if interface_name in self._name_index:
            return self._name_index[interface_name]
        raise ValueError(f"No interface found with name '{interface_name}'.")

    def remove_job(self, job: Job) -> None:
        """Stop monitoring ``job`` (its log record stays as it is).

        Called by a strategy inside the manager's cycle, it takes effect once the
        cycle's log writes are done, so that a waiter woken by it reads the job's end.
        """
        worker = threading.current_thread()
        if isinstance(worker, _Worker) and worker.manager is self and worker.gathering:
            worker.removals.append(job)
            return
        with self._lock:
            state = self._active.pop(job.id, None)
            if state is not None:
                self._workers[state.job.interface_name].jobs.pop(job.id, None)
                self._done.notify_all()

    def shutdown(self, timeout: Optional[float] = 10.0) -> None:
        """Stop monitoring and release the log and the interfaces.

        Jobs that have not ended are left as they are, on the hardware and in the log;
        a new JobManager on the same log resumes them. Safe to call twice.

        Parameters
        ----------
        timeout : float, optional
            (simjobs) Seconds to wait for each worker to finish its current hardware
            call; a worker stuck in a hanging call is abandoned (it is a daemon).
        """
        if self._stop.is_set():
            return
        self._stop.set()
        for worker in self._workers.values():
            worker.wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in self._workers.values():
            hung = worker.busy_call is not None and \
                time.monotonic() - worker.busy_since > self.call_timeout
            if worker.is_alive() and not hung:  # a hung call is not waited for
                worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        for worker in self._workers.values():
            if not worker.is_alive():
                worker.flush(final=True)  # anything the last cycle left
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5)
        if self._inbox is not None and not (self._housekeeper and self._housekeeper.is_alive()):
            self._inbox.close()  # else still serving a request: left to the collector
        self._events.wait_idle(timeout=5)
        self._events.close()
        for name, interface in self._name_index.items():
            if self._workers[name].is_alive():
                # Still inside a call: closing it now would call it from a second thread.
                logger.warning("simjobs: interface %s is still busy in %s; not closed",
                               name, self._workers[name].busy_call)
                continue
            try:
                interface.close()
            except Exception:  # noqa: BLE001
                logger.exception("simjobs: closing interface %s failed", interface.name)
        try:
            if self._native_log:
                self._simulations_log.announce_manager(False)
                try:
                    self._simulations_log.checkpoint()
                except OSError:
                    pass  # e.g. a full disk: the journal still holds it all; close() says so
        finally:
            _release_log(self._simulations_log, self)
            _live_managers.discard(self)

    # ---- simjobs additions --------------------------------------------------------

    @property
    def interfaces(self) -> list[HardwareInterface]:
        """The interfaces, in the order given."""
        return list(self._name_index.values())

    @property
    def levels(self) -> tuple[int, ...]:
        """The levels that have at least one interface."""
        return self._interfaces.levels

    @property
    def polling_interval(self) -> float:
        """Seconds between two status polls of an interface."""
        return self._polling_interval

    @property
    def job_strategies(self) -> dict[JobStatus, _s.JobStrategy]:
        """The strategy run for a job in each status (a copy; replace them with the
        constructor's ``job_strategies``)."""
        return dict(self._job_strategies)

    def tracking(self, job: Job) -> Optional[TrackedJob]:
        """What the manager tracks for a job it monitors (its last known status, retry
        counters and due times), or None. Strategies read and update it to schedule
        retries inside the cycle; the object is live, not a copy."""
        return self._active.get(job.id)

    def in_cycle(self) -> bool:
        """True when called from one of this manager's interface workers while it runs
        strategies: their log writes are then gathered into one transaction per cycle
        phase, and a retry must be scheduled (see :class:`TrackedJob`), never slept."""
        worker = threading.current_thread()
        return isinstance(worker, _Worker) and worker.manager is self and worker.gathering

    @classmethod
    def running_on(cls, simulations_log: SimulationsLog) -> Optional["JobManager"]:
        """The live JobManager of this process on the log's file, or None (for
        instance to shut down one whose variable a notebook cell has rebound)."""
        path = getattr(simulations_log, "path", None)
        with _owners_lock:
            owner = _log_owners.get(path) if isinstance(path, str) else None
        return owner if owner is not None and not owner._stop.is_set() else None

    def __repr__(self) -> str:
        path = getattr(self._simulations_log, "path", None)
        log = os.path.basename(path) if isinstance(path, str) else type(self._simulations_log).__name__
        started = time.strftime("%H:%M:%S", time.localtime(self._started))
        state = "shut down" if self._stop.is_set() else f"started {started}"
        return (f"<JobManager on {log}, interfaces {list(self._name_index)}, {state}, "
                f"id 0x{id(self):x}>")

    @property
    def is_running(self) -> bool:
        """(simjobs) True until :meth:`shutdown` is called: the manager monitors its jobs
        and accepts new ones."""
        return not self._stop.is_set()

    def wait_events_delivered(self, timeout: Optional[float] = None) -> bool:
        """(simjobs) Block until every event published so far has been handed to the
        subscribers (their callbacks have returned).

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most; by default no limit.

        Returns
        -------
        bool
            False if ``timeout`` ran out first.
        """
        return self._events.wait_idle(timeout)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every job status change (JobEvent) and interface
        health change (InterfaceHealthEvent).

        Callbacks run on the manager's event thread, in order, never on a worker:
        a slow callback delays later events but never the monitoring. Returns a
        function that unsubscribes.
        """
        return self._events.subscribe(callback)

    def submit_many(self, inputs: Iterable[Input], level: int = 1) -> list[Job]:
        """Submit many inputs at ``level`` in one log transaction.

        Jobs are spread over the level's interfaces, least loaded first.

        Raises
        ------
        ValueError
            If no interface serves ``level``, or any input is invalid (nothing is
            submitted then).
        """
        if not isinstance(level, int) or isinstance(level, bool):
            raise TypeError(f"Expected 'level' to be an int, but received {level!r}.")
        inputs = [x if isinstance(x, Input) else Input(*x) for x in inputs]
        if not inputs:
            return []
        now = time.time()
        with self._lock:
            self._check_running()
            candidates = self._interfaces.get(level)
            if not candidates:
                raise ValueError(f"No interfaces found for level {level}")
            if self._native_log:  # another log checks the dimension itself
                dim = self._simulations_log.input_dim
                for x in inputs:
                    if len(x) != dim:
                        raise ValueError(
                            f"Expected input 'x' to have {dim} coordinates, but got {len(x)} "
                            "instead."
                        )
            gen = self._id_generator
            ids = [gen.generate_id()] if len(inputs) == 1 else gen.generate_ids(len(inputs))
            names = self._assign(candidates, len(inputs))
            jobs = [Job(i, x, level, n) for i, x, n in zip(ids, inputs, names)]
            if self._native_log:
                # Not fsync'd here: the worker syncs the log before it asks any hardware
                # to act, so a burst of submit() calls costs one fsync, not one each.
                self._simulations_log.add_new_records(
                    [(j.data, j.id, JobStatus.PENDING_SUBMIT, level, j.interface_name)
                     for j in jobs],
                    now=now, sync=False,
                )
            else:
                for j in jobs:
                    self._simulations_log.add_new_record(
                        j.data, str(j.id), job_status=JobStatus.PENDING_SUBMIT,
                        job_level=level, interface_name=j.interface_name,
                    )
            self._add_states(jobs)
        self._events.publish(
            [JobEvent(j.id, None, JobStatus.PENDING_SUBMIT, level, j.interface_name, None, now)
             for j in jobs]
        )
        return jobs

    def cancel_many(self, job_ids: Iterable[JobIdLike]) -> CancelResult:
        """Cancel many jobs; jobs that have already ended are skipped (and reported).

        Raises
        ------
        UnknownJobIdError
            If any id names no job (nothing is cancelled; ``unknown_ids`` lists them).
        """
        now = time.time()
        with self._lock:
            self._check_running()
            keys, unknown = [], []
            for raw in job_ids:
                try:
                    key = JobId(raw)
                except ValueError:
                    unknown.append(raw)
                    continue
                if key in self._active or self._in_log(key):
                    keys.append(key)
                else:
                    unknown.append(key)
            if unknown:
                raise UnknownJobIdError(
                    "Could not cancel job with ID "
                    f"{', '.join(str(u) for u in unknown)}: no such job exists.",
                    unknown_ids=unknown,
                )
            result = CancelResult([], {})
            changes, events = [], []
            for key in dict.fromkeys(keys):
                state = self._active.get(key)
                if state is None and not self._native_log:
                    status = self._simulations_log.get_job_status(str(key))
                    if status in TERMINAL_STATUSES:
                        result.skipped[key] = status
                        continue
                    raise InvalidJobStatusError(
                        f"Cannot cancel job {key}: this manager does not monitor it",
                        status=status,
                    )
                if state is None:
                    record = self._simulations_log.get_record(key)
                    if record.status in TERMINAL_STATUSES:
                        result.skipped[key] = record.status
                        continue
                    # Not monitored and not ended: its interface or level is not
                    # configured here, so it can never be submitted; end it now.
                    if record.status is JobStatus.PENDING_SUBMIT:
                        changes.append(LogChange(str(key), now, status=JobStatus.CANCELLED,
                                                 reason="cancelled before it was submitted"))
                        events.append(JobEvent(key, record.status, JobStatus.CANCELLED, record.level,
                                               record.interface_name or None, None, now))
                        result.cancelled.append(record.to_job())
                        continue
                    raise InvalidJobStatusError(
                        f"Cannot cancel job {key}: it runs on interface "
                        f"'{record.interface_name}', which this manager does not have; "
                        "add that interface to the configuration first",
                        status=record.status,
                    )
                result.cancelled.append(state.job)
                if state.cancel_requested:
                    continue
                state.cancel_requested = True
                state.cancel_attempts = 0
                state.cancel_due = 0.0
                changes.append(LogChange(str(key), now, status=JobStatus.PENDING_CANCEL))
                events.append(JobEvent(key, state.status, JobStatus.PENDING_CANCEL,
                                       state.job.level, state.job.interface_name, None, now))
                state.status = JobStatus.PENDING_CANCEL
            # The cancel reaches the log before any hardware hears of it (the worker
            # syncs the log before it acts).
            self._write_changes(changes)
            for job in result.cancelled:
                worker = self._workers.get(job.interface_name)
                if worker is not None:
                    worker.wake.set()
        self._events.publish(events)
        return result

    def resubmit(self, job_ids: Iterable[JobIdLike], *, again: bool = False) -> list[Job]:
        """Submit failed, failed-submit or cancelled jobs again, each as a new job at
        its own level. The old record stays and is linked to the new one (its
        ``resubmitted_as`` lists every job it was resubmitted as).

        Parameters
        ----------
        job_ids : iterable of job ids
            The jobs to resubmit.
        again : bool, optional
            Also resubmit a job that was already resubmitted (by default refused, so
            that resubmitting twice by mistake does not run it twice).

        Returns
        -------
        list[Job]
            The new jobs, in the order of ``job_ids``.

        Raises
        ------
        UnknownJobIdError
            If any id names no job.
        InvalidJobStatusError
            If any job is not failed, failed-submit or cancelled, or (without ``again``)
            was already resubmitted: the message names its new job. Nothing is
            resubmitted.
        ValueError
            If no interface serves a job's level.
        """
        log = self._simulations_log
        now = time.time()
        with self._lock:
            self._check_running()
            wanted = list(dict.fromkeys(str(j) for j in job_ids))
            unknown = [j for j in wanted if j not in log]
            if unknown:
                raise UnknownJobIdError(
                    f"Could not resubmit job with ID {', '.join(unknown)}: no such job exists.",
                    unknown_ids=[_maybe_job_id(u) for u in unknown],
                )
            records = [log.get_record(j) for j in wanted]
            for r in records:
                if r.status not in RESUBMITTABLE_STATUSES:
                    raise InvalidJobStatusError(
                        f"Cannot resubmit job {r.job_id} with status {r.status.value}: only "
                        "failed, failed-submit or cancelled jobs can be resubmitted",
                        status=r.status,
                    )
                if r.resubmitted_as and not again:
                    raise InvalidJobStatusError(
                        f"Job {r.job_id} was already resubmitted as "
                        f"{', '.join(r.resubmitted_as)}; resubmit it again only on purpose "
                        "(again=True, the CLI's --again)",
                        status=r.status,
                    )
                if not self._interfaces.get(r.level):
                    raise ValueError(f"No interfaces found for level {r.level}")
            ids = self._id_generator.generate_ids(len(records))
            names: dict[int, list[str]] = {}
            for level in {r.level for r in records}:
                count = sum(1 for r in records if r.level == level)
                names[level] = self._assign(self._interfaces[level], count)
            jobs = [Job(new_id, r.input, r.level, names[r.level].pop(0))
                    for new_id, r in zip(ids, records)]
            log.add_new_records(
                [(j.data, j.id, JobStatus.PENDING_SUBMIT, j.level, j.interface_name, r.job_id)
                 for j, r in zip(jobs, records)],
                now=now,
            )
            log.apply_changes(
                [LogChange(r.job_id, now, resubmitted_as=[*r.resubmitted_as, str(j.id)])
                 for j, r in zip(jobs, records)]
            )
            self._add_states(jobs)
        self._events.publish(
            [JobEvent(j.id, None, JobStatus.PENDING_SUBMIT, j.level, j.interface_name, None, now)
             for j in jobs]
        )
        return jobs

    def wait_until_done(self, timeout: Optional[float] = None) -> bool:
        """Block until no job is being monitored; False if ``timeout`` ran out first."""
        with self._done:
            ok = self._done.wait_for(lambda: not self._active or self._stop.is_set(), timeout)
        self._events.wait_idle(timeout=5)
        return ok

    def wait_until_submitted(self, job_ids: Iterable[JobIdLike], timeout: Optional[float] = None) -> bool:
        """Block until none of ``job_ids`` is still pending submission."""
        keys = [JobId(j) for j in job_ids]

        def submitted() -> bool:
            return all(
                (s := self._active.get(k)) is None or s.on_hardware or s.cancel_requested
                for k in keys
            )

        with self._done:
            return self._done.wait_for(lambda: submitted() or self._stop.is_set(), timeout)

    def active_jobs(self) -> list[tuple[Job, JobStatus]]:
        """The monitored jobs with their last known status."""
        with self._lock:
            return [(s.job, s.status) for s in self._active.values()]

    def interface_health(self) -> dict[str, InterfaceHealth]:
        """Each interface's health as the manager sees it."""
        with self._lock:
            return {name: w.health for name, w in self._workers.items()}

    def interface_stats(self) -> dict[str, dict[str, Any]]:
        """Per interface: level, kind, capacity, jobs by status, health, last poll."""
        out = {}
        with self._lock:
            counted = {
                name: Counter(s.status.value for s in w.jobs.values())
                for name, w in self._workers.items()
            }
        for name, w in self._workers.items():
            counts = dict(counted[name])
            desc = {}
            try:  # outside the manager's lock: a slow describe() never holds up the workers
                desc = w.interface.describe()
            except Exception:  # noqa: BLE001
                pass
            out[name] = {
                "name": name, "level": w.interface.level,
                "kind": desc.get("kind", w.interface.kind), "host": desc.get("host", ""),
                "max_jobs": desc.get("max_jobs", w.interface.max_jobs),
                "active": sum(counts.values()), "by_status": counts,
                "health": w.health.state, "health_message": w.health.message,
                "health_since": w.health.since,
                "last_poll_seconds": w.last_poll_seconds, "last_poll_time": w.last_poll_time,
            }
        return out

    # ---- internals of the cycle ----------------------------------------------------

    def _in_log(self, key: JobId) -> bool:
        if self._native_log:
            return key in self._simulations_log
        try:
            self._simulations_log.get_job_status(str(key))
        except SimulationsLogLookupError:
            return False
        return True

    def _sync_log(self) -> None:
        if self._native_log:
            self._simulations_log.sync()

    def _write_changes(self, changes: list[LogChange]) -> None:
        """Write changes in one transaction; through the public per-job methods for a
        log that is not simjobs' own (what they cannot say, such as reasons, is left)."""
        if self._native_log:
            # What the hardware told us is re-learnt after a crash: no fsync per cycle.
            self._simulations_log.apply_changes(changes, sync=False)
            return
        for change in changes:
            if change.output is not UNSET:
                self._simulations_log.insert_result(change.job_id, change.output)
            if change.status is not UNSET:
                self._simulations_log.update_job_status(change.job_id, change.status)

    def _handle_job(self, job: Job, status: JobStatus) -> None:
        """Run the strategy for a status the hardware reported for ``job``."""
        state = self._active.get(job.id)
        if state is not None and state.status is JobStatus.FAILED_CANCEL \
                and status not in TERMINAL_STATUSES:
            return  # keep "Failed cancel" visible until the job really ends
        strategy = self._job_strategies.get(status)
        if strategy is not None:
            self._workers[job.interface_name].guard(job, strategy.handle, job, self)

    def _call(self, interface: HardwareInterface, method: str, *args):
        """Call a hardware method, noting it so a hanging call can be reported."""
        worker = self._workers.get(interface.name)
        if worker is None or threading.current_thread() is not worker:
            return _call_interface(interface, method, args)
        worker.busy_call, worker.busy_since = method, time.monotonic()
        try:
            return _call_interface(interface, method, args)
        finally:
            worker.busy_call = None

    def _record(self, job: Job, status: Optional[JobStatus], *, output: Any = UNSET,
                reason: Any = UNSET) -> None:
        """Note a change for ``job``: gathered per cycle inside a worker, else applied now."""
        change = LogChange(str(job.id), time.time(),
                           status=UNSET if status is None else status, output=output, reason=reason)
        worker = threading.current_thread()
        if isinstance(worker, _Worker) and worker.manager is self:
            worker.pending.append(change)
        else:
            self._apply([change])

    def _apply(self, changes: list[LogChange]) -> None:
        """Write a batch of changes in one transaction and publish their events.

        A status learnt from the hardware never overwrites a cancel the user asked
        for meanwhile: for a job pending cancel only terminal statuses are kept.
        """
        events: list[Event] = []
        with self._lock:
            kept: list[LogChange] = []
            # The status of each job as this batch goes along, so that two identical
            # changes in one batch make one event and nothing follows a terminal one.
            current: dict[str, Optional[JobStatus]] = {}
            jobs: dict[str, Job] = {}
            for change in changes:
                key = change.job_id
                if key not in current:
                    current[key] = self._known_status(key, jobs)
                old = current[key]
                if old is None or old in TERMINAL_STATUSES:
                    continue
                if change.status is not UNSET and not self._status_may_follow(key, old,
                                                                              change.status):
                    change.status = UNSET
                if change.status is UNSET and change.output is UNSET and change.reason is UNSET:
                    continue
                kept.append(change)
                if change.status is not UNSET:
                    current[key] = change.status
                    events.append(_change_event(jobs[key], old, change))
            if not kept:
                return
            self._write_changes(kept)
            self._settle_active(current)
            self._done.notify_all()  # wakes wait_until_done and wait_until_submitted
        self._events.publish(events)

    def _known_status(self, key: str, jobs: dict[str, Job]) -> Optional[JobStatus]:
        """The status a batch of changes starts from for job ``key`` (None: nothing known
        to check against), noting the job in ``jobs``. Called with the lock held."""
        state = self._active.get(JobId(key))
        if state is not None:
            jobs[key] = state.job
            return state.status
        if not self._native_log:
            return None  # not monitored: nothing known to check
        # Not monitored (a strategy called directly, or a late word on a job already
        # ended): never overwrite a terminal status.
        try:
            record = self._simulations_log.get_record(key)
        except SimulationsLogLookupError:
            return None
        jobs[key] = record.to_job()
        return record.status

    def _status_may_follow(self, key: str, old: JobStatus, new: JobStatus) -> bool:
        """Whether status ``new`` is recorded over ``old`` (not terminal) for job ``key``."""
        if new is old:
            return False
        state = self._active.get(JobId(key))
        if state is not None and state.cancel_requested and new not in TERMINAL_STATUSES \
                and new is not JobStatus.FAILED_CANCEL:
            return False  # a cancel the user asked for is not overwritten by a poll's answer
        # "Failed cancel" stays until the job really ends.
        return old is not JobStatus.FAILED_CANCEL or new in TERMINAL_STATUSES

    def _settle_active(self, current: dict[str, Optional[JobStatus]]) -> None:
        """Bring the monitored jobs' states to the statuses just written (lock held);
        a job whose status is terminal is no longer monitored."""
        for key, status in current.items():
            state = self._active.get(JobId(key))
            if state is None or status is None:
                continue
            state.status = status
            if status not in (JobStatus.PENDING_SUBMIT, JobStatus.PENDING_CANCEL):
                state.on_hardware = True  # e.g. a user's strategy submitted it
            if status in TERMINAL_STATUSES:
                self.remove_job(state.job)

    def _correct_failed(self, interface: HardwareInterface, job_id: JobId,
                        status: JobStatus) -> None:
        """A job the log says FAILED has ended for real after all (its wrapper recorded
        an exit code late): record COMPLETED with its output, or the better reason.
        The history keeps the FAILED before the correction."""
        log = self._simulations_log
        try:
            record = log.get_record(str(job_id))
        except SimulationsLogLookupError:
            return
        if record.status is not JobStatus.FAILED or \
                status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            return
        first = record.reason or "failed"
        now = time.time()
        if status is JobStatus.COMPLETED:
            output = self._call(interface, "get_job_output", job_id)
            if not isinstance(output, (int, float)) or isinstance(output, bool) \
                    or output != output or output in (float("inf"), float("-inf")):
                return
            change = LogChange(str(job_id), now, status=JobStatus.COMPLETED,
                               output=float(output),
                               reason=f"corrected: first recorded Failed ({first}); the "
                                      "job's wrapper recorded exit code 0 and its output later")
        else:
            reason = self._call(interface, "failure_reason", job_id) or "failed"
            if reason == first:
                return
            change = LogChange(str(job_id), now,
                               reason=f"{reason} (corrected; first recorded: {first})")
        with self._lock:
            log.apply_changes([change])
        if change.status is not UNSET:
            self._events.publish([JobEvent(
                job_id, JobStatus.FAILED, JobStatus.COMPLETED, record.level,
                record.interface_name, change.output, now, change.reason)])

    def _call_timeout(self, worker: _Worker) -> float:
        own = getattr(worker.interface, "call_timeout", None)
        return float(own) if isinstance(own, (int, float)) and own > 0 else self.call_timeout

    def _update_health(self, worker: _Worker) -> None:
        """Combine the interface's own health with what its calls show; publish changes."""
        try:
            own = worker.interface.health
        except Exception as exc:  # noqa: BLE001
            own = InterfaceHealth(HEALTH_DEGRADED, message=one_line(exc))
        if not own.ok:
            state, message = own.state, own.message
        elif worker.last_error is not None:
            state = HEALTH_UNREACHABLE if worker.unreachable else HEALTH_DEGRADED
            message = worker.last_error
        elif worker.busy_call is not None and \
                time.monotonic() - worker.busy_since > self._call_timeout(worker):
            # Said with the time it started, not a count of seconds: one event, not one
            # per housekeeping round.
            state = HEALTH_DEGRADED
            started = time.time() - (time.monotonic() - worker.busy_since)
            message = (f"{worker.busy_call} has not returned since "
                       f"{time.strftime('%H:%M:%S', time.localtime(started))} (longer than "
                       f"its {self._call_timeout(worker):g} s timeout)")
        else:
            state, message = HEALTH_OK, ""
        old = worker.health
        if state == old.state and message == old.message:
            return
        worker.health = InterfaceHealth(state, old.since if state == old.state else time.time(), message)
        if state != old.state or message != old.message:
            self._events.publish([InterfaceHealthEvent(
                worker.interface.name, old.state, state, message, time.time())])

    # ---- setup and helpers --------------------------------------------------------

    @staticmethod
    def _validate_interfaces(interfaces: Sequence[HardwareInterface]) -> None:
        if isinstance(interfaces, HardwareInterface) or not all(
            isinstance(i, HardwareInterface) for i in interfaces
        ):
            raise TypeError(
                "Expected 'interfaces' to be a sequence of HardwareInterface instances, "
                f"but received {type(interfaces)} instead."
            )
        names = [i.name for i in interfaces]
        if any(name is None for name in names):
            raise ValueError("Interface name not set.")
        if len(names) != len(set(names)):
            raise ValueError("Each interface must have a unique name.")

    @staticmethod
    def _init_multi_level_interfaces(
        interfaces: Sequence[HardwareInterface],
    ) -> MultiLevel[list[HardwareInterface]]:
        by_level: dict[int, list[HardwareInterface]] = {}
        for interface in interfaces:
            by_level.setdefault(interface.level, []).append(interface)
        return MultiLevel(dict(sorted(by_level.items())))

    @staticmethod
    def _init_job_strategies(
        replacements: Optional[Mapping[JobStatus, _s.JobStrategy]] = None,
    ) -> dict[JobStatus, _s.JobStrategy]:
        for status, strategy in (replacements or {}).items():
            if not isinstance(status, JobStatus) or not callable(getattr(strategy, "handle", None)):
                raise TypeError(
                    "Expected 'job_strategies' to map JobStatus members to strategies with "
                    f"a handle(job, job_manager) method, but received {status!r}: {strategy!r}."
                )
        return {
            JobStatus.COMPLETED: _s.CompletedJobStrategy(),
            JobStatus.FAILED: _s.FailedJobStrategy(),
            JobStatus.RUNNING: _s.RunningJobStrategy(),
            JobStatus.SUBMITTED: _s.SubmittedJobStrategy(),
            JobStatus.PENDING_SUBMIT: _s.PendingSubmitJobStrategy(),
            JobStatus.PENDING_CANCEL: _s.PendingCancelJobStrategy(),
            JobStatus.FAILED_SUBMIT: _s.FailedSubmitJobStrategy(),
            JobStatus.CANCELLED: _s.CancelledJobStrategy(),
            **(replacements or {}),
        }

    def _check_running(self) -> None:
        if self._stop.is_set():
            raise RuntimeError("this JobManager has been shut down; create a new one")

    def _assign(self, candidates: list[HardwareInterface], n: int) -> list[str]:
        """Pick the least-loaded interface for each of ``n`` new jobs.

        Load is jobs per slot when every candidate states its capacity (max_jobs),
        else plain job counts as in exauq; ties go to the first listed."""
        counts = {i.name: len(self._workers[i.name].jobs) for i in candidates}
        caps = {i.name: i.max_jobs for i in candidates}
        use_caps = all(isinstance(c, int) and c > 0 for c in caps.values())
        names = []
        for _ in range(n):
            best = min(candidates, key=lambda i: counts[i.name] / caps[i.name] if use_caps
                       else counts[i.name]).name
            counts[best] += 1
            names.append(best)
        return names

    def _add_states(self, jobs: list[Job]) -> None:
        for job in jobs:
            state = TrackedJob(job=job, status=JobStatus.PENDING_SUBMIT, on_hardware=False)
            self._active[job.id] = state
            self._workers[job.interface_name].jobs[job.id] = state
        self._idle_checkpointed = False
        for name in {j.interface_name for j in jobs}:
            self._workers[name].wake.set()

    def _resume_jobs(self) -> list[Job]:
        """The log's unfinished jobs that this manager can monitor.

        A pending job with no interface (exauq's default record) is given the least
        loaded interface of its level. A job whose level or interface is not
        configured stays in the log untouched, with a warning."""
        log = self._simulations_log
        resumed, changes = [], []
        now = time.time()
        for job in log.get_non_terminated_jobs():
            name = job.interface_name
            if name in self._name_index:
                resumed.append(job)
                continue
            status = log.get_job_status(job.id)
            candidates = self._interfaces.get(job.level)
            if not name and status is JobStatus.PENDING_SUBMIT and candidates \
                    and self._native_log:  # another log cannot record the interface
                (name,) = self._assign(candidates, 1)
                changes.append(LogChange(str(job.id), now, interface_name=name))
                resumed.append(Job(job.id, job.data, job.level, name))
                continue
            where = f"interface '{name}'" if name else f"level {job.level}"
            logger.warning(
                "simjobs: job %s (%s) is not resumed: no %s is configured; "
                "add one to resume it", job.id, status.value, where,
            )
        if changes:
            log.apply_changes(changes)
        return resumed

    def _start_threads(self) -> None:
        for worker in self._workers.values():
            worker.start()
        self._housekeeper = threading.Thread(
            target=self._housekeep, name="simjobs-housekeeper", daemon=True
        )
        self._housekeeper.start()

    def _housekeep(self) -> None:
        """Report hanging calls, serve requests handed over by other processes, and
        fold the log's journal into its main file when the manager goes idle."""
        while not self._stop.wait(0.2):
            if not self._native_log:
                continue  # nothing of simjobs' own log to serve or fold
            try:
                for worker in self._workers.values():
                    if worker.busy_call is not None or not worker.health.ok:
                        self._update_health(worker)
                self._stats_file.update(self)
                if self._inbox is not None:
                    self._inbox.serve(self)
                self._simulations_log.sync()  # bounds what a power cut can take: ~0.2 s
                with self._lock:
                    idle = not self._active and not self._idle_checkpointed
                    if idle:
                        self._idle_checkpointed = True
                if idle:
                    self._simulations_log.checkpoint()
            except Exception as exc:  # noqa: BLE001
                self.problems.failed("housekeeping", "housekeeping", exc)
            else:
                self.problems.cleared("housekeeping", "housekeeping")


def _submit_due(state: TrackedJob, now: float) -> bool:
    """Whether a monitored job is due its submit at ``now`` (monotonic): pending, not on
    the hardware, not cancelled, not waiting to be reconciled, and its retry time come."""
    return (state.status is JobStatus.PENDING_SUBMIT and not state.on_hardware
            and not state.cancel_requested and not state.needs_reconcile and state.due <= now)


def _change_event(job: Job, old: JobStatus, change: LogChange) -> JobEvent:
    """The event of ``change`` moving ``job`` from status ``old`` to ``change.status``."""
    return JobEvent(
        job.id, old, change.status, job.level, job.interface_name,
        None if change.output is UNSET else change.output, change.time,
        None if change.reason is UNSET else change.reason,
    )


def _call_interface(interface: HardwareInterface, method: str, args: tuple):
    if method == "submit_jobs":
        submit_jobs = getattr(interface, "submit_jobs", None)
        if submit_jobs is not None:
            return submit_jobs(*args)
        outcomes = {}
        for job in args[0]:
            try:
                interface.submit_job(job)
                outcomes[job.id] = None
            except Exception as exc:  # noqa: BLE001
                outcomes[job.id] = exc
        return outcomes
    return getattr(interface, method)(*args)


def _is_default(strategy: Any, base: type) -> bool:
    """True when ``strategy`` does what ``base`` does (its handle is not overridden):
    the worker may then take ``base``'s batched path for a whole interface."""
    handle = getattr(type(strategy), "handle", None)
    return isinstance(strategy, base) and \
        getattr(handle, "__func__", handle) is base.handle.__func__


def _maybe_job_id(value: Any) -> Any:
    try:
        return JobId(value)
    except ValueError:
        return value


# One live JobManager per log file in this process (its SimulationsLog objects share
# one writer); the log's writer lock covers other processes.
_log_owners: "weakref.WeakValueDictionary[str, JobManager]" = weakref.WeakValueDictionary()
_owners_lock = threading.Lock()
_live_managers: "weakref.WeakSet[JobManager]" = weakref.WeakSet()


def _claim_log(log: SimulationsLog, manager: JobManager) -> None:
    if not manager._native_log:
        return  # a look-alike log: nothing to lock
    with _owners_lock:
        log.require_writer()  # raises LogLockedError naming the other process
        owner = _log_owners.get(log.path)
        if owner is not None and owner is not manager and not owner._stop.is_set():
            raise LogLockedError(
                f"{os.path.basename(log.path)} is already managed by {owner!r} in this "
                "process: one log has one JobManager at a time; call that manager's "
                "shutdown() first (JobManager.running_on(log) returns it)"
            )
        _log_owners[log.path] = manager


def _release_log(log: SimulationsLog, manager: JobManager) -> None:
    path = getattr(log, "path", None)
    with _owners_lock:
        if isinstance(path, str) and _log_owners.get(path) is manager:
            del _log_owners[path]


@atexit.register
def _stop_live_managers() -> None:
    # Runs before the logs are closed (atexit is last-in first-out): stop writing first.
    for manager in list(_live_managers):
        manager._stop.set()
        for worker in manager._workers.values():
            worker.wake.set()
    for manager in list(_live_managers):
        for worker in manager._workers.values():
            worker.join(timeout=2)
