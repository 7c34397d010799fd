"""The job-directory protocol shared by the local, SSH and Slurm interfaces.

A job runs in ``<workspace>/<job_id>/``. The interface writes :data:`INPUT_FILE`
(one CSV line of the input's coordinates) and starts the wrapper (``wrapper.sh``,
rendered by :func:`render_wrapper` so that the file names below are written once):

1. ``mkdir`` :data:`STARTED_MARKER`, exiting 0 at once when it already exists, so
   the same job never runs twice (``mkdir`` is atomic on every file system we use);
2. writes :data:`PID_FILE` (the wrapper's pid, which is also its process group id)
   and :data:`STARTED_FILE` (epoch seconds), each atomically (tmp file, then mv);
3. runs ``COMMAND input.csv output.txt`` in the job directory, stdout to
   :data:`STDOUT_FILE`, stderr to :data:`STDERR_FILE`;
4. writes :data:`ENDED_FILE` and then :data:`EXIT_CODE_FILE` (last, atomically).

Cancelling writes :data:`CANCELLED_FILE` (holding the epoch time of the request)
before signalling the process group; a local cancel writes :data:`KILL_FILE` before
that, and LocalInterface records queued jobs cancelled together in one file of the
workspace instead (see :mod:`.local`).

The state of a job follows from those files alone (:func:`job_state_from_files`, a
pure function, so SSH and Slurm can feed it file contents fetched remotely), plus
whether the wrapper process is still alive, which only the caller can tell:

=====================================================  ===========================
files                                                  state
=====================================================  ===========================
cancelled marker                                       CANCELLED
no started marker                                      queued (SUBMITTED)
exit code 0, output one number (:func:`parse_output`)  COMPLETED
exit code 0, output missing/empty/garbage/too large    FAILED
exit code non-zero                                     FAILED (with stderr tail)
started, no exit code, wrapper alive (or unknown)      RUNNING
started, no exit code, wrapper gone                    FAILED
=====================================================  ===========================

This module also holds the local-file side of the protocol (:class:`LocalJobFiles`,
:func:`process_is_wrapper` and the process-group helpers),
used by :mod:`.local`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Optional, Union

from simjobs.core.types import Input, JobStatus

from .shell import shell_assignments, shell_file

# ---- The file names of a job directory: defined here and nowhere else.

#: One CSV line of the input's coordinates, written by the interface.
INPUT_FILE = "input.csv"
#: The simulator's result: one real number.
OUTPUT_FILE = "output.txt"
#: The simulator's standard output and error.
STDOUT_FILE = "stdout"
STDERR_FILE = "stderr"
#: A directory made by the wrapper before it does anything else (the run-once guard).
STARTED_MARKER = ".started"
#: The wrapper's pid (= its process group id).
PID_FILE = "pid"
#: Epoch seconds when the simulator started / ended.
STARTED_FILE = "started"
ENDED_FILE = "ended"
#: The simulator's exit code, written last.
EXIT_CODE_FILE = "exit_code"
#: Written by the interface when the job is cancelled (holds the epoch time).
CANCELLED_FILE = "cancelled"
#: Written by a local cancel before it signals the job's process group, removed once
#: the group is gone: the group, when SIGKILL is due and the members seen at cancel
#: time (:func:`format_kill_record`), so that a restarted simjobs finishes the kill.
KILL_FILE = "kill_pending"

#: Not a file: the key under which a reader that cut :data:`OUTPUT_FILE` short (or did
#: not read it, being over :data:`OUTPUT_MAX_BYTES`) gives the file's size in bytes,
#: as ASCII digits.
OUTPUT_SIZE = "output.txt:size"

#: Every file :func:`job_state_from_files` may look at.
STATE_FILES = (
    CANCELLED_FILE,
    STARTED_MARKER,
    PID_FILE,
    STARTED_FILE,
    ENDED_FILE,
    EXIT_CODE_FILE,
    OUTPUT_FILE,
    STDERR_FILE,
)

#: The wrapper script's name (in the package, and where interfaces put the rendered copy).
WRAPPER_NAME = "wrapper.sh"

# How much of stderr goes into a failure reason, and of stdout/stderr into details.
REASON_TAIL_LINES = 5
REASON_TAIL_CHARS = 500
DETAILS_TAIL_LINES = 20
# Reads are bounded: a simulator may write gigabytes of stderr.
TAIL_BYTES = 8192
#: The largest output file read: one number needs far less, and a bigger file fails
#: its job (naming its size) rather than being read in part.
OUTPUT_MAX_BYTES = 1 << 20

NO_EXIT_CODE_REASON = "the job's process ended without recording an exit code"


class UnknownJobError(KeyError):
    """No job directory exists for a job id on this interface."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class JobAlreadyEndedError(RuntimeError):
    """A finished job cannot be cancelled.

    Attributes
    ----------
    status : JobStatus
        The job's terminal status.
    """

    def __init__(self, msg: str, status: JobStatus):
        super().__init__(msg)
        self.status = status


class NoOutputError(ValueError):
    """A job has no output to give because it has not completed.

    Attributes
    ----------
    status : JobStatus
        The job's status.
    """

    def __init__(self, msg: str, status: JobStatus):
        super().__init__(msg)
        self.status = status


@dataclasses.dataclass(frozen=True)
class JobState:
    """What a job directory says about its job.

    Attributes
    ----------
    status : JobStatus
        SUBMITTED (queued: the wrapper has not started), RUNNING, COMPLETED, FAILED
        or CANCELLED.
    output : float or None
        The simulator output, when COMPLETED.
    reason : str or None
        Why the job failed, when FAILED.
    pid, started, ended, exit_code
        The wrapper's state files, parsed (None when absent or unreadable).
    """

    status: JobStatus
    output: Optional[float] = None
    reason: Optional[str] = None
    pid: Optional[int] = None
    started: Optional[float] = None
    ended: Optional[float] = None
    exit_code: Optional[int] = None

    @property
    def queued(self) -> bool:
        """True when the job waits for its wrapper to start."""
        return self.status is JobStatus.SUBMITTED

    @property
    def finished(self) -> bool:
        """True when the job has reached COMPLETED, FAILED or CANCELLED."""
        return self.status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)

    def output_of(self, job_id) -> float:
        """The output of job ``job_id`` in this state, what every interface's
        ``get_job_output`` returns.

        Raises
        ------
        NoOutputError
            If the job has not completed (its status, and why it failed, in the message
            and the error's ``status``).
        """
        if self.status is not JobStatus.COMPLETED:
            detail = f" ({self.reason})" if self.reason else ""
            raise NoOutputError(
                f"Job {job_id} has no output: its status is {self.status.value}{detail}.",
                self.status,
            )
        return self.output


# ---- Pure functions over file contents (usable on bytes fetched over SSH).


def format_input(coords: Union[Input, Iterable[float]]) -> bytes:
    """The contents of :data:`INPUT_FILE` for ``coords``: one CSV line, full precision."""
    return (",".join(repr(float(c)) for c in coords) + "\n").encode("ascii")


def parse_input(data: Union[bytes, str]) -> tuple[float, ...]:
    """Parse the contents of :data:`INPUT_FILE` back into floats."""
    text = data.decode("ascii") if isinstance(data, bytes) else data
    text = text.strip()
    if not text:
        return ()
    return tuple(float(part) for part in text.split(","))


def _text(data: Optional[bytes]) -> Optional[str]:
    if data is None:
        return None
    return data.decode("utf-8", errors="replace").strip()


def parse_int(data: Optional[bytes]) -> Optional[int]:
    """Parse a pid or exit code file (None when absent or unreadable)."""
    text = _text(data)
    try:
        return int(text) if text else None
    except ValueError:
        return None


def parse_time(data: Optional[bytes]) -> Optional[float]:
    """Parse a time file holding epoch seconds (None when absent or unreadable)."""
    text = _text(data)
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def tail_text(data: Optional[bytes], max_lines: int, max_chars: Optional[int] = None) -> str:
    """The last ``max_lines`` lines (and at most ``max_chars`` characters) of ``data``."""
    if not data:
        return ""
    lines = data.decode("utf-8", errors="replace").rstrip().splitlines()
    text = "\n".join(lines[-max_lines:]) if max_lines > 0 else ""
    if max_chars is not None and len(text) > max_chars:
        text = "..." + text[-max_chars:]
    return text


# The one form an output may take: a number in ASCII decimal or scientific notation,
# with ASCII whitespace around it. Not what float() accepts: that also takes "1_000",
# Arabic-Indic digits, "nan" and "inf", which the remote shells never accepted.
_OUTPUT_NUMBER = re.compile(
    rb"[ \t\n\r\f\v]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"[ \t\n\r\f\v]*"
)
_OUTPUT_SPACE = b" \t\n\r\f\v"


def _shown_output(data: bytes) -> str:
    text = data.strip(_OUTPUT_SPACE).decode("utf-8", errors="replace")
    return repr(text if len(text) <= 60 else text[:45] + "..." + text[-12:])


def parse_output(
    data: Optional[bytes], size: Optional[int] = None
) -> tuple[Optional[float], Optional[str]]:
    """Parse :data:`OUTPUT_FILE`: ``(value, None)`` or ``(None, why it is not valid)``.

    The one output parser of every interface (local, SSH, Slurm): the remote ones ship
    the file's bytes here rather than judge them in a shell. The whole file must be one
    number in ASCII decimal or scientific notation (``42``, ``-0.5``, ``.5``,
    ``6.02e23``), ASCII whitespace around it allowed; anything else (``1_000``, digits
    of other scripts, ``nan``, ``inf``, two numbers, text after the number) is not an
    output. Its value is the float nearest to the exact decimal (through
    :class:`decimal.Decimal`), so a long mantissa or exponent is read right.

    Parameters
    ----------
    data : bytes or None
        The file's contents (None: there is no file, or it was not read).
    size : int, optional
        The file's size in bytes, when ``data`` may have been cut short or left out;
        a file over :data:`OUTPUT_MAX_BYTES` fails its job, naming the size.
    """
    size = max(size or 0, len(data or b""))
    if size > OUTPUT_MAX_BYTES:
        return None, (
            f"the output file is {size:,} bytes, over the {OUTPUT_MAX_BYTES:,}-byte limit "
            "of an output (one number)"
        )
    if data is None:
        return None, "no output file"
    match = _OUTPUT_NUMBER.fullmatch(data)
    if match is None:
        if not data.strip(_OUTPUT_SPACE):
            return None, "the output file is empty"
        return None, f"output {_shown_output(data)} is not a number"
    text = match.group(1).decode("ascii")
    try:
        value = float(Decimal(text))
    except ArithmeticError:  # an exponent beyond Decimal's range: float() rounds it right
        value = float(text)
    if not math.isfinite(value):
        return None, f"output {_shown_output(data)} is too large for a float"
    return value, None


def format_kill_record(pgid: int, deadline: float, members: Mapping[int, int]) -> bytes:
    """The contents of :data:`KILL_FILE`: the process group, the epoch time SIGKILL is
    due, then one ``pid start_time`` line per member (see :func:`process_group_members`)."""
    lines = [str(int(pgid)), repr(float(deadline))]
    lines += [f"{int(pid)} {int(start)}" for pid, start in members.items()]
    return ("\n".join(lines) + "\n").encode("ascii")


def parse_kill_record(data: Optional[bytes]) -> Optional[tuple[int, float, dict[int, int]]]:
    """Parse :data:`KILL_FILE`: ``(pgid, deadline, members)``, or None if unreadable."""
    if not data:
        return None
    try:
        lines = data.decode("ascii").split()
        pgid, deadline = int(lines[0]), float(lines[1])
        members = {int(pid): int(start) for pid, start in zip(lines[2::2], lines[3::2])}
    except (UnicodeDecodeError, ValueError, IndexError):
        return None
    if pgid <= 1 or not math.isfinite(deadline):
        return None
    return pgid, deadline, members


def exit_code_reason(code: int, stderr: Optional[bytes]) -> str:
    """The failure reason for a non-zero exit code, with the tail of stderr."""
    reason = f"exit code {code}"
    # sh reports death by signal N as 128+N.
    if 128 < code < 128 + 65:
        try:
            reason += f" (killed by {signal.Signals(code - 128).name})"
        except ValueError:
            pass
    tail = tail_text(stderr, REASON_TAIL_LINES, REASON_TAIL_CHARS)
    return f"{reason}; stderr: {tail}" if tail else f"{reason}; no stderr output"


def job_state_from_files(
    files: Mapping[str, Optional[bytes]], alive: Optional[bool] = None
) -> JobState:
    """Derive a job's state from its job directory's files.

    Parameters
    ----------
    files : Mapping[str, bytes or None]
        File name (one of :data:`STATE_FILES`) to contents; a missing key or None
        means the file does not exist. :data:`STARTED_MARKER` maps to ``b""`` when it
        exists. :data:`STDERR_FILE` may hold only the tail of stderr;
        :data:`OUTPUT_FILE` only its first :data:`OUTPUT_MAX_BYTES` bytes (or nothing,
        when larger) if :data:`OUTPUT_SIZE` gives its size.
    alive : bool or None, optional
        Whether the job's wrapper process is still running; None when unknown (then a
        started job without an exit code counts as RUNNING). Determine it *before*
        reading the files: a wrapper that has exited wrote its exit code first.

    Returns
    -------
    JobState
    """
    pid = parse_int(files.get(PID_FILE))
    started = parse_time(files.get(STARTED_FILE))
    ended = parse_time(files.get(ENDED_FILE))
    exit_data = files.get(EXIT_CODE_FILE)
    exit_code = parse_int(exit_data)
    common = dict(pid=pid, started=started, ended=ended, exit_code=exit_code)

    cancelled = files.get(CANCELLED_FILE)
    if cancelled is not None:
        cancelled_at = parse_time(cancelled)
        # A job that ended on its own before the cancel request keeps its real ending.
        ended_first = (
            exit_code is not None
            and ended is not None
            and cancelled_at is not None
            and ended < cancelled_at
        )
        if not ended_first:
            return JobState(JobStatus.CANCELLED, **common)

    if files.get(STARTED_MARKER) is None:
        return JobState(JobStatus.SUBMITTED, **common)

    if exit_data is not None:
        if exit_code is None:
            shown = _text(exit_data)
            return JobState(
                JobStatus.FAILED, reason=f"unreadable exit code {shown!r}", **common
            )
        if exit_code != 0:
            reason = exit_code_reason(exit_code, files.get(STDERR_FILE))
            return JobState(JobStatus.FAILED, reason=reason, **common)
        output, problem = parse_output(files.get(OUTPUT_FILE), parse_int(files.get(OUTPUT_SIZE)))
        if problem is not None:
            return JobState(JobStatus.FAILED, reason=problem, **common)
        return JobState(JobStatus.COMPLETED, output=output, **common)

    if alive is False:
        return JobState(JobStatus.FAILED, reason=NO_EXIT_CODE_REASON, **common)
    return JobState(JobStatus.RUNNING, **common)


def render_wrapper() -> str:
    """The job wrapper as it is installed (POSIX sh): ``wrapper.sh`` with this module's
    file names assigned as shell variables at its top (:func:`.shell.shell_assignments`)
    and ``now()`` (``now.sh``, shared with the job-directory scripts) before it, the
    way :class:`.remote_jobdir.RemoteJobDirs` puts its scripts together: no text of the
    shell files is replaced."""
    head = shell_assignments(
        input_file=INPUT_FILE,
        output_file=OUTPUT_FILE,
        stdout_file=STDOUT_FILE,
        stderr_file=STDERR_FILE,
        started_marker=STARTED_MARKER,
        pid_file=PID_FILE,
        started_file=STARTED_FILE,
        ended_file=ENDED_FILE,
        exit_code_file=EXIT_CODE_FILE,
        cancelled_file=CANCELLED_FILE,
    )
    title = ("# simjobs job wrapper, put together by jobdir.render_wrapper: values, now.sh, "
             "wrapper.sh")
    return f"#!/bin/sh\n{title}\n" + head + shell_file("now.sh") + shell_file(WRAPPER_NAME)


# ---- The local side: files on this machine.


class LocalJobFiles(Mapping):
    """The state files of a local job directory, read lazily (each at most once).

    ``files[name]`` is the file's contents or None when it does not exist; stdout
    and stderr give only their last :data:`TAIL_BYTES` bytes.
    """

    def __init__(self, job_dir: Union[str, os.PathLike]):
        self._dir = os.fspath(job_dir)
        self._cache: dict[str, Optional[bytes]] = {}

    def __getitem__(self, name: str) -> Optional[bytes]:
        if name == OUTPUT_SIZE:
            name = OUTPUT_FILE  # read together: the size is that of the bytes read
            key = OUTPUT_SIZE
        else:
            key = name
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache.get(key)

    def _read(self, name: str) -> Optional[bytes]:
        path = os.path.join(self._dir, name)
        if name == STARTED_MARKER:
            return b"" if os.path.lexists(path) else None
        try:
            with open(path, "rb") as f:
                if name in (STDOUT_FILE, STDERR_FILE):
                    return read_tail(f, TAIL_BYTES)
                if name == OUTPUT_FILE:
                    size = os.fstat(f.fileno()).st_size
                    # Over the limit the job fails naming the size: no need to read it.
                    data = f.read(OUTPUT_MAX_BYTES + 1) if size <= OUTPUT_MAX_BYTES else b""
                    self._cache[OUTPUT_SIZE] = str(max(size, len(data))).encode()
                    return data
                return f.read(4096)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def __iter__(self) -> Iterator[str]:
        return iter(STATE_FILES)

    def __len__(self) -> int:
        return len(STATE_FILES)


def read_tail(f, nbytes: int) -> bytes:
    """The last ``nbytes`` bytes of the open binary file ``f``."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - nbytes))
    return f.read()


def read_tail_file(path: Union[str, os.PathLike], nbytes: int = TAIL_BYTES) -> Optional[bytes]:
    """The last ``nbytes`` bytes of the file at ``path`` (None when it does not exist)."""
    try:
        with open(path, "rb") as f:
            return read_tail(f, nbytes)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def process_is_wrapper(pid: int, job_dir: Union[str, os.PathLike]) -> bool:
    """True when ``pid`` is a live process whose command line names ``job_dir``.

    Checking the command line as well as the pid means a pid reused by an unrelated
    process (after a reboot, say) is not mistaken for the job's wrapper.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not our wrapper
        return False
    target = os.fsencode(os.fspath(job_dir))
    proc = f"/proc/{pid}/cmdline"
    if os.path.isdir("/proc/self"):
        try:
            with open(proc, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            return False
        # A zombie has an empty command line: it is not running any more.
        return target in args
    # No /proc (macOS, BSD): ask ps, which shows the arguments joined by spaces.
    try:
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)],
            capture_output=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return True  # cannot tell: alive by pid
    return target in out


# /proc/<pid>/stat, the fields after the ")" closing the command name: these indexes.
_STAT_STATE, _STAT_PGRP, _STAT_START_TIME = 0, 2, 19


def _proc_readable() -> bool:
    return sys.platform == "linux" and os.path.isdir("/proc/self")


def _stat_fields(pid: Union[int, str]) -> Optional[list[bytes]]:
    """The fields of ``/proc/<pid>/stat`` after the command name (None if unreadable)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields if len(fields) > _STAT_START_TIME else None


def _live(fields: list[bytes]) -> bool:
    return fields[_STAT_STATE] not in (b"Z", b"X")


def _proc_stats() -> Iterator[tuple[int, list[bytes]]]:
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                fields = _stat_fields(entry.name)
                if fields is not None:
                    yield int(entry.name), fields


def process_group_alive(pgid: int) -> bool:
    """True while any non-zombie process is left in the process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not _proc_readable():
        return True
    # killpg succeeds while zombies remain in the group; look for a live member.
    return any(
        int(fields[_STAT_PGRP]) == pgid and _live(fields) for _, fields in _proc_stats()
    )


def process_group_members(pgid: int) -> Optional[dict[int, int]]:
    """The live (non-zombie) members of process group ``pgid``, as pid -> start time.

    The start time (clock ticks after boot, from ``/proc``) tells a process from a
    later one that reuses its pid: see :func:`process_in_group`. None where there is
    no Linux ``/proc`` to read.
    """
    if not _proc_readable():
        return None
    return {
        pid: int(fields[_STAT_START_TIME])
        for pid, fields in _proc_stats()
        if int(fields[_STAT_PGRP]) == pgid and _live(fields)
    }


def process_in_group(pid: int, start_time: int, pgid: int) -> bool:
    """True while ``pid`` is still the live process that started at ``start_time``
    (as :func:`process_group_members` gave it) and is still in process group ``pgid``.

    While such a process lives, ``pgid`` cannot name any other group: the kernel
    never hands out a process group's id as a new pid while the group has members.
    """
    fields = _stat_fields(pid)
    return (
        fields is not None
        and _live(fields)
        and int(fields[_STAT_PGRP]) == pgid
        and int(fields[_STAT_START_TIME]) == start_time
    )


def job_dir_names(workspace: Union[str, os.PathLike]) -> Iterator[str]:
    """The names of the job directories in ``workspace`` (job ids are digits)."""
    try:
        entries = os.scandir(workspace)
    except FileNotFoundError:
        return
    with entries:
        for entry in entries:
            if entry.name.isascii() and entry.name.isdigit() and entry.is_dir():
                yield entry.name


def job_dir_path(workspace: Union[str, os.PathLike], job_id) -> Path:
    """The job directory of ``job_id`` in ``workspace``."""
    return Path(workspace) / str(job_id)
