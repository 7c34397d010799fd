"""Hardware interfaces: where simjobs runs simulator jobs.

All of them lay jobs out on disk the same way (see :mod:`simjobs.interfaces.jobdir`).
"""

from .jobdir import JobAlreadyEndedError, NoOutputError, UnknownJobError
from .local import LocalInterface, resolve_command
from .runner import HostKeyError, HostUnreachableError, SSHSettings
from .slurm import SlurmInterface
from .ssh import SSHInterface  # asyncssh is imported only when a connection is made

__all__ = [
    "HostKeyError",
    "HostUnreachableError",
    "JobAlreadyEndedError",
    "LocalInterface",
    "NoOutputError",
    "SSHInterface",
    "SSHSettings",
    "SlurmInterface",
    "UnknownJobError",
    "resolve_command",
]
