"""How to type the ``simjobs`` command in the user's own shell, for the hints we print.

After ``make demo`` (or any install into a virtual environment that is not active) the
``simjobs`` script lives in ``.venv/bin`` and a fresh shell does not find it: a hint
saying "open it again with: simjobs app ..." would then fail. The hints use
:func:`simjobs_command`, which is ``simjobs`` when that name on PATH is this very
installation, and otherwise the full path of this installation's script.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import sys


@functools.cache
def simjobs_command() -> str:
    """The shell words that run this installation's ``simjobs`` from the user's shell.

    ``"simjobs"`` when ``simjobs`` on PATH is this installation's script; else that
    script's full path (shell-quoted) when it exists beside the running Python (a venv's
    ``bin/``); else ``<python> -m simjobs``.
    """
    script = os.path.join(os.path.dirname(sys.executable), "simjobs")
    on_path = shutil.which("simjobs")
    if not os.path.exists(script):
        return "simjobs" if on_path else f"{shlex.quote(sys.executable)} -m simjobs"
    if on_path:
        try:
            if os.path.samefile(on_path, script):
                return "simjobs"
        except OSError:
            pass  # vanished between the two looks: fall back to the full path
    return shlex.quote(script)


def hint(args: str) -> str:
    """``simjobs ARGS`` as the user should type it (see :func:`simjobs_command`)."""
    return f"{simjobs_command()} {args}"
