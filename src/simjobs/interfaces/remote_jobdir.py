"""The job-directory protocol over a :class:`~.runner.CommandRunner` (SSH, or local for Slurm).

:mod:`.jobdir` defines the layout of a job directory and how a job's state follows from
its files; this module does the same operations on a workspace that lives wherever a
runner runs its commands, **one remote command per operation, whatever the number of
jobs**:

- :meth:`RemoteJobDirs.install_wrapper` puts the rendered wrapper into
  ``<workspace>/.simjobs/wrapper-<hash>.sh``: written aside, checked (size and POSIX
  ``cksum``), renamed; an installed copy found wrong is written again;
- :meth:`RemoteJobDirs.create_job_dirs` makes many job directories with their input
  files (each built aside and renamed into place, so a job directory never exists
  without its input);
- :meth:`RemoteJobDirs.read_jobs` reads the state files of all given jobs (plus
  caller-given extra files, e.g. a Slurm job id) and whether each wrapper still runs;
  its :class:`RemoteJob` results feed :func:`.jobdir.job_state_from_files`;
- :meth:`RemoteJobDirs.sync` is ``read_jobs`` that can also create job directories and
  start queued jobs' wrappers (detached with ``setsid``) up to a number of running jobs,
  all in the same command: what SSHInterface does on every submit and poll;
- :meth:`RemoteJobDirs.cancel` writes the cancelled marker, signals each job's process
  group (pid file) with SIGTERM, then SIGKILL after a grace period, and confirms that
  no process of the group is left.

Every command is one POSIX ``sh`` script sent on the standard input of ``/bin/sh -s``,
so it does not depend on the remote login shell. Its code comes from the ``.sh`` files
beside this module (``now.sh``, ``remote_lib.sh`` and the operation's ``remote_*.sh``,
checked by shellcheck); every value (paths, the command, job ids, inputs) reaches it as
a shell variable assigned at the top (:func:`shell_assignments`), or for ``write_files``
as arguments of its call, always quoted with :func:`shlex.quote`. The scripts use shell
builtins for every job (``[``, ``read``, ``printf``) and start extra processes only per
batch (``mkdir``, ``mv``, one ``wc`` per 200 output files) or for files that must be
read whole (stderr of failed jobs, outputs that are not one short line, via ``base64``),
so a poll of 500 jobs costs milliseconds on the remote side. No script judges an output:
its bytes (and size) are shipped, and :func:`.jobdir.parse_output` decides, as for a
local job.

The output is a compact table, one line per fact: ``<job_id> <key> [<value>]``; file
contents that may hold any bytes come base64-encoded between ``<job_id> b <name>`` and a
line ``.``. The script's last line is ``!end``, so a cut-off answer is never taken for
a complete one.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
import shlex
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Optional, Union

from simjobs.core.types import JobId, JobStatus

from . import jobdir
from .args import split_command
from .jobdir import (
    CANCELLED_FILE,
    ENDED_FILE,
    EXIT_CODE_FILE,
    INPUT_FILE,
    OUTPUT_FILE,
    OUTPUT_MAX_BYTES,
    OUTPUT_SIZE,
    PID_FILE,
    STARTED_FILE,
    STARTED_MARKER,
    STDERR_FILE,
    STDOUT_FILE,
    TAIL_BYTES,
    JobState,
)
from .runner import CommandResult, CommandRunner, expand_remote_path
from .shell import shell_assignments, shell_file

#: The directory in a workspace holding simjobs' own files (job directories are digits).
META_DIR = ".simjobs"
#: Files with one line each, read with the shell's ``read`` (no process per file).
ONE_LINE_FILES = (CANCELLED_FILE, PID_FILE, STARTED_FILE, ENDED_FILE, EXIT_CODE_FILE)
#: One-line files a poll of a job that has not ended does not need (its pid is read apart).
_SLOW_FILES = (PID_FILE, STARTED_FILE, ENDED_FILE, EXIT_CODE_FILE)
#: Seconds a started job may go without a pid file before its wrapper counts as dead.
PID_GRACE_MINUTES = 1
#: Job directories made by one mkdir/mv call (far below any system's argument limit).
CREATE_CHUNK = 1000
#: Seconds a cancelled job's group gets between SIGTERM and SIGKILL, by default.
CANCEL_GRACE = 3.0

_END = "!end"
re_space = re.compile(r"no space left on device|disk quota exceeded", re.IGNORECASE)


class RemoteCommandError(RuntimeError):
    """A job-directory command ran but did not complete (its message has the stderr tail)."""


@dataclasses.dataclass(frozen=True)
class RemoteJob:
    """What one command found in a job's directory.

    Attributes
    ----------
    job_id : JobId
    exists : bool
        Whether the job directory exists.
    files : dict[str, bytes or None]
        The state files read (:data:`.jobdir.STATE_FILES` and any extra files asked
        for): contents, or None when the file does not exist. One-line files hold their
        first line; stderr and stdout hold their last :data:`.jobdir.TAIL_BYTES` bytes.
        Stderr is read only once the job has an exit code (or when tails were asked
        for); the output only once it has exit code 0, whole, with its size under
        :data:`.jobdir.OUTPUT_SIZE` (and left out when over
        :data:`.jobdir.OUTPUT_MAX_BYTES`).
    alive : bool or None
        Whether the job's wrapper process still runs (None: not asked, because the job
        has not started or has an exit code, or cannot tell yet).
    launched : bool
        True when this very command started the job's wrapper.
    created : bool
        True when this very command created the job's directory.
    """

    job_id: JobId
    exists: bool
    files: Mapping[str, Optional[bytes]] = dataclasses.field(default_factory=dict)
    alive: Optional[bool] = None
    launched: bool = False
    created: bool = False

    @property
    def state(self) -> JobState:
        """The job's state (:func:`.jobdir.job_state_from_files`); a job just launched
        whose wrapper has not yet made its marker is still SUBMITTED."""
        if not self.exists:
            raise jobdir.UnknownJobError(f"Job {self.job_id} has no job directory.")
        return jobdir.job_state_from_files(self.files, self.alive)

    @property
    def holds_slot(self) -> bool:
        """True while the job occupies a run slot: its wrapper runs or was just started."""
        if self.launched or self.alive:
            return True
        return (
            self.exists
            and self.files.get(STARTED_MARKER) is not None
            and self.files.get(EXIT_CODE_FILE) is None
            and self.alive is None
        )

    def text(self, name: str) -> str:
        """A file's contents as text ("" when absent)."""
        data = self.files.get(name)
        return "" if data is None else data.decode("utf-8", "replace")


@dataclasses.dataclass(frozen=True)
class CancelOutcome:
    """What :meth:`RemoteJobDirs.cancel` did for one job.

    Attributes
    ----------
    before : RemoteJob
        The job as it was found, before the cancel (its ``state`` says whether it had
        already ended).
    signalled : bool
        Whether its process group was signalled.
    gone : bool
        Whether no live process of the group is left (True when there was none).
    """

    before: RemoteJob
    signalled: bool
    gone: bool


@dataclasses.dataclass
class _JobFacts:
    """What the lines of a command's output say about one job, as they are read."""

    exists: Optional[bool] = None
    files: dict[str, Optional[bytes]] = dataclasses.field(default_factory=dict)
    alive: Optional[bool] = None
    launched: bool = False
    created: bool = False

    def note(self, kind: bytes, rest: list[bytes]) -> None:
        """Take one fact line ``<job_id> <kind> <rest...>`` (but a blob's, read apart)."""
        if kind == b"r" and len(rest) >= 2:
            self.note_running(rest[0], rest[1].strip())
        elif kind == b"q" or kind == b"dir":
            self.exists = True
        elif kind == b"none":
            self.exists = False
        elif kind == b"f" and rest:
            value = rest[1] if len(rest) > 1 else b""
            self.files[rest[0].decode("utf-8", "replace")] = value + b"\n" if value else b""
        elif kind == b"alive" and rest:
            self.alive = rest[0].strip() == b"1"
        elif kind == b"launched":
            self.launched = True
        elif kind == b"created":
            self.created = True
            if self.exists is None:
                self.exists = True

    def note_running(self, pid: bytes, alive: bytes) -> None:
        """``r PID ALIVE``: started, not ended; its pid ("-": none yet) and whether its
        wrapper runs ("-": cannot tell yet)."""
        self.exists = True
        self.files[STARTED_MARKER] = b""
        if pid != b"-":
            self.files[PID_FILE] = pid + b"\n"
        self.alive = None if alive == b"-" else alive == b"1"

    def job(self, job_id: JobId) -> RemoteJob:
        if STARTED_MARKER in self.files:
            self.files[STARTED_MARKER] = b""
        return RemoteJob(job_id, bool(self.exists), self.files, self.alive,
                         self.launched, self.created)


def _read_facts(lines: Iterable[bytes]) -> dict[str, _JobFacts]:
    """The facts of a command's output by job id (text): one line per fact, file
    contents base64 between ``<job_id> b <name>`` and a line ``.``; lines that are no
    fact (a login script's noise, the end line) are skipped."""
    found: dict[str, _JobFacts] = {}
    blob: Optional[tuple[_JobFacts, str, list[bytes]]] = None  # being read: whose, name, parts
    for raw in lines:
        line = raw.rstrip(b"\r")
        if blob is not None:
            if line.strip() == b".":
                facts, name, parts = blob
                facts.files[name] = _decode_blob(b"".join(parts))
                blob = None
            else:
                blob[2].append(line.strip())
            continue
        parts = line.split(b" ", 3)
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        facts = found.setdefault(parts[0].decode(), _JobFacts())
        if parts[1] == b"b" and len(parts) >= 3:
            blob = (facts, parts[2].decode("utf-8", "replace"), [])
        else:
            facts.note(parts[1], parts[2:])
    return found


def _decode_blob(data: bytes) -> bytes:
    """A blob's bytes (b"" when its base64 is damaged)."""
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        return b""


class LateResults:
    """Jobs concluded FAILED without an exit code, watched (SSH and Slurm alike) for one
    their wrapper records late: a poll that could not see the wrapper's last word (a
    purged Slurm job, a full disk, a slow shared file system) must not be the end.

    ``watch(job_id)`` when such a job is concluded; :meth:`watched` gives the ids to
    read along with the next command; :meth:`check` takes what that read found;
    :meth:`take` hands the corrections to the manager (``late_results``)."""

    def __init__(self, window: float) -> None:
        self.window = window  # seconds a job is watched
        self.since: dict[JobId, float] = {}  # job id -> when it was concluded
        self.found: dict[JobId, JobState] = {}  # corrections not yet taken
        self.read_since_take = False  # a command read the watched jobs since take()

    def watch(self, job_id: JobId) -> None:
        self.since.setdefault(job_id, time.monotonic())

    def __contains__(self, job_id: object) -> bool:
        return job_id in self.since

    @property
    def active(self) -> bool:
        """True while a job is watched or a correction waits to be taken."""
        return bool(self.since or self.found)

    @property
    def needs_read(self) -> bool:
        """True when ``late_results`` must read the watched jobs itself."""
        return bool(self.since) and not self.read_since_take

    def watched(self) -> list[JobId]:
        """The ids still watched (those past :attr:`window` are dropped)."""
        now = time.monotonic()
        for job_id, since in list(self.since.items()):
            if now - since > self.window:
                del self.since[job_id]
        return sorted(self.since)

    def check(self, read: Mapping[JobId, "RemoteJob"], watched: Sequence[JobId]
              ) -> dict[JobId, JobState]:
        """What ``read`` shows of the ``watched`` jobs: a job whose directory is gone or
        that was cancelled is no longer watched; one with an exit code now has ended
        for real, and is returned (and kept for :meth:`take`)."""
        self.read_since_take = True
        ended: dict[JobId, JobState] = {}
        for job_id in watched:
            job = read.get(job_id)
            if job is None:
                continue
            if not job.exists or job.files.get(CANCELLED_FILE) is not None:
                self.since.pop(job_id, None)
            elif job.files.get(EXIT_CODE_FILE) is not None:
                self.since.pop(job_id, None)
                state = jobdir.job_state_from_files(job.files, None)
                if state.finished and state.status is not JobStatus.CANCELLED:
                    self.found[job_id] = ended[job_id] = state
        return ended

    def take(self) -> dict[JobId, JobStatus]:
        """The corrections found since the last call, as the manager wants them."""
        self.read_since_take = False
        found, self.found = self.found, {}
        return {job_id: state.status for job_id, state in found.items()}


def _create_calls(create: Mapping[JobId, bytes], values: dict[str, object]) -> list[str]:
    """The ``create_jobs`` calls (remote_create.sh) making the job directories of
    ``create`` with their input lines, their arguments put into ``values``: in chunks,
    so that no mkdir or mv gets more arguments than a system allows."""
    create_ids = list(create)
    calls = []
    for n, start in enumerate(range(0, len(create_ids), CREATE_CHUNK)):
        chunk = create_ids[start:start + CREATE_CHUNK]
        values[f"create_ids_{n}"] = _ids_word(chunk)
        values[f"create_inputs_{n}"] = "".join(_input_line(j, create[j]) for j in chunk)
        calls.append(f'create_jobs "$create_ids_{n}" "$create_inputs_{n}"\n')
    return calls


def _input_line(job_id: JobId, data: Union[bytes, str]) -> str:
    """``<job_id> <input>`` for create_jobs; ValueError if the input is not one line."""
    text = data.decode("ascii") if isinstance(data, bytes) else str(data)
    text = text.rstrip("\n")
    if "\n" in text or "\r" in text:
        raise ValueError(f"the input of job {job_id} must be one line")
    return f"{job_id} {text}\n"


def _check_file_name(name: str) -> None:
    """ValueError unless ``name`` can name a file of a job directory."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a job-directory file name: {name!r}")


def quote_command(argv: Sequence[str]) -> str:
    """Shell words running ``argv`` remotely: each quoted; a program given as ``~/x`` or
    as a relative path with a slash is taken relative to the remote home."""
    if not argv:
        raise ValueError("empty command")
    program = argv[0]
    if program.startswith("~/"):
        first = '"$HOME"/' + shlex.quote(program[2:])
    elif "/" in program and not program.startswith("/"):
        first = '"$HOME"/' + shlex.quote(program)
    else:
        first = shlex.quote(program)
    return " ".join([first, *(shlex.quote(a) for a in argv[1:])])


def _ids_word(job_ids: Iterable) -> str:
    words = []
    for job_id in job_ids:
        text = str(JobId(job_id))
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"job id {text!r} is not all digits")
        words.append(text)
    return " ".join(words)


#: The shell functions every script shares (``now.sh``, as in the wrapper, and
#: ``remote_lib.sh``): ``$ws`` is the workspace, absolute after cd; the rest of their
#: variables are set by ``_script``.
_FUNCTIONS = shell_file("now.sh") + shell_file("remote_lib.sh")


#: Shell functions for writing files safely: ``free_note`` prints the free space of the
#: workspace's file system (so a full disk or quota is named as the cause of a failed
#: write), ``installed PATH SIZE CKSUM`` checks a file simjobs wrote. Part of
#: ``remote_lib.sh``, the only copy.
SPACE_FUNCTIONS = _FUNCTIONS[_FUNCTIONS.index("# Writing files safely"):]

_CKSUM_TABLE: list[int] = []


def posix_cksum(data: bytes) -> int:
    """The CRC that POSIX ``cksum`` prints for ``data`` (with its length folded in)."""
    if not _CKSUM_TABLE:
        for i in range(256):
            c = i << 24
            for _ in range(8):
                c = ((c << 1) ^ 0x04C11DB7) if c & 0x80000000 else (c << 1)
            _CKSUM_TABLE.append(c & 0xFFFFFFFF)
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CKSUM_TABLE[((crc >> 24) ^ byte) & 0xFF]
    n = len(data)
    while n:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CKSUM_TABLE[((crc >> 24) ^ n) & 0xFF]
        n >>= 8
    return ~crc & 0xFFFFFFFF


def format_bytes(n: int) -> str:
    """``0 B``, ``12 KB``, ``3.4 MB``... for messages."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 10 else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


class RemoteJobDirs:
    """Job directories in ``workspace``, wherever ``runner`` runs commands.

    Parameters
    ----------
    runner : CommandRunner
        Where the commands run (:class:`.runner.LocalRunner` or ``SSHRunner``).
    workspace : str
        The directory holding the job directories, as the remote side sees it; a
        relative path (or ``~/...``) is relative to the remote home directory.
    command : str or list of str, optional
        The simulator command, needed only to start wrappers (:meth:`sync` with
        ``launch``); a string is split like a shell would. Its program is not looked
        up here: it runs remotely (an absolute path, a name on the remote PATH, or a
        path relative to the remote home).
    timeout : float, optional
        Seconds a command may take, by default 120.
    """

    def __init__(
        self,
        runner: CommandRunner,
        workspace: str,
        command: Union[str, Sequence[str], None] = None,
        timeout: float = 120.0,
    ):
        if not isinstance(workspace, str) or not workspace.strip():
            raise ValueError(f"the workspace must be a directory path, not {workspace!r}")
        self.runner = runner
        self.workspace = expand_remote_path(workspace)
        self.command = None if command is None else split_command(command)
        self.timeout = timeout
        wrapper_text = jobdir.render_wrapper()
        self._wrapper_text = wrapper_text
        digest = hashlib.sha256(wrapper_text.encode("utf-8")).hexdigest()[:12]
        #: The wrapper's path relative to the workspace.
        self.wrapper_name = f"{META_DIR}/wrapper-{digest}.sh"
        self._wrapper_installed = False

    # ---- paths

    def job_dir(self, job_id) -> str:
        """The job directory of ``job_id`` (relative to the remote home when the
        workspace is)."""
        return f"{self.workspace.rstrip('/') or '/'}/{JobId(job_id)}".replace("//", "/")

    @property
    def wrapper_path(self) -> str:
        """The installed wrapper's path (relative to the remote home when the workspace is)."""
        return f"{self.workspace.rstrip('/')}/{self.wrapper_name}"

    # ---- running scripts

    def _script(self, body: str, *, create_ws: bool, one_files: Sequence[str] = ONE_LINE_FILES,
                tails: bool = False, files: Sequence[str] = (),
                values: Mapping[str, object] = {}) -> str:
        """The script of one command: ``values`` (and the workspace's) as shell variables
        at the top, every one quoted; the shared functions and those of ``files`` (the
        operations' ``remote_*.sh``); then ``body``, calls of those functions."""
        ws = self.workspace
        head = shell_assignments(
            ws=ws,
            one_files=" ".join(one_files),
            quick_files=" ".join(n for n in one_files if n not in _SLOW_FILES),
            m_started=STARTED_MARKER, f_exit=EXIT_CODE_FILE, f_pid=PID_FILE,
            f_output=OUTPUT_FILE, f_stderr=STDERR_FILE, f_stdout=STDOUT_FILE,
            f_input=INPUT_FILE, f_cancelled=CANCELLED_FILE, k_size=OUTPUT_SIZE,
            output_max=OUTPUT_MAX_BYTES, tail_bytes=TAIL_BYTES,
            tails="1" if tails else "0",
            wrapper=self.wrapper_name,
            grace_minutes=PID_GRACE_MINUTES,
            **values,
        )
        if create_ws:
            enter = ('mkdir -p -- "$ws" && cd -- "$ws" || '
                     '{ echo "!noworkspace"; exit 3; }\n')
        else:
            enter = 'cd -- "$ws" 2>/dev/null || { echo "!noworkspace"; echo "!end"; exit 0; }\n'
        # $PWD: the absolute workspace, without forking for pwd.
        return ("unset CDPATH\n" + head + _FUNCTIONS
                + "".join(shell_file(name) for name in files) + enter + 'ws=$PWD\n'
                + body + f"\necho '{_END}'\n")

    def _run(self, script: str) -> tuple[list[bytes], CommandResult]:
        result = self.runner.run("/bin/sh -s", input=script.encode("utf-8"), timeout=self.timeout)
        lines = result.stdout.split(b"\n")
        stripped = {line.strip() for line in lines}
        if result.exit_status and _END.encode() not in stripped:
            full = self.space_problem(lines, result)
            if full is not None:
                raise RemoteCommandError(full)
        if b"!badinstall" in stripped:
            raise RemoteCommandError(
                f"could not install the job wrapper into {self.workspace}/{META_DIR} on "
                f"{self.runner.host}: {result.error_text() or 'it did not read back whole'}; "
                "check that the workspace is writable")
        if b"!noworkspace" in stripped and result.exit_status:
            raise RemoteCommandError(
                f"cannot create or enter the workspace {self.workspace!r} on "
                f"{self.runner.host} ({result.error_text() or 'permission denied'}); "
                "choose a directory the remote user can write to"
            )
        if _END.encode() not in stripped:
            raise RemoteCommandError(
                f"a job-directory command on {self.runner.host} failed (exit status "
                f"{result.exit_status}): {result.error_text() or 'no output'}"
            )
        return lines, result

    def space_problem(self, lines: Sequence[bytes], result: Optional[CommandResult] = None
                      ) -> Optional[str]:
        """"no space left on the remote workspace ..." when a command's ``!free`` line
        (see ``free_note``) or its errors say the file system is full; else None."""
        free = None
        for line in lines:
            if line.startswith(b"!free "):
                try:
                    free = int(line.split()[1])
                except (IndexError, ValueError):
                    pass
        errors = result.error_text() if result is not None else ""
        said = re_space.search(errors)
        if free != 0 and said is None:
            return None
        cause = "disk quota exceeded" if said and "quota" in said.group(0).lower() and free \
            else "no space left"
        df = f"df: {format_bytes(free)} free" if free is not None else errors
        return (f"{cause} on the remote workspace {self.workspace} on {self.runner.host} "
                f"({df}); free space there (or raise the quota)")

    def free_space(self) -> Optional[int]:
        """Bytes free on the workspace's file system (None when df cannot tell): one
        command, used to name a full disk as the cause of a failure."""
        lines, _ = self._run(self._script("free_note\n", create_ws=False))
        for line in lines:
            if line.startswith(b"!free "):
                try:
                    return int(line.split()[1])
                except (IndexError, ValueError):
                    return None
        return None

    @staticmethod
    def _parse(lines: list[bytes], ids: Iterable[JobId]) -> dict[JobId, RemoteJob]:
        """The jobs of ``ids`` as a command's output ``lines`` describe them (a job the
        output does not name is left out)."""
        found = _read_facts(lines)
        result: dict[JobId, RemoteJob] = {}
        for job_id in ids:
            facts = found.get(str(job_id))
            if facts is not None:
                result[JobId(job_id)] = facts.job(JobId(job_id))
        return result

    # ---- operations

    def install_wrapper(self) -> str:
        """Put the wrapper into the workspace (one command, skipped when this object has
        done it already); returns :attr:`wrapper_path`.

        The installed file is checked (size and POSIX ``cksum``): when it is missing or
        wrong (a 0-byte file left by a full disk, say) it is written again, to a
        temporary name, checked, and only then renamed into place. A full disk or quota
        raises :class:`RemoteCommandError` naming it, and leaves nothing behind."""
        if not self._wrapper_installed:
            content = self._wrapper_text.rstrip("\n") + "\n"
            data = content.encode("utf-8")
            body = 'install_wrapper "$wrapper_size" "$wrapper_cksum" "$wrapper_text"\n'
            self._run(self._script(body, create_ws=True, files=["remote_files.sh"], values={
                "wrapper_size": len(data), "wrapper_cksum": posix_cksum(data),
                "wrapper_text": content}))
            self._wrapper_installed = True
        return self.wrapper_path

    def check_install_again(self) -> None:
        """Check (and redo if wrong) the installed wrapper at the next command that needs
        it: called when a job's wrapper did not start, in case someone removed or
        truncated it while this process ran."""
        self._wrapper_installed = False

    def create_job_dirs(self, inputs: Mapping[JobId, bytes]) -> dict[JobId, bool]:
        """Create job directories with their input files, in one command.

        Parameters
        ----------
        inputs : Mapping[JobId, bytes]
            Job id to the contents of its input file (:func:`.jobdir.format_input`).

        Returns
        -------
        dict[JobId, bool]
            True for each directory created now, False for one that existed (left as is).
        """
        jobs = self.sync(create=inputs, read=())
        return {JobId(j): jobs[JobId(j)].created for j in inputs if JobId(j) in jobs}

    def read_jobs(self, job_ids: Iterable, extra_files: Sequence[str] = (),
                  tails: bool = False) -> dict[JobId, RemoteJob]:
        """Read the state of many jobs in one command.

        Parameters
        ----------
        job_ids : iterable of JobId
        extra_files : sequence of str, optional
            More one-line files of the job directory to read (e.g. a Slurm job id).
        tails : bool, optional
            Also read the last :data:`.jobdir.TAIL_BYTES` of stdout and stderr of every
            job (whether or not it has ended).

        Returns
        -------
        dict[JobId, RemoteJob]
            One entry per job id (``exists`` False when it has no job directory).
        """
        return self.sync(read=job_ids, extra_files=extra_files, tails=tails)

    def scan_unfinished(self, extra_files: Sequence[str] = ()) -> dict[JobId, RemoteJob]:
        """Every job directory of the workspace without an exit code (queued, running,
        or cancelled with its process maybe still there), read in one command."""
        lines, _ = self._run(self._script("scan_unfinished\n", create_ws=False,
                                          files=["remote_files.sh"]))
        ids = [line.split(b" ")[0].decode() for line in lines if line.endswith(b" scan")]
        if not ids:
            return {}
        return self.read_jobs(ids, extra_files=extra_files)

    def sync(
        self,
        *,
        create: Mapping[JobId, bytes] = {},
        read: Iterable = (),
        launch: Sequence = (),
        max_running: Optional[int] = None,
        starting: Iterable = (),
        extra_files: Sequence[str] = (),
        tails: bool = False,
    ) -> dict[JobId, RemoteJob]:
        """Create job directories, read jobs, and start queued jobs: one command.

        In this order: the directories of ``create`` that do not exist yet are made
        with their input files; every job of ``read`` and ``create`` is read (as
        :meth:`read_jobs`); then the jobs of ``launch`` (in that order) that have a
        directory, have not started and are not cancelled get their wrapper started,
        detached in a new session, while fewer than ``max_running`` of the jobs read
        hold a run slot (None: no limit). So ``read`` must include every job that may
        be running for the limit to hold, and ``starting`` the jobs launched earlier
        whose wrappers may not have made their started marker yet (each holds a slot
        until it has started, unless it was cancelled).

        Returns
        -------
        dict[JobId, RemoteJob]
            The jobs of ``read``, ``create`` and ``launch``.
        """
        create = {JobId(j): data for j, data in create.items()}
        create_ids = list(create)
        read_ids = list(dict.fromkeys([*(JobId(j) for j in read), *create_ids]))
        launch_ids = [JobId(j) for j in launch]
        values: dict[str, object] = {}
        parts = _create_calls(create, values)
        all_ids = list(dict.fromkeys([*read_ids, *launch_ids]))
        one_files = list(dict.fromkeys([*ONE_LINE_FILES, *extra_files]))
        for name in one_files:
            _check_file_name(name)
        starting_ids = [JobId(j) for j in starting] if launch_ids else []
        # Every job is read once (one look decides whether it holds a slot): a job
        # started earlier whose wrapper has not made its marker yet holds one too.
        to_read = list(dict.fromkeys([*read_ids, *launch_ids, *starting_ids]))
        if to_read:
            values["read_ids"] = _ids_word(to_read)
            values["starting_ids"] = " " + _ids_word(starting_ids) + " "
            parts.append('read_jobs "$read_ids" "$starting_ids"\n')
        if launch_ids:
            if self.command is None:
                raise ValueError("no command given: cannot start jobs")
            self.install_wrapper()
            values["launch_ids"] = _ids_word(launch_ids)
            values["limit"] = "" if max_running is None else str(int(max_running))
            values["run"] = quote_command(self.command)
            parts.append('launch_jobs "$launch_ids" "$limit" "$run"\n')
        script = self._script("".join(parts), create_ws=bool(create_ids),
                              one_files=one_files, tails=tails, values=values,
                              files=(["remote_create.sh"] if create_ids else [])
                              + ["remote_read.sh"])
        lines, _ = self._run(script)
        return self._parse(lines, all_ids)

    def write_files(self, files: Mapping[JobId, Mapping[str, str]]) -> None:
        """Write small text files into job directories (atomically), in one command,
        e.g. ``{job_id: {"slurm_id": "1234"}}``. The job directories must exist."""
        words = []
        for job_id, named in files.items():
            job = _ids_word([job_id])
            for name, text in named.items():
                _check_file_name(name)
                words += [job, name, text]
        if words:
            # Arguments of write_files (remote_files.sh), each quoted.
            body = "write_files " + " ".join(shlex.quote(w) for w in words) + "\n"
            self._run(self._script(body, create_ws=False, files=["remote_files.sh"]))

    def read_output(self, job_id) -> tuple[Optional[float], Optional[str]]:
        """``(output, None)`` for a completed job, else ``(None, why not)``."""
        job = self.read_jobs([job_id])[JobId(job_id)]
        state = job.state
        if state.status is JobStatus.COMPLETED:
            return state.output, None
        return None, state.reason or f"the job's status is {state.status.value}"

    def tails(self, job_id, max_lines: int = jobdir.DETAILS_TAIL_LINES) -> tuple[str, str]:
        """The last lines of the job's stdout and stderr."""
        job = self.read_jobs([job_id], tails=True)[JobId(job_id)]
        return (jobdir.tail_text(job.files.get(STDOUT_FILE), max_lines),
                jobdir.tail_text(job.files.get(STDERR_FILE), max_lines))

    def kill_orphans(self, pids: Mapping[JobId, int], grace: float = CANCEL_GRACE) -> set[JobId]:
        """Stop the process groups of jobs whose job directory is gone (one command):
        SIGTERM, SIGKILL after ``grace`` seconds. A pid is signalled only while it is
        still that job's wrapper (its command line names the job directory), so a reused
        pid is left alone. Returns the jobs whose group was signalled."""
        if not pids:
            return set()
        ticks = max(1, int(round(grace / 0.1)))
        pairs = " ".join(f"{_ids_word([j])}:{int(p)}" for j, p in pids.items() if int(p) > 1)
        if not pairs:
            return set()
        body = 'kill_orphans "$pairs" "$ticks"\n'
        lines, _ = self._run(self._script(body, create_ws=False, files=["remote_cancel.sh"],
                                          values={"pairs": pairs, "ticks": ticks}))
        return {JobId(l.split(b" ")[0].decode()) for l in lines if l.endswith(b" orphan")}

    def cancel(self, job_ids: Iterable, grace: float = CANCEL_GRACE,
               signal_group: bool = True) -> dict[JobId, CancelOutcome]:
        """Cancel jobs in one command: for each job without an exit code, write the
        cancelled marker (once), then SIGTERM its wrapper's process group, SIGKILL it
        after ``grace`` seconds, and confirm no live process of the group is left.

        A job that has already ended is left alone (see ``before.state`` of its
        outcome). A queued job never starts: its wrapper exits on the marker. With
        ``signal_group`` False (Slurm, which signals with scancel) only the marker
        is written.
        """
        ids = [JobId(j) for j in job_ids]
        if not ids:
            return {}
        ticks = max(1, int(round(grace / 0.1)))
        body = 'cancel_jobs "$cancel_ids" "$ticks" "$signal_group"\n'
        lines, _ = self._run(self._script(body, create_ws=False, files=["remote_cancel.sh"],
                                          values={"cancel_ids": _ids_word(ids), "ticks": ticks,
                                                  "signal_group": 1 if signal_group else 0}))
        before = self._parse(lines, ids)
        signalled = {l.split(b" ")[0].decode() for l in lines if l.endswith(b" signalled")}
        stuck = {l.split(b" ")[0].decode() for l in lines if l.endswith(b" alivegroup")}
        return {
            job_id: CancelOutcome(job, str(job_id) in signalled, str(job_id) not in stuck)
            for job_id, job in before.items()
        }
