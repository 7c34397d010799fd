"""Output shared by the commands: the Rich console, notes on stderr, JSON, the
records table."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from rich.console import Console

from ..core.control import manager_holder
from ..core.lock import holder_text
from ..core.records import LogRecord

if TYPE_CHECKING:  # pragma: no cover
    from rich.table import Table

# rich tables and the progress styles are imported where used (not for ``simjobs app
# --watch``, whose first paint waits for every import).


def stdout_console() -> Console:
    # Piped output is read by scripts and people alike: do not squeeze it to 80 columns.
    width = None if sys.stdout.isatty() else 200
    return Console(highlight=False, soft_wrap=True, width=width)



def note(message: str) -> None:
    """Information for the person at the terminal, kept off stdout (which scripts read)."""
    print(message, file=sys.stderr, flush=True)



def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")



def _when(t: Optional[float]) -> str:
    if t is None:
        return ""
    moment = datetime.datetime.fromtimestamp(t)
    if moment.date() == datetime.date.today():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")



def _number_text(v: Optional[float]) -> str:
    return "" if v is None else f"{v:.6g}"



def records_table(records: list[LogRecord]) -> Table:
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



def manager_line(log_path: Path) -> Optional[str]:
    holder = manager_holder(str(log_path))
    return None if holder is None else f"managed by {holder_text(holder)}"
