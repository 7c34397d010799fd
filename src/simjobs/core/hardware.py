"""The abstract hardware interface that runs jobs (exauq's, plus batch and health)."""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Optional

from .types import Job, JobId, JobStatus

HEALTH_OK = "ok"
HEALTH_DEGRADED = "degraded"
HEALTH_UNREACHABLE = "unreachable"


@dataclasses.dataclass(frozen=True)
class InterfaceHealth:
    """How an interface is doing: ``state`` is "ok", "degraded" or "unreachable";
    ``since`` (epoch seconds) is when it entered that state; ``message`` the last error."""

    state: str = HEALTH_OK
    since: float = dataclasses.field(default_factory=time.time)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.state == HEALTH_OK


class CancelInProgress(Exception):
    """A cancel the hardware has taken on but not finished: the job's processes are
    being stopped (e.g. in the grace period between SIGTERM and SIGKILL).

    An interface's ``cancel_jobs`` gives it as a job's outcome; the manager then keeps
    the job Pending cancel (the log never says Cancelled while the job's processes
    live, so a restarted manager sends the cancel again and the kill is finished) and
    asks again after ``retry_after`` seconds, without counting a failed attempt.

    Parameters
    ----------
    message : str
        What is under way, e.g. "waiting for the process group 1234 to exit".
    retry_after : float, optional
        Seconds after which to ask again, by default 0.5.
    """

    def __init__(self, message: str = "", retry_after: float = 0.5):
        super().__init__(message)
        self.retry_after = retry_after


class HardwareInterface(ABC):
    """A place that runs simulator jobs: a local process pool, a server, a cluster.

    Subclasses implement :meth:`submit_job`, :meth:`get_job_status`,
    :meth:`get_job_output` and :meth:`cancel_job`, exactly as for exauq. simjobs calls
    one interface from one thread at a time, so implementations need no locking.

    Parameters
    ----------
    name : str, optional
        A name unique among the interfaces of a JobManager.
    level : int, optional
        The level of the jobs this interface runs, by default 1.

    Notes
    -----
    Beyond exauq, an interface may override :meth:`get_job_statuses` (one call for many
    jobs), :attr:`max_jobs` (how many jobs it runs at once), :attr:`health`,
    :meth:`find_jobs` (which jobs it already holds, used when resuming) and
    :meth:`close`. The defaults keep exauq interfaces working unchanged. An interface
    may also have ``cancel_jobs(job_ids) -> dict[JobId, Exception | None]`` (many
    cancels in one call), whose outcome for a job may be :class:`CancelInProgress`.
    """

    #: What kind of hardware this is, shown in the app and the CLI.
    kind: str = "custom"
    #: Seconds one call (a poll, a submit) may take before the manager reports the
    #: interface degraded; None: the manager's own ``call_timeout``.
    call_timeout: Optional[float] = None

    def __init__(self, name: Optional[str] = None, level: int = 1):
        self._name = name
        self._level = level

    @property
    def name(self) -> Optional[str]:
        """(Read-only) The interface's name."""
        return getattr(self, "_name", None)

    @property
    def level(self) -> int:
        """(Read-only) The level of jobs this interface runs."""
        return getattr(self, "_level", 1)

    @abstractmethod
    def submit_job(self, job: Job) -> None:
        """Start running ``job``; raise an exception if that is not possible now."""

    @abstractmethod
    def get_job_status(self, job_id: JobId) -> JobStatus:
        """Return the status of the job ``job_id`` on this hardware."""

    @abstractmethod
    def get_job_output(self, job_id: JobId) -> Optional[float]:
        """Return the output of the completed job ``job_id`` (None when there is none)."""

    @abstractmethod
    def cancel_job(self, job_id: JobId) -> None:
        """Stop the job ``job_id``; raise an exception if that failed."""

    # ---- simjobs additions: every one has a default that works for exauq interfaces.

    def get_job_statuses(self, job_ids: Sequence[JobId]) -> dict[JobId, JobStatus]:
        """Return the statuses of many jobs in one call.

        The default asks :meth:`get_job_status` for each job; a job whose status call
        raises is left out of the result (its last known status stands) unless every
        call raised, in which case the first error is raised. Interfaces that can
        answer for all jobs at once (one ``squeue``, one remote command) override this.
        """
        statuses: dict[JobId, JobStatus] = {}
        first_error: Optional[BaseException] = None
        for job_id in job_ids:
            try:
                statuses[job_id] = self.get_job_status(job_id)
            except Exception as exc:  # noqa: BLE001 - one job's failure is not the poll's
                first_error = first_error or exc
        if first_error is not None and not statuses:
            raise first_error
        return statuses

    @property
    def max_jobs(self) -> Optional[int]:
        """How many jobs the interface runs at once (None: no known limit)."""
        return getattr(self, "_max_jobs", None)

    @max_jobs.setter
    def max_jobs(self, value: Optional[int]) -> None:
        # Settable: an interface written for exauq may well assign its own attribute.
        self._max_jobs = value

    @property
    def health(self) -> InterfaceHealth:
        """The interface's own view of its health (the manager adds what it sees)."""
        return getattr(self, "_health", None) or InterfaceHealth()

    @health.setter
    def health(self, value: InterfaceHealth) -> None:
        self._health = value

    def find_jobs(self, job_ids: Iterable[JobId]) -> Optional[set[JobId]]:
        """Return which of ``job_ids`` this hardware has received, or None if it
        cannot tell.

        Used when resuming a log (a job recorded as pending submit that the hardware
        already holds is not submitted again; one recorded as pending cancel that it
        never received is simply cancelled) and to settle jobs the hardware stops
        answering for (one it has no record of is FAILED). The default cannot tell.
        """
        return None

    def failure_reason(self, job_id: JobId) -> Optional[str]:
        """Why the job ``job_id`` failed (e.g. exit code and stderr tail), if known."""
        return None

    def job_details(self, job_id: JobId) -> dict:
        """Where and how the job runs (host, job directory, pid, times, stdout/stderr
        tails...), for the app's job detail view. The default knows nothing."""
        return {}

    def late_results(self) -> dict[JobId, JobStatus]:
        """Jobs this interface reported FAILED without their own record of how they
        ended (no exit code yet) that have ended for real since: job id -> the status
        replacing FAILED (COMPLETED, with :meth:`get_job_output` giving the output, or
        FAILED with a better :meth:`failure_reason`). The manager asks once per poll
        while :attr:`watching_late_results` is true and records each one as a
        correction of the log. The default has none."""
        return {}

    @property
    def watching_late_results(self) -> bool:
        """True while some FAILED job may still get a late result (see
        :meth:`late_results`): the manager keeps polling for it. False by default."""
        return False

    def describe(self) -> dict:
        """What the app and ``simjobs interfaces`` show: kind, host, capacity."""
        return {"kind": self.kind, "host": "", "max_jobs": self.max_jobs}

    def close(self) -> None:
        """Release connections and threads. The default has nothing to release."""
