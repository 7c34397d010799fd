"""LocalInterface: runs simulator jobs as detached processes on this machine."""

from __future__ import annotations

import atexit
import heapq
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

from simjobs.core.files import atomic_write
from simjobs.core.hardware import (
    HEALTH_DEGRADED,
    HEALTH_OK,
    CancelInProgress,
    HardwareInterface,
    InterfaceHealth,
)
from simjobs.core.types import Job, JobId, JobStatus

from . import jobdir
from .args import check_interface_args, split_command
from .jobdir import (
    CANCELLED_FILE,
    EXIT_CODE_FILE,
    INPUT_FILE,
    KILL_FILE,
    PID_FILE,
    STARTED_MARKER,
    STDERR_FILE,
    STDOUT_FILE,
    JobAlreadyEndedError,
    JobState,
    LocalJobFiles,
    UnknownJobError,
)

# The wrapper's rendered copy in the workspace (job directories are all digits).
WRAPPER_COPY = ".simjobs-wrapper.sh"
# A started marker without a pid file is a wrapper between its first two steps;
# after this long without a pid it is taken for dead.
PID_GRACE_SECONDS = 30.0


# How long the kill timer waits for a SIGKILLed wrapper to be reaped.
REAP_TIMEOUT = 5.0

# The workspace directory holding the cancels of queued jobs, one file per batch
# (its first line the time, then one job id a line): a mass cancel writes one file,
# not a marker in each of 100,000 job directories (each a slow metadata write).
CANCELS_DIR = ".simjobs-cancelled"
# More batch files than this are merged into one when they are read.
CANCELS_MERGE_AT = 64



def resolve_command(
    command: Union[str, Sequence[str]],
    base_dir: Union[str, os.PathLike, None] = None,
    *,
    placeholders: Optional[Mapping[str, str]] = None,
    what: str = "the command",
) -> list[str]:
    """Check a simulator command and resolve its program: the one place that does.

    A string is split like a shell would (shlex); a list is taken as it is. Each
    ``placeholders`` key is then replaced by its value in every argument (after
    splitting, so a value with spaces stays one argument). The program (the first
    argument) is resolved: a leading ``~`` is expanded; a path with a slash is made
    absolute against ``base_dir`` and must be an executable file; a bare name is
    looked up on PATH. The other arguments are passed as given. Nothing is created,
    written or run.

    Parameters
    ----------
    command : str or sequence of str
        The simulator command.
    base_dir : str or os.PathLike, optional
        The directory a relative program path is relative to; the current directory
        by default.
    placeholders : Mapping[str, str], optional
        Text to replace in the arguments, e.g. ``{"{python}": sys.executable}``.
    what : str, optional
        How error messages name the command, e.g. ``"interfaces[0].command"``.

    Returns
    -------
    list[str]
        The arguments, the first being the program's absolute path.

    Raises
    ------
    ValueError
        With one line naming the problem and the fix.
    """
    argv = split_command(command, what)
    for key, value in (placeholders or {}).items():
        argv = [a.replace(key, value) for a in argv]

    program = argv[0]
    expanded = os.path.expanduser(program) if program.startswith("~") else program
    if os.sep in expanded:
        base = os.getcwd() if base_dir is None else os.fspath(base_dir)
        path = os.path.abspath(os.path.join(base, expanded))  # join keeps an absolute path
        if not os.path.exists(path):
            raise ValueError(
                f"{what}: {program!r} does not exist (looked for {path!r}); check the path"
            )
        if not os.path.isfile(path):
            raise ValueError(
                f"{what}: {program!r} is not a file (looked for {path!r}); give the "
                "simulator's program"
            )
        if not os.access(path, os.X_OK):
            raise ValueError(
                f"{what}: {program!r} is not executable; run 'chmod +x {shlex.quote(path)}' "
                "or put its interpreter first in the command"
            )
    else:
        found = shutil.which(expanded)
        if found is None:
            raise ValueError(
                f"{what}: {program!r} was not found on PATH; give its full path or add "
                "its directory to PATH"
            )
        path = os.path.abspath(found)  # a relative PATH entry would break in the job dir
    # Jobs run in their own directories, so the program's path must be absolute.
    argv[0] = path
    return argv


# The kill timers not finished yet, of every interface (see _GroupKiller).
_pending_kills: set["_GroupKiller"] = set()
_pending_lock = threading.Lock()


class _GroupKiller:
    """SIGKILLs a cancelled job's process group once its grace period is over.

    It runs on its own daemon timer thread, so :meth:`LocalInterface.cancel_job`
    returns as soon as it has sent SIGTERM, and the group is killed on time even when
    nobody polls. It signals the group only while the group is provably still the
    job's, so a pid or group id reused by an unrelated process is never signalled:

    - a wrapper started by this process (``proc``) is not reaped before the SIGKILL,
      so its pid, the group's id, stays taken (by the wrapper or its zombie);
    - otherwise the group is the job's while the wrapper runs (its command line names
      the job directory) or while a member seen at cancel time (``members``: pid ->
      start time) is still the same process in the group.

    ``record`` is the job's kill record (:data:`.jobdir.KILL_FILE`), removed once the
    work is done; while it exists a restarted simjobs finishes the kill.
    """

    def __init__(
        self,
        pgid: int,
        job_dir: Path,
        proc: Optional[subprocess.Popen],
        members: Mapping[int, int],
        grace: float,
        name: str,
        record: Optional[Path] = None,
    ):
        self.pgid = pgid
        self.job_dir = job_dir
        self.proc = proc
        self.members = dict(members)
        self.record = record
        self.owner_pid = os.getpid()
        self.done = threading.Event()
        self.started = time.monotonic()
        self.deadline = self.started + max(0.0, grace)
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, grace), self._finish, kwargs={"kill": True})
        self._timer.daemon = True
        self._timer.name = name

    def start(self) -> None:
        with _pending_lock:
            _pending_kills.add(self)
        self._timer.start()

    def group_is_ours(self) -> bool:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            waitid = getattr(os, "waitid", None)
            if waitid is None:
                return True  # not reaped by us, and nothing else here reaps it
            try:
                # Peek without reaping: still our child (running or a zombie)?
                waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                return True
            except ChildProcessError:
                pass  # reaped elsewhere after all: judge it like an adopted job
        if jobdir.process_is_wrapper(self.pgid, self.job_dir):
            return True
        return any(
            jobdir.process_in_group(pid, start, self.pgid)
            for pid, start in self.members.items()
        )

    def _finish(self, kill: bool) -> None:
        with self._lock:
            if self.done.is_set():
                return
            try:
                if kill and self.group_is_ours():
                    try:
                        os.killpg(self.pgid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                if self.proc is not None:
                    try:
                        self.proc.wait(timeout=REAP_TIMEOUT)  # no zombie left behind
                    except subprocess.TimeoutExpired:
                        pass
            finally:
                if self.record is not None:
                    try:
                        self.record.unlink()
                    except OSError:
                        pass  # gone already (another process finished it too)
                self.done.set()
                with _pending_lock:
                    _pending_kills.discard(self)

    def retry_after(self) -> float:
        """When to ask again whether the group is gone: soon at first (most jobs end on
        SIGTERM at once), then less often, and just after the SIGKILL is due."""
        now = time.monotonic()
        wait = min(1.0, max(0.05, now - self.started))
        until_kill = self.deadline - now + 0.1
        return max(0.05, min(wait, until_kill) if until_kill > 0 else wait)

    def gone(self) -> bool:
        """True once the work is done and no process of the group is left (or it has
        been REAP_TIMEOUT since the SIGKILL was due: the group id may be reused)."""
        if not self.finish_if_gone():
            return False
        return (not jobdir.process_group_alive(self.pgid)
                or time.monotonic() > self.deadline + REAP_TIMEOUT)

    def finish_if_gone(self) -> bool:
        """True when the work is done: the group was killed, or has no live member
        left (then the wrapper is reaped now and the timer stopped). Never blocks."""
        if self.done.is_set():
            return True
        # Our unreaped wrapper keeps the group id taken, so this cannot see a reused
        # group; for an adopted job a reused one only makes us wait for the timer.
        if jobdir.process_group_alive(self.pgid):
            return False
        self._timer.cancel()
        self._finish(kill=False)
        return True

    def wait(self) -> None:
        """Return once the group is gone: at once if it already is, else when the
        timer has killed it (at most the rest of the grace period)."""
        if self.finish_if_gone():
            return
        self._timer.join()
        self.done.wait(REAP_TIMEOUT + 1.0)


@atexit.register
def _finish_pending_kills() -> None:
    # The timers are daemon threads, which die with the interpreter: a simulator
    # that ignores SIGTERM would then outlive its cancel. Let them do their work.
    with _pending_lock:
        killers = [k for k in _pending_kills if k.owner_pid == os.getpid()]
    for killer in killers:
        killer.wait()


def default_max_jobs() -> int:
    """How many jobs a :class:`LocalInterface` runs at once when not told: this machine's
    CPUs (the one place this default is decided; the config reports it too)."""
    return os.cpu_count() or 1


class LocalInterface(HardwareInterface):
    """Runs jobs as processes on this machine, at most ``max_jobs`` at once.

    Each job runs in ``<workspace>/<job_id>/`` under the job wrapper (see
    :mod:`simjobs.interfaces.jobdir`), detached in its own session, so jobs keep
    running when simjobs exits and a new LocalInterface on the same workspace picks
    them up. Jobs beyond ``max_jobs`` wait in the interface's queue and start in
    job-id order as slots free, during status polls. A cancel never starts a queued
    job: queued jobs cancelled together are recorded in one file of the workspace's
    ``.simjobs-cancelled/`` before any running job of the batch is signalled; a running
    job stays "in progress" (Pending cancel in the log) until its process group is
    gone, and its ``kill_pending`` record lets a restarted simjobs finish the kill.

    Parameters
    ----------
    name : str
        The interface's name, unique among a manager's interfaces.
    level : int
        The level of the jobs it runs.
    command : str or list of str
        The simulator, run as ``COMMAND INPUT_FILE OUTPUT_FILE``; a string is split
        like a shell would (shlex). Its program is resolved by :func:`resolve_command`
        (a relative path against the current directory).
    workspace : str or os.PathLike
        The directory holding the job directories; created when missing.
    max_jobs : int, optional
        How many jobs run at once, by default the number of CPUs
        (:func:`default_max_jobs`).

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
        check_interface_args(name, level, max_jobs)
        if max_jobs is None:
            max_jobs = default_max_jobs()
        super().__init__(name, level)
        self._command = resolve_command(command, what=f"The command of interface {name!r}")
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
        # Cancelled jobs whose process groups may still run: each holds its slot
        # until its group is gone.
        self._dying: dict[JobId, _GroupKiller] = {}
        # Cancels answered "in progress" whose final answer is still owed.
        self._unconfirmed: set[JobId] = set()
        # Queued jobs cancelled in batches (see CANCELS_DIR), and the files read.
        self._batch_cancelled: set[JobId] = set()
        self._cancels_read: set[str] = set()
        self._cancels_mtime: Optional[int] = None
        self._workspace_str = str(self._workspace)
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
                # Per-job files skip the fsyncs (~1 ms each, times 100,000 jobs): the log,
                # fsync'd before the hardware is asked, is the record a restart trusts.
                atomic_write(job_dir / INPUT_FILE, jobdir.format_input(job.data), durable=False)
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
        return self._state(job_id).output_of(job_id)

    def failure_reason(self, job_id: JobId) -> Optional[str]:
        """Why ``job_id`` failed (None unless it failed)."""
        self._prepare()
        return self._state(JobId(job_id)).reason

    def cancel_job(self, job_id: JobId) -> None:
        """Cancel ``job_id``: a queued job never starts, a running one is killed.

        Returns at once, the job CANCELLED from then on: the whole process group of
        the job (wrapper, simulator and its children) gets SIGTERM now, and SIGKILL
        from a timer thread if it is still there after :attr:`cancel_grace` seconds,
        whether or not anyone polls (and from a restarted simjobs, if this one dies
        first). The job keeps its slot until its group is gone.

        Raises
        ------
        JobAlreadyEndedError
            If the job had already ended (its status is in the error's ``status``).
        UnknownJobError
            If the job has no job directory.
        """
        job_id = JobId(job_id)
        outcome = self.cancel_jobs([job_id])[job_id]
        if isinstance(outcome, CancelInProgress):
            # exauq's contract: the job is cancelled from here on (the timer, or the
            # kill record after a restart, finishes the kill); nobody asks again.
            self._unconfirmed.discard(job_id)
            return
        if outcome is not None:
            raise outcome

    def cancel_jobs(self, job_ids: Sequence[JobId]) -> dict[JobId, Optional[Exception]]:
        """Cancel many jobs at once; each id maps to None (cancelled) or an error.

        Every job's cancelled marker is written before any process group is signalled,
        so no slot is freed while a job of the batch could still be started in it: a
        job pending cancel is never launched. A running job's group gets SIGTERM (and
        SIGKILL after :attr:`cancel_grace` s, from a timer); until the group is gone its
        outcome is :class:`~simjobs.core.hardware.CancelInProgress` (the JobManager
        keeps it Pending cancel and asks again), then None. Its kill record in the job
        directory lets a restarted simjobs finish the kill.

        The errors are those :meth:`cancel_job` raises (JobAlreadyEndedError,
        UnknownJobError), or the OSError that stopped the marker being written.
        """
        self._prepare()
        outcomes: dict[JobId, Optional[Exception]] = {}
        now = time.time()
        marker = f"{now!r}\n".encode()
        to_signal: list[tuple[JobId, tuple]] = []
        queued: list[JobId] = []  # never started: recorded together, in one file
        for raw in job_ids:
            job_id = raw if raw.__class__ is JobId else JobId(raw)
            if job_id in outcomes:
                continue
            if job_id in self._unconfirmed:  # asked again while its group was stopping
                outcomes[job_id] = self._kill_outcome(job_id)
                continue
            if job_id in self._queued:
                outcomes[job_id] = None
                queued.append(job_id)
                continue
            try:
                state = self._state(job_id)
                job_dir = self._job_dir(job_id)
                # A cancelled job whose wrapper still runs was never signalled (its
                # simjobs died right after writing the marker): signal it now.
                if state.finished and not (state.status is JobStatus.CANCELLED
                                           and self._wrapper_pid(job_id, job_dir)):
                    outcomes[job_id] = JobAlreadyEndedError(
                        f"Job {job_id} already ended with status {state.status.value}.",
                        state.status,
                    )
                    continue
                started = not state.queued or job_id in self._procs
                # The kill record goes first: a simjobs that dies after the marker
                # leaves what a restart needs to finish the kill.
                kill = self._record_kill(job_id, job_dir) if started else None
                atomic_write(job_dir / CANCELLED_FILE, marker, durable=False)
            except (UnknownJobError, OSError) as exc:
                outcomes[job_id] = exc
                continue
            self._queued.discard(job_id)
            if kill is None:
                outcomes[job_id] = None  # never started (and now never will), or gone
            else:
                to_signal.append((job_id, kill))
        if queued:
            try:
                self._record_batch_cancel(queued, now)
            except OSError as exc:
                for job_id in queued:
                    outcomes[job_id] = exc  # still queued: the manager asks again
            else:
                self._queued.difference_update(queued)
                self._drop_stale_queue_entries()
        # Only now, with every marker on disk, may slots be freed.
        for job_id, kill in to_signal:
            outcomes[job_id] = self._signal_group(job_id, *kill)
        self._start_queued()
        return outcomes

    def _drop_stale_queue_entries(self) -> None:
        """Rebuild the queue's heap once most of its entries are no longer queued:
        popping 100,000 cancelled entries one by one costs seconds, a rebuild little."""
        if len(self._queue) > 2 * len(self._queued) + 64:
            self._queue = [j for j in self._queue if j in self._queued]
            heapq.heapify(self._queue)

    def _cancels_dir(self) -> Path:
        """The workspace's batch-cancel directory, made (0700) if missing; an error
        for anything there that is not our own directory (a link, another's)."""
        path = self._workspace / CANCELS_DIR
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise PermissionError(
                f"{str(path)!r} is not a directory of this user; remove it")
        return path

    def _record_batch_cancel(self, job_ids: Sequence[JobId], when: float) -> None:
        """Record that the queued ``job_ids`` are cancelled: one file, written whole."""
        lines = [repr(when), *map(str, job_ids)]
        name = f"{time.time_ns()}-{os.getpid()}-{threading.get_ident()}"
        # Durable (one fsync per batch): after a power cut the log may say Cancelled,
        # and a restart must not then find these jobs queued and start them.
        atomic_write(self._cancels_dir() / name, "\n".join(lines) + "\n")
        self._cancels_read.add(name)  # known already: not read back
        self._batch_cancelled.update(job_ids)

    def _load_batch_cancels(self) -> None:
        """Read the batch-cancel files not read yet (cheap when nothing changed: one
        stat), so a cancel made by another LocalInterface on this workspace counts."""
        path = self._workspace / CANCELS_DIR
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return  # not ours: never trust what another user could have written
        if info.st_mtime_ns == self._cancels_mtime:
            return
        self._cancels_mtime = info.st_mtime_ns
        names = [n for n in os.listdir(path) if not n.startswith(".")]
        for name in names:
            if name in self._cancels_read:
                continue
            try:
                data = (path / name).read_bytes()
            except OSError:
                continue
            self._cancels_read.add(name)
            ids = [JobId(w.decode()) for w in data.split()[1:] if w.isdigit()]
            self._batch_cancelled.update(ids)
            self._queued.difference_update(ids)
        self._drop_stale_queue_entries()
        if len(names) > CANCELS_MERGE_AT:
            self._merge_batch_cancels(path, names)

    def _merge_batch_cancels(self, path: Path, names: list[str]) -> None:
        """Replace many batch files by one holding every id they hold."""
        try:
            self._record_batch_cancel(sorted(self._batch_cancelled), time.time())
        except OSError:
            return
        for name in names:
            try:
                (path / name).unlink()
            except OSError:
                pass
            self._cancels_read.discard(name)

    def _record_kill(self, job_id: JobId, job_dir: Path):
        """Find the process group of a started job and write its kill record: the
        ``(pgid, proc, members, record)`` to signal, or None when nothing of it runs.
        Its bookkeeping is left as it is (the job keeps its slot) until it is signalled."""
        proc = self._procs.get(job_id)
        if proc is not None and proc.returncode is None:
            pgid: Optional[int] = proc.pid  # not reaped, so the group id is still ours
        else:
            proc = None
            pgid = self._wrapper_pid(job_id, job_dir)
        if pgid is None:
            return None
        # Who is in the group now, to recognise it after the wrapper has gone (also
        # from another process, after a restart).
        members = jobdir.process_group_members(pgid) or {}
        record: Optional[Path] = job_dir / KILL_FILE
        try:
            atomic_write(record, jobdir.format_kill_record(
                pgid, time.time() + self.cancel_grace, members))
        except OSError:
            record = None  # the kill still happens; only a restart could not finish it
        return pgid, proc, members, record

    def _signal_group(self, job_id: JobId, pgid: int, proc: Optional[subprocess.Popen],
                      members: Mapping[int, int], record: Optional[Path]
                      ) -> Optional[Exception]:
        """SIGTERM a cancelled job's process group and arm its SIGKILL timer; the job's
        cancel outcome."""
        self._running.discard(job_id)  # its slot is held by the kill timer from here
        # From here on the kill timer owns our wrapper's Popen: nothing else reaps it.
        self._procs.pop(job_id, None)
        try:
            os.killpg(pgid, signal.SIGTERM)
            signalled = True
        except (ProcessLookupError, PermissionError):
            signalled = False
        if not signalled and proc is None:
            if record is not None:
                record.unlink(missing_ok=True)
            return None  # the group had gone already
        self._arm_killer(job_id, _GroupKiller(
            pgid, self._job_dir(job_id), proc, members, self.cancel_grace,
            name=f"simjobs-{self.name}-kill-{job_id}", record=record,
        ))
        return self._kill_outcome(job_id)

    def _arm_killer(self, job_id: JobId, killer: "_GroupKiller") -> None:
        killer.start()
        self._dying[job_id] = killer
        self._unconfirmed.add(job_id)

    def _kill_outcome(self, job_id: JobId) -> Optional[Exception]:
        """None once the cancelled job's process group is gone, else CancelInProgress."""
        killer = self._dying.get(job_id)
        if killer is None or killer.gone():
            self._unconfirmed.discard(job_id)
            return None
        return CancelInProgress(
            f"job {job_id}: waiting for its process group {killer.pgid} to exit "
            f"(SIGKILL {self.cancel_grace:g} s after SIGTERM)",
            retry_after=killer.retry_after(),
        )

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
        """Reap finished wrappers; running jobs are left running (they outlive simjobs).

        Never waits: the kill timers of cancelled jobs run on (and are waited for at
        interpreter exit, so a cancelled job is killed even if simjobs exits first).
        """
        for job_id, killer in list(self._dying.items()):
            if killer.finish_if_gone():
                del self._dying[job_id]
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
        """On first use, adopt the running jobs, queue the queued jobs on disk, and
        finish the kills a previous simjobs left pending (their kill records)."""
        self._load_batch_cancels()
        if self._scanned:
            return
        self._scanned = True
        for name in jobdir.job_dir_names(self._workspace):
            job_dir = self._workspace / name
            if (job_dir / CANCELLED_FILE).exists():
                if (job_dir / KILL_FILE).exists():
                    self._resume_kill(JobId(name), job_dir)
                continue
            if (job_dir / EXIT_CODE_FILE).exists():
                continue
            self._state(JobId(name))

    def _resume_kill(self, job_id: JobId, job_dir: Path) -> None:
        """Re-arm the SIGKILL of a cancel whose simjobs died in its grace period: at the
        time it was due, and only while the group provably is the job's."""
        record = job_dir / KILL_FILE
        try:
            parsed = jobdir.parse_kill_record(record.read_bytes())
        except OSError:
            return
        if parsed is None:
            record.unlink(missing_ok=True)
            return
        pgid, deadline, members = parsed
        self._arm_killer(job_id, _GroupKiller(
            pgid, job_dir, None, members, deadline - time.time(),
            name=f"simjobs-{self.name}-kill-{job_id}", record=record,
        ))

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
        with _pending_lock:  # a kill timer's wrapper keeps its group id until the SIGKILL
            if any(k.proc is not None and k.proc.pid == pid for k in _pending_kills):
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

    def _state(self, job_id: JobId) -> JobState:
        """Read the job's state and keep the queue and slot bookkeeping in step."""
        if job_id in self._queued:
            # Only this object starts its queued jobs, and a cancel by another one is
            # read in _prepare: memory is the truth, and a poll of 100,000 waiting jobs
            # costs no file system call.
            return JobState(JobStatus.SUBMITTED)
        job_dir = self._job_dir(job_id)
        if not job_dir.is_dir():
            raise UnknownJobError(
                f"Job {job_id} is unknown to interface {self.name!r}: "
                f"there is no job directory {str(job_dir)!r}."
            )
        if job_id in self._batch_cancelled:  # cancelled while queued: never started
            state = JobState(JobStatus.CANCELLED)
        elif job_id in self._launch_failures and not (job_dir / CANCELLED_FILE).exists():
            state = JobState(JobStatus.FAILED, reason=self._launch_failures[job_id])
        else:
            alive = None
            # Liveness is checked before the files are read: a wrapper that is gone
            # wrote its exit code (if it could) before it went. A cancelled job's
            # status does not depend on it (and its wrapper belongs to a kill timer).
            if (
                (job_dir / STARTED_MARKER).exists()
                and not (job_dir / EXIT_CODE_FILE).exists()
                and not (job_dir / CANCELLED_FILE).exists()
            ):
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
        """Free the slots of jobs whose wrappers have exited, and of cancelled jobs
        whose process groups are gone."""
        for job_id, killer in list(self._dying.items()):
            if killer.finish_if_gone():
                del self._dying[job_id]
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
        while self._queue and len(self._running) + len(self._dying) < self._max_jobs:
            job_id = heapq.heappop(self._queue)
            if job_id not in self._queued:
                continue  # cancelled or finished meanwhile
            self._queued.discard(job_id)
            job_dir = self._job_dir(job_id)
            if (
                job_id in self._batch_cancelled
                or not job_dir.is_dir()
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
                atomic_write(path, text)
            self._wrapper_ready = True
        return path
