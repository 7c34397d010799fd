"""``simjobs interfaces``: the interfaces and their active jobs."""

from __future__ import annotations

import argparse
import socket
from collections import Counter
from pathlib import Path

from ..core.control import manager_holder
from ..core.lock import holder_text
from ..core.types import TERMINAL_STATUSES
from .errors import EXIT_OK
from .logs import read_log
from .output import print_json, stdout_console


def cmd_interfaces(args: argparse.Namespace) -> int:
    with read_log(args) as (log, config):
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
        print_json({"interfaces": rows, "managed_by": holder})
        return EXIT_OK
    from rich.table import Table

    out = stdout_console()
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
