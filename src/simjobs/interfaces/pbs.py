"""PBS Pro / OpenPBS: the PBS dialect of the batch layer and :class:`PBSInterface`.

Not yet run against a real PBS server: the commands below are built and the parsers
tested on outputs written from PBS's documentation (tests/data/pbs/).

- Submit: ``qsub -N simjobs-<id>`` reading the batch script on stdin; a batch of several
  jobs is ONE array ``-J 1-N`` (PBS prints ``1234[].server``; task ``i`` is
  ``1234[i].server``, with ``PBS_ARRAY_INDEX`` set in it). Output and error paths go
  into the job directory (``^array_index^`` in an array's paths).
- Status: ONE ``qstat -f -F json -x -t`` per poll, naming the jobs asked about (an
  array by its ``1234[].server`` id; ``-t`` lists its subjobs, ``-x`` finished jobs
  too). qstat naming several ids may list only the first (OpenPBS issue #2672), so
  the ids missing from that answer are asked about in ONE more command, a loop of
  ``qstat -x -f -F json ID`` (``pbs_lookup.sh``); only "Unknown Job Id" (past the
  server's job history) means gone, settled from its wrapper's files. PBS has no
  accounting command for users. An answer that is not readable JSON is no answer
  (unreachable), never "jobs gone".
- States (PBS Professional Reference Guide, "Job States"): Q queued, H held, W waiting,
  T in transit, M moved, R running, E exiting, B array begun, S / U suspended, F
  finished, X subjob finished. A finished job's ``Exit_status`` tells a job that ended
  by itself (0-255: the wrapper's exit status, so its files decide) from one PBS
  ended: a negative status (PBS could not run it) or 256 + a signal (killed: a
  walltime limit, ``qdel`` outside simjobs).
- Cancel: ONE ``qdel`` of all the ids.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from typing import Optional

from simjobs.core.types import JobStatus

from .batch import BatchInterface
from .batch_dialect import BatchDialect, Row, UnreadableOutputError, command_sections
from .runner import CommandResult
from .shell import shell_assignments, shell_file

#: Files of the PBS dialect in a job directory.
PBS_ID_FILE = "pbs_job_id"
PBS_STDOUT_FILE = "pbs.out"
PBS_STDERR_FILE = "pbs.err"

#: PBS job state -> simjobs status (PBS Professional Reference Guide, "Job States").
PBS_STATES: dict[str, JobStatus] = {
    "Q": JobStatus.SUBMITTED,  # queued, eligible to run or be routed
    "H": JobStatus.SUBMITTED,  # held
    "W": JobStatus.SUBMITTED,  # waiting for its execution time (or a failed stage-in)
    "T": JobStatus.SUBMITTED,  # in transition to a new location
    "M": JobStatus.SUBMITTED,  # moved to another server
    "R": JobStatus.RUNNING,
    "E": JobStatus.RUNNING,  # exiting after having run
    "B": JobStatus.RUNNING,  # array jobs only: the array has begun
    "S": JobStatus.RUNNING,  # suspended by the server (resumes)
    "U": JobStatus.RUNNING,  # suspended: the workstation became busy (resumes)
    # Finished: the Exit_status decides (see PBSDialect.killed); the files first.
    "F": JobStatus.COMPLETED,
    "X": JobStatus.COMPLETED,  # subjob finished (expired)
}

_ID = re.compile(r"^[0-9]+(\[[0-9]*\])?(\.[A-Za-z0-9_.-]+)?$")
_EXIT = re.compile(r"Exit_status=(-?[0-9]+)")
# qstat's word for an id past the server's job history.
_UNKNOWN = re.compile(r"unknown job id", re.IGNORECASE)


def pbs_parent_id(sched_id: str) -> str:
    """The array id of a subjob id (``1234[5].srv`` -> ``1234[].srv``); others as given."""
    return re.sub(r"\[[0-9]+\]", "[]", sched_id, count=1)


def parse_qstat_json(text: str, wanted: Optional[set[str]] = None) -> dict[str, Row]:
    """The jobs of ``qstat -f -F json``: id -> (job_state, reason), the reason holding
    ``Exit_status=N`` once the job finished and the server's comment, if any; only the
    ids in ``wanted`` when given. An empty answer (qstat printed nothing: every id
    asked for was unknown) has no rows; what follows the JSON document (stderr merged
    in) is ignored.

    Raises
    ------
    UnreadableOutputError
        If ``text`` is not empty yet holds no complete JSON document of jobs.
    """
    start = text.find("{")
    if start < 0:
        if not text.strip() or all(_UNKNOWN.search(line) for line in text.splitlines()
                                   if line.strip()):
            return {}
        raise UnreadableOutputError(f"no JSON document in {text[:80]!r}")
    try:
        # strict=False: PBS versions put raw control characters in some strings.
        data, _ = json.JSONDecoder(strict=False).raw_decode(text, start)
    except ValueError as exc:
        raise UnreadableOutputError(f"not a complete JSON document ({exc})") from exc
    jobs = data.get("Jobs", {}) if isinstance(data, dict) else None
    if not isinstance(jobs, dict):
        raise UnreadableOutputError("a JSON document without a \"Jobs\" object")
    rows: dict[str, Row] = {}
    for sched_id, job in jobs.items():
        if not isinstance(job, dict) or (wanted is not None and sched_id not in wanted):
            continue
        state = str(job.get("job_state", "")).strip()
        if not state:
            continue
        parts = []
        if "Exit_status" in job:
            parts.append(f"Exit_status={job['Exit_status']}")
        if job.get("comment"):
            parts.append(str(job["comment"]))
        rows[sched_id] = (state, "; ".join(parts))
    return rows


def parse_pbs_lookup(text: str, ids: Sequence[str]) -> tuple[dict[str, Row], set[str]]:
    """The output of ``pbs_lookup.sh`` (an ``@simjobs ID`` line, then what
    ``qstat -x -f -F json ID`` said): the rows found, and the ids PBS said it does not
    know ("Unknown Job Id": gone); an id with any other answer is in neither."""
    sections = command_sections(text)
    rows: dict[str, Row] = {}
    gone: set[str] = set()
    for sched_id in ids:
        section = sections.get(sched_id, "")
        try:
            found = parse_qstat_json(section, {sched_id})
        except UnreadableOutputError:
            found = {}
        if sched_id in found:
            rows[sched_id] = found[sched_id]
        elif _UNKNOWN.search(section):
            gone.add(sched_id)
    return rows, gone


class PBSDialect(BatchDialect):
    """PBS Pro / OpenPBS: qsub (``-J 1-N``), qstat JSON, qdel."""

    kind = "pbs"
    label = "PBS"
    server = "the PBS server"
    server_check = "the PBS server (pbs_server) is running and reachable"
    submit_program = "qsub"
    status_program = "qstat"
    lookup_program = "qstat"
    cancel_program = "qdel"
    submit_file = "pbs_submit.sh"
    submit_dir_var = "PBS_O_WORKDIR"
    task_index_var = "PBS_ARRAY_INDEX"
    task_output = "-^array_index^.out"
    first_index = 1
    max_array_size = 10000  # the server's default max_array_size
    id_file = PBS_ID_FILE
    stdout_file = PBS_STDOUT_FILE
    stderr_file = PBS_STDERR_FILE
    id_pattern = _ID
    unreachable = re.compile(r"cannot connect to server|connection refused|communication "
                             r"failure|pbs_iff|server is not running|timed out",
                             re.IGNORECASE)
    transient = re.compile(r"server busy|try again", re.IGNORECASE)
    queue_limit = re.compile(r"maximum number of jobs already in queue|would exceed "
                             r"(queue|complex).*limit", re.IGNORECASE)
    cancel_tolerated = re.compile(r"unknown job id|job has finished|request invalid for "
                                  r"state of job", re.IGNORECASE)
    states = PBS_STATES
    wrapper_exit_states = frozenset({"F", "X"})
    own_options = {"-S": "-S /bin/sh", "-N": "-N (the job name)", "-o": "-o (output path)",
                   "-e": "-e (error path)", "-J": "-J (the array)", "-j": "-j (join)"}

    def check_workspace(self, workspace: str) -> Optional[str]:
        if ":" in workspace or "\n" in workspace:
            # qsub reads "host:path" in -o/-e; a newline breaks the tasks file.
            return "contains ':' or a newline, which PBS's output paths cannot hold"
        return None

    def killed(self, row: Optional[Row]) -> bool:
        """Finished with a negative Exit_status (PBS could not run it) or 256 + a
        signal (PBS killed it); 0-255 is the wrapper's own exit."""
        if row is None or self.normalise(row[0]) not in ("F", "X"):
            return False
        match = _EXIT.search(row[1])
        return match is not None and not 0 <= int(match.group(1)) < 256

    def submit_options(self, name: str, queue: Optional[str], args: Sequence[str],
                       tasks: int, throttle: Optional[int]) -> list[str]:
        # -S: without it PBS runs the script with the user's login shell (csh, maybe);
        # the batch script is POSIX sh.
        options = ["-S", "/bin/sh", "-N", name]
        if queue:
            options += ["-q", queue]
        options += list(args)
        if tasks:
            # No throttle: simjobs sends at most max_jobs jobs anyway.
            options += ["-J", f"{self.first_index}-{self.first_index + tasks - 1}"]
        return options

    def task_id(self, array_id: str, index: int) -> str:
        return array_id.replace("[]", f"[{index}]", 1)

    def status_command(self, ids: Sequence[str]) -> str:
        parents = dict.fromkeys(pbs_parent_id(i) for i in ids)
        return "qstat -f -F json -x -t " + " ".join(shlex.quote(i) for i in parents)

    def status_ok(self, result: CommandResult) -> bool:
        # Ids past the job history make qstat exit non-zero while it lists the others.
        if result.ok:
            return True
        lines = [line for line in result.stderr.decode("utf-8", "replace").splitlines()
                 if line.strip()]
        return bool(lines) and all(re.search(r"unknown job id|job has finished", line,
                                             re.IGNORECASE) for line in lines)

    def parse_status(self, text: str, wanted: set[str]) -> dict[str, Row]:
        return parse_qstat_json(text, wanted)

    def lookup_command(self, ids: Sequence[str]) -> Optional[str]:
        # qstat naming several ids may list only the first (OpenPBS issue #2672): absence
        # from the listing proves nothing, so each missing id is asked about on its own.
        return shell_assignments(ids=" ".join(ids)) + shell_file("pbs_lookup.sh")

    def parse_lookup(self, text: str, ids: Sequence[str]) -> tuple[dict[str, Row], set[str]]:
        return parse_pbs_lookup(text, ids)

    def details_command(self, sched_id: str) -> str:
        return f"qstat -f -F json -x {shlex.quote(sched_id)}"

    def parse_details(self, text: str, sched_id: str) -> dict[str, Optional[str]]:
        start = text.find("{")
        try:
            jobs = json.loads(text[start:], strict=False).get("Jobs") or {} \
                if start >= 0 else {}
        except (ValueError, AttributeError):
            jobs = {}
        job = next(iter(jobs.values()), {}) if isinstance(jobs, dict) else {}
        try:
            rows = parse_qstat_json(text)
        except UnreadableOutputError:
            rows = {}
        row = next(iter(rows.values()), None)
        return {"state": row[0] if row else None, "reason": row[1] if row else None,
                "node": job.get("exec_host"), "queue": job.get("queue")}


#: The PBS dialect.
PBS = PBSDialect()


class PBSInterface(BatchInterface):
    """Runs jobs through PBS Pro / OpenPBS (see the module docstring; the parameters
    are :class:`.batch.BatchInterface`'s: ``queue`` is ``qsub -q``, ``submit_args`` more
    qsub arguments such as ``["-l", "walltime=00:10:00"]``)."""

    kind = "pbs"
    dialect = PBS
