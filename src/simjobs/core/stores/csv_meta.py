"""The meta file of the CSV log (simjobs' extras as of the last compaction): read into
columns (:func:`parse_meta`), in the log's order (:func:`aligned_extras`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from itertools import accumulate, repeat
from typing import Optional

from ..errors import LogFormatError, excerpt
from ..records import FIRST_TIME, LAST_TIME
from .csv_codec import (
    META_MAGIC, META_VERSION, META_VERSIONS, NO_HISTORY, check_histories, dec_id,
    dec_links, dec_meta_row, dec_text, pack_histories,
)


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
