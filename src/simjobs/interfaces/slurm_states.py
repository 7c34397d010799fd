"""The Slurm dialect of the batch layer (:class:`SlurmDialect`, :data:`SLURM`): Slurm's
files in a job directory, the one table from Slurm job states to simjobs statuses
(:data:`SLURM_STATES`), its commands, and parsers of the output of sbatch, squeue, sacct
and scontrol. No I/O: :mod:`.batch` runs the commands (:mod:`.slurm` is the interface).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Optional

from simjobs.core.types import JobStatus

from .batch_dialect import BatchDialect, Row, command_sections, resolve_batch_state, task_runs
from .jobdir import JobState
from .shell import shell_assignments, shell_file
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
    return SLURM.killed((slurm_state, "") if slurm_state else None)


def resolve_job_state(
    slurm_state: Optional[str],
    files: Mapping[str, Optional[bytes]],
    *,
    slurm_reason: Optional[str] = None,
    files_overdue: bool = True,
) -> Optional[JobState]:
    """A Slurm job's simjobs state, from its Slurm state and its job directory's files:
    :func:`.batch_dialect.resolve_batch_state` with the Slurm dialect (:data:`SLURM`).

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
    row = (slurm_state, slurm_reason or "") if slurm_state else None
    return resolve_batch_state(SLURM, row, files, files_overdue=files_overdue)


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
    words, runs = task_runs(slurm_ids, "_")
    for base, parts in runs.items():
        words.append(f"{base}_{parts[0]}" if parts[0].isdigit() and len(parts) == 1
                     else f"{base}_[{','.join(parts)}]")
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


def parse_scontrol_sections(text: str, ids: Sequence[str]) -> tuple[dict[str, Row], set[str]]:
    """The output of ``slurm_scontrol.sh`` (an ``@simjobs ID`` line, then what
    ``scontrol -o show job ID`` said): the rows found, and the ids Slurm said it does
    not know (gone); an id with any other answer is in neither."""
    rows: dict[str, Row] = {}
    gone: set[str] = set()
    sections = command_sections(text)
    for slurm_id in ids:
        section = sections.get(slurm_id, "")
        found = parse_scontrol_jobs(section, {slurm_id})
        if slurm_id in found:
            rows[slurm_id] = found[slurm_id]
        elif re.search(r"invalid job id|not found", section, re.IGNORECASE):
            gone.add(slurm_id)
    return rows, gone


class SlurmDialect(BatchDialect):
    """Slurm: sbatch (``--array=0-N``), one squeue per poll, scontrol for the jobs it
    did not list, sacct where accounting storage exists, scancel."""

    kind = "slurm"
    label = "Slurm"
    server = "slurmctld"
    submit_program = "sbatch"
    status_program = "squeue"
    lookup_program = "scontrol"
    cancel_program = "scancel"
    server_check = "slurmctld (and munge) are running"
    submit_file = "slurm_submit.sh"
    submit_dir_var = "SLURM_SUBMIT_DIR"
    task_index_var = "SLURM_ARRAY_TASK_ID"
    task_output = "-%a.out"
    first_index = 0
    #: Slurm's default MaxArraySize (1001) allows indexes 0-1000.
    max_array_size = 1000
    id_file = SLURM_ID_FILE
    stdout_file = SLURM_STDOUT_FILE
    stderr_file = SLURM_STDERR_FILE
    id_pattern = SLURM_ID_PATTERN
    unreachable = re.compile(
        r"unable to contact slurm controller|slurm controller not responding"
        r"|socket timed out|zero bytes were transmitted|connection refused|munge"
        r"|authentication|communication connection failure"
        r"|slurm backup controller in standby|slurmctld.*(down|not responding)",
        re.IGNORECASE)
    transient = re.compile(
        r"resource temporarily unavailable|slurm temporarily unable|max_?job_?count",
        re.IGNORECASE)
    queue_limit = re.compile(r"maxsubmit|submit limit|job violates accounting",
                             re.IGNORECASE)
    cancel_tolerated = re.compile(r"invalid job id|already completing or completed|"
                                  r"job has already finished", re.IGNORECASE)
    states = SLURM_STATES
    wrapper_exit_states = _WRAPPER_EXIT_STATES
    rerun_state = "COMPLETED"
    own_options = {
        "--parsable": "--parsable", "--job-name": "--job-name", "-J": "--job-name",
        "--chdir": "--chdir", "-D": "--chdir", "--output": "--output", "-o": "--output",
        "--error": "--error", "-e": "--error", "--array": "--array", "-a": "--array",
        "--wrap": "--wrap",
    }

    def normalise(self, state: Optional[str]) -> Optional[str]:
        return normalise_state(state)

    def check_workspace(self, workspace: str) -> Optional[str]:
        if "%" in workspace or "\n" in workspace:
            # Slurm reads % in --output as a pattern; a newline breaks the tasks file.
            return "contains '%' or a newline, which Slurm's file names cannot hold"
        return None

    def submit_options(self, name: str, queue: Optional[str], args: Sequence[str],
                       tasks: int, throttle: Optional[int]) -> list[str]:
        options = ["--parsable", f"--job-name={name}"]
        if "--requeue" not in args:
            # A requeued job would meet its own run-once guard and end without running:
            # better that Slurm ends it (NODE_FAIL, PREEMPTED) and says why.
            options.append("--no-requeue")
        if queue:
            options.append(f"--partition={queue}")
        options += list(args)
        if tasks:
            limit = f"%{throttle}" if throttle is not None else ""
            options.append(f"--array=0-{tasks - 1}{limit}")
        return options

    def task_id(self, array_id: str, index: int) -> str:
        return f"{array_id}_{index}"

    def status_command(self, ids: Sequence[str]) -> str:
        # --user rather than --me, which Slurm before 20.11 does not know.
        # Without --array: Slurm 22.05's --array drops the last task of a stepped range
        # (12_[1-19:2] listed as 1...17); pending ranges are expanded by parse_squeue,
        # and SLURM_BITSTR_LEN=0 stops Slurm from cutting a long range short ("...").
        return ('SLURM_BITSTR_LEN=0 squeue --user="$(id -un)" --noheader '
                "--states=all --format='%i|%T|%r'")

    def parse_status(self, text: str, wanted: set[str]) -> dict[str, Row]:
        return parse_squeue(text, wanted)

    def lookup_command(self, ids: Sequence[str]) -> Optional[str]:
        return shell_assignments(ids=" ".join(ids)) + shell_file("slurm_scontrol.sh")

    def parse_lookup(self, text: str, ids: Sequence[str]) -> tuple[dict[str, Row], set[str]]:
        return parse_scontrol_sections(text, ids)

    def accounting_command(self, ids: Sequence[str],
                           since: Optional[float] = None) -> Optional[str]:
        return ("sacct --noheader --parsable2 --allocations --format=JobID,State "
                f"--jobs={shlex.quote(','.join(ids))}")

    def parse_accounting(self, result: CommandResult) -> Optional[dict[str, Row]]:
        if accounting_disabled(result):
            return None
        if not result.ok:
            return {}
        return {slurm_id: (state, "") for slurm_id, state in parse_sacct(result.text()).items()}

    def details_command(self, sched_id: str) -> str:
        return f"scontrol -o show job {shlex.quote(sched_id)}"

    def parse_details(self, text: str, sched_id: str) -> dict[str, Optional[str]]:
        info = parse_scontrol(text)
        return {"state": info.get("JobState"), "reason": info.get("Reason"),
                "node": info.get("NodeList") or info.get("BatchHost"),
                "queue": info.get("Partition")}

    def cancel_words(self, ids: Sequence[str]) -> list[str]:
        # An array's tasks as one word (12_[0,2,4-9]).
        return compress_slurm_ids(ids)


#: The Slurm dialect.
SLURM = SlurmDialect()
