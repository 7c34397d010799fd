"""IBM Spectrum LSF: the LSF dialect of the batch layer and :class:`LSFInterface`.

Not yet run against a real LSF cluster: the commands below are built and the parsers
tested on outputs written from LSF's documentation (tests/data/lsf/).

- Submit: ``bsub -J simjobs-<id>`` reading the batch script on stdin, ``-cwd`` the job
  directory; a batch of several jobs is ONE array ``-J "simjobs-<a>-<b>[1-N]%M"`` (LSF
  prints ``Job <1234> is submitted to ...``; element ``i`` is ``1234[i]``, with
  ``LSB_JOBINDEX`` set in it).
- Status: ONE ``bjobs -o 'jobid jobindex stat exit_code exit_reason' -json -a`` per
  poll (the user's own jobs, finished ones included while LSF keeps them: CLEAN_PERIOD,
  an hour by default). A job missing from that answer is gone, and settled from its
  wrapper's files; LSF's accounting (bacct, bhist) is not used.
- States (LSF command reference, bjobs, "Description" of STAT): PEND, PROV, PSUSP and
  WAIT wait; RUN, USUSP, SSUSP and UNKWN run (or will resume); DONE ended with exit 0;
  EXIT ended non-zero, which is the wrapper's own exit unless LSF says why it ended it
  (an ``exit_reason`` starting ``TERM_``, such as ``TERM_RUNLIMIT``, ``TERM_OWNER``);
  ZOMBI (killed while its host was unreachable) may still run there and stays Running
  until LSF says EXIT. bjobs exiting non-zero with "No job found" is an empty answer.
- Cancel: ONE ``bkill`` of all the ids.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from typing import Optional

from simjobs.core.types import JobStatus

from .batch import BatchInterface
from .batch_dialect import BatchDialect, Row, UnreadableOutputError
from .runner import CommandResult

#: Files of the LSF dialect in a job directory.
LSF_ID_FILE = "lsf_job_id"
LSF_STDOUT_FILE = "lsf.out"
LSF_STDERR_FILE = "lsf.err"

#: LSF job state -> simjobs status (bjobs, "Description": the STAT values).
LSF_STATES: dict[str, JobStatus] = {
    "PEND": JobStatus.SUBMITTED,  # pending: not yet dispatched
    "PROV": JobStatus.SUBMITTED,  # dispatched to a host being provisioned
    "PSUSP": JobStatus.SUBMITTED,  # suspended while pending (by its owner or an admin)
    "WAIT": JobStatus.SUBMITTED,  # a chunk job member waiting to run
    "RUN": JobStatus.RUNNING,
    "USUSP": JobStatus.RUNNING,  # suspended while running (resumes)
    "SSUSP": JobStatus.RUNNING,  # suspended by LSF (load, window; resumes)
    "UNKWN": JobStatus.RUNNING,  # mbatchd lost contact with the host: it may still run
    "DONE": JobStatus.COMPLETED,  # exit 0: the files decide
    "EXIT": JobStatus.FAILED,  # non-zero exit: the files decide, unless LSF killed it
    # Killed while its host was unreachable: it may still run there; LSF turns it into
    # EXIT once the host answers (bjobs, "ZOMBI"), which decides.
    "ZOMBI": JobStatus.RUNNING,
}

_ID = re.compile(r"^[0-9]+(\[[0-9]+\])?$")
# bjobs when the user has no job it can list (it then exits non-zero): an empty answer.
_NO_JOB = re.compile(r"^\s*no (unfinished )?job found\s*$", re.IGNORECASE)
# An exit reason of LSF's own (it ended the job): TERM_RUNLIMIT, TERM_OWNER...
_TERM = re.compile(r"exit_reason=TERM_")


def parse_bjobs_json(text: str, wanted: Optional[set[str]] = None) -> dict[str, Row]:
    """The records of ``bjobs -o 'jobid jobindex stat exit_code exit_reason' -json``:
    id (``1234``, ``1234[5]`` for an array element) -> (STAT, reason), the reason
    holding ``exit_code=N`` and LSF's exit reason when it gives them; only the ids in
    ``wanted`` when given. bjobs' "No job found" (or nothing) has no rows.

    Raises
    ------
    UnreadableOutputError
        If ``text`` is neither that message nor a complete JSON document of records.
    """
    start = text.find("{")
    if start < 0:
        if all(_NO_JOB.search(line) for line in text.splitlines() if line.strip()):
            return {}
        raise UnreadableOutputError(f"no JSON document in {text[:80]!r}")
    try:
        data, _ = json.JSONDecoder().raw_decode(text, start)
    except ValueError as exc:
        raise UnreadableOutputError(f"not a complete JSON document ({exc})") from exc
    records = data.get("RECORDS", []) if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise UnreadableOutputError("a JSON document without a \"RECORDS\" list")
    rows: dict[str, Row] = {}
    for record in records:
        if not isinstance(record, dict) or "ERROR" in record:
            continue
        job, index = str(record.get("JOBID", "")), str(record.get("JOBINDEX", "0") or "0")
        sched_id = job if index in ("0", "-", "") else f"{job}[{index}]"
        state = str(record.get("STAT", "")).strip()
        if not state or (wanted is not None and sched_id not in wanted):
            continue
        parts = [f"{key.lower()}={value}" for key in ("EXIT_CODE", "EXIT_REASON")
                 if (value := str(record.get(key, "")).strip()) not in ("", "-")]
        rows[sched_id] = (state, "; ".join(parts))
    return rows


class LSFDialect(BatchDialect):
    """IBM Spectrum LSF: bsub (``-J "name[1-N]"``), bjobs JSON, bkill."""

    kind = "lsf"
    label = "LSF"
    server = "mbatchd"
    server_check = "LSF's mbatchd is running and reachable"
    submit_program = "bsub"
    status_program = "bjobs"
    lookup_program = "bjobs"
    cancel_program = "bkill"
    submit_file = "lsf_submit.sh"
    submit_dir_var = "LS_SUBCWD"
    task_index_var = "LSB_JOBINDEX"
    task_output = "-%I.out"
    first_index = 1
    max_array_size = 1000  # MAX_JOB_ARRAY_SIZE's default
    id_file = LSF_ID_FILE
    stdout_file = LSF_STDOUT_FILE
    stderr_file = LSF_STDERR_FILE
    id_pattern = _ID
    unreachable = re.compile(r"lsf is down|batch system daemon not responding|cannot "
                             r"connect|connection refused|timed out|lsb_init",
                             re.IGNORECASE)
    transient = re.compile(r"try again later|mbatchd.*busy", re.IGNORECASE)
    queue_limit = re.compile(r"job limit|pending job threshold|max_pend_jobs",
                             re.IGNORECASE)
    cancel_tolerated = re.compile(r"job has already finished|no matching job found|"
                                  r"is not found", re.IGNORECASE)
    states = LSF_STATES
    wrapper_exit_states = frozenset({"DONE", "EXIT"})
    glued_options = False  # bsub's options have several letters (-env, -eo...)
    own_options = {"-J": "-J (the job name and array)", "-o": "-o (output file)",
                   "-e": "-e (error file)", "-oo": "-oo (output file)",
                   "-eo": "-eo (error file)", "-cwd": "-cwd (the job's directory)"}

    def check_workspace(self, workspace: str) -> Optional[str]:
        if "%" in workspace or "\n" in workspace:
            # bsub reads %J and %I in -o/-e paths; a newline breaks the tasks file.
            return "contains '%' or a newline, which LSF's output paths cannot hold"
        return None

    def killed(self, row: Optional[Row]) -> bool:
        """EXIT with LSF's own reason (TERM_RUNLIMIT, TERM_OWNER...): LSF ended it;
        EXIT without one is the wrapper's own non-zero exit."""
        if row is None:
            return False
        return self.normalise(row[0]) == "EXIT" and _TERM.search(row[1]) is not None

    def submit_options(self, name: str, queue: Optional[str], args: Sequence[str],
                       tasks: int, throttle: Optional[int]) -> list[str]:
        if tasks:
            limit = f"%{throttle}" if throttle is not None else ""
            name = f"{name}[{self.first_index}-{self.first_index + tasks - 1}]{limit}"
        options = ["-J", name]
        if queue:
            options += ["-q", queue]
        return options + list(args)

    def task_id(self, array_id: str, index: int) -> str:
        return f"{array_id}[{index}]"

    def status_command(self, ids: Sequence[str]) -> str:
        # The user's own jobs, finished ones included (-a); -noheader conflicts with -json.
        return "bjobs -o 'jobid jobindex stat exit_code exit_reason' -json -a"

    def status_ok(self, result: CommandResult) -> bool:
        # bjobs exits non-zero saying "No job found" when it has none to list: an answer.
        if result.ok:
            return True
        lines = [line for line in (result.text() + "\n" + result.stderr.decode(
            "utf-8", "replace")).splitlines() if line.strip()]
        return bool(lines) and all(_NO_JOB.search(line) for line in lines)

    def parse_status(self, text: str, wanted: set[str]) -> dict[str, Row]:
        return parse_bjobs_json(text, wanted)

    def details_command(self, sched_id: str) -> str:
        return ("bjobs -o 'jobid jobindex stat exit_code exit_reason exec_host queue' "
                f"-json -a {shlex.quote(sched_id)}")

    def parse_details(self, text: str, sched_id: str) -> dict[str, Optional[str]]:
        try:
            rows = parse_bjobs_json(text)
        except UnreadableOutputError:
            rows = {}
        row = next(iter(rows.values()), None)
        start = text.find("{")
        try:
            records = json.loads(text[start:]).get("RECORDS") or [{}] if start >= 0 else [{}]
        except (ValueError, AttributeError):
            records = [{}]
        record = records[0] if isinstance(records[0], dict) else {}
        return {"state": row[0] if row else None, "reason": row[1] if row else None,
                "node": record.get("EXEC_HOST") or None, "queue": record.get("QUEUE") or None}


#: The LSF dialect.
LSF = LSFDialect()


class LSFInterface(BatchInterface):
    """Runs jobs through IBM Spectrum LSF (see the module docstring; the parameters are
    :class:`.batch.BatchInterface`'s: ``queue`` is ``bsub -q``, ``submit_args`` more
    bsub arguments such as ``["-W", "10"]``)."""

    kind = "lsf"
    dialect = LSF
