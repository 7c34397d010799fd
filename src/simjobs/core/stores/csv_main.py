"""The main file of the CSV log (exauq's format): its header, and the parsing and
formatting of its lines (:class:`MainLayout`).

Everything here turns text already read into records and back, and says which line of
the file is wrong when one is (:class:`LogFormatError`).
"""

from __future__ import annotations

import csv
import math
import re
from typing import Optional

from ..errors import LogFormatError, NotALogError, excerpt
from ..records import LogRecord
from .csv_codec import FIXED_COLUMNS, STATUS_BY_VALUE, csv_text, header_columns, parse_each

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
