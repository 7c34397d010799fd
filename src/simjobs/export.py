"""Export log records to a CSV or JSON file: the one export of ``simjobs export`` and the
app's log view (and ``simjobs status --json``'s record objects).

Pure functions with no Textual in them, importing only the core.

- CSV: exauq's log columns first, exactly as exauq writes its log
  (``Input_1..Input_d,Output,Job_ID,Job_Status,Job_Level,Interface_Name``, numbers by
  ``str()``, CRLF), so that exauq's reader and ``simjobs submit --csv`` read the file;
  then simjobs' extras (:data:`EXTRA_COLUMNS`).
- JSON: a list of :func:`record_json` objects, the keys of ``simjobs status --json``.
- Times: ISO 8601 in UTC with milliseconds and the offset written ``+00:00``
  (:func:`iso_time`): that is what :meth:`datetime.datetime.isoformat` writes and what
  :meth:`datetime.datetime.fromisoformat` reads on every Python 3 (the ``Z`` form only
  from 3.11 on), and spreadsheets, pandas and JavaScript's ``Date`` read it too.
- Files are written by :func:`simjobs.core.files.atomic_write`: the whole file or none,
  with the mode ``open`` gives (0666 less the umask).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional

from simjobs.core.files import atomic_write
from simjobs.core.filesystems import os_reason
from simjobs.core.records import LogRecord
from simjobs.core.stores.csv_store import header_columns

#: The formats, by the file name's extension.
FORMATS = ("csv", "json")
#: simjobs' columns after exauq's, in the CSV export. The links of a resubmission are
#: job ids; a job resubmitted several times lists its new ids separated by ``;``.
EXTRA_COLUMNS = ["Created", "Changed", "Reason", "Resubmit_Of", "Resubmitted_As"]


class ExportError(ValueError):
    """An export that cannot be done; the message is one line naming the fix."""


class ExportExistsError(ExportError):
    """The file to export to exists and overwriting was not asked for.

    Attributes
    ----------
    path : pathlib.Path
        The existing file (front ends word their own way to confirm an overwrite).
    """

    def __init__(self, path: Path):
        super().__init__(f"{path} already exists; confirm to overwrite it or choose another "
                         "path")
        self.path = path


def iso_time(t: Optional[float]) -> Optional[str]:
    """``t`` (epoch seconds) as ISO 8601 UTC, e.g. ``2026-12-04T20:51:56.123+00:00``;
    None stays None."""
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(
        timespec="milliseconds")


def record_json(r: LogRecord) -> dict[str, Any]:
    """Every field of a record as JSON-ready values (times by :func:`iso_time`): one
    object of ``simjobs status --json`` and of a JSON export."""
    return {
        "job_id": r.job_id, "input": list(r.coords), "output": r.output,
        "status": r.status.value, "level": r.level, "interface_name": r.interface_name or None,
        "created": iso_time(r.created), "changed": iso_time(r.changed), "reason": r.reason,
        "resubmit_of": r.resubmit_of, "resubmitted_as": list(r.resubmitted_as),
        "history": [[status.value, iso_time(t)] for status, t in r.history],
    }


def json_text(records: Iterable[LogRecord]) -> str:
    """The JSON export of ``records``: a list of :func:`record_json` objects."""
    return json.dumps([record_json(r) for r in records], indent=2) + "\n"


def csv_text(records: Iterable[LogRecord], input_dim: int) -> str:
    """The CSV export of ``records``: exauq's columns as exauq writes them, then
    :data:`EXTRA_COLUMNS`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header_columns(input_dim) + EXTRA_COLUMNS)
    for r in records:
        writer.writerow([
            *map(str, r.coords), "" if r.output is None else str(r.output),
            r.job_id, r.status.value, r.level, r.interface_name or "",
            iso_time(r.created) or "", iso_time(r.changed) or "", r.reason or "",
            r.resubmit_of or "", ";".join(r.resubmitted_as),
        ])
    return buffer.getvalue()


def export_text(records: Iterable[LogRecord], input_dim: int, fmt: str) -> str:
    """The whole export of ``records`` in ``fmt`` ("csv" or "json")."""
    if fmt == "csv":
        return csv_text(records, input_dim)
    if fmt == "json":
        return json_text(records)
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


def format_of(path: str | os.PathLike) -> Optional[str]:
    """"csv" or "json" from the path's extension (any case), else None."""
    suffix = Path(path).suffix.lower()[1:]
    return suffix if suffix in FORMATS else None


def export_path(path: str | os.PathLike, fmt: Optional[str] = None, *,
                overwrite: bool = False) -> tuple[Path, str]:
    """Check where an export would go, without writing: the target and its format.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write; ``~`` is expanded, a relative path is from the working
        directory.
    fmt : str, optional
        "csv" or "json"; by default from the path's extension.
    overwrite : bool
        Whether an existing file may be replaced.

    Raises
    ------
    ExportError
        If the path is empty, the format unknown, the path a directory, or its directory
        missing.
    ExportExistsError
        If the file exists and ``overwrite`` is false.
    """
    text = str(path).strip()
    if not text:
        raise ExportError("enter the path of the file to export to, ending in .csv or .json")
    target = Path(text).expanduser()
    fmt = fmt or format_of(target)
    if fmt not in FORMATS:
        raise ExportError(f"{target.name or text!r} does not end in .csv or .json; name "
                          "the file ...csv or ...json to choose the format")
    if target.is_dir():
        raise ExportError(f"{text} is a directory; give a file name ending in .{fmt}")
    if not target.parent.is_dir():
        raise ExportError(f"the directory {target.parent} does not exist; create it or "
                          "choose another path")
    if not overwrite and (target.exists() or target.is_symlink()):
        raise ExportExistsError(target)
    return target, fmt


def write_export(records: Sequence[LogRecord], path: str | os.PathLike, input_dim: int,
                 fmt: Optional[str] = None, *, overwrite: bool = False) -> Path:
    """Write ``records`` to ``path`` as CSV or JSON (see the module docstring).

    The file is written aside and renamed into place, so a failed export leaves nothing
    behind and never a half-written file; it gets the mode the umask allows. Without
    ``overwrite`` an existing file is never replaced, even one made meanwhile.

    Parameters
    ----------
    records : Sequence[LogRecord]
        What to export, in the order to write.
    path : str or os.PathLike
        The file to write (see :func:`export_path`).
    input_dim : int
        The number of input coordinates (the CSV's ``Input_k`` columns).
    fmt : str, optional
        "csv" or "json"; by default from the path's extension.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ExportError
        As :func:`export_path`, or when the file cannot be written (the reason named).
    """
    target, fmt = export_path(path, fmt, overwrite=overwrite)
    text = export_text(records, input_dim, fmt)
    try:
        atomic_write(target, text, replace=overwrite)
    except FileExistsError:
        raise ExportExistsError(target) from None
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {os_reason(exc)}; check the directory's "
                          "permissions and free space, or choose another path") from None
    return target
