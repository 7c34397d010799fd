"""What differs between batch schedulers, as small dialect objects (pure: no I/O).

:class:`.batch.BatchInterface` does the work every batch scheduler shares (job
directories, the wrapper, holds, array submits, one status command per poll, the
accounting fallback, cancel in one call, late results, an unreachable server). A
:class:`BatchDialect` says only how one scheduler spells it: its submit command and
array syntax, the parse of what submit prints, its status command and the parser of
its output, its state table, its cancel and accounting commands, and what "gone from
the queue" means. :func:`resolve_batch_state` is the one place that applies a state
table. Dialects: Slurm (:mod:`.slurm_states`), PBS Pro/OpenPBS (:mod:`.pbs`), LSF
(:mod:`.lsf`), Grid Engine (:mod:`.sge`).

A status row is ``(state, reason)``: the scheduler's state word as its command printed
it and what it says about why (a pending reason, an exit status, an exit reason).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Optional

from simjobs.core.types import JobStatus

from . import jobdir
from .jobdir import EXIT_CODE_FILE, STARTED_MARKER, STDERR_FILE, JobState
from .runner import CommandResult

#: A status row: (state, reason).
Row = tuple[str, str]

_NEVER = re.compile(r"(?!)")


class UnreadableOutputError(ValueError):
    """A scheduler command printed something its parser cannot read (truncated,
    garbled): no answer at all, never "no jobs" (the batch layer reports the server as
    unreachable and jobs keep their last known status)."""


class BatchDialect:
    """How one batch scheduler is driven: commands, parsers and its state table.

    Subclasses set the class attributes and implement the ``*_command`` and
    ``parse_*`` methods; everything else has a default that fits most schedulers.
    """

    #: The ``kind`` of the interface in a config file ("slurm", "pbs", "lsf", "sge").
    kind: str = ""
    #: The scheduler's name in messages ("Slurm").
    label: str = ""
    #: Its server daemon, named in messages ("slurmctld").
    server: str = ""
    #: The programs of its commands, named in messages.
    submit_program: str = ""
    status_program: str = ""
    lookup_program: str = ""
    cancel_program: str = ""
    #: What to check when the server cannot be reached ("slurmctld is running").
    server_check: str = ""
    #: The shell file (beside this module) defining ``<kind>_submit_cmd`` and
    #: ``<kind>_task_id``.
    submit_file: str = ""
    #: Environment variables the scheduler sets in a batch job: the directory the job
    #: was submitted from (the workspace) and an array task's index.
    submit_dir_var: str = ""
    task_index_var: str = ""
    #: The per-task output file suffix in the scheduler's own pattern syntax.
    task_output: str = ""
    #: The first index of an array (tasks are first_index ... first_index + N - 1).
    first_index: int = 1
    #: The most tasks in one array (a bigger batch goes out as several arrays).
    max_array_size: int = 1000
    #: Files in the job directory: the scheduler's id, its own stdout and stderr.
    id_file: str = ""
    stdout_file: str = ""
    stderr_file: str = ""
    #: A scheduler id as the dialect writes it (plain job or array task).
    id_pattern: re.Pattern = _NEVER
    #: Command output meaning the server (not the job) cannot be reached.
    unreachable: re.Pattern = _NEVER
    #: Submit refusals that pass (a busy server) ...
    transient: re.Pattern = _NEVER
    #: ... and the user's submit limit (passes as queued jobs end).
    queue_limit: re.Pattern = _NEVER
    #: Cancel complaints that mean the job had already ended (not an error).
    cancel_tolerated: re.Pattern = _NEVER
    #: State (normalised) -> simjobs status; a state not listed gives no answer.
    states: Mapping[str, JobStatus] = {}
    #: States in which the wrapper itself exited, so its files decide.
    wrapper_exit_states: frozenset = frozenset()
    #: The state a job rerun after its first run ends in when the run-once guard
    #: stopped it (so the reason can say so), if the scheduler has one.
    rerun_state: Optional[str] = None
    #: Options simjobs sets itself: option -> its long name (refused in submit args).
    own_options: Mapping[str, str] = {}
    #: Whether a one-letter option may carry its value glued (``-Jname``).
    glued_options: bool = True

    # ---- states

    def normalise(self, state: Optional[str]) -> Optional[str]:
        """A state as the table keys it (None for an empty one)."""
        if not state:
            return None
        word = state.strip().split(" ", 1)[0]
        return word or None

    def shown_state(self, state: str) -> str:
        """A state as reasons name it (the table's key unless a dialect says better)."""
        return self.normalise(state) or state

    def status_of(self, state: Optional[str]) -> Optional[JobStatus]:
        """The simjobs status a state maps to (None: not in the table, or no state)."""
        word = self.normalise(state)
        return self.states.get(word) if word is not None else None

    def killed(self, row: Optional[Row]) -> bool:
        """True when the scheduler itself ended the job (a time limit, a node failure,
        a cancel outside simjobs...), so its wrapper may have recorded no exit code."""
        if row is None:
            return False
        state = self.normalise(row[0])
        return self.states.get(state) is JobStatus.FAILED \
            and state not in self.wrapper_exit_states

    def stays_queued(self, row: Optional[Row]) -> bool:
        """True when a job this row settles as ended still sits in the scheduler's queue
        (Grid Engine's error state), so that the batch layer must delete it."""
        return False

    def valid_id(self, data: Optional[bytes]) -> Optional[str]:
        """The scheduler id in :attr:`id_file`'s contents (None when absent or partial)."""
        if not data:
            return None
        text = data.decode("ascii", "replace").strip()
        return text if self.id_pattern.match(text) else None

    # ---- submit

    def submit_options(self, name: str, queue: Optional[str], args: Sequence[str],
                       tasks: int, throttle: Optional[int]) -> list[str]:
        """The submit program's options (before the placement options the shell adds):
        job name, queue, ``args``, and the array of ``tasks`` tasks (0: a single job)
        run at most ``throttle`` at a time."""
        raise NotImplementedError

    def task_id(self, array_id: str, index: int) -> str:
        """The scheduler id of task ``index`` of array ``array_id`` (as submit printed
        it, after ``<kind>_submit_cmd``'s parse)."""
        raise NotImplementedError

    def check_workspace(self, workspace: str) -> Optional[str]:
        """Why ``workspace`` cannot hold this scheduler's files (None: it can)."""
        if "\n" in workspace:
            return "contains a newline, which the tasks file of an array cannot hold"
        return None

    # ---- status

    def status_command(self, ids: Sequence[str]) -> str:
        """ONE command listing the states of the user's jobs (at least ``ids``)."""
        raise NotImplementedError

    def status_ok(self, result: CommandResult) -> bool:
        """Whether the status command answered (a failure is "unreachable", never
        "jobs gone")."""
        return result.ok

    def parse_status(self, text: str, wanted: set[str]) -> dict[str, Row]:
        """The rows of :meth:`status_command`'s output: scheduler id -> (state, reason),
        only for the ids in ``wanted``.

        Raises
        ------
        UnreadableOutputError
            If the output cannot be read (an empty dict would say every job is gone).
        """
        raise NotImplementedError

    def lookup_command(self, ids: Sequence[str]) -> Optional[str]:
        """ONE command asking about ids the status listing left out (None: absence from
        the listing is enough to call them gone)."""
        return None

    def parse_lookup(self, text: str, ids: Sequence[str]) -> tuple[dict[str, Row], set[str]]:
        """The rows :meth:`lookup_command` found, and the ids the scheduler said it does
        not know (gone); an id in neither gets no conclusion this poll."""
        return {}, set(ids)

    def accounting_command(self, ids: Sequence[str],
                           since: Optional[float] = None) -> Optional[str]:
        """ONE command giving the final states of ended jobs (None: no accounting);
        ``since`` (epoch seconds), when known, is a time before which none of them
        ended (their submit), to narrow the search."""
        return None

    def parse_accounting(self, result: CommandResult) -> Optional[dict[str, Row]]:
        """Final rows from :meth:`accounting_command`'s result; None when it says the
        scheduler keeps no accounting (asked again after a while only)."""
        return None

    def details_command(self, sched_id: str) -> str:
        """A command describing one job (for the details view)."""
        raise NotImplementedError

    def parse_details(self, text: str, sched_id: str) -> dict[str, Optional[str]]:
        """``state``, ``reason``, ``node`` and ``queue`` from :meth:`details_command`."""
        raise NotImplementedError

    # ---- cancel

    def cancel_words(self, ids: Sequence[str]) -> list[str]:
        """The ids as few cancel arguments as the scheduler takes."""
        return list(dict.fromkeys(ids))

    def cancel_command(self, ids: Sequence[str]) -> str:
        """ONE command cancelling ``ids``."""
        return f"{self.cancel_program} " + " ".join(shlex.quote(w) for w in self.cancel_words(ids))


def command_sections(text: str) -> dict[str, str]:
    """The output of a loop asking about one id at a time (``slurm_scontrol.sh``,
    ``pbs_lookup.sh``): each ``@simjobs ID`` line, then what the command said of ID,
    as ID -> that text."""
    sections: dict[str, list[str]] = {}
    current: Optional[list[str]] = None
    for line in text.splitlines():
        if line.startswith("@simjobs "):
            current = sections.setdefault(line.split(" ", 1)[1].strip(), [])
        elif current is not None:
            current.append(line)
    return {key: "\n".join(lines) for key, lines in sections.items()}


def task_runs(ids: Sequence[str], separator: str) -> tuple[list[str], dict[str, list[str]]]:
    """Array task ids grouped for a cancel command: the ids without a task (as they
    are), and per array id its tasks as runs of consecutive indexes (``"4"``, ``"4-9"``),
    for ids written ``<array><separator><index>`` (Slurm ``12_4``, Grid Engine ``12.4``)."""
    plain: list[str] = []
    arrays: dict[str, list[int]] = {}
    for sched_id in dict.fromkeys(ids):
        base, _, task = sched_id.partition(separator)
        if task.isdigit():
            arrays.setdefault(base, []).append(int(task))
        else:
            plain.append(sched_id)
    runs: dict[str, list[str]] = {}
    for base, tasks in arrays.items():
        tasks.sort()
        parts, start = [], tasks[0]
        for prev, cur in zip(tasks, tasks[1:] + [None]):
            if cur is None or cur != prev + 1:
                parts.append(str(start) if start == prev else f"{start}-{prev}")
                start = cur
        runs[base] = parts
    return plain, runs


def resolve_batch_state(
    dialect: BatchDialect,
    row: Optional[Row],
    files: Mapping[str, Optional[bytes]],
    *,
    files_overdue: bool = True,
) -> Optional[JobState]:
    """A batch job's simjobs state, from its scheduler row and its job directory's files.

    Parameters
    ----------
    dialect : BatchDialect
        The scheduler whose state table applies.
    row : (state, reason) or None
        What the status command (or accounting) said; None when the scheduler has no
        record of the job any more.
    files : Mapping[str, bytes or None]
        The job directory's files, as for :func:`.jobdir.job_state_from_files`.
    files_overdue : bool, optional
        False while the scheduler's "it ended" may still be ahead of the files: a job
        without an exit code then still counts as RUNNING.

    Returns
    -------
    JobState or None
        None when the state is not in the table, or when the job ended without an exit
        code and without having started while its files may still come (no answer for
        the job: its last status stands).
    """
    state = dialect.normalise(row[0]) if row else None
    shown = dialect.shown_state(row[0]) if row else None
    from_files = jobdir.job_state_from_files(files, alive=None)
    if from_files.status is JobStatus.CANCELLED:
        return from_files  # simjobs cancelled it (the marker), whatever the scheduler says
    mapped = dialect.states.get(state) if state is not None else None
    if state is not None and mapped is None:
        return None
    label = dialect.label
    if from_files.exit_code is not None or files.get(EXIT_CODE_FILE) is not None:
        # The wrapper recorded how the simulator ended: that decides the status; a
        # failure's reason starts with the scheduler's state when it has one.
        if mapped is JobStatus.FAILED and from_files.status is JobStatus.FAILED:
            return dataclasses.replace(from_files,
                                       reason=f"{label} state {shown}; {from_files.reason}")
        return from_files
    fields = dict(pid=from_files.pid, started=from_files.started, ended=from_files.ended)
    if mapped in (JobStatus.SUBMITTED, JobStatus.RUNNING):
        return JobState(mapped, **fields)
    if mapped is JobStatus.CANCELLED:
        return JobState(JobStatus.CANCELLED, reason=(
            f"cancelled in {label} ({dialect.cancel_program} outside simjobs, or by an "
            "administrator)"), **fields)
    if dialect.killed(row):
        return JobState(JobStatus.FAILED, reason=_killed_reason(dialect, shown, row[1], files),
                        **fields)
    # The scheduler says it ended by itself or no longer knows it, yet there is no exit
    # code: wait for the files a while, then it ended abnormally. Meanwhile it is
    # RUNNING only if its wrapper said it started; otherwise no answer (a task that
    # never ran is never shown running).
    if not files_overdue:
        if files.get(STARTED_MARKER) is None:
            return None
        return JobState(JobStatus.RUNNING, **fields)
    return JobState(JobStatus.FAILED, reason=_no_exit_code_reason(dialect, state, shown, files)
                    + _not_started(dialect, files), **fields)


def _no_exit_code_reason(dialect: BatchDialect, state: Optional[str], shown: Optional[str],
                         files: Mapping[str, Optional[bytes]]) -> str:
    label = dialect.label
    if state is None:
        return (f"the job left the {label} queue without recording an exit code ({label} "
                "no longer knows it and has no accounting of it)")
    why = f"{label} state {shown}, but the job's wrapper recorded no exit code"
    if state == dialect.rerun_state and files.get(STARTED_MARKER) is not None:
        # The wrapper exits 0 without an exit code at its run-once guard only.
        why += (f": most likely {label} ran the job a second time (a requeue, or "
                f"{dialect.server} recovering older state) after its first run was killed, "
                "and simjobs' run-once guard stopped the rerun; resubmit the job")
    return why


def _killed_reason(dialect: BatchDialect, state: str, reason: Optional[str],
                   files: Mapping[str, Optional[bytes]]) -> str:
    text = f"{dialect.label} state {state}"
    if reason and reason.strip() not in ("", "None", "(null)", "-"):
        text += f" ({reason.strip()})"
    tail = jobdir.tail_text(files.get(STDERR_FILE), jobdir.REASON_TAIL_LINES,
                            jobdir.REASON_TAIL_CHARS)
    if tail:
        text += f"; stderr: {tail}"
    return text + _not_started(dialect, files)


def _not_started(dialect: BatchDialect, files: Mapping[str, Optional[bytes]]) -> str:
    if files.get(STARTED_MARKER) is not None:
        return ""
    first = jobdir.tail_text(files.get(dialect.stderr_file), 1, jobdir.REASON_TAIL_CHARS)
    return (f"; the job wrapper never started ({dialect.stderr_file}: {first})" if first
            else "; the job wrapper never started")
