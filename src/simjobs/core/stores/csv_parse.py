"""Parsing the CSV log's files: the main file's lines (:class:`MainLayout`), the meta
file (:func:`parse_meta`) and the journal (:func:`parse_journal`, :func:`apply_row`).

Everything here turns bytes or text already read into records and columns, and says
which line of which file is wrong when one is (:class:`LogFormatError`).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from itertools import accumulate, repeat
from typing import Optional

from ..errors import LogFormatError, NotALogError, excerpt
from ..records import FIRST_TIME, LAST_TIME, LogRecord, append_history
from .csv_codec import (
    FIXED_COLUMNS, JOURNAL_MAGIC, META_MAGIC, META_VERSION, META_VERSIONS, NO_HISTORY,
    STATUS_BY_VALUE, check_histories, csv_text, dec_id, dec_links, dec_meta_row, dec_text,
    header_columns, pack_histories, parse_each, set_extras, unesc,
)

_INPUT_COLUMN = re.compile(r"Input_([1-9][0-9]*)")
_NEEDS_QUOTING = re.compile(r'[,"\r\n]')


def bad_line(where: str, lineno: int, what: str) -> LogFormatError:
    """The error for line ``lineno`` of the file ``where``."""
    return LogFormatError(f"{where} line {lineno}: {what}; fix or remove that line")


def check_header(cols: list[str], input_dim: int, where: str) -> None:
    """Check a main file's header: NotALogError when it is not a log's, LogFormatError
    when it has another number of inputs than ``input_dim``."""
    d = input_dim
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


def _header_cols(line: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return [line]


def _finite(text: str, what: str, where: str, lineno: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise bad_line(where, lineno, f"{what} is {excerpt(text)}, not a number") from None
    if not math.isfinite(value):
        raise bad_line(where, lineno, f"{what} is {excerpt(text)}, not a finite number")
    return value


class MainLayout:
    """The columns of a main file and the parsing and formatting of its lines.

    Parameters
    ----------
    input_dim : int
        The number of inputs.
    cols : list of str, optional
        The header's columns (exauq's order when not given).
    """

    def __init__(self, input_dim: int, cols: Optional[list[str]] = None):
        self.input_dim = input_dim
        self.set_columns(header_columns(input_dim) if cols is None else cols)

    def set_columns(self, cols: list[str]) -> None:
        """Use the columns of a header (any order of exauq's columns)."""
        d = self.input_dim
        self.cols = list(cols)
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
        self.header_line = csv_text([cols])

    # ---- reading ------------------------------------------------------------------------

    def _coords(self, f: list[str], where: str, lineno: int) -> tuple:
        try:
            coords = tuple([float(f[i]) for i in self._in_idx])
            if math.isfinite(sum(coords)):  # nan and inf propagate
                return coords
        except (ValueError, OverflowError):
            pass
        # Say which one is wrong.
        return tuple(_finite(f[i], f"Input_{k}", where, lineno)
                     for k, i in enumerate(self._in_idx, start=1))

    def record_from_fields(self, f: list[str], where: str, lineno: int) -> LogRecord:
        """The record of one main-file line's fields."""
        ncols = len(self.cols)
        if len(f) != ncols:
            raise bad_line(where, lineno, f"has {len(f)} fields but the header has {ncols}")
        coords = self._coords(f, where, lineno)
        s = f[self._out_i]
        output = None if s == "" else _finite(s, "Output", where, lineno)
        job_id = f[self._id_i]
        if not (job_id.isascii() and job_id.isdigit()):
            raise bad_line(where, lineno, f"Job_ID is {excerpt(job_id)}, not a job id (digits only)")
        s = f[self._st_i]
        status = STATUS_BY_VALUE.get(s)
        if status is None:
            raise bad_line(
                where,
                lineno,
                f"Job_Status is {excerpt(s)}, not one of {', '.join(STATUS_BY_VALUE)}",
            )
        s = f[self._lv_i]
        try:
            level = int(s)
        except ValueError:
            raise bad_line(where, lineno, f"Job_Level is {excerpt(s)}, not a whole number") from None
        return LogRecord(job_id, coords, output, status, level, f[self._if_i])

    def parse_main_lines(self, text: str, first_lineno: int, where: str):
        """Yield (lineno, record, line text or None) for the complete lines in ``text``.

        ``text`` ends with a line break. The line text (normalised to CRLF) is given
        for single-line records, for reuse when the file is rewritten."""
        lines = text.split("\n")
        lines.pop()  # text ends with "\n"
        if '"' not in text:
            make = self.record_from_fields
            lineno = first_lineno - 1
            for line in lines:
                lineno += 1
                if line and line[-1] == "\r":
                    line = line[:-1]
                if not line:
                    continue
                yield lineno, make(line.split(","), where, lineno), line
            return
        yield from self._parse_quoted_lines(lines, first_lineno, where)

    def _parse_quoted_lines(self, lines: list[str], first_lineno: int, where: str):
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
                raise bad_line(where, first_lineno + before, f"is not valid CSV ({exc})")
            lineno = first_lineno + before
            if not fields:
                continue
            raw = None
            if counter[0] == before + 1:  # a one-line record: keep its text
                raw = lines[before]
                raw = raw[:-1] if raw.endswith("\r") else raw
            yield lineno, self.record_from_fields(fields, where, lineno), raw

    def fast_main(self, body: str, line_breaks: Optional[int] = None):
        """Parse the record lines column by column (the common case: CRLF, no quotes,
        no blank line, nothing wrong). None when the per-line parser must do it (it
        also gives the precise error). ``line_breaks``: ``body.count("\n")`` when the
        caller knows it."""
        if '"' in body:
            return None
        nc = len(self.cols)
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
            parsed = self._fast_columns(columns)
        except (ValueError, KeyError, OverflowError):
            return None
        ids = columns[self._id_i]  # (the caller checks that none repeats)
        joined = "".join(ids)
        if parsed is None or not (joined.isascii() and joined.encode().isdigit()) or "" in ids:
            return None
        return (ids, *parsed, columns[self._if_i])

    def _fast_columns(self, columns: list[list[str]]):
        """(coords, outputs, statuses, levels) of the main file's columns; None (or
        ValueError, KeyError) when a value is wrong."""
        xs = [list(map(float, columns[i])) for i in self._in_idx]
        if not math.isfinite(sum(map(sum, xs))):  # nan and inf propagate
            return None
        outs = [float(v) if v else None for v in columns[self._out_i]]
        if not math.isfinite(sum([v for v in outs if v is not None])):
            return None
        statuses = list(map(STATUS_BY_VALUE.__getitem__, columns[self._st_i]))
        levels = parse_each(int, columns[self._lv_i])
        return list(zip(*xs)), outs, statuses, levels

    def parse_line(self, line: str, where: str, lineno: int) -> LogRecord:
        """The record of one main-file line (without its line break)."""
        if '"' in line:
            try:
                fields = next(csv.reader([line]))
            except (csv.Error, StopIteration) as exc:
                raise bad_line(where, lineno, f"is not valid CSV ({exc})") from None
        else:
            fields = line.split(",")
        return self.record_from_fields(fields, where, lineno)

    def split_main(self, data: bytes, where: str):
        """Split a main file: (cols or None, body text, body first line number, end of
        complete part, torn tail bytes, header unterminated). Checks the header."""
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
            check_header(cols, self.input_dim, where)
            return cols, "", 2, len(data), b"", True
        try:
            text = data[:end].decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            lineno = data.count(b"\n", 0, exc.start) + 1
            raise LogFormatError(
                f"{where} line {lineno}: is not UTF-8 text; fix or remove that line"
            ) from None
        nl = text.index("\n")
        cols = _header_cols(text[:nl].rstrip("\r"))
        check_header(cols, self.input_dim, where)
        return cols, text[nl + 1:], 2, end, tail, False

    # ---- writing ------------------------------------------------------------------------

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

    def format_line(self, rec: LogRecord) -> str:
        """The record's main-file line (without its CRLF), exactly as exauq (csv.writer,
        str()) writes it."""
        name = rec.interface_name or ""
        fields = self._file_fields(rec)
        if _NEEDS_QUOTING.search(name):
            return csv_text([fields])[:-2]
        return ",".join(fields)


# ---- the meta file ----------------------------------------------------------------------


class MetaInfo:
    """What a meta file's header says, and whether the file is whole."""

    __slots__ = ("version", "gen", "records", "lines", "got", "problem")

    def __init__(self, version: str, gen: Optional[str] = None, records: Optional[int] = None,
                 lines: Optional[int] = None, problem: Optional[str] = None):
        self.version = version
        self.gen = gen  # (version 3) the compaction that wrote it
        self.records = records  # (version 3) the records of the main file it goes with
        self.lines = lines  # (version 3) the lines that follow the header
        self.got = 0  # the complete lines read
        # "cut": fewer lines than the header says (or a header cut short); "empty"
        self.problem = problem


class MetaColumns:
    """A meta file read into columns, one list per field in the file's order (see
    :func:`parse_meta`)."""

    __slots__ = ("applied", "ids", "created", "changed", "reason", "resubmit_of",
                 "resubmitted_as", "history", "lines", "info")

    def __init__(self, info: MetaInfo, applied: int = 0, columns=None, lines=()):
        self.info = info
        self.applied = applied  # the last journal row the snapshot holds
        (self.ids, self.created, self.changed, self.reason, self.resubmit_of,
         self.resubmitted_as, self.history) = columns or ([], [], [], [], [], [], [])
        self.lines = lines  # the raw lines, for a compaction to write again

    def extras(self) -> tuple:
        """The columns created..history, in the order of LogRecord's fields."""
        return (self.created, self.changed, self.reason, self.resubmit_of,
                self.resubmitted_as, self.history)


def _version3_header(data: bytes) -> tuple[Optional[MetaInfo], Optional[bytes]]:
    """(info, data to read): info None for a file older than version 3; data None when
    its header is cut short."""
    if (META_MAGIC + ",3,").encode().startswith(data):  # cut inside its first field
        return MetaInfo("3", problem="cut"), None
    if not data.startswith(META_MAGIC.encode() + b",3,"):
        # Written atomically; accept a missing terminator.
        return None, (data if data.endswith(b"\n") else data + b"\r\n")
    head = data[:data.find(b"\n") + 1]
    fields = head.decode("utf-8", "replace").rstrip("\r\n").split(",")
    if not head or len(fields) != 6 or not all(
            f.isdigit() for f in (fields[2], fields[4], fields[5])):
        return MetaInfo("3", problem="cut"), None
    info = MetaInfo("3", fields[3], int(fields[4]), int(fields[5]))
    if not data.endswith(b"\r\n"):
        info.problem = "cut"
        data = data[:data.rfind(b"\n") + 1]  # read the complete lines
    return info, data


def _crlf_lines(text: str) -> list[str]:
    """The lines of ``text`` (which ends with a line break), without line breaks."""
    lines = text.split("\r\n")
    if len(lines) != text.count("\n") + 1:  # not all CRLF
        lines = [line.rstrip("\r") for line in text.split("\n")]
    lines.pop()
    return lines


def _meta_first_line(lines: list[str], info: Optional[MetaInfo], where: str):
    """(info, applied) of the meta file's first line."""
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
    try:
        applied = int(first[2])
    except ValueError:
        raise LogFormatError(
            f"{where} line 1: sequence {excerpt(first[2])} is not a number; delete the "
            "file (only simjobs' extras are lost)"
        ) from None
    return (MetaInfo(first[1]) if info is None else info), applied


def parse_meta(data: bytes, where: str) -> MetaColumns:
    """Read the meta file ``where`` (holding ``data``) into columns.

    The histories are checked but left packed (see LogRecord), each decoded when read.

    A version 3 file ends with a line break and its header names how many lines
    follow: one cut short is read up to its last complete line and marked "cut" in
    ``info`` (the caller opens the log read-only)."""
    info, data = _version3_header(data)
    if data is None:
        return MetaColumns(info)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LogFormatError(
            f"{where}: is not UTF-8 text; delete it (only simjobs' extras are lost)"
        ) from None
    lines = _crlf_lines(text)
    info, applied = _meta_first_line(lines, info, where)
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
        return MetaColumns(info, applied)
    try:
        columns = _meta_columns(text, lines)
    except (ValueError, KeyError, IndexError):
        _raise_bad_meta_line(lines, where)
        raise
    return MetaColumns(info, applied, columns, lines)


def _meta_columns(text: str, lines: list[str]) -> tuple:
    """The 7 columns ids..history of the meta lines (ValueError, KeyError or IndexError
    when one is unreadable)."""
    n = len(lines)
    if '"' not in text and set(map(str.count, lines, repeat(","))) == {7}:
        flat = ",".join(lines).split(",")
        columns = [flat[i::8] for i in range(8)]
        packed = lines  # each ends with ",<codes>,<times>": a packed history
    else:
        rows = list(csv.reader(lines))
        if set(map(len, rows)) != {8}:
            raise ValueError("field count")
        columns = list(map(list, zip(*rows)))
        packed = None
    ids, created, changed, reason, rof, ras, codes, times = columns
    check_histories(codes, times)
    # Decoded by each record when read.
    hist = packed if packed is not None else pack_histories(codes, times)
    created, changed = _meta_times(created, changed, codes, times)
    reason = list(map(dec_text, reason)) if any(reason) else [None] * n
    rof = list(map(dec_id, rof)) if any(rof) else [None] * n
    # (None: LogRecord makes each an empty list of its own.)
    ras = list(map(dec_links, ras)) if any(ras) else [None] * n
    return ids, created, changed, reason, rof, ras, hist


def _meta_times(created: list[str], changed: list[str], codes: list[str],
                times: list[str]) -> tuple[list, list]:
    """The created and changed columns, "^" and "$" standing for the first and last
    time of each history."""
    n = len(codes)
    if created.count("^") == n and changed.count("$") == n:
        # The usual case: created is the first time of the history and changed the
        # last; each record parses them from its packed history when read.
        if "" in times:
            _raise_value_error()
        return [FIRST_TIME] * n, [LAST_TIME] * n
    counts = list(map(len, codes))
    joined = ";".join(filter(None, times))
    flat_t = list(map(float, joined.split(";"))) if joined else []
    starts = list(accumulate(counts, initial=0))
    return (
        [_meta_time(c, "^", flat_t, a, k) for c, a, k in zip(created, starts, counts)],
        [_meta_time(c, "$", flat_t, a + k - 1, k) for c, a, k in zip(changed, starts, counts)],
    )


def _meta_time(text: str, ref: str, times: list[float], at: int, count: int):
    """A created or changed field: ``ref`` for ``times[at]`` (a time of the record's
    history, which has ``count`` times), else a time or ""."""
    if text != ref:
        return float(text) if text else None
    if not count:
        _raise_value_error()
    return times[at]


def _raise_value_error():
    raise ValueError("a ^/$ time reference without history")


def _raise_bad_meta_line(lines: list[str], where: str) -> None:
    """Raise the error naming the first unreadable meta line (if one is)."""
    for row in csv.reader(lines):
        try:
            dec_meta_row(row)
        except (ValueError, KeyError, IndexError) as exc:
            raise LogFormatError(
                f"{where}: unreadable line for job {excerpt(row[0]) if row else '?'} "
                f"({excerpt(exc, quote=False)}); delete that line (only simjobs' "
                "extras are lost)"
            ) from None


def aligned_extras(ids: Sequence[str], meta: Optional[MetaColumns]):
    """The meta columns created..history in the order of ``ids`` (empty extras for
    jobs the meta file does not mention)."""
    n = len(ids)
    if meta is None or not meta.ids:
        none = [None] * n
        return none, none, none, none, none, [NO_HISTORY] * n
    meta_ids = meta.ids
    if len(ids) == len(meta_ids) and list(ids) == meta_ids:
        return meta.extras()
    pos = {job_id: k for k, job_id in enumerate(meta_ids)}
    idx = [pos.get(job_id) for job_id in ids]
    extras = meta.extras()
    out = [[None if k is None else col[k] for k in idx] for col in extras[:5]]
    out.append([NO_HISTORY if k is None else extras[5][k] for k in idx])
    return out


# ---- the journal ------------------------------------------------------------------------


def journal_head(data: bytes, where: str) -> tuple[str, Optional[str], int]:
    """(state, generation, length) of the header line the journal ``where`` (holding
    ``data``) starts with: state "empty", "cut" (a header without its line break),
    "legacy" (a journal written before journals had one) or "ok"."""
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
            f"{where} line 1: is not a journal header; the journal is "
            "damaged: restore it from a backup, or run 'simjobs repair' on the log"
        )
    return "ok", fields[2], end


def _is_journal_row(fields: list[str]) -> bool:
    kind = fields[1] if len(fields) > 1 else ""
    return not (
        len(fields) < 5
        or not fields[0].isdigit()
        or fields[-1] not in ("", ".")
        or (kind == "n" and len(fields) != 11)
        or (kind == "c" and len(fields) % 2 == 0)
        or kind not in ("n", "c")
    )


def _journal_damaged(where: str, lineno: int, what: str) -> LogFormatError:
    return LogFormatError(
        f"{where} line {lineno}: {what}; the journal is damaged: move it away to open the "
        "log without its unsaved changes"
    )


def parse_journal(data: bytes, where: str, base_lineno: int = 1):
    """Split the bytes of the journal ``where`` into complete batches.

    Returns (rows, end, tail_lines, torn): ``rows`` are (lineno, fields) of the
    complete batches, ``end`` the byte offset after the last complete batch,
    ``tail_lines`` how many complete lines follow it (an unfinished batch) and
    ``torn`` the bytes of an incomplete last line."""
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
            raise _journal_damaged(where, lineno, "is not UTF-8 text") from None
        try:
            fields = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            fields = []
        if not _is_journal_row(fields):
            raise _journal_damaged(where, lineno, "is not a journal row")
        pending.append((lineno, fields))
        if fields[-1] == ".":
            rows.extend(pending)
            pending = []
            end = pos
    return rows, end, len(pending), torn


def apply_row(layout: MainLayout, where: str, lineno: int, f: list[str], records: dict,
              lines=None, meta_lines=None, redo: Optional[list] = None) -> bool:
    """Apply one journal row (line ``lineno`` of the journal ``where``) to ``records``;
    True if it changed anything.

    ``lines`` and ``meta_lines`` (line caches, see :class:`.csv_compact.LineCache`)
    forget the lines the row changes, and learn the main-file line of a new record;
    ``redo`` collects the new records (whose line may be missing from the main file)."""
    try:
        if f[1] == "n":
            _apply_new(layout, where, lineno, f, records, lines, meta_lines, redo)
            return True
        return _apply_change(f, records, lines, meta_lines)
    except LogFormatError:
        raise
    except (ValueError, KeyError, IndexError) as exc:
        raise LogFormatError(
            f"{where} line {lineno}: unreadable row ({exc}); the journal is "
            "damaged: move it away to open the log without its unsaved changes"
        ) from None


def _apply_new(layout, where, lineno, f, records, lines, meta_lines, redo) -> None:
    job_id = f[2]
    rec = records.get(job_id)
    if rec is None:
        line = unesc(f[4])
        rec = layout.parse_line(line, where, lineno)
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


def _apply_change(f, records, lines, meta_lines) -> bool:
    job_id = f[2]
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
        elif code in ("o", "i"):
            if code == "o":
                rec.output = None if value == "" else float(value)
            else:
                rec.interface_name = unesc(value)
            if lines is not None:
                lines.drop(job_id)
        elif code in ("r", "a"):
            if code == "r":
                rec.reason = dec_text(value)
            else:
                rec.resubmitted_as = dec_links(value)
            if meta_lines is not None:
                meta_lines.drop(job_id)
        else:
            raise ValueError(f"unknown field code {code!r}")
    return True
