"""The journal of the CSV log: its header line (:func:`journal_head`), its rows in
complete batches (:func:`parse_journal`), and a row applied to the records
(:func:`apply_row`).
"""

from __future__ import annotations

import csv
from typing import Optional

from ..errors import LogFormatError
from ..records import append_history
from .csv_codec import JOURNAL_MAGIC, STATUS_BY_VALUE, dec_links, dec_text, set_extras, unesc
from .csv_main import MainLayout


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
        raise _journal_damaged(where, lineno, f"unreadable row ({exc})") from None


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
