"""Hardware interfaces: where simjobs runs simulator jobs.

All of them lay jobs out on disk the same way (see :mod:`simjobs.interfaces.jobdir`).
"""

from .jobdir import JobAlreadyEndedError, NoOutputError, UnknownJobError
from .local import LocalInterface, resolve_command

__all__ = [
    "JobAlreadyEndedError",
    "LocalInterface",
    "NoOutputError",
    "UnknownJobError",
    "resolve_command",
]
