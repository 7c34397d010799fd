"""Messages the app sends to its screens."""

from __future__ import annotations

from textual.message import Message

from ..core.events import InterfaceHealthEvent
from ..core.records import LogRecord


class JobsUpdated(Message):
    """Jobs changed (coalesced, at most ~10 times a second): their fresh records, and the
    interface health changes since the last one. Sent to every screen on the stack, so
    a modal screen (log view, job detail) can follow the jobs live too."""

    def __init__(self, records: list[LogRecord], health: list[InterfaceHealthEvent]) -> None:
        super().__init__()
        self.records = records
        self.health = health
