"""The CSV simulations log: exauq's file format, with appends and a journal instead of
whole-file rewrites.

Files, for a log ``runs.csv``:

``runs.csv``
    exauq's format exactly (header ``Input_1..Input_d,Output,Job_ID,Job_Status,
    Job_Level,Interface_Name`` in any column order, Python ``csv`` defaults, CRLF).
    New records are appended to it as complete lines. After :meth:`CsvStore.close` or
    :meth:`CsvStore.checkpoint` it alone holds the complete current state, so exauq
    reads it.
``runs.csv.journal``
    Append-only redo journal, one CSV row per line (text is escaped so that a row never
    spans two lines). Every row has a sequence number; the last row of each batch
    carries an end mark, so a batch interrupted by a crash is recognised and dropped
    as a whole. Rows are ``n`` (a new record: its main-file line and its extras; written
    *before* the line is appended to the main file, so an interrupted append is redone
    on the next open) and ``c`` (a change of some fields of one record). Its first line
    names the generation of the compaction that started it.
``runs.csv.meta``
    The simjobs extras exauq has no column for (created, changed, reason, resubmit
    links, status history) as of the last compaction. Its header names the sequence
    number of the last journal row the snapshot contains, the compaction's generation
    (random), the number of records of the snapshot and the number of lines that
    follow. Rewritten atomically at each compaction.
``runs.csv.commit``
    The generation and the length of the journal known to be committed and synced,
    rewritten in place after each fdatasync of the journal (never fsync'd itself: it
    may lag, never lead).

The state is the main file, plus the meta file, plus the journal rows whose sequence
number is above the one the meta file records. Journal rows set fields to absolute
values, so replaying a row over a main file that already contains it changes nothing;
a status row also appends to the history, which the sequence number guards. Missing
sidecars count as empty (a log written by exauq, or by an older simjobs, is valid; the
first write makes them).

Compaction (when the journal holds ``max(1000, number of records in the last
snapshot)`` rows, and on checkpoint/close) writes the whole state to temporary files,
then replaces the main file, then the meta file, then the journal (with one holding
only its header), syncing the directory after each step. A crash between any two
steps reads back the same state.

Damage (see :func:`.csv_load.damage`): what the headers say is checked against what
the files hold; a log with something missing opens read-only, with one line saying
what, and nothing is changed until ``simjobs repair``.

The code, one concern per module: :mod:`.csv_codec` (the text of fields and header
lines), :mod:`.csv_files` (file I/O), :mod:`.csv_main`, :mod:`.csv_meta` and
:mod:`.csv_journal` (parsing each file), :mod:`.csv_load` (a full, consistent load and
the damage check), :mod:`.csv_compact` (compaction), :mod:`.csv_peek` (the newest
records without a load) and, here, the store itself: the writer's transactions and the
reader's refresh.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from typing import Optional

from ..errors import LogFormatError, SimjobsError, SimulationsLogLookupError
from ..filesystems import LogWriteError, os_error_text
from ..records import UNSET, LogChange, LogRecord
from ..types import JobStatus
from .base import LogStore, check_log_directory, open_own_file, validate_output
from .csv_codec import (
    FIXED_COLUMNS, META_VERSION, check_histories, csv_text, enc_float, enc_history, enc_id,
    enc_links, enc_text, encode_history, esc, header_columns, journal_header, pack_histories,
    parse_each,
)
from .csv_compact import LineCache, Snapshot
from .csv_files import (
    COMMIT_SUFFIX, JOURNAL_SUFFIX, META_SUFFIX, TMP_SUFFIX, CsvPaths, close_fd, cut_back,
    fsync_dir, new_generation, pread_all, read_fd, read_head, snippet, truncate_keeping,
    write_all, write_commit, write_new_file,
)
from .csv_load import Loaded, damage, load
from .csv_journal import apply_row, journal_head, parse_journal
from .csv_main import MainLayout
from .csv_peek import peek_csv

__all__ = [
    "COMMIT_SUFFIX", "CsvStore", "FIXED_COLUMNS", "JOURNAL_SUFFIX", "META_SUFFIX",
    "check_histories", "encode_history", "header_columns", "new_generation",
    "pack_histories", "parse_each", "peek_csv",
]

_MIN_COMPACT_ROWS = 1000


class CsvStore(LogStore):
    """A simulations log kept in exauq's CSV format (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The main CSV file. ``<path>.journal`` and ``<path>.meta`` sit next to it.
    input_dim : int
        The number of inputs; an existing file must have exactly these Input columns.
    readonly : bool
        Read only: never writes, never repairs; :meth:`refresh` loads what the writing
        process appended since the last load.

    Raises
    ------
    LogFormatError
        The file (or its journal or meta file) cannot be read; one line naming the file,
        the line and the fix. Nothing on disk was changed.
    SimjobsError
        The directory is missing or not writable (writer), or the file is missing
        (reader).
    """

    def __init__(self, path, input_dim: int, *, readonly: bool = False):
        if not isinstance(input_dim, int) or isinstance(input_dim, bool) or input_dim < 1:
            raise ValueError(f"input_dim must be a positive int, but received {input_dim!r}")
        super().__init__(os.fsdecode(path), input_dim, readonly=readonly)
        self._paths = CsvPaths(self.path)
        self.journal_path = self._paths.journal
        self.meta_path = self._paths.meta
        self.commit_path = self._paths.commit
        self._dir = self._paths.directory
        self._mutex = threading.RLock()
        self._closed = False
        self._main_fd: Optional[int] = None
        self._journal_fd: Optional[int] = None
        self._broken: Optional[str] = None
        self._unsynced: set[int] = set()  # fds written with sync=False since the last sync
        self._layout = MainLayout(input_dim)
        self._lines = LineCache()  # job id -> its unchanged main-file line
        self._meta_lines = LineCache()  # job id -> its unchanged meta line ("": none)
        self._applied = 0  # last journal seq contained in the main + meta snapshot
        self._seq = 0  # last journal seq written / read
        self._journal_rows = 0
        self._main_size = 0
        self._journal_size = 0
        self._main_ino: Optional[int] = None
        self._journal_ino: Optional[int] = None
        self._meta_head: Optional[bytes] = None  # the meta file's first line, as loaded
        self._gen: Optional[str] = None  # the generation loaded / written
        self._journal_base = 0  # the length of the journal's header line
        self._commit_fd: Optional[int] = None  # (writer) the .commit file
        self._upgrade = False  # compact before the first write (see _open_writer)
        self._rfd_main: Optional[int] = None  # (a reader's files, see _load_into_self)
        self._rfd_journal: Optional[int] = None
        if readonly:
            st = self._load() if os.path.exists(self.path) else None
            if st is None:
                raise SimjobsError(
                    f"no log at {self.path}; check the path, or open it for writing to create it"
                )
            self._load_into_self(st)
            self.damage = damage(st, self._paths)
            if self.damage is not None:
                warnings.warn(self.damage, stacklevel=3)
        else:
            self._open_writer()

    # ---- full load ----------------------------------------------------------------------

    def _load(self) -> Optional[Loaded]:
        # A reader reads on from the files it loaded; a writer keeps each record's lines.
        return load(self._paths, self.input_dim, keep_lines=not self.readonly,
                    keep_fds=self.readonly)

    def _load_into_self(self, st: Loaded) -> None:
        if st.layout is not None:
            self._layout = st.layout
        if self.records:
            self.records.clear()  # a reader's reload: keep the same dict object
            self.records.update(st.records)
        else:
            self.records = st.records
        self._lines = st.lines
        self._meta_lines = st.meta_lines
        self._applied = st.applied
        self._seq = st.seq
        self._journal_rows = st.journal_rows
        self._main_ino = st.main_ino
        self._journal_ino = st.journal_ino
        self._main_size = st.main_end  # a reader's offset: end of complete lines
        self._journal_size = st.journal_end
        self._has_header = st.cols is not None
        self._main_lines = st.main_lines
        self._journal_lines = st.journal_lines
        self._snapshot_records = st.snapshot_records
        self._meta_head = st.meta_head
        self._gen = st.meta.gen if st.meta is not None else None
        self._journal_base = st.journal_base
        # A reader reads on from the files it loaded, kept open: while they are open no
        # other file can take their inode numbers, and a tail is never read from a new
        # file at an old offset.
        close_fd(self._rfd_main)
        close_fd(self._rfd_journal)
        self._rfd_main, self._rfd_journal = st.main_fd, st.journal_fd
        st.main_fd = st.journal_fd = None

    # ---- writer ------------------------------------------------------------------------

    def _check_directory(self) -> None:
        check_log_directory(self.path)

    def _open_writer(self) -> None:
        self._check_directory()
        st = self._load()
        if st is not None:
            found = damage(st, self._paths)
            if found is not None:
                # Nothing is changed until a person says so (simjobs repair).
                self.readonly = True
                st = self._load()
                self._load_into_self(st)
                self.damage = damage(st, self._paths) or found
                warnings.warn(self.damage, stacklevel=4)
                return
        if st is not None and not os.access(self.path, os.W_OK):
            raise SimjobsError(
                f"cannot write the log {self.path}: the file is read-only; fix its "
                "permissions or open it with readonly=True"
            )
        try:
            self._repair_and_open(st)
            # A new log, exauq's, one an older simjobs wrote, or a compaction cut short
            # before its last step: the first write makes generation-stamped files
            # (opening and closing without a change writes nothing).
            self._upgrade = (st is None or st.meta is None or st.meta.version != META_VERSION
                             or st.journal_gen != st.meta.gen)
        except OSError as exc:
            self._close_fds()
            raise SimjobsError(f"cannot write the log {self.path}: "
                               f"{os_error_text(exc, exc.filename or self.path, 'opening')}") from exc
        except SimjobsError:
            self._close_fds()
            raise

    def _repair_and_open(self, st: Optional[Loaded]) -> None:
        created = st is None
        if st is None or st.cols is None or st.header_unterminated:
            st = self._write_header(st)
        self._load_into_self(st)
        if not created:
            self._drop_torn_tails(st)
        self._main_fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._main_size = os.fstat(self._main_fd).st_size
        self._main_ino = os.fstat(self._main_fd).st_ino
        if os.path.exists(self.journal_path):
            self._open_journal()
        if st.redo:
            # Records whose journal batch is complete but whose lines did not all reach
            # the main file before a crash.
            data = "".join(
                (self._lines.get(r.job_id) or self._layout.format_line(r)) + "\r\n"
                for r in st.redo
            )
            self._append_main(data.encode())

    def _write_header(self, st: Optional[Loaded]) -> Loaded:
        """Write the main file's header: a new log, an empty file, or a header without
        its line break."""
        mode = None
        if st is not None:
            mode = os.stat(self.path).st_mode & 0o7777
        cols = st.cols if st is not None and st.cols is not None else self._layout.cols
        self._layout = MainLayout(self.input_dim, cols)
        header = self._layout.header_line.encode()
        tmp = self.path + TMP_SUFFIX
        write_new_file(tmp, header, mode)
        os.replace(tmp, self.path)
        fsync_dir(self._dir)
        if st is None:
            st = Loaded()
        st.layout = self._layout
        st.cols = cols
        st.main_size = st.main_end = len(header)
        st.main_tail = b""
        st.header_unterminated = False
        return st

    def _drop_torn_tails(self, st: Loaded) -> None:
        """Cut what an interrupted write left at the end of the main file and the
        journal (kept in a file beside them), and remove a compaction's temporary
        files."""
        if st.main_tail:
            kept = truncate_keeping(self.path, st.main_end, self._dir)
            warnings.warn(
                f"{self.path}: dropped an incomplete last line (a write was "
                f"interrupted): {snippet(st.main_tail)}; its bytes are kept in {kept}",
                stacklevel=5,
            )
        if st.journal_torn or st.journal_tail_lines:
            kept = truncate_keeping(self.journal_path, st.journal_end, self._dir)
            what = "an incomplete last line" if st.journal_torn else "an incomplete last batch"
            warnings.warn(
                f"{self.journal_path}: dropped {what} (a write was interrupted): "
                f"{st.journal_tail_lines} complete line(s) and "
                f"{snippet(st.journal_torn)}; the changes of that batch were never "
                f"committed; its bytes are kept in {kept}",
                stacklevel=5,
            )
        for suffix in ("", META_SUFFIX, JOURNAL_SUFFIX):
            try:
                os.unlink(self.path + suffix + TMP_SUFFIX)
            except FileNotFoundError:
                pass

    def _open_journal(self) -> None:
        existed = os.path.exists(self.journal_path)
        self._journal_fd = os.open(
            self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666
        )
        st = os.fstat(self._journal_fd)
        if not existed:
            if self._gen is not None and not st.st_size:  # (removed under the writer)
                write_all(self._journal_fd, journal_header(self._gen))
                os.fsync(self._journal_fd)
            fsync_dir(self._dir)
            st = os.fstat(self._journal_fd)
        if self._commit_fd is None:
            self._commit_fd = open_own_file(self.commit_path)
        self._journal_size = st.st_size
        self._journal_ino = st.st_ino

    def _append(self, fd: int, data: bytes, old_size: int, sync: bool = True) -> None:
        """One write of complete lines, plus fdatasync when ``sync`` (else the fd is
        remembered for :meth:`sync`); on failure, cut the file back."""
        try:
            write_all(fd, data)
            if sync:
                os.fdatasync(fd)
                self._unsynced.discard(fd)
            else:
                self._unsynced.add(fd)
        except BaseException:
            self._cut_back(fd, old_size)
            raise

    def _cut_back(self, fd: int, size: int) -> bool:
        """Undo a failed write; False (and the store is broken) when that fails too."""
        try:
            cut_back(fd, size)
        except OSError as exc:
            self._broken = f"a failed write could not be undone ({exc})"
            return False
        return True

    def _append_main(self, data: bytes) -> None:
        # No fdatasync: the journal row written (and synced) before it is the commit
        # record, and an append lost with the page cache is redone from it on open.
        try:
            self._append(self._main_fd, data, self._main_size, sync=False)
        except OSError as exc:
            raise LogWriteError(exc, self.path) from exc
        self._main_size += len(data)

    def _append_journal(self, data: bytes, sync: bool = True) -> None:
        if self._journal_fd is None:
            self._open_journal()
        try:
            self._append(self._journal_fd, data, self._journal_size, sync)
        except OSError as exc:
            raise LogWriteError(exc, self.journal_path) from exc
        self._journal_size += len(data)
        if sync:
            self._note_synced(self._journal_size)

    def _note_synced(self, size: int) -> None:
        """Record in the ``.commit`` file that the journal's first ``size`` bytes are
        committed and on disk (never more than is: written after the fdatasync; a file
        of its own, so that each fdatasync of the journal still writes one page)."""
        if self._gen is not None and self._commit_fd is not None:
            write_commit(self._commit_fd, self._gen, size)

    def sync(self) -> None:
        """Make every write so far durable (fdatasync of what add/apply left unsynced).

        The fdatasync runs outside the store's lock (on duplicates of the descriptors,
        which a compaction may close meanwhile), so writers are not held up by it."""
        with self._mutex:
            fds = [os.dup(fd) for fd in self._unsynced]
            journal = self._journal_fd in self._unsynced
            size, gen = self._journal_size, self._gen
            self._unsynced.clear()
        try:
            for fd in fds:
                os.fdatasync(fd)
        finally:
            for fd in fds:
                os.close(fd)
        if journal:
            with self._mutex:
                if self._gen == gen and not self._closed and size <= self._journal_size:
                    self._note_synced(size)

    def _check_writable(self) -> None:
        if self._closed:
            raise SimjobsError(f"the log {self.path} is closed")
        if self.damage is not None:
            raise SimjobsError(self.damage)
        if self.readonly:
            raise SimjobsError(f"the log {self.path} was opened read-only")
        if self._broken:
            raise SimjobsError(
                f"the log {self.path} can no longer be written: {self._broken}; close it "
                "and open it again"
            )

    # ---- LogStore API ---------------------------------------------------------------------

    def add(self, records: Sequence[LogRecord], sync: bool = True) -> None:
        """Append new records in one transaction (see the module docstring); with
        ``sync=False`` durability waits for the next :meth:`sync`.

        Raises
        ------
        ValueError
            A record's id is in use or repeated, or it has a wrong or non-finite field.
            Nothing is written.
        """
        with self._mutex:
            self._check_writable()
            if not records:
                return
            seen = set()
            for rec in records:
                self._validate_record(rec, seen)
            if self._upgrade:
                self._compact()
            lines = [self._layout.format_line(rec) for rec in records]
            seq0 = self._seq
            rows = [_new_row(seq0 + i, rec, line)
                    for i, (rec, line) in enumerate(zip(records, lines), start=1)]
            rows[-1][-1] = "."
            journal_before = self._journal_size
            # The journal first: once it holds the whole batch, the batch is committed
            # (an interrupted append to the main file is redone on the next open).
            self._append_journal(csv_text(rows).encode(), sync)
            try:
                self._append_main(("\r\n".join(lines) + "\r\n").encode())
            except BaseException:
                if self._cut_back(self._journal_fd, journal_before):
                    self._journal_size = journal_before
                raise
            self._seq = seq0 + len(rows)
            self._journal_rows += len(rows)
            for rec, line in zip(records, lines):
                self.records[rec.job_id] = rec
                self._lines[rec.job_id] = line
            self._maybe_compact()

    def apply(self, changes: Sequence[LogChange], sync: bool = True) -> None:
        """Apply changes in one transaction: one journal write and one fdatasync (none
        with ``sync=False``: durability then waits for the next :meth:`sync`).

        Raises
        ------
        SimulationsLogLookupError
            A change names an unknown job; nothing is written.
        ValueError
            A change has a value of the wrong kind; nothing is written.
        """
        with self._mutex:
            self._check_writable()
            records = self.records
            rows = []
            shadow: dict[str, JobStatus] = {}
            seq = self._seq
            for ch in changes:
                row = _change_row(ch, records, shadow)
                if row is not None:
                    seq += 1
                    row[0] = seq
                    rows.append(row)
            if not rows:
                return
            if self._upgrade:
                self._compact()
            rows[-1][-1] = "."
            self._append_journal(csv_text(rows).encode(), sync)
            self._seq = seq
            self._journal_rows += len(rows)
            lines, meta_lines = self._lines, self._meta_lines
            for ch in changes:
                ch.apply_to(records[ch.job_id])
                if ch.status is not UNSET or ch.output is not UNSET or ch.interface_name is not UNSET:
                    lines.drop(ch.job_id)
                meta_lines.drop(ch.job_id)
            self._maybe_compact()

    def _maybe_compact(self) -> None:
        # Against the records of the last snapshot, not all records: new records add
        # journal rows too, so with adds only the journal would never catch up. A
        # rewrite costs O(snapshot + journal) <= 2 x journal rows: O(1) per change.
        if self._journal_rows >= max(_MIN_COMPACT_ROWS, self._snapshot_records):
            try:
                self._compact()
            except OSError as exc:
                # The changes are safe in the journal; the next compaction retries.
                warnings.warn(
                    f"{self.path}: could not fold the journal into the log ({exc}); "
                    "it stays in the journal and will be retried",
                    stacklevel=3,
                )

    def _compact(self) -> None:
        """Write the whole state as a new snapshot of a new generation (see the module
        docstring): the three files as temporary files, then each moved into place."""
        snap = Snapshot(self.records, self._lines, self._meta_lines, self._layout, self._seq)
        self._lines, self._meta_lines = snap.lines, snap.meta_lines
        snap.write_temporaries(self._paths, os.fstat(self._main_fd).st_mode & 0o7777)
        # 1. The new main file (the journal replayed over it changes nothing).
        self._replace(self.path)
        old_fd, self._main_fd = self._main_fd, os.open(self.path, os.O_WRONLY | os.O_APPEND)
        os.close(old_fd)
        self._main_size = len(snap.main_data)
        self._main_ino = os.fstat(self._main_fd).st_ino
        # 2. The extras, recording that the snapshot holds the journal up to self._seq.
        self._replace(self.meta_path)
        # 3. Only now an empty journal.
        self._replace(self.journal_path)
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        self._open_journal()
        self._unsynced.clear()  # everything is in the fsync'd snapshot now
        self._gen = snap.gen
        self._upgrade = False
        self._journal_base = len(snap.journal_data)
        self._note_synced(self._journal_size)
        self._applied = self._seq
        self._journal_rows = 0
        self._snapshot_records = len(self.records)

    def _replace(self, path: str) -> None:
        """Move ``<path>.tmp`` over ``path`` and sync the directory."""
        os.replace(path + TMP_SUFFIX, path)
        fsync_dir(self._dir)

    def rewrite(self) -> None:
        """Write the records read as a whole new snapshot (main, meta and journal files,
        a new generation), whatever was wrong with the files; then close.

        For ``simjobs repair``, once the files are backed up: what a damaged log lost
        stays lost, and the log can be written again."""
        with self._mutex:
            self._close_fds()
            check_log_directory(self.path)
            self._main_fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
            self._lines, self._meta_lines = LineCache(), LineCache()  # make every line
            try:
                self._compact()
            finally:
                self.damage = None
                self._closed = True
                self._close_fds()

    def checkpoint(self) -> None:
        """Fold the journal into the main file, so that it alone holds the current state."""
        with self._mutex:
            if self.readonly or self._closed or self._broken:
                return
            if self._journal_rows or self._journal_size > self._journal_base:
                self._compact()

    def close(self) -> None:
        """Checkpoint (writer) and close the files. Calling it again does nothing."""
        with self._mutex:
            if self._closed:
                return
            try:
                self.checkpoint()
            except OSError as exc:
                # The journal holds every change: the log is whole, only not folded.
                warnings.warn(
                    f"{self.path}: could not fold the journal into the log ({exc}); it "
                    "stays in the journal and is folded when the log is next opened for "
                    "writing", stacklevel=2,
                )
            finally:
                self._closed = True
                self._close_fds()

    def _close_fds(self) -> None:
        self._unsynced.clear()
        for name in ("_main_fd", "_journal_fd", "_commit_fd", "_rfd_main", "_rfd_journal"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                close_fd(fd)

    def __enter__(self) -> "CsvStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- reader ------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Load what the writing process wrote since the last load (readers).

        Costs two ``stat`` calls when nothing changed; reads only the appended complete
        lines of the main file and journal, from the files it loaded (kept open); reloads
        everything when the meta file's generation changed (a compaction).
        Returns True if anything changed. A writer has nothing to load: False."""
        with self._mutex:
            if not self.readonly or self._closed:
                return False
            try:
                st_main = os.stat(self.path)
            except FileNotFoundError:
                return False  # replaced this very moment, or removed: keep what we have
            try:
                st_j = os.stat(self.journal_path)
                j_ino, j_size = st_j.st_ino, st_j.st_size
            except FileNotFoundError:
                j_ino, j_size = None, 0
            if self._unchanged(st_main, j_ino, j_size):
                return False
            if self._needs_reload(st_main):
                return self._reload()
            if j_ino != self._journal_ino:
                if self._rfd_journal is not None or not self._open_new_journal():
                    return self._reload()
            changed = False
            # The journal first: a main-file line appended after a journal row it
            # depends on is then still seen below, or at the next refresh.
            if self._rfd_journal is not None:
                changed |= self._read_journal_tail()
            changed |= self._read_main_tail()
            return changed

    def _unchanged(self, st_main: os.stat_result, j_ino: Optional[int], j_size: int) -> bool:
        # The files loaded are held open, so a path with their inode numbers is them (no
        # other file can take a number while it is in use): nothing changed.
        return (
            st_main.st_ino == self._main_ino
            and j_ino == self._journal_ino
            and st_main.st_size == self._main_size
            and j_size == self._journal_size
            and self._has_header
        )

    def _needs_reload(self, st_main: os.stat_result) -> bool:
        # The generation decides: a compaction writes a new one into the meta file.
        return (
            read_head(self.meta_path) != self._meta_head
            or st_main.st_ino != self._main_ino  # (a compaction under way)
            or st_main.st_size < self._main_size
            or not self._has_header
            or self._rfd_main is None
        )

    def _open_new_journal(self) -> bool:
        """Open a journal created since the last load (a reader); False when it is not
        of the generation loaded."""
        data, fd = read_fd(self.journal_path)
        if data is None:
            return True
        state, gen, start = journal_head(data, self.journal_path)
        if state == "cut" or (gen != self._gen and state == "ok"):
            close_fd(fd)
            return False
        self._rfd_journal = fd
        self._journal_ino = os.fstat(fd).st_ino
        self._journal_size = start
        self._journal_lines = 1 if start else 0
        return True

    def _reload(self) -> bool:
        st = self._load()
        if st is None:
            return False
        self._load_into_self(st)
        self.damage = damage(st, self._paths)
        return True

    def _read_journal_tail(self) -> bool:
        data = pread_all(self._rfd_journal, self._journal_size)
        if not data:
            return False
        rows, end, _, _ = parse_journal(data, self.journal_path, self._journal_lines + 1)
        changed = False
        for lineno, f in rows:
            seq = int(f[0])
            if seq > self._seq:
                changed |= apply_row(self._layout, self.journal_path, lineno, f, self.records)
                self._seq = seq
        self._journal_size += end
        self._journal_lines += data.count(b"\n", 0, end)
        return changed

    def _read_main_tail(self) -> bool:
        data = pread_all(self._rfd_main, self._main_size)
        end = data.rfind(b"\n") + 1
        if end == 0:
            return False
        try:
            text = data[:end].decode("utf-8")
        except UnicodeDecodeError:
            raise LogFormatError(
                f"{self.path}: appended text is not UTF-8; fix or remove those lines"
            ) from None
        changed = False
        records = self.records
        for _, rec, _ in self._layout.parse_main_lines(text, self._main_lines + 1, self.path):
            if rec.job_id not in records:
                records[rec.job_id] = rec
                changed = True
        self._main_size += end
        self._main_lines += text.count("\n")
        return changed


def _new_row(seq: int, rec: LogRecord, line: str) -> list:
    """The journal row of a new record (its main-file line and its extras)."""
    return [
        seq,
        "n",
        rec.job_id,
        enc_float(rec.created),
        esc(line),
        enc_float(rec.changed),
        enc_text(rec.reason),
        enc_id(rec.resubmit_of),
        enc_links(rec.resubmitted_as),
        enc_history(rec.history),
        "",
    ]


def _change_row(ch: LogChange, records: dict, shadow: dict) -> Optional[list]:
    """The journal row of a change (its sequence number still 0), None when it changes
    nothing; ``shadow`` holds the statuses the batch's earlier changes set.

    Raises SimulationsLogLookupError for an unknown job, ValueError for a value of the
    wrong kind."""
    rec = records.get(ch.job_id)
    if rec is None:
        raise SimulationsLogLookupError(
            f"Could not update simulation with job ID = {ch.job_id}: no such "
            "simulation exists."
        )
    row = [0, "c", ch.job_id, repr(float(ch.time))]
    if ch.status is not UNSET:
        if not isinstance(ch.status, JobStatus):
            raise ValueError(f"status {ch.status!r} is not a JobStatus")
        if ch.status != shadow.get(ch.job_id, rec.status):
            row += ("s", ch.status.value)
            shadow[ch.job_id] = ch.status
    if ch.output is not UNSET:
        validate_output(ch.job_id, ch.output)
        row += ("o", "" if ch.output is None else str(ch.output))
    if ch.interface_name is not UNSET:
        if not isinstance(ch.interface_name, str):
            raise ValueError(f"interface name {ch.interface_name!r} is not a str")
        row += ("i", esc(ch.interface_name))
    if ch.reason is not UNSET:
        if ch.reason is not None and not isinstance(ch.reason, str):
            raise ValueError(f"reason {ch.reason!r} is not a str")
        row += ("r", enc_text(ch.reason))
    if ch.resubmitted_as is not UNSET:
        row += ("a", enc_links(ch.resubmitted_as))
    if len(row) == 4:
        return None
    row.append("")
    return row
