"""Repairing a damaged log (``simjobs repair``): back its files up, then accept the loss.

A log whose files were cut or removed (records or extras missing) opens read-only with
one line saying what is missing (see the stores' ``damage``): nothing is changed until
a person decides. :func:`repair_log` is that decision: it copies every file of the log
into a new backup directory beside it, then rewrites the log from what could be read,
so that it can be written again.
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from typing import Optional

from .errors import SimjobsError
from .lock import LogLock
from .log import infer_input_dim
from .stores import is_sqlite_path, open_store
from .stores.csv_store import COMMIT_SUFFIX, JOURNAL_SUFFIX, META_SUFFIX


@dataclasses.dataclass
class RepairResult:
    """What :func:`repair_log` did."""

    damage: Optional[str]  # the damage found (None: the log was whole, nothing done)
    backup: Optional[str]  # the directory the files were copied to
    records: int  # the records the log holds now


def log_files(path: str) -> list[str]:
    """The files of the log at ``path`` that exist (the main file first)."""
    suffixes = (("", "-wal", COMMIT_SUFFIX) if is_sqlite_path(path)
                else ("", META_SUFFIX, JOURNAL_SUFFIX, COMMIT_SUFFIX))
    return [path + s for s in suffixes if os.path.lexists(path + s)]


def _backup(path: str, files: list[str]) -> str:
    """Copy ``files`` into a new directory ``<log>.backup-<time>`` (owner only)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        target = f"{path}.backup-{stamp}" + (f"-{n}" if n else "")
        try:
            os.mkdir(target, 0o700)
            break
        except FileExistsError:
            continue
    else:
        raise SimjobsError(f"cannot make a backup directory beside {path}; remove old backups")
    for name in files:
        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            dst = os.open(os.path.join(target, os.path.basename(name)),
                          os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                while chunk := os.read(src, 1 << 20):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(dst, view):]
                os.fsync(dst)
            finally:
                os.close(dst)
        finally:
            os.close(src)
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def repair_log(path, input_dim: Optional[int] = None) -> RepairResult:
    """Make a damaged log writable again, keeping what can be read.

    Takes the log's writer lock (no manager may run), opens the log read-only, and if
    it is damaged copies its files to ``<log>.backup-<time>/`` and then rewrites it from
    what was read. A whole log is left as it is.

    Raises
    ------
    LogLockedError
        A process manages the log.
    SimjobsError
        No log there, or one too damaged to read (the error says which file and line).
    """
    path = os.path.abspath(os.fsdecode(path))
    if input_dim is None:
        input_dim = infer_input_dim(path)
    lock = LogLock(path)
    lock.acquire()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the damage is returned, not warned
            store = open_store(path, input_dim, readonly=True)
        damage = store.damage
        if damage is None:
            store.close()
            return RepairResult(None, None, len(store.records))
        try:
            backup = _backup(path, log_files(path))
            store.rewrite()
        finally:
            store.close()
        return RepairResult(damage, backup, len(store.records))
    finally:
        lock.release()
