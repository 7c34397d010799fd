"""The text codecs of the CSV log's files: escaping, floats, texts, ids, resubmission
links, status histories and the meta and journal header lines.

Everything here turns values into the text of one field (or one line) and back; nothing
reads or writes a file (see :mod:`.csv_files`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from itertools import repeat
from operator import add
from typing import Optional

from ..records import (
    HISTORY_CODE, HISTORY_STATUS, LogRecord, decode_links, encode_links, pack_history,
)
from ..types import JobStatus

META_MAGIC = "#simjobs-meta"
META_VERSION = "3"
# Version 2 (before generations and counts) is read, and upgraded by the next writer.
META_VERSIONS = ("2", META_VERSION)
JOURNAL_MAGIC = "#simjobs-journal"
JOURNAL_VERSION = "1"

FIXED_COLUMNS = ("Output", "Job_ID", "Job_Status", "Job_Level", "Interface_Name")
STATUS_BY_VALUE = {s.value: s for s in JobStatus}
NO_HISTORY = pack_history([])  # an empty history, packed (see LogRecord)
_HIST_CODE_SET = frozenset(HISTORY_STATUS)
_HIST_CODE_BYTES = "".join(HISTORY_STATUS).encode()
_CODE_TO_DOT_BYTES = bytes.maketrans(_HIST_CODE_BYTES, b"." * len(_HIST_CODE_BYTES))


def header_columns(input_dim: int) -> list[str]:
    """The columns exauq writes for a log of ``input_dim`` inputs, in its order."""
    return [f"Input_{i}" for i in range(1, input_dim + 1)] + list(FIXED_COLUMNS)


def esc(text: str) -> str:
    """``text`` with backslashes, CR and LF escaped (see :func:`unesc`)."""
    # Journal and meta rows must stay on one physical line, so that a torn write is
    # recognised by its missing line terminator.
    if "\\" in text or "\r" in text or "\n" in text:
        return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    return text


_UNESC = {"\\": "\\", "r": "\r", "n": "\n"}
_UNESC_RE = re.compile(r"\\(.)", re.S)


def unesc(text: str) -> str:
    """The text :func:`esc` escaped."""
    if "\\" not in text:
        return text
    return _UNESC_RE.sub(lambda m: _UNESC.get(m.group(1), m.group(1)), text)


def enc_float(x) -> str:
    """A float or None as a field ("" for None)."""
    return "" if x is None else repr(float(x))


def dec_float(s: str) -> Optional[float]:
    """The float or None of :func:`enc_float`."""
    return None if s == "" else float(s)


def enc_text(x) -> str:
    """A text or None as a field."""
    # None and "" differ: a present text is prefixed with "=".
    return "" if x is None else "=" + esc(x)


def dec_text(s: str) -> Optional[str]:
    """The text or None of :func:`enc_text` (ValueError when malformed)."""
    if s == "":
        return None
    if s[0] != "=":
        raise ValueError(f"text field {s!r} does not start with '='")
    return unesc(s[1:])


def enc_id(x) -> str:
    """A job id or None as a field."""
    return "" if x is None else esc(str(x))


def dec_id(s: str) -> Optional[str]:
    """The job id or None of :func:`enc_id`."""
    return None if s == "" else unesc(s)


def enc_links(x) -> str:
    """A list of resubmission links as a field."""
    # (A log written before links became a list holds one id: the same text.)
    return esc(encode_links(x))


def dec_links(s: str) -> list[str]:
    """The resubmission links of :func:`enc_links`."""
    return decode_links(unesc(s))


def enc_history(history) -> str:
    """A status history as one field: ``<letter><time>`` pairs joined by ``;``."""
    return ";".join(HISTORY_CODE[s] + repr(float(t)) for s, t in history)


def dec_history(s: str) -> list:
    """The status history of :func:`enc_history`."""
    if not s:
        return []
    return [(HISTORY_STATUS[p[0]], float(p[1:])) for p in s.split(";")]


def _has_no_extras(rec: LogRecord) -> bool:
    return (rec.created is None and rec.changed is None and rec.reason is None
            and rec.resubmit_of is None and not rec.resubmitted_as)


def meta_row(rec: LogRecord) -> Optional[list[str]]:
    """The meta row of a record (None when it has no extras).

    ``job_id, created, changed, reason, resubmit_of, resubmitted_as, codes, times``:
    the history as its status letters and its times (``;``-separated); ``created`` is
    ``^`` when it equals the first history time and ``changed`` is ``$`` when it equals
    the last (the usual case), so that reading parses each time once."""
    h = rec.history
    if not h and _has_no_extras(rec):
        return None
    created, changed = rec.created, rec.changed
    return [
        rec.job_id,
        "^" if h and created is not None and created == h[0][1] else enc_float(created),
        "$" if h and changed is not None and changed == h[-1][1] else enc_float(changed),
        enc_text(rec.reason),
        enc_id(rec.resubmit_of),
        enc_links(rec.resubmitted_as),
        *encode_history(h),
    ]


def dec_meta_row(row: Sequence[str]) -> tuple:
    """(created, changed, reason, resubmit_of, resubmitted_as, history) of a meta row;
    ValueError/KeyError/IndexError when it is unreadable."""
    if len(row) != 8:
        raise ValueError(f"{len(row)} fields, not 8")
    codes, times = row[6], row[7]
    ts = [float(t) for t in times.split(";")] if times else []
    if len(ts) != len(codes):
        raise ValueError("history codes and times differ in number")
    history = [(HISTORY_STATUS[c], t) for c, t in zip(codes, ts)]
    created = ts[0] if row[1] == "^" else dec_float(row[1])
    changed = ts[-1] if row[2] == "$" else dec_float(row[2])
    return created, changed, dec_text(row[3]), dec_id(row[4]), dec_links(row[5]), history


def encode_history(history) -> tuple[str, str]:
    """A status history as (status letters, ``;``-separated time reprs)."""
    return (
        "".join([HISTORY_CODE[st] for st, _ in history]),
        ";".join([repr(float(t)) for _, t in history]),
    )


def _times_look_whole(codes: Sequence[str], times: Sequence[str]) -> bool:
    """True when the times are certainly well formed, tested on the text as a whole
    (parsing 100,000s of floats only to check them costs several times more): each
    time is digits "." digits (the repr of epoch seconds), and each history has as many
    as it has letters. False: check them one by one."""
    # Without its digits, each time is "."; so, without the digits, the ";" must
    # separate non-empty parts holding no "..", and without the ";" too, each history
    # must read "..." for "PSR". (A time that is "." alone is checked on the times as
    # they are.)
    joined = "|".join(times)
    if not joined.isascii():
        return False
    joined = joined.encode()
    stripped = joined.translate(None, b"0123456789")
    return (
        stripped.replace(b";", b"") == "|".join(codes).encode().translate(_CODE_TO_DOT_BYTES)
        and b".." not in stripped
        and b";;" not in stripped
        and b"|;" not in stripped
        and b";|" not in stripped
        and not stripped.startswith(b";")
        and not stripped.endswith(b";")
        and b";.;" not in b";" + joined.replace(b"|", b";") + b";"  # a time "." alone
    )


def check_histories(codes: Sequence[str], times: Sequence[str]) -> None:
    """Check many encoded histories at once (see :func:`encode_history`): every letter
    a status code, every time a float, as many times as letters in each; ValueError or
    KeyError when one is malformed.

    Histories that pass can be handed to LogRecords packed (:func:`pack_histories`),
    to be decoded only when read."""
    all_codes = "".join(codes)
    # (On bytes where the text is ASCII: bytes.translate is several times faster.)
    if not all_codes.isascii() or all_codes.encode().translate(None, _HIST_CODE_BYTES):
        raise KeyError(next(c for c in all_codes if c not in _HIST_CODE_SET))
    if _times_look_whole(codes, times):
        return
    # Per record: letters == separators + 1, or no letters and no times.
    if list(map(len, codes)) != list(
        map(add, map(str.count, times, repeat(";")), map(bool, times))
    ):
        raise ValueError("history codes and times differ in number")
    joined = ";".join(filter(None, times))
    if joined:
        list(map(float, joined.split(";")))


def pack_histories(codes: Sequence[str], times: Sequence[str]) -> list[str]:
    """The histories checked by :func:`check_histories`, packed for LogRecord."""
    return list(map(",".join, zip(codes, times)))


def parse_each(parse, texts: Sequence[str]) -> list:
    """``list(map(parse, texts))``, parsing each distinct text once: times repeat (a
    batch of records shares its time), levels too."""
    distinct = set(texts)
    return list(map(dict(zip(distinct, map(parse, distinct))).__getitem__, texts))


def set_extras(rec: LogRecord, fields: Sequence[str]) -> None:
    """Set a record's extras from the 6 encoded fields created..history."""
    rec.created = dec_float(fields[0])
    rec.changed = dec_float(fields[1])
    rec.reason = dec_text(fields[2])
    rec.resubmit_of = dec_id(fields[3])
    rec.resubmitted_as = dec_links(fields[4])
    rec.history = dec_history(fields[5])


def csv_text(rows) -> str:
    """``rows`` as CSV text (Python ``csv`` defaults: CRLF line ends)."""
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def journal_header(gen: str) -> bytes:
    """A journal's first line: the generation of the compaction that started it."""
    return f"{JOURNAL_MAGIC},{JOURNAL_VERSION},{gen}\r\n".encode()


def meta_header(seq: int, gen: str, records: int, lines: int) -> str:
    """A meta file's first line: the last journal row its snapshot holds, the
    compaction's generation, the records of the main file and the lines that follow."""
    return csv_text([[META_MAGIC, META_VERSION, seq, gen, records, lines]])
