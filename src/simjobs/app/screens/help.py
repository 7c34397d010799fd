"""HelpScreen: every key of the main screen, the job table and the app, in one list."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def _key_text(keys: str) -> str:
    names = {"question_mark": "?", "slash": "/", "space": "space", "escape": "esc",
             "pageup": "PgUp", "pagedown": "PgDn", "ctrl+p": "ctrl+p"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in keys.split(","))


def key_rows(*sources, keymap: Optional[Mapping[str, str]] = None) -> list[tuple[str, str]]:
    """(keys, description) for the bindings of each class given, in order, no repeats;
    a binding whose id ``keymap`` (the user's keymap) names shows the keys given there."""
    rows, seen = [], set()
    for source in sources:
        for binding in getattr(source, "BINDINGS", []):
            if isinstance(binding, tuple):
                binding = Binding(*binding)
            key = (keymap or {}).get(binding.id or "", binding.key)
            if key in seen:
                continue
            seen.add(key)
            rows.append((_key_text(key), binding.tooltip or binding.description))
    return rows


class HelpScreen(ModalScreen[None]):
    """The keys (``sections`` is a list of (title, [(keys, what)])); any of
    escape, q, ? or F1 closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close", id="help.close")]

    CSS_PATH = Path(__file__).with_name("help.tcss")

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]],
                 log_file: Optional[str] = None) -> None:
        super().__init__()
        self.sections = sections
        self.log_file = log_file

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "simjobs keys"
            if self.log_file:
                # First, where it is seen without scrolling: where errors go.
                yield Static(Text.assemble("Errors and warnings are recorded in ",
                                           (self.log_file, "bold"),
                                           " (E lists the recent ones)"),
                             classes="help-note", id="help-log-file")
            for title, rows in self.sections:
                table = Table(box=None, expand=True, show_header=False, padding=(0, 1),
                              title=title, title_justify="left", title_style="bold underline")
                # The keys take their fixed width and the description all the rest
                # (expand=True would otherwise share the spare width between both,
                # pushing short descriptions to the middle of the dialog).
                table.add_column("keys", style="bold", no_wrap=True, width=14)
                table.add_column("what", ratio=1)
                listed = set()
                for keys, what in rows:
                    if keys in listed:  # (a key given both by a binding and by hand)
                        continue
                    listed.add(keys)
                    table.add_row(keys, what)
                yield Static(table, classes="help-section")
            yield Static("[dim]esc, q or ? closes this help[/dim]")
