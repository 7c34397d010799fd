"""SGEInterface against the real one-node Grid Engine of scripts/services/start-sge.sh.

As the Slurm tests do for Slurm: jobs complete (a batch is one array), fail with the
simulator's exit code and stderr, are cancelled while running and while queued (held),
a poll is one qstat whatever the number of jobs, and a qmaster stopped mid-run makes
the interface unreachable (never "job gone") until it is back, the jobs carrying on.
Jobs wait on gate files, never on fixed sleeps.
"""

from __future__ import annotations

import getpass
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

import helpers
from simjobs.app.screens.detail import where_table
from simjobs.core.hardware import HEALTH_OK, HEALTH_UNREACHABLE
from simjobs.core.types import Input, Job, JobId, JobStatus
from simjobs.interfaces.runner import HostUnreachableError
from simjobs.interfaces.sge import SGE_ID_FILE, SGEInterface, parse_qstat_xml
from test_sge_service import Qmaster
from test_slurm_interface import CountingRunner, sims  # noqa: F401 - a fixture

SUM = [sys.executable, str(Path(__file__).parent / "sims" / "sum.py")]
FAIL = [str(Path(__file__).parent / "sims" / "fail.sh")]
# Grid Engine schedules every few seconds and starts a job through its shepherd: slower
# than Slurm here, never a reason to shorten a wait.
TIMEOUT = 180.0


def wait_for(predicate, timeout: float = TIMEOUT, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.2, message=message)


def qdel_workspace(workspace: Path) -> None:
    """Delete every Grid Engine job whose id is recorded under ``workspace``."""
    numbers = {p.read_text().split(".")[0].strip() for p in workspace.glob(f"*/{SGE_ID_FILE}")}
    numbers.discard("")
    if numbers:
        subprocess.run(["qdel", *sorted(numbers)], capture_output=True, timeout=60)


def queued_numbers() -> set[str]:
    out = subprocess.run(["qstat", "-xml", "-u", "*"], capture_output=True, text=True,
                         timeout=60).stdout
    return {i.split(".")[0] for i in parse_qstat_xml(out)}


@pytest.fixture
def make_interface(sge, tmp_path, sims):
    """SGEInterfaces on the test Grid Engine (workspace under tmp_path); at teardown
    they are closed and every job of their workspaces is deleted."""
    made: list[SGEInterface] = []

    def make(command=None, workspace="work", **kwargs):
        kwargs.setdefault("queue", sge["queue"])
        iface = SGEInterface("grid", 1, command or SUM, str(tmp_path / workspace), **kwargs)
        made.append(iface)
        return iface

    yield make
    sims.open_gate()
    for iface in made:
        iface.close()
        qdel_workspace(Path(iface.workspace))


def jobs(*ids: int) -> list[Job]:
    return [Job(JobId(str(i)), Input(float(i), 0.25)) for i in ids]


def wait_status(iface, job_id, statuses):
    statuses = (statuses,) if isinstance(statuses, JobStatus) else tuple(statuses)
    return wait_for(lambda: (s := iface.get_job_status(JobId(job_id))) in statuses and s,
                    message=f"job {job_id} reaching {[s.value for s in statuses]}")


def test_a_batch_is_one_array_and_every_job_completes_with_its_output(make_interface):
    runner = CountingRunner()
    iface = make_interface(runner=runner)
    assert iface.submit_jobs(jobs(1, 2, 3)) == {JobId(str(i)): None for i in (1, 2, 3)}
    assert runner.count("qsub") == 1  # one array for the three
    ids = [Path(iface.workspace, str(i), SGE_ID_FILE).read_text().strip() for i in (1, 2, 3)]
    number = ids[0].split(".")[0]
    assert ids == [f"{number}.1", f"{number}.2", f"{number}.3"]
    wait_for(lambda: set(iface.get_job_statuses([JobId("1"), JobId("2"), JobId("3")])
                         .values()) == {JobStatus.COMPLETED}, message="the array to complete")
    assert [iface.get_job_output(JobId(str(i))) for i in (1, 2, 3)] == [1.25, 2.25, 3.25]
    details = iface.job_details(JobId("2"))
    assert details["sge_job_id"] == f"{number}.2" and details["exit_code"] == 0
    # The app's detail view names the scheduler and its id (not Slurm's fields).
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(where_table(details, time.time()))
    shown = console.export_text()
    assert re.search(rf"Grid Engine job id\s+{number}\.2\b", shown), shown
    assert re.search(rf"Queue\s+{re.escape(details['queue'])}", shown), shown
    assert "Slurm" not in shown


def test_a_single_job_completes(make_interface):
    iface = make_interface()
    iface.submit_job(jobs(7)[0])
    assert wait_status(iface, 7, JobStatus.COMPLETED) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId("7")) == 7.25


def test_a_failing_job_is_failed_with_its_exit_code_and_stderr(make_interface):
    iface = make_interface(command=FAIL)
    iface.submit_job(jobs(4)[0])
    assert wait_status(iface, 4, (JobStatus.COMPLETED, JobStatus.FAILED)) is JobStatus.FAILED
    reason = iface.failure_reason(JobId("4"))
    assert reason.startswith("exit code 3; stderr: "), reason
    assert "fatal: the mesh is inverted" in reason


def test_a_running_job_is_cancelled_and_leaves_the_queue(make_interface, sims):
    iface = make_interface(command=sims.gated)
    iface.submit_job(jobs(5)[0])
    wait_status(iface, 5, JobStatus.RUNNING)
    wait_for(lambda: sims.runs(), message="the simulator to start")
    number = Path(iface.workspace, "5", SGE_ID_FILE).read_text().strip()
    iface.cancel_job(JobId("5"))
    assert iface.get_job_status(JobId("5")) is JobStatus.CANCELLED
    wait_for(lambda: number not in queued_numbers(), message="Grid Engine to drop the job")
    assert iface.get_job_status(JobId("5")) is JobStatus.CANCELLED
    assert not Path(iface.workspace, "5", "output.txt").exists()


def test_queued_jobs_are_cancelled_in_one_qdel_and_never_run(make_interface, sims):
    runner = CountingRunner()
    # -h: Grid Engine holds them (hqw), so they are surely still queued when cancelled.
    iface = make_interface(command=sims.gated, submit_args=["-h"], runner=runner)
    assert iface.submit_jobs(jobs(1, 2, 3)) == {JobId(str(i)): None for i in (1, 2, 3)}
    ids = [JobId(str(i)) for i in (1, 2, 3)]
    assert set(iface.get_job_statuses(ids).values()) == {JobStatus.SUBMITTED}
    number = Path(iface.workspace, "1", SGE_ID_FILE).read_text().split(".")[0]
    assert number in queued_numbers()
    before = runner.count("qdel")
    outcomes = iface.cancel_jobs(ids)
    assert outcomes == {i: None for i in ids}
    assert runner.count("qdel") - before == 1  # one call for the three tasks
    wait_for(lambda: number not in queued_numbers(), message="the held array to go")
    assert set(iface.get_job_statuses(ids).values()) == {JobStatus.CANCELLED}
    assert sims.runs() == []  # the simulator never started


def test_a_poll_of_many_jobs_is_one_qstat(make_interface, sims):
    runner = CountingRunner()
    iface = make_interface(command=sims.gated, submit_args=["-h"], runner=runner)
    ids = [JobId(str(i)) for i in range(1, 41)]
    iface.submit_jobs(jobs(*range(1, 41)))
    before = len(runner.commands)
    statuses = iface.get_job_statuses(ids)
    assert set(statuses.values()) == {JobStatus.SUBMITTED} and len(statuses) == 40
    assert len(runner.commands) - before == 1 and runner.count("qstat") == 1


def test_a_qmaster_stopped_mid_run_is_unreachable_and_the_job_completes_after(
        make_interface, sims, sge):
    qmaster = Qmaster(sge)
    assert qmaster.pid() is not None
    iface = make_interface(command=sims.gated)
    iface.submit_job(jobs(8)[0])
    wait_status(iface, 8, JobStatus.RUNNING)
    try:
        qmaster.stop()
        with pytest.raises(HostUnreachableError, match="Grid Engine|qstat"):
            iface.get_job_statuses([JobId("8")])
        assert iface.health.state == HEALTH_UNREACHABLE
        # Never "job gone": the manager keeps its last known status.
        with pytest.raises(HostUnreachableError):
            iface.get_job_status(JobId("8"))
        assert not Path(iface.workspace, "8", "exit_code").exists()
    finally:
        qmaster.start()
    assert wait_status(iface, 8, JobStatus.RUNNING) is JobStatus.RUNNING
    assert iface.health.state == HEALTH_OK
    sims.open_gate()
    assert wait_status(iface, 8, JobStatus.COMPLETED) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId("8")) == 8.25
    assert len(sims.runs()) == 1  # ran once, across the restart


def qacct_records(number: str) -> list[str]:
    """The exit_status of each accounting record of Grid Engine job ``number``."""
    out = subprocess.run(["qacct", "-j", number], capture_output=True, text=True,
                         timeout=60).stdout
    return re.findall(r"(?m)^exit_status\s+(\S+)", out)


@pytest.mark.parametrize("code", [100, 99])
def test_a_simulator_exiting_with_grid_engines_own_codes_fails_and_leaves_the_queue(
        make_interface, code):
    # sge_conf(5): a job script exiting 100 is put in error (Eqw, queued until deleted),
    # one exiting 99 is rescheduled. The simulator's code stays in its exit code file;
    # Grid Engine sees only the batch script's 0 or 1.
    iface = make_interface(command=["/bin/sh", "-c", f"echo special >&2; exit {code}", "sim"])
    iface.submit_job(jobs(6)[0])
    number = Path(iface.workspace, "6", SGE_ID_FILE).read_text().strip()
    assert wait_status(iface, 6, (JobStatus.COMPLETED, JobStatus.FAILED)) is JobStatus.FAILED
    assert iface.failure_reason(JobId("6")) == f"exit code {code}; stderr: special"
    wait_for(lambda: number not in queued_numbers(), message="the job to leave the queue")
    # Ran once (not rescheduled), and Grid Engine saw a failure, not the code itself.
    assert wait_for(lambda: qacct_records(number), message="its accounting record") == ["1"]


def queued_states() -> dict[str, str]:
    out = subprocess.run(["qstat", "-xml", "-u", "*"], capture_output=True, text=True,
                         timeout=60).stdout
    return {i: row[0] for i, row in parse_qstat_xml(out).items()}


def test_a_job_in_error_is_failed_and_deleted_so_it_never_runs_later(make_interface, sims):
    # A job Grid Engine cannot start (here: its working directory is missing when it is
    # released) goes into error, Eqw, and stays queued until deleted: an administrator's
    # qmod -cj would run it long after simjobs called it Failed. simjobs deletes it in
    # the poll that settles it, after writing its cancelled marker.
    iface = make_interface(command=sims.gated, submit_args=["-h"])
    iface.submit_job(jobs(9)[0])
    number = Path(iface.workspace, "9", SGE_ID_FILE).read_text().strip()
    job_dir = Path(iface.workspace, "9")
    aside = job_dir.with_name("9.aside")
    job_dir.rename(aside)
    try:
        subprocess.run(["qrls", number], capture_output=True, timeout=60, check=True)
        wait_for(lambda: "E" in queued_states().get(number, ""),
                 message="Grid Engine to put the job in error")
    finally:
        aside.rename(job_dir)
    assert iface.get_job_status(JobId("9")) is JobStatus.FAILED
    assert iface.failure_reason(JobId("9")).startswith("Grid Engine state Eqw (in error")
    assert (job_dir / "cancelled").exists()
    wait_for(lambda: number not in queued_numbers(), message="simjobs to delete the job")
    assert sims.runs() == []


def test_accounting_of_purged_jobs_is_one_qacct_scan_with_the_same_records(
        sge, tmp_path, monkeypatch):
    # A large site's accounting file is GB: one qacct -j per purged id reads it once per
    # id. Knowing when the jobs started, simjobs reads it once (-o me -E -b), and finds
    # the same records as one qacct -j per id does.
    from simjobs.interfaces.sge import SGE
    from simjobs.interfaces.runner import CommandResult

    since = time.time()
    out = subprocess.run(["qsub", "-terse", "-b", "y", "-o", "/dev/null", "-e", "/dev/null",
                          "-q", sge["queue"], "/bin/true"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    number = out.strip().split(".")[0]
    wait_for(lambda: qacct_records(number), message="its accounting record")
    real = subprocess.run(["sh", "-c", "command -v qacct"], capture_output=True, text=True,
                          check=True).stdout.strip()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "qacct.calls"
    (bin_dir / "qacct").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    (bin_dir / "qacct").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    def rows(command: str) -> dict:
        done = subprocess.run(["sh", "-c", command], capture_output=True, timeout=120)
        return SGE.parse_accounting(CommandResult(done.returncode, done.stdout, done.stderr))

    one_scan = rows(SGE.accounting_command([number], since))
    calls = log.read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith(f"-o {getpass.getuser()} -E -b "), calls
    per_id = rows(SGE.accounting_command([number]))
    assert log.read_text().splitlines()[1:] == [f"-j {number}"]
    assert one_scan[number] == per_id[number] == ("z", "failed=0; exit_status=0")
