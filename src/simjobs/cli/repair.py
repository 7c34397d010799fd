"""``simjobs repair``: make a damaged log writable again."""

from __future__ import annotations

import argparse

from .errors import EXIT_OK


def cmd_repair(args: argparse.Namespace) -> int:
    """``simjobs repair LOG``: back a damaged log's files up, then keep what is left."""
    from ..core.repair import repair_log

    result = repair_log(args.log)
    if result.damage is None:
        print(f"{args.log}: whole ({result.records} records); nothing to repair")
        return EXIT_OK
    print(f"{args.log}: {result.damage}")
    print(f"backed up to {result.backup}; the log now holds {result.records} records "
          "and can be written again")
    return EXIT_OK
