"""The export dialog of the log view (``e``): a path, then the file written by
:mod:`simjobs.export`, the same bytes ``simjobs export`` writes for the same records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static
from textual.widgets import Input as TextInput

from simjobs.core.records import LogRecord
from simjobs.core.text import plural
from simjobs.export import ExportError, ExportExistsError, export_path, write_export

EXPORT_HINT = ("The format follows the extension: .csv or .json; a relative path is from "
               "the working directory. Enter exports.")


def export_hint(path: str) -> str:
    """The line under the path: the full path the export goes to, once there is one."""
    text = path.strip()
    if not text:
        return EXPORT_HINT
    return (f"Writes {Path(text).expanduser().absolute()}; the extension (.csv or .json) "
            "sets the format. Enter exports.")


class ExportScreen(ModalScreen[Optional[Path]]):
    """Ask for a path and export the records to it; refuses to overwrite an existing
    file until the overwrite is confirmed (``ctrl+o`` or the button).

    Parameters
    ----------
    records : Sequence[LogRecord]
        What to export, in the order to write.
    input_dim : int
        The number of input coordinates (the CSV's ``Input_k`` columns).
    default_path : str
        The path offered, in full (the log view offers one beside the log).
    """

    CSS_PATH = Path(__file__).with_name("export.tcss")

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="export.cancel", tooltip="Export nothing"),
        Binding("ctrl+o", "overwrite", "Overwrite", id="export.overwrite", priority=True,
                tooltip="Replace the existing file (only after being told it exists)"),
    ]

    def __init__(self, records: Sequence[LogRecord], input_dim: int, default_path: str):
        super().__init__()
        self.records = records
        self.input_dim = input_dim
        self.default_path = default_path
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog"):
            yield Label(f"Export {plural(len(self.records), 'record')} (the filtered view)",
                        id="export-title")
            yield TextInput(self.default_path, id="export-path", compact=True,
                            placeholder="path ending in .csv or .json")
            yield Static(export_hint(self.default_path), id="export-message", markup=False)
            with Horizontal(id="export-buttons"):
                yield Button("Cancel", id="export-cancel")
                yield Button("Overwrite", id="overwrite", variant="warning")
                yield Button("Export", id="export", variant="primary")
            yield Footer()

    def on_mount(self) -> None:
        self.query_one("#export-path", TextInput).focus()

    def _say(self, text: str, error: bool = False) -> None:
        message = self.query_one("#export-message", Static)
        message.update(text)
        message.set_class(error, "-error")

    def _exists(self, path: str) -> None:
        self.add_class("-exists")
        self._say(f"{path.strip()} already exists: ctrl+o overwrites it, or change the path.",
                  error=True)

    @on(TextInput.Changed, "#export-path")
    def _path_changed(self, event: TextInput.Changed) -> None:
        self.remove_class("-exists")
        self._say(export_hint(event.value))

    @on(TextInput.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def _export_pressed(self) -> None:
        self.start_export(overwrite=False)

    @on(Button.Pressed, "#overwrite")
    def action_overwrite(self) -> None:
        if self.has_class("-exists"):
            self.start_export(overwrite=True)

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        if not self._busy:
            self.dismiss(None)

    def start_export(self, overwrite: bool) -> None:
        """Check the path here (a few stat calls), then write in a thread."""
        if self._busy:
            return
        path = self.query_one("#export-path", TextInput).value
        try:
            export_path(path, overwrite=overwrite)
        except ExportExistsError:
            self._exists(path)
            return
        except ExportError as exc:
            self._say(str(exc), error=True)
            return
        self._busy = True
        self._say("Exporting…")
        self._export(path, overwrite)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self, path: str, overwrite: bool) -> None:
        try:
            target = write_export(self.records, path, self.input_dim, overwrite=overwrite)
        except ExportExistsError:  # made since the check
            self.app.call_from_thread(self._failed, None, path)
            return
        except ExportError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            self.app.call_from_thread(self._failed, f"export failed: {exc}".splitlines()[0])
            return
        self.app.call_from_thread(self._done, target)

    def _failed(self, message: Optional[str], exists: Optional[str] = None) -> None:
        self._busy = False
        if exists is not None:
            self._exists(exists)
            return
        self._say(message, error=True)
        self.notify(message, title="Not exported", severity="error")

    def _done(self, target: Path) -> None:
        self._busy = False
        self.notify(f"Exported {plural(len(self.records), 'record')} to {target.resolve()}.",
                    title="Exported")
        self.dismiss(target)
