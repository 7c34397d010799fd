"""The simjobs core: types, simulations log, job manager. Never imports the UI."""

from .errors import (
    HardwareUnreachableError,
    InvalidJobStatusError,
    LogFormatError,
    LogLockedError,
    SimjobsError,
    SimulationsLogLookupError,
    UnknownJobIdError,
)
from .events import InterfaceHealthEvent, JobEvent
from .hardware import HardwareInterface, InterfaceHealth
from .ids import JobIDGenerator
from .log import SimulationsLog
from .manager import CancelResult, JobManager
from .records import LogChange, LogRecord
from .strategies import (
    CancelledJobStrategy,
    CompletedJobStrategy,
    FailedJobStrategy,
    FailedSubmitJobStrategy,
    JobStrategy,
    PendingCancelJobStrategy,
    PendingSubmitJobStrategy,
    RunningJobStrategy,
    SubmittedJobStrategy,
)
from .types import (
    PENDING_STATUSES,
    TERMINAL_STATUSES,
    Input,
    Job,
    JobId,
    JobStatus,
    MultiLevel,
    Simulation,
    TrainingDatum,
)

__all__ = [
    "CancelResult", "CancelledJobStrategy", "CompletedJobStrategy", "FailedJobStrategy",
    "FailedSubmitJobStrategy", "HardwareInterface", "Input", "InterfaceHealth",
    "InterfaceHealthEvent", "InvalidJobStatusError", "Job", "JobEvent", "JobIDGenerator",
    "JobId", "JobManager", "JobStatus", "JobStrategy", "LogChange", "LogFormatError",
    "LogLockedError", "LogRecord", "MultiLevel", "PENDING_STATUSES",
    "PendingCancelJobStrategy", "PendingSubmitJobStrategy", "RunningJobStrategy",
    "HardwareUnreachableError", "SimjobsError", "Simulation", "SimulationsLog", "SimulationsLogLookupError",
    "SubmittedJobStrategy", "TERMINAL_STATUSES", "TrainingDatum", "UnknownJobIdError",
]
