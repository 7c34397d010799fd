"""simjobs: manage simulation jobs at several levels of fidelity on several machines.

The core follows ``exauq.sim_management``: code written for it runs unchanged with
``from simjobs import ...``.
"""

from importlib import metadata as _metadata

from .core import *  # noqa: F401,F403
from .core import __all__

try:
    # The version is written once, in pyproject.toml; the installed metadata carries it.
    __version__ = _metadata.version("simjobs")
except _metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree uninstalled
    __version__ = "0+unknown"
