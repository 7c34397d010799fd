"""``simjobs app``: the Textual app on the config's log, or watching one.

Textual, the app and the config are imported where used: ``simjobs app --watch``
paints first, and its first paint waits for every import."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

from ..core.command import hint
from .errors import EXIT_OK, CliError
from .logs import check_log_file, command_config


def needs_terminal(what: str) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError(f"{what} needs a terminal (stdin and stdout are not one); in scripts "
                       f"use '{hint('run')}', '{hint('status')}' and the other subcommands")



def check_theme(name: Optional[str]) -> None:
    if name is None:
        return
    from textual.theme import BUILTIN_THEMES

    from ..app.themes import load_themes

    themes, _ = load_themes()
    names = sorted({t.name for t in themes} | set(BUILTIN_THEMES))
    if name not in names:
        raise CliError(f"unknown theme {name!r}; choose one of: {', '.join(names)}")



def run_app(backend, theme: Optional[str] = None, opening: str = "", peek=None) -> int:
    """Run the Textual app on ``backend`` (closed when the app exits), or on what the
    callable ``backend`` returns: it is called in a thread after the first paint, and
    an error it raises is this command's error. ``peek``: see SimjobsApp."""
    from ..app.app import SimjobsApp
    from ..app.collector import limit_malloc_arenas

    limit_malloc_arenas()  # (before the app's threads start: see app.collector)
    app = SimjobsApp(backend, theme=theme, opening=opening, peek=peek)
    app.run()
    if app.startup_error is not None:
        raise app.startup_error
    return EXIT_OK



def cmd_app(args: argparse.Namespace) -> int:
    from ..app.backend import configured_interfaces, open_backend, peek_backend

    check_theme(args.theme)
    if args.watch:
        path = Path(args.watch).expanduser()
        check_log_file(path, args.watch)
        config = command_config(args) if args.config else None
        needs_terminal("simjobs app")
        infos = configured_interfaces(config) if config is not None else None
        return run_app(lambda: open_backend(config, watch=path), args.theme,
                       opening=f"opening {path.name} (read-only)…",
                       peek=lambda: peek_backend(path.resolve(), interfaces=infos))
    config = command_config(args)
    if config.log_path.exists():
        check_log_file(config.log_path)
    needs_terminal("simjobs app")
    # A log another process holds is watched, never taken over (open_backend); the app
    # says so in a notification. Its newest records show while it opens.
    log_path = Path(os.path.abspath(config.log_path))
    return run_app(lambda: open_backend(config), args.theme,
                   opening=f"opening {config.log_path.name}…",
                   peek=lambda: (peek_backend(log_path, interfaces=configured_interfaces(config))
                                 if log_path.exists() else None))
