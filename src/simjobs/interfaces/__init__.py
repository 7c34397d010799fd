"""Hardware interfaces: where simjobs runs simulator jobs.

All of them lay jobs out on disk the same way (see :mod:`simjobs.interfaces.jobdir`).
"""

from .jobdir import JobAlreadyEndedError, NoOutputError, UnknownJobError
from .batch import BatchInterface
from .local import LocalInterface, resolve_command
from .lsf import LSFInterface
from .pbs import PBSInterface
from .runner import HostKeyError, HostUnreachableError, SSHSettings
from .sge import SGEInterface
from .slurm import SlurmInterface
from .ssh import SSHInterface  # asyncssh is imported only when a connection is made

__all__ = [
    "BatchInterface",
    "HostKeyError",
    "HostUnreachableError",
    "JobAlreadyEndedError",
    "LSFInterface",
    "LocalInterface",
    "NoOutputError",
    "PBSInterface",
    "SGEInterface",
    "SSHInterface",
    "SSHSettings",
    "SlurmInterface",
    "UnknownJobError",
    "resolve_command",
]
