"""``simjobs completion SHELL``: the shell's completion script."""

from __future__ import annotations

import argparse
import sys

from .errors import EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    """``simjobs completion SHELL``: the shell's completion script, on stdout."""
    import shtab

    from .parser import build_parser  # (which imports this module)

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK
