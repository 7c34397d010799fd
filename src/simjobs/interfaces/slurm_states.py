"""The Slurm side of a job's state: Slurm's files in a job directory, the one table
from Slurm job states to simjobs statuses (:data:`SLURM_STATES`), the pure function
applying it (:func:`resolve_job_state`), and parsers of the output of squeue, sacct and
scontrol. Pure functions only: :mod:`.slurm` runs the commands.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Optional

from simjobs.core.types import JobStatus

from . import jobdir
from .jobdir import EXIT_CODE_FILE, STARTED_MARKER, STDERR_FILE, JobState
from .runner import CommandResult

# ---- Slurm's files in a job directory (the rest of the layout is jobdir's).

#: The job's Slurm id: ``1234`` for a single job, ``1234_7`` for task 7 of array 1234.
SLURM_ID_FILE = "slurm_job_id"
#: Slurm's own output and error files of the batch job (the simulator's are jobdir's).
SLURM_STDOUT_FILE = "slurm.out"
SLURM_STDERR_FILE = "slurm.err"

# ---- The one table from Slurm job states to simjobs statuses.

#: Slurm state -> simjobs status. COMPLETED becomes COMPLETED only with a valid output,
#: and a job whose wrapper recorded an exit code is judged by it (see
#: :func:`resolve_job_state`). A state not listed here gives no answer for the job
#: (its last known status stands).
SLURM_STATES: dict[str, JobStatus] = {
    "PENDING": JobStatus.SUBMITTED,
    "CONFIGURING": JobStatus.SUBMITTED,
    "RUNNING": JobStatus.RUNNING,
    "COMPLETING": JobStatus.RUNNING,
    "COMPLETED": JobStatus.COMPLETED,
    "FAILED": JobStatus.FAILED,
    "TIMEOUT": JobStatus.FAILED,
    "OUT_OF_MEMORY": JobStatus.FAILED,
    "NODE_FAIL": JobStatus.FAILED,
    "BOOT_FAIL": JobStatus.FAILED,
    "DEADLINE": JobStatus.FAILED,
    "PREEMPTED": JobStatus.FAILED,
    "CANCELLED": JobStatus.CANCELLED,
    # Not named by the issue; listed so none of them surprises us.
    # Requeues happen only with --requeue in sbatch_args (simjobs sends --no-requeue):
    # the job waits again, and its rerun meets the wrapper's run-once guard.
    "REQUEUED": JobStatus.SUBMITTED,
    "REQUEUE_HOLD": JobStatus.SUBMITTED,
    "REQUEUE_FED": JobStatus.SUBMITTED,
    "RESV_DEL_HOLD": JobStatus.SUBMITTED,
    "SUSPENDED": JobStatus.RUNNING,  # paused by an admin or gang scheduling; resumes
    "STOPPED": JobStatus.RUNNING,
    "SIGNALING": JobStatus.RUNNING,
    "STAGE_OUT": JobStatus.RUNNING,
    "RESIZING": JobStatus.RUNNING,
    "SPECIAL_EXIT": JobStatus.FAILED,
}

# Slurm states in which the wrapper itself exited, so it recorded an exit code (or,
# having none, died abnormally): their files decide. In the other FAILED states Slurm
# killed the job and the state is the reason.
_WRAPPER_EXIT_STATES = frozenset({"COMPLETED", "FAILED"})

SLURM_ID_PATTERN = re.compile(r"^[0-9]+(_[0-9]+)?$")
_ACCOUNTING_DISABLED = re.compile(r"accounting storage is disabled", re.IGNORECASE)


def normalise_state(state: Optional[str]) -> Optional[str]:
    """A Slurm state as the table keys it: ``"CANCELLED by 0"`` -> ``"CANCELLED"``."""
    if not state:
        return None
    word = state.strip().split(" ", 1)[0].rstrip("+").upper()
    return word or None


def killed_state(slurm_state: Optional[str]) -> bool:
    """True for the FAILED states in which Slurm itself ended the job (TIMEOUT,
    OUT_OF_MEMORY, NODE_FAIL...), so its wrapper may have recorded no exit code."""
    state = normalise_state(slurm_state)
    return SLURM_STATES.get(state) is JobStatus.FAILED and state not in _WRAPPER_EXIT_STATES


def resolve_job_state(
    slurm_state: Optional[str],
    files: Mapping[str, Optional[bytes]],
    *,
    slurm_reason: Optional[str] = None,
    files_overdue: bool = True,
) -> Optional[JobState]:
    """A Slurm job's simjobs state, from its Slurm state and its job directory's files.

    A pure function: the one place that applies :data:`SLURM_STATES`.

    Parameters
    ----------
    slurm_state : str or None
        The state squeue/scontrol/sacct gave (``"RUNNING"``, ``"CANCELLED by 0"``...);
        None when Slurm has no record of the job any more.
    files : Mapping[str, bytes or None]
        The job directory's files, as for :func:`.jobdir.job_state_from_files`.
    slurm_reason : str, optional
        Slurm's reason column, added to a failure reason when it says something.
    files_overdue : bool, optional
        False while Slurm's "it ended" may still be ahead of the files (see
        ``SlurmInterface.files_grace``): a job without an exit code then still counts
        as RUNNING.

    Returns
    -------
    JobState or None
        None when the Slurm state is not in the table (no answer for the job).
    """
    state = normalise_state(slurm_state)
    from_files = jobdir.job_state_from_files(files, alive=None)
    if from_files.status is JobStatus.CANCELLED:
        return from_files  # simjobs cancelled it (the marker), whatever Slurm says
    mapped = SLURM_STATES.get(state) if state is not None else None
    if state is not None and mapped is None:
        return None
    killed = killed_state(state)
    if from_files.exit_code is not None or files.get(EXIT_CODE_FILE) is not None:
        # The wrapper recorded how the simulator ended: that decides the status; a
        # failure's reason starts with Slurm's state when Slurm has one.
        if mapped is JobStatus.FAILED and from_files.status is JobStatus.FAILED:
            return dataclasses.replace(from_files,
                                       reason=f"Slurm state {state}; {from_files.reason}")
        return from_files
    fields = dict(pid=from_files.pid, started=from_files.started, ended=from_files.ended)
    if mapped in (JobStatus.SUBMITTED, JobStatus.RUNNING):
        return JobState(mapped, **fields)
    if mapped is JobStatus.CANCELLED:
        return JobState(JobStatus.CANCELLED, reason="cancelled in Slurm (scancel outside "
                        "simjobs, or by an administrator)", **fields)
    if killed:
        return JobState(JobStatus.FAILED, reason=_killed_reason(state, slurm_reason, files),
                        **fields)
    # Slurm says it ended by itself (COMPLETED, FAILED) or no longer knows it, yet there
    # is no exit code: wait for the files a while, then it ended abnormally.
    if not files_overdue:
        return JobState(JobStatus.RUNNING, **fields)
    if state is None:
        why = ("the job left the Slurm queue without recording an exit code (Slurm no "
               "longer knows it and has no accounting of it)")
    else:
        why = f"Slurm state {state}, but the job's wrapper recorded no exit code"
    return JobState(JobStatus.FAILED, reason=why + _not_started(files), **fields)


def _killed_reason(state: str, slurm_reason: Optional[str],
                   files: Mapping[str, Optional[bytes]]) -> str:
    reason = f"Slurm state {state}"
    if slurm_reason and slurm_reason.strip() not in ("", "None", "(null)"):
        reason += f" ({slurm_reason.strip()})"
    tail = jobdir.tail_text(files.get(STDERR_FILE), jobdir.REASON_TAIL_LINES,
                            jobdir.REASON_TAIL_CHARS)
    if tail:
        reason += f"; stderr: {tail}"
    return reason + _not_started(files)


def _not_started(files: Mapping[str, Optional[bytes]]) -> str:
    if files.get(STARTED_MARKER) is not None:
        return ""
    first = jobdir.tail_text(files.get(SLURM_STDERR_FILE), 1, jobdir.REASON_TAIL_CHARS)
    return (f"; the job wrapper never started ({SLURM_STDERR_FILE}: {first})" if first
            else "; the job wrapper never started")


def parse_squeue(text: str, wanted: Optional[set[str]] = None) -> dict[str, tuple[str, str]]:
    """Rows of ``squeue -o '%i|%T|%r'``: Slurm id -> (state, reason); only the ids in
    ``wanted`` when given (squeue lists all of the user's jobs: most are not asked for)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        parts = line.strip().split("|", 2)
        if len(parts) < 2:
            continue
        if wanted is not None:
            if parts[0] not in wanted:
                continue
        elif not SLURM_ID_PATTERN.match(parts[0]):
            continue
        rows[parts[0]] = (parts[1].strip(), parts[2].strip() if len(parts) > 2 else "")
    return rows


def parse_sacct(text: str) -> dict[str, str]:
    """Rows of ``sacct --parsable2 --format=JobID,State``: Slurm id -> state."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and SLURM_ID_PATTERN.match(parts[0]):
            rows[parts[0]] = parts[1].strip()
    return rows


def parse_scontrol(text: str) -> dict[str, str]:
    """``scontrol -o show job`` output (one line) as a dict of its ``Key=Value`` fields."""
    fields: dict[str, str] = {}
    for match in re.finditer(r"(\S+?)=(.*?)(?=\s+\S+?=|$)", text.strip()):
        fields.setdefault(match.group(1), match.group(2))
    return fields


def accounting_disabled(result: CommandResult) -> bool:
    """True when sacct said that Slurm has no accounting storage (it may still exit 0)."""
    return bool(_ACCOUNTING_DISABLED.search(result.stdout.decode("utf-8", "replace")
                                            + result.stderr.decode("utf-8", "replace")))


def valid_slurm_id(data: Optional[bytes]) -> Optional[str]:
    """The Slurm id in :data:`SLURM_ID_FILE`'s contents (None when absent or partial)."""
    if not data:
        return None
    text = data.decode("ascii", "replace").strip()
    return text if SLURM_ID_PATTERN.match(text) else None
