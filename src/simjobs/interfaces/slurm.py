"""SlurmInterface: runs simulator jobs as Slurm batch jobs, on a login node or over SSH.

Every job runs under the shared job wrapper in ``<workspace>/<job_id>/``, laid out by
:mod:`.jobdir` and handled through :class:`.remote_jobdir.RemoteJobDirs`, exactly as
for the local and SSH interfaces; Slurm only decides *when and where* the wrapper runs.
The commands (``sbatch``, ``squeue``, ``scancel``...) go through a
:class:`.runner.CommandRunner`: a :class:`.runner.LocalRunner` on a login node, or an
``SSHRunner`` when the interface has SSH settings.

- Submit: ``sbatch --parsable`` with the job name ``simjobs-<job_id>``, ``--chdir`` the
  job directory and Slurm's own output/error files (:data:`SLURM_STDOUT_FILE`,
  :data:`SLURM_STDERR_FILE`) in it. A batch of several jobs is ONE job array, each task
  reading its job id from a tasks file at line ``SLURM_ARRAY_TASK_ID + 1``. The same
  shell command that runs sbatch records each job's Slurm id in
  :data:`SLURM_ID_FILE`, so a restart of simjobs finds it; a job directory holding a
  Slurm id (or whose wrapper has started, or that was cancelled) is never submitted
  again.
- ``max_jobs`` is how many jobs simjobs keeps in the Slurm queue at once: jobs beyond
  it are held back by the interface (they count as SUBMITTED) and go out, as one array
  again, when polls find slots free; arrays also carry the ``%max_jobs`` throttle.
- Status: ONE ``squeue --user=<me> --states=all`` per poll for all jobs (by user, not
  ``--jobs``, which fails on ids Slurm has already purged; without ``--array``, whose
  22.05 listing drops the last task of a stepped range: pending ranges are expanded
  here, with ``SLURM_BITSTR_LEN=0`` so none is cut short). A job is never concluded
  from its absence in that listing: the ids it did not list are asked about in ONE more
  command (``scontrol -o show job`` for each). A job Slurm no longer knows is settled
  from its wrapper's files (the exit code), then from ``sacct`` where accounting
  storage exists (detected: without it sacct prints that it is disabled, whatever its
  exit code), else FAILED after :data:`FILES_GRACE`; such a job stays watched, and a
  late exit code corrects it (:meth:`SlurmInterface.late_results`). A failing squeue is
  :class:`.runner.HostUnreachableError`, never "job gone".
- Slurm states map to simjobs statuses in one table, :data:`SLURM_STATES`, applied by
  the pure function :func:`resolve_job_state` (both in :mod:`.slurm_states`, with the
  parsers of Slurm's output). Jobs go out with ``--no-requeue``: a requeued job would
  only meet its wrapper's run-once guard.
- Cancel: the cancelled marker (so a pending job never starts the simulator), then one
  ``scancel`` (an array's tasks as one word). A held job that is pending cancel is never
  sbatched: held jobs go out only when a poll asks about them, and the sbatch command
  skips any job with the marker.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import os
import re
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
from .jobdir import (
    EXIT_CODE_FILE,
    STARTED_MARKER,
    STDERR_FILE,
    JobAlreadyEndedError,
    JobState,
    NoOutputError,
    UnknownJobError,
)
from .local import resolve_command
from .args import check_interface_args, split_command
from .remote_jobdir import (
    SPACE_FUNCTIONS,
    LateResults,
    RemoteJob,
    RemoteJobDirs,
    posix_cksum,
    quote_command,
    shell_assignments,
    shell_file,
)
from .runner import CommandResult, CommandRunner, HostUnreachableError, LocalRunner, SSHSettings
from .slurm_states import (
    SLURM_ID_FILE,
    SLURM_STATES,
    SLURM_STDERR_FILE,
    SLURM_STDOUT_FILE,
    accounting_disabled,
    compress_slurm_ids,
    killed_state,
    normalise_state,
    parse_sacct,
    parse_scontrol,
    parse_scontrol_jobs,
    parse_squeue,
    resolve_job_state,
    valid_slurm_id,
)

__all__ = [
    "SLURM_ID_FILE",
    "SLURM_STATES",
    "SLURM_STDERR_FILE",
    "SLURM_STDOUT_FILE",
    "SlurmInterface",
    "accounting_disabled",
    "killed_state",
    "parse_sacct",
    "parse_scontrol",
    "parse_squeue",
    "resolve_job_state",
]

logger = logging.getLogger("simjobs")

#: The directory in a workspace holding the tasks files of job arrays.
SLURM_META_DIR = ".simjobs-slurm"
#: Every job's Slurm job name starts with this, followed by its simjobs job id.
JOB_NAME_PREFIX = "simjobs-"

#: Seconds a status or submit command may take before the host counts as unreachable.
COMMAND_TIMEOUT = 120.0
#: Seconds Slurm may say a job has ended before its exit code file must be visible
#: (a shared file system can show a file to the login node late).
FILES_GRACE = 30.0

_UNREACHABLE = re.compile(
    r"unable to contact slurm controller|slurm controller not responding|socket timed out"
    r"|zero bytes were transmitted|connection refused|munge|authentication"
    r"|communication connection failure|slurm backup controller in standby"
    r"|slurmctld.*(down|not responding)",
    re.IGNORECASE,
)
# sbatch refusals that pass: the controller is busy or full...
_TRANSIENT = re.compile(
    r"resource temporarily unavailable|slurm temporarily unable|max_?job_?count",
    re.IGNORECASE,
)
# ... or the user's submit limit is reached (which passes as our queued jobs end; with
# none of ours queued, the same message means a size or time limit: a real rejection).
_QUEUE_LIMIT = re.compile(
    r"maxsubmit|submit limit|job violates accounting", re.IGNORECASE,
)
# sbatch options simjobs sets itself (an extra argument must not change them).
_OWN_OPTIONS = {
    "--parsable": "--parsable", "--job-name": "--job-name", "-J": "--job-name",
    "--chdir": "--chdir", "-D": "--chdir", "--output": "--output", "-o": "--output",
    "--error": "--error", "-e": "--error", "--array": "--array", "-a": "--array",
    "--wrap": "--wrap",
}


class SlurmInterface(HardwareInterface):
    """Runs jobs as Slurm batch jobs (see the module docstring for how).

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
    partition : str, optional
        The Slurm partition (``--partition``); the cluster's default when None.
    sbatch_args : sequence of str, optional
        More sbatch arguments, e.g. ``["--time=00:10:00", "--mem=1G"]``.
    max_jobs : int, optional
        How many jobs simjobs keeps in the Slurm queue at once (None: no limit).
    ssh : SSHSettings, optional
        Drive the cluster's login node over SSH instead of running Slurm's commands here.
    runner : CommandRunner, optional
        Where the commands run (overrides ``ssh``; for tests and custom transports).
    timeout : float, optional
        Seconds one command may take before the host counts as unreachable.

    Raises
    ------
    ValueError
        If an argument is invalid (one line naming it and the fix).
    """

    kind = "slurm"

    #: Seconds Slurm may report a job ended before its exit code must be visible.
    files_grace: float = FILES_GRACE
    #: The most tasks in one job array: Slurm's default MaxArraySize (1001) allows
    #: indexes 0-1000. A bigger batch goes out as several arrays.
    max_array_size: int = 1000

    def __init__(
        self,
        name: str,
        level: int,
        command: Union[str, Sequence[str]],
        workspace: Union[str, os.PathLike],
        partition: Optional[str] = None,
        sbatch_args: Sequence[str] = (),
        max_jobs: Optional[int] = None,
        ssh: Optional[SSHSettings] = None,
        *,
        runner: Optional[CommandRunner] = None,
        timeout: float = COMMAND_TIMEOUT,
    ):
        check_interface_args(name, level, max_jobs)
        if partition is not None and (not isinstance(partition, str) or not partition.strip()
                                      or any(c.isspace() for c in partition)):
            raise ValueError(f"The partition of interface {name!r} must be a partition name "
                             f"such as \"debug\", not {partition!r}.")
        sbatch_args = self._check_sbatch_args(name, sbatch_args)
        super().__init__(name, level)
        what = f"The command of interface {name!r}"
        if ssh is None and runner is None:
            self._command = resolve_command(command, what=what)
        else:
            self._command = split_command(command, what=what)
        workspace_text = os.fspath(workspace) if isinstance(workspace, (str, os.PathLike)) \
            else None
        if not workspace_text or not workspace_text.strip():
            raise ValueError(f"The workspace of interface {name!r} must be a directory path, "
                             f"not {workspace!r}.")
        if "%" in workspace_text or "\n" in workspace_text:
            # Slurm reads % in --output as a pattern; a newline breaks the tasks file.
            raise ValueError(f"The workspace {workspace_text!r} of interface {name!r} contains "
                             "'%' or a newline, which Slurm's file names cannot hold; choose "
                             "another directory.")
        if ssh is None and runner is None:
            workspace_text = str(Path(workspace_text).expanduser().resolve())
        self._own_runner = runner is None
        if runner is None:
            if ssh is not None:
                from .ssh_transport import SSHRunner  # asyncssh only when SSH is used

                runner = SSHRunner(ssh)
            else:
                runner = LocalRunner()
        self._runner = runner
        self._host = (socket.gethostname() or "localhost") if runner.host == "localhost" \
            else runner.host
        self._ssh = ssh
        self._partition = partition
        self._sbatch_args = sbatch_args
        self._max_jobs = max_jobs
        self._timeout = timeout
        self._workspace = workspace_text
        self._dirs = RemoteJobDirs(runner, workspace_text, timeout=timeout)
        self._health = InterfaceHealth()

        self._jobs: dict[JobId, TrackedJob] = {}  # one record per job simjobs knows
        self._held: list[JobId] = []  # heap of held jobs' ids, oldest first (may be stale)
        self._accounting: Optional[bool] = None  # sacct usable? None: not asked yet
        # FAILED without an exit code: watched, in case the wrapper records one after all
        self._provisional = LateResults(self.late_watch)  # FAILED without an exit code
        self._ready = False

    @staticmethod
    def _check_sbatch_args(name: str, args: Sequence[str]) -> tuple[str, ...]:
        if isinstance(args, (str, bytes)) or not all(isinstance(a, str) for a in args):
            raise ValueError(f"sbatch_args of interface {name!r} must be a list of strings, "
                             f"e.g. [\"--time=00:10:00\"], not {args!r}.")
        for arg in args:
            option = arg.split("=", 1)[0]
            if not option.startswith("--"):
                option = option[:2]  # -Jname, -o file.out
            if option in _OWN_OPTIONS:
                raise ValueError(
                    f"sbatch_args of interface {name!r} must not contain {arg!r}: simjobs "
                    f"sets {_OWN_OPTIONS[option]} itself; remove it.")
        return tuple(args)

    # ---- public API

    @property
    def workspace(self) -> str:
        """(Read-only) The directory holding the job directories (on the Slurm host)."""
        return self._workspace

    @property
    def host(self) -> str:
        """(Read-only) Where Slurm's commands run: this machine's name, or
        ``user@host:port`` over SSH."""
        return self._host

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "host": self._host,
            "partition": self._partition or "(default)",
            "max_jobs": self._max_jobs,
            "workspace": self._workspace,
            "command": shlex.join(self._command),
        }

    def submit_job(self, job: Job) -> None:
        """Submit one job with a plain ``sbatch`` (or hold it while the queue is full).

        Raises
        ------
        HostUnreachableError
            If the host or slurmctld cannot be reached (nothing was submitted).
        RuntimeError
            If sbatch rejected the job (its message says why).
        """
        error = self.submit_jobs([job]).get(JobId(job.id))
        if error is not None:
            raise error

    def submit_jobs(self, jobs: Sequence[Job]) -> dict[JobId, Optional[Exception]]:
        """Submit many jobs: their directories in one command, then ONE sbatch (a job
        array when there are several) for as many as ``max_jobs`` lets into the queue;
        the others are held and go out as slots free. Returns each job's error (None:
        submitted or held)."""
        outcomes: dict[JobId, Optional[Exception]] = {}
        inputs = {JobId(j.id): jobdir.format_input(j.data) for j in jobs}
        if not inputs:
            return outcomes
        try:
            self._prepare()
            found = self._dirs.sync(create=inputs, extra_files=(SLURM_ID_FILE,))
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
                self._adopt(job_id, remote)  # submitted again: never sbatch it twice
        errors = self._release(set(inputs), overtake=False)
        for job_id, exc in errors.items():
            if job_id in outcomes:
                self._unhold(job_id)  # the manager retries the submit
                outcomes[job_id] = exc
            elif not isinstance(exc, HostUnreachableError):
                self._settle(job_id, JobState(JobStatus.FAILED, reason=str(exc)))
        return outcomes

    def get_job_status(self, job_id: JobId) -> JobStatus:
        """The status of ``job_id`` (one squeue, plus its files when it has ended).

        Raises
        ------
        UnknownJobError
            If the job has no job directory.
        HostUnreachableError
            If squeue (or the host) cannot be reached.
        """
        job_id = JobId(job_id)
        statuses = self.get_job_statuses([job_id])
        record = self._jobs.get(job_id)
        if job_id not in statuses and record is not None and record.sched_id is not None:
            # Slurm has it but gave no clear answer this time: its last known status.
            return record.last_status or JobStatus.SUBMITTED
        if job_id not in statuses:
            raise UnknownJobError(f"Job {job_id} is unknown to interface {self.name!r}: "
                                  f"it has no job directory in {self._workspace!r}.")
        return statuses[job_id]

    def get_job_statuses(self, job_ids: Sequence[JobId]) -> dict[JobId, JobStatus]:
        """The statuses of many jobs: ONE squeue for all of them, plus one read of the
        job directories of jobs that left the queue or are not known yet; then held
        jobs go out if the queue has room. Jobs without a job directory (or in a
        Slurm state simjobs does not know) are left out: their last status stands.

        Raises
        ------
        HostUnreachableError
            If squeue or the host cannot be reached; it never means "job gone".
        """
        asked = [JobId(j) for j in job_ids]
        states = self._states(asked)
        for job_id, exc in self._release(set(asked)).items():
            if not isinstance(exc, HostUnreachableError):  # sbatch rejected it for good
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
        state = self._state_of(JobId(job_id))
        if state.status is not JobStatus.COMPLETED:
            detail = f" ({state.reason})" if state.reason else ""
            raise NoOutputError(f"Job {job_id} has no output: its status is "
                                f"{state.status.value}{detail}.", state.status)
        return state.output

    def failure_reason(self, job_id: JobId) -> Optional[str]:
        """Why ``job_id`` failed: the Slurm state (TIMEOUT, OUT_OF_MEMORY...) or the exit
        code with the tail of stderr (None unless it failed)."""
        return self._state_of(JobId(job_id)).reason

    def cancel_job(self, job_id: JobId) -> None:
        """Cancel ``job_id``: write the cancelled marker (a pending job never starts the
        simulator), then ``scancel`` it. CANCELLED from then on.

        Raises
        ------
        JobAlreadyEndedError
            If the job had already completed or failed.
        UnknownJobError
            If the job has no job directory.
        HostUnreachableError
            If scancel could not reach slurmctld (the cancel is retried).
        """
        error = self.cancel_jobs([job_id])[JobId(job_id)]
        if error is not None:
            raise error

    def cancel_jobs(self, job_ids: Sequence[JobId]) -> dict[JobId, Optional[Exception]]:
        """Cancel many jobs with three commands at most, whatever their number: the
        cancelled markers (one command), the Slurm ids not known yet (one read), one
        ``scancel`` of all of them. Each id maps to None (cancelled) or the error
        :meth:`cancel_job` would raise for it; an unreachable controller raises
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
        slurm_ids = self._mark_cancelled(todo, outcomes)
        errors = self._scancel(slurm_ids) if slurm_ids else {}
        for job_id in todo:
            if job_id in outcomes:
                continue
            outcomes[job_id] = errors.get(job_id)
            if job_id not in errors:
                self._settle(job_id, JobState(JobStatus.CANCELLED, reason="cancelled by simjobs"))
        return outcomes

    def _mark_cancelled(self, todo: list[JobId],
                        outcomes: dict[JobId, Optional[Exception]]) -> dict[JobId, str]:
        """Write the cancelled markers of ``todo`` (one command); returns the Slurm ids
        to scancel (read from the job directories when not known yet, one more command),
        with the errors of jobs that cannot be cancelled in ``outcomes``."""
        self._prepare()
        marked = self._dirs.cancel(todo, signal_group=False)
        slurm_ids: dict[JobId, str] = {}
        look_up: list[JobId] = []
        for job_id in todo:
            outcome = marked.get(job_id)
            if outcome is None or not outcome.before.exists:
                outcomes[job_id] = UnknownJobError(
                    f"Job {job_id} is unknown to interface {self.name!r}: it has no job "
                    f"directory in {self._workspace!r}.")
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
                slurm_ids[job_id] = record.sched_id
            elif not was_held:  # not adopted yet: its file says
                look_up.append(job_id)
        if look_up:
            found = self._read(look_up)
            for job_id in look_up:
                remote = found.get(job_id)
                slurm_id = valid_slurm_id(remote.files.get(SLURM_ID_FILE)) if remote else None
                if slurm_id is not None:
                    slurm_ids[job_id] = slurm_id
        return slurm_ids

    def _scancel(self, slurm_ids: dict[JobId, str]) -> dict[JobId, Exception]:
        """One ``scancel`` of every id; when it reports a real error, each id is
        cancelled on its own to tell which job the error belongs to."""
        def failed(result: CommandResult) -> Optional[str]:
            text = result.error_text()
            lines = [line for line in text.split(" | ") if line.strip()]
            tolerated = re.compile(r"invalid job id|already completing or completed|"
                                   r"job has already finished", re.IGNORECASE)
            if result.ok or (lines and all(tolerated.search(line) for line in lines)):
                return None
            return text or f"exit status {result.exit_status}"

        # One scancel; an array's tasks as one word (12_[0,2,4-9]).
        words = " ".join(shlex.quote(w) for w in compress_slurm_ids(slurm_ids.values()))
        if failed(self._run(f"scancel {words}", "scancel")) is None:
            return {}
        errors: dict[JobId, Exception] = {}
        for job_id, slurm_id in slurm_ids.items():
            text = failed(self._run(f"scancel {shlex.quote(slurm_id)}", "scancel"))
            if text is not None:
                errors[job_id] = RuntimeError(f"scancel {slurm_id} failed on {self.host}: {text}")
        return errors

    def find_jobs(self, job_ids: Iterable[JobId]) -> set[JobId]:
        """The ids among ``job_ids`` that have a job directory (one command)."""
        ids = [JobId(j) for j in job_ids]
        known = {j for j in ids if (r := self._jobs.get(j)) is not None and r.known}
        rest = [j for j in ids if j not in known]
        if rest:
            found = self._dirs.read_jobs(rest, extra_files=(SLURM_ID_FILE,))
            known |= {j for j, remote in found.items() if remote.exists}
        return known

    def job_details(self, job_id: JobId) -> dict:
        """Slurm id and state, node, job directory, host, times, exit code and the
        stdout/stderr tails of a job (two commands: its files, ``scontrol show job``).

        It only reads the interface's bookkeeping, so the app may call it from its own
        thread while the manager's worker polls."""
        job_id = JobId(job_id)
        remote = self._dirs.read_jobs([job_id], extra_files=(SLURM_ID_FILE, SLURM_STDERR_FILE),
                                      tails=True).get(job_id)
        if remote is None or not remote.exists:
            raise UnknownJobError(f"Job {job_id} is unknown to interface {self.name!r}: "
                                  f"it has no job directory in {self._workspace!r}.")
        record = self._jobs.get(job_id) or TrackedJob()
        slurm_id = record.sched_id or valid_slurm_id(remote.files.get(SLURM_ID_FILE))
        info: dict[str, str] = {}
        if slurm_id is not None:
            try:
                result = self._runner.run(f"scontrol -o show job {shlex.quote(slurm_id)}",
                                          timeout=self._timeout)
                if result.ok:
                    info = parse_scontrol(result.text())
            except HostUnreachableError:
                pass  # details without Slurm's part
        files = remote.files
        if record.settled is not None:
            state = record.settled
        elif record.held:
            state = JobState(JobStatus.SUBMITTED)
        else:
            state = resolve_job_state(info.get("JobState"), files,
                                      slurm_reason=info.get("Reason"), files_overdue=False) \
                or jobdir.job_state_from_files(files, alive=None)
        on_disk = jobdir.job_state_from_files(files, alive=None)  # times, even if settled
        return {
            "host": self._host,
            "job_dir": self._dirs.job_dir(job_id),
            "slurm_job_id": slurm_id,
            "slurm_state": info.get("JobState"),
            "slurm_reason": info.get("Reason"),
            "node": info.get("NodeList") or info.get("BatchHost"),
            "partition": info.get("Partition") or self._partition,
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
        """Close the runner's connection (jobs keep running in Slurm)."""
        if self._own_runner:
            self._runner.close()

    # ---- commands

    def _run(self, command: str, what: str, input: Optional[bytes] = None) -> CommandResult:
        """Run a Slurm command; an unreachable host or controller raises
        :class:`HostUnreachableError` (and sets the health)."""
        try:
            result = self._runner.run(command, input=input, timeout=self._timeout)
        except HostUnreachableError as exc:
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=str(exc))
            raise
        if not result.ok and (_UNREACHABLE.search(result.error_text(1000))
                              or result.exit_status == -1):
            message = (f"{what} on {self.host} cannot reach Slurm ({result.error_text()}); "
                       "check that slurmctld (and munge) are running")
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=message)
            raise HostUnreachableError(message)
        return result

    def _command_error(self, exc: Exception) -> Exception:
        if isinstance(exc, HostUnreachableError):
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=str(exc))
        return exc

    def _prepare(self) -> None:
        """Install the wrapper into the workspace (creating it): once."""
        if not self._ready:
            self._dirs.install_wrapper()
            self._ready = True

    def _squeue(self, wanted: set[str]) -> dict[str, tuple[str, str]]:
        # --user rather than --me, which Slurm before 20.11 does not know.
        # Without --array: Slurm 22.05's --array drops the last task of a stepped range
        # (12_[1-19:2] listed as 1...17); pending ranges are expanded by parse_squeue,
        # and SLURM_BITSTR_LEN=0 stops Slurm from cutting a long range short ("...").
        result = self._run('SLURM_BITSTR_LEN=0 squeue --user="$(id -un)" --noheader '
                           "--states=all --format='%i|%T|%r'", "squeue")
        if not result.ok:
            message = (f"squeue failed on {self.host} (exit status {result.exit_status}): "
                       f"{result.error_text()}; jobs keep their last known status")
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=message)
            raise HostUnreachableError(message)
        if self._health.state == HEALTH_UNREACHABLE:
            self._health = InterfaceHealth(HEALTH_OK)  # (degraded waits for a good sbatch)
        return parse_squeue(result.text(), wanted)

    def _scontrol(self, slurm_ids: Sequence[str]) -> tuple[dict[str, tuple[str, str]], set[str]]:
        """Ask Slurm about jobs squeue did not list: ONE command running ``scontrol -o
        show job`` for each id. Returns the rows found (id -> (state, reason)) and the
        ids Slurm said it does not know (gone); an id with any other answer is in
        neither (no conclusion about it this poll)."""
        result = self._run(shell_assignments(ids=" ".join(slurm_ids))
                           + shell_file("slurm_scontrol.sh"), "scontrol")
        rows: dict[str, tuple[str, str]] = {}
        gone: set[str] = set()
        sections: dict[str, list[str]] = {}
        current: Optional[list[str]] = None
        for line in result.text().splitlines():
            if line.startswith("@simjobs "):
                current = sections.setdefault(line.split(" ", 1)[1].strip(), [])
            elif current is not None:
                current.append(line)
        for slurm_id in slurm_ids:
            text = "\n".join(sections.get(slurm_id, ()))
            found = parse_scontrol_jobs(text, {slurm_id})
            if slurm_id in found:
                rows[slurm_id] = found[slurm_id]
            elif re.search(r"invalid job id|not found", text, re.IGNORECASE):
                gone.add(slurm_id)
        return rows, gone

    def _sacct(self, slurm_ids: Sequence[str]) -> dict[str, str]:
        """Final states of jobs Slurm has purged, from accounting (empty without it)."""
        if self._accounting is False or not slurm_ids:
            return {}
        try:
            result = self._runner.run(
                "sacct --noheader --parsable2 --allocations --format=JobID,State "
                f"--jobs={shlex.quote(','.join(slurm_ids))}", timeout=self._timeout)
        except HostUnreachableError:
            return {}
        if accounting_disabled(result):
            self._accounting = False
            return {}
        if not result.ok:
            return {}
        self._accounting = True
        return parse_sacct(result.text())

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
        slurm_id = valid_slurm_id(files.get(SLURM_ID_FILE))
        if slurm_id is not None:
            self._record(job_id).sched_id = slurm_id
        from_files = jobdir.job_state_from_files(files, alive=None)
        if from_files.status is JobStatus.CANCELLED or files.get(EXIT_CODE_FILE) is not None:
            self._settle(job_id, from_files)
        elif slurm_id is None and files.get(SLURM_ID_FILE) is None \
                and files.get(STARTED_MARKER) is None:
            self._hold(job_id)  # created but never sent to Slurm
        # Otherwise (an id being written, or a wrapper started without a recorded id):
        # neither held nor tracked, so its files are read again at every poll.

    def _state_of(self, job_id: JobId) -> JobState:
        settled = self._settled(job_id)
        if settled is not None:
            return settled
        states = self._states([job_id])
        if job_id not in states:
            raise UnknownJobError(f"Job {job_id} is unknown to interface {self.name!r}: "
                                  f"it has no job directory in {self._workspace!r}.")
        return states[job_id]

    # ---- a poll, in steps: _states runs them in order

    def _states(self, job_ids: list[JobId]) -> dict[JobId, JobState]:
        """The states of ``job_ids``: one squeue, plus one read of the job directories
        that must be read (and one sacct, where accounting exists, for purged jobs)."""
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
        return states

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
                    ) -> tuple[dict[str, tuple[str, str]], list[JobId]]:
        """Slurm's rows for the tracked jobs (one squeue), and the tracked jobs this poll
        can say something about.

        A job is never concluded from its absence in one squeue listing: Slurm is asked
        about the missing ones (one command); those it still has keep their answer,
        those it could not say anything about are left out of this poll. Their files
        first: a job whose wrapper recorded its exit code (or that was cancelled, or
        lost its directory) needs no word from Slurm, so a restart after Slurm purged
        many finished jobs costs one read, not a scontrol per job."""
        if not tracked:
            return {}, tracked
        sched = {j: self._jobs[j].sched_id for j in tracked}
        rows = self._squeue(set(sched.values()))
        absent = [j for j in tracked if sched[j] not in rows]
        if not absent:
            return rows, tracked
        read.update(self._read([j for j in absent if j not in read]))
        unsure = {sched[j] for j in absent
                  if (r := read.get(j)) is not None and r.exists
                  and r.files.get(EXIT_CODE_FILE) is None
                  and r.files.get(jobdir.CANCELLED_FILE) is None}
        if unsure:
            found, gone = self._scontrol(sorted(unsure))
            rows.update(found)
            tracked = [j for j in tracked if sched[j] not in unsure
                       or sched[j] in rows or sched[j] in gone]
        return rows, tracked

    def _note_queued(self, tracked: list[JobId], rows: dict[str, tuple[str, str]],
                     states: dict[JobId, JobState]) -> list[JobId]:
        """Answer the jobs still waiting or running in Slurm; returns those that ended
        (or that Slurm no longer knows)."""
        ended: list[JobId] = []
        for job_id in tracked:
            record = self._jobs[job_id]
            row = rows.get(record.sched_id)
            mapped = SLURM_STATES.get(normalise_state(row[0])) if row else None
            if mapped in (JobStatus.SUBMITTED, JobStatus.RUNNING):
                states[job_id] = JobState(mapped)
                record.ended_since = None
            elif row is not None and mapped is None:
                logger.warning("simjobs: %s: job %s has Slurm state %r, which simjobs does "
                               "not know; keeping its last status", self.name, job_id, row[0])
            else:
                ended.append(job_id)
        return ended

    def _read_ended(self, ended: list[JobId], rows: dict[str, tuple[str, str]],
                    read: dict[JobId, RemoteJob]) -> None:
        """Read the files of the ended jobs not read yet (into ``read``).

        A job Slurm killed (TIMEOUT...) has no exit code, so its stderr comes only with
        the tails; the others are read without them (cheaper: no stdout). Jobs FAILED
        without an exit code ride along with the first read, for a late exit code."""
        missing = [j for j in ended if j not in read]
        killed = [j for j in missing
                  if killed_state(rows.get(self._jobs[j].sched_id, ("",))[0])]
        watched = self._provisional.watched()
        plain = [j for j in missing if j not in killed]
        for group, tails in (([*plain, *watched], False), (killed, True)):
            if group:
                read.update(self._read(group, tails=tails))
        if watched:
            self._correct(self._provisional.check(read, watched))

    def _conclude(self, ended: list[JobId], rows: dict[str, tuple[str, str]],
                  read: dict[JobId, RemoteJob], states: dict[JobId, JobState]) -> None:
        """The states of the jobs that left Slurm's queue, from Slurm's word (or
        sacct's, for jobs Slurm has purged) and their files; settles the final ones."""
        purged = [self._jobs[j].sched_id for j in ended if self._jobs[j].sched_id not in rows
                  and read.get(j) is not None and read[j].files.get(EXIT_CODE_FILE) is None]
        accounted = self._sacct(purged) if purged else {}
        now = time.monotonic()
        lost: list[JobId] = []  # FAILED just now without an exit code
        for job_id in ended:
            remote = read.get(job_id)
            if remote is None:
                continue  # not read: no answer
            state, watch = self._conclude_one(job_id, remote, rows, accounted, now)
            if state is None:
                continue
            if state.finished:
                if watch and state.status is JobStatus.FAILED and state.exit_code is None:
                    lost.append(job_id)
                self._settle(job_id, state, watch=watch)
            states[job_id] = state
        if lost:
            self._name_full_disk(lost, states)

    def _conclude_one(self, job_id: JobId, remote: RemoteJob, rows: dict[str, tuple[str, str]],
                      accounted: dict[str, str], now: float
                      ) -> tuple[Optional[JobState], bool]:
        """One ended job's state (None: no answer this poll), and whether a FAILED one
        without an exit code is watched for a late one (not when Slurm killed it)."""
        record = self._jobs[job_id]
        row = rows.get(record.sched_id)
        if not remote.exists:
            # Ended in Slurm and its directory removed: lost, never an endless wait.
            return JobState(JobStatus.FAILED, reason=(
                f"its job directory {self._dirs.job_dir(job_id)} was removed (Slurm "
                f"state {row[0] if row else 'unknown'}); its output is lost")), False
        slurm_state = row[0] if row else accounted.get(record.sched_id)
        if record.ended_since is None:
            record.ended_since = now
        state = resolve_job_state(slurm_state, remote.files,
                                  slurm_reason=row[1] if row else None,
                                  files_overdue=now - record.ended_since >= self.files_grace)
        if state is not None and state.finished and remote.files.get(STARTED_MARKER) is None:
            # Its wrapper never started: check the installed one again.
            self._dirs.check_install_again()
            self._ready = False
        return state, not killed_state(slurm_state)

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
                # On disk but neither held nor with a Slurm id: its files tell.
                states[job_id] = jobdir.job_state_from_files(read[job_id].files, alive=None)

    # ---- late results: a FAILED job whose wrapper records an exit code after all

    #: Seconds a job FAILED without an exit code is watched for a late one.
    late_watch: float = 7 * 24 * 3600.0

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

    def _read(self, job_ids: Sequence[JobId], tails: bool = False) -> dict[JobId, RemoteJob]:
        self._prepare()
        try:
            return self._dirs.read_jobs(job_ids, extra_files=(SLURM_ID_FILE, SLURM_STDERR_FILE),
                                        tails=tails)
        except HostUnreachableError as exc:
            self._health = InterfaceHealth(HEALTH_UNREACHABLE, message=str(exc))
            raise

    # ---- sbatch

    def _release(self, only: Optional[set[JobId]] = None,
                 overtake: bool = True) -> dict[JobId, Exception]:
        """Send held jobs to Slurm while the queue has room: one sbatch (a job array
        when several, split only beyond :attr:`max_array_size`). Returns the error of
        each job that did not go out: a :class:`HostUnreachableError` leaves it held,
        a rejection does not (a busy Slurm, refusing more jobs for now, leaves it held
        with no error).

        Only the held jobs in ``only`` go out when it is given: the jobs the caller
        asked about, which leaves out those the manager is cancelling (a job pending
        cancel is never sbatched). With ``overtake`` False the first held job not in
        ``only`` stops the release (new jobs never overtake older held ones)."""
        room = sum(1 for r in self._jobs.values() if r.held) if self._max_jobs is None \
            else self._max_jobs - self._active_count()
        batch: list[JobId] = []
        skipped: list[JobId] = []
        while self._held and len(batch) < room:
            job_id = heapq.heappop(self._held)
            if self._jobs[job_id].held:
                if only is not None and job_id not in only:
                    skipped.append(job_id)
                    if not overtake:
                        break
                    continue
                self._jobs[job_id].held = False
                batch.append(job_id)
        for job_id in skipped:
            heapq.heappush(self._held, job_id)
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

    def _submit_chunk(self, chunk: list[JobId]) -> dict[JobId, Exception]:
        try:
            slurm_id = self._sbatch(chunk)
        except _AlreadySubmitted as exc:
            # An earlier sbatch of these went through after all (its answer was lost):
            # take the recorded ids, and submit only the others.
            for job_id, recorded in exc.slurm_ids.items():
                self._adopt_recorded(job_id, recorded)
            rest = [j for j in chunk if j not in exc.slurm_ids]
            return self._submit_chunk(rest) if rest else {}
        except (HostUnreachableError, _SlurmBusy) as exc:
            for job_id in chunk:
                self._hold(job_id)
            if isinstance(exc, _SlurmBusy):
                self._health = InterfaceHealth(HEALTH_DEGRADED, message=str(exc))
                return {}  # they wait in simjobs' queue: not an error for anyone
            return {job_id: exc for job_id in chunk}
        except RuntimeError as exc:
            self._health = InterfaceHealth(HEALTH_DEGRADED, message=str(exc))
            return {job_id: exc for job_id in chunk}
        if len(chunk) == 1:
            self._record(chunk[0]).sched_id = slurm_id
        else:
            for index, job_id in enumerate(chunk):
                self._record(job_id).sched_id = f"{slurm_id}_{index}"
        if not self._health.ok:
            self._health = InterfaceHealth(HEALTH_OK)
        return {}

    def _adopt_recorded(self, job_id: JobId, recorded: str) -> None:
        slurm_id = valid_slurm_id(recorded.encode())
        if slurm_id is not None:
            self._record(job_id).sched_id = slurm_id
        # An id being written: neither held nor tracked, so polls read its files.

    def _sbatch_options(self, job_name: str) -> list[str]:
        options = ["--parsable", f"--job-name={job_name}"]
        if "--requeue" not in self._sbatch_args:
            # A requeued job would meet its own run-once guard and end without running:
            # better that Slurm ends it (NODE_FAIL, PREEMPTED) and says why.
            options.append("--no-requeue")
        if self._partition:
            options.append(f"--partition={self._partition}")
        return options + list(self._sbatch_args)

    def _sbatch(self, batch: list[JobId]) -> str:
        """Submit ``batch`` with one sbatch and record the Slurm ids in the job
        directories in that same command; returns the Slurm (array) job id.

        The command first looks for recorded Slurm ids in the job directories: if any
        job has one (an earlier sbatch went through but its answer was lost), nothing
        is submitted and :class:`_AlreadySubmitted` says which."""
        command, script = self._sbatch_command(batch)
        result = self._run(command, "sbatch", input=script.encode("utf-8"))
        if result.ok:
            for line in result.text().splitlines():
                if line.startswith("slurm-id "):
                    return line.split(" ", 1)[1].strip()
        raise self._sbatch_error(result, batch)

    def _sbatch_command(self, batch: list[JobId]) -> tuple[str, str]:
        """The sbatch command for ``batch`` and the batch script it reads on stdin."""
        # The shell code is in slurm_submit.sh, slurm_job.sh and slurm_array.sh; the
        # values reach it as shell variables assigned (quoted) at the top.
        ids = " ".join(str(j) for j in batch)
        common = {"wrapper": self._dirs.wrapper_name, "run": quote_command(self._command),
                  "f_slurm_stdout": SLURM_STDOUT_FILE, "f_slurm_stderr": SLURM_STDERR_FILE}
        values = {"workspace": self._dirs.workspace, "ids": ids,
                  "f_cancelled": jobdir.CANCELLED_FILE,
                  "f_slurm_id": SLURM_ID_FILE, "exit_have": _EXIT_HAVE, **common}
        if len(batch) == 1:
            (job_id,) = batch
            values["sbatch_options"] = shlex.join(
                self._sbatch_options(f"{JOB_NAME_PREFIX}{job_id}"))
            call = f"submit_job {job_id}"
            script = ("#!/bin/sh\n"
                      f"# simjobs job {job_id}\n"
                      + shell_assignments(job_id=job_id, **common)
                      + shell_file("slurm_job.sh"))
        else:
            token = f"array-{batch[0]}-{len(batch)}-{os.getpid()}-{time.time_ns()}"
            tasks = f"{SLURM_META_DIR}/{token}.tasks"
            name = f"{JOB_NAME_PREFIX}{batch[0]}-{batch[-1]}"
            throttle = f"%{self._max_jobs}" if self._max_jobs is not None else ""
            values["sbatch_options"] = shlex.join(self._sbatch_options(name))
            listing = "".join(f"{j}\n" for j in batch).encode()
            values.update(tasks=tasks, tasks_size=len(listing),
                          tasks_cksum=posix_cksum(listing),
                          array=f"--array=0-{len(batch) - 1}{throttle}")
            call = 'submit_array "$ids" "$tasks" "$tasks_size" "$tasks_cksum" "$array"'
            script = (
                "#!/bin/sh\n"
                f"# simjobs array of {len(batch)} jobs: the job of task N is line N+1 of "
                f"{tasks}\n"
                + shell_assignments(tasks=tasks, **common)
                + shell_file("slurm_array.sh"))
        command = ("unset CDPATH\n" + shell_assignments(**values) + SPACE_FUNCTIONS
                   + shell_file("slurm_submit.sh") + "enter_workspace\n"
                   + 'check_unsubmitted "$ids"\n'
                   + call + "\nprintf 'slurm-id %s\\n' \"$id\"\n")
        return command, script

    def _sbatch_error(self, result: CommandResult, batch: list[JobId]) -> Exception:
        """The exception a failed sbatch command stands for."""
        text = result.error_text()
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
        if result.exit_status == 127 or "not found" in text and "sbatch" in text:
            return RuntimeError(f"sbatch was not found on {self.host}: {text}; install the "
                               "Slurm client or put it on the PATH of non-interactive shells")
        if _TRANSIENT.search(text) or (_QUEUE_LIMIT.search(text) and self._active_count()):
            return _SlurmBusy(f"Slurm does not take more jobs now ({text}); they wait in "
                             "simjobs' queue")
        return RuntimeError(f"sbatch rejected the job{'s' if len(batch) > 1 else ''} on "
                           f"{self.host}: {text or 'no message'}; check the partition and "
                           f"sbatch_args of interface {self.name!r}")


# The sbatch command's exit status when some job of the batch has a Slurm id already.
_EXIT_HAVE = 95


class _AlreadySubmitted(Exception):
    """Some jobs of a batch were submitted before (``slurm_ids``: job id -> its file)."""

    def __init__(self, slurm_ids: dict[JobId, str]):
        super().__init__(f"already submitted: {sorted(map(str, slurm_ids))}")
        self.slurm_ids = slurm_ids


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

    @property
    def active(self) -> bool:
        """In the scheduler's queue as far as simjobs knows (submitted, not ended)."""
        return self.sched_id is not None and self.settled is None

    @property
    def known(self) -> bool:
        """Tracked without reading its files: held, submitted or settled."""
        return self.held or self.sched_id is not None or self.settled is not None


class _SlurmBusy(RuntimeError):
    """Slurm refused more jobs for now (a submit limit): hold them and try later."""
