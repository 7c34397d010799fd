"""The ``simjobs`` command line: run a manager, submit, inspect, cancel, resubmit, export.

Every subcommand reads the TOML config (``--config FILE``; see :mod:`simjobs.config`
for where it is looked for otherwise). Read-only subcommands (``status``, ``export``,
``interfaces``) also take ``--log PATH`` to read a log without a config.

Commands that change jobs (``submit``, ``cancel``, ``resubmit``) hand their request to
the process managing the log when there is one (``simjobs run``, the app), and
otherwise act themselves: they start a JobManager, act, wait until the hardware has
the jobs (or the cancels went through) and shut it down; local jobs keep running.
When a process that runs no manager holds the log open for writing (a script's
SimulationsLog), they, and ``run``, fail at once, naming it. ``cancel`` of jobs that
have all ended answers from the log, starting no manager.

Exit codes: 0 success, 1 runtime failure (log managed or held open elsewhere,
unreadable log, manager not answering, nothing could be cancelled), 2 bad usage or
input (bad config, unknown job ids, bad input values, a log path that is no log), 130
interrupted. Errors and warnings are one line each on stderr (``simjobs: error: ...``,
``simjobs: warning: ...``).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import datetime
import io
import json
import logging
import os
import shlex
import signal
import socket
import stat
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from rich.console import Console

from . import __version__
from .core.control import (
    RequestInterrupted,
    hand_over,
    manager_holder,
    plain_writer_text,
    settled_holder,
)
from .core.errors import (
    InvalidJobStatusError,
    LogFormatError,
    LogLockedError,
    NotALogError,
    SimjobsError,
    UnknownJobIdError,
)
from .core.events import Event, JobEvent
from .core.command import hint
from .core.files import atomic_write
from .core.filesystems import os_reason
from .core.lock import holder_text
from .core.log import SimulationsLog
from .design import DesignError, latin_hypercube, parse_coordinate, read_inputs_csv
from .core.manager import JobManager
from .core.records import LogRecord
from .core.stores import is_sqlite_path
from .core.stores.csv_store import header_columns
from .core.types import RESUBMITTABLE_STATUSES, TERMINAL_STATUSES, JobId, JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from rich.table import Table

    from .config import Config

# Imported where used (not for ``simjobs app --watch``, whose first paint waits for every
# import): the config (and through it every interface module), rich tables, progress.

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DEFAULT_LAST = 50
DEFAULT_TIMEOUT = 30.0
DEMO_CONFIG = "demo.toml"
DEMO_SEED = 20240601
SQLITE_MAGIC = b"SQLite format 3\x00"


class CliError(Exception):
    """A one-line error for the user, with the exit code to end with."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def _out() -> Console:
    # Piped output is read by scripts and people alike: do not squeeze it to 80 columns.
    width = None if sys.stdout.isatty() else 200
    return Console(highlight=False, soft_wrap=True, width=width)


def _note(message: str) -> None:
    """Information for the person at the terminal, kept off stdout (which scripts read)."""
    print(message, file=sys.stderr, flush=True)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


# ---- config and log access ------------------------------------------------------------


def _config(args: argparse.Namespace, readonly: bool = False) -> Config:
    if args.config and Path(args.config).expanduser().is_dir():
        raise CliError(f"{args.config} is a directory, not a config file; pass the TOML "
                       "file itself (e.g. simjobs.toml)")
    from .config import find_config, load_config

    return load_config(find_config(args.config), readonly=readonly)


def _first_line_is_text(head: bytes) -> bool:
    """True when the first line of ``head`` (a file's first bytes) is UTF-8 text; a
    character cut at the end of ``head`` does not count against it."""
    line = head.split(b"\n", 1)[0]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(line, final=b"\n" in head)
    except UnicodeDecodeError:
        return False
    return True


def _check_log_file(path: Path, shown: Optional[str] = None) -> None:
    """Refuse, in one line naming the fix, a log path that is no log file: missing, a
    directory, a device or pipe (reading one would block), unreadable, or neither CSV
    text nor SQLite. The stores would otherwise answer some of these with a raw
    OSError or codec message, or hang."""
    shown = shown or str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CliError(f"no simulations log at {shown}; check the path") from None
    except OSError as exc:
        raise CliError(f"cannot reach {shown}: {os_reason(exc)}; check the path and the "
                       "permissions of its directories", EXIT_FAILURE) from None
    if stat.S_ISDIR(st.st_mode):
        raise CliError(f"{shown} is a directory, not a simulations log; name the log file "
                       "in it (e.g. runs.csv)")
    if not stat.S_ISREG(st.st_mode):
        raise CliError(f"{shown} is not a regular file (a device or a pipe?), so not a "
                       "simulations log; name the log file")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise CliError(f"cannot read {shown}: {os_reason(exc)}; fix its permissions or run "
                       "as a user who may read it", EXIT_FAILURE) from None
    if is_sqlite_path(path):
        if head and not head.startswith(SQLITE_MAGIC):
            raise CliError(f"{shown} is not an SQLite database, so not a simulations log "
                           "(a .db/.sqlite log is SQLite); check the path")
    elif not _nul_bytes_only_in_torn_tail(head, st.st_size):
        raise CliError(f"{shown} is a binary file, not a simulations log (a CSV text "
                       "file); check the path")
    elif not _first_line_is_text(head):
        raise CliError(f"{shown}: the first line is not UTF-8 text, so it is not a "
                       "simulations log (a CSV text file); check the path")
    else:
        from .core.log import csv_header_problem

        problem = csv_header_problem(head.split(b"\n", 1)[0].decode("utf-8", "replace")
                                     .rstrip("\r"))
        if problem is not None:
            raise CliError(f"{shown}: {problem}")


def _nul_bytes_only_in_torn_tail(head: bytes, size: int) -> bool:
    """True when ``head`` (a file's first bytes) has no NUL byte, or has them only after
    the file's last line break: what a crash can leave at the end of a log (a file
    extended but its last block never written), which the stores drop as an incomplete
    last line (with a warning). The CLI follows the same rule instead of calling such a
    log binary."""
    nul = head.find(b"\x00")
    if nul < 0:
        return True
    return size <= len(head) and b"\n" in head[:nul] and b"\n" not in head[nul:]


def _log_path(args: argparse.Namespace) -> tuple[Path, Optional[Config]]:
    """The log a read-only command reads: ``--log`` if given, else the config's."""
    if getattr(args, "log", None):
        path = Path(args.log).expanduser()
        _check_log_file(path, args.log)
        return path.resolve(), None
    config = _config(args, readonly=True)  # reading needs no writable directory
    return config.log_path, config


@contextlib.contextmanager
def _read_log(
    args: argparse.Namespace, config: Optional[Config] = None
) -> Iterator[tuple[Optional[SimulationsLog], Optional[Config]]]:
    """The log opened read-only (never in a running manager's way), or None when the
    config's log does not exist yet. ``config``: the one already loaded, if any."""
    path, config = (config.log_path, config) if config else _log_path(args)
    if not os.path.lexists(path):
        yield None, config
        return
    _check_log_file(path)
    log = SimulationsLog.open(path, config.input_dim if config else None, readonly=True)
    try:
        yield log, config
    finally:
        log.close()


def _input_dim(config: Config) -> int:
    if config.input_dim is not None:
        return config.input_dim
    from .core.log import infer_input_dim

    _check_log_file(config.log_path)
    return infer_input_dim(config.log_path)


@contextlib.contextmanager
def _own_manager(config: Config, unfinished: Optional[set[str]] = None) -> Iterator[JobManager]:
    """A JobManager of this process on the config's log, shut down on exit.

    ``unfinished``, when given, receives the ids of the log's jobs that had not ended
    when the manager took over (the ones it resumes among them)."""
    if os.path.lexists(config.log_path):
        _check_log_file(config.log_path)
    log = config.open_log()
    try:
        if unfinished is not None:
            unfinished.update(str(job.id) for job in log.get_non_terminated_jobs())
        manager = JobManager(log, config.build_interfaces(), polling_interval=config.polling_interval)
    except BaseException:
        log.close()
        raise
    failed = False
    try:
        yield manager
    except BaseException:
        failed = True
        raise
    finally:
        try:
            manager.shutdown()
        finally:
            try:
                log.close()
            except Exception:  # noqa: BLE001
                # Closing meets the same trouble (a full disk) that stopped the command:
                # the error that stopped it is the one to report, not this echo of it.
                if not failed:
                    raise


def _hand_over_or_act(
    config: Config, request: dict, act: Callable[[JobManager], dict], timeout: float
) -> tuple[dict, Optional[dict]]:
    """Hand ``request`` to the log's manager (:func:`~simjobs.core.control.hand_over`),
    or, when none runs, ``act`` with our own. Fails at once when a process that runs no
    manager holds the log.

    Returns the response and the manager's holder record (None when we acted).
    """
    holder = settled_holder(config.log_path)
    if holder is None:
        try:
            with _own_manager(config) as manager:
                return act(manager), None
        except LogLockedError:
            holder = settled_holder(config.log_path)  # another process took the log meanwhile
            if holder is None:
                raise
    try:
        return hand_over(config.log_path, request, timeout, holder=holder), holder
    except RequestInterrupted as exc:
        raise CliError(str(exc), EXIT_INTERRUPTED) from None


class _JobWatch:
    """The latest status of each job, from a manager's events (subscribe before acting).

    Waiting for submission uses these events, not JobManager.wait_until_submitted:
    that one is woken only when jobs end, so it returned only after the next poll.
    """

    def __init__(self, manager: JobManager):
        self._cond = threading.Condition()
        self._status: dict[str, JobStatus] = {}
        self._unsubscribe = manager.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobEvent):
            with self._cond:
                self._status[str(event.job_id)] = event.new_status
                self._cond.notify_all()

    def status(self, job_id: str) -> Optional[JobStatus]:
        with self._cond:
            return self._status.get(job_id)

    def wait(self, job_ids: Sequence[str], done: Callable[[Optional[JobStatus]], bool],
             timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: all(done(self._status.get(j)) for j in job_ids), timeout)

    def __enter__(self) -> "_JobWatch":
        return self

    def __exit__(self, *exc) -> None:
        self._unsubscribe()


def _submitted(status: Optional[JobStatus]) -> bool:
    return status is not None and status is not JobStatus.PENDING_SUBMIT


def _wait_submitted(watch: _JobWatch, ids: list[str], timeout: float) -> list[str]:
    """Wait until the hardware has every job; the ids still pending submission."""
    watch.wait(ids, _submitted, timeout)
    return [j for j in ids if not _submitted(watch.status(j))]


def _not_managed_note(log_path: Path) -> None:
    _note(f"note: no manager runs on {log_path.name}: the jobs run, but their results "
          f"are recorded (and jobs waiting for a free slot start) only while one does; "
          f"start it with '{hint('run')}'")


# ---- inputs ---------------------------------------------------------------------------


def _number(text: str, where: str) -> float:
    try:
        return parse_coordinate(text)
    except DesignError as exc:
        raise CliError(f"{where}: {exc}") from None


def _check_dim(coords: list[float], dim: int, where: str) -> list[float]:
    if len(coords) != dim:
        raise CliError(f"{where}: {len(coords)} coordinate{'s' * (len(coords) != 1)}, "
                       f"but the log's inputs have {dim}")
    return coords


def _collect_inputs(args: argparse.Namespace, dim: int) -> list[list[float]]:
    inputs = []
    if args.coords:
        inputs.append(_check_dim([_number(c, "input") for c in args.coords], dim, "input"))
    for text in args.input or []:
        where = f"--input {text!r}"
        inputs.append(_check_dim([_number(c, where) for c in text.split(",")], dim, where))
    if args.csv:
        try:
            inputs.extend(list(x) for x in read_inputs_csv(args.csv, dim))
        except DesignError as exc:
            raise CliError(str(exc)) from None
    if not inputs:
        raise CliError("no input given: simjobs submit 0.1 0.2, --input 0.1,0.2 or --csv FILE")
    return inputs


def _check_level(config: Config, level: int) -> None:
    if level not in config.levels:
        levels = ", ".join(str(v) for v in config.levels)
        raise CliError(f"no interface serves level {level} in {config.path.name} "
                       f"(levels: {levels}); add one or choose another level")


# ---- filters ---------------------------------------------------------------------------


def _status_key(text: str) -> str:
    return " ".join(text.replace("-", " ").replace("_", " ").lower().split())


_STATUS_BY_KEY = {_status_key(s.value): s for s in JobStatus}


def _parse_statuses(values: Optional[list[str]], flag: str) -> Optional[set[JobStatus]]:
    if not values:
        return None
    statuses = set()
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            status = _STATUS_BY_KEY.get(_status_key(part))
            if status is None:
                valid = ", ".join(s.value.lower() for s in JobStatus)
                raise CliError(f"{flag}: unknown status {part.strip()!r}; use one of: {valid}")
            statuses.add(status)
    return statuses


def _parse_bool(text: str) -> bool:
    key = text.strip().lower()
    if key in ("true", "yes", "1", "t", "y"):
        return True
    if key in ("false", "no", "0", "f", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _job_ids(values: Iterable[str]) -> list[str]:
    ids, bad = [], []
    for value in values:
        try:
            ids.append(str(JobId(value)))
        except ValueError:
            bad.append(value)
    if bad:
        raise CliError(f"not a job id (ids are digits): {', '.join(bad)}")
    return list(dict.fromkeys(ids))


def _check_known(log: Optional[SimulationsLog], ids: list[str]) -> None:
    unknown = [j for j in ids if log is None or j not in log]
    if unknown:
        raise UnknownJobIdError(
            f"unknown job id{'s' * (len(unknown) > 1)}: {', '.join(unknown)}", unknown_ids=unknown)


def _has_filter(args: argparse.Namespace) -> bool:
    return bool(args.status or args.not_status or args.level or args.interface
                or args.has_result is not None or args.no_result)


def _select(log: Optional[SimulationsLog], args: argparse.Namespace,
            default_last: Optional[int]) -> tuple[list[LogRecord], int]:
    """The records the filters select, and how many matched before ``-n`` cut them."""
    ids = _job_ids(getattr(args, "ids", None) or [])
    _check_known(log, ids)
    statuses = _parse_statuses(args.status, "--status")
    not_statuses = _parse_statuses(args.not_status, "--not-status")
    records = log.iter_records() if log is not None else []
    if ids:
        wanted = set(ids)
        records = [r for r in records if r.job_id in wanted]
    if statuses is not None:
        records = [r for r in records if r.status in statuses]
    if not_statuses is not None:
        records = [r for r in records if r.status not in not_statuses]
    if args.level:
        records = [r for r in records if r.level in set(args.level)]
    if args.interface:
        records = [r for r in records if r.interface_name in set(args.interface)]
    if args.has_result is not None:
        records = [r for r in records if (r.output is not None) == args.has_result]
    if args.no_result:
        records = [r for r in records if r.status in TERMINAL_STATUSES and r.output is None]
    matched = len(records)
    last = getattr(args, "last", None)
    if getattr(args, "all", False):
        last = None
    elif last is None and not ids:
        last = default_last
    if last is not None:
        records = records[-last:] if last > 0 else []
    return records, matched


def _add_filters(parser: argparse.ArgumentParser, *, ids: bool = True, last: bool = True) -> None:
    group = parser.add_argument_group("filters (combined with 'and')")
    if ids:
        group.add_argument("ids", nargs="*", metavar="ID", help="only these job ids")
    if last:
        group.add_argument("-n", "--last", type=int, metavar="N",
                           help=f"only the last N matching jobs (status: default {DEFAULT_LAST})")
        group.add_argument("-a", "--all", action="store_true", help="every matching job")
    group.add_argument("-s", "--status", action="append", metavar="STATUS",
                       help="only jobs with this status (repeatable, or a comma list; e.g. "
                            "'failed', 'pending submit', 'pending-submit')")
    group.add_argument("-S", "--not-status", action="append", metavar="STATUS",
                       help="leave out jobs with this status (repeatable or comma list)")
    group.add_argument("--level", action="append", type=int, metavar="N",
                       help="only jobs at this level (repeatable)")
    group.add_argument("--interface", action="append", metavar="NAME",
                       help="only jobs on this interface (repeatable)")
    group.add_argument("-r", "--has-result", type=_parse_bool, metavar="true|false",
                       help="only jobs with (true) or without (false) an output")
    group.add_argument("-x", "--no-result", action="store_true",
                       help="only jobs that ended without an output")


# ---- formatting -------------------------------------------------------------------------


def record_to_json(r: LogRecord) -> dict:
    """Every field of a record, as JSON-ready values (times in epoch seconds)."""
    return {
        "job_id": r.job_id, "input": list(r.coords), "output": r.output,
        "status": r.status.value, "level": r.level, "interface_name": r.interface_name or None,
        "created": r.created, "changed": r.changed, "reason": r.reason,
        "resubmit_of": r.resubmit_of, "resubmitted_as": r.resubmitted_as,
        "history": [[status.value, t] for status, t in r.history],
    }


def _iso(t: Optional[float]) -> str:
    if t is None:
        return ""
    return datetime.datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


def _when(t: Optional[float]) -> str:
    if t is None:
        return ""
    moment = datetime.datetime.fromtimestamp(t)
    if moment.date() == datetime.date.today():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


def _number_text(v: Optional[float]) -> str:
    return "" if v is None else f"{v:.6g}"


def _records_table(records: list[LogRecord]) -> Table:
    from rich.table import Table
    from rich.text import Text

    from .progress import STATUS_STYLES

    table = Table(header_style="bold", pad_edge=False, box=None)
    # Ids, statuses, levels and times are never cut (an id is what the next command
    # needs); inputs, interface names and reasons give way when the terminal is narrow.
    fixed = {"job id": 17, "status": 14, "level": 5, "changed": 8}
    for name, justify in (("job id", "left"), ("status", "left"), ("level", "right"),
                          ("interface", "left"), ("input", "left"), ("output", "right"),
                          ("changed", "left"), ("reason", "left")):
        table.add_column(name, justify=justify, no_wrap=name != "reason",
                         min_width=fixed.get(name), overflow="ellipsis")
    for r in records:
        table.add_row(
            r.job_id, Text(r.status.value, style=STATUS_STYLES.get(r.status, "")), str(r.level),
            r.interface_name, ", ".join(_number_text(c) for c in r.coords),
            _number_text(r.output), _when(r.changed), r.reason or "",
        )
    return table


def _manager_line(log_path: Path) -> Optional[str]:
    holder = manager_holder(str(log_path))
    return None if holder is None else f"managed by {holder_text(holder)}"


# ---- subcommands ---------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    return headless_run(_config(args), until_done=args.until_done)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a run like Ctrl-C does: a clean shutdown."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            previous[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def headless_run(
    config: Config,
    until_done: bool = False,
    *,
    prepare: Optional[Callable[[JobManager], None]] = None,
    console: Optional[Console] = None,
    title: str = "simjobs",
) -> int:
    """Manage the config's log with the live progress table until every job has ended
    (``until_done``) or until interrupted (Ctrl-C, SIGTERM). Jobs still running at an
    interrupt keep running and are resumed by the next start.

    ``prepare(manager)`` runs once the table shows (the demo submits its jobs there).
    """
    holder = settled_holder(config.log_path)
    if holder is not None and not holder.get("manager"):
        raise CliError(plain_writer_text(config.log_path, holder), EXIT_FAILURE)
    if holder is not None:
        raise LogLockedError(
            f"{config.log_path.name} is already managed by {holder_text(holder)}; "
            f"stop that process first, or use '{hint('submit/cancel/resubmit')}', which hand "
            "requests to it", holder=holder)
    console = console or _out()
    interrupted = False
    unfinished: set[str] = set()  # the jobs this run resumes count as its own
    with _signals_interrupt():
        try:
            from .progress import ProgressView

            with _own_manager(config, unfinished) as manager, \
                    ProgressView(manager, console, title, resumed=unfinished):
                if prepare is not None:
                    prepare(manager)
                if until_done:
                    manager.wait_until_done()
                else:
                    threading.Event().wait()
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        _note("stopped: jobs still running keep running and are resumed at the next start")
        return EXIT_INTERRUPTED if until_done else EXIT_OK
    return EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    config = _config(args)
    inputs = _collect_inputs(args, _input_dim(config))
    _check_level(config, args.level)

    def act(manager: JobManager) -> dict:
        with _JobWatch(manager) as watch:
            jobs = manager.submit_many(inputs, args.level)
            ids = [str(j.id) for j in jobs]
            waiting = _wait_submitted(watch, ids, args.timeout)
        return {"ok": True, "job_ids": ids, "interfaces": [j.interface_name for j in jobs],
                "not_submitted": waiting, "reasons": _pending_reasons(manager, waiting)}

    request = {"op": "submit", "inputs": inputs, "level": args.level}
    response, holder = _hand_over_or_act(config, request, act, args.timeout)
    ids = response["job_ids"]
    if args.json:
        _print_json({"job_ids": ids, "level": args.level, "interfaces": response.get("interfaces"),
                     "managed_by": holder})
    else:
        for job_id in ids:
            print(job_id)
    waiting = response.get("not_submitted") if holder is None else None
    how = (f"handed to the manager, {holder_text(holder)}" if holder
           else "recorded by this process" if waiting else "submitted by this process")
    _note(f"{len(ids)} job{'s' * (len(ids) != 1)} at level {args.level} ({how})")
    if waiting:
        # The interface's own reason, and a non-zero exit: the jobs are not running.
        reasons = response.get("reasons") or {}
        for reason, job_ids in (reasons.items() or [("no answer from the interface yet",
                                                     waiting)]):
            count = len(job_ids)
            _note(f"error: {count} job{'s' * (count != 1)} not on the hardware after "
                  f"{args.timeout:g} s: {reason}")
        _note(f"they stay recorded, pending submit: '{hint('run')}' submits them once the "
              f"hardware answers (or cancel them with '{hint('cancel')}')")
        return EXIT_FAILURE
    if holder is None:
        _not_managed_note(config.log_path)
    return EXIT_OK


def _pending_reasons(manager: JobManager, job_ids: Sequence[str]) -> dict[str, list[str]]:
    """Why jobs are still pending submit, from the interface's word: the reason the
    manager recorded for each (else its interface's health message); reason -> ids."""
    out: dict[str, list[str]] = {}
    health = manager.interface_health()
    for job_id in job_ids:
        try:
            record = manager.simulations_log.get_record(job_id)
        except Exception:  # noqa: BLE001 - a reason is a courtesy here
            continue
        reason = record.reason or (health.get(record.interface_name).message
                                   if health.get(record.interface_name) else "")
        reason = reason or f"interface {record.interface_name!r} has not answered yet"
        out.setdefault(reason, []).append(job_id)
    return out


def cmd_status(args: argparse.Namespace) -> int:
    if args.last is not None and args.last < 0:
        raise CliError("-n must be >= 0")
    with _read_log(args) as (log, config):
        records, matched = _select(log, args, DEFAULT_LAST)
        total = len(log) if log is not None else 0
        pending = log is not None and any(
            r.status not in TERMINAL_STATUSES for r in records)
        log_path = Path(log.path) if log is not None else None
    if args.json:
        _print_json([record_to_json(r) for r in records])
        return EXIT_OK
    out = _out()
    if records:
        out.print(_records_table(records))
    shown = f"{len(records)} of {matched} matching jobs" if matched != len(records) else (
        f"{matched} matching job{'s' * (matched != 1)}")
    out.print(f"[dim]{shown} ({total} in the log)"
              + ("; -a shows all" if matched > len(records) else "") + "[/]")
    if log_path is not None:
        line = _manager_line(log_path)
        if line:
            out.print(f"[dim]{log_path.name}: {line}[/]")
        elif pending:
            out.print(f"[dim]{log_path.name}: no manager runs; statuses are as last recorded "
                      f"('{hint('run')}' brings them up to date)[/]")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    config = _config(args)
    ids = _job_ids(args.ids)
    with _read_log(args, config) as (log, _):
        _check_known(log, ids)
        ended = {j: log.get_record(j).status for j in ids}
    ended = {j: status.value for j, status in ended.items() if status in TERMINAL_STATUSES}

    def act(manager: JobManager) -> dict:
        with _JobWatch(manager) as watch:
            result = manager.cancel_many(ids)
            cancelled = [str(j.id) for j in result.cancelled]
            watch.wait(cancelled, lambda s: s in TERMINAL_STATUSES or s is JobStatus.FAILED_CANCEL,
                       args.timeout)
            final = {j: (watch.status(j) or JobStatus.PENDING_CANCEL).value for j in cancelled}
        return {"ok": True, "cancelled": cancelled, "final": final,
                "skipped": {str(k): v.value for k, v in result.skipped.items()}}

    if len(ended) == len(ids):
        # Nothing to cancel: answered from the log as read, without starting a manager
        # (which would take the lock and resume the log's other jobs just to say so).
        # An ended job never changes status again, so this answer cannot be stale.
        response, holder = {"ok": True, "cancelled": [], "skipped": ended}, None
    else:
        response, holder = _hand_over_or_act(
            config, {"op": "cancel", "job_ids": ids}, act, args.timeout)
    cancelled, skipped = response["cancelled"], response["skipped"]
    final = response.get("final", {})
    if args.json:
        _print_json({"cancelled": cancelled, "skipped": skipped, "final": final,
                     "managed_by": holder})
    else:
        for job_id in cancelled:
            status = final.get(job_id)
            if status is None:
                print(f"{job_id}: cancelling (handed to the manager, {holder_text(holder)})")
            elif status == JobStatus.CANCELLED.value:
                print(f"{job_id}: cancelled")
            elif status == JobStatus.PENDING_CANCEL.value:
                print(f"{job_id}: cancel requested, not confirmed within {args.timeout:g} s "
                      "(the next manager finishes it)")
            else:
                print(f"{job_id}: {status} (it ended before the cancel reached it)"
                      if status != JobStatus.FAILED_CANCEL.value else f"{job_id}: cancel failed")
        for job_id, status in skipped.items():
            print(f"{job_id}: skipped, already {status}")
    return EXIT_OK if cancelled else EXIT_FAILURE


def cmd_resubmit(args: argparse.Namespace) -> int:
    config = _config(args)
    ids = _job_ids(args.ids)
    if not ids and not _has_filter(args):
        raise CliError("name job ids or a filter (e.g. -s failed); resubmit never picks "
                       "every job by itself")
    with _read_log(args, config) as (log, _):
        if ids:
            _check_known(log, ids)
        records, _ = _select(log, args, None)
    if ids:
        for r in records:
            if r.status not in RESUBMITTABLE_STATUSES:
                raise InvalidJobStatusError(
                    f"job {r.job_id} is {r.status.value}: only failed, failed-submit or "
                    "cancelled jobs can be resubmitted", status=r.status)
            if r.resubmitted_as and not args.again:
                raise InvalidJobStatusError(
                    f"job {r.job_id} was already resubmitted as "
                    f"{', '.join(r.resubmitted_as)}; add --again to resubmit it once more",
                    status=r.status)
    else:
        # A filter picks only jobs that can be resubmitted and (without --again) were
        # not already.
        records = [r for r in records if r.status in RESUBMITTABLE_STATUSES
                   and (args.again or not r.resubmitted_as)]
    if not records:
        _note("no failed, failed-submit or cancelled job matches: nothing resubmitted")
        if args.json:
            _print_json({"pairs": []})
        return EXIT_OK
    for level in sorted({r.level for r in records}):
        _check_level(config, level)
    old_ids = [r.job_id for r in records]

    def act(manager: JobManager) -> dict:
        with _JobWatch(manager) as watch:
            jobs = manager.resubmit(old_ids, again=args.again)
            new_ids = [str(j.id) for j in jobs]
            waiting = _wait_submitted(watch, new_ids, args.timeout)
        return {"ok": True, "pairs": [list(p) for p in zip(old_ids, new_ids)],
                "not_submitted": waiting}

    response, holder = _hand_over_or_act(
        config, {"op": "resubmit", "job_ids": old_ids, "again": args.again}, act,
        args.timeout)
    pairs = response["pairs"]
    if args.json:
        _print_json({"pairs": pairs, "managed_by": holder})
    else:
        for old, new in pairs:
            print(f"{old} -> {new}")
    if holder is None:
        _not_managed_note(config.log_path)
    return EXIT_OK


EXTRA_COLUMNS = ["Created", "Changed", "Reason"]


def _csv_text(records: list[LogRecord], dim: int) -> str:
    """exauq's log columns (its format: str() numbers, CRLF), then simjobs' extras."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header_columns(dim) + EXTRA_COLUMNS)
    for r in records:
        writer.writerow([*(str(c) for c in r.coords), "" if r.output is None else str(r.output),
                         r.job_id, r.status.value, r.level, r.interface_name,
                         _iso(r.created), _iso(r.changed), r.reason or ""])
    return buffer.getvalue()


def _write_new_file(path: Path, text: str, force: bool) -> None:
    """Write ``text`` to ``path`` atomically; without ``force``, fail rather than replace
    a file, even one made meanwhile."""
    if path.exists() and not force:
        raise CliError(f"{path} exists; pass --force to overwrite it")
    directory = path.parent
    if not directory.is_dir():
        raise CliError(f"{path}: the directory {directory} does not exist")
    try:
        atomic_write(path, text, replace=force)
    except FileExistsError:
        raise CliError(f"{path} exists; pass --force to overwrite it") from None


def cmd_repair(args: argparse.Namespace) -> int:
    """``simjobs repair LOG``: back a damaged log's files up, then keep what is left."""
    from .core.repair import repair_log

    result = repair_log(args.log)
    if result.damage is None:
        print(f"{args.log}: whole ({result.records} records); nothing to repair")
        return EXIT_OK
    print(f"{args.log}: {result.damage}")
    print(f"backed up to {result.backup}; the log now holds {result.records} records "
          "and can be written again")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    target = Path(args.file).expanduser()
    fmt = args.format or {".csv": "csv", ".json": "json"}.get(target.suffix.lower())
    if fmt is None:
        raise CliError(f"cannot tell the format of {args.file!r} from its suffix; "
                       "pass --format csv or --format json")
    if target.exists() and not args.force:
        raise CliError(f"{args.file} exists; pass --force to overwrite it")
    with _read_log(args) as (log, config):
        records, _ = _select(log, args, None)
        dim = log.input_dim if log is not None else (config.input_dim or 0)
    if fmt == "csv":
        text = _csv_text(records, dim)
    else:
        text = json.dumps([record_to_json(r) for r in records], indent=2) + "\n"
    _write_new_file(target, text, args.force)
    _note(f"wrote {len(records)} job{'s' * (len(records) != 1)} to {args.file} ({fmt})")
    return EXIT_OK


def cmd_interfaces(args: argparse.Namespace) -> int:
    with _read_log(args) as (log, config):
        records = log.iter_records() if log is not None else []
        log_path = Path(log.path) if log is not None else (config.log_path if config else None)
    active = Counter(r.interface_name for r in records if r.status not in TERMINAL_STATUSES)
    rows = []
    if config is not None:
        host = socket.gethostname()
        for spec in config.interfaces:
            rows.append({"name": spec.name, "kind": spec.kind, "level": spec.level,
                         "host": spec.host or host,
                         "max_jobs": spec.effective_max_jobs, "active": active.get(spec.name, 0)})
    else:  # --log only: what the log itself tells
        levels = {}
        for r in records:
            levels.setdefault(r.interface_name, r.level)
        for name, level in levels.items():
            if name:
                rows.append({"name": name, "kind": None, "level": level, "host": None,
                             "max_jobs": None, "active": active.get(name, 0)})
    holder = manager_holder(str(log_path)) if log_path is not None else None
    if args.json:
        _print_json({"interfaces": rows, "managed_by": holder})
        return EXIT_OK
    from rich.table import Table

    out = _out()
    table = Table(header_style="bold", pad_edge=False, box=None)
    for column in ("name", "kind", "level", "host", "max_jobs", "active"):
        table.add_column(column.replace("_", " "),
                         justify="right" if column in ("level", "max_jobs", "active") else "left")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c])
                        for c in ("name", "kind", "level", "host", "max_jobs", "active")))
    out.print(table)
    if holder is not None:
        out.print(f"[dim]{log_path.name}: managed by {holder_text(holder)} "
                  "(health and live load show in its view)[/]")
    return EXIT_OK


# ---- the app ---------------------------------------------------------------------------------


def _needs_terminal(what: str) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError(f"{what} needs a terminal (stdin and stdout are not one); in scripts "
                       f"use '{hint('run')}', '{hint('status')}' and the other subcommands")


def _check_theme(name: Optional[str]) -> None:
    if name is None:
        return
    from textual.theme import BUILTIN_THEMES

    from .app.themes import load_themes

    themes, _ = load_themes()
    names = sorted({t.name for t in themes} | set(BUILTIN_THEMES))
    if name not in names:
        raise CliError(f"unknown theme {name!r}; choose one of: {', '.join(names)}")


def run_app(backend, theme: Optional[str] = None, opening: str = "", peek=None) -> int:
    """Run the Textual app on ``backend`` (closed when the app exits), or on what the
    callable ``backend`` returns: it is called in a thread after the first paint, and
    an error it raises is this command's error. ``peek``: see SimjobsApp."""
    from .app.app import SimjobsApp

    app = SimjobsApp(backend, theme=theme, opening=opening, peek=peek)
    app.run()
    if app.startup_error is not None:
        raise app.startup_error
    return EXIT_OK


def cmd_app(args: argparse.Namespace) -> int:
    from .app.backend import configured_interfaces, open_backend, peek_backend

    _check_theme(args.theme)
    if args.watch:
        path = Path(args.watch).expanduser()
        _check_log_file(path, args.watch)
        config = _config(args) if args.config else None
        _needs_terminal("simjobs app")
        infos = configured_interfaces(config) if config is not None else None
        return run_app(lambda: open_backend(config, watch=path), args.theme,
                       opening=f"opening {path.name} (read-only)…",
                       peek=lambda: peek_backend(path.resolve(), interfaces=infos))
    config = _config(args)
    if config.log_path.exists():
        _check_log_file(config.log_path)
    _needs_terminal("simjobs app")
    # A log another process holds is watched, never taken over (open_backend); the app
    # says so in a notification. Its newest records show while it opens.
    log_path = Path(os.path.abspath(config.log_path))
    return run_app(lambda: open_backend(config), args.theme,
                   opening=f"opening {config.log_path.name}…",
                   peek=lambda: (peek_backend(log_path, interfaces=configured_interfaces(config))
                                 if log_path.exists() else None))


# ---- demo -------------------------------------------------------------------------------------


def default_demo_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("simjobs")) / "demo"


def install_demo(directory: Path) -> Path:
    """Copy the bundled demo config into ``directory`` (kept if already there)."""
    config_path = directory / DEMO_CONFIG
    if not config_path.exists():
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create the demo directory {directory} ({exc.strerror})",
                           EXIT_FAILURE) from None
        template = resources.files("simjobs.demo").joinpath(DEMO_CONFIG).read_text("utf-8")
        with contextlib.suppress(FileExistsError):  # made meanwhile: kept, as above
            atomic_write(config_path, template, replace=False)
    return config_path


def demo_jobs(total: int) -> dict[int, int]:
    """How many demo jobs to submit per level: about a quarter at level 2."""
    level2 = max(1, total // 4) if total >= 2 else 0
    return {1: total - level2, 2: level2}


def cmd_demo(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    directory = Path(args.dir).expanduser() if args.dir else default_demo_dir()
    config_path = install_demo(directory)
    if args.fast:
        os.environ["SIMJOBS_DEMO_FAST"] = "1"  # inherited by the simulator processes
    from .config import load_config

    config = load_config(config_path)
    _note(f"demo: config {config_path}, log {config.log_path}")

    def submit_mix(manager: JobManager) -> None:
        if manager.active_jobs():
            _note("demo: jobs from an earlier run are still going; following them")
            return
        log = manager.simulations_log
        dim = log.input_dim
        for level, count in demo_jobs(args.jobs).items():
            if count and level in manager.levels:
                design = latin_hypercube(count, [0.0] * dim, [1.0] * dim,
                                         seed=DEMO_SEED + len(log) + level)
                # Four decimals read better in the demo's table than seventeen.
                manager.submit_many([[round(v, 4) for v in x] for x in design], level)

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if args.headless or not interactive:
        # Piped, or asked for: the plain live table, run until every job has ended.
        code = headless_run(config, until_done=True, prepare=submit_mix,
                            title=f"simjobs demo ({directory})")
        _note(f"demo: see the jobs with: {hint('status --config ' + shlex.quote(str(config_path)))}")
        return code
    _check_theme(args.theme)
    from .app.backend import ManagedBackend, open_backend

    backend = open_backend(config)
    if isinstance(backend, ManagedBackend):
        submit_mix(backend.manager)  # the first screen is alive
    code = run_app(backend, args.theme)
    _note(f"demo: open it again with: {hint('app --config ' + shlex.quote(str(config_path)))}")
    return code


# ---- parser and entry point -----------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + error
        raise CliError(f"{message}; see '{self.prog} --help'", EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="simjobs",
        description="Manage simulation jobs at several levels on several machines.",
    )
    parser.add_argument("--version", action="version", version=f"simjobs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, handler, help: str, *, readonly: bool = False, aliases=()):
        p = sub.add_parser(name, help=help, description=help, aliases=list(aliases))
        p.set_defaults(handler=handler)
        p.add_argument("--config", metavar="FILE",
                       help="the config file (default: $SIMJOBS_CONFIG, ./simjobs.toml, "
                            "then the user config dir)")
        if readonly:
            p.add_argument("--log", metavar="PATH",
                           help="read this log without a config (its input_dim is read from it)")
        return p

    def timeout(p):
        p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"how long to wait for the hardware or the manager "
                            f"(default {DEFAULT_TIMEOUT:g})")

    p = command("run", cmd_run, "manage the log: submit, watch and record jobs, with a live table")
    p.add_argument("--until-done", action="store_true",
                   help="stop when every job has ended (default: run until Ctrl-C)")

    p = command("submit", cmd_submit, "submit inputs as new jobs")
    p.add_argument("coords", nargs="*", metavar="X", help="the coordinates of one input")
    p.add_argument("--input", "-i", action="append", metavar="X1,X2,...",
                   help="one input as a comma list (repeatable; negative numbers as "
                        "they are: --input -0.5,1)")
    p.add_argument("--csv", metavar="FILE",
                   help="inputs from a CSV file, one per line (header optional; an exauq "
                        "log's Input_k columns are picked out)")
    p.add_argument("--level", "-l", type=int, default=1, help="the level to run at (default 1)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    timeout(p)

    p = command("status", cmd_status, "show jobs (alias: show)", readonly=True, aliases=("show",))
    _add_filters(p)
    p.add_argument("--json", action="store_true", help="every field of the records, as JSON")

    p = command("cancel", cmd_cancel, "cancel jobs that have not ended")
    p.add_argument("ids", nargs="+", metavar="ID", help="the job ids")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    timeout(p)

    p = command("resubmit", cmd_resubmit,
                "submit failed, failed-submit or cancelled jobs again, as new jobs")
    _add_filters(p, last=False)
    p.add_argument("--again", action="store_true",
                   help="also resubmit jobs that were already resubmitted (refused "
                        "otherwise, naming the new job)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    timeout(p)

    help = "make a damaged log writable again: back its files up, then keep what is left"
    p = sub.add_parser("repair", help=help, description=help)
    p.set_defaults(handler=cmd_repair)
    p.add_argument("log", metavar="LOG", help="the log file (.csv, .db, ...)")

    p = command("export", cmd_export, "write jobs to a CSV or JSON file", readonly=True)
    p.add_argument("file", metavar="FILE", help="the file to write (.csv or .json)")
    p.add_argument("--format", choices=("csv", "json"), help="default: from the file's suffix")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    _add_filters(p)

    p = command("interfaces", cmd_interfaces, "list the interfaces and their active jobs",
                readonly=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("demo", cmd_demo, "try simjobs: the app on demo jobs at two levels, running the demo simulator")
    p.add_argument("--dir", metavar="DIR",
                   help="where the demo config, log and job directories go (default: the "
                        "user data dir's simjobs/demo; reused if present)")
    p.add_argument("--fast", action="store_true", help="make the demo simulator fast (tests)")
    p.add_argument("--jobs", type=int, default=16, metavar="N",
                   help="how many jobs to submit, about a quarter at level 2 (default 16)")
    p.add_argument("--headless", action="store_true",
                   help="the plain live table instead of the app (the default when not "
                        "in a terminal)")
    p.add_argument("--theme", metavar="NAME", help="the app's theme (remembered)")

    p = command("app", cmd_app, "open the simjobs app (manage the config's log, or --watch one)")
    p.add_argument("--watch", metavar="LOG",
                   help="a read-only viewer of LOG, managed by another process; submit and "
                        "cancel are handed to its manager")
    p.add_argument("--theme", metavar="NAME",
                   help="the theme (simjobs-dark, simjobs-light, or a Textual one; remembered)")
    return parser


def _error(message: str) -> None:
    print(f"simjobs: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """warnings.showwarning for the command: ``simjobs: warning: <message>``, one line,
    without Python's file path, line number and source line."""
    text = " ".join(str(message).split())
    try:
        print(f"simjobs: warning: {text}", file=file or sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr is gone (closed pipe): a warning is not worth failing for


class _OneLineLogHandler(logging.Handler):
    """The library's log lines (a manager's errors) as the command's own: one line,
    ``simjobs: error: ...``, without a traceback (SIMJOBS_DEBUG=1 keeps Python's)."""

    def emit(self, record: logging.LogRecord) -> None:
        text = " ".join(record.getMessage().split()).removeprefix("simjobs: ")
        if record.levelno >= logging.ERROR:
            text = "error: " + text
        try:
            print(f"simjobs: {text}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass  # stderr is gone (closed pipe)


def _os_error_text(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "a file"
    return (f"{where}: {os_reason(exc)}; check the path and its permissions "
            "(SIMJOBS_DEBUG=1 shows where it happened)")


def _glue_negative_inputs(argv: list[str]) -> list[str]:
    """``--input -0.5,1`` as ``--input=-0.5,1``: argparse takes a value starting with
    ``-`` for an option unless it is one plain negative number, so the natural form
    failed with "expected one argument"."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        following = argv[i + 1] if i + 1 < len(argv) else ""
        if arg in ("--input", "-i") and following.startswith("-") and \
                following[1:2] in tuple("0123456789."):
            out.append(f"--input={following}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``simjobs`` command; returns the exit code."""
    debug = os.environ.get("SIMJOBS_DEBUG", "") not in ("", "0")
    if not debug:
        # Kept for the rest of the process: warnings while it exits (logs closed at
        # exit) are the command's too.
        warnings.showwarning = _show_warning
        library = logging.getLogger("simjobs")
        if not any(isinstance(h, _OneLineLogHandler) for h in library.handlers):
            # (Python's last-resort handler, which prints tracebacks, then stays out.)
            library.addHandler(_OneLineLogHandler(logging.WARNING))
    try:
        args = build_parser().parse_args(_glue_negative_inputs(
            sys.argv[1:] if argv is None else list(argv)))
        return args.handler(args)
    except CliError as exc:
        _error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. '| head'): stop quietly, as Python's
        # docs advise, pointing stdout at devnull so the exit flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - sorted below; bugs still show a traceback
        code = _exit_code(exc)
        if code is None or debug:
            raise
        if isinstance(exc, OSError) and not isinstance(exc, SimjobsError):
            _error(_os_error_text(exc))
        elif isinstance(exc, UnicodeError):
            reason = getattr(exc, "reason", exc)
            _error(f"a file is not UTF-8 text ({reason}); check that the paths given name "
                   "text files (SIMJOBS_DEBUG=1 shows which)")
        else:
            _error(str(exc) or type(exc).__name__)
        return code


def _exit_code(exc: Exception) -> Optional[int]:
    """The exit code for a user-facing error, or None for a bug (shown as a traceback)."""
    if isinstance(exc, NotALogError):  # a path that names no log: bad input
        return EXIT_USAGE
    if isinstance(exc, (LogLockedError, LogFormatError)):
        return EXIT_FAILURE
    from .config import ConfigError

    if isinstance(exc, (ConfigError, UnknownJobIdError, InvalidJobStatusError)):
        return EXIT_USAGE
    if isinstance(exc, SimjobsError):
        return EXIT_FAILURE
    if isinstance(exc, (ValueError, TypeError)):
        return EXIT_USAGE
    if isinstance(exc, OSError):
        return EXIT_FAILURE
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
