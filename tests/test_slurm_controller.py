"""SlurmInterface while slurmctld goes down and comes back (the real one-node Slurm).

Only slurmctld is stopped (SIGTERM, so it saves its state) and started again with the
same SLURM_CONF and without ``-c``, so it keeps its jobs; slurmd and the jobs it runs
are untouched. The controller is always brought back at teardown, even on failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

import helpers
from simjobs.core import Input, JobManager, JobStatus
from simjobs.core.hardware import HEALTH_OK, HEALTH_UNREACHABLE
from simjobs.core.log import SimulationsLog
from simjobs.core.types import Job, JobId
from simjobs.interfaces.slurm import SLURM_ID_FILE, SlurmInterface

from test_slurm_interface import Sims, scancel_workspace


def wait_for(predicate, timeout: float = 30.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.1, message=message)


class Controller:
    """Stops and starts the test cluster's slurmctld, keeping its saved state."""

    def __init__(self, cluster: dict):
        self.conf = cluster["conf"]
        self.pid_file = Path(cluster["dir"]) / "slurmctld.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except (OSError, ValueError):
            return None
        return pid if comm == "slurmctld" else None

    def up(self) -> bool:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True,
                              timeout=60)
        return "UP" in ping.stdout

    def stop(self) -> None:
        pid = self.pid()
        assert pid is not None, f"no running slurmctld in {self.pid_file}"
        os.kill(pid, signal.SIGTERM)  # slurmctld saves its state on SIGTERM
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), 30, "slurmctld to exit")

    def start(self) -> None:
        if self.pid() is None:
            # No -c: the saved job state is loaded, so the jobs carry on.
            subprocess.run(["slurmctld", "-f", self.conf], check=True, timeout=60,
                           env={**os.environ, "SLURM_CONF": self.conf})
        wait_for(self.up, 60, "slurmctld to answer again")


@pytest.fixture
def controller(slurm_cluster):
    ctl = Controller(slurm_cluster)
    assert ctl.pid() is not None and ctl.up()
    yield ctl
    ctl.start()  # back up after the test, whatever happened in it


def test_slurmctld_down_is_unreachable_not_failure_and_jobs_finish_after_a_restart(
        controller, tmp_path):
    sims = Sims(tmp_path)
    iface = SlurmInterface("cluster", 1, sims.gated, str(tmp_path / "work"), partition="debug")
    log_path = tmp_path / "runs.csv"
    try:
        with SimulationsLog(log_path, 2) as log:
            manager = JobManager(log, [iface], polling_interval=0.2)
            try:
                first = manager.submit(Input(1.0, 2.0))
                wait_for(lambda: log.get_job_status(first.id) is JobStatus.RUNNING, 30)

                controller.stop()
                # squeue fails (after its own retries, ~9 s here): unreachable health.
                health = wait_for(lambda: (h := manager.interface_health()["cluster"]).state
                                  == HEALTH_UNREACHABLE and h, 40, "health unreachable")
                assert "squeue" in health.message and "slurmctld" in health.message
                assert log.get_job_status(first.id) is JobStatus.RUNNING  # not failed
                # A submit meanwhile waits, without using up its attempts.
                second = manager.submit(Input(3.0, 4.0))
                wait_for(lambda: "unreachable" in (helpers.records_of(log_path)[str(second.id)]
                                                   .reason or ""), 40,
                         "the second submit waiting for the unreachable cluster")
                assert log.get_job_status(second.id) is JobStatus.PENDING_SUBMIT
                sims.open_gate()  # the first job ends while the controller is down
                wait_for(lambda: (tmp_path / "work" / str(first.id) / "exit_code").exists(), 30)
                assert log.get_job_status(first.id) is JobStatus.RUNNING

                controller.start()
                assert manager.wait_until_done(timeout=90)
                wait_for(lambda: manager.interface_health()["cluster"].state == HEALTH_OK, 10)
            finally:
                manager.shutdown()
            records = log.get_records([first.id, second.id])
        assert [r["status"] for r in records] == [JobStatus.COMPLETED] * 2
        assert [r["output"] for r in records] == [3.0, 7.0]
        assert len(sims.runs()) == 2  # each simulator ran once
    finally:
        sims.open_gate()
        iface.close()
        controller.start()
        scancel_workspace(tmp_path / "work")


def test_a_slurmctld_restart_mid_run_is_invisible_to_running_and_pending_jobs(
        controller, tmp_path):
    sims = Sims(tmp_path)
    iface = SlurmInterface("cluster", 1, sims.gated, str(tmp_path / "work"), partition="debug")
    try:
        ids = [JobId(i) for i in (1, 2, 3)]
        iface.submit_jobs([Job(i, Input(float(str(i)), 1.0)) for i in ids])
        wait_for(lambda: len(sims.runs()) == 2, 30, "two jobs running, one pending")
        controller.stop()  # (a poll now would take squeue's ~9 s to fail: see above)
        controller.start()
        statuses = iface.get_job_statuses(ids)
        assert sorted(s.value for s in statuses.values()) == ["Running", "Running",
                                                              "Submitted"]
        sims.open_gate()
        wait_for(lambda: set(iface.get_job_statuses(ids).values()) == {JobStatus.COMPLETED},
                 60, "all three jobs completing after the restart")
        assert [iface.get_job_output(i) for i in ids] == [2.0, 3.0, 4.0]
        assert len(sims.runs()) == 3
        assert len({(tmp_path / "work" / str(i) / SLURM_ID_FILE).read_text() for i in ids}) == 3
    finally:
        sims.open_gate()
        iface.close()
        controller.start()
        scancel_workspace(tmp_path / "work")
