"""SSHInterface: runs simulator jobs on a remote host over SSH.

Jobs are laid out on the remote disk exactly like LocalInterface's (see
:mod:`.jobdir`), run by the same wrapper, started detached in their own session
(``setsid``), so they survive the SSH connection and a restart of simjobs. All the
remote work goes through :class:`.remote_jobdir.RemoteJobDirs` on one
:class:`~.runner.CommandRunner` connection (``SSHRunner``, or ``OpenSSHRunner`` with
``transport="openssh"``):

- a batch of submits is **one** remote command (create the job directories with their
  inputs, then start as many wrappers as there are free slots);
- a status poll is **one** remote command for all the jobs asked about, and the same
  command starts queued jobs as slots free up (jobs beyond ``max_jobs`` stay SUBMITTED
  in their job directories, so a restarted simjobs finds them queued);
- finished jobs' states (output, failure reason) are kept, so asking for the output of
  a completed job costs no round trip.

When the host cannot be reached every call raises
:class:`~.runner.HostUnreachableError` (the manager shows the interface as
unreachable, keeps its jobs' statuses and retries submits), and :attr:`health` says so.
"""

from __future__ import annotations

import dataclasses
import heapq
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Optional, Union

from simjobs.core.hardware import (
    HEALTH_DEGRADED,
    HEALTH_OK,
    HEALTH_UNREACHABLE,
    HardwareInterface,
    InterfaceHealth,
)
from simjobs.core.types import Job, JobId, JobStatus

from . import jobdir
from .jobdir import (
    EXIT_CODE_FILE,
    STDERR_FILE,
    STDOUT_FILE,
    JobAlreadyEndedError,
    JobState,
    UnknownJobError,
)
from .args import check_interface_args, split_command
from .remote_jobdir import (
    CANCEL_GRACE,
    LateResults,
    RemoteCommandError,
    RemoteJob,
    RemoteJobDirs,
)
from .runner import CommandRunner, HostUnreachableError, SSHSettings, ssh_runner

#: Seconds a launched job may take to make its started marker before it counts as
#: failed to start.
START_TIMEOUT = 60.0


class SSHInterface(HardwareInterface):
    """Runs jobs on ``host`` over SSH, at most ``max_jobs`` at once.

    Parameters
    ----------
    name : str
        The interface's name, unique among a manager's interfaces.
    level : int
        The level of the jobs it runs.
    host : str
        The remote host (a name, an address, or a ``Host`` alias of ``~/.ssh/config``).
    command : str or list of str
        The simulator as the remote host runs it, as ``COMMAND INPUT_FILE OUTPUT_FILE``
        in the job directory; a string is split like a shell would. It is not looked
        up locally: give an absolute remote path, a name on the remote PATH, or a path
        relative to the remote home.
    workspace : str
        The remote directory holding the job directories (relative: to the remote
        home); created when missing. Spaces and quotes are fine.
    port : int, optional
        The SSH port, by default 22.
    user : str, optional
        The remote user, by default the current user (or ``~/.ssh/config``'s).
    max_jobs : int, optional
        How many jobs run at once; by default the remote host's number of CPUs,
        learnt on first contact.
    identity_files : sequence of str, optional
        Private keys to log in with; by default the ssh agent and the default keys.
    known_hosts : str, optional
        The known_hosts file host keys are checked against, by default
        ``~/.ssh/known_hosts``. Host keys are always checked.
    connect_timeout : float, optional
        Seconds to wait for the host to answer a connection, by default 10.
    transport : str, optional
        ``"asyncssh"`` (the default) or ``"openssh"``: the system ``ssh`` with
        ``~/.ssh/config`` and one master connection (see :mod:`.openssh_transport`).
    runner : CommandRunner, optional
        Run the commands through this runner instead of a new SSH connection (tests,
        or sharing one connection); the interface then does not close it.

    Raises
    ------
    ValueError
        If an argument is invalid (nothing is contacted on construction).
    """

    kind = "ssh"

    #: Seconds a cancelled job gets to exit after SIGTERM before SIGKILL.
    cancel_grace: float = CANCEL_GRACE

    def __init__(
        self,
        name: str,
        level: int,
        host: str,
        command: Union[str, Sequence[str]],
        workspace: str,
        port: int = 22,
        user: Optional[str] = None,
        max_jobs: Optional[int] = None,
        identity_files: Sequence[str] = (),
        known_hosts: Optional[str] = None,
        connect_timeout: float = 10.0,
        transport: str = "asyncssh",
        *,
        runner: Optional[CommandRunner] = None,
    ):
        check_interface_args(name, level, max_jobs)
        if not isinstance(host, str) or not host.strip():
            raise ValueError(f"The host of interface {name!r} must be a host name, not {host!r}.")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ValueError(f"The port of interface {name!r} must be 1-65535, not {port!r}.")
        if isinstance(identity_files, str):
            identity_files = (identity_files,)
        if not isinstance(workspace, str) or not workspace.strip():
            raise ValueError(
                f"The workspace of interface {name!r} must be a remote directory path, "
                f"not {workspace!r}."
            )
        super().__init__(name, level)
        argv = split_command(command, what=f"The command of interface {name!r}")
        self.settings = SSHSettings(
            host=host, port=port, user=user, identity_files=tuple(identity_files),
            known_hosts=known_hosts, connect_timeout=float(connect_timeout),
            transport=transport,
        )
        self._owns_runner = runner is None
        if runner is None:
            runner = ssh_runner(self.settings, interface=name)
        self.runner = runner
        # A poll takes milliseconds; one that takes longer than a connection may take
        # (a frozen host, a stopped sshd) shows the interface degraded at once.
        self.call_timeout = max(10.0, float(connect_timeout))
        self.jobs = RemoteJobDirs(runner, workspace, argv)
        self._command = argv
        self._max_jobs = max_jobs
        self._health = InterfaceHealth()
        self._lock = threading.RLock()
        self._prepared = False
        self._queued: set[JobId] = set()  # jobs waiting for a slot, started in id order
        self._holding: set[JobId] = set()  # jobs whose wrapper runs (or was just started)
        self._launched_at: dict[JobId, float] = {}  # launched, not yet seen started
        self._pids: dict[JobId, int] = {}  # wrapper pids of jobs seen running
        self._orphans: dict[JobId, int] = {}  # directory gone, processes to stop
        self._space_named: set[JobId] = set()  # lost jobs whose disk was looked at
        self._finished: dict[JobId, JobState] = {}  # terminal states (but see _provisional)
        # FAILED without an exit code: watched, in case the wrapper records one after all
        self._provisional = LateResults(self.late_watch)  # FAILED without an exit code

    @classmethod
    def from_settings(cls, name: str, level: int, settings: SSHSettings,
                      command: Union[str, Sequence[str]], workspace: str,
                      max_jobs: Optional[int] = None) -> "SSHInterface":
        """An interface reaching the host described by ``settings``."""
        return cls(name, level, settings.host, command, workspace, port=settings.port,
                   user=settings.user, max_jobs=max_jobs,
                   identity_files=settings.identity_files, known_hosts=settings.known_hosts,
                   connect_timeout=settings.connect_timeout, transport=settings.transport)

    # ---- what it is

    @property
    def workspace(self) -> str:
        """(Read-only) The remote workspace (relative paths: to the remote home)."""
        return self.jobs.workspace

    @property
    def command(self) -> list[str]:
        """(Read-only) The remote simulator command (input and output files are appended)."""
        return list(self._command)

    def describe(self) -> dict:
        import shlex

        return {
            "kind": self.kind,
            "host": self.runner.host,
            "max_jobs": self._max_jobs,
            "workspace": self.jobs.workspace,
            "command": shlex.join(self._command),
        }

    # ---- remote calls, with health kept up to date

    def _remote(self, fn, *args, **kwargs):
        try:
            result = fn(*args, **kwargs)
        except HostUnreachableError as exc:
            if self._health.state != HEALTH_UNREACHABLE or self._health.message != str(exc):
                self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=str(exc))
            raise
        except RemoteCommandError as exc:
            self._health = InterfaceHealth(HEALTH_DEGRADED, message=str(exc))
            raise
        if not self._health.ok:
            self._health = InterfaceHealth(HEALTH_OK)
        return result

    def _prepare(self) -> None:
        """On first contact: learn the CPU count (when max_jobs is not given) and pick up
        the unfinished jobs of the workspace (a restart), queued ones queued again."""
        if self._prepared:
            return
        if self._max_jobs is None:
            result = self._remote(
                self.runner.run, "getconf _NPROCESSORS_ONLN 2>/dev/null || nproc", None, 30.0)
            try:
                self._max_jobs = max(1, int(result.stdout.split()[-1]))
            except (ValueError, IndexError):
                self._max_jobs = 1
        found = self._remote(self.jobs.scan_unfinished)
        for job in found.values():
            self._note(job)
        self._prepared = True

    def _note(self, job: RemoteJob) -> Optional[JobState]:
        """Keep the queue and slots in step with what a command found; the job's state."""
        job_id = job.job_id
        if not job.exists:
            self._queued.discard(job_id)
            self._holding.discard(job_id)
            pid = self._pids.pop(job_id, None)
            if pid is not None:  # its directory is gone: its processes must not run on
                self._orphans[job_id] = pid
            return None
        state = job.state
        if state.pid is not None and not state.finished:
            self._pids[job_id] = state.pid
        elif state.finished:
            self._pids.pop(job_id, None)
        if job.launched:
            self._queued.discard(job_id)
            self._holding.add(job_id)
            self._launched_at.setdefault(job_id, time.monotonic())
            return state
        if state.queued and job_id in self._launched_at:
            if time.monotonic() - self._launched_at[job_id] <= START_TIMEOUT:
                # Started a moment ago, its wrapper not yet past its first step: it
                # holds its slot (and is not started again).
                self._holding.add(job_id)
                return state
            self.jobs.check_install_again()  # a removed or damaged wrapper: redo it
            state = JobState(
                JobStatus.FAILED,
                reason=f"the job wrapper did not start on {self.runner.host} within "
                       f"{START_TIMEOUT:g} s; check that /bin/sh and setsid work there "
                       f"and the workspace is writable ({self.jobs.job_dir(job_id)!r})",
            )
        elif not state.queued:
            self._launched_at.pop(job_id, None)
        if job.holds_slot:
            self._holding.add(job_id)
        else:
            self._holding.discard(job_id)
        if state.finished:
            self._queued.discard(job_id)
            if not job.holds_slot:
                self._finished[job_id] = state
                self._launched_at.pop(job_id, None)
                if state.status is JobStatus.FAILED and job.files.get(EXIT_CODE_FILE) is None:
                    self._provisional.watch(job_id)
        elif state.queued and job_id not in self._holding:
            self._queued.add(job_id)
        return state

    def _candidates(self) -> list[JobId]:
        """Queued jobs in id order, as many as could start now."""
        limit = self._max_jobs or len(self._queued)
        if limit < len(self._queued):
            return heapq.nsmallest(limit, self._queued)
        return sorted(self._queued)

    def _sync(self, read: Iterable[JobId], create: Optional[dict] = None,
              tails: bool = False,
              start: bool = True) -> dict[JobId, tuple[RemoteJob, Optional[JobState]]]:
        """One remote command: create, read ``read`` (and every job holding a slot),
        and (``start``) start queued jobs into free slots; returns what was found.

        Only submits and polls start jobs: a single-job question (the manager asks
        for a job's status right before cancelling it) must not start a queued job."""
        with self._lock:
            self._prepare()
            create = create or {}
            read = [JobId(j) for j in read]
            # New jobs queue behind the ones already waiting (ids grow over time).
            launch = sorted(set(self._candidates()) | set(create)) if start else []
            # The jobs holding slots are read only when jobs may start (to count them).
            holding = [*self._holding, *launch] if launch else []
            every = list(dict.fromkeys([*read, *create, *holding]))
            # Jobs FAILED without an exit code ride along, for a late exit code.
            watched = self._provisional.watched()
            found = self._remote(
                self.jobs.sync, create=create, read=[*every, *watched], launch=launch,
                max_running=self._max_jobs, tails=tails,
                starting=[j for j in self._launched_at if j not in create],
            )
            if watched:
                self._finished.update(self._provisional.check(found, watched))
            result = {}
            for job_id, job in found.items():
                if job_id in watched:  # its state is what the check above left
                    if job_id in every:
                        result[job_id] = (job, self._finished.get(job_id))
                    continue
                result[job_id] = (job, self._note(job))
            if self._orphans:
                self._stop_orphans()
            self._name_full_disk(result)
            return result

    def _name_full_disk(self, result: dict) -> None:
        """Jobs just concluded FAILED without an exit code: when the workspace's disk is
        full, say so in their reason (one command, only then)."""
        lost = [j for j, (job, state) in result.items()
                if state is not None and state.status is JobStatus.FAILED
                and job.files.get(EXIT_CODE_FILE) is None and j in self._provisional
                and j not in self._space_named]
        if not lost:
            return
        self._space_named.update(lost)
        try:
            free = self.jobs.free_space()
        except (HostUnreachableError, RemoteCommandError):
            return
        if free != 0:
            return
        note = (f"; no space left on the remote workspace {self.jobs.workspace} on "
                f"{self.runner.host} (df: 0 B free)")
        for job_id in lost:
            state = dataclasses.replace(self._finished[job_id],
                                        reason=(self._finished[job_id].reason or "") + note)
            self._finished[job_id] = state
            result[job_id] = (result[job_id][0], state)

    def _stop_orphans(self) -> None:
        """Kill the process groups of jobs whose directory was removed while they ran
        (they could no longer be cancelled); tried again at the next command if the
        host cannot be reached now."""
        orphans, self._orphans = self._orphans, {}
        try:
            self._remote(self.jobs.kill_orphans, orphans, self.cancel_grace)
        except HostUnreachableError:
            self._orphans.update(orphans)

    # ---- late results: a FAILED job whose wrapper records an exit code after all

    #: Seconds a job FAILED without an exit code is watched for a late one.
    late_watch: float = 7 * 24 * 3600.0

    @property
    def watching_late_results(self) -> bool:
        return self._provisional.active

    def late_results(self) -> dict[JobId, JobStatus]:
        """Jobs concluded FAILED without an exit code whose wrapper has recorded one
        since (see :meth:`HardwareInterface.late_results`); one remote command unless a
        poll has just read them."""
        with self._lock:
            late = self._provisional
            if late.needs_read:
                watched = late.watched()
                if watched:
                    found = self._remote(self.jobs.sync, read=watched)
                    self._finished.update(late.check(found, watched))
            return late.take()

    def _state(self, job_id: JobId, tails: bool = False) -> tuple[RemoteJob, JobState]:
        job_id = JobId(job_id)
        found = self._sync([job_id], tails=tails, start=False).get(job_id)
        if found is None or not found[0].exists:
            raise UnknownJobError(
                f"Job {job_id} is unknown to interface {self.name!r}: there is no job "
                f"directory {self.jobs.job_dir(job_id)!r} on {self.runner.host}."
            )
        return found  # type: ignore[return-value]

    # ---- the HardwareInterface API

    def submit_jobs(self, jobs: Sequence[Job]) -> dict[JobId, Optional[Exception]]:
        """Submit a batch in one remote command: job directories and inputs are created,
        and as many jobs start as there are free slots; the others wait, SUBMITTED.

        A job whose directory exists already (a resubmission) is left as it is: it
        never runs twice. Returns each job's outcome (None: submitted).
        """
        if not jobs:
            return {}
        inputs = {JobId(job.id): jobdir.format_input(job.data) for job in jobs}
        try:
            found = self._sync([], create=inputs)
        except Exception as exc:  # noqa: BLE001 - the whole batch met it
            return {job.id: exc for job in jobs}
        outcomes: dict[JobId, Optional[Exception]] = {}
        for job in jobs:
            entry = found.get(JobId(job.id))
            if entry is None or not entry[0].exists:
                outcomes[job.id] = RuntimeError(
                    f"job {job.id}: the job directory {self.jobs.job_dir(job.id)!r} was not "
                    f"created on {self.runner.host}"
                )
            else:
                outcomes[job.id] = None
        return outcomes

    def submit_job(self, job: Job) -> None:
        """Submit one job (see :meth:`submit_jobs`); raise what stopped it."""
        error = self.submit_jobs([job]).get(job.id)
        if error is not None:
            raise error

    def get_job_statuses(self, job_ids: Sequence[JobId]) -> dict[JobId, JobStatus]:
        """The statuses of many jobs from one remote command (which also starts queued
        jobs as slots free). Jobs without a job directory are left out, unless no job
        has one (then :class:`UnknownJobError` is raised)."""
        ids = [JobId(j) for j in job_ids]
        statuses = {j: self._finished[j].status for j in ids if j in self._finished}
        asked = [j for j in ids if j not in statuses]
        if not asked and not self._queued:
            return statuses
        found = self._sync(asked)
        missing = []
        for job_id in asked:
            entry = found.get(job_id)
            if entry is None or entry[1] is None:
                missing.append(job_id)
            else:
                statuses[job_id] = entry[1].status
        if missing and not statuses:
            raise UnknownJobError(
                f"Job {missing[0]} is unknown to interface {self.name!r}: there is no job "
                f"directory {self.jobs.job_dir(missing[0])!r} on {self.runner.host}."
            )
        return statuses

    def get_job_status(self, job_id: JobId) -> JobStatus:
        """The status of ``job_id``, read from its remote job directory."""
        job_id = JobId(job_id)
        if job_id in self._finished:
            return self._finished[job_id].status
        return self._state(job_id)[1].status

    def _final_state(self, job_id: JobId) -> JobState:
        job_id = JobId(job_id)
        state = self._finished.get(job_id)
        return state if state is not None else self._state(job_id)[1]

    def get_job_output(self, job_id: JobId) -> float:
        """The output of the completed job ``job_id``.

        Raises
        ------
        NoOutputError
            If the job has not completed (its status is in the error's ``status``).
        """
        return self._final_state(job_id).output_of(job_id)

    def failure_reason(self, job_id: JobId) -> Optional[str]:
        """Why ``job_id`` failed (exit code and stderr tail; None unless it failed)."""
        return self._final_state(job_id).reason

    def cancel_job(self, job_id: JobId) -> None:
        """Cancel ``job_id``: a queued job never starts; a running one's process group
        gets SIGTERM, then SIGKILL after :attr:`cancel_grace` s, and this returns once
        no process of it is left (one remote command).

        Raises
        ------
        JobAlreadyEndedError
            If the job had already ended (its status is in the error's ``status``).
        UnknownJobError
            If the job has no job directory.
        RuntimeError
            If processes of the job survived SIGKILL.
        """
        error = self.cancel_jobs([job_id])[JobId(job_id)]
        if error is not None:
            raise error

    def cancel_jobs(self, job_ids: Sequence[JobId]) -> dict[JobId, Optional[Exception]]:
        """Cancel many jobs in ONE remote command (see :meth:`cancel_job`); each id maps
        to None (cancelled) or the error :meth:`cancel_job` would raise for it. An
        unreachable host raises HostUnreachableError for the whole batch."""
        ids = [JobId(j) for j in job_ids]
        outcomes: dict[JobId, Optional[Exception]] = {}
        with self._lock:
            for job_id in ids:
                if job_id in self._finished:
                    status = self._finished[job_id].status
                    outcomes[job_id] = JobAlreadyEndedError(
                        f"Job {job_id} already ended with status {status.value}.", status)
            to_cancel = [j for j in ids if j not in outcomes]
            if not to_cancel:
                return outcomes
            self._prepare()
            results = self._remote(self.jobs.cancel, to_cancel, grace=self.cancel_grace)
            for job_id in to_cancel:
                outcomes[job_id] = self._settle_cancel(job_id, results.get(job_id))
        return outcomes

    def _settle_cancel(self, job_id: JobId, result) -> Optional[Exception]:
        """Book one job's cancel outcome; returns the error for it, if any."""
        if result is None or not result.before.exists:
            return UnknownJobError(
                f"Job {job_id} is unknown to interface {self.name!r}: there is no job "
                f"directory {self.jobs.job_dir(job_id)!r} on {self.runner.host}."
            )
        before = result.before.state
        self._queued.discard(job_id)
        self._launched_at.pop(job_id, None)
        if result.gone:
            self._holding.discard(job_id)
        if before.finished and before.status is not JobStatus.CANCELLED:
            self._finished[job_id] = before
            return JobAlreadyEndedError(
                f"Job {job_id} already ended with status {before.status.value}.",
                before.status,
            )
        if not result.gone:
            self._holding.add(job_id)
            return RuntimeError(
                f"Job {job_id}: processes of it are still running on {self.runner.host} "
                "after SIGKILL; check the host"
            )
        self._finished[job_id] = JobState(
            JobStatus.CANCELLED, pid=before.pid, started=before.started)
        return None

    def find_jobs(self, job_ids: Iterable[JobId]) -> set[JobId]:
        """The ids among ``job_ids`` that have a job directory on the host (one command)."""
        ids = [JobId(j) for j in job_ids]
        if not ids:
            return set()
        found = self._remote(self.jobs.sync, read=ids)
        return {j for j, job in found.items() if job.exists}

    def job_details(self, job_id: JobId) -> dict:
        """Host, job directory, pid, times, exit code and stdout/stderr tails of a job."""
        job, state = self._state(JobId(job_id), tails=True)
        return {
            "host": self.runner.host,
            "job_dir": self.jobs.job_dir(job_id),
            "status": state.status.value,
            "pid": state.pid,
            "started": state.started,
            "ended": state.ended,
            "exit_code": state.exit_code,
            "output": state.output,
            "reason": state.reason,
            "stdout_tail": jobdir.tail_text(job.files.get(STDOUT_FILE), jobdir.DETAILS_TAIL_LINES),
            "stderr_tail": jobdir.tail_text(job.files.get(STDERR_FILE), jobdir.DETAILS_TAIL_LINES),
        }

    @property
    def queued_jobs(self) -> list[JobId]:
        """Jobs waiting for a free slot, in the order they will start."""
        return sorted(self._queued)

    def close(self) -> None:
        """Close the SSH connection (jobs keep running on the host)."""
        if self._owns_runner:
            self.runner.close()
