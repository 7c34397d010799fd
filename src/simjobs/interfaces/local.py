"""LocalInterface: runs simulator jobs as detached processes on this machine."""

from __future__ import annotations

import heapq
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional, Union

from simjobs.core.hardware import (
    HEALTH_DEGRADED,
    HEALTH_OK,
    HardwareInterface,
    InterfaceHealth,
)
from simjobs.core.types import Job, JobId, JobStatus

from . import jobdir
from .jobdir import (
    CANCELLED_FILE,
    EXIT_CODE_FILE,
    INPUT_FILE,
    PID_FILE,
    STARTED_MARKER,
    STDERR_FILE,
    STDOUT_FILE,
    JobAlreadyEndedError,
    JobState,
    LocalJobFiles,
    NoOutputError,
    UnknownJobError,
)

# The wrapper's rendered copy in the workspace (job directories are all digits).
WRAPPER_COPY = ".simjobs-wrapper.sh"
# A started marker without a pid file is a wrapper between its first two steps;
# after this long without a pid it is taken for dead.
PID_GRACE_SECONDS = 30.0


def _validate_command(name: str, command: Union[str, Sequence[str]]) -> list[str]:
    where = f"interface {name!r}"
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(
                f"The command of {where} cannot be parsed ({exc}); check its quotes."
            ) from None
    elif isinstance(command, Sequence) and all(isinstance(a, str) for a in command):
        argv = list(command)
    else:
        raise ValueError(
            f"The command of {where} must be a string or a list of strings, "
            f"not {type(command).__name__}."
        )
    if not argv or not argv[0].strip():
        raise ValueError(
            f"The command of {where} is empty; give the simulator to run, "
            "e.g. command = \"python sim.py\"."
        )
    program = argv[0]
    found = shutil.which(program)
    if found is None:
        if os.sep in program and os.path.isfile(program):
            raise ValueError(
                f"The simulator {program!r} of {where} is not executable; "
                f"run 'chmod +x {program}' or put its interpreter first in the command."
            )
        raise ValueError(
            f"The simulator {program!r} of {where} was not found on PATH; "
            "give its full path or add its directory to PATH."
        )
    # Jobs run in their own directories, so a relative program path must be made absolute.
    argv[0] = os.path.abspath(found) if os.sep in found else found
    return argv


class LocalInterface(HardwareInterface):
    """Runs jobs as processes on this machine, at most ``max_jobs`` at once.

    Each job runs in ``<workspace>/<job_id>/`` under the job wrapper (see
    :mod:`simjobs.interfaces.jobdir`), detached in its own session, so jobs keep
    running when simjobs exits and a new LocalInterface on the same workspace picks
    them up. Jobs beyond ``max_jobs`` wait in the interface's queue and start in
    job-id order as slots free, during status polls.

    Parameters
    ----------
    name : str
        The interface's name, unique among a manager's interfaces.
    level : int
        The level of the jobs it runs.
    command : str or list of str
        The simulator, run as ``COMMAND INPUT_FILE OUTPUT_FILE``; a string is split
        like a shell would (shlex).
    workspace : str or os.PathLike
        The directory holding the job directories; created when missing.
    max_jobs : int, optional
        How many jobs run at once, by default the number of CPUs.

    Raises
    ------
    ValueError
        If an argument is invalid or the workspace cannot be created.
    """

    kind = "local"

    #: Seconds a cancelled job gets to exit after SIGTERM before SIGKILL.
    cancel_grace: float = 3.0

    def __init__(
        self,
        name: str,
        level: int,
        command: Union[str, Sequence[str]],
        workspace: Union[str, os.PathLike],
        max_jobs: Optional[int] = None,
    ):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"The interface name must be a non-empty string, not {name!r}.")
        if not isinstance(level, int) or isinstance(level, bool):
            raise ValueError(
                f"The level of interface {name!r} must be an integer such as 1 or 2, "
                f"not {level!r}."
            )
        if max_jobs is None:
            max_jobs = os.cpu_count() or 1
        if not isinstance(max_jobs, int) or isinstance(max_jobs, bool) or max_jobs < 1:
            raise ValueError(
                f"max_jobs of interface {name!r} must be a whole number of at least 1, "
                f"not {max_jobs!r}."
            )
        super().__init__(name, level)
        self._command = _validate_command(name, command)
        self._max_jobs = max_jobs
        try:
            workspace = Path(workspace).expanduser()
            workspace.mkdir(parents=True, exist_ok=True)
        except (OSError, TypeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise ValueError(
                f"The workspace {str(workspace)!r} of interface {name!r} cannot be "
                f"created ({reason}); choose a directory you can write to."
            ) from None
        if not os.access(workspace, os.W_OK | os.X_OK):
            raise ValueError(
                f"The workspace {str(workspace)!r} of interface {name!r} is not writable; "
                "choose a directory you can write to."
            )
        # Canonical, because liveness checks match the job dir in the wrapper's argv.
        self._workspace = workspace.resolve()
        self._host = socket.gethostname() or "localhost"
        self._health = InterfaceHealth()

        self._procs: dict[JobId, subprocess.Popen] = {}  # wrappers started here
        self._running: set[JobId] = set()  # jobs holding a slot
        self._queue: list[JobId] = []  # heap: queued jobs, started in id order
        self._queued: set[JobId] = set()
        self._launch_failures: dict[JobId, str] = {}
        self._scanned = False
        self._wrapper_ready = False

    # ---- public API

    @property
    def workspace(self) -> Path:
        """(Read-only) The directory holding the job directories."""
        return self._workspace

    @property
    def command(self) -> list[str]:
        """(Read-only) The simulator command (inputs and output file are appended)."""
        return list(self._command)

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "host": self._host,
            "max_jobs": self._max_jobs,
            "workspace": str(self._workspace),
            "command": shlex.join(self._command),
        }

    def submit_job(self, job: Job) -> None:
        """Create the job's directory and start it, or queue it when all slots are busy.

        Submitting a job whose directory already exists (the resume path) never runs
        it a second time: a queued job stays queued, a started one is left alone.
        """
        self._prepare()
        job_id = JobId(job.id)
        job_dir = self._job_dir(job_id)
        if job_dir.is_dir():
            if not (job_dir / INPUT_FILE).exists():
                jobdir.write_atomic(job_dir / INPUT_FILE, jobdir.format_input(job.data))
        else:
            self._create_job_dir(job_id, jobdir.format_input(job.data))
        self._state(job_id)  # adopts or queues it
        errors = self._start_queued()
        if job_id in errors:
            raise RuntimeError(
                f"Could not start job {job_id} on interface {self.name!r}: {errors[job_id]}"
            )

    def get_job_status(self, job_id: JobId) -> JobStatus:
        """The status of ``job_id``, read from its job directory.

        Raises
        ------
        UnknownJobError
            If the job has no job directory in the workspace.
        """
        self._prepare()
        job_id = JobId(job_id)
        status = self._state(job_id).status
        self._start_queued()
        return status

    def get_job_statuses(self, job_ids: Sequence[JobId]) -> dict[JobId, JobStatus]:
        """The statuses of many jobs in one pass; queued jobs start as slots free.

        Jobs without a job directory are left out, unless no job has one (then
        :class:`UnknownJobError` is raised).
        """
        self._prepare()
        statuses: dict[JobId, JobStatus] = {}
        first_error: Optional[Exception] = None
        for job_id in job_ids:
            try:
                statuses[job_id] = self._state(JobId(job_id)).status
            except UnknownJobError as exc:
                first_error = first_error or exc
        self._start_queued()
        if first_error is not None and not statuses:
            raise first_error
        return statuses

    def get_job_output(self, job_id: JobId) -> float:
        """The output of the completed job ``job_id``.

        Raises
        ------
        NoOutputError
            If the job has not completed (its status is in the error's ``status``).
        """
        self._prepare()
        job_id = JobId(job_id)
        state = self._state(job_id)
        if state.status is not JobStatus.COMPLETED:
            detail = f" ({state.reason})" if state.reason else ""
            raise NoOutputError(
                f"Job {job_id} has no output: its status is {state.status.value}{detail}.",
                state.status,
            )
        return state.output

    def failure_reason(self, job_id: JobId) -> Optional[str]:
        """Why ``job_id`` failed (None unless it failed)."""
        self._prepare()
        return self._state(JobId(job_id)).reason

    def cancel_job(self, job_id: JobId) -> None:
        """Cancel ``job_id``: a queued job never starts, a running one is killed.

        The whole process group of the job (wrapper, simulator and its children) gets
        SIGTERM, then SIGKILL if it is still there after :attr:`cancel_grace` seconds.

        Raises
        ------
        JobAlreadyEndedError
            If the job had already ended (its status is in the error's ``status``).
        UnknownJobError
            If the job has no job directory.
        """
        self._prepare()
        job_id = JobId(job_id)
        state = self._state(job_id)
        if state.finished:
            raise JobAlreadyEndedError(
                f"Job {job_id} already ended with status {state.status.value}.",
                state.status,
            )
        job_dir = self._job_dir(job_id)
        jobdir.write_atomic(job_dir / CANCELLED_FILE, f"{time.time()!r}\n")
        self._queued.discard(job_id)  # the heap entry is skipped when popped
        pgid = self._wrapper_pid(job_id, job_dir)
        if pgid is not None:
            self._kill_group(pgid, job_id)
        self._running.discard(job_id)
        self._start_queued()

    def find_jobs(self, job_ids: Iterable[JobId]) -> set[JobId]:
        """The ids among ``job_ids`` that have a job directory in the workspace."""
        return {JobId(j) for j in job_ids if self._job_dir(JobId(j)).is_dir()}

    def job_details(self, job_id: JobId) -> dict:
        """Host, job directory, pid, times, exit code and stdout/stderr tails of a job."""
        self._prepare()
        job_id = JobId(job_id)
        state = self._state(job_id)
        job_dir = self._job_dir(job_id)
        tails = {
            key: jobdir.tail_text(
                jobdir.read_tail_file(job_dir / name), jobdir.DETAILS_TAIL_LINES
            )
            for key, name in (("stdout_tail", STDOUT_FILE), ("stderr_tail", STDERR_FILE))
        }
        return {
            "host": self._host,
            "job_dir": str(job_dir),
            "status": state.status.value,
            "pid": state.pid,
            "started": state.started,
            "ended": state.ended,
            "exit_code": state.exit_code,
            "output": state.output,
            "reason": state.reason,
            **tails,
        }

    def close(self) -> None:
        """Reap finished wrappers; running jobs are left running (they outlive simjobs)."""
        for job_id, proc in list(self._procs.items()):
            if proc.poll() is not None:
                del self._procs[job_id]

    # ---- job directories and processes

    def _job_dir(self, job_id: JobId) -> Path:
        return jobdir.job_dir_path(self._workspace, job_id)

    def _create_job_dir(self, job_id: JobId, input_data: bytes) -> None:
        # Build the directory aside and rename it into place, so a job directory never
        # exists without its input (a crash in between leaves only a .tmp directory).
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{job_id}-", dir=self._workspace))
        try:
            (tmp / INPUT_FILE).write_bytes(input_data)
            os.rename(tmp, self._job_dir(job_id))
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not self._job_dir(job_id).is_dir():  # lost a race: fine, else re-raise
                raise

    def _prepare(self) -> None:
        """On first use, adopt the running jobs and queue the queued jobs on disk."""
        if self._scanned:
            return
        self._scanned = True
        for name in jobdir.job_dir_names(self._workspace):
            job_dir = self._workspace / name
            if (job_dir / CANCELLED_FILE).exists() or (job_dir / EXIT_CODE_FILE).exists():
                continue
            self._state(JobId(name))

    def _alive(self, job_id: JobId, job_dir: Path) -> bool:
        proc = self._procs.get(job_id)
        if proc is not None:
            return proc.poll() is None
        pid = jobdir.parse_int(LocalJobFiles(job_dir)[PID_FILE])
        if pid is None:
            try:
                age = time.time() - (job_dir / STARTED_MARKER).stat().st_mtime
            except FileNotFoundError:
                return False
            return age < PID_GRACE_SECONDS
        if jobdir.process_is_wrapper(pid, job_dir):
            return True
        self._reap(pid)
        return False

    def _reap(self, pid: int) -> None:
        # A wrapper started by an earlier interface in this same process is our child:
        # collect it so it does not linger as a zombie.
        if any(p.pid == pid for p in self._procs.values()):
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except (ChildProcessError, OSError):
            pass

    def _wrapper_pid(self, job_id: JobId, job_dir: Path) -> Optional[int]:
        proc = self._procs.get(job_id)
        if proc is not None:
            return proc.pid if proc.poll() is None else None
        pid = jobdir.parse_int(LocalJobFiles(job_dir)[PID_FILE])
        if pid is not None and jobdir.process_is_wrapper(pid, job_dir):
            return pid
        return None

    def _kill_group(self, pgid: int, job_id: JobId) -> None:
        proc = self._procs.get(job_id)
        for sig, wait in ((signal.SIGTERM, self.cancel_grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while True:
                if proc is not None:
                    proc.poll()  # reap the wrapper, or it stays in the group as a zombie
                if not jobdir.process_group_alive(pgid):
                    break
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.01)
            if not jobdir.process_group_alive(pgid):
                break
        if proc is not None:
            proc.poll()

    def _state(self, job_id: JobId) -> JobState:
        """Read the job's state and keep the queue and slot bookkeeping in step."""
        job_dir = self._job_dir(job_id)
        if not job_dir.is_dir():
            raise UnknownJobError(
                f"Job {job_id} is unknown to interface {self.name!r}: "
                f"there is no job directory {str(job_dir)!r}."
            )
        if job_id in self._launch_failures and not (job_dir / CANCELLED_FILE).exists():
            state = JobState(JobStatus.FAILED, reason=self._launch_failures[job_id])
        else:
            alive = None
            # Liveness is checked before the files are read: a wrapper that is gone
            # wrote its exit code (if it could) before it went.
            if (job_dir / STARTED_MARKER).exists() and not (job_dir / EXIT_CODE_FILE).exists():
                alive = self._alive(job_id, job_dir)
            state = jobdir.job_state_from_files(LocalJobFiles(job_dir), alive)

        if state.finished:
            self._running.discard(job_id)
            self._queued.discard(job_id)
            proc = self._procs.get(job_id)
            if proc is not None and proc.poll() is not None:
                del self._procs[job_id]
        elif state.status is JobStatus.RUNNING:
            self._running.add(job_id)
        elif state.queued and job_id not in self._procs and job_id not in self._queued:
            self._queued.add(job_id)
            heapq.heappush(self._queue, job_id)
        return state

    def _refresh_running(self) -> None:
        """Free the slots of jobs whose wrappers have exited."""
        for job_id in list(self._running):
            proc = self._procs.get(job_id)
            job_dir = self._job_dir(job_id)
            if proc is not None:
                code = proc.poll()
                if code is None:
                    continue
                if not (job_dir / STARTED_MARKER).exists() and not (
                    job_dir / CANCELLED_FILE
                ).exists():
                    self._launch_failures[job_id] = (
                        f"the job wrapper exited with code {code} before starting the "
                        f"simulator (job directory {str(job_dir)!r})"
                    )
                del self._procs[job_id]
                self._running.discard(job_id)
            elif not self._alive(job_id, job_dir):
                self._running.discard(job_id)

    def _start_queued(self) -> dict[JobId, str]:
        """Start queued jobs in id order while slots are free; return launch errors."""
        self._refresh_running()
        errors: dict[JobId, str] = {}
        while self._queue and len(self._running) < self._max_jobs:
            job_id = heapq.heappop(self._queue)
            if job_id not in self._queued:
                continue  # cancelled or finished meanwhile
            self._queued.discard(job_id)
            job_dir = self._job_dir(job_id)
            if (
                not job_dir.is_dir()
                or (job_dir / CANCELLED_FILE).exists()
                or (job_dir / STARTED_MARKER).exists()
            ):
                continue
            try:
                self._launch(job_id, job_dir)
            except OSError as exc:
                message = f"cannot start the job wrapper: {exc}"
                errors[job_id] = message
                self._health = InterfaceHealth(HEALTH_DEGRADED, message=message)
                self._queued.add(job_id)
                heapq.heappush(self._queue, job_id)
                break
        return errors

    def _launch(self, job_id: JobId, job_dir: Path) -> None:
        wrapper = self._ensure_wrapper()
        proc = subprocess.Popen(
            ["/bin/sh", str(wrapper), str(job_dir), *self._command],
            cwd=job_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: cancel kills the whole tree
            close_fds=True,
        )
        self._procs[job_id] = proc
        self._running.add(job_id)
        if not self._health.ok:
            self._health = InterfaceHealth(HEALTH_OK)

    def _ensure_wrapper(self) -> Path:
        path = self._workspace / WRAPPER_COPY
        if not self._wrapper_ready:
            text = jobdir.render_wrapper()
            try:
                current = path.read_text("utf-8")
            except (FileNotFoundError, UnicodeDecodeError):
                current = None
            if current != text:
                # Replaced by rename: a running sh keeps reading the old file intact.
                jobdir.write_atomic(path, text)
            self._wrapper_ready = True
        return path
