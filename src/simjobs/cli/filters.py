"""The job filters of ``status``, ``resubmit`` and ``export`` (ids, statuses, levels,
interfaces, results, -n), their options and the selection they make."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Optional

from ..core.errors import UnknownJobIdError
from ..core.log import SimulationsLog
from ..core.records import LogRecord
from ..core.types import TERMINAL_STATUSES, JobId, JobStatus
from .errors import CliError


DEFAULT_LAST = 50



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



def parse_job_ids(values: Iterable[str]) -> list[str]:
    ids, bad = [], []
    for value in values:
        try:
            ids.append(str(JobId(value)))
        except ValueError:
            bad.append(value)
    if bad:
        raise CliError(f"not a job id (ids are digits): {', '.join(bad)}")
    return list(dict.fromkeys(ids))



def check_known(log: Optional[SimulationsLog], ids: list[str]) -> None:
    unknown = [j for j in ids if log is None or j not in log]
    if unknown:
        raise UnknownJobIdError(
            f"unknown job id{'s' * (len(unknown) > 1)}: {', '.join(unknown)}", unknown_ids=unknown)



def has_filter(args: argparse.Namespace) -> bool:
    return bool(args.status or args.not_status or args.level or args.interface
                or args.has_result is not None or args.no_result)



def _record_tests(args: argparse.Namespace, ids: list[str]) -> list[Callable[[LogRecord], bool]]:
    """One test per filter given (every one must hold), in the order of the options."""
    tests: list[Callable[[LogRecord], bool]] = []
    statuses = _parse_statuses(args.status, "--status")
    not_statuses = _parse_statuses(args.not_status, "--not-status")
    if ids:
        wanted = set(ids)
        tests.append(lambda r: r.job_id in wanted)
    if statuses is not None:
        tests.append(lambda r: r.status in statuses)
    if not_statuses is not None:
        tests.append(lambda r: r.status not in not_statuses)
    if args.level:
        levels = set(args.level)
        tests.append(lambda r: r.level in levels)
    if args.interface:
        names = set(args.interface)
        tests.append(lambda r: r.interface_name in names)
    if args.has_result is not None:
        tests.append(lambda r: (r.output is not None) == args.has_result)
    if args.no_result:
        tests.append(lambda r: r.status in TERMINAL_STATUSES and r.output is None)
    return tests


def _last(args: argparse.Namespace, ids: list[str], default_last: Optional[int]) -> Optional[int]:
    """How many of the last matching records to keep (None: all): -a, else -n, else the
    command's default unless ids were named."""
    if getattr(args, "all", False):
        return None
    last = getattr(args, "last", None)
    if last is None and not ids:
        return default_last
    return last


def select_records(log: Optional[SimulationsLog], args: argparse.Namespace,
                   default_last: Optional[int]) -> tuple[list[LogRecord], int]:
    """The records the filters select, and how many matched before ``-n`` cut them."""
    ids = parse_job_ids(getattr(args, "ids", None) or [])
    check_known(log, ids)
    tests = _record_tests(args, ids)
    records = log.iter_records() if log is not None else []
    if tests:
        records = [r for r in records if all(test(r) for test in tests)]
    matched = len(records)
    last = _last(args, ids, default_last)
    if last is not None:
        records = records[-last:] if last > 0 else []
    return records, matched


def add_filters(parser: argparse.ArgumentParser, *, ids: bool = True, last: bool = True) -> None:
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
