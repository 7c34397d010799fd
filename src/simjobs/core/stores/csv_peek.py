"""A peek at the newest records of a CSV log, without loading it (see
:func:`peek_csv`)."""

from __future__ import annotations

import csv
import os
from typing import Optional

from ..errors import LogFormatError, SimjobsError
from ..records import LogRecord
from .csv_codec import META_MAGIC, dec_meta_row
from .csv_files import CsvPaths, close_fd
from .csv_load import read_consistent
from .csv_journal import apply_row
from .csv_main import MainLayout, check_header

_END_MARKS = (b",.\r\n", b",.\n")


def peek_csv(path, input_dim: int, n: int) -> Optional[tuple[list[LogRecord], int]]:
    """The newest ``n`` records of a CSV log (in the log's order) and how many records
    its main file holds, read without loading the log: its last lines, their extras
    from the meta file's last lines, and the journal's rows for them (statuses are as a
    full load gives them). None when that cannot be told cheaply and for sure (quoted
    fields near the end, an unreadable line...): then load the log."""
    paths = CsvPaths(os.fsdecode(path))
    try:
        got = read_consistent(paths)
        if got is None:
            return None
        meta, main, main_fd, journal, journal_fd, _ = got
        close_fd(main_fd)
        close_fd(journal_fd)
        return _Peek(paths, input_dim, main, n).read(meta, journal)
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


class _Peek:
    """The last ``n`` records of a main file, completed from the meta file's last lines
    and the journal (ValueError and the like when something is not as expected)."""

    def __init__(self, paths: CsvPaths, input_dim: int, main: bytes, n: int):
        self.paths = paths
        self.n = n
        self.layout: Optional[MainLayout] = None
        self.records: dict[str, LogRecord] = {}
        self.total = 0
        self._read_main(main, input_dim)

    def _read_main(self, main: bytes, input_dim: int) -> None:
        """The records of the main file's last lines (none when that cannot be done
        cheaply)."""
        header_end = main.find(b"\n") + 1
        end = main.rfind(b"\n") + 1
        if header_end <= 0 or end <= header_end:
            return
        header = main[:header_end].decode("utf-8-sig").rstrip("\r\n")
        if '"' in header:
            return
        cols = header.split(",")
        check_header(cols, input_dim, self.paths.path)
        self.layout = layout = MainLayout(input_dim, cols)
        self.total = main.count(b"\n", header_end, end)
        tail = main[_last_lines_start(main, end, self.n, header_end):end]
        if b'"' in tail:
            return
        records = {}
        for line in tail.decode("utf-8").split("\n")[:-1]:
            line = line.rstrip("\r")
            if line:
                rec = layout.parse_line(line, self.paths.path, 0)
                if rec.job_id in records:
                    return
                records[rec.job_id] = rec
        self.records = records

    def read(self, meta: Optional[bytes], journal: Optional[bytes]
             ) -> Optional[tuple[list[LogRecord], int]]:
        """The newest records and the main file's number of records (None: unknown)."""
        records = self.records
        if not records:
            return None
        ids = list(records)
        # Extras from the meta file (in the log's order, like the main file).
        applied, meta_ids, meta_whole = 0, [], True
        if meta:
            got = self._meta_extras(meta)
            if got is None:
                return None
            applied, meta_ids, meta_whole = got
        resolved = set(meta_ids)
        if journal:
            resolved |= self._journal_rows(journal, applied)
        # A record whose extras were not found: it has none if the meta file was read
        # whole or lists a record before it (same order); otherwise show only the newer
        # records.
        if meta_ids and not meta_whole:
            anchor = ids.index(meta_ids[0]) if meta_ids[0] in records else None
            unknown = [k for k, job_id in enumerate(ids) if job_id not in resolved
                       and (anchor is None or k < anchor)]
            if unknown:
                ids = ids[unknown[-1] + 1:]
        if not ids:
            return None
        return [records[job_id] for job_id in ids], self.total

    def _meta_extras(self, meta: bytes) -> Optional[tuple[int, list[str], bool]]:
        """Set the extras of the records the meta file's last lines list: (the journal
        row its snapshot holds, the ids it lists, whether it was read whole); None when
        it is not a meta file."""
        first_end = meta.find(b"\n") + 1
        first = next(csv.reader([meta[:first_end].decode("utf-8").rstrip("\r\n")]))
        if len(first) < 3 or first[0] != META_MAGIC:
            return None
        applied = int(first[2])
        meta_end = meta.rfind(b"\n") + 1
        meta_start = _last_lines_start(meta, meta_end, 2 * self.n, first_end)
        meta_ids = []
        for row in csv.reader(meta[meta_start:meta_end].decode("utf-8").splitlines()):
            if not row:
                continue
            meta_ids.append(row[0])
            rec = self.records.get(row[0])
            if rec is not None:
                (rec.created, rec.changed, rec.reason, rec.resubmit_of, rec.resubmitted_as,
                 rec.history) = dec_meta_row(row)
        return applied, meta_ids, meta_start <= first_end

    def _journal_rows(self, journal: bytes, applied: int) -> set[str]:
        """Apply the journal rows after the snapshot, of complete batches, for these
        records; the ids of those it adds (with their extras)."""
        jend = max(journal.rfind(mark) + len(mark) if journal.rfind(mark) >= 0 else 0
                   for mark in _END_MARKS)
        wanted = {job_id.encode() for job_id in self.records}
        added = set()
        for lineno, bline in enumerate(journal[:jend].split(b"\n")[:-1], start=1):
            if lineno == 1 and bline.startswith(b"#"):
                continue  # the journal's header
            parts = bline.split(b",", 3)
            if len(parts) < 4 or parts[2] not in wanted or int(parts[0]) <= applied:
                continue
            fields = next(csv.reader([bline.decode("utf-8").rstrip("\r")]))
            apply_row(self.layout, self.paths.journal, lineno, fields, self.records)
            if fields[1] == "n":
                added.add(fields[2])
        return added
