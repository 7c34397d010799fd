"""``simjobs export``: the selected jobs to a CSV or JSON file (the one export the
app uses too)."""

from __future__ import annotations

import argparse

from ..core.text import plural
from ..export import ExportError, ExportExistsError, export_path, format_of, write_export
from .errors import EXIT_OK, CliError
from .filters import select_records
from .logs import read_log
from .output import note


def cmd_export(args: argparse.Namespace) -> int:
    fmt = args.format or format_of(args.file)
    if fmt is None:
        raise CliError(f"cannot tell the format of {args.file!r} from its suffix; "
                       "pass --format csv or --format json")
    try:
        export_path(args.file, fmt, overwrite=args.force)  # before reading the log
        with read_log(args) as (log, config):
            records, _ = select_records(log, args, None)
            dim = log.input_dim if log is not None else (config.input_dim or 0)
        write_export(records, args.file, dim, fmt, overwrite=args.force)
    except ExportExistsError:  # (also one made while the log was read)
        raise CliError(f"{args.file} exists; pass --force to overwrite it") from None
    except ExportError as exc:
        raise CliError(str(exc)) from None
    note(f"wrote {plural(len(records), 'job')} to {args.file} ({fmt})")
    return EXIT_OK
