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
        None when the Slurm state is not in the table, or when the job ended without an
        exit code and without having started while its files may still come (no answer
        for the job: its last status stands).
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
    # is no exit code: wait for the files a while, then it ended abnormally. Meanwhile
    # it is RUNNING only if its wrapper said it started; otherwise no answer (a task
    # that never ran is never shown running).
    if not files_overdue:
        if files.get(STARTED_MARKER) is None:
            return None
        return JobState(JobStatus.RUNNING, **fields)
    if state is None:
        why = ("the job left the Slurm queue without recording an exit code (Slurm no "
               "longer knows it and has no accounting of it)")
    else:
        why = f"Slurm state {state}, but the job's wrapper recorded no exit code"
        if state == "COMPLETED" and files.get(STARTED_MARKER) is not None:
            # The wrapper exits 0 without an exit code at its run-once guard only.
            why += (": most likely Slurm ran the job a second time (a requeue, or "
                    "slurmctld recovering older state) after its first run was killed, "
                    "and simjobs' run-once guard stopped the rerun; resubmit the job")
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


def expand_array_ids(slurm_id: str) -> list[str]:
    """The task ids a squeue/scontrol id names: ``"12_[1-7:2,9]%4"`` -> ``["12_1", "12_3",
    "12_5", "12_7", "12_9"]``; a plain id (``"12"``, ``"12_3"``) is itself.

    Slurm 22.05's ``squeue --array`` leaves the last task of a stepped range out (it
    lists ``12_[1-19:2]`` as 1...17), so simjobs lists without ``--array`` and expands
    the pending ranges here, steps and throttle (``%4``) included. An id that is not
    understood gives an empty list (no task is concluded from it)."""
    match = re.fullmatch(r"([0-9]+)_\[([0-9,:\-]+)(?:%[0-9]+)?\]", slurm_id.strip())
    if match is None:
        return [slurm_id] if SLURM_ID_PATTERN.match(slurm_id) else []
    base = match.group(1)
    return [f"{base}_{task}" for task in expand_task_ranges(match.group(2))]


def expand_task_ranges(spec: str) -> list[int]:
    """Array task indexes of a Slurm range list: ``"1-7:2,9"`` -> ``[1, 3, 5, 7, 9]``
    (an unreadable part contributes nothing)."""
    tasks: list[int] = []
    for part in spec.split("%", 1)[0].split(","):
        m = re.fullmatch(r"([0-9]+)(?:-([0-9]+)(?::([0-9]+))?)?", part.strip())
        if m is None:
            continue
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else first
        step = int(m.group(3)) if m.group(3) else 1
        if step > 0 and last >= first:
            tasks.extend(range(first, last + 1, step))
    return tasks


def compress_slurm_ids(slurm_ids) -> list[str]:
    """Slurm ids as few scancel words: the tasks of one array as ``12_[0,2,4-9]``
    (lists and plain ranges, which scancel takes; not steps), other ids as they are."""
    words: list[str] = []
    arrays: dict[str, list[int]] = {}
    for slurm_id in dict.fromkeys(slurm_ids):
        base, _, task = slurm_id.partition("_")
        if task.isdigit():
            arrays.setdefault(base, []).append(int(task))
        else:
            words.append(slurm_id)
    for base, tasks in arrays.items():
        tasks.sort()
        parts, start = [], tasks[0]
        for prev, cur in zip(tasks, tasks[1:] + [None]):
            if cur != prev + 1 if cur is not None else True:
                parts.append(str(start) if start == prev else f"{start}-{prev}")
                start = cur
        words.append(f"{base}_{tasks[0]}" if len(tasks) == 1 else f"{base}_[{','.join(parts)}]")
    return words


def parse_squeue(text: str, wanted: Optional[set[str]] = None) -> dict[str, tuple[str, str]]:
    """Rows of ``squeue -o '%i|%T|%r'``: Slurm id -> (state, reason); a row naming a
    range of pending tasks (``12_[1-19:2]``) gives one entry per task. Only the ids in
    ``wanted`` when given (squeue lists all of the user's jobs: most are not asked for)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        parts = line.strip().split("|", 2)
        if len(parts) < 2:
            continue
        row = (parts[1].strip(), parts[2].strip() if len(parts) > 2 else "")
        ids = expand_array_ids(parts[0]) if "[" in parts[0] else [parts[0].strip()]
        for slurm_id in ids:
            if wanted is not None:
                if slurm_id not in wanted:
                    continue
            elif not SLURM_ID_PATTERN.match(slurm_id):
                continue
            rows[slurm_id] = row
    return rows


def parse_scontrol_jobs(text: str, wanted: Optional[set[str]] = None
                        ) -> dict[str, tuple[str, str]]:
    """Records of ``scontrol -o show job`` (one per line, several for an array): Slurm
    id -> (JobState, Reason), an array's pending record (``ArrayTaskId=5-19:2``) giving
    one entry per task; only the ids in ``wanted`` when given."""
    rows: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        fields = parse_scontrol(line)
        state = fields.get("JobState")
        if not state or "JobId" not in fields:
            continue
        row = (state, fields.get("Reason", ""))
        array_id, tasks = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
        if array_id and tasks and tasks not in ("N/A", "(null)"):
            ids = [f"{array_id}_{t}" for t in expand_task_ranges(tasks)]
        else:
            ids = [fields["JobId"]]
        for slurm_id in ids:
            if wanted is None or slurm_id in wanted:
                rows[slurm_id] = row
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
