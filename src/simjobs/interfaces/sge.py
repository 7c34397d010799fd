"""Grid Engine (Son of Grid Engine 8.1, and its relatives): the SGE dialect of the
batch layer and :class:`SGEInterface`.

- Submit: ``qsub -terse -S /bin/sh -N simjobs-<id>`` reading the batch script on stdin,
  ``-wd`` the job directory; a batch of several jobs is ONE array ``-t 1-N`` (with the
  ``-tc`` throttle; qsub -terse prints ``1234.1-N:1``; task ``i`` is ``1234.i``, with
  ``SGE_TASK_ID`` set in it).
- Status: ONE ``qstat -xml -u <me>`` per poll: the user's pending and running jobs
  (pending array tasks as ranges, ``<tasks>2-5:1</tasks>``). Grid Engine lists no
  finished job there, so a job missing from it has left the queue: it is settled from
  its wrapper's files, then from ``qacct -j`` where the accounting file exists (one
  command for all of them, ``sge_qacct.sh``), else FAILED after ``files_grace``, and
  stays watched for a late exit code. A failing qstat (qmaster down) is
  "unreachable", never "job gone".
- States (qstat(1), "OUTPUT FORMATS": the state letters d(eletion), E(rror), h(old),
  r(unning), R(estarted), s(uspended), S(uspended queue), t(ransfering), T(hreshold),
  w(aiting), q(ueued), combined as in ``hqw``, ``Rr``, ``Eqw``, ``dr``): the letter that
  decides is picked by :meth:`SGEDialect.normalise` (``d``, being deleted, only
  modifies the others: ``dqw`` is pending, ``dr`` running). A job in error (``Eqw``)
  never runs until an administrator clears it: FAILED, with the state as reason, and
  simjobs deletes it in the same poll (the cancelled marker, then qdel) so that it
  neither runs later nor holds a place of the user's ``max_u_jobs``. A finished
  job's accounting record (``qacct``: ``failed`` and ``exit_status``) counts as state
  ``z`` (what ``qstat -s z`` calls finished jobs); a non-zero ``failed`` means Grid
  Engine ended the job (a limit, qdel outside simjobs, a node failure).
- Cancel: ONE ``qdel`` of all the ids (an array's tasks as ranges, ``1234.1-5``).
"""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from typing import Optional

from simjobs.core.types import JobStatus

from .batch import BatchInterface
from .batch_dialect import BatchDialect, Row, UnreadableOutputError, task_runs
from .shell import shell_assignments, shell_file
from .runner import CommandResult
from .slurm_states import expand_task_ranges

#: Files of the Grid Engine dialect in a job directory.
SGE_ID_FILE = "sge_job_id"
SGE_STDOUT_FILE = "sge.out"
SGE_STDERR_FILE = "sge.err"

#: Grid Engine state letter -> simjobs status (qstat(1)); see SGEDialect.normalise for
#: how the letter that decides is picked from a combined state such as "hqw".
SGE_STATES: dict[str, JobStatus] = {
    "E": JobStatus.FAILED,  # error: the job cannot start until the error is cleared
    "d": JobStatus.RUNNING,  # being deleted, no other letter: it ends soon (files tell)
    "r": JobStatus.RUNNING,
    "t": JobStatus.RUNNING,  # being transferred to its execution host
    "s": JobStatus.RUNNING,  # suspended (resumes)
    "S": JobStatus.RUNNING,  # its queue is suspended (resumes)
    "T": JobStatus.RUNNING,  # suspended by a queue threshold (resumes)
    "h": JobStatus.SUBMITTED,  # on hold
    "w": JobStatus.SUBMITTED,  # waiting
    "q": JobStatus.SUBMITTED,  # queued
    "z": JobStatus.COMPLETED,  # finished (an accounting record): the files decide
}
#: The order in which a combined state's letters decide ("hqw" -> "h", "Eqw" -> "E").
#: "d" (being deleted) only modifies the others ("dqw" is still pending, "dr" running):
#: it decides alone only.
_PRECEDENCE = "zErtsSThqw"

_ID = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_FAILED = re.compile(r"failed=([0-9]+)")
# Seconds the clocks of compute nodes and the login node may differ by.
_CLOCK_SKEW = 3600
# qacct without an accounting file to read.
_NO_ACCOUNTING = re.compile(r"(can't|cannot|unable to) open|no such file", re.IGNORECASE)


def _text(element: ElementTree.Element, tag: str) -> str:
    found = element.find(tag)
    return (found.text or "").strip() if found is not None else ""


def parse_qstat_xml(text: str, wanted: Optional[set[str]] = None) -> dict[str, Row]:
    """The jobs of ``qstat -xml``: id (``1234``, ``1234.5`` for an array task) ->
    (state, queue), a pending range of tasks giving one entry per task; only the ids
    in ``wanted`` when given. For a job in error (E) the second field says so.

    Raises
    ------
    UnreadableOutputError
        If ``text`` holds no complete ``job_info`` document (qstat -xml prints one even
        when there are no jobs, so an empty or cut answer is no answer, not "no jobs").
    """
    start = text.find("<")
    if start < 0:
        raise UnreadableOutputError(f"no XML document in {_excerpt(text)}")
    try:
        root = ElementTree.fromstring(text[start:])
    except ElementTree.ParseError as exc:
        raise UnreadableOutputError(f"not a complete XML document ({exc})") from exc
    if root.tag != "job_info":
        raise UnreadableOutputError(f"an XML document of <{root.tag}>, not <job_info>")
    rows: dict[str, Row] = {}
    for job in root.iter("job_list"):
        number, state = _text(job, "JB_job_number"), _text(job, "state")
        if not number.isdigit() or not state:
            continue
        tasks = _text(job, "tasks")
        ids = [f"{number}.{t}" for t in expand_task_ranges(tasks)] if tasks else [number]
        where = _text(job, "queue_name")
        if "E" in state:
            # simjobs deletes it (SGEDialect.stays_queued): an administrator clearing the
            # error would otherwise run it long after simjobs called it Failed.
            where = ("in error: it could not start; simjobs deleted it from the queue so "
                     "that it never runs later")
        for sched_id in ids:
            if wanted is None or sched_id in wanted:
                rows[sched_id] = (state, where)
    return rows


def _excerpt(text: str) -> str:
    return repr(text[:80]) if text.strip() else "an empty answer"


def parse_qacct(text: str, wanted: Optional[set[str]] = None) -> dict[str, Row]:
    """Records of ``qacct -j``: id (``1234`` or ``1234.5``) -> ("z", "failed=N ...;
    exit_status=M"), the last record of an id winning; only the ids in ``wanted``."""
    rows: dict[str, Row] = {}
    for block in re.split(r"(?m)^=+\s*$", text):
        fields = {}
        for line in block.splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                fields[key] = value.strip()
        number, task = fields.get("jobnumber", ""), fields.get("taskid", "undefined")
        if not number.isdigit() or "failed" not in fields:
            continue
        sched_id = f"{number}.{task}" if task.isdigit() else number
        if wanted is None or sched_id in wanted:
            failed = " ".join(fields["failed"].split())
            status = " ".join(fields.get("exit_status", "?").split())
            rows[sched_id] = ("z", f"failed={failed}; exit_status={status}")
    return rows


def sge_task_words(ids: Sequence[str]) -> list[str]:
    """Ids as few qdel words: the tasks of one array as ranges (``12.1-3``, ``12.7``)."""
    words, runs = task_runs(ids, ".")
    words += [f"{job}.{part}" for job, parts in runs.items() for part in parts]
    return words


class SGEDialect(BatchDialect):
    """Grid Engine: qsub (``-t 1-N``), qstat -xml, qacct, qdel."""

    kind = "sge"
    label = "Grid Engine"
    server = "sge_qmaster"
    server_check = "sge_qmaster is running and reachable (SGE_ROOT, SGE_CELL set)"
    submit_program = "qsub"
    status_program = "qstat"
    lookup_program = "qstat"
    cancel_program = "qdel"
    submit_file = "sge_submit.sh"
    submit_dir_var = "SGE_O_WORKDIR"
    task_index_var = "SGE_TASK_ID"
    task_output = "-$TASK_ID.out"  # qsub substitutes $TASK_ID in -o/-e paths
    first_index = 1
    max_array_size = 75000  # max_aj_tasks's default
    id_file = SGE_ID_FILE
    stdout_file = SGE_STDOUT_FILE
    stderr_file = SGE_STDERR_FILE
    id_pattern = _ID
    unreachable = re.compile(r"unable to contact qmaster|commlib error|connection refused"
                             r"|unable to send message|can't unpack gdi|qmaster.*(down|not)",
                             re.IGNORECASE)
    transient = re.compile(r"try again later|qmaster.*busy", re.IGNORECASE)
    queue_limit = re.compile(r"max_u_jobs|max_jobs|job limit|rejected.*limit",
                             re.IGNORECASE)
    # qdel prints every outcome on stdout, exiting 1 when any id was refused: the lines
    # saying a job is deleted (or being deleted, or gone already) are no error.
    cancel_tolerated = re.compile(r"does not exist|already (been )?deleted|is already in "
                                  r"deletion|has registered the job.*for deletion|"
                                  r"has deleted job", re.IGNORECASE)
    states = SGE_STATES
    wrapper_exit_states = frozenset({"z"})
    own_options = {"-N": "-N (the job name)", "-o": "-o (output path)",
                   "-e": "-e (error path)", "-t": "-t (the array)", "-tc": "-tc (throttle)",
                   "-wd": "-wd (the job's directory)", "-cwd": "-cwd (the job's directory)",
                   "-terse": "-terse", "-S": "-S /bin/sh", "-j": "-j (join)", "-b": "-b n"}
    glued_options = False  # qsub's options are words (-wd, -tc, -pe...)

    def normalise(self, state: Optional[str]) -> Optional[str]:
        """The letter of a combined state that decides (``"hqw"`` -> ``"h"``,
        ``"Eqw"`` -> ``"E"``, ``"Rr"`` -> ``"r"``, ``"dqw"`` -> ``"q"``, ``"d"`` ->
        ``"d"``); None for an empty state."""
        if not state or not state.strip():
            return None
        word = state.strip().split(" ", 1)[0]
        for letter in _PRECEDENCE:
            if letter in word:
                return letter
        return word

    def shown_state(self, state: str) -> str:
        return state.strip()  # "Eqw", not just its deciding letter

    def check_workspace(self, workspace: str) -> Optional[str]:
        if any(c in workspace for c in "$:,\n"):
            # qsub reads $TASK_ID... and host: in -o/-e, which take comma-separated lists
            # (submit(1)); a newline breaks the tasks file.
            return ("contains '$', ':', ',' or a newline, which Grid Engine's output paths "
                    "cannot hold")
        return None

    def killed(self, row: Optional[Row]) -> bool:
        """In error (E), or finished with a non-zero ``failed`` (Grid Engine ended it)."""
        if row is None:
            return False
        state = self.normalise(row[0])
        if state == "z":
            match = _FAILED.search(row[1])
            return match is not None and match.group(1) != "0"
        return state == "E"

    def stays_queued(self, row: Optional[Row]) -> bool:
        """In error (E): the job stays in the queue until deleted, and runs if an
        administrator clears the error (``qmod -cj``)."""
        return row is not None and self.normalise(row[0]) == "E"

    def submit_options(self, name: str, queue: Optional[str], args: Sequence[str],
                       tasks: int, throttle: Optional[int]) -> list[str]:
        # -S: the queue's shell may be csh; the batch script is POSIX sh.
        options = ["-terse", "-S", "/bin/sh", "-b", "n", "-N", name]
        if queue:
            options += ["-q", queue]
        options += list(args)
        if tasks:
            options += ["-t", f"{self.first_index}-{self.first_index + tasks - 1}"]
            if throttle is not None:
                options += ["-tc", str(throttle)]
        return options

    def task_id(self, array_id: str, index: int) -> str:
        return f"{array_id}.{index}"

    def status_command(self, ids: Sequence[str]) -> str:
        return 'qstat -xml -u "$(id -un)"'

    def parse_status(self, text: str, wanted: set[str]) -> dict[str, Row]:
        return parse_qstat_xml(text, wanted)

    def accounting_command(self, ids: Sequence[str],
                           since: Optional[float] = None) -> Optional[str]:
        # With since: ONE scan of the accounting file (which is GB on large sites) for
        # the user's jobs that ended since then, an hour earlier for clock skew
        # between the compute nodes and the login node; else one qacct -j per id.
        numbers = " ".join(dict.fromkeys(i.partition(".")[0] for i in ids))
        start = "" if since is None else str(max(0, int(since) - _CLOCK_SKEW))
        return shell_assignments(ids=numbers, since=start) + shell_file("sge_qacct.sh")

    def parse_accounting(self, result: CommandResult) -> Optional[dict[str, Row]]:
        text = result.text() + "\n" + result.stderr.decode("utf-8", "replace")
        rows = parse_qacct(text)
        if not rows and _NO_ACCOUNTING.search(text):
            return None  # no accounting file: never asked again
        return rows

    def details_command(self, sched_id: str) -> str:
        return self.status_command([sched_id])

    def parse_details(self, text: str, sched_id: str) -> dict[str, Optional[str]]:
        try:
            row = parse_qstat_xml(text, {sched_id}).get(sched_id)
        except UnreadableOutputError:
            row = None
        queue, _, node = (row[1] if row and "E" not in row[0] else "").partition("@")
        return {"state": row[0] if row else None, "reason": None,
                "node": node or None, "queue": queue or None}

    def cancel_words(self, ids: Sequence[str]) -> list[str]:
        return sge_task_words(ids)

    def cancel_command(self, ids: Sequence[str]) -> str:
        return "qdel " + " ".join(shlex.quote(w) for w in self.cancel_words(ids))


#: The Grid Engine dialect.
SGE = SGEDialect()


class SGEInterface(BatchInterface):
    """Runs jobs through Grid Engine (see the module docstring; the parameters are
    :class:`.batch.BatchInterface`'s: ``queue`` is ``qsub -q``, ``submit_args`` more
    qsub arguments such as ``["-l", "h_rt=00:10:00"]``)."""

    kind = "sge"
    dialect = SGE
