"""SGEInterface driving the real one-node Grid Engine through the loopback sshd.

qsub/qstat/qdel run as the sshd's test user (simjobs-test) over one SSH connection, as
they would on a cluster's login node; the workspace and the test simulators (POSIX sh)
live in a remote directory under /tmp whose name has a space and a quote. The remote
host is this machine, so the tests read the job directories directly.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

import helpers
from simjobs.core import Input, JobManager, JobStatus
from simjobs.core.log import SimulationsLog
from simjobs.core.types import Job, JobId
from simjobs.interfaces.sge import SGE_ID_FILE, SGEInterface
from test_slurm_ssh import CountingSSHRunner, make_remote_dir, settings_of

REMOTE_ROOT = "/tmp/simjobs-sge-ssh-tests"


def wait_for(predicate, timeout: float = 180.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.2, message=message)


@pytest.fixture
def remote(ssh_server, sge):
    """A remote directory (a space and a quote in its name) holding the simulators."""
    from simjobs.interfaces.ssh_transport import SSHRunner

    runner = SSHRunner(settings_of(ssh_server))
    base = make_remote_dir(runner, REMOTE_ROOT)
    yield base
    local = Path(base)  # the remote host is this machine
    (local / "gate").touch()
    numbers = {p.read_text().split(".")[0].strip() for p in local.glob(f"*/*/{SGE_ID_FILE}")}
    numbers.discard("")
    if numbers:
        subprocess.run(["qdel", *sorted(numbers)], capture_output=True, timeout=60)
    runner.run(f"rm -rf {shlex.quote(base)}")
    runner.close()


def test_jobs_run_through_ssh_with_one_qstat_per_poll_and_one_qdel_for_many(
        ssh_server, remote, tmp_path):
    settings = settings_of(ssh_server)
    runner = CountingSSHRunner(settings)
    iface = SGEInterface("grid", 1, ["/bin/sh", f"{remote}/sum.sh"], f"{remote}/work",
                         ssh=settings, runner=runner)
    try:
        with SimulationsLog(tmp_path / "runs.csv", 2) as log:
            manager = JobManager(log, [iface], polling_interval=0.2)
            try:
                batch = manager.submit_many([Input(0.5, float(i)) for i in range(3)])
                assert manager.wait_until_done(timeout=180)
            finally:
                manager.shutdown()
            records = log.get_records([j.id for j in batch])
    finally:
        iface.close()
        runner.close()
    assert [r["status"] for r in records] == [JobStatus.COMPLETED] * 3
    assert [r["output"] for r in records] == [0.5, 1.5, 2.5]
    assert runner.count("qsub") == 1  # the batch: one array
    # Recorded as the remote user: ids of one array, in the remote job directories.
    ids = sorted(p.read_text().strip() for p in Path(remote, "work").glob(f"*/{SGE_ID_FILE}"))
    assert len({i.split(".")[0] for i in ids}) == 1 and len(ids) == 3

    # A poll of queued jobs is ONE command over SSH (one qstat), and three held jobs are
    # cancelled with one qdel: they never run.
    held_runner = CountingSSHRunner(settings)
    gated = SGEInterface("grid-held", 1, ["/bin/sh", f"{remote}/gate.sh"],
                         f"{remote}/held", submit_args=["-h"], ssh=settings,
                         runner=held_runner)
    try:
        jobs = _jobs(3)
        assert gated.submit_jobs(jobs) == {j.id: None for j in jobs}
        before = len(held_runner.commands)
        statuses = gated.get_job_statuses([j.id for j in jobs])
        assert set(statuses.values()) == {JobStatus.SUBMITTED}
        assert len(held_runner.commands) - before == 1 and held_runner.count("qstat") == 1
        before = held_runner.count("qdel")
        assert gated.cancel_jobs([j.id for j in jobs]) == {j.id: None for j in jobs}
        assert held_runner.count("qdel") - before == 1
        assert set(gated.get_job_statuses([j.id for j in jobs]).values()) == {
            JobStatus.CANCELLED}
    finally:
        held_runner.close()
    assert len((Path(remote) / "runs").read_text().splitlines()) == 3  # the sum jobs only


def test_a_failing_job_over_ssh_is_failed_with_its_exit_code_and_stderr(ssh_server, remote):
    settings = settings_of(ssh_server)
    iface = SGEInterface("grid", 1, ["/bin/sh", f"{remote}/fail.sh"], f"{remote}/work",
                         ssh=settings)
    try:
        (job,) = _jobs(1)
        iface.submit_job(job)
        wait_for(lambda: iface.get_job_status(job.id) in (JobStatus.FAILED,
                                                          JobStatus.COMPLETED),
                 message="the failing job to end")
        assert iface.get_job_status(job.id) is JobStatus.FAILED
        reason = iface.failure_reason(job.id)
        assert reason.startswith("exit code 4; stderr: ") and "diverged at step 7" in reason
    finally:
        iface.close()


def _jobs(n: int) -> list[Job]:
    return [Job(JobId(str(i)), Input(float(i), 1.0)) for i in range(1, n + 1)]

