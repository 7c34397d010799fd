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

Damage (see :meth:`CsvStore._damage`): what the headers say is checked against what
the files hold; a log with something missing opens read-only, with one line saying
what, and nothing is changed until ``simjobs repair``.
"""

from __future__ import annotations

import csv
import gc
import math
import os
import re
import threading
import warnings
from collections.abc import Sequence
from itertools import accumulate, islice, repeat
from typing import Optional

from ..errors import (
    LogFormatError,
    NotALogError,
    SimjobsError,
    SimulationsLogLookupError,
    excerpt,
)
from ..filesystems import LogWriteError, os_error_text
from ..records import FIRST_TIME, LAST_TIME, UNSET, LogChange, LogRecord, append_history
from ..types import JobStatus
from .base import LogStore, check_log_directory, open_own_file, validate_output
from .csv_codec import (
    FIXED_COLUMNS, JOURNAL_MAGIC, META_MAGIC, META_VERSION, META_VERSIONS, NO_HISTORY,
    STATUS_BY_VALUE, check_histories, csv_text, dec_id, dec_links, dec_meta_row, dec_text,
    enc_float, enc_history, enc_id, enc_links, enc_text, encode_history, esc,
    header_columns, journal_header, meta_row, pack_histories, parse_each, set_extras, unesc,
)
from .csv_files import (
    COMMIT_SUFFIX, JOURNAL_SUFFIX, META_SUFFIX, TMP_SUFFIX, close_fd, fsync_dir,
    new_generation, pread_all, read_commit, read_fd, read_head, read_opt, snippet,
    truncate_keeping, write_all, write_commit, write_new_file, head_of,
)

__all__ = [
    "COMMIT_SUFFIX", "CsvStore", "FIXED_COLUMNS", "JOURNAL_SUFFIX", "META_SUFFIX",
    "check_histories", "encode_history", "header_columns", "new_generation",
    "pack_histories", "parse_each", "peek_csv",
]

_MIN_COMPACT_ROWS = 1000
_NEEDS_QUOTING = re.compile(r'[,"\r\n]')
_INPUT_COLUMN = re.compile(r"Input_([1-9][0-9]*)")


def _raise_value_error():
    raise ValueError("a ^/$ time reference without history")


class _LineCache:
    """The unchanged line of each record in a file (main or meta), to write it again as
    it is at the next compaction.

    Kept as read: the ids of the records in the order of ``records`` (the first ones,
    or all) with their lines (a list, or a function that makes it when it is needed), and
    what changed since, by job id: a new line, or None when it must be made again. (A
    dict of 100,000s of entries would cost a tenth of an open.)"""

    __slots__ = ("_ids", "_texts", "_changes")

    def __init__(self, ids: Sequence[str] = (), texts=()):
        self._ids = ids
        self._texts = texts
        self._changes: dict[str, Optional[str]] = {}

    def __setitem__(self, job_id: str, text: str) -> None:
        self._changes[job_id] = text

    def drop(self, job_id: str) -> None:
        self._changes[job_id] = None

    def _all_texts(self) -> Sequence[str]:
        if callable(self._texts):
            self._texts = self._texts()
        return self._texts

    def get(self, job_id: str) -> Optional[str]:
        if job_id in self._changes:
            return self._changes[job_id]
        try:
            return self._all_texts()[self._ids.index(job_id)]  # (crash recovery only)
        except ValueError:
            return None

    def aligned(self, job_ids: list[str]) -> list[Optional[str]]:
        """The line of each of ``job_ids`` (those of all the records, in order), None
        where none is kept."""
        n = len(self._ids)
        if n and list(islice(job_ids, n)) == list(self._ids):
            out = list(islice(self._all_texts(), n)) + [None] * (len(job_ids) - n)
        else:  # the meta file lacks some records, or lists them in another order
            out = [None] * len(job_ids)
            known = dict(zip(self._ids, self._all_texts())) if n else {}
            for k, job_id in enumerate(job_ids):
                out[k] = known.get(job_id)
        changes = self._changes
        if changes:
            for k, job_id in enumerate(job_ids):
                if job_id in changes:
                    out[k] = changes[job_id]
        return out


class _Loaded:
    """What a full read of the files gives (before any repair)."""

    __slots__ = (
        "cols", "records", "lines", "meta_lines", "applied", "seq", "main_ino",
        "main_size", "main_end", "main_tail", "header_unterminated", "journal_ino",
        "journal_size", "journal_end", "journal_tail_lines", "journal_torn",
        "journal_rows", "redo", "meta_ino", "main_lines", "journal_lines",
        "snapshot_records", "meta", "meta_head", "main_fd", "journal_fd", "journal_gen",
        "journal_state", "main_count", "main_from_journal", "late_rows", "journal_base",
        "journal_synced",
    )

    def __init__(self):
        self.cols = None
        self.records = {}
        self.lines = _LineCache()
        self.meta_lines = _LineCache()
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
        self.meta_ino = None
        self.main_lines = 0
        self.journal_lines = 0
        self.snapshot_records = 0
        self.meta: Optional[_MetaInfo] = None  # None: no meta file
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
        close_fd(self.main_fd)
        close_fd(self.journal_fd)
        self.main_fd = self.journal_fd = None


class _MetaInfo:
    """What a meta file's header says, and whether the file is whole."""

    __slots__ = ("version", "gen", "records", "lines", "got", "problem")

    def __init__(self, version: str, gen: Optional[str] = None, records: Optional[int] = None,
                 lines: Optional[int] = None):
        self.version = version
        self.gen = gen  # (version 3) the compaction that wrote it
        self.records = records  # (version 3) the records of the main file it goes with
        self.lines = lines  # (version 3) the lines that follow the header
        self.got = 0  # the complete lines read
        self.problem: Optional[str] = None  # "cut": fewer lines than the header says


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
        self.journal_path = self.path + JOURNAL_SUFFIX
        self.meta_path = self.path + META_SUFFIX
        self.commit_path = self.path + COMMIT_SUFFIX
        self._dir = os.path.dirname(os.path.abspath(self.path))
        self._mutex = threading.RLock()
        self._closed = False
        self._main_fd: Optional[int] = None
        self._journal_fd: Optional[int] = None
        self._broken: Optional[str] = None
        self._unsynced: set[int] = set()  # fds written with sync=False since the last sync
        self._cols: list[str] = header_columns(input_dim)
        self._set_layout(self._cols)
        self._lines = _LineCache()  # job id -> its unchanged main-file line
        self._meta_lines = _LineCache()  # job id -> its unchanged meta line ("": none)
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
            self.damage = self._damage(st)
            if self.damage is not None:
                warnings.warn(self.damage, stacklevel=3)
        else:
            self._open_writer()

    # ---- layout ---------------------------------------------------------------------

    def _set_layout(self, cols: list[str]) -> None:
        d = self.input_dim
        self._cols = list(cols)
        pos = {name: i for i, name in enumerate(cols)}
        self._in_idx = [pos[f"Input_{i}"] for i in range(1, d + 1)]
        self._out_i = pos["Output"]
        self._id_i = pos["Job_ID"]
        self._st_i = pos["Job_Status"]
        self._lv_i = pos["Job_Level"]
        self._if_i = pos["Interface_Name"]
        std = header_columns(d)
        # file column i holds standard field perm[i]
        self._perm = [std.index(name) for name in cols]
        self._std_order = self._perm == list(range(len(std)))
        self._header_line = csv_text([cols])

    def _check_header(self, cols: list[str], where: str) -> None:
        d = self.input_dim
        names = set(cols)
        inputs = [c for c in cols if c.startswith("Input_")]
        nums = sorted(
            int(m.group(1)) for m in (_INPUT_COLUMN.fullmatch(c) for c in inputs) if m
        )
        k = len(nums)
        well_formed = (
            len(names) == len(cols)
            and set(FIXED_COLUMNS) <= names
            and len(names) == k + len(FIXED_COLUMNS)
            and k == len(inputs)
            and nums == list(range(1, k + 1))
            and k > 0
        )
        if not well_formed:
            raise NotALogError(
                f"{where} line 1: header {excerpt(','.join(cols))} is not a simulations log "
                f"header (expected Input_1..Input_{d},{','.join(FIXED_COLUMNS)} in any "
                "order); fix the header or use another file"
            )
        if k != d:
            have = "Input_1" if k == 1 else f"Input_1..Input_{k}"
            raise LogFormatError(
                f"{where}: header has {have} but input_dim is {d}; open it with "
                f"input_dim={k} or use another file"
            )

    # ---- parsing ----------------------------------------------------------------------

    def _bad(self, where: str, lineno: int, what: str) -> LogFormatError:
        return LogFormatError(f"{where} line {lineno}: {what}; fix or remove that line")

    def _record_from_fields(self, f: list[str], where: str, lineno: int) -> LogRecord:
        ncols = len(self._cols)
        if len(f) != ncols:
            raise self._bad(
                where, lineno, f"has {len(f)} fields but the header has {ncols}"
            )
        try:
            coords = tuple([float(f[i]) for i in self._in_idx])
            ok = math.isfinite(sum(coords))  # nan and inf propagate
        except (ValueError, OverflowError):
            ok = False
        if not ok:
            coords = []
            for k, i in enumerate(self._in_idx, start=1):
                try:
                    v = float(f[i])
                except ValueError:
                    raise self._bad(
                        where, lineno, f"Input_{k} is {excerpt(f[i])}, not a number"
                    ) from None
                if not math.isfinite(v):
                    raise self._bad(
                        where, lineno, f"Input_{k} is {excerpt(f[i])}, not a finite number"
                    )
                coords.append(v)
            coords = tuple(coords)
        s = f[self._out_i]
        if s == "":
            output = None
        else:
            try:
                output = float(s)
            except ValueError:
                raise self._bad(where, lineno, f"Output is {excerpt(s)}, not a number") from None
            if not math.isfinite(output):
                raise self._bad(where, lineno, f"Output is {excerpt(s)}, not a finite number")
        job_id = f[self._id_i]
        if not (job_id.isascii() and job_id.isdigit()):
            raise self._bad(where, lineno, f"Job_ID is {excerpt(job_id)}, not a job id (digits only)")
        s = f[self._st_i]
        status = STATUS_BY_VALUE.get(s)
        if status is None:
            raise self._bad(
                where,
                lineno,
                f"Job_Status is {excerpt(s)}, not one of {', '.join(STATUS_BY_VALUE)}",
            )
        s = f[self._lv_i]
        try:
            level = int(s)
        except ValueError:
            raise self._bad(where, lineno, f"Job_Level is {excerpt(s)}, not a whole number") from None
        return LogRecord(job_id, coords, output, status, level, f[self._if_i])

    def _parse_main_lines(self, text: str, first_lineno: int, where: str):
        """Yield (lineno, record, line text or None) for the complete lines in ``text``.

        ``text`` ends with a line break. The line text (normalised to CRLF) is given
        for single-line records, for reuse when the file is rewritten."""
        lines = text.split("\n")
        lines.pop()  # text ends with "\n"
        if '"' not in text:
            make = self._record_from_fields
            lineno = first_lineno - 1
            for line in lines:
                lineno += 1
                if line and line[-1] == "\r":
                    line = line[:-1]
                if not line:
                    continue
                yield lineno, make(line.split(","), where, lineno), line
            return
        # Quoted fields (possibly spanning lines): let the csv module parse.
        counter = [0]

        def feed():
            for line in lines:
                counter[0] += 1
                yield line + "\n"

        reader = csv.reader(feed())
        while True:
            before = counter[0]
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise self._bad(where, first_lineno + before, f"is not valid CSV ({exc})")
            lineno = first_lineno + before
            if not fields:
                continue
            raw = None
            if counter[0] == before + 1:  # a one-line record: keep its text
                raw = lines[before]
                raw = raw[:-1] if raw.endswith("\r") else raw
            yield lineno, self._record_from_fields(fields, where, lineno), raw

    def _fast_main(self, body: str, line_breaks: Optional[int] = None):
        """Parse the record lines column by column (the common case: CRLF, no quotes,
        no blank line, nothing wrong). None when the per-line parser must do it (it
        also gives the precise error). ``line_breaks``: ``body.count("\n")`` when the
        caller knows it."""
        if '"' in body:
            return None
        nc = len(self._cols)
        # Every line break becomes a field of its own ("\n") between the fields of two
        # lines: each line has nc fields exactly when they all fall every nc + 1 fields.
        flat = body.replace("\r\n", ",\n,").split(",")
        if flat.pop() != "":
            return None  # the last line break is not CRLF
        breaks = flat[nc::nc + 1]
        n = len(breaks)
        if (
            not n
            or len(flat) != n * (nc + 1)
            or breaks.count("\n") != n
            # a line break that is not CRLF
            or (body.count("\n") if line_breaks is None else line_breaks) != n
        ):
            return None
        columns = [flat[i::nc + 1] for i in range(nc)]
        try:
            xs = [list(map(float, columns[i])) for i in self._in_idx]
            if not math.isfinite(sum(map(sum, xs))):  # nan and inf propagate
                return None
            outs = [float(v) if v else None for v in columns[self._out_i]]
            if not math.isfinite(sum([v for v in outs if v is not None])):
                return None
            statuses = list(map(STATUS_BY_VALUE.__getitem__, columns[self._st_i]))
            levels = parse_each(int, columns[self._lv_i])
        except (ValueError, KeyError, OverflowError):
            return None
        ids = columns[self._id_i]  # (the caller checks that none repeats)
        joined = "".join(ids)
        if not (joined.isascii() and joined.encode().isdigit()) or "" in ids:
            return None
        return ids, list(zip(*xs)), outs, statuses, levels, columns[self._if_i]

    def _parse_line(self, line: str, where: str, lineno: int) -> LogRecord:
        if '"' in line:
            try:
                fields = next(csv.reader([line]))
            except (csv.Error, StopIteration) as exc:
                raise self._bad(where, lineno, f"is not valid CSV ({exc})") from None
        else:
            fields = line.split(",")
        return self._record_from_fields(fields, where, lineno)

    def _split_main(self, data: bytes, where: str):
        """(cols or None, body text, body first line number, end of complete part,
        torn tail bytes, header unterminated)."""
        end = data.rfind(b"\n") + 1
        tail = data[end:]
        if end == 0:
            if not data.strip():
                return None, "", 2, 0, b"", False
            # A single line without terminator: a header written without one.
            try:
                text = data.decode("utf-8-sig")
                cols = next(csv.reader([text.rstrip("\r")]))
            except (UnicodeDecodeError, csv.Error, StopIteration):
                cols = [data.decode("utf-8", "replace")]
            self._check_header(cols, where)
            return cols, "", 2, len(data), b"", True
        try:
            text = data[:end].decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            lineno = data.count(b"\n", 0, exc.start) + 1
            raise LogFormatError(
                f"{where} line {lineno}: is not UTF-8 text; fix or remove that line"
            ) from None
        nl = text.index("\n")
        header = text[:nl].rstrip("\r")
        try:
            cols = next(csv.reader([header]))
        except (csv.Error, StopIteration):
            cols = [header]
        self._check_header(cols, where)
        return cols, text[nl + 1:], 2, end, tail, False

    def _parse_meta(self, data: bytes):
        """Read the meta file into columns.

        Returns (applied, ids, created, changed, reason, resubmit_of, resubmitted_as,
        history, lines, info): one list per field, in the file's order, the raw lines and
        a :class:`_MetaInfo`. The histories are checked but left packed (see
        LogRecord), each decoded when read.

        A version 3 file ends with a line break and its header names how many lines
        follow: one cut short is read up to its last complete line and marked "cut" in
        ``info`` (the caller opens the log read-only)."""
        where = self.meta_path
        info = None
        if (META_MAGIC + ",3,").encode().startswith(data):  # cut inside its first field
            info = _MetaInfo("3")
            info.problem = "cut"
            return 0, [], [], [], [], [], [], [], [], info
        if data.startswith(META_MAGIC.encode() + b",3,"):
            head = data[:data.find(b"\n") + 1]
            fields = head.decode("utf-8", "replace").rstrip("\r\n").split(",")
            if not head or len(fields) != 6 or not all(
                    f.isdigit() for f in (fields[2], fields[4], fields[5])):
                info = _MetaInfo("3")
                info.problem = "cut"
                return 0, [], [], [], [], [], [], [], [], info
            info = _MetaInfo("3", fields[3], int(fields[4]), int(fields[5]))
            if not data.endswith(b"\r\n"):
                info.problem = "cut"
                data = data[:data.rfind(b"\n") + 1]  # read the complete lines
        elif not data.endswith(b"\n"):  # written atomically; accept a missing terminator
            data = data + b"\r\n"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise LogFormatError(
                f"{where}: is not UTF-8 text; delete it (only simjobs' extras are lost)"
            ) from None
        lines = text.split("\r\n")
        if len(lines) != text.count("\n") + 1:  # not all CRLF
            lines = [line.rstrip("\r") for line in text.split("\n")]
        lines.pop()
        first = next(csv.reader(lines[:1]), [])
        if (
            len(first) != (6 if info is not None else 3)
            or first[0] != META_MAGIC
            or first[1] not in META_VERSIONS
        ):
            raise LogFormatError(
                f"{where} line 1: is not a simjobs meta header (version {META_VERSION}); "
                "delete the file (only simjobs' extras are lost)"
            )
        if info is None:
            info = _MetaInfo(first[1])
        try:
            applied = int(first[2])
        except ValueError:
            raise LogFormatError(
                f"{where} line 1: sequence {excerpt(first[2])} is not a number; delete the "
                "file (only simjobs' extras are lost)"
            ) from None
        lines = lines[1:]
        if "" in lines:
            lines = [line for line in lines if line]
        info.got = len(lines)
        if info.lines is not None and info.got != info.lines:
            info.problem = "cut"
            if info.got > info.lines:
                raise LogFormatError(
                    f"{where}: holds {info.got} lines but its header says {info.lines}; "
                    "restore it from a backup, or delete it (only simjobs' extras are lost)"
                )
        if not lines:
            return applied, [], [], [], [], [], [], [], [], info
        n = len(lines)
        try:
            packed = None
            if '"' not in text and set(map(str.count, lines, repeat(","))) == {7}:
                flat = ",".join(lines).split(",")
                columns = [flat[i::8] for i in range(8)]
                packed = lines  # each ends with ",<codes>,<times>": a packed history
            else:
                rows = list(csv.reader(lines))
                if set(map(len, rows)) != {8}:
                    raise ValueError("field count")
                columns = list(map(list, zip(*rows)))
            ids, created, changed, reason, rof, ras, codes, times = columns
            check_histories(codes, times)
            # Decoded by each record when read.
            hist = packed if packed is not None else pack_histories(codes, times)
            if created.count("^") == n and changed.count("$") == n:
                # The usual case: created is the first time of the history and changed
                # the last; each record parses them from its packed history when read.
                if "" in times:
                    _raise_value_error()
                created = [FIRST_TIME] * n
                changed = [LAST_TIME] * n
            else:
                counts = list(map(len, codes))
                joined = ";".join(filter(None, times))
                flat_t = list(map(float, joined.split(";"))) if joined else []
                starts = list(accumulate(counts, initial=0))
                bad = _raise_value_error
                created = [
                    (flat_t[a] if k else bad()) if c == "^" else (float(c) if c else None)
                    for c, a, k in zip(created, starts, counts)
                ]
                changed = [
                    (flat_t[a + k - 1] if k else bad()) if c == "$"
                    else (float(c) if c else None)
                    for c, a, k in zip(changed, starts, counts)
                ]
            reason = list(map(dec_text, reason)) if any(reason) else [None] * n
            rof = list(map(dec_id, rof)) if any(rof) else [None] * n
            # (None: LogRecord makes each an empty list of its own.)
            ras = list(map(dec_links, ras)) if any(ras) else [None] * n
        except (ValueError, KeyError, IndexError):
            for lineno, row in enumerate(csv.reader(lines), start=2):
                try:
                    dec_meta_row(row)
                except (ValueError, KeyError, IndexError) as exc:
                    raise LogFormatError(
                        f"{where}: unreadable line for job {excerpt(row[0]) if row else '?'} "
                        f"({excerpt(exc, quote=False)}); delete that line (only simjobs' "
                        "extras are lost)"
                    ) from None
            raise
        return applied, ids, created, changed, reason, rof, ras, hist, lines, info

    def _parse_journal(self, data: bytes, base_lineno: int = 1):
        """Split journal bytes into complete batches.

        Returns (rows, end, tail_lines, torn): ``rows`` are (lineno, fields) of the
        complete batches, ``end`` the byte offset after the last complete batch,
        ``tail_lines`` how many complete lines follow it (an unfinished batch) and
        ``torn`` the bytes of an incomplete last line."""
        where = self.journal_path
        end_all = data.rfind(b"\n") + 1
        torn = data[end_all:]
        rows = []
        pending = []
        pos = 0
        end = 0
        lineno = base_lineno - 1
        for bline in data[:end_all].split(b"\n")[:-1]:
            lineno += 1
            pos += len(bline) + 1
            try:
                line = bline.decode("utf-8").rstrip("\r")
            except UnicodeDecodeError:
                raise LogFormatError(
                    f"{where} line {lineno}: is not UTF-8 text; the journal is damaged: "
                    f"move it away to open the log without its unsaved changes"
                ) from None
            try:
                fields = next(csv.reader([line]))
            except (csv.Error, StopIteration):
                fields = []
            kind = fields[1] if len(fields) > 1 else ""
            if (
                len(fields) < 5
                or not fields[0].isdigit()
                or fields[-1] not in ("", ".")
                or (kind == "n" and len(fields) != 11)
                or (kind == "c" and len(fields) % 2 == 0)
                or kind not in ("n", "c")
            ):
                raise LogFormatError(
                    f"{where} line {lineno}: is not a journal row; the journal is damaged: "
                    "move it away to open the log without its unsaved changes"
                )
            pending.append((lineno, fields))
            if fields[-1] == ".":
                rows.extend(pending)
                pending = []
                end = pos
        return rows, end, len(pending), torn

    def _apply_row(self, lineno: int, f: list[str], records: dict, lines, meta_lines, redo):
        """Apply one journal row to ``records``; True if it changed anything."""
        job_id = f[2]
        kind = f[1]
        try:
            if kind == "n":
                rec = records.get(job_id)
                if rec is None:
                    line = unesc(f[4])
                    rec = self._parse_line(line, self.journal_path, lineno)
                    if rec.job_id != job_id:
                        raise ValueError("job id of the line differs from the row's")
                    records[job_id] = rec
                    if lines is not None:
                        lines[job_id] = line  # as the writer formatted it
                    if redo is not None:
                        redo.append(rec)
                set_extras(rec, f[3:4] + f[5:10])
                if meta_lines is not None:
                    meta_lines.drop(job_id)
                return True
            rec = records.get(job_id)
            if rec is None:
                return False  # a job no longer in the main file
            t = float(f[3])
            for i in range(4, len(f) - 1, 2):
                code, value = f[i], f[i + 1]
                if code == "s":
                    status = STATUS_BY_VALUE[value]
                    rec.status = status
                    rec.changed = t
                    append_history(rec, status, t)
                    if lines is not None:
                        lines.drop(job_id)
                        meta_lines.drop(job_id)
                elif code == "o":
                    rec.output = None if value == "" else float(value)
                    if lines is not None:
                        lines.drop(job_id)
                elif code == "i":
                    rec.interface_name = unesc(value)
                    if lines is not None:
                        lines.drop(job_id)
                elif code == "r":
                    rec.reason = dec_text(value)
                    if meta_lines is not None:
                        meta_lines.drop(job_id)
                elif code == "a":
                    rec.resubmitted_as = dec_links(value)
                    if meta_lines is not None:
                        meta_lines.drop(job_id)
                else:
                    raise ValueError(f"unknown field code {code!r}")
            return True
        except LogFormatError:
            raise
        except (ValueError, KeyError, IndexError) as exc:
            raise LogFormatError(
                f"{self.journal_path} line {lineno}: unreadable row ({exc}); the journal is "
                "damaged: move it away to open the log without its unsaved changes"
            ) from None

    # ---- full load ----------------------------------------------------------------------

    def _read_consistent(self):
        """Read meta, main and journal so that they belong together.

        Returns (meta, main, main fd, journal, journal fd), the descriptors open on the
        files read (the caller closes them), or None when there is no main file.

        A compaction replaces main, then meta (with a new generation), then the
        journal. So if the meta file's first line is the same after the main file and
        the journal were read as before, no compaction finished its second step in
        between: the main file read is the one of that meta file or the next one, and
        the journal that of that meta file, which is a state a crash between the steps
        also leaves (see the module docstring). Inode numbers prove nothing: a
        replaced file's number is reused."""
        for _ in range(100):
            meta = read_opt(self.meta_path)
            # (Before the journal: it is written after the journal's fdatasync.)
            self._synced = read_commit(self.commit_path)
            main, main_fd = read_fd(self.path)
            if main is None:
                return None
            journal, journal_fd = read_fd(self.journal_path)
            if read_head(self.meta_path) == head_of(meta):
                return meta, main, main_fd, journal, journal_fd
            close_fd(main_fd)
            close_fd(journal_fd)
        raise SimjobsError(
            f"{self.path}: the log kept being rewritten while it was read; try again"
        )

    def _load(self) -> Optional[_Loaded]:
        # Building 100,000s of objects: the cyclic GC would scan them again and again.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._load_files()
        finally:
            if enabled:
                gc.enable()

    def _load_files(self) -> Optional[_Loaded]:
        got = self._read_consistent()
        if got is None:
            return None
        st = _Loaded()
        meta, main, st.main_fd, journal, st.journal_fd = got
        st.journal_synced = self._synced
        try:
            self._parse_files(st, meta, main, journal)
        except BaseException:
            st.close_fds()
            raise
        if not self.readonly:
            st.close_fds()  # (only a reader reads on from the files it loaded)
        return st

    def _parse_files(self, st: _Loaded, meta, main: bytes, journal) -> None:
        keep_lines = not self.readonly
        st.main_ino = os.fstat(st.main_fd).st_ino
        st.journal_ino = None if st.journal_fd is None else os.fstat(st.journal_fd).st_ino
        st.meta_head = head_of(meta)
        st.main_size = len(main)
        cols, body, first, end, tail, unterminated = self._split_main(main, self.path)
        st.cols, st.main_end, st.main_tail = cols, end, tail
        st.header_unterminated = unterminated
        st.main_lines = main.count(b"\n", 0, end)
        if cols is not None:
            self._set_layout(cols)
        meta_cols = self._parse_meta(meta) if meta else None
        if meta_cols is not None:
            st.applied = meta_cols[0]
            st.meta = meta_cols[9]
        elif meta is not None:  # an empty meta file: simjobs never writes one
            st.meta = _MetaInfo("3")
            st.meta.problem = "empty"
        # (The body is the complete lines after the header.)
        fast = self._fast_main(body, st.main_lines - 1) if cols is not None else None
        if fast is not None:
            ids, coords, outs, statuses, levels, ifaces = fast
            extras = self._aligned_extras(ids, meta_cols)
            recs = list(map(LogRecord, ids, coords, outs, statuses, levels, ifaces, *extras))
            st.records = records = dict(zip(ids, recs))
            if len(records) != len(ids):
                fast = None  # a job id used twice: the line parser names the line
            elif keep_lines:
                st.lines = _LineCache(ids, lambda: body.split("\r\n"))
        if fast is None:
            st.records = records = {}
            for lineno, rec, raw in self._parse_main_lines(body, first, self.path):
                if rec.job_id in records:
                    raise self._bad(
                        self.path, lineno,
                        f"Job_ID {rec.job_id} is already used by an earlier line",
                    )
                records[rec.job_id] = rec
                if keep_lines and raw is not None:
                    st.lines[rec.job_id] = raw
            if meta_cols is not None:
                for job_id, *fields in zip(*meta_cols[1:8]):
                    rec = records.get(job_id)
                    if rec is not None:
                        (rec.created, rec.changed, rec.reason, rec.resubmit_of,
                         rec.resubmitted_as, rec.history) = fields
                        if rec.resubmitted_as is None:
                            rec.resubmitted_as = []
        if meta_cols is not None and keep_lines:
            st.meta_lines = _LineCache(meta_cols[1], meta_cols[8])
        lines = st.lines if keep_lines else None
        st.snapshot_records = st.main_count = len(records)
        st.seq = st.applied
        if journal is not None:
            st.journal_size = len(journal)
            st.journal_state, st.journal_gen, start = self._journal_head(journal)
            st.journal_base = start
            rows, jend, tail_lines, torn = self._parse_journal(
                journal[start:], 2 if start else 1)
            jend += start
            st.journal_end, st.journal_tail_lines, st.journal_torn = jend, tail_lines, torn
            st.journal_rows = len(rows)
            st.journal_lines = journal.count(b"\n", 0, jend)
            if cols is None and rows:
                raise LogFormatError(
                    f"{self.path}: the file is empty but its journal is not; restore the "
                    f"file or move {self.journal_path} away"
                )
            meta_lines = st.meta_lines if keep_lines else None
            other_gen = (st.meta is not None and st.meta.gen is not None
                         and st.journal_gen not in (None, st.meta.gen))
            for lineno, f in rows:
                seq = int(f[0])
                if seq > st.applied:
                    if f[1] == "n" and f[2] in records:
                        st.main_from_journal += 1
                    st.late_rows += other_gen
                    self._apply_row(lineno, f, records, lines, meta_lines, st.redo)
                st.seq = max(st.seq, seq)

    def _journal_head(self, data: bytes) -> tuple[str, Optional[str], int]:
        """(state, generation, length) of the header line a journal starts with: state
        "empty", "cut" (a header without its line break), "legacy" (a journal written
        before journals had one) or "ok"."""
        if not data:
            return "empty", None, 0
        if not data.startswith(b"#"):
            return "legacy", None, 0
        end = data.find(b"\n") + 1
        fields = data[:end].decode("utf-8", "replace").rstrip("\r\n").split(",")
        if not end or len(fields) != 3 or fields[0] != JOURNAL_MAGIC:
            if JOURNAL_MAGIC.encode().startswith(data[:len(JOURNAL_MAGIC)]) and not end:
                return "cut", None, 0
            raise LogFormatError(
                f"{self.journal_path} line 1: is not a journal header; the journal is "
                "damaged: restore it from a backup, or run 'simjobs repair' on the log"
            )
        return "ok", fields[2], end

    @staticmethod
    def _aligned_extras(ids, meta_cols):
        """The meta columns created..history in the order of ``ids`` (empty extras for
        jobs the meta file does not mention)."""
        n = len(ids)
        if meta_cols is None or not meta_cols[1]:
            none = [None] * n
            return none, none, none, none, none, [NO_HISTORY] * n
        meta_ids = meta_cols[1]
        if len(ids) == len(meta_ids) and list(ids) == meta_ids:
            return meta_cols[2:8]
        pos = {job_id: k for k, job_id in enumerate(meta_ids)}
        idx = [pos.get(job_id) for job_id in ids]
        out = [[None if k is None else col[k] for k in idx] for col in meta_cols[2:7]]
        hist = meta_cols[7]
        out.append([NO_HISTORY if k is None else hist[k] for k in idx])
        return out

    def _load_into_self(self, st: _Loaded) -> None:
        if st.cols is not None:
            self._set_layout(st.cols)
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

    def _damage(self, st: _Loaded) -> Optional[str]:
        """One line saying what is missing from a damaged log, from which file, and how
        to recover; None when the files are whole.

        A compaction writes the number of records and of meta lines into the meta
        file's header, and its generation into the meta file and the journal's first
        line; new records reach the journal before the main file. So a cut main file
        holds fewer records than the meta file lists plus the journal added, a cut
        journal has lost the rows of records the main file holds, a cut meta file has
        fewer lines than its header says, and a removed or emptied sidecar is missed by
        the other one. (A cut that drops only whole batches of status changes from the
        journal's end looks like those changes were never made: nothing records them
        elsewhere.)"""
        meta, name = st.meta, os.path.basename(self.path)
        repair = (f"or run 'simjobs repair {self.path}' to keep what is left (it backs "
                  "the files up first)")

        def line(file: str, what: str, restore: str) -> str:
            return f"{file}: {what}; opened read-only: restore {restore} from a backup, {repair}"

        if meta is None:
            if st.journal_state == "ok":
                return line(self.meta_path, "is missing, but the journal belongs to a "
                            "compacted log: the times, reasons, resubmission links and "
                            "status history of its records are missing", "it")
            return None  # exauq's log, or one no simjobs writer has upgraded yet
        if meta.problem == "empty":
            return line(self.meta_path, "is empty: the times, reasons, resubmission links "
                        "and status history of the log's records are missing", "it")
        if meta.problem == "cut":
            if meta.lines is None:
                what = "is cut in its first line: its header is incomplete"
            else:
                what = (f"is cut: {meta.lines - meta.got} of its {meta.lines} lines are "
                        "missing (the times, reasons, resubmission links and status "
                        f"history of {meta.lines - meta.got} records)")
            return line(self.meta_path, what, "it")
        if meta.version != META_VERSION:
            return None  # nothing to check against: upgraded by the next writer
        if st.journal_state in ("missing", "empty", "cut"):
            what = {"missing": "is missing", "empty": "is empty",
                    "cut": "is cut in its first line"}[st.journal_state]
            return line(self.journal_path, f"{what}: the changes made since the last "
                        f"compaction are unknown and the log would go back to the "
                        f"snapshot in {name} and {os.path.basename(self.meta_path)}", "it")
        synced_gen, synced = st.journal_synced
        if synced_gen == st.journal_gen and st.journal_end < synced:
            return line(self.journal_path, f"is cut: {os.path.basename(self.commit_path)} "
                        f"records {synced} bytes of committed changes but {st.journal_end} "
                        "are whole; the changes after them are missing", "it")
        if st.late_rows:
            return line(self.journal_path, f"belongs to another compaction than "
                        f"{os.path.basename(self.meta_path)} and holds {st.late_rows} "
                        "rows it does not", "the files")
        snapshot = st.main_count - st.main_from_journal
        if snapshot < meta.records:
            return line(self.path, f"{meta.records - snapshot} of the {meta.records} "
                        f"records of its last compaction are missing (the file holds "
                        f"{snapshot} of them; cut or emptied)", "it")
        if snapshot > meta.records:
            return line(self.journal_path, f"is cut: {snapshot - meta.records} records "
                        f"in {name} have lost their journal rows (their times and status "
                        "history), and any change made after them", "it")
        return None

    # ---- writer ------------------------------------------------------------------------

    def _check_directory(self) -> None:
        check_log_directory(self.path)

    def _open_writer(self) -> None:
        self._check_directory()
        st = self._load()
        if st is not None:
            damage = self._damage(st)
            if damage is not None:
                # Nothing is changed until a person says so (simjobs repair).
                self.readonly = True
                st = self._load()
                self._load_into_self(st)
                self.damage = self._damage(st) or damage
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

    def _repair_and_open(self, st: Optional[_Loaded]) -> None:
        created = False
        if st is None or st.cols is None or st.header_unterminated:
            # New log, an empty file, or a header without its line break.
            mode = None
            if st is not None:
                mode = os.stat(self.path).st_mode & 0o7777
            cols = st.cols if st is not None and st.cols is not None else self._cols
            self._set_layout(cols)
            tmp = self.path + TMP_SUFFIX
            write_new_file(tmp, self._header_line.encode(), mode)
            os.replace(tmp, self.path)
            fsync_dir(self._dir)
            created = st is None
            if st is None:
                st = _Loaded()
            st.cols = cols
            st.main_size = st.main_end = len(self._header_line.encode())
            st.main_tail = b""
            st.header_unterminated = False
        self._load_into_self(st)
        if not created:
            if st.main_tail:
                kept = self._truncate(self.path, st.main_end)
                warnings.warn(
                    f"{self.path}: dropped an incomplete last line (a write was "
                    f"interrupted): {snippet(st.main_tail)}; its bytes are kept in {kept}",
                    stacklevel=4,
                )
            if st.journal_torn or st.journal_tail_lines:
                kept = self._truncate(self.journal_path, st.journal_end)
                what = "an incomplete last line" if st.journal_torn else "an incomplete last batch"
                warnings.warn(
                    f"{self.journal_path}: dropped {what} (a write was interrupted): "
                    f"{st.journal_tail_lines} complete line(s) and "
                    f"{snippet(st.journal_torn)}; the changes of that batch were never "
                    f"committed; its bytes are kept in {kept}",
                    stacklevel=4,
                )
            for suffix in ("", META_SUFFIX, JOURNAL_SUFFIX):
                try:
                    os.unlink(self.path + suffix + TMP_SUFFIX)
                except FileNotFoundError:
                    pass
        self._main_fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._main_size = os.fstat(self._main_fd).st_size
        self._main_ino = os.fstat(self._main_fd).st_ino
        if os.path.exists(self.journal_path):
            self._open_journal()
        if st.redo:
            # Records whose journal batch is complete but whose lines did not all reach
            # the main file before a crash.
            data = "".join(
                (self._lines.get(r.job_id) or self._format_line(r)) + "\r\n"
                for r in st.redo
            )
            self._append_main(data.encode())

    def _truncate(self, path: str, size: int) -> str:
        """Cut the file at ``size``, keeping the bytes cut off (see
        :func:`.csv_files.truncate_keeping`); returns the name of the file keeping them."""
        return truncate_keeping(path, size, self._dir)

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
            try:
                os.ftruncate(fd, old_size)
                os.fsync(fd)
            except OSError as exc:
                self._broken = f"a failed write could not be undone ({exc})"
            raise

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

    def _file_fields(self, rec: LogRecord) -> list[str]:
        out = rec.output
        std = [
            *map(str, rec.coords),
            "" if out is None else str(out),
            rec.job_id,
            rec.status.value,
            str(rec.level),
            rec.interface_name or "",
        ]
        if self._std_order:
            return std
        return [std[j] for j in self._perm]

    def _format_line(self, rec: LogRecord) -> str:
        """The record's main-file line (without its CRLF), exactly as exauq (csv.writer,
        str()) writes it."""
        name = rec.interface_name or ""
        fields = self._file_fields(rec)
        if _NEEDS_QUOTING.search(name):
            return csv_text([fields])[:-2]
        return ",".join(fields)

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
            lines = [self._format_line(rec) for rec in records]
            seq0 = self._seq
            rows = []
            for i, (rec, line) in enumerate(zip(records, lines)):
                rows.append(
                    [
                        seq0 + i + 1,
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
                )
            rows[-1][-1] = "."
            journal_before = self._journal_size
            # The journal first: once it holds the whole batch, the batch is committed
            # (an interrupted append to the main file is redone on the next open).
            self._append_journal(csv_text(rows).encode(), sync)
            try:
                self._append_main(("\r\n".join(lines) + "\r\n").encode())
            except BaseException:
                try:
                    os.ftruncate(self._journal_fd, journal_before)
                    os.fsync(self._journal_fd)
                    self._journal_size = journal_before
                except OSError as exc:
                    self._broken = f"a failed write could not be undone ({exc})"
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
                if len(row) > 4:
                    seq += 1
                    row[0] = seq
                    row.append("")
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
                rec = records[ch.job_id]
                ch.apply_to(rec)
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
        ids = list(self.records)
        recs = list(self.records.values())
        parts = self._lines.aligned(ids)
        if None in parts:
            fmt = self._format_line
            for k, line in enumerate(parts):
                if line is None:
                    parts[k] = fmt(recs[k])
        metas = self._meta_lines.aligned(ids)  # "" for a record without extras
        if None in metas:
            meta_rows_new = []
            new_at = []
            for k, text in enumerate(metas):
                if text is None:
                    row = meta_row(recs[k])
                    if row is None:
                        metas[k] = ""
                    else:
                        meta_rows_new.append(row)
                        new_at.append(k)
            if meta_rows_new:
                # Meta fields are escaped: one row per CRLF-terminated line.
                texts = csv_text(meta_rows_new).split("\r\n")
                for k, text in zip(new_at, texts):
                    metas[k] = text
        self._lines = _LineCache(ids, parts)
        self._meta_lines = _LineCache(ids, metas)
        meta_body = [text for text in metas if text]
        gen = new_generation()
        # The header names the generation and what the files hold, so that a reader
        # tells these files from the ones it loaded and a cut from an end (_damage).
        meta_text = csv_text([[META_MAGIC, META_VERSION, self._seq, gen, len(ids),
                                len(meta_body)]])
        if meta_body:
            meta_text += "\r\n".join(meta_body) + "\r\n"
        mode = os.fstat(self._main_fd).st_mode & 0o7777
        main_tmp = self.path + TMP_SUFFIX
        meta_tmp = self.meta_path + TMP_SUFFIX
        journal_tmp = self.journal_path + TMP_SUFFIX
        main_text = self._header_line
        if parts:
            main_text += "\r\n".join(parts) + "\r\n"
        main_data = main_text.encode()
        write_new_file(main_tmp, main_data, mode)
        write_new_file(meta_tmp, meta_text.encode(), mode)
        journal_data = journal_header(gen)
        write_new_file(journal_tmp, journal_data, mode)
        # 1. The new main file (the journal replayed over it changes nothing).
        os.replace(main_tmp, self.path)
        fsync_dir(self._dir)
        old_fd, self._main_fd = self._main_fd, os.open(self.path, os.O_WRONLY | os.O_APPEND)
        os.close(old_fd)
        self._main_size = len(main_data)
        self._main_ino = os.fstat(self._main_fd).st_ino
        # 2. The extras, recording that the snapshot holds the journal up to self._seq.
        os.replace(meta_tmp, self.meta_path)
        fsync_dir(self._dir)
        # 3. Only now an empty journal.
        os.replace(journal_tmp, self.journal_path)
        fsync_dir(self._dir)
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        self._open_journal()
        self._unsynced.clear()  # everything is in the fsync'd snapshot now
        self._gen = gen
        self._upgrade = False
        self._journal_base = len(journal_data)
        self._note_synced(self._journal_size)
        self._applied = self._seq
        self._journal_rows = 0
        self._snapshot_records = len(self.records)

    def rewrite(self) -> None:
        """Write the records read as a whole new snapshot (main, meta and journal files,
        a new generation), whatever was wrong with the files; then close.

        For ``simjobs repair``, once the files are backed up: what a damaged log lost
        stays lost, and the log can be written again."""
        with self._mutex:
            self._close_fds()
            check_log_directory(self.path)
            self._main_fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
            self._lines, self._meta_lines = _LineCache(), _LineCache()  # make every line
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
                try:
                    os.close(fd)
                except OSError:
                    pass

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
            # The files loaded are held open, so a path with their inode numbers is them
            # (no other file can take a number while it is in use): nothing changed.
            if (
                st_main.st_ino == self._main_ino
                and j_ino == self._journal_ino
                and st_main.st_size == self._main_size
                and j_size == self._journal_size
                and self._has_header
            ):
                return False
            # The generation decides: a compaction writes a new one into the meta file.
            if (
                read_head(self.meta_path) != self._meta_head
                or st_main.st_ino != self._main_ino  # (a compaction under way)
                or st_main.st_size < self._main_size
                or not self._has_header
                or self._rfd_main is None
            ):
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

    def _open_new_journal(self) -> bool:
        """Open a journal created since the last load (a reader); False when it is not
        of the generation loaded."""
        data, fd = read_fd(self.journal_path)
        if data is None:
            return True
        state, gen, start = self._journal_head(data)
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
        self.damage = self._damage(st)
        return True

    def _read_journal_tail(self) -> bool:
        data = pread_all(self._rfd_journal, self._journal_size)
        if not data:
            return False
        rows, end, _, _ = self._parse_journal(data, self._journal_lines + 1)
        changed = False
        for lineno, f in rows:
            seq = int(f[0])
            if seq > self._seq:
                changed |= self._apply_row(lineno, f, self.records, None, None, None)
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
        for _, rec, _ in self._parse_main_lines(text, self._main_lines + 1, self.path):
            if rec.job_id not in records:
                records[rec.job_id] = rec
                changed = True
        self._main_size += end
        self._main_lines += text.count("\n")
        return changed


# ---- a peek at the newest records ---------------------------------------------------------


_END_MARKS = (b",.\r\n", b",.\n")


def peek_csv(path, input_dim: int, n: int) -> Optional[tuple[list[LogRecord], int]]:
    """The newest ``n`` records of a CSV log (in the log's order) and how many records
    its main file holds, read without loading the log: its last lines, their extras
    from the meta file's last lines, and the journal's rows for them (statuses are as a
    full load gives them). None when that cannot be told cheaply and for sure (quoted
    fields near the end, an unreadable line...): then load the log."""
    store = CsvStore.__new__(CsvStore)
    LogStore.__init__(store, os.fsdecode(path), input_dim, readonly=True)
    store.journal_path = store.path + JOURNAL_SUFFIX
    store.meta_path = store.path + META_SUFFIX
    store.commit_path = store.path + COMMIT_SUFFIX
    try:
        got = store._read_consistent()
        if got is None:
            return None
        meta, main, main_fd, journal, journal_fd = got
        close_fd(main_fd)
        close_fd(journal_fd)
        return store._peek(main, meta, journal, n)
    except (LogFormatError, SimjobsError, ValueError, KeyError, IndexError, OSError,
            UnicodeDecodeError, csv.Error):
        return None


def _last_lines_start(data: bytes, end: int, n: int, floor: int) -> int:
    """Where the last ``n`` lines of ``data[:end]`` start (not before ``floor``)."""
    pos = end - 1
    for _ in range(n):
        i = data.rfind(b"\n", floor, pos)
        if i < 0:
            return floor
        pos = i
    return pos + 1


def _peek(self: CsvStore, main: bytes, meta: Optional[bytes], journal: Optional[bytes],
          n: int) -> Optional[tuple[list[LogRecord], int]]:
    header_end = main.find(b"\n") + 1
    end = main.rfind(b"\n") + 1
    if header_end <= 0 or end <= header_end:
        return None
    header = main[:header_end].decode("utf-8-sig").rstrip("\r\n")
    if '"' in header:
        return None
    cols = header.split(",")
    self._check_header(cols, self.path)
    self._set_layout(cols)
    total = main.count(b"\n", header_end, end)
    start = _last_lines_start(main, end, n, header_end)
    tail = main[start:end]
    if b'"' in tail:
        return None
    records: dict[str, LogRecord] = {}
    for line in tail.decode("utf-8").split("\n")[:-1]:
        line = line.rstrip("\r")
        if line:
            rec = self._parse_line(line, self.path, 0)
            if rec.job_id in records:
                return None
            records[rec.job_id] = rec
    if not records:
        return None
    ids = list(records)
    # Extras from the meta file (in the log's order, like the main file).
    applied = 0
    meta_ids: list[str] = []
    meta_whole = True
    if meta:
        first_end = meta.find(b"\n") + 1
        first = next(csv.reader([meta[:first_end].decode("utf-8").rstrip("\r\n")]))
        if len(first) < 3 or first[0] != META_MAGIC:
            return None
        applied = int(first[2])
        meta_end = meta.rfind(b"\n") + 1
        meta_start = _last_lines_start(meta, meta_end, 2 * n, first_end)
        meta_whole = meta_start <= first_end
        for row in csv.reader(meta[meta_start:meta_end].decode("utf-8").splitlines()):
            if not row:
                continue
            meta_ids.append(row[0])
            rec = records.get(row[0])
            if rec is not None:
                (rec.created, rec.changed, rec.reason, rec.resubmit_of, rec.resubmitted_as,
                 rec.history) = dec_meta_row(row)
    resolved = set(meta_ids)
    # The journal rows after the snapshot, of complete batches, for these records.
    if journal:
        jend = max(journal.rfind(mark) + len(mark) if journal.rfind(mark) >= 0 else 0
                   for mark in _END_MARKS)
        wanted = {job_id.encode() for job_id in ids}
        for lineno, bline in enumerate(journal[:jend].split(b"\n")[:-1], start=1):
            if lineno == 1 and bline.startswith(b"#"):
                continue  # the journal's header
            parts = bline.split(b",", 3)
            if len(parts) < 4 or parts[2] not in wanted or int(parts[0]) <= applied:
                continue
            fields = next(csv.reader([bline.decode("utf-8").rstrip("\r")]))
            self._apply_row(lineno, fields, records, None, None, None)
            if fields[1] == "n":
                resolved.add(fields[2])
    # A record whose extras were not found: it has none if the meta file was read whole
    # or lists a record before it (same order); otherwise show only the newer records.
    if meta_ids and not meta_whole:
        anchor = ids.index(meta_ids[0]) if meta_ids[0] in records else None
        unknown = [k for k, job_id in enumerate(ids) if job_id not in resolved
                   and (anchor is None or k < anchor)]
        if unknown:
            ids = ids[unknown[-1] + 1:]
    if not ids:
        return None
    return [records[job_id] for job_id in ids], total


CsvStore._peek = _peek
