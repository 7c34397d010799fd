"""SlurmInterface: runs simulator jobs as Slurm batch jobs, on a login node or over SSH.

The work is :class:`.batch.BatchInterface`'s (job directories, wrapper, holds, arrays,
one status command per poll, accounting, cancel, late results); Slurm's part is the
dialect :data:`.slurm_states.SLURM`:

- Submit: ``sbatch --parsable`` with the job name ``simjobs-<job_id>``, ``--chdir`` the
  job directory and Slurm's own output/error files (:data:`SLURM_STDOUT_FILE`,
  :data:`SLURM_STDERR_FILE`) in it. A batch of several jobs is ONE job array
  (``--array=0-N``, with the ``%max_jobs`` throttle), each task reading its job id from
  a tasks file at line ``SLURM_ARRAY_TASK_ID + 1``; each job's Slurm id goes into
  :data:`SLURM_ID_FILE`. Jobs go out with ``--no-requeue``: a requeued job would only
  meet its wrapper's run-once guard.
- Status: ONE ``squeue --user=<me> --states=all`` per poll for all jobs (by user, not
  ``--jobs``, which fails on ids Slurm has already purged; without ``--array``, whose
  22.05 listing drops the last task of a stepped range: pending ranges are expanded
  here, with ``SLURM_BITSTR_LEN=0`` so none is cut short). The ids it did not list are
  asked about in ONE more command (``scontrol -o show job`` for each, in
  ``slurm_scontrol.sh``). A job Slurm no longer knows is settled from its wrapper's
  files, then from ``sacct`` where accounting storage exists (detected: without it
  sacct prints that it is disabled, whatever its exit code), else FAILED after
  ``files_grace``, and stays watched for a late exit code.
- States: :data:`SLURM_STATES`, applied by :func:`resolve_job_state`.
- Cancel: the cancelled marker, then one ``scancel`` (an array's tasks as one word).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional, Union

from .batch import COMMAND_TIMEOUT, BatchInterface
from .runner import CommandRunner, SSHSettings
from .slurm_states import (
    SLURM,
    SLURM_ID_FILE,
    SLURM_STATES,
    SLURM_STDERR_FILE,
    SLURM_STDOUT_FILE,
    accounting_disabled,
    killed_state,
    parse_sacct,
    parse_scontrol,
    parse_squeue,
    resolve_job_state,
)

__all__ = [
    "SLURM_ID_FILE",
    "SLURM_STATES",
    "SLURM_STDERR_FILE",
    "SLURM_STDOUT_FILE",
    "SlurmInterface",
    "accounting_disabled",
    "killed_state",
    "parse_sacct",
    "parse_scontrol",
    "parse_squeue",
    "resolve_job_state",
]


class SlurmInterface(BatchInterface):
    """Runs jobs as Slurm batch jobs (see the module docstring for how).

    The parameters are :class:`.batch.BatchInterface`'s (name, level, command,
    workspace, max_jobs, ssh, runner, timeout), with Slurm's names for two of them:

    Parameters
    ----------
    partition : str, optional
        The Slurm partition (``--partition``); the cluster's default when None.
    sbatch_args : sequence of str, optional
        More sbatch arguments, e.g. ``["--time=00:10:00", "--mem=1G"]``.

    Raises
    ------
    ValueError
        If an argument is invalid (one line naming it and the fix).
    """

    kind = "slurm"
    dialect = SLURM
    queue_word = "partition"
    args_word = "sbatch_args"

    def __init__(
        self,
        name: str,
        level: int,
        command: Union[str, Sequence[str]],
        workspace: Union[str, os.PathLike],
        partition: Optional[str] = None,
        sbatch_args: Sequence[str] = (),
        max_jobs: Optional[int] = None,
        ssh: Optional[SSHSettings] = None,
        *,
        runner: Optional[CommandRunner] = None,
        timeout: float = COMMAND_TIMEOUT,
    ):
        super().__init__(name, level, command, workspace, queue=partition,
                         submit_args=sbatch_args, max_jobs=max_jobs, ssh=ssh,
                         runner=runner, timeout=timeout)
