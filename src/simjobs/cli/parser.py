"""The ``simjobs`` parser and :func:`main`: options, logging, the one-line errors and
exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import warnings
from collections.abc import Sequence
from typing import Optional

from .. import __version__
from ..core.errors import (
    InvalidJobStatusError,
    LogFormatError,
    LogLockedError,
    NotALogError,
    SimjobsError,
    UnknownJobIdError,
)
from ..core.filesystems import os_reason
from . import (
    app,
    cancel,
    completion,
    config,
    demo,
    export,
    interfaces,
    repair,
    resubmit,
    run,
    status,
    submit,
)
from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CliError
from .filters import add_filters
from .output import note


DEFAULT_TIMEOUT = 30.0



class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help, wrapped without breaking paths (at hyphens or mid-word): the
    log file's path is meant to be copied."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False,
                             break_long_words=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent,
                             subsequent_indent=indent, break_on_hyphens=False,
                             break_long_words=False)



class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line instead of usage + error
        raise CliError(f"{message}; see '{self.prog} --help'", EXIT_USAGE)



def _logging_options() -> argparse.ArgumentParser:
    """-v/--log-level, taken by ``simjobs`` and by every subcommand (before or after
    its name). Their defaults are SUPPRESS: a subcommand's default would otherwise
    overwrite a value given before its name."""
    from ..logfile import LEVELS, log_file

    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("logging")
    group.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="say more: -v info, -vv debug (on stderr and in the log file)")
    group.add_argument("--log-level", choices=list(LEVELS), default=argparse.SUPPRESS,
                       type=str.lower,
                       help=f"what is recorded in the log file {log_file()} and shown on "
                            "stderr (default warning)")
    return options



def _log_epilog() -> str:
    from ..logfile import BACKUP_COUNT, log_file

    return (f"Errors and warnings are one line on stderr, and are recorded (with "
            f"tracebacks) in the log file {log_file()} (rotated, {BACKUP_COUNT} old "
            f"files kept; -v/--log-level sets how much).")



def build_parser() -> argparse.ArgumentParser:
    logging_options = _logging_options()
    parser = _Parser(
        prog="simjobs",
        description="Manage simulation jobs at several levels on several machines.",
        epilog=_log_epilog(), parents=[logging_options],
    )
    parser.add_argument("--version", action="version", version=f"simjobs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def subparser(name: str, help: str, aliases=(), **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, aliases=list(aliases),
                              parents=[logging_options], epilog=_log_epilog(), **kwargs)

    def command(name: str, handler, help: str, *, readonly: bool = False, aliases=()):
        p = subparser(name, help, aliases)
        p.set_defaults(handler=handler)
        p.add_argument("--config", metavar="FILE",
                       help="the config file (default: $SIMJOBS_CONFIG, ./simjobs.toml, "
                            "then the user config dir)")
        if readonly:
            p.add_argument("--log", metavar="PATH",
                           help="read this log without a config (its input_dim is read from it)")
        return p

    def timeout(p):
        p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help=f"how long to wait for the hardware or the manager "
                            f"(default {DEFAULT_TIMEOUT:g})")

    p = command("run", run.cmd_run, "manage the log: submit, watch and record jobs, with a live table")
    p.add_argument("--until-done", action="store_true",
                   help="stop when every job has ended (default: run until Ctrl-C)")
    p.add_argument("--json", action="store_true",
                   help="instead of the live table, each event as one JSON object per "
                        "line on stdout (keys as in 'status --json')")

    p = command("submit", submit.cmd_submit, "submit inputs as new jobs")
    p.add_argument("coords", nargs="*", metavar="X", help="the coordinates of one input")
    p.add_argument("--input", "-i", action="append", metavar="X1,X2,...",
                   help="one input as a comma list (repeatable; negative numbers as "
                        "they are: --input -0.5,1)")
    p.add_argument("--csv", metavar="FILE",
                   help="inputs from a CSV file, one per line (header optional; an exauq "
                        "log's Input_k columns are picked out)")
    p.add_argument("--level", "-l", type=int, default=1, help="the level to run at (default 1)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    timeout(p)

    p = command("status", status.cmd_status, "show jobs (alias: show)", readonly=True, aliases=("show",))
    add_filters(p)
    p.add_argument("--json", action="store_true", help="every field of the records, as JSON")

    p = command("cancel", cancel.cmd_cancel, "cancel jobs that have not ended")
    p.add_argument("ids", nargs="+", metavar="ID", help="the job ids")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    timeout(p)

    p = command("resubmit", resubmit.cmd_resubmit,
                "submit failed, failed-submit or cancelled jobs again, as new jobs")
    add_filters(p, last=False)
    p.add_argument("--again", action="store_true",
                   help="also resubmit jobs that were already resubmitted (refused "
                        "otherwise, naming the new job)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    timeout(p)

    p = subparser("repair", "make a damaged log writable again: back its files up, then "
                  "keep what is left")
    p.set_defaults(handler=repair.cmd_repair)
    p.add_argument("log", metavar="LOG", help="the log file (.csv, .db, ...)")

    p = command("export", export.cmd_export, "write jobs to a CSV or JSON file", readonly=True)
    p.add_argument("file", metavar="FILE", help="the file to write (.csv or .json)")
    p.add_argument("--format", choices=("csv", "json"), help="default: from the file's suffix")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    add_filters(p)

    p = command("interfaces", interfaces.cmd_interfaces, "list the interfaces and their active jobs",
                readonly=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = command("demo", demo.cmd_demo, "try simjobs: the app on demo jobs at two levels, running the demo simulator")
    p.add_argument("--dir", metavar="DIR",
                   help="where the demo config, log and job directories go (default: the "
                        "user data dir's simjobs/demo; reused if present)")
    p.add_argument("--fast", action="store_true", help="make the demo simulator fast (tests)")
    p.add_argument("--jobs", type=int, default=16, metavar="N",
                   help="how many jobs to submit, about a quarter at level 2 (default 16)")
    p.add_argument("--headless", action="store_true",
                   help="the plain live table instead of the app (the default when not "
                        "in a terminal)")
    p.add_argument("--theme", metavar="NAME", help="the app's theme (remembered)")

    p = command("app", app.cmd_app, "open the simjobs app (manage the config's log, or --watch one)")
    p.add_argument("--watch", metavar="LOG",
                   help="a read-only viewer of LOG, managed by another process; submit and "
                        "cancel are handed to its manager")
    p.add_argument("--theme", metavar="NAME",
                   help="the theme (simjobs-dark, simjobs-light, or a Textual one; remembered)")

    p = subparser("config", "check the config, say which file is used, or write an example")
    actions = p.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser)
    actions.required = True

    def config_action(name: str, handler, help: str) -> argparse.ArgumentParser:
        q = actions.add_parser(name, help=help, description=help, parents=[logging_options],
                               epilog=_log_epilog())
        q.set_defaults(handler=handler)
        return q

    for name, handler, help in (
            ("check", config.cmd_config_check,
             "validate the config: a summary, or the one-line error (exit 2)"),
            ("path", config.cmd_config_path, "which config file would be used, and why")):
        config_action(name, handler, help).add_argument(
            "--config", metavar="FILE", help="the config file (default: $SIMJOBS_CONFIG, "
                                             "./simjobs.toml, then the user config dir)")
    q = config_action("init", config.cmd_config_init,
                      "write a commented example config (never over an existing file)")
    q.add_argument("file", nargs="?", metavar="FILE",
                   help="the file to write (default ./simjobs.toml)")
    q.add_argument("--user", action="store_true",
                   help="write the user config file instead (see 'config path')")

    p = subparser("completion", "print the shell completion script (bash: eval \"$(simjobs "
                  "completion bash)\" in ~/.bashrc)")
    p.set_defaults(handler=completion.cmd_completion)
    p.add_argument("shell", choices=("bash", "zsh", "tcsh"), help="the shell")
    return parser



def _error(message: str) -> None:
    print(f"simjobs: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)



def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """warnings.showwarning for the command: ``simjobs: warning: <message>``, one line,
    without Python's file path, line number and source line."""
    text = " ".join(str(message).split())
    try:
        print(f"simjobs: warning: {text}", file=file or sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr is gone (closed pipe): a warning is not worth failing for



class _OneLineLogHandler(logging.Handler):
    """The library's log lines (a manager's errors) as the command's own: one line,
    ``simjobs: error: ...``, without a traceback (SIMJOBS_DEBUG=1 keeps Python's)."""

    def emit(self, record: logging.LogRecord) -> None:
        text = " ".join(record.getMessage().split()).removeprefix("simjobs: ")
        if record.levelno >= logging.ERROR:
            text = "error: " + text
        try:
            print(f"simjobs: {text}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass  # stderr is gone (closed pipe)



def _os_error_text(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "a file"
    return (f"{where}: {os_reason(exc)}; check the path and its permissions "
            "(SIMJOBS_DEBUG=1 shows where it happened)")



def _glue_negative_inputs(argv: list[str]) -> list[str]:
    """``--input -0.5,1`` as ``--input=-0.5,1``: argparse takes a value starting with
    ``-`` for an option unless it is one plain negative number, so the natural form
    failed with "expected one argument"."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        following = argv[i + 1] if i + 1 < len(argv) else ""
        if arg in ("--input", "-i") and following.startswith("-") and \
                following[1:2] in tuple("0123456789."):
            out.append(f"--input={following}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out



def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``simjobs`` command; returns the exit code."""
    debug = os.environ.get("SIMJOBS_DEBUG", "") not in ("", "0")
    library = logging.getLogger("simjobs")
    if not debug:
        # Kept for the rest of the process: warnings while it exits (logs closed at
        # exit) are the command's too.
        warnings.showwarning = _show_warning
        if not any(isinstance(h, _OneLineLogHandler) for h in library.handlers):
            # (Python's last-resort handler, which prints tracebacks, then stays out.)
            library.addHandler(_OneLineLogHandler(logging.WARNING))
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser().parse_args(_glue_negative_inputs(argv))
        _start_logging(args, argv, library)
        try:
            return args.handler(args)
        except Exception as exc:
            if not isinstance(exc, CliError) and _exit_code(exc) is None:
                # A bug: its traceback goes to the file too (stderr may be the app's).
                library.exception("simjobs %s failed with a bug", args.command)
            raise
    except CliError as exc:
        _error(str(exc))
        return exc.code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (e.g. '| head'): stop quietly, as Python's
        # docs advise, pointing stdout at devnull so the exit flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - sorted below; bugs still show a traceback
        code = _exit_code(exc)
        if code is None or debug:
            raise
        if isinstance(exc, OSError) and not isinstance(exc, SimjobsError):
            _error(_os_error_text(exc))
        elif isinstance(exc, UnicodeError):
            reason = getattr(exc, "reason", exc)
            _error(f"a file is not UTF-8 text ({reason}); check that the paths given name "
                   "text files (SIMJOBS_DEBUG=1 shows which)")
        else:
            _error(str(exc) or type(exc).__name__)
        return code



def _start_logging(args: argparse.Namespace, argv: list[str], library: logging.Logger) -> None:
    """The log file (see :mod:`simjobs.logfile`) at the level -v/--log-level asks for;
    the one-line stderr handler shows that level too. A log directory that cannot be
    used is one warning: the command goes on without the file."""
    from ..logfile import LEVELS, LogDirError, install, lower_logger_level

    verbose = getattr(args, "verbose", 0)
    name = getattr(args, "log_level", None) or (
        "debug" if verbose >= 2 else "info" if verbose == 1 else "warning")
    level = LEVELS[name]
    for handler in library.handlers:
        if isinstance(handler, _OneLineLogHandler):
            handler.setLevel(level)
    lower_logger_level(level)
    try:
        path = install(level)
    except (LogDirError, OSError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        note(f"simjobs: warning: no log file ({reason}); going on without it")
        return
    # -v says where the file is; the file says which command wrote what follows.
    library.info("command: simjobs %s; log file %s", shlex.join(argv), path)



def _exit_code(exc: Exception) -> Optional[int]:
    """The exit code for a user-facing error, or None for a bug (shown as a traceback)."""
    if isinstance(exc, NotALogError):  # a path that names no log: bad input
        return EXIT_USAGE
    if isinstance(exc, (LogLockedError, LogFormatError)):
        return EXIT_FAILURE
    from ..config import ConfigError

    if isinstance(exc, (ConfigError, UnknownJobIdError, InvalidJobStatusError)):
        return EXIT_USAGE
    if isinstance(exc, SimjobsError):
        return EXIT_FAILURE
    if isinstance(exc, (ValueError, TypeError)):
        return EXIT_USAGE
    if isinstance(exc, OSError):
        return EXIT_FAILURE
    return None
