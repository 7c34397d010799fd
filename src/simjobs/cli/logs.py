"""The config and the log a command works on: found, checked (a path that names no
log is one line naming the fix), opened read-only."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..core.filesystems import os_reason
from ..core.log import SimulationsLog
from ..core.stores import is_sqlite_path
from .errors import EXIT_FAILURE, CliError

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

# The config (and through it every interface module) is imported where used: not for
# ``simjobs app --watch``, whose first paint waits for every import.


SQLITE_MAGIC = b"SQLite format 3\x00"



def command_config(args: argparse.Namespace, readonly: bool = False) -> Config:
    if args.config and Path(args.config).expanduser().is_dir():
        raise CliError(f"{args.config} is a directory, not a config file; pass the TOML "
                       "file itself (e.g. simjobs.toml)")
    from ..config import find_config, load_config

    return load_config(find_config(args.config), readonly=readonly)



def _first_line_is_text(head: bytes) -> bool:
    """True when the first line of ``head`` (a file's first bytes) is UTF-8 text; a
    character cut at the end of ``head`` does not count against it."""
    line = head.split(b"\n", 1)[0]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(line, final=b"\n" in head)
    except UnicodeDecodeError:
        return False
    return True



def check_log_file(path: Path, shown: Optional[str] = None) -> None:
    """Refuse, in one line naming the fix, a log path that is no log file: missing, a
    directory, a device or pipe (reading one would block), unreadable, or neither CSV
    text nor SQLite. The stores would otherwise answer some of these with a raw
    OSError or codec message, or hang."""
    shown = shown or str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CliError(f"no simulations log at {shown}; check the path") from None
    except OSError as exc:
        raise CliError(f"cannot reach {shown}: {os_reason(exc)}; check the path and the "
                       "permissions of its directories", EXIT_FAILURE) from None
    if stat.S_ISDIR(st.st_mode):
        raise CliError(f"{shown} is a directory, not a simulations log; name the log file "
                       "in it (e.g. runs.csv)")
    if not stat.S_ISREG(st.st_mode):
        raise CliError(f"{shown} is not a regular file (a device or a pipe?), so not a "
                       "simulations log; name the log file")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise CliError(f"cannot read {shown}: {os_reason(exc)}; fix its permissions or run "
                       "as a user who may read it", EXIT_FAILURE) from None
    if is_sqlite_path(path):
        if head and not head.startswith(SQLITE_MAGIC):
            raise CliError(f"{shown} is not an SQLite database, so not a simulations log "
                           "(a .db/.sqlite log is SQLite); check the path")
    elif not _nul_bytes_only_in_torn_tail(head, st.st_size):
        raise CliError(f"{shown} is a binary file, not a simulations log (a CSV text "
                       "file); check the path")
    elif not _first_line_is_text(head):
        raise CliError(f"{shown}: the first line is not UTF-8 text, so it is not a "
                       "simulations log (a CSV text file); check the path")
    else:
        from ..core.log import csv_header_problem

        problem = csv_header_problem(head.split(b"\n", 1)[0].decode("utf-8", "replace")
                                     .rstrip("\r"))
        if problem is not None:
            raise CliError(f"{shown}: {problem}")



def _nul_bytes_only_in_torn_tail(head: bytes, size: int) -> bool:
    """True when ``head`` (a file's first bytes) has no NUL byte, or has them only after
    the file's last line break: what a crash can leave at the end of a log (a file
    extended but its last block never written), which the stores drop as an incomplete
    last line (with a warning). The CLI follows the same rule instead of calling such a
    log binary."""
    nul = head.find(b"\x00")
    if nul < 0:
        return True
    return size <= len(head) and b"\n" in head[:nul] and b"\n" not in head[nul:]



def _log_path(args: argparse.Namespace) -> tuple[Path, Optional[Config]]:
    """The log a read-only command reads: ``--log`` if given, else the config's."""
    if getattr(args, "log", None):
        path = Path(args.log).expanduser()
        check_log_file(path, args.log)
        return path.resolve(), None
    config = command_config(args, readonly=True)  # reading needs no writable directory
    return config.log_path, config



@contextlib.contextmanager
def read_log(
    args: argparse.Namespace, config: Optional[Config] = None
) -> Iterator[tuple[Optional[SimulationsLog], Optional[Config]]]:
    """The log opened read-only (never in a running manager's way), or None when the
    config's log does not exist yet. ``config``: the one already loaded, if any."""
    path, config = (config.log_path, config) if config else _log_path(args)
    if not os.path.lexists(path):
        yield None, config
        return
    check_log_file(path)
    log = SimulationsLog.open(path, config.input_dim if config else None, readonly=True)
    try:
        yield log, config
    finally:
        log.close()



def log_input_dim(config: Config) -> int:
    if config.input_dim is not None:
        return config.input_dim
    from ..core.log import infer_input_dim

    check_log_file(config.log_path)
    return infer_input_dim(config.log_path)
