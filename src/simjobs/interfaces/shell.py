"""The shell code simjobs ships, and the one way values reach it.

Everything simjobs runs in a shell lives in the ``.sh`` files beside this module
(``wrapper.sh``, ``now.sh``, ``remote_lib.sh``, ``remote_*.sh``, ``slurm_*.sh``),
checked by shellcheck. No value is ever spliced into that code: a script is put
together as shell variable assignments (:func:`shell_assignments`, every value quoted)
followed by the files' text (:func:`shell_file`).
"""

from __future__ import annotations

import shlex
from importlib import resources


def shell_file(name: str) -> str:
    """The text of one of the ``.sh`` files shipped beside this module (``wrapper.sh``,
    ``now.sh``, ``remote_lib.sh``, ``remote_*.sh``, ``slurm_*.sh``): the shell code lives
    in shell files, checked by shellcheck, and every value reaches it as a shell variable
    assigned (quoted) at the top of the script."""
    return resources.files(__package__).joinpath(name).read_text("utf-8")


def shell_assignments(**values: object) -> str:
    """Shell lines ``name=value``, one per value, each value quoted with
    :func:`shlex.quote`: the one way values reach the shell code of the ``.sh`` files."""
    return "".join(f"{key}={shlex.quote(str(value))}\n" for key, value in values.items())
