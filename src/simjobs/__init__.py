"""simjobs: manage simulation jobs at several levels of fidelity on several machines.

The core follows ``exauq.sim_management``: code written for it runs unchanged with
``from simjobs import ...``.
"""

from .core import *  # noqa: F401,F403
from .core import __all__

__version__ = "0.1.0"
