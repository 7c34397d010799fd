"""Compaction of the CSV log: the whole state written as a new snapshot (main file,
meta file and an empty journal of a new generation).

:class:`LineCache` keeps each record's unchanged lines as read or written, so that a
compaction formats only the records that changed since; :class:`Snapshot` makes the
three files' contents and writes them as temporary files, which the store then moves
into place one by one (see :meth:`.csv_store.CsvStore._compact`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Optional

from .csv_codec import csv_text, journal_header, meta_header, meta_row
from .csv_files import TMP_SUFFIX, CsvPaths, new_generation, write_new_file
from .csv_main import MainLayout


class LineCache:
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
        """Forget the line of ``job_id`` (it changed: make it again)."""
        self._changes[job_id] = None

    def _all_texts(self) -> Sequence[str]:
        if callable(self._texts):
            self._texts = self._texts()
        return self._texts

    def get(self, job_id: str) -> Optional[str]:
        """The line of ``job_id``, or None when none is kept."""
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


def _main_lines(recs: list, parts: list[Optional[str]], layout: MainLayout) -> list[str]:
    """``parts`` with the missing lines formatted."""
    if None in parts:
        fmt = layout.format_line
        for k, line in enumerate(parts):
            if line is None:
                parts[k] = fmt(recs[k])
    return parts


def _meta_lines(recs: list, metas: list[Optional[str]]) -> list[str]:
    """``metas`` with the missing lines made ("" for a record without extras)."""
    if None not in metas:
        return metas
    rows = []
    new_at = []
    for k, text in enumerate(metas):
        if text is None:
            row = meta_row(recs[k])
            if row is None:
                metas[k] = ""
            else:
                rows.append(row)
                new_at.append(k)
    if rows:
        # Meta fields are escaped: one row per CRLF-terminated line.
        for k, text in zip(new_at, csv_text(rows).split("\r\n")):
            metas[k] = text
    return metas


class Snapshot:
    """The contents of the three files of a compaction, of a new generation.

    Parameters
    ----------
    records : dict
        All the records, by job id.
    lines, meta_lines : LineCache
        Their main-file and meta lines kept since the last load or compaction.
    layout : MainLayout
        The main file's columns.
    seq : int
        The last journal row the snapshot holds.

    Attributes
    ----------
    lines, meta_lines : LineCache
        The lines written, for the next compaction.
    """

    def __init__(self, records: dict, lines: LineCache, meta_lines: LineCache,
                 layout: MainLayout, seq: int):
        ids = list(records)
        recs = list(records.values())
        parts = _main_lines(recs, lines.aligned(ids), layout)
        metas = _meta_lines(recs, meta_lines.aligned(ids))
        self.lines = LineCache(ids, parts)
        self.meta_lines = LineCache(ids, metas)
        meta_body = [text for text in metas if text]
        self.gen = new_generation()
        # The header names the generation and what the files hold, so that a reader
        # tells these files from the ones it loaded and a cut from an end (see
        # csv_load.damage).
        meta_text = meta_header(seq, self.gen, len(ids), len(meta_body))
        if meta_body:
            meta_text += "\r\n".join(meta_body) + "\r\n"
        main_text = layout.header_line
        if parts:
            main_text += "\r\n".join(parts) + "\r\n"
        self.main_data = main_text.encode()
        self.meta_data = meta_text.encode()
        self.journal_data = journal_header(self.gen)

    def write_temporaries(self, paths: CsvPaths, mode: int) -> None:
        """Write (and fsync) the three files beside the log, as ``<name>.tmp``."""
        write_new_file(paths.path + TMP_SUFFIX, self.main_data, mode)
        write_new_file(paths.meta + TMP_SUFFIX, self.meta_data, mode)
        write_new_file(paths.journal + TMP_SUFFIX, self.journal_data, mode)
