"""ErrorsScreen: the recent warnings and errors of this process, newest first, and
where the whole log (with tracebacks) is."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ...logfile import Entry, entry_time

LEVEL_STYLE = {"ERROR": "bold red", "CRITICAL": "bold red", "WARNING": "yellow"}


class ErrorsScreen(ModalScreen[None]):
    """The ``entries`` (:class:`simjobs.logfile.Entry`, oldest first), newest at the
    top, and the log file's path; escape, q or E closes it; up/down scroll."""

    BINDINGS = [Binding("escape,q,E", "dismiss", "Close", id="errors.close")]

    CSS_PATH = Path(__file__).with_name("errors.tcss")

    def __init__(self, entries: list[Entry], log_file: str) -> None:
        super().__init__()
        self.entries = entries
        self.log_file = log_file

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="errors-list") as scroll:
            scroll.border_title = "Recent errors and warnings"
            if not self.entries:
                yield Static("No warnings or errors since simjobs started.", id="errors-none")
            else:
                table = Table(box=None, expand=True, show_header=False, padding=(0, 1))
                table.add_column("time", no_wrap=True, width=8)
                table.add_column("level", no_wrap=True, width=8)
                table.add_column("what", ratio=1)
                for entry in reversed(self.entries):
                    what = Text(entry.message)
                    if entry.exception:
                        what.append(f"\n{entry.exception}", style="dim")
                    table.add_row(entry_time(entry),
                                  Text(entry.level.lower(),
                                       style=LEVEL_STYLE.get(entry.level, "")), what)
                yield Static(table, id="errors-table")
            yield Static(Text.assemble("Every entry, with tracebacks: ", (self.log_file, "bold")),
                         id="errors-file")
            yield Static("[dim]esc, q or E closes this list[/dim]")

    def on_mount(self) -> None:
        self.query_one("#errors-list").focus()  # up/down/PgUp/PgDn scroll it
