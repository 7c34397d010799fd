"""Simulations-log stores: the exauq-compatible CSV log and the SQLite log."""

from __future__ import annotations

import os

from .base import LogStore
from .csv_store import CsvStore
from .sqlite_store import SqliteStore

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def open_store(path, input_dim: int, *, readonly: bool = False) -> LogStore:
    """Open the log at ``path``: SQLite for a ``.db``/``.sqlite``/``.sqlite3`` suffix,
    else CSV (exauq treats any path as a CSV file)."""
    name = os.fsdecode(path)
    if name.lower().endswith(SQLITE_SUFFIXES):
        return SqliteStore(name, input_dim, readonly=readonly)
    return CsvStore(name, input_dim, readonly=readonly)


__all__ = ["CsvStore", "LogStore", "SqliteStore", "open_store", "SQLITE_SUFFIXES"]
