"""Loading the CSV log: its three files read so that they belong together
(:func:`read_consistent`), parsed into records (:func:`load`), and checked against
each other (:func:`damage`).
"""

from __future__ import annotations

import gc
import os
from typing import Optional

from ..errors import LogFormatError, SimjobsError
from ..records import NO_LINKS, LogRecord
from .csv_compact import LineCache
from .csv_files import CsvPaths, close_fd, head_of, read_commit, read_fd, read_head, read_opt
from .csv_codec import META_VERSION
from .csv_journal import apply_row, journal_head, parse_journal
from .csv_main import MainLayout, bad_line
from .csv_meta import MetaColumns, MetaInfo, aligned_extras, parse_meta


class Loaded:
    """What a full read of the files gives (before any repair)."""

    __slots__ = (
        "layout", "cols", "records", "lines", "meta_lines", "applied", "seq", "main_ino",
        "main_size", "main_end", "main_tail", "header_unterminated", "journal_ino",
        "journal_size", "journal_end", "journal_tail_lines", "journal_torn",
        "journal_rows", "redo", "main_lines", "journal_lines",
        "snapshot_records", "meta", "meta_head", "main_fd", "journal_fd", "journal_gen",
        "journal_state", "main_count", "main_from_journal", "late_rows", "journal_base",
        "journal_synced",
    )

    def __init__(self):
        self.layout: Optional[MainLayout] = None  # None: the main file has no header
        self.cols = None
        self.records = {}
        self.lines = LineCache()
        self.meta_lines = LineCache()
        self.applied = 0
        self.seq = 0
        self.main_ino = None
        self.main_size = 0
        self.main_end = 0
        self.main_tail = b""
        self.header_unterminated = False
        self.journal_ino = None
        self.journal_size = 0
        self.journal_end = 0
        self.journal_tail_lines = 0
        self.journal_torn = b""
        self.journal_rows = 0
        self.redo = []
        self.main_lines = 0
        self.journal_lines = 0
        self.snapshot_records = 0
        self.meta: Optional[MetaInfo] = None  # None: no meta file
        self.meta_head: Optional[bytes] = None  # the meta file's first line
        self.main_fd: Optional[int] = None  # (a reader keeps the files it loaded open)
        self.journal_fd: Optional[int] = None
        self.journal_gen: Optional[str] = None
        # "missing", "empty", "cut" (in its header), "legacy" (no header) or "ok"
        self.journal_state = "missing"
        self.main_count = 0  # records read from the main file
        self.main_from_journal = 0  # ... of which the journal added since the snapshot
        self.late_rows = 0  # journal rows after the snapshot, of another generation
        self.journal_base = 0  # the length of the journal's header line
        self.journal_synced = (None, 0)  # (generation, length) the .commit file records

    def close_fds(self) -> None:
        """Close the files the load kept open."""
        close_fd(self.main_fd)
        close_fd(self.journal_fd)
        self.main_fd = self.journal_fd = None


def read_consistent(paths: CsvPaths):
    """Read meta, main and journal so that they belong together.

    Returns (meta, main, main fd, journal, journal fd, synced): the descriptors open on
    the files read (the caller closes them) and what the ``.commit`` file records; None
    when there is no main file.

    A compaction replaces main, then meta (with a new generation), then the journal.
    So if the meta file's first line is the same after the main file and the journal
    were read as before, no compaction finished its second step in between: the main
    file read is the one of that meta file or the next one, and the journal that of
    that meta file, which is a state a crash between the steps also leaves (see the
    :mod:`.csv_store` docstring). Inode numbers prove nothing: a replaced file's number
    is reused."""
    for _ in range(100):
        meta = read_opt(paths.meta)
        # (Before the journal: it is written after the journal's fdatasync.)
        synced = read_commit(paths.commit)
        main, main_fd = read_fd(paths.path)
        if main is None:
            return None
        journal, journal_fd = read_fd(paths.journal)
        if read_head(paths.meta) == head_of(meta):
            return meta, main, main_fd, journal, journal_fd, synced
        close_fd(main_fd)
        close_fd(journal_fd)
    raise SimjobsError(
        f"{paths.path}: the log kept being rewritten while it was read; try again"
    )


def load(paths: CsvPaths, input_dim: int, *, keep_lines: bool, keep_fds: bool
         ) -> Optional[Loaded]:
    """Read and parse the log's files; None when there is no main file.

    ``keep_lines`` (a writer): keep each record's lines for the next compaction;
    ``keep_fds`` (a reader): keep the files read open, to read on from them."""
    # Building 100,000s of objects: the cyclic GC would scan them again and again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        got = read_consistent(paths)
        if got is None:
            return None
        st = Loaded()
        meta, main, st.main_fd, journal, st.journal_fd, st.journal_synced = got
        try:
            _parse_files(st, paths, input_dim, keep_lines, meta, main, journal)
        except BaseException:
            st.close_fds()
            raise
        if not keep_fds:
            st.close_fds()
        return st
    finally:
        if enabled:
            gc.enable()


def _parse_files(st: Loaded, paths: CsvPaths, input_dim: int, keep_lines: bool,
                 meta: Optional[bytes], main: bytes, journal: Optional[bytes]) -> None:
    st.main_ino = os.fstat(st.main_fd).st_ino
    st.journal_ino = None if st.journal_fd is None else os.fstat(st.journal_fd).st_ino
    st.meta_head = head_of(meta)
    st.main_size = len(main)
    layout = MainLayout(input_dim)
    cols, body, first, end, tail, unterminated = layout.split_main(main, paths.path)
    st.cols, st.main_end, st.main_tail = cols, end, tail
    st.header_unterminated = unterminated
    st.main_lines = main.count(b"\n", 0, end)
    if cols is not None:
        layout.set_columns(cols)
        st.layout = layout
    meta_cols = parse_meta(meta, paths.meta) if meta else None
    if meta_cols is not None:
        st.applied = meta_cols.applied
        st.meta = meta_cols.info
    elif meta is not None:  # an empty meta file: simjobs never writes one
        st.meta = MetaInfo("3", problem="empty")
    _main_records(st, layout, paths.path, body, first, meta_cols, keep_lines)
    if meta_cols is not None and keep_lines:
        st.meta_lines = LineCache(meta_cols.ids, meta_cols.lines)
    st.snapshot_records = st.main_count = len(st.records)
    st.seq = st.applied
    if journal is not None:
        _replay_journal(st, layout, paths, journal, keep_lines)


def _main_records(st: Loaded, layout: MainLayout, where: str, body: str, first: int,
                  meta: Optional[MetaColumns], keep_lines: bool) -> None:
    """The records of the main file's ``body`` (the complete lines after the header),
    with their extras from the meta file."""
    if st.cols is not None and _fast_records(st, layout, body, meta, keep_lines):
        return
    st.records = records = {}
    for lineno, rec, raw in layout.parse_main_lines(body, first, where):
        if rec.job_id in records:
            raise bad_line(where, lineno,
                           f"Job_ID {rec.job_id} is already used by an earlier line")
        records[rec.job_id] = rec
        if keep_lines and raw is not None:
            st.lines[rec.job_id] = raw
    if meta is not None:
        for job_id, *fields in zip(meta.ids, *meta.extras()):
            rec = records.get(job_id)
            if rec is not None:
                (rec.created, rec.changed, rec.reason, rec.resubmit_of,
                 rec.resubmitted_as, rec.history) = fields
                if rec.resubmitted_as is None:
                    rec.resubmitted_as = NO_LINKS


def _fast_records(st: Loaded, layout: MainLayout, body: str,
                  meta: Optional[MetaColumns], keep_lines: bool) -> bool:
    """Parse the main file column by column (see :meth:`MainLayout.fast_main`); False
    when the per-line parser must do it."""
    fast = layout.fast_main(body, st.main_lines - 1)
    if fast is None:
        return False
    ids, coords, outs, statuses, levels, ifaces = fast
    extras = aligned_extras(ids, meta)
    recs = list(map(LogRecord, ids, coords, outs, statuses, levels, ifaces, *extras))
    st.records = dict(zip(ids, recs))
    if len(st.records) != len(ids):
        return False  # a job id used twice: the line parser names the line
    if keep_lines:
        st.lines = LineCache(ids, lambda: body.split("\r\n"))
    return True


def _replay_journal(st: Loaded, layout: MainLayout, paths: CsvPaths, journal: bytes,
                    keep_lines: bool) -> None:
    """Apply the journal's rows after the snapshot to the records."""
    st.journal_size = len(journal)
    st.journal_state, st.journal_gen, start = journal_head(journal, paths.journal)
    st.journal_base = start
    rows, jend, tail_lines, torn = parse_journal(journal[start:], paths.journal,
                                                 2 if start else 1)
    jend += start
    st.journal_end, st.journal_tail_lines, st.journal_torn = jend, tail_lines, torn
    st.journal_rows = len(rows)
    st.journal_lines = journal.count(b"\n", 0, jend)
    if st.cols is None and rows:
        raise LogFormatError(
            f"{paths.path}: the file is empty but its journal is not; restore the "
            f"file or move {paths.journal} away"
        )
    records = st.records
    lines = st.lines if keep_lines else None
    meta_lines = st.meta_lines if keep_lines else None
    other_gen = (st.meta is not None and st.meta.gen is not None
                 and st.journal_gen not in (None, st.meta.gen))
    for lineno, f in rows:
        seq = int(f[0])
        if seq > st.applied:
            if f[1] == "n" and f[2] in records:
                st.main_from_journal += 1
            st.late_rows += other_gen
            apply_row(layout, paths.journal, lineno, f, records, lines, meta_lines, st.redo)
        st.seq = max(st.seq, seq)


def damage(st: Loaded, paths: CsvPaths) -> Optional[str]:
    """One line saying what is missing from a damaged log, from which file, and how to
    recover; None when the files are whole.

    A compaction writes the number of records and of meta lines into the meta file's
    header, and its generation into the meta file and the journal's first line; new
    records reach the journal before the main file. So a cut main file holds fewer
    records than the meta file lists plus the journal added, a cut journal has lost the
    rows of records the main file holds, a cut meta file has fewer lines than its
    header says, and a removed or emptied sidecar is missed by the other one. (A cut
    that drops only whole batches of status changes from the journal's end looks like
    those changes were never made: nothing records them elsewhere.)"""
    meta = st.meta
    if meta is None:
        if st.journal_state == "ok":
            return _damage_line(paths, paths.meta, "is missing, but the journal belongs to "
                                "a compacted log: the times, reasons, resubmission links "
                                "and status history of its records are missing", "it")
        return None  # exauq's log, or one no simjobs writer has upgraded yet
    problem = _meta_damage(meta)
    if problem is not None:
        return _damage_line(paths, paths.meta, problem, "it")
    if meta.version != META_VERSION:
        return None  # nothing to check against: upgraded by the next writer
    return _journal_damage(st, paths) or _main_damage(st, paths)


def _damage_line(paths: CsvPaths, file: str, what: str, restore: str) -> str:
    return (f"{file}: {what}; opened read-only: restore {restore} from a backup, or run "
            f"'simjobs repair {paths.path}' to keep what is left (it backs the files up "
            "first)")


def _meta_damage(meta: MetaInfo) -> Optional[str]:
    if meta.problem == "empty":
        return ("is empty: the times, reasons, resubmission links and status history of "
                "the log's records are missing")
    if meta.problem != "cut":
        return None
    if meta.lines is None:
        return "is cut in its first line: its header is incomplete"
    return (f"is cut: {meta.lines - meta.got} of its {meta.lines} lines are missing (the "
            "times, reasons, resubmission links and status history of "
            f"{meta.lines - meta.got} records)")


def _journal_damage(st: Loaded, paths: CsvPaths) -> Optional[str]:
    if st.journal_state in ("missing", "empty", "cut"):
        what = {"missing": "is missing", "empty": "is empty",
                "cut": "is cut in its first line"}[st.journal_state]
        return _damage_line(
            paths, paths.journal, f"{what}: the changes made since the last compaction "
            f"are unknown and the log would go back to the snapshot in "
            f"{os.path.basename(paths.path)} and {os.path.basename(paths.meta)}", "it")
    synced_gen, synced = st.journal_synced
    if synced_gen == st.journal_gen and st.journal_end < synced:
        return _damage_line(
            paths, paths.journal, f"is cut: {os.path.basename(paths.commit)} records "
            f"{synced} bytes of committed changes but {st.journal_end} are whole; the "
            "changes after them are missing", "it")
    if st.late_rows:
        return _damage_line(
            paths, paths.journal, f"belongs to another compaction than "
            f"{os.path.basename(paths.meta)} and holds {st.late_rows} rows it does not",
            "the files")
    return None


def _main_damage(st: Loaded, paths: CsvPaths) -> Optional[str]:
    meta = st.meta
    snapshot = st.main_count - st.main_from_journal
    if snapshot < meta.records:
        return _damage_line(
            paths, paths.path, f"{meta.records - snapshot} of the {meta.records} records "
            f"of its last compaction are missing (the file holds {snapshot} of them; cut "
            "or emptied)", "it")
    if snapshot > meta.records:
        return _damage_line(
            paths, paths.journal, f"is cut: {snapshot - meta.records} records in "
            f"{os.path.basename(paths.path)} have lost their journal rows (their times "
            "and status history), and any change made after them", "it")
    return None
