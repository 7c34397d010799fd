"""Simulations-log stores: the exauq-compatible CSV log and the SQLite log."""

from __future__ import annotations

import os

from .base import LogStore
from .csv_store import CsvStore
from .sqlite_store import SqliteStore

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def is_sqlite_path(path) -> bool:
    """True when the log at ``path`` is an SQLite log: a ``.db``/``.sqlite``/``.sqlite3``
    suffix, in any case. Anything else is CSV (exauq treats any path as a CSV file)."""
    return os.fsdecode(path).lower().endswith(SQLITE_SUFFIXES)


def open_store(path, input_dim: int, *, readonly: bool = False) -> LogStore:
    """Open the log at ``path`` with the store :func:`is_sqlite_path` picks."""
    name = os.fsdecode(path)
    if is_sqlite_path(name):
        return SqliteStore(name, input_dim, readonly=readonly)
    return CsvStore(name, input_dim, readonly=readonly)


__all__ = ["CsvStore", "LogStore", "SqliteStore", "is_sqlite_path", "open_store", "SQLITE_SUFFIXES"]
