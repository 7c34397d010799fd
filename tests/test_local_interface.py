"""LocalInterface with real processes and files."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import helpers
from helpers import pid_gone

from simjobs.core.types import Input, Job, JobId, JobStatus
from simjobs.interfaces import (
    JobAlreadyEndedError,
    LocalInterface,
    NoOutputError,
    UnknownJobError,
    resolve_command,
)
from simjobs.interfaces import jobdir, local

SIMS = Path(__file__).parent / "sims"
SUM = [sys.executable, str(SIMS / "sum.py")]
GATE = [sys.executable, str(SIMS / "gate.py")]
SRC = Path(__file__).resolve().parents[1] / "src"



def wait_for(predicate, timeout: float = 30.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.01, message=message)


def wait_status(iface, job_id, statuses=(JobStatus.COMPLETED, JobStatus.FAILED,
                                         JobStatus.CANCELLED), timeout=30.0):
    statuses = (statuses,) if isinstance(statuses, JobStatus) else tuple(statuses)
    status = wait_for(
        lambda: (s := iface.get_job_status(job_id)) in statuses and s,
        timeout,
        f"job {job_id} reaching {[s.value for s in statuses]}",
    )
    return status


def job(n, *coords):
    return Job(n, Input(*coords) if coords else Input(1.0, 2.0))


# A simulator that ignores SIGTERM, as does the child it starts (an ignored signal
# stays ignored across fork and exec): only SIGKILL ends its process group.
STUBBORN = """#!/bin/sh
trap '' TERM
sleep 600 &
echo "$!" > child_pid.tmp && mv child_pid.tmp child_pid
echo "$$" > sim_pid.tmp && mv sim_pid.tmp sim_pid
wait
"""


def stubborn_sim(tmp_path: Path) -> Path:
    path = tmp_path / "stubborn.sh"
    path.write_text(STUBBORN)
    path.chmod(0o755)
    return path


def started_pids(job_dir: Path) -> tuple[int, int, int]:
    """(wrapper = process group id, simulator, simulator's child) once all are up."""
    wait_for(lambda: (job_dir / "child_pid").exists() and (job_dir / "sim_pid").exists()
             and (job_dir / jobdir.PID_FILE).exists(), message=f"{job_dir} started")
    return tuple(int((job_dir / name).read_text())
                 for name in (jobdir.PID_FILE, "sim_pid", "child_pid"))


def group_gone(pgid: int, *pids: int) -> bool:
    return not jobdir.process_group_alive(pgid) and all(pid_gone(p) for p in pids)


@pytest.fixture
def gate(tmp_path, monkeypatch):
    path = tmp_path / "gate-open"
    monkeypatch.setenv("SIMJOBS_TEST_GATE", str(path))
    yield path
    path.touch()  # never leave a gate simulator waiting


@pytest.fixture
def cleanup():
    """Cancel whatever a test leaves running."""
    ifaces: list[LocalInterface] = []
    yield ifaces.append
    for iface in ifaces:
        for name in jobdir.job_dir_names(iface.workspace):
            try:
                iface.cancel_job(JobId(name))
            except Exception:
                pass


# ---- running jobs


def test_submit_runs_to_completed_with_the_exact_output(tmp_path):
    iface = LocalInterface("loc", 1, SUM, tmp_path / "ws")
    x = Input(1 / 3, 2 / 7, 1e-10, -0.1)
    iface.submit_job(Job(1, x))
    assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(1)) == sum(x)
    assert iface.failure_reason(JobId(1)) is None
    assert (tmp_path / "ws" / "1" / jobdir.INPUT_FILE).read_text() == (
        ",".join(repr(c) for c in x) + "\n"
    )
    details = iface.job_details(JobId(1))
    assert details["job_dir"] == str((tmp_path / "ws" / "1").resolve())
    assert details["exit_code"] == 0 and details["pid"] > 0
    assert details["started"] <= details["ended"]
    assert details["stdout_tail"] == "summed 4 coordinates"
    assert details["stderr_tail"] == ""
    assert details["host"]


def test_string_command_is_split_like_a_shell(tmp_path):
    iface = LocalInterface("loc", 1, f"{sys.executable} '{SIMS / 'sum.py'}'", tmp_path)
    iface.submit_job(job(3, 0.5, 0.25))
    assert wait_status(iface, JobId(3)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(3)) == 0.75


@pytest.mark.parametrize(
    "sim, reason",
    [
        ("garbage.sh", "output 'abc' is not a number"),
        ("nothing.sh", "no output file"),
        ("nan.sh", "output 'nan' is not a number"),
    ],
)
def test_bad_output_fails_with_the_reason(tmp_path, sim, reason):
    iface = LocalInterface("loc", 1, str(SIMS / sim), tmp_path)
    iface.submit_job(job(1))
    assert wait_status(iface, JobId(1)) is JobStatus.FAILED
    assert iface.failure_reason(JobId(1)) == reason
    with pytest.raises(NoOutputError) as info:
        iface.get_job_output(JobId(1))
    assert info.value.status is JobStatus.FAILED and reason in str(info.value)


def test_non_zero_exit_fails_and_keeps_the_stderr_tail(tmp_path):
    iface = LocalInterface("loc", 1, str(SIMS / "fail.sh"), tmp_path)
    iface.submit_job(job(1))
    assert wait_status(iface, JobId(1)) is JobStatus.FAILED
    reason = iface.failure_reason(JobId(1))
    assert reason == (
        "exit code 3; stderr: noise line 7\nnoise line 8\nnoise line 9\nnoise line 10\n"
        "fatal: the mesh is inverted"
    )
    details = iface.job_details(JobId(1))
    assert details["exit_code"] == 3
    assert details["stderr_tail"].splitlines()[0] == "noise line 1"
    assert details["stdout_tail"] == "this went to stdout"


def test_a_job_whose_process_vanished_without_exit_code_fails(tmp_path):
    iface = LocalInterface("loc", 1, SUM, tmp_path)
    # A job dir as a killed (-9) wrapper leaves it, its pid now taken by another process.
    job_dir = tmp_path / "9"
    job_dir.mkdir()
    (job_dir / jobdir.INPUT_FILE).write_text("1.0\n")
    (job_dir / jobdir.STARTED_MARKER).mkdir()
    (job_dir / jobdir.PID_FILE).write_text(f"{os.getpid()}\n")
    assert iface.get_job_status(JobId(9)) is JobStatus.FAILED
    assert iface.failure_reason(JobId(9)) == jobdir.NO_EXIT_CODE_REASON


def test_unknown_job_ids_raise_a_clear_error(tmp_path):
    iface = LocalInterface("loc", 1, SUM, tmp_path)
    with pytest.raises(UnknownJobError, match="Job 404 is unknown to interface 'loc'"):
        iface.get_job_status(JobId(404))
    with pytest.raises(KeyError):
        iface.get_job_output(JobId(404))
    with pytest.raises(UnknownJobError):
        iface.get_job_statuses([JobId(404)])
    iface.submit_job(job(1, 1.0))
    statuses = iface.get_job_statuses([JobId(1), JobId(404)])
    assert set(statuses) == {JobId(1)}
    assert iface.find_jobs([JobId(1), JobId(404)]) == {JobId(1)}
    wait_status(iface, JobId(1))


# ---- cancelling


def test_cancel_running_job_kills_the_whole_process_group(tmp_path, cleanup):
    iface = LocalInterface("loc", 1, str(SIMS / "sleep.sh"), tmp_path)
    cleanup(iface)
    iface.submit_job(job(1))
    job_dir = tmp_path / "1"
    wait_for(lambda: (job_dir / "child_pid").exists() and (job_dir / "sim_pid").exists())
    wait_status(iface, JobId(1), JobStatus.RUNNING)
    pgid = int((job_dir / jobdir.PID_FILE).read_text())
    sim_pid = int((job_dir / "sim_pid").read_text())
    child_pid = int((job_dir / "child_pid").read_text())
    assert os.getpgid(child_pid) == pgid

    iface.cancel_job(JobId(1))

    assert iface.get_job_status(JobId(1)) is JobStatus.CANCELLED
    assert iface.failure_reason(JobId(1)) is None
    # The whole tree is gone: wrapper, simulator and the simulator's own child.
    for pid in (pgid, sim_pid, child_pid):
        wait_for(lambda: pid_gone(pid), 10, f"pid {pid} gone")
    assert not jobdir.process_group_alive(pgid)
    with pytest.raises(JobAlreadyEndedError) as info:
        iface.cancel_job(JobId(1))
    assert info.value.status is JobStatus.CANCELLED
    assert "already ended with status Cancelled" in str(info.value)


def test_cancel_returns_at_once_and_sigkills_a_group_that_ignores_sigterm(tmp_path, cleanup):
    iface = LocalInterface("loc", 1, str(stubborn_sim(tmp_path)), tmp_path / "ws")
    iface.cancel_grace = 1.0
    cleanup(iface)
    iface.submit_job(job(1))
    pids = started_pids(tmp_path / "ws" / "1")
    wait_status(iface, JobId(1), JobStatus.RUNNING)

    began = time.monotonic()
    iface.cancel_job(JobId(1))
    took = time.monotonic() - began

    assert took < 0.5, f"cancel_job took {took:.2f} s"
    assert iface.get_job_status(JobId(1)) is JobStatus.CANCELLED
    assert jobdir.process_group_alive(pids[0])  # SIGTERM alone did not end it...
    # ...the SIGKILL comes on time with nobody polling the interface.
    wait_for(lambda: group_gone(*pids), iface.cancel_grace + 2.0, "the group killed")
    assert time.monotonic() - began >= iface.cancel_grace
    assert iface.get_job_status(JobId(1)) is JobStatus.CANCELLED


def test_cancels_of_stubborn_jobs_do_not_hold_up_the_interface(tmp_path, cleanup):
    # The review's case: a submit on the same interface waited behind two such cancels.
    iface = LocalInterface("loc", 1, str(stubborn_sim(tmp_path)), tmp_path / "ws",
                           max_jobs=3)
    iface.cancel_grace = 1.0
    cleanup(iface)
    iface.submit_job(job(1))
    iface.submit_job(job(2))
    groups = [started_pids(tmp_path / "ws" / str(n)) for n in (1, 2)]

    began = time.monotonic()
    iface.cancel_job(JobId(1))
    iface.cancel_job(JobId(2))
    iface.submit_job(job(3))
    took = time.monotonic() - began

    assert took < 0.5, f"two cancels and a submit took {took:.2f} s"
    assert iface.get_job_statuses([JobId(1), JobId(2)]) == {
        JobId(1): JobStatus.CANCELLED, JobId(2): JobStatus.CANCELLED}
    wait_for(lambda: all(group_gone(*pids) for pids in groups),
             iface.cancel_grace + 2.0, "both groups killed")
    started_pids(tmp_path / "ws" / "3")  # the submitted job started at once


def test_a_cancelled_job_holds_its_slot_until_its_group_is_gone(tmp_path, cleanup):
    iface = LocalInterface("loc", 1, str(stubborn_sim(tmp_path)), tmp_path / "ws",
                           max_jobs=1)
    iface.cancel_grace = 1.0
    cleanup(iface)
    iface.submit_job(job(1))
    pids = started_pids(tmp_path / "ws" / "1")
    iface.submit_job(job(2))
    assert iface.get_job_status(JobId(2)) is JobStatus.SUBMITTED

    iface.cancel_job(JobId(1))

    # Still running (it ignores SIGTERM): the one slot is not free yet.
    assert jobdir.process_group_alive(pids[0])
    assert iface.get_job_statuses([JobId(1), JobId(2)]) == {
        JobId(1): JobStatus.CANCELLED, JobId(2): JobStatus.SUBMITTED}
    wait_for(lambda: group_gone(*pids), iface.cancel_grace + 2.0, "job 1 killed")
    assert wait_status(iface, JobId(2), JobStatus.RUNNING) is JobStatus.RUNNING


def test_cancel_of_a_job_started_by_another_process_kills_its_group(tmp_path, cleanup):
    # The wrapper is no child of this process: the kill timer must recognise the
    # group by its members once the wrapper has died of the SIGTERM.
    ws = tmp_path / "ws"
    sim = stubborn_sim(tmp_path)
    starter = (
        "import sys\n"
        "from simjobs.core.types import Input, Job\n"
        "from simjobs.interfaces import LocalInterface\n"
        "LocalInterface('loc', 1, sys.argv[1], sys.argv[2]).submit_job(Job(1, Input(1.0)))\n"
    )
    subprocess.run([sys.executable, "-c", starter, str(sim), str(ws)], env=demo_env(),
                   check=True, timeout=60)
    pids = started_pids(ws / "1")
    iface = LocalInterface("loc", 1, str(sim), ws)
    iface.cancel_grace = 1.0
    cleanup(iface)
    assert iface.get_job_status(JobId(1)) is JobStatus.RUNNING

    began = time.monotonic()
    iface.cancel_job(JobId(1))
    assert time.monotonic() - began < 0.5

    assert iface.get_job_status(JobId(1)) is JobStatus.CANCELLED
    wait_for(lambda: group_gone(*pids), iface.cancel_grace + 2.0, "the group killed")


def test_a_process_exiting_right_after_a_cancel_still_kills_the_group(tmp_path):
    # The kill timer is a daemon thread; at exit simjobs waits for it (at most the
    # grace), so the cancel of a simulator ignoring SIGTERM is not lost.
    ws = tmp_path / "ws"
    script = (
        "import sys, os, time\n"
        "from simjobs.core.types import Input, Job, JobId\n"
        "from simjobs.interfaces import LocalInterface\n"
        "iface = LocalInterface('loc', 1, sys.argv[1], sys.argv[2])\n"
        "iface.cancel_grace = 0.5\n"
        "iface.submit_job(Job(1, Input(1.0)))\n"
        "d = os.path.join(sys.argv[2], '1')\n"
        "while not (os.path.exists(os.path.join(d, 'child_pid'))\n"
        "           and os.path.exists(os.path.join(d, 'sim_pid'))):\n"
        "    time.sleep(0.01)\n"
        "iface.cancel_job(JobId(1))\n"
        "iface.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(stubborn_sim(tmp_path)), str(ws)],
                   env=demo_env(), check=True, timeout=60)
    pids = started_pids(ws / "1")
    # Killed before that process exited; only the last reaping may lag a moment.
    wait_for(lambda: group_gone(*pids), 2.0, "the group killed")


def test_the_kill_timer_never_signals_a_group_it_cannot_prove_is_the_job_s(tmp_path):
    # A process group that took over the job's group id (a reused pid): not the
    # wrapper (its command line does not name the job directory), and no process
    # seen in the job's group at cancel time is in it.
    other = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        fake_start = {other.pid: -1}  # "a member seen at cancel time": another process
        for members in ({}, fake_start):
            killer = local._GroupKiller(other.pid, tmp_path / "1", None, members, 0.0,
                                        name="test-kill")
            killer.start()
            killer.wait()
            assert killer.done.is_set()
            assert other.poll() is None and jobdir.process_group_alive(other.pid)
        # The same group with a member recognised by its start time is killed.
        members = jobdir.process_group_members(other.pid)
        if members is not None:
            killer = local._GroupKiller(other.pid, tmp_path / "1", None, members, 0.0,
                                        name="test-kill")
            killer.start()
            killer.wait()
            assert other.wait(timeout=10) == -9
    finally:
        if other.poll() is None:
            other.kill()
        other.wait(timeout=10)


def test_cancel_a_queued_job_never_starts_it(tmp_path, gate, cleanup):
    iface = LocalInterface("loc", 1, GATE, tmp_path / "ws", max_jobs=1)
    cleanup(iface)
    iface.submit_job(job(1, 4.0))
    iface.submit_job(job(2, 5.0))
    wait_status(iface, JobId(1), JobStatus.RUNNING)
    assert iface.get_job_status(JobId(2)) is JobStatus.SUBMITTED

    iface.cancel_job(JobId(2))

    assert iface.get_job_status(JobId(2)) is JobStatus.CANCELLED
    gate.touch()
    assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(1)) == 4.0
    assert iface.get_job_statuses([JobId(1), JobId(2)]) == {
        JobId(1): JobStatus.COMPLETED, JobId(2): JobStatus.CANCELLED}
    assert not (tmp_path / "ws" / "2" / jobdir.STARTED_MARKER).exists()


def test_cancel_a_finished_job_says_how_it_ended(tmp_path):
    iface = LocalInterface("loc", 1, SUM, tmp_path)
    iface.submit_job(job(1, 1.5))
    wait_status(iface, JobId(1))
    with pytest.raises(JobAlreadyEndedError, match="already ended with status Completed"):
        iface.cancel_job(JobId(1))
    assert iface.get_job_status(JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(1)) == 1.5


# ---- queueing and running once


def test_never_more_than_max_jobs_run_at_once(tmp_path, monkeypatch):
    conc = tmp_path / "conc"
    monkeypatch.setenv("SIMJOBS_TEST_CONC_DIR", str(conc))
    iface = LocalInterface("loc", 1, [sys.executable, str(SIMS / "concurrent.py")],
                           tmp_path / "ws", max_jobs=2)
    ids = [JobId(n) for n in range(1, 8)]
    for job_id in ids:
        iface.submit_job(Job(job_id, Input(float(str(job_id)))))
    max_running = 0

    def all_done():
        nonlocal max_running
        statuses = iface.get_job_statuses(ids)
        running = [j for j, s in statuses.items() if s is JobStatus.RUNNING]
        max_running = max(max_running, len(running))
        return all(s is JobStatus.COMPLETED for s in statuses.values())

    wait_for(all_done, 60)
    seen = [int(line) for line in (conc / "seen").read_text().split()]
    assert len(seen) == len(ids)  # every job ran, once
    assert max(seen) <= 2
    assert max_running <= 2


def test_queued_jobs_start_in_job_id_order(tmp_path, gate, cleanup):
    ws = tmp_path / "ws"
    iface = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(iface)
    for n in (4, 3, 2, 1):  # 4 takes the free slot; 3, 2, 1 queue behind it
        iface.submit_job(job(n, float(n)))
    wait_status(iface, JobId(4), JobStatus.RUNNING)
    gate.touch()
    ids = [JobId(n) for n in (1, 2, 3, 4)]
    wait_for(lambda: set(iface.get_job_statuses(ids).values()) == {JobStatus.COMPLETED})
    by_start = sorted(ids, key=lambda j: float((ws / str(j) / jobdir.STARTED_FILE).read_text()))
    assert by_start == [JobId(4), JobId(1), JobId(2), JobId(3)]


def test_submitting_the_same_job_id_twice_runs_it_once(tmp_path, monkeypatch):
    counter = tmp_path / "runs.txt"
    monkeypatch.setenv("SIMJOBS_TEST_COUNTER", str(counter))
    iface = LocalInterface("loc", 1, str(SIMS / "count.sh"), tmp_path / "ws")
    iface.submit_job(job(1))
    iface.submit_job(job(1))  # at once, while it may still be starting
    assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED
    iface.submit_job(job(1))  # after it finished
    again = LocalInterface("loc", 1, str(SIMS / "count.sh"), tmp_path / "ws")
    again.submit_job(job(1))  # from a new interface (the resume path)
    assert again.get_job_status(JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_status(JobId(1)) is JobStatus.COMPLETED
    assert len(counter.read_text().splitlines()) == 1


def test_a_new_interface_picks_up_running_finished_and_queued_jobs(tmp_path, gate,
                                                                    cleanup):
    ws = tmp_path / "ws"
    first = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(first)
    gate.touch()
    first.submit_job(job(1, 1.25))
    assert wait_status(first, JobId(1)) is JobStatus.COMPLETED
    gate.unlink()
    first.submit_job(job(2, 2.5))  # runs and waits for the gate
    first.submit_job(job(3, 3.75))  # queued behind it
    wait_status(first, JobId(2), JobStatus.RUNNING)
    assert first.get_job_status(JobId(3)) is JobStatus.SUBMITTED
    wait_for(lambda: (ws / "2" / "sim_pid").exists())  # the simulator itself is up
    wrapper_pid = int((ws / "2" / jobdir.PID_FILE).read_text())
    del first
    gc.collect()

    second = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(second)
    ids = [JobId(1), JobId(2), JobId(3)]
    assert second.get_job_statuses(ids) == {
        JobId(1): JobStatus.COMPLETED,
        JobId(2): JobStatus.RUNNING,  # kept running while no interface watched it
        JobId(3): JobStatus.SUBMITTED,  # the adopted job still holds the only slot
    }
    assert second.get_job_output(JobId(1)) == 1.25
    assert not (ws / "3" / jobdir.STARTED_MARKER).exists()
    assert jobdir.process_is_wrapper(wrapper_pid, ws / "2")

    gate.touch()
    assert wait_status(second, JobId(2)) is JobStatus.COMPLETED
    assert wait_status(second, JobId(3)) is JobStatus.COMPLETED
    assert second.get_job_output(JobId(2)) == 2.5
    assert second.get_job_output(JobId(3)) == 3.75
    second.close()


def test_a_job_run_by_an_older_wrapper_finishes_when_a_new_interface_replaces_it(
        tmp_path, gate, cleanup, monkeypatch):
    """The workspace's wrapper copy is an older simjobs' (its file names filled into
    @NAME@ placeholders), and a job runs under it: a new interface replaces the copy
    (by rename: the running shell keeps reading the old file) and both that job and a
    new one finish."""
    old_text = (Path(__file__).parent / "data" / "wrappers"
                / "wrapper-placeholders.sh").read_text()
    ws = tmp_path / "ws"
    with monkeypatch.context() as patched:
        patched.setattr(jobdir, "render_wrapper", lambda: old_text)
        first = LocalInterface("loc", 1, GATE, ws, max_jobs=2)
        cleanup(first)
        first.submit_job(job(1, 1.25))
        wait_status(first, JobId(1), JobStatus.RUNNING)
    copy = ws / local.WRAPPER_COPY
    assert copy.read_text() == old_text
    wait_for(lambda: (ws / "1" / "sim_pid").exists())  # the simulator itself is up
    del first
    gc.collect()

    second = LocalInterface("loc", 1, GATE, ws, max_jobs=2)
    cleanup(second)
    assert second.get_job_status(JobId(1)) is JobStatus.RUNNING
    second.submit_job(job(2, 2.5))
    wait_status(second, JobId(2), JobStatus.RUNNING)
    assert copy.read_text() == jobdir.render_wrapper()
    gate.touch()
    assert wait_status(second, JobId(1)) is JobStatus.COMPLETED
    assert wait_status(second, JobId(2)) is JobStatus.COMPLETED
    assert (second.get_job_output(JobId(1)), second.get_job_output(JobId(2))) == (1.25, 2.5)
    second.close()


def test_queued_jobs_left_on_disk_are_started_by_a_new_interface(tmp_path):
    ws = tmp_path / "ws"
    job_dir = ws / "5"
    job_dir.mkdir(parents=True)
    (job_dir / jobdir.INPUT_FILE).write_bytes(jobdir.format_input([0.5, 0.5]))
    iface = LocalInterface("loc", 1, SUM, ws)
    iface.submit_job(job(6, 1.0, 1.0))  # the first call adopts the queued job 5 too

    def job_5_done():
        iface.get_job_statuses([JobId(6)])  # only job 6 is polled
        return (job_dir / jobdir.EXIT_CODE_FILE).exists()

    wait_for(job_5_done)
    assert iface.get_job_output(JobId(5)) == 1.0
    assert wait_status(iface, JobId(6)) is JobStatus.COMPLETED


def test_workspace_with_spaces_and_quotes(tmp_path):
    ws = tmp_path / "my work 'dir' \"quoted\" $HOME & `x`"
    sim = tmp_path / "sims dir 'q'" / "sum it.py"
    sim.parent.mkdir()
    sim.write_text((SIMS / "sum.py").read_text())
    iface = LocalInterface("loc", 1, [sys.executable, str(sim)], ws)
    iface.submit_job(job(1, 0.1, 0.2))
    assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(1)) == 0.1 + 0.2


# ---- construction


def test_describe_and_properties(tmp_path):
    iface = LocalInterface("loc", 2, SUM, tmp_path / "new" / "ws", max_jobs=3)
    assert (tmp_path / "new" / "ws").is_dir()
    assert iface.kind == "local" and iface.name == "loc" and iface.level == 2
    assert iface.max_jobs == 3
    info = iface.describe()
    assert info["kind"] == "local" and info["max_jobs"] == 3 and info["host"]
    assert info["workspace"] == str((tmp_path / "new" / "ws").resolve())
    assert LocalInterface("loc", 1, SUM, tmp_path).max_jobs == (os.cpu_count() or 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(command=""), "command of interface 'loc' is empty"),
        (dict(command=[]), "command of interface 'loc' is empty"),
        (dict(command="no-such-simulator-xyz --fast"), "was not found on PATH"),
        (dict(command="'unbalanced"), "cannot be parsed"),
        (dict(command=str(SIMS / "sum.py")), "is not executable"),
        (dict(command=[1, 2]), "must be a string or a list of strings"),
        (dict(max_jobs=0), "max_jobs of interface 'loc' must be a whole number"),
        (dict(max_jobs=2.5), "max_jobs"),
        (dict(max_jobs=True), "max_jobs"),
        (dict(level="1"), "level of interface 'loc' must be an integer"),
        (dict(level=1.0), "level"),
        (dict(name=""), "name must be a non-empty string"),
    ],
)
def test_invalid_arguments_give_one_clear_value_error(tmp_path, kwargs, message):
    args = dict(name="loc", level=1, command=SUM, workspace=tmp_path / "ws")
    args.update(kwargs)
    with pytest.raises(ValueError, match=message) as info:
        LocalInterface(**args)
    assert "\n" not in str(info.value)


def test_the_command_is_resolved_like_in_a_config(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    sim = home / "bin" / "sim.sh"
    sim.write_text((SIMS / "nan.sh").read_text())
    sim.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    # "~" is expanded; a relative path with a slash is relative to the current directory.
    for command in ("~/bin/sim.sh --flag", ["bin/sim.sh", "--flag"], "./bin/../bin/sim.sh --flag"):
        iface = LocalInterface("loc", 1, command, tmp_path / "ws")
        assert iface.command == [str(sim), "--flag"]
        assert iface.command == resolve_command(command)


def test_resolve_command_splits_substitutes_and_resolves_the_program(tmp_path, monkeypatch):
    bin_dir = tmp_path / "my bin"
    bin_dir.mkdir()
    sim = bin_dir / "my-sim"
    sim.write_text("#!/bin/sh\n")
    sim.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.environ["PATH"]]))
    monkeypatch.chdir("/")

    # A bare name is found on PATH, and pinned to its absolute path.
    assert resolve_command("my-sim 'a b' c") == [str(sim), "a b", "c"]
    assert resolve_command(("my-sim", "a b")) == [str(sim), "a b"]
    # A path with a slash is relative to base_dir; other arguments are left alone.
    assert resolve_command("'my bin/my-sim' rel/arg", tmp_path) == [str(sim), "rel/arg"]
    assert resolve_command([str(sim)], "/nowhere") == [str(sim)]
    # Placeholders are replaced after splitting: a value with spaces stays one argument.
    assert resolve_command("{sim} --x={sim}", placeholders={"{sim}": str(sim)}) == [
        str(sim), f"--x={sim}"]
    assert tree_of(tmp_path) == ["my bin", "my bin/my-sim"]  # nothing created


def tree_of(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    "command, message",
    [
        ("", "interfaces[0].command is empty; give the simulator to run"),
        ([" "], "interfaces[0].command is empty"),
        ("'open", "interfaces[0].command cannot be parsed (No closing quotation); "
                  "check its quotes"),
        (5, "interfaces[0].command must be a string or a list of strings (got 5)"),
        (["a", 1], "interfaces[0].command must be a string or a list of strings (got list)"),
        (b"sim", "interfaces[0].command must be a string or a list of strings (got bytes)"),
        ("no-such-simulator-xyz -v", "interfaces[0].command: 'no-such-simulator-xyz' was not "
                                     "found on PATH; give its full path or add its directory"),
        ("./missing.sh", "interfaces[0].command: './missing.sh' does not exist (looked for "
                         "'BASE/missing.sh'); check the path"),
        ("~/missing.sh", "interfaces[0].command: '~/missing.sh' does not exist (looked for "
                         "'HOME/missing.sh')"),
        ("sub", "interfaces[0].command: 'sub' was not found on PATH"),
        ("./sub", "interfaces[0].command: './sub' is not a file (looked for 'BASE/sub')"),
        ("./plain.sh x", "interfaces[0].command: './plain.sh' is not executable; run "
                         "'chmod +x BASE/plain.sh' or put its interpreter first"),
    ],
)
def test_resolve_command_errors_are_one_line_naming_the_problem_and_fix(
        tmp_path, monkeypatch, command, message):
    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    (base / "plain.sh").write_text("#!/bin/sh\n")
    (base / "plain.sh").chmod(0o644)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = tree_of(tmp_path)
    with pytest.raises(ValueError) as info:
        resolve_command(command, base, what="interfaces[0].command")
    text = str(info.value)
    assert message.replace("BASE", str(base)).replace("HOME", str(tmp_path / "home")) in text
    assert "\n" not in text
    assert tree_of(tmp_path) == before


def test_workspace_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="workspace .* cannot be created"):
        LocalInterface("loc", 1, SUM, blocker / "ws")


# ---- the demo simulator


def demo_env(**extra):
    env = {**os.environ, "SIMJOBS_DEMO_FAST": "1", "SIMJOBS_DEMO_FAILURE_RATE": "0",
           **extra}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH"), str(SRC)) if p)
    return env


def test_demo_simulator_gives_different_outputs_per_level(tmp_path):
    from simjobs.demo.simulator import simulate

    (tmp_path / "in.csv").write_bytes(jobdir.format_input([0.3, 0.7]))
    outputs = {}
    for level in (1, 2):
        out = tmp_path / f"out{level}.txt"
        result = subprocess.run(
            [sys.executable, "-m", "simjobs.demo.simulator", "--level", str(level),
             str(tmp_path / "in.csv"), str(out)],
            env=demo_env(), capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        outputs[level] = float(out.read_text())
        assert outputs[level] == simulate([0.3, 0.7], level)
    assert outputs[1] != outputs[2]
    # Every coordinate matters.
    assert simulate([0.3, 0.7], 2) != simulate([0.3, 0.2], 2)
    assert simulate([0.3, 0.7], 1) != simulate([0.3, 0.2], 1)


def test_demo_simulator_fails_now_and_then_with_a_message(tmp_path):
    (tmp_path / "in.csv").write_text("0.5,0.5\n")
    result = subprocess.run(
        [sys.executable, "-m", "simjobs.demo.simulator", "--level", "1",
         str(tmp_path / "in.csv"), str(tmp_path / "out.txt")],
        env=demo_env(SIMJOBS_DEMO_FAILURE_RATE="1"), capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "demo simulator" in result.stderr
    assert not (tmp_path / "out.txt").exists()


def test_demo_simulator_runs_under_local_interfaces(tmp_path, monkeypatch):
    for key, value in demo_env().items():
        monkeypatch.setenv(key, value)
    ifaces = {
        level: LocalInterface(f"demo-{level}", level,
                              [sys.executable, "-m", "simjobs.demo.simulator",
                               "--level", str(level)], tmp_path / str(level))
        for level in (1, 2)
    }
    for iface in ifaces.values():
        iface.submit_job(job(1, 0.3, 0.7))
    for iface in ifaces.values():
        assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED, iface.failure_reason(
            JobId(1))
    assert ifaces[1].get_job_output(JobId(1)) != ifaces[2].get_job_output(JobId(1))


def test_demo_config_template_matches_the_config_format():
    path = SRC / "simjobs" / "demo" / "demo.toml"
    config = tomllib.loads(path.read_text())
    assert config["log"] == {"path": "runs.csv", "input_dim": 2}
    assert config["manager"]["polling_interval"] > 0
    by_name = {i["name"]: i for i in config["interfaces"]}
    assert set(by_name) == {"local-fast", "local-accurate"}
    assert by_name["local-fast"]["level"] == 1 and by_name["local-accurate"]["level"] == 2
    for level, iface in ((1, by_name["local-fast"]), (2, by_name["local-accurate"])):
        assert iface["kind"] == "local"
        assert iface["command"] == f"{{python}} -m simjobs.demo.simulator --level {level}"
        assert not Path(iface["workspace"]).is_absolute()
        assert iface["max_jobs"] >= 1


# ---- mass cancels and cancels that outlive their simjobs (issue 8, items 3 and 4) -------

# Counts its runs in the file given as its first argument, then runs until killed.
COUNTED_SH = """#!/bin/sh
echo "run $$ $PWD" >> "$1"
sleep 600 &
wait
"""


def test_cancel_many_of_queued_jobs_never_starts_one(tmp_path):
    from simjobs.core import JobManager
    from simjobs.core.log import SimulationsLog

    counter = tmp_path / "runs"
    sim = tmp_path / "counted.sh"
    sim.write_text(COUNTED_SH)
    sim.chmod(0o755)
    iface = LocalInterface("loc", 1, [str(sim), str(counter)], tmp_path / "ws", max_jobs=2)
    log = SimulationsLog(tmp_path / "runs.csv", 1)
    manager = JobManager(log, [iface], polling_interval=0.05)
    try:
        jobs = manager.submit_many([Input(float(i)) for i in range(200)])
        ids = [job.id for job in jobs]
        # Every job is on the hardware (2 running, 198 queued) before the cancel.
        assert manager.wait_until_submitted(ids, timeout=120)
        wait_for(lambda: counter.exists() and len(counter.read_text().splitlines()) == 2,
                 60, "two jobs running")
        manager.cancel_many(ids)
        assert manager.wait_until_done(timeout=120)
    finally:
        manager.shutdown()
        log.close()
    statuses = {key: rec.status for key, rec in helpers.records_of(tmp_path / "runs.csv").items()}
    assert set(statuses.values()) == {JobStatus.CANCELLED} and len(statuses) == 200
    runs = counter.read_text().splitlines()
    assert len(runs) == 2, f"the simulator ran {len(runs)} times for max_jobs=2"
    started = [n for n in jobdir.job_dir_names(tmp_path / "ws")
               if (tmp_path / "ws" / n / jobdir.STARTED_MARKER).exists()]
    assert len(started) == 2


def test_a_cancel_whose_manager_dies_in_the_grace_period_is_finished_after_a_restart(
        tmp_path):
    grace, poll = 3.0, 0.5
    ws, log_path = tmp_path / "ws", tmp_path / "runs.csv"
    sim = tmp_path / "trapping.sh"
    sim.write_text(helpers.TERM_TRAPPING_SH)
    sim.chmod(0o755)
    spec = {"kind": "local", "args": ["loc", 1, str(sim), str(ws)], "kwargs": {}}
    first = helpers.managing_process(log_path, ws, poll, "submit-and-cancel", spec)
    pids = None
    try:
        job_dir = wait_for(lambda: next((ws / n for n in jobdir.job_dir_names(ws)), None),
                           60, "the job directory")
        pids = started_pids(job_dir)
        # The simulator got its SIGTERM (and ignored it): kill the manager at once,
        # well inside the grace period, before the SIGKILL is due.
        wait_for(lambda: (job_dir / "got_term").exists(), 60, "the SIGTERM")
        first.kill()
        first.wait(timeout=60)
        assert jobdir.process_group_alive(pids[0]), "the group died before the restart"
        (record,) = helpers.records_of(log_path).values()
        assert record.status is JobStatus.PENDING_CANCEL  # not Cancelled while it runs

        helpers.resume_until_killed(log_path, ws, poll, spec, pids, grace + poll + 2.0)
        (record,) = helpers.records_of(log_path).values()
        assert record.status is JobStatus.CANCELLED
        assert not (job_dir / jobdir.KILL_FILE).exists()
    finally:
        helpers.kill_leftovers(first, pids)


def test_queued_jobs_cancelled_together_stay_cancelled_after_a_restart(tmp_path, gate,
                                                                        cleanup):
    ws = tmp_path / "ws"
    iface = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(iface)
    for n in range(1, 6):
        iface.submit_job(job(n, float(n)))
    wait_status(iface, JobId(1), JobStatus.RUNNING)
    outcomes = iface.cancel_jobs([JobId(n) for n in range(2, 6)])
    assert outcomes == {JobId(n): None for n in range(2, 6)}
    # One record for the batch, not a marker per job directory.
    assert len(os.listdir(ws / local.CANCELS_DIR)) == 1
    assert not any((ws / str(n) / jobdir.CANCELLED_FILE).exists() for n in range(2, 6))

    # A new interface on the workspace (a restart) knows them cancelled and starts none.
    again = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(again)
    gate.touch()
    assert wait_status(again, JobId(1)) is JobStatus.COMPLETED
    statuses = again.get_job_statuses([JobId(n) for n in range(1, 6)])
    assert statuses == {JobId(1): JobStatus.COMPLETED,
                        **{JobId(n): JobStatus.CANCELLED for n in range(2, 6)}}
    assert not any((ws / str(n) / jobdir.STARTED_MARKER).exists() for n in range(2, 6))
    with pytest.raises(JobAlreadyEndedError):
        again.cancel_job(JobId(3))


def test_batch_cancel_files_are_merged_and_a_planted_link_is_refused(tmp_path, gate, cleanup):
    ws = tmp_path / "ws"
    iface = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(iface)
    n_jobs = local.CANCELS_MERGE_AT + 6
    for n in range(1, n_jobs + 1):
        iface.submit_job(job(n, float(n)))
    for n in range(2, n_jobs + 1):  # one batch file each, merged along the way
        assert iface.cancel_jobs([JobId(n)]) == {JobId(n): None}
    assert len(os.listdir(ws / local.CANCELS_DIR)) <= local.CANCELS_MERGE_AT
    again = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(again)
    statuses = again.get_job_statuses([JobId(n) for n in range(2, n_jobs + 1)])
    assert set(statuses.values()) == {JobStatus.CANCELLED}  # merged, nothing lost
    third = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(third)
    assert set(third.get_job_statuses([JobId(n) for n in range(2, n_jobs + 1)]).values()) \
        == {JobStatus.CANCELLED}

    # A link planted in place of the directory is never written through.
    ws2, elsewhere = tmp_path / "ws2", tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = LocalInterface("loc", 1, GATE, ws2, max_jobs=1)
    cleanup(other)
    other.submit_job(job(1, 1.0))
    other.submit_job(job(2, 2.0))
    (ws2 / local.CANCELS_DIR).symlink_to(elsewhere)
    outcome = other.cancel_jobs([JobId(2)])[JobId(2)]
    assert isinstance(outcome, PermissionError) and local.CANCELS_DIR in str(outcome)
    assert os.listdir(elsewhere) == []
    assert other.get_job_status(JobId(2)) is JobStatus.SUBMITTED  # still queued, not lost
