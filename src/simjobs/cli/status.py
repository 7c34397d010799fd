"""``simjobs status`` (alias ``show``): the jobs the filters select, as a table or JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.command import hint
from ..core.text import plural
from ..core.types import TERMINAL_STATUSES
from ..export import record_json
from .errors import EXIT_OK, CliError
from .filters import DEFAULT_LAST, select_records
from .logs import read_log
from .output import manager_line, print_json, records_table, stdout_console


def cmd_status(args: argparse.Namespace) -> int:
    if args.last is not None and args.last < 0:
        raise CliError("-n must be >= 0")
    with read_log(args) as (log, config):
        records, matched = select_records(log, args, DEFAULT_LAST)
        total = len(log) if log is not None else 0
        pending = log is not None and any(
            r.status not in TERMINAL_STATUSES for r in records)
        log_path = Path(log.path) if log is not None else None
    if args.json:
        print_json([record_json(r) for r in records])
        return EXIT_OK
    out = stdout_console()
    if records:
        out.print(records_table(records))
    shown = f"{len(records):,} of {matched:,} matching jobs" if matched != len(records) else (
        plural(matched, "matching job"))
    out.print(f"[dim]{shown} ({total:,} in the log)"
              + ("; -a shows all" if matched > len(records) else "") + "[/]")
    if log_path is not None:
        line = manager_line(log_path)
        if line:
            out.print(f"[dim]{log_path.name}: {line}[/]")
        elif pending:
            out.print(f"[dim]{log_path.name}: no manager runs; statuses are as last recorded "
                      f"('{hint('run')}' brings them up to date)[/]")
    return EXIT_OK
