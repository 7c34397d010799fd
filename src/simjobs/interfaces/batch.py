"""BatchInterface: runs simulator jobs through a batch scheduler, on a login node or
over SSH. What each scheduler spells differently is its :class:`.batch_dialect.BatchDialect`
(Slurm, PBS Pro/OpenPBS, LSF, Grid Engine); everything else is here, once.

Every job runs under the shared job wrapper in ``<workspace>/<job_id>/``, laid out by
:mod:`.jobdir` and handled through :class:`.remote_jobdir.RemoteJobDirs`, exactly as
for the local and SSH interfaces; the scheduler only decides *when and where* the
wrapper runs. The commands go through a :class:`.runner.CommandRunner`: a
:class:`.runner.LocalRunner` on a login node, or an SSH runner
(:func:`.runner.ssh_runner`) when the interface has SSH settings.

- Submit: the dialect's submit program with the job name ``simjobs-<job_id>``, run in
  the workspace, the scheduler's own output/error files in the job directory. A batch
  of several jobs is ONE job array, each task reading its job id from a tasks file at
  the line of its index. The same shell command that submits records each job's
  scheduler id in the dialect's id file, so a restart of simjobs finds it; a job
  directory holding an id (or whose wrapper has started, or that was cancelled) is
  never submitted again.
- ``max_jobs`` is how many jobs simjobs keeps in the scheduler's queue at once: jobs
  beyond it are held back by the interface (they count as SUBMITTED) and go out, as
  one array again, when polls find slots free; arrays also carry the scheduler's
  throttle where it has one.
- Status: ONE status command per poll for all of the user's jobs. A job is never
  concluded from its absence in that listing: the ids it did not list are asked about
  in ONE more command where the dialect has one. A job the scheduler no longer knows
  is settled from its wrapper's files (the exit code), then from accounting where it
  exists (found missing: asked again after :attr:`BatchInterface.accounting_retry`),
  else FAILED after :attr:`BatchInterface.files_grace`; such a job stays watched, and a
  late exit code corrects it (:meth:`BatchInterface.late_results`). A failing status
  command, or one whose output cannot be read, is
  :class:`.runner.HostUnreachableError`, never "job gone".
- A job the scheduler keeps queued though it is settled (Grid Engine's error state,
  :meth:`.batch_dialect.BatchDialect.stays_queued`) gets the cancelled marker and is
  deleted in the same poll.
- The batch script never hands the simulator's exit code to the scheduler (0 or 1
  only, ``batch_run.sh``): some codes mean something to it (Grid Engine 99, 100).
- States map to simjobs statuses in the dialect's one table, applied by
  :func:`.batch_dialect.resolve_batch_state`.
- Cancel: the cancelled marker (so a pending job never starts the simulator), then ONE
  cancel command for all of them. A held job that is pending cancel is never submitted:
  held jobs go out only when a poll asks about them, and the submit command skips any
  job with the marker.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import os
import shlex
import socket
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
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
from .args import check_interface_args, split_command
from .batch_dialect import BatchDialect, Row, UnreadableOutputError, resolve_batch_state
from .jobdir import (
    EXIT_CODE_FILE,
    STARTED_MARKER,
    STDERR_FILE,
    JobAlreadyEndedError,
    JobState,
    UnknownJobError,
)
from .local import resolve_command
from .remote_jobdir import (
    SPACE_FUNCTIONS,
    LateResults,
    RemoteJob,
    RemoteJobDirs,
    posix_cksum,
    quote_command,
)
from .runner import CommandResult, CommandRunner, HostUnreachableError, LocalRunner, SSHSettings
from .runner import ssh_runner
from .shell import shell_assignments, shell_file

logger = logging.getLogger("simjobs")

#: The directory in a workspace holding the tasks files of job arrays.
BATCH_META_DIR = ".simjobs-slurm"
#: Every job's scheduler job name starts with this, followed by its simjobs job id.
JOB_NAME_PREFIX = "simjobs-"
#: Seconds a status or submit command may take before the host counts as unreachable.
COMMAND_TIMEOUT = 120.0
#: Seconds a scheduler may say a job has ended before its exit code file must be
#: visible (a shared file system can show a file to the login node late).
FILES_GRACE = 30.0
#: Seconds before accounting that said it is not there (no accounting file) is asked
#: again: an administrator may turn it on, or the file may be back after a rotation.
ACCOUNTING_RETRY = 600.0
# The submit command's exit status when some job of the batch has a scheduler id already.
_EXIT_HAVE = 95


@dataclasses.dataclass
class TrackedJob:
    """What a batch interface knows of one job: one record per job, all of it here."""

    #: Its scheduler id (``1234``, ``1234_7``) once submitted or found on disk.
    sched_id: Optional[str] = None
    #: Created, waiting in simjobs' own queue for a slot in the scheduler's.
    held: bool = False
    #: Its final state once it has ended (never changes after, but for a late exit code).
    settled: Optional[JobState] = None
    #: When the scheduler first said it ended while its exit code was not visible yet.
    ended_since: Optional[float] = None
    #: The last status a poll answered for it.
    last_status: Optional[JobStatus] = None
    #: Epoch seconds just before this process submitted it (None: adopted from disk):
    #: it cannot have ended before, which narrows an accounting search.
    submitted_at: Optional[float] = None

    @property
    def active(self) -> bool:
        """In the scheduler's queue as far as simjobs knows (submitted, not ended)."""
        return self.sched_id is not None and self.settled is None

    @property
    def known(self) -> bool:
        """Tracked without reading its files: held, submitted or settled."""
        return self.held or self.sched_id is not None or self.settled is not None


class BatchInterface(HardwareInterface):
    """Runs jobs through a batch scheduler (see the module docstring for how).

    Subclasses set :attr:`dialect` and ``kind``; :class:`.slurm.SlurmInterface` is one.

    Parameters
    ----------
    name : str
        The interface's name, unique among a manager's interfaces.
    level : int
        The level of the jobs it runs.
    command : str or list of str
        The simulator, run as ``COMMAND INPUT_FILE OUTPUT_FILE`` on the compute node.
        Without ``ssh`` its program is resolved here (it must exist on this machine,
        as on a cluster's shared file system); with ``ssh`` it is taken as the remote
        side sees it.
    workspace : str or os.PathLike
        The directory holding the job directories, on a file system the compute nodes
        share; a path on the SSH host when ``ssh`` is given. Created when missing.
    queue : str, optional
        The scheduler's queue (Slurm's partition); its default when None.
    submit_args : sequence of str, optional
        More arguments of the submit program, e.g. ``["--time=00:10:00"]``.
    max_jobs : int, optional
        How many jobs simjobs keeps in the scheduler's queue at once (None: no limit).
    ssh : SSHSettings, optional
        Drive the cluster's login node over SSH instead of running the commands here.
    runner : CommandRunner, optional
        Where the commands run (overrides ``ssh``; for tests and custom transports).
    timeout : float, optional
        Seconds one command may take before the host counts as unreachable.

    Raises
    ------
    ValueError
        If an argument is invalid (one line naming it and the fix).
    """

    #: The scheduler's dialect (set by each subclass).
    dialect: BatchDialect = BatchDialect()
    #: The name of the queue option in messages and describe() ("partition" for Slurm).
    queue_word: str = "queue"
    #: The name of the submit arguments in messages ("sbatch_args" for Slurm).
    args_word: str = "submit_args"
    #: Seconds a scheduler may report a job ended before its exit code must be visible.
    files_grace: float = FILES_GRACE
    #: Seconds a job FAILED without an exit code is watched for a late one.
    late_watch: float = 7 * 24 * 3600.0
    #: Seconds before accounting found missing is asked about again.
    accounting_retry: float = ACCOUNTING_RETRY

    def __init__(
        self,
        name: str,
        level: int,
        command: Union[str, Sequence[str]],
        workspace: Union[str, os.PathLike],
        queue: Optional[str] = None,
        submit_args: Sequence[str] = (),
        max_jobs: Optional[int] = None,
        ssh: Optional[SSHSettings] = None,
        *,
        runner: Optional[CommandRunner] = None,
        timeout: float = COMMAND_TIMEOUT,
    ):
        check_interface_args(name, level, max_jobs)
        self._check_queue(name, queue)
        submit_args = self._check_submit_args(name, submit_args)
        super().__init__(name, level)
        what = f"The command of interface {name!r}"
        if ssh is None and runner is None:
            self._command = resolve_command(command, what=what)
        else:
            self._command = split_command(command, what=what)
        workspace_text = self._check_workspace(name, workspace)
        if ssh is None and runner is None:
            workspace_text = str(Path(workspace_text).expanduser().resolve())
        self._own_runner = runner is None
        if runner is None:
            if ssh is not None:
                runner = ssh_runner(ssh, interface=name)  # the transport the settings name
            else:
                runner = LocalRunner()
        self._runner = runner
        self._host = (socket.gethostname() or "localhost") if runner.host == "localhost" \
            else runner.host
        self._ssh = ssh
        self._queue = queue
        self._submit_args = submit_args
        self._max_jobs = max_jobs
        self._timeout = timeout
        self._workspace = workspace_text
        self._dirs = RemoteJobDirs(runner, workspace_text, timeout=timeout)
        self._health = InterfaceHealth()
        self._d = self.dialect
        #: The most tasks in one job array (a bigger batch goes out as several arrays).
        self.max_array_size = self._d.max_array_size
        self._jobs: dict[JobId, TrackedJob] = {}  # one record per job simjobs knows
        self._held: list[JobId] = []  # heap of held jobs' ids, oldest first (may be stale)
        self._accounting: Optional[bool] = None  # accounting usable? None: not asked yet
        # When accounting was found missing (None: never ask again).
        self._accounting_missing_at: Optional[float] = None
        self._unreadable = False  # the health says the status output was unreadable
        # Jobs settled while still in the scheduler's queue (Grid Engine's error state):
        # job id -> scheduler id, deleted at the end of the poll (again if it failed).
        self._to_remove: dict[JobId, str] = {}
        # FAILED without an exit code: watched, in case the wrapper records one after all
        self._provisional = LateResults(self.late_watch)
        self._ready = False

    def _check_queue(self, name: str, queue: Optional[str]) -> None:
        if queue is not None and (not isinstance(queue, str) or not queue.strip()
                                  or any(c.isspace() for c in queue)):
            raise ValueError(f"The {self.queue_word} of interface {name!r} must be a "
                             f"{self.queue_word} name such as \"debug\", not {queue!r}.")

    def _check_submit_args(self, name: str, args: Sequence[str]) -> tuple[str, ...]:
        if isinstance(args, (str, bytes)) or not all(isinstance(a, str) for a in args):
            raise ValueError(f"{self.args_word} of interface {name!r} must be a list of "
                             f"strings, e.g. [\"--time=00:10:00\"], not {args!r}.")
        own = self.dialect.own_options
        for arg in args:
            option = arg.split("=", 1)[0]
            if option not in own and self.dialect.glued_options \
                    and not option.startswith("--"):
                option = option[:2]  # -Jname, -o file.out
            if option in own:
                raise ValueError(
                    f"{self.args_word} of interface {name!r} must not contain {arg!r}: "
                    f"simjobs sets {own[option]} itself; remove it.")
        return tuple(args)

    def _check_workspace(self, name: str, workspace: object) -> str:
        text = os.fspath(workspace) if isinstance(workspace, (str, os.PathLike)) else None
        if not text or not text.strip():
            raise ValueError(f"The workspace of interface {name!r} must be a directory path, "
                             f"not {workspace!r}.")
        problem = self.dialect.check_workspace(text)
        if problem is not None:
            raise ValueError(f"The workspace {text!r} of interface {name!r} {problem}; "
                             "choose another directory.")
        return text

    # ---- public API

    @property
    def workspace(self) -> str:
        """(Read-only) The directory holding the job directories (on the login host)."""
        return self._workspace

    @property
    def host(self) -> str:
        """(Read-only) Where the scheduler's commands run: this machine's name, or
        ``user@host:port`` over SSH."""
        return self._host

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "host": self._host,
            self.queue_word: self._queue or "(default)",
            "max_jobs": self._max_jobs,
            "workspace": self._workspace,
            "command": shlex.join(self._command),
        }

    def submit_job(self, job: Job) -> None:
        """Submit one job (or hold it while the queue is full).

        Raises
        ------
        HostUnreachableError
            If the host or the scheduler cannot be reached (nothing was submitted).
        RuntimeError
            If the scheduler rejected the job (its message says why).
        """
        error = self.submit_jobs([job]).get(JobId(job.id))
        if error is not None:
            raise error

    def submit_jobs(self, jobs: Sequence[Job]) -> dict[JobId, Optional[Exception]]:
        """Submit many jobs: their directories in one command, then ONE submit (a job
        array when there are several) for as many as ``max_jobs`` lets into the queue;
        the others are held and go out as slots free. Returns each job's error (None:
        submitted or held)."""
        outcomes: dict[JobId, Optional[Exception]] = {}
        inputs = {JobId(j.id): jobdir.format_input(j.data) for j in jobs}
        if not inputs:
            return outcomes
        try:
            self._prepare()
            found = self._dirs.sync(create=inputs, extra_files=(self._d.id_file,))
        except Exception as exc:  # noqa: BLE001 - the whole batch met it
            return {job_id: self._command_error(exc) for job_id in inputs}
        for job_id in inputs:
            remote = found.get(job_id)
            if remote is None or not remote.exists:
                outcomes[job_id] = RuntimeError(
                    f"the job directory of job {job_id} could not be created in "
                    f"{self._workspace!r} on {self.host}")
                continue
            outcomes[job_id] = None
            if remote.created:
                self._hold(job_id)
            else:
                self._adopt(job_id, remote)  # submitted again: never submit it twice
        errors = self._release(set(inputs), overtake=False)
        for job_id, exc in errors.items():
            if job_id in outcomes:
                self._unhold(job_id)  # the manager retries the submit
                outcomes[job_id] = exc
            elif not isinstance(exc, HostUnreachableError):
                self._settle(job_id, JobState(JobStatus.FAILED, reason=str(exc)))
        return outcomes

    def get_job_status(self, job_id: JobId) -> JobStatus:
        """The status of ``job_id`` (one status command, plus its files when it ended).

        Raises
        ------
        UnknownJobError
            If the job has no job directory.
        HostUnreachableError
            If the scheduler (or the host) cannot be reached.
        """
        job_id = JobId(job_id)
        statuses = self.get_job_statuses([job_id])
        record = self._jobs.get(job_id)
        if job_id not in statuses and record is not None and record.sched_id is not None:
            # The scheduler has it but gave no clear answer this time: its last status.
            return record.last_status or JobStatus.SUBMITTED
        if job_id not in statuses:
            raise self._unknown(job_id)
        return statuses[job_id]

    def get_job_statuses(self, job_ids: Sequence[JobId]) -> dict[JobId, JobStatus]:
        """The statuses of many jobs: ONE status command for all of them, plus one read
        of the job directories of jobs that left the queue or are not known yet; then
        held jobs go out if the queue has room. Jobs without a job directory (or in a
        state simjobs does not know) are left out: their last status stands.

        Raises
        ------
        HostUnreachableError
            If the scheduler or the host cannot be reached; it never means "job gone".
        """
        asked = [JobId(j) for j in job_ids]
        states = self._states(asked)
        for job_id, exc in self._release(set(asked)).items():
            if not isinstance(exc, HostUnreachableError):  # rejected for good
                self._settle(job_id, JobState(JobStatus.FAILED, reason=str(exc)))
                if job_id in states:
                    states[job_id] = self._jobs[job_id].settled
        answer = {job_id: state.status for job_id, state in states.items()}
        for job_id, status in answer.items():
            self._record(job_id).last_status = status
        return answer

    def get_job_output(self, job_id: JobId) -> float:
        """The output of the completed job ``job_id``.

        Raises
        ------
        NoOutputError
            If the job has not completed (its status is in the error's ``status``).
        """
        return self._state_of(JobId(job_id)).output_of(job_id)

    def failure_reason(self, job_id: JobId) -> Optional[str]:
        """Why ``job_id`` failed: the scheduler's state (a time limit...) or the exit
        code with the tail of stderr (None unless it failed)."""
        return self._state_of(JobId(job_id)).reason

    def cancel_job(self, job_id: JobId) -> None:
        """Cancel ``job_id``: write the cancelled marker (a pending job never starts the
        simulator), then cancel it in the scheduler. CANCELLED from then on.

        Raises
        ------
        JobAlreadyEndedError
            If the job had already completed or failed.
        UnknownJobError
            If the job has no job directory.
        HostUnreachableError
            If the cancel could not reach the scheduler (the cancel is retried).
        """
        error = self.cancel_jobs([job_id])[JobId(job_id)]
        if error is not None:
            raise error

    def cancel_jobs(self, job_ids: Sequence[JobId]) -> dict[JobId, Optional[Exception]]:
        """Cancel many jobs with three commands at most, whatever their number: the
        cancelled markers (one command), the scheduler ids not known yet (one read), one
        cancel command for all of them. Each id maps to None (cancelled) or the error
        :meth:`cancel_job` would raise for it; an unreachable scheduler raises
        HostUnreachableError for the whole batch (the manager retries it)."""
        ids = [JobId(j) for j in job_ids]
        outcomes: dict[JobId, Optional[Exception]] = {}
        for job_id in ids:
            settled = self._settled(job_id)
            if settled is not None and settled.status is not JobStatus.CANCELLED:
                outcomes[job_id] = JobAlreadyEndedError(
                    f"Job {job_id} already ended with status {settled.status.value}.",
                    settled.status)
        todo = [j for j in ids if j not in outcomes]
        if not todo:
            return outcomes
        sched_ids = self._mark_cancelled(todo, outcomes)
        errors = self._cancel(sched_ids) if sched_ids else {}
        for job_id in todo:
            if job_id in outcomes:
                continue
            outcomes[job_id] = errors.get(job_id)
            if job_id not in errors:
                self._settle(job_id, JobState(JobStatus.CANCELLED, reason="cancelled by simjobs"))
        return outcomes

    def find_jobs(self, job_ids: Iterable[JobId]) -> set[JobId]:
        """The ids among ``job_ids`` that have a job directory (one command)."""
        ids = [JobId(j) for j in job_ids]
        known = {j for j in ids if (r := self._jobs.get(j)) is not None and r.known}
        rest = [j for j in ids if j not in known]
        if rest:
            found = self._dirs.read_jobs(rest, extra_files=(self._d.id_file,))
            known |= {j for j, remote in found.items() if remote.exists}
        return known

    def job_details(self, job_id: JobId) -> dict:
        """Scheduler id and state, node, job directory, host, times, exit code and the
        stdout/stderr tails of a job (two commands: its files, the scheduler's view).

        It only reads the interface's bookkeeping, so the app may call it from its own
        thread while the manager's worker polls."""
        job_id = JobId(job_id)
        remote = self._dirs.read_jobs([job_id], extra_files=(self._d.id_file,
                                                             self._d.stderr_file),
                                      tails=True).get(job_id)
        if remote is None or not remote.exists:
            raise self._unknown(job_id)
        record = self._jobs.get(job_id) or TrackedJob()
        sched_id = record.sched_id or self._d.valid_id(remote.files.get(self._d.id_file))
        info: dict[str, Optional[str]] = {}
        if sched_id is not None:
            try:
                result = self._runner.run(self._d.details_command(sched_id),
                                          timeout=self._timeout)
                if result.ok:
                    info = self._d.parse_details(result.text(), sched_id)
            except HostUnreachableError:
                pass  # details without the scheduler's part
        files = remote.files
        if record.settled is not None:
            state = record.settled
        elif record.held:
            state = JobState(JobStatus.SUBMITTED)
        else:
            row = (info["state"], info.get("reason") or "") if info.get("state") else None
            state = resolve_batch_state(self._d, row, files, files_overdue=False) \
                or jobdir.job_state_from_files(files, alive=None)
        on_disk = jobdir.job_state_from_files(files, alive=None)  # times, even if settled
        prefix = self._d.kind
        return {
            "host": self._host,
            "job_dir": self._dirs.job_dir(job_id),
            "scheduler": self._d.label,
            f"{prefix}_job_id": sched_id,
            f"{prefix}_state": info.get("state"),
            f"{prefix}_reason": info.get("reason"),
            "node": info.get("node"),
            self.queue_word: info.get("queue") or self._queue,
            "status": state.status.value,
            "pid": on_disk.pid,
            "started": on_disk.started,
            "ended": on_disk.ended,
            "exit_code": on_disk.exit_code,
            "output": state.output,
            "reason": state.reason,
            "stdout_tail": jobdir.tail_text(files.get(jobdir.STDOUT_FILE),
                                            jobdir.DETAILS_TAIL_LINES),
            "stderr_tail": jobdir.tail_text(files.get(STDERR_FILE), jobdir.DETAILS_TAIL_LINES),
        }

    def close(self) -> None:
        """Close the runner's connection (jobs keep running in the scheduler)."""
        if self._own_runner:
            self._runner.close()

    # ---- late results: a FAILED job whose wrapper records an exit code after all

    @property
    def watching_late_results(self) -> bool:
        return self._provisional.active

    def late_results(self) -> dict[JobId, JobStatus]:
        """Jobs settled FAILED without an exit code whose wrapper has recorded one since
        (see :meth:`HardwareInterface.late_results`); reads their directories (one
        command) unless a poll has just done so."""
        late = self._provisional
        if late.needs_read:
            watched = late.watched()
            if watched:
                self._correct(late.check(self._read(watched), watched))
        return late.take()

    # ---- commands

    def _run(self, command: str, what: str, input: Optional[bytes] = None) -> CommandResult:
        """Run a scheduler command; an unreachable host or server raises
        :class:`HostUnreachableError` (and sets the health)."""
        try:
            result = self._runner.run(command, input=input, timeout=self._timeout)
        except HostUnreachableError as exc:
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=str(exc))
            raise
        if not result.ok and (self._d.unreachable.search(result.error_text(1000))
                              or result.exit_status == -1):
            message = (f"{what} on {self.host} cannot reach {self._d.label} "
                       f"({result.error_text()}); check that {self._d.server_check}")
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=message)
            raise HostUnreachableError(message)
        return result

    def _command_error(self, exc: Exception) -> Exception:
        if isinstance(exc, HostUnreachableError):
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=str(exc))
        return exc

    def _unknown(self, job_id: JobId) -> UnknownJobError:
        return UnknownJobError(f"Job {job_id} is unknown to interface {self.name!r}: "
                               f"it has no job directory in {self._workspace!r}.")

    def _prepare(self) -> None:
        """Install the wrapper into the workspace (creating it): once."""
        if not self._ready:
            self._dirs.install_wrapper()
            self._ready = True

    def _read(self, job_ids: Sequence[JobId], tails: bool = False) -> dict[JobId, RemoteJob]:
        self._prepare()
        try:
            return self._dirs.read_jobs(job_ids, extra_files=(self._d.id_file,
                                                              self._d.stderr_file),
                                        tails=tails)
        except HostUnreachableError as exc:
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=str(exc))
            raise

    def _status_rows(self, wanted: set[str]) -> dict[str, Row]:
        """ONE status command for all of the user's jobs: the rows of ``wanted``."""
        program = self._d.status_program
        result = self._run(self._d.status_command(sorted(wanted)), program)
        if not self._d.status_ok(result):
            message = (f"{program} failed on {self.host} (exit status {result.exit_status}): "
                       f"{result.error_text()}; jobs keep their last known status")
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=message)
            raise HostUnreachableError(message)
        try:
            rows = self._d.parse_status(result.text(), wanted)
        except UnreadableOutputError as exc:
            # Never "every job gone": no answer, and the jobs keep their last status.
            message = (f"unreadable {program} output on {self.host} ({exc}); jobs keep "
                       "their last known status")
            self._health = InterfaceHealth(HEALTH_DEGRADED, message=message)
            self._unreadable = True
            raise HostUnreachableError(message) from exc
        if self._health.state == HEALTH_UNREACHABLE or self._unreadable:
            self._health = InterfaceHealth(HEALTH_OK)  # (degraded waits for a good submit)
        self._unreadable = False
        return rows

    def _lookup(self, sched_ids: Sequence[str]) -> tuple[dict[str, Row], set[str]]:
        """Ask the scheduler about jobs its listing did not show (ONE command): the rows
        found, and the ids it said it does not know (gone)."""
        command = self._d.lookup_command(sched_ids)
        if command is None:
            return {}, set(sched_ids)
        result = self._run(command, self._d.lookup_program)
        return self._d.parse_lookup(result.text(), sched_ids)

    def _accounted(self, purged: Sequence[JobId]) -> dict[str, Row]:
        """Final rows of jobs the scheduler has purged, from accounting (empty without).
        When this process submitted every one of them, none ended before the earliest
        submit: the accounting command may search from then on only."""
        if not purged:
            return {}
        sched_ids = [self._jobs[j].sched_id for j in purged]
        submitted = [self._jobs[j].submitted_at for j in purged]
        since = None if None in submitted else min(submitted)
        if self._accounting is False and (
                self._accounting_missing_at is None
                or time.monotonic() - self._accounting_missing_at < self.accounting_retry):
            return {}
        command = self._d.accounting_command(sched_ids, since)
        if command is None:
            self._accounting = False  # the scheduler has none: never asked
            self._accounting_missing_at = None
            return {}
        try:
            result = self._runner.run(command, timeout=self._timeout)
        except HostUnreachableError:
            return {}
        rows = self._d.parse_accounting(result)
        if rows is None:
            # Not there now (no accounting file): asked again after accounting_retry.
            self._accounting = False
            self._accounting_missing_at = time.monotonic()
            return {}
        if result.ok:
            self._accounting = True
        return rows

    def _cancel(self, sched_ids: dict[JobId, str]) -> dict[JobId, Exception]:
        """One cancel command for every id; when it reports a real error, each id is
        cancelled on its own to tell which job the error belongs to."""
        program = self._d.cancel_program

        def failed(result: CommandResult) -> Optional[str]:
            text = result.error_text()
            lines = [line for line in text.split(" | ") if line.strip()]
            if result.ok or (lines and all(self._d.cancel_tolerated.search(line)
                                           for line in lines)):
                return None
            return text or f"exit status {result.exit_status}"

        if failed(self._run(self._d.cancel_command(list(sched_ids.values())), program)) is None:
            return {}
        errors: dict[JobId, Exception] = {}
        for job_id, sched_id in sched_ids.items():
            text = failed(self._run(self._d.cancel_command([sched_id]), program))
            if text is not None:
                errors[job_id] = RuntimeError(f"{program} {sched_id} failed on {self.host}: "
                                              f"{text}")
        return errors

    def _mark_cancelled(self, todo: list[JobId],
                        outcomes: dict[JobId, Optional[Exception]]) -> dict[JobId, str]:
        """Write the cancelled markers of ``todo`` (one command); returns the scheduler
        ids to cancel (read from the job directories when not known yet, one more
        command), with the errors of jobs that cannot be cancelled in ``outcomes``."""
        self._prepare()
        marked = self._dirs.cancel(todo, signal_group=False)
        sched_ids: dict[JobId, str] = {}
        look_up: list[JobId] = []
        for job_id in todo:
            outcome = marked.get(job_id)
            if outcome is None or not outcome.before.exists:
                outcomes[job_id] = self._unknown(job_id)
                continue
            before = outcome.before.state
            if before.status in (JobStatus.COMPLETED, JobStatus.FAILED):
                self._settle(job_id, before)
                outcomes[job_id] = JobAlreadyEndedError(
                    f"Job {job_id} already ended with status {before.status.value}.",
                    before.status)
                continue
            record = self._jobs.get(job_id) or TrackedJob()
            was_held = record.held
            self._unhold(job_id)
            if record.sched_id is not None:
                sched_ids[job_id] = record.sched_id
            elif not was_held:  # not adopted yet: its file says
                look_up.append(job_id)
        if look_up:
            found = self._read(look_up)
            for job_id in look_up:
                remote = found.get(job_id)
                sched_id = self._d.valid_id(remote.files.get(self._d.id_file)) \
                    if remote else None
                if sched_id is not None:
                    sched_ids[job_id] = sched_id
        return sched_ids

    # ---- job bookkeeping: one TrackedJob per job in self._jobs

    def _record(self, job_id: JobId) -> TrackedJob:
        record = self._jobs.get(job_id)
        if record is None:
            record = self._jobs[job_id] = TrackedJob()
        return record

    def _settled(self, job_id: JobId) -> Optional[JobState]:
        record = self._jobs.get(job_id)
        return record.settled if record is not None else None

    def _active_count(self) -> int:
        return sum(1 for record in self._jobs.values() if record.active)

    def _hold(self, job_id: JobId) -> None:
        record = self._record(job_id)
        if not record.held:
            record.held = True
            heapq.heappush(self._held, job_id)

    def _unhold(self, job_id: JobId) -> None:
        record = self._jobs.get(job_id)
        if record is not None:
            record.held = False  # its heap entry is skipped when popped

    def _settle(self, job_id: JobId, state: JobState, watch: bool = False) -> None:
        record = self._record(job_id)
        record.settled = state
        record.held = False
        record.ended_since = None
        if watch and state.status is JobStatus.FAILED and state.exit_code is None:
            # Concluded without the wrapper's word: watch for a late exit code.
            self._provisional.watch(job_id)

    def _correct(self, corrections: dict[JobId, JobState]) -> None:
        """Late exit codes found for settled jobs replace their settled states."""
        for job_id, state in corrections.items():
            self._record(job_id).settled = state

    def _adopt(self, job_id: JobId, remote: RemoteJob) -> None:
        """Take over a job found on disk (after a restart, or submitted again)."""
        if not remote.exists:
            return
        files = remote.files
        sched_id = self._d.valid_id(files.get(self._d.id_file))
        if sched_id is not None:
            self._record(job_id).sched_id = sched_id
        from_files = jobdir.job_state_from_files(files, alive=None)
        if from_files.status is JobStatus.CANCELLED or files.get(EXIT_CODE_FILE) is not None:
            self._settle(job_id, from_files)
        elif sched_id is None and files.get(self._d.id_file) is None \
                and files.get(STARTED_MARKER) is None:
            self._hold(job_id)  # created but never sent to the scheduler
        # Otherwise (an id being written, or a wrapper started without a recorded id):
        # neither held nor tracked, so its files are read again at every poll.

    def _state_of(self, job_id: JobId) -> JobState:
        settled = self._settled(job_id)
        if settled is not None:
            return settled
        states = self._states([job_id])
        if job_id not in states:
            raise self._unknown(job_id)
        return states[job_id]

    # ---- a poll, in steps: _states runs them in order

    def _states(self, job_ids: list[JobId]) -> dict[JobId, JobState]:
        """The states of ``job_ids``: one status command, plus one read of the job
        directories that must be read (and one accounting command, where accounting
        exists, for purged jobs)."""
        job_ids = list(dict.fromkeys(job_ids))
        read = self._adopt_unknown(job_ids)
        tracked = [j for j in job_ids if (r := self._jobs.get(j)) is not None and r.active]
        rows, tracked = self._queue_rows(tracked, read)
        states: dict[JobId, JobState] = {}
        ended = self._note_queued(tracked, rows, states)
        if ended:
            self._read_ended(ended, rows, read)
            self._conclude(ended, rows, read, states)
        self._answer_rest(job_ids, read, states)
        if self._to_remove:
            self._remove_settled()
        return states

    def _remove_settled(self) -> None:
        """Delete from the scheduler's queue the jobs settled while still in it (Grid
        Engine's error state, which an administrator could clear, running the job long
        after simjobs called it Failed): the cancelled marker first, so that it can
        never run the simulator, then ONE cancel command. Their settled state (and its
        reason) stays; an unreachable scheduler leaves them for the next poll."""
        todo = dict(self._to_remove)
        try:
            self._dirs.cancel(list(todo), signal_group=False)
            errors = self._cancel(todo)
        except Exception as exc:  # noqa: BLE001 - settled already: retried next poll
            logger.warning("simjobs: %s: could not delete %d job(s) in error from the %s "
                           "queue yet (%s); trying again at the next poll", self.name,
                           len(todo), self._d.label, exc)
            return
        for job_id, exc in errors.items():
            logger.warning("simjobs: %s: job %s: %s", self.name, job_id, exc)
        for job_id in todo:
            self._to_remove.pop(job_id, None)

    def _adopt_unknown(self, job_ids: list[JobId]) -> dict[JobId, RemoteJob]:
        """Read and adopt the jobs simjobs has no record of (after a restart)."""
        unknown = [j for j in job_ids if (r := self._jobs.get(j)) is None or not r.known]
        if not unknown:
            return {}
        read = self._read(unknown)
        for job_id, remote in read.items():
            self._adopt(job_id, remote)
        return read

    def _queue_rows(self, tracked: list[JobId], read: dict[JobId, RemoteJob]
                    ) -> tuple[dict[str, Row], list[JobId]]:
        """The scheduler's rows for the tracked jobs (one status command), and the
        tracked jobs this poll can say something about.

        A job is never concluded from its absence in one listing: the scheduler is
        asked about the missing ones (one command); those it still has keep their
        answer, those it could not say anything about are left out of this poll. Their
        files first: a job whose wrapper recorded its exit code (or that was cancelled,
        or lost its directory) needs no word from the scheduler, so a restart after it
        purged many finished jobs costs one read, not a command per job."""
        if not tracked:
            return {}, tracked
        sched = {j: self._jobs[j].sched_id for j in tracked}
        rows = self._status_rows(set(sched.values()))
        absent = [j for j in tracked if sched[j] not in rows]
        if not absent:
            return rows, tracked
        read.update(self._read([j for j in absent if j not in read]))
        unsure = {sched[j] for j in absent
                  if (r := read.get(j)) is not None and r.exists
                  and r.files.get(EXIT_CODE_FILE) is None
                  and r.files.get(jobdir.CANCELLED_FILE) is None}
        if unsure:
            found, gone = self._lookup(sorted(unsure))
            rows.update(found)
            tracked = [j for j in tracked if sched[j] not in unsure
                       or sched[j] in rows or sched[j] in gone]
        return rows, tracked

    def _note_queued(self, tracked: list[JobId], rows: dict[str, Row],
                     states: dict[JobId, JobState]) -> list[JobId]:
        """Answer the jobs still waiting or running in the scheduler; returns those
        that ended (or that the scheduler no longer knows)."""
        ended: list[JobId] = []
        for job_id in tracked:
            record = self._jobs[job_id]
            row = rows.get(record.sched_id)
            mapped = self._d.status_of(row[0]) if row else None
            if mapped in (JobStatus.SUBMITTED, JobStatus.RUNNING):
                states[job_id] = JobState(mapped)
                record.ended_since = None
            elif row is not None and mapped is None:
                logger.warning("simjobs: %s: job %s has %s state %r, which simjobs does "
                               "not know; keeping its last status", self.name, job_id,
                               self._d.label, row[0])
            else:
                ended.append(job_id)
        return ended

    def _read_ended(self, ended: list[JobId], rows: dict[str, Row],
                    read: dict[JobId, RemoteJob]) -> None:
        """Read the files of the ended jobs not read yet (into ``read``).

        A job the scheduler killed (a time limit...) has no exit code, so its stderr
        comes only with the tails; the others are read without them (cheaper: no
        stdout). Jobs FAILED without an exit code ride along with the first read, for
        a late exit code."""
        missing = [j for j in ended if j not in read]
        killed = [j for j in missing if self._d.killed(rows.get(self._jobs[j].sched_id))]
        watched = self._provisional.watched()
        plain = [j for j in missing if j not in killed]
        for group, tails in (([*plain, *watched], False), (killed, True)):
            if group:
                read.update(self._read(group, tails=tails))
        if watched:
            self._correct(self._provisional.check(read, watched))

    def _conclude(self, ended: list[JobId], rows: dict[str, Row],
                  read: dict[JobId, RemoteJob], states: dict[JobId, JobState]) -> None:
        """The states of the jobs that left the scheduler's queue, from its word (or
        accounting's, for jobs it has purged) and their files; settles the final ones."""
        purged = [j for j in ended if self._jobs[j].sched_id not in rows
                  and read.get(j) is not None and read[j].files.get(EXIT_CODE_FILE) is None]
        accounted = self._accounted(purged) if purged else {}
        now = time.monotonic()
        lost: list[JobId] = []  # FAILED just now without an exit code
        for job_id in ended:
            remote = read.get(job_id)
            if remote is None:
                continue  # not read: no answer
            sched_id = self._jobs[job_id].sched_id
            row = rows.get(sched_id) or accounted.get(sched_id)
            state, watch = self._conclude_one(job_id, remote, row, now)
            if state is None:
                continue
            if state.finished and self._d.stays_queued(row):
                self._to_remove[job_id] = sched_id
            if state.finished:
                if watch and state.status is JobStatus.FAILED and state.exit_code is None:
                    lost.append(job_id)
                self._settle(job_id, state, watch=watch)
            states[job_id] = state
        if lost:
            self._name_full_disk(lost, states)

    def _conclude_one(self, job_id: JobId, remote: RemoteJob, row: Optional[Row],
                      now: float) -> tuple[Optional[JobState], bool]:
        """One ended job's state (None: no answer this poll), and whether a FAILED one
        without an exit code is watched for a late one (not when the scheduler killed
        it)."""
        record = self._jobs[job_id]
        if not remote.exists:
            # Ended in the scheduler and its directory removed: lost, never an endless wait.
            return JobState(JobStatus.FAILED, reason=(
                f"its job directory {self._dirs.job_dir(job_id)} was removed "
                f"({self._d.label} state {row[0] if row else 'unknown'}); its output is "
                "lost")), False
        if record.ended_since is None:
            record.ended_since = now
        state = resolve_batch_state(self._d, row, remote.files,
                                    files_overdue=now - record.ended_since >= self.files_grace)
        if state is not None and state.finished and remote.files.get(STARTED_MARKER) is None:
            # Its wrapper never started: check the installed one again.
            self._dirs.check_install_again()
            self._ready = False
        return state, not self._d.killed(row)

    def _answer_rest(self, job_ids: list[JobId], read: dict[JobId, RemoteJob],
                     states: dict[JobId, JobState]) -> None:
        """Settled and held jobs, and jobs on disk that simjobs does not track."""
        for job_id in job_ids:
            record = self._jobs.get(job_id) or TrackedJob()
            if record.settled is not None:
                states[job_id] = record.settled
            elif record.held:
                states[job_id] = JobState(JobStatus.SUBMITTED)
            elif job_id not in states and job_id in read and read[job_id].exists:
                # On disk but neither held nor with a scheduler id: its files tell.
                states[job_id] = jobdir.job_state_from_files(read[job_id].files, alive=None)

    def _name_full_disk(self, lost: list[JobId], states: dict[JobId, JobState]) -> None:
        """Jobs just FAILED without an exit code: when the workspace's disk is full, say
        so in their reason (one command, only then)."""
        try:
            free = self._dirs.free_space()
        except Exception:  # noqa: BLE001 - the reason is a courtesy
            return
        if free != 0:
            return
        note = (f"; no space left on the remote workspace {self._workspace} on {self.host} "
                "(df: 0 B free)")
        for job_id in lost:
            record = self._jobs[job_id]
            record.settled = states[job_id] = dataclasses.replace(
                record.settled, reason=(record.settled.reason or "") + note)

    # ---- submit

    def _release(self, only: Optional[set[JobId]] = None,
                 overtake: bool = True) -> dict[JobId, Exception]:
        """Send held jobs to the scheduler while the queue has room: one submit (a job
        array when several, split only beyond :attr:`max_array_size`). Returns the error
        of each job that did not go out: a :class:`HostUnreachableError` leaves it held,
        a rejection does not (a busy scheduler, refusing more jobs for now, leaves it
        held with no error).

        Only the held jobs in ``only`` go out when it is given: the jobs the caller
        asked about, which leaves out those the manager is cancelling (a job pending
        cancel is never submitted). With ``overtake`` False the first held job not in
        ``only`` stops the release (new jobs never overtake older held ones)."""
        batch = self._take_held(only, overtake)
        errors: dict[JobId, Exception] = {}
        size = max(1, self.max_array_size)
        for start in range(0, len(batch), size):
            chunk = batch[start:start + size]
            if errors:  # an earlier chunk failed: the rest waits for the next try
                for job_id in chunk:
                    self._hold(job_id)
                continue
            errors.update(self._submit_chunk(chunk))
        return errors

    def _take_held(self, only: Optional[set[JobId]], overtake: bool) -> list[JobId]:
        """The held jobs that go out now, oldest first, as many as the queue has room
        for (no longer held)."""
        room = sum(1 for r in self._jobs.values() if r.held) if self._max_jobs is None \
            else self._max_jobs - self._active_count()
        batch: list[JobId] = []
        skipped: list[JobId] = []
        while self._held and len(batch) < room:
            job_id = heapq.heappop(self._held)
            if not self._jobs[job_id].held:
                continue  # a stale heap entry
            if only is not None and job_id not in only:
                skipped.append(job_id)
                if not overtake:
                    break
                continue
            self._jobs[job_id].held = False
            batch.append(job_id)
        for job_id in skipped:
            heapq.heappush(self._held, job_id)
        return batch

    def _submit_chunk(self, chunk: list[JobId]) -> dict[JobId, Exception]:
        before = time.time()
        try:
            sched_id = self._submit(chunk)
        except _AlreadySubmitted as exc:
            # An earlier submit of these went through after all (its answer was lost):
            # take the recorded ids, and submit only the others.
            for job_id, recorded in exc.sched_ids.items():
                self._adopt_recorded(job_id, recorded)
            rest = [j for j in chunk if j not in exc.sched_ids]
            return self._submit_chunk(rest) if rest else {}
        except (HostUnreachableError, _SchedulerBusy) as exc:
            for job_id in chunk:
                self._hold(job_id)
            if isinstance(exc, _SchedulerBusy):
                self._health = InterfaceHealth(HEALTH_DEGRADED, message=str(exc))
                return {}  # they wait in simjobs' queue: not an error for anyone
            return {job_id: exc for job_id in chunk}
        except RuntimeError as exc:
            self._health = InterfaceHealth(HEALTH_DEGRADED, message=str(exc))
            return {job_id: exc for job_id in chunk}
        if len(chunk) == 1:
            self._record(chunk[0]).sched_id = sched_id
        else:
            first = self._d.first_index
            for index, job_id in enumerate(chunk):
                self._record(job_id).sched_id = self._d.task_id(sched_id, first + index)
        for job_id in chunk:
            self._record(job_id).submitted_at = before
        if not self._health.ok:
            self._health = InterfaceHealth(HEALTH_OK)
        return {}

    def _adopt_recorded(self, job_id: JobId, recorded: str) -> None:
        sched_id = self._d.valid_id(recorded.encode())
        if sched_id is not None:
            self._record(job_id).sched_id = sched_id
        # An id being written: neither held nor tracked, so polls read its files.

    def _submit(self, batch: list[JobId]) -> str:
        """Submit ``batch`` with one submit and record the scheduler ids in the job
        directories in that same command; returns the (array) job id.

        The command first looks for recorded ids in the job directories: if any job
        has one (an earlier submit went through but its answer was lost), nothing is
        submitted and :class:`_AlreadySubmitted` says which."""
        command, script = self._submit_command(batch)
        result = self._run(command, self._d.submit_program, input=script.encode("utf-8"))
        if result.ok:
            for line in result.text().splitlines():
                if line.startswith("batch-id "):
                    sched_id = line.split(" ", 1)[1].strip()
                    # An array's id must give valid task ids, a single job's be one.
                    probe = sched_id if len(batch) == 1 else self._d.task_id(
                        sched_id, self._d.first_index)
                    if self._d.valid_id(probe.encode()) is None:
                        raise RuntimeError(
                            f"{self._d.submit_program} on {self.host} answered a job id "
                            f"simjobs cannot read ({sched_id!r}); check that it is the "
                            f"{self._d.label} {self._d.submit_program}")
                    return sched_id
        raise self._submit_error(result, batch)

    def _submit_command(self, batch: list[JobId]) -> tuple[str, str]:
        """The submit command for ``batch`` and the batch script it reads on stdin."""
        # The shell code is in batch_submit.sh (with the dialect's <kind>_submit_cmd
        # and <kind>_task_id), batch_job.sh and batch_array.sh; the values reach it as shell
        # variables assigned (quoted) at the top.
        d = self._d
        ids = " ".join(str(j) for j in batch)
        common = {"wrapper": self._dirs.wrapper_name, "run": quote_command(self._command),
                  "f_exit_code": EXIT_CODE_FILE, "submit_dir_var": d.submit_dir_var}
        values = {"workspace": self._dirs.workspace, "ids": ids,
                  "f_cancelled": jobdir.CANCELLED_FILE, "f_sched_id": d.id_file,
                  "f_sched_stdout": d.stdout_file, "f_sched_stderr": d.stderr_file,
                  "task_output": d.task_output, "first_index": d.first_index,
                  "dialect": d.kind,
                  "exit_have": _EXIT_HAVE}
        if len(batch) == 1:
            (job_id,) = batch
            options = d.submit_options(f"{JOB_NAME_PREFIX}{job_id}", self._queue,
                                       self._submit_args, 0, None)
            call = f"submit_job {job_id}"
            script = ("#!/bin/sh\n"
                      f"# simjobs job {job_id}\n"
                      + shell_assignments(job_id=job_id, **common)
                      + shell_file("batch_run.sh") + shell_file("batch_job.sh"))
        else:
            token = f"array-{batch[0]}-{len(batch)}-{os.getpid()}-{time.time_ns()}"
            tasks = f"{BATCH_META_DIR}/{token}.tasks"
            options = d.submit_options(f"{JOB_NAME_PREFIX}{batch[0]}-{batch[-1]}",
                                       self._queue, self._submit_args, len(batch),
                                       self._max_jobs)
            listing = "".join(f"{j}\n" for j in batch).encode()
            values.update(tasks=tasks, tasks_size=len(listing),
                          tasks_cksum=posix_cksum(listing))
            call = 'submit_array "$ids" "$tasks" "$tasks_size" "$tasks_cksum"'
            script = (
                "#!/bin/sh\n"
                f"# simjobs array of {len(batch)} jobs: the job of task N is line "
                f"N-{d.first_index}+1 of {tasks}\n"
                + shell_assignments(tasks=tasks, f_sched_stdout=d.stdout_file,
                                    f_sched_stderr=d.stderr_file, task_index_var=d.task_index_var,
                                    first_index=d.first_index, **common)
                + shell_file("batch_run.sh") + shell_file("batch_array.sh"))
        values["submit_options"] = shlex.join(options)
        command = ("unset CDPATH\n" + shell_assignments(**values) + SPACE_FUNCTIONS
                   + shell_file(d.submit_file) + shell_file("batch_submit.sh")
                   + "enter_workspace\n" + 'check_unsubmitted "$ids"\n'
                   + call + "\nprintf 'batch-id %s\\n' \"$id\"\n")
        return command, script

    def _submit_error(self, result: CommandResult, batch: list[JobId]) -> Exception:
        """The exception a failed submit command stands for."""
        text = result.error_text()
        program = self._d.submit_program
        if result.exit_status == _EXIT_HAVE:
            have = {}
            for line in result.text().splitlines():
                parts = line.split(" ")
                if len(parts) >= 2 and parts[0] == "have" and parts[1].isdigit():
                    have[JobId(parts[1])] = parts[2] if len(parts) > 2 else ""
            return _AlreadySubmitted(have)
        if result.exit_status in (96, 97):
            full = self._dirs.space_problem(result.stdout.split(b"\n"), result)
            if full is not None:
                return RuntimeError(full)
            return RuntimeError(f"cannot write to the workspace {self._workspace!r} on "
                                f"{self.host}: {text}; choose a directory you can write to")
        if result.exit_status == 127 or "not found" in text and program in text:
            return RuntimeError(f"{program} was not found on {self.host}: {text}; install "
                                f"the {self._d.label} client or put it on the PATH of "
                                "non-interactive shells")
        if self._d.transient.search(text) or (self._d.queue_limit.search(text)
                                              and self._active_count()):
            return _SchedulerBusy(f"{self._d.label} does not take more jobs now ({text}); "
                                  "they wait in simjobs' queue")
        return RuntimeError(f"{program} rejected the job{'s' if len(batch) > 1 else ''} on "
                            f"{self.host}: {text or 'no message'}; check the "
                            f"{self.queue_word} and {self.args_word} of interface "
                            f"{self.name!r}")


def batch_interface_class(kind: str) -> type[BatchInterface]:
    """The interface class of a batch ``kind``: "slurm", "pbs", "lsf" or "sge".

    Raises
    ------
    ValueError
        If ``kind`` is not one of them.
    """
    if kind == "slurm":
        from .slurm import SlurmInterface as cls
    elif kind == "pbs":
        from .pbs import PBSInterface as cls
    elif kind == "lsf":
        from .lsf import LSFInterface as cls
    elif kind == "sge":
        from .sge import SGEInterface as cls
    else:
        raise ValueError(f"{kind!r} is not a batch scheduler kind; use \"slurm\", \"pbs\", "
                         "\"lsf\" or \"sge\"")
    return cls


class _AlreadySubmitted(Exception):
    """Some jobs of a batch were submitted before (``sched_ids``: job id -> its file)."""

    def __init__(self, sched_ids: dict[JobId, str]):
        super().__init__(f"already submitted: {sorted(map(str, sched_ids))}")
        self.sched_ids = sched_ids


class _SchedulerBusy(RuntimeError):
    """The scheduler refused more jobs for now (a submit limit): hold them, try later."""
