"""Code written for exauq runs unchanged (issue 9): several log objects on one file in
one process, strategies through the manager's public surface, strategies called
directly, and the small semantic points exauq's own tests pin. Written from exauq's
documented contract; none of exauq's code or tests is copied here."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest.mock import Mock

import pytest

from simjobs import (
    CompletedJobStrategy,
    Input,
    InvalidJobStatusError,
    Job,
    JobId,
    JobManager,
    JobStatus,
    JobStrategy,
    LogLockedError,
    MultiLevel,
    PendingCancelJobStrategy,
    PendingSubmitJobStrategy,
    SimulationsLog,
    SimulationsLogLookupError,
    TrainingDatum,
    UnknownJobIdError,
)
from simjobs.core.events import JobEvent

from fakes import FakeInterface
from helpers import wait_for

SRC = Path(__file__).resolve().parent.parent / "src" / "simjobs"


@pytest.fixture(params=["csv", "db"])
def path(request, tmp_path):
    return tmp_path / f"sims.{request.param}"


# ---- 1. several SimulationsLog objects on one file in one process --------------------

def test_a_second_object_on_the_same_file_writes_and_all_see_every_write(path):
    log = SimulationsLog(path, 2)
    log.add_new_record(Input(1, 2), "1")
    log2 = SimulationsLog(path, 2)  # the notebook re-runs the cell; `log` lives on
    log2.add_new_record(Input(3, 4), "2")  # no LogLockedError naming our own pid
    log2.insert_result("1", 3.0)
    assert log.get_job_status("2") is JobStatus.PENDING_SUBMIT  # seen at once
    log.update_job_status("2", JobStatus.RUNNING)
    assert log2.get_job_status("2") is JobStatus.RUNNING
    third = SimulationsLog(path, 2)
    assert [(str(r["job_id"]), r["output"]) for r in third.get_records()] == [
        ("1", 3.0), ("2", None)]
    for obj in (log, log2, third):
        obj.close()
    again = SimulationsLog(path, 2)  # every write reached the file
    assert again.get_job_status("2") is JobStatus.RUNNING and len(again) == 2
    again.close()


def test_objects_on_one_file_written_from_several_threads_at_once(path):
    objects = [SimulationsLog(path, 1) for _ in range(4)]
    start = threading.Barrier(len(objects))

    def write(k, log):
        start.wait()
        for i in range(50):
            key = f"{k}{i:03d}"
            log.add_new_record(Input(float(i)), key)
            log.insert_result(key, float(i))

    threads = [threading.Thread(target=write, args=(k + 1, o)) for k, o in enumerate(objects)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(len(o) == 200 for o in objects)
    for o in objects:
        o.close()
    reopened = SimulationsLog(path, 1)
    assert sum(1 for r in reopened.get_records() if r["output"] is not None) == 200
    reopened.close()


HOLD = """
import sys
sys.path.insert(0, sys.argv[2])
from simjobs import SimulationsLog
log = SimulationsLog(sys.argv[1], 2)
log.add_new_record([1, 2], "1")
print("holding", flush=True)
sys.stdin.readline()
"""


def test_only_another_process_is_refused_and_named(path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(SRC.parent)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        log = SimulationsLog(path, 2)
        log2 = SimulationsLog(path, 2)
        assert log.get_job_status("1") is JobStatus.PENDING_SUBMIT  # readers meanwhile
        with pytest.raises(LogLockedError) as err:
            log2.update_job_status("1", JobStatus.RUNNING)
        assert f"another process (pid {proc.pid} " in str(err.value)
        assert str(os.getpid()) not in str(err.value)
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
        # the other process has gone: the next write takes the writer's place
        log2.update_job_status("1", JobStatus.RUNNING)
        assert log.is_writer and log.get_job_status("1") is JobStatus.RUNNING
        log.close()
        log2.close()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_shutdown_then_new_log_object_and_manager_resume_without_resubmitting(path):
    hw = FakeInterface("hpc", polls_to_complete=10**9)  # runs until told to finish
    log = SimulationsLog(path, 2)
    mgr1 = JobManager(log, [hw], polling_interval=0.01)
    jobs = mgr1.submit_many([Input(i, 0.5) for i in range(3)])
    assert mgr1.wait_until_submitted([j.id for j in jobs], timeout=30)
    wait_for(lambda: all(log.get_job_status(j.id) is JobStatus.RUNNING for j in jobs), 30)
    mgr1.shutdown()
    log2 = SimulationsLog(path, 2)  # `log` is still alive, never closed
    mgr2 = JobManager(log2, [hw], polling_interval=0.01)
    try:
        assert {j.id for j, _ in mgr2.active_jobs()} == {j.id for j in jobs}
        hw.polls_to_complete = 0
        for j in jobs:
            hw.polls[j.id] = 0
        assert mgr2.wait_until_done(timeout=30)
        assert sorted(hw.submit_calls) == sorted(j.id for j in jobs)  # once each
        assert all(log.get_job_status(j.id) is JobStatus.COMPLETED for j in jobs)
    finally:
        mgr2.shutdown()
        log.close()
        log2.close()


def test_a_second_live_manager_on_the_file_is_refused_naming_the_first(path):
    log = SimulationsLog(path, 2)
    mgr1 = JobManager(log, [FakeInterface("hpc")], polling_interval=0.01)
    log2 = SimulationsLog(path, 2)  # another object on the same file
    try:
        assert JobManager.running_on(log2) is mgr1
        with pytest.raises(LogLockedError) as err:
            JobManager(log2, [FakeInterface("hpc")])
        text = str(err.value)
        assert repr(mgr1) in text and "shutdown()" in text and "another process" not in text
    finally:
        mgr1.shutdown()
    assert JobManager.running_on(log2) is None
    mgr2 = JobManager(log2, [FakeInterface("hpc")], polling_interval=0.01)  # free now
    job = mgr2.submit(Input(1, 2))
    assert mgr2.wait_until_done(timeout=30)
    assert log.get_job_status(job.id) is JobStatus.COMPLETED
    mgr2.shutdown()
    log.close()
    log2.close()


# ---- 2. strategies through the public surface ------------------------------------------

def private_uses(path: Path) -> list[str]:
    """``x._name`` where x is not self/cls, in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            base = node.value
            if not (isinstance(base, ast.Name) and base.id in ("self", "cls")):
                found.append(f"{ast.unparse(node)} (line {node.lineno})")
    return found


def test_strategies_use_no_private_name_of_another_object():
    assert private_uses(SRC / "core" / "strategies.py") == []


class PublicOnly:
    """A manager that is nothing but exauq's documented surface (what exauq's tests
    hand a strategy): real log, real interface, a record of remove_job calls."""

    def __init__(self, log, interface):
        self.simulations_log = log
        self.interface = interface
        self.removed = []

    def get_interface(self, name):
        assert name == self.interface.name
        return self.interface

    def remove_job(self, job):
        self.removed.append(job)


def job_in(log, key="1", status=JobStatus.SUBMITTED):
    job = Job(key, Input(0.25, 0.5), 1, "hpc")
    log.add_new_record(job.data, key, status, 1, "hpc")
    return job


def test_completed_strategy_on_any_manager_with_the_public_surface(path):
    log = SimulationsLog(path, 2)
    hw = FakeInterface("hpc")
    manager = PublicOnly(log, hw)
    job = job_in(log)
    hw.jobs[job.id] = job
    CompletedJobStrategy().handle(job, manager)
    assert log.get_job_status("1") is JobStatus.COMPLETED
    assert log.get_records(["1"])[0]["output"] == 0.75
    assert manager.removed == [job]
    # called directly with no output: exauq's contract, Completed with output None
    other = job_in(log, "2")
    hw.jobs[other.id] = other
    hw.outputs[other.id] = None
    CompletedJobStrategy.handle(other, manager)
    assert log.get_job_status("2") is JobStatus.COMPLETED
    assert log.get_records(["2"])[0]["output"] is None
    log.close()


def test_each_strategy_does_what_exauq_documents_on_the_public_surface(path):
    from simjobs import (FailedJobStrategy, FailedSubmitJobStrategy, RunningJobStrategy,
                         SubmittedJobStrategy)

    log = SimulationsLog(path, 2)
    hw = FakeInterface("hpc")
    manager = PublicOnly(log, hw)
    submitted, running = job_in(log, "1"), job_in(log, "2", JobStatus.RUNNING)
    RunningJobStrategy.handle(submitted, manager)  # the log said SUBMITTED
    RunningJobStrategy().handle(running, manager)  # already RUNNING: left alone
    assert log.get_record("1").status is JobStatus.RUNNING
    assert [s for s, _ in log.get_record("2").history] == [JobStatus.RUNNING]
    cancelling = job_in(log, "3", JobStatus.PENDING_CANCEL)
    RunningJobStrategy.handle(cancelling, manager)  # a cancel under way is not overwritten
    assert log.get_job_status("3") is JobStatus.PENDING_CANCEL
    waiting = job_in(log, "4")
    SubmittedJobStrategy.handle(waiting, manager)
    assert [s for s, _ in log.get_record("4").history] == [JobStatus.SUBMITTED]
    assert manager.removed == []
    FailedJobStrategy.handle(submitted, manager)
    assert log.get_job_status("1") is JobStatus.FAILED
    assert log.get_record("1").reason  # the interface's reason, or a default one
    FailedSubmitJobStrategy().handle(waiting, manager)
    assert log.get_job_status("4") is JobStatus.FAILED_SUBMIT
    assert manager.removed == [submitted, waiting]
    log.close()


class Doubling(JobStrategy):
    """A user's strategy: records twice the output, with a reason of its own."""

    @staticmethod
    def handle(job, job_manager):
        value = job_manager.get_interface(job.interface_name).get_job_output(job.id)
        log = job_manager.simulations_log
        log.insert_result(str(job.id), 2 * value)
        log.set_job_reason(str(job.id), "doubled by a custom strategy")
        log.update_job_status(str(job.id), JobStatus.COMPLETED)
        job_manager.remove_job(job)


def test_a_custom_strategy_replaces_the_default_for_its_status(path):
    log = SimulationsLog(path, 2)
    events = []
    manager = JobManager(log, [FakeInterface("hpc")], polling_interval=0.01,
                         job_strategies={JobStatus.COMPLETED: Doubling()})
    manager.subscribe(events.append)
    try:
        assert isinstance(manager.job_strategies[JobStatus.COMPLETED], Doubling)
        jobs = manager.submit_many([Input(1, 2), Input(3, 4)])
        assert manager.wait_until_done(timeout=30)
        assert [log.get_records([j.id])[0]["output"] for j in jobs] == [6.0, 14.0]
        assert log.get_record(jobs[0].id).reason == "doubled by a custom strategy"
        wait_for(lambda: sum(isinstance(e, JobEvent) and e.new_status is JobStatus.COMPLETED
                             for e in events) == 2)
        done = [e for e in events if isinstance(e, JobEvent) and e.new_status is JobStatus.COMPLETED]
        assert sorted(e.output for e in done) == [6.0, 14.0]  # one event, output included
    finally:
        manager.shutdown()
        log.close()
    with pytest.raises(TypeError, match="job_strategies"):
        JobManager(SimulationsLog(path, 2), [FakeInterface("hpc")],
                   job_strategies={"Completed": Doubling()})


def test_a_custom_pending_submit_strategy_is_used_and_then_polled(path):
    calls = []

    class Recording(PendingSubmitJobStrategy):
        @classmethod
        def handle(cls, job, job_manager):
            calls.append(job.id)
            job_manager.get_interface(job.interface_name).submit_job(job)
            job_manager.simulations_log.update_job_status(str(job.id), JobStatus.SUBMITTED)

    log = SimulationsLog(path, 2)
    manager = JobManager(log, [FakeInterface("hpc")], polling_interval=0.01,
                         job_strategies={JobStatus.PENDING_SUBMIT: Recording()})
    try:
        job = manager.submit(Input(1, 2))
        assert manager.wait_until_done(timeout=30)
        assert calls == [job.id] and log.get_job_status(job.id) is JobStatus.COMPLETED
    finally:
        manager.shutdown()
        log.close()


class CountingLog(SimulationsLog):
    """simjobs' log, counting the transactions of apply_changes (not gathered ones)."""

    transactions: list

    def apply_changes(self, changes, *, sync=True):
        if getattr(self._handle.local, "batch", None) is None:
            self.transactions.append(list(changes))
        super().apply_changes(changes, sync=sync)


def test_the_manager_writes_a_cycle_of_strategy_writes_in_one_transaction(path):
    log = CountingLog(path, 2)
    log.transactions = []
    hw = FakeInterface("hpc")
    hw.before_statuses = lambda: wait_for(lambda: len(hw.jobs) == 20)
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        manager.submit_many([Input(i, 0) for i in range(20)])
        assert manager.wait_until_done(timeout=30)
    finally:
        manager.shutdown()
    completed = [t for t in log.transactions
                 if any(c.status is JobStatus.COMPLETED for c in t)]
    assert len(completed) == 1 and len(completed[0]) == 20  # output+status merged per job
    assert all(c.output is not None for c in completed[0])
    log.close()


def test_log_batch_is_all_or_nothing_and_read_after(path):
    log = SimulationsLog(path, 2)
    log.add_new_record(Input(1, 2), "1")
    with log.batch() as batch:
        log.insert_result("1", 5.0)
        log.update_job_status("1", JobStatus.COMPLETED)
        assert log.get_job_status("1") is JobStatus.PENDING_SUBMIT  # not yet written
    assert len(batch.changes) == 1  # merged into one change
    assert log.get_job_status("1") is JobStatus.COMPLETED
    log.add_new_record(Input(1, 2), "2")
    with pytest.raises(RuntimeError):
        with log.batch():
            log.update_job_status("2", JobStatus.RUNNING)
            raise RuntimeError("give up")
    assert log.get_job_status("2") is JobStatus.PENDING_SUBMIT  # nothing written
    log.close()


# ---- 3. strategies called directly ---------------------------------------------------

class QuickSubmit(PendingSubmitJobStrategy):
    initial_delay = 0.05
    max_delay = 0.15


def test_pending_submit_called_directly_retries_with_sleeping_backoff(path):
    log = SimulationsLog(path, 2)
    hw = FakeInterface("hpc")
    times = []
    real_submit = hw.submit_job

    def timed(job):
        times.append(time.monotonic())
        real_submit(job)

    hw.submit_job = timed
    manager = PublicOnly(log, hw)
    hw.fail_submits = 2
    job = job_in(log, "1", JobStatus.PENDING_SUBMIT)
    QuickSubmit.handle(job, manager)  # blocks: three attempts
    assert len(times) == 3 and log.get_job_status("1") is JobStatus.SUBMITTED
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.10  # 0.05, then 0.10 (+ jitter)

    times.clear()
    hw.fail_submits = 10
    other = job_in(log, "2", JobStatus.PENDING_SUBMIT)
    QuickSubmit().handle(other, manager)
    assert len(times) == QuickSubmit.max_attempts == 5
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert [g >= d for g, d in zip(gaps, (0.05, 0.10, 0.15, 0.15))] == [True] * 4  # capped
    assert log.get_job_status("2") is JobStatus.FAILED_SUBMIT
    assert "submit failed 5 times" in log.get_record("2").reason
    assert manager.removed == [other]
    log.close()


def test_pending_submit_called_directly_on_a_real_manager(path):
    log = SimulationsLog(path, 2)
    hw = FakeInterface("hpc")
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = job_in(log, "1", JobStatus.PENDING_SUBMIT)  # not monitored by the manager
        hw.fail_submits = 1
        started = time.monotonic()
        QuickSubmit.handle(job, manager)
        assert time.monotonic() - started >= 0.05  # it slept: not the manager's cycle
        assert hw.submit_calls == [job.id, job.id]
        assert log.get_job_status("1") is JobStatus.SUBMITTED
    finally:
        manager.shutdown()
        log.close()


def test_pending_cancel_called_directly_on_a_job_that_ended(path):
    log = SimulationsLog(path, 2)
    hw = FakeInterface("hpc")
    manager = PublicOnly(log, hw)
    job = job_in(log, "1", JobStatus.PENDING_CANCEL)
    hw.jobs[job.id] = job
    hw.polls[job.id] = 0  # its first status answer is COMPLETED
    with pytest.raises(InvalidJobStatusError) as err:
        PendingCancelJobStrategy.handle(job, manager)
    assert err.value.status is JobStatus.COMPLETED
    assert log.get_job_status("1") is JobStatus.COMPLETED
    assert log.get_records(["1"])[0]["output"] == 0.75  # and its output kept
    assert hw.cancel_calls == [] and manager.removed == [job]

    running = job_in(log, "2", JobStatus.PENDING_CANCEL)
    hw.jobs[running.id] = running
    hw.polls[running.id] = -10  # still running
    PendingCancelJobStrategy.handle(running, manager)
    assert hw.cancel_calls == [running.id]
    assert log.get_job_status("2") is JobStatus.CANCELLED and manager.removed[-1] == running
    log.close()


class QuickCancel(PendingCancelJobStrategy):
    initial_delay = 0.02
    max_delay = 0.04


def test_pending_cancel_called_directly_retries_then_failed_cancel(path):
    log = SimulationsLog(path, 2)
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    manager = PublicOnly(log, hw)
    job = job_in(log, "1", JobStatus.PENDING_CANCEL)
    hw.jobs[job.id] = job
    hw.polls[job.id] = 0
    hw.fail_cancels = 10
    started = time.monotonic()
    QuickCancel.handle(job, manager)  # blocks through five attempts
    assert time.monotonic() - started >= 0.02 + 0.04 + 0.04 + 0.04
    assert hw.cancel_calls == [job.id] * 5
    assert log.get_job_status("1") is JobStatus.FAILED_CANCEL
    assert manager.removed == []  # still monitored: its real end is recorded later
    log.close()


def test_inside_the_manager_a_cancel_that_finds_its_job_ended_keeps_the_output(path):
    log = SimulationsLog(path, 2)
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 2))
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.RUNNING, 30)
        hw.forced[job.id] = JobStatus.COMPLETED  # it ends just before the cancel
        manager.cancel(job.id)
        assert manager.wait_until_done(timeout=30)
        assert log.get_job_status(job.id) is JobStatus.COMPLETED
        assert log.get_records([job.id])[0]["output"] == 3.0
        assert hw.cancel_calls == []
    finally:
        manager.shutdown()
        log.close()


# ---- 4. small semantic points --------------------------------------------------------

def test_training_data_is_every_record_with_an_output_whatever_its_status(path):
    log = SimulationsLog(path, 2)
    with pytest.warns(UserWarning, match="No successfully completed simulations"):
        assert log.prepare_training_data() == MultiLevel({})
    for level in (1, 2, 3):
        log.add_new_record(Input(level, level), str(level), job_level=level)
        log.insert_result(str(level), 10.0 * level)  # no status change
    log.add_new_record(Input(9, 9), "9", JobStatus.FAILED)  # no output: left out
    assert log.prepare_training_data() == MultiLevel({
        1: [TrainingDatum(Input(1, 1), 10.0)],
        2: [TrainingDatum(Input(2, 2), 20.0)],
        3: [TrainingDatum(Input(3, 3), 30.0)],
    })
    log.close()


def test_job_equality_is_id_and_input_data():
    assert Job(1, Input(0)) == Job("1", Input(0))
    assert Job(1, Input(0), level=2, interface_name="a") == Job(1, Input(0))
    assert Job(1, Input(0)) != Job(1, Input(1))
    assert Job(1, Input(0)) != Job(1, Input(0, 0))
    assert Job(1, Input(0)) != Job(2, Input(0))
    assert Job(1, Input(0)) != (JobId(1), Input(0))


@pytest.mark.parametrize("bad", ["a", "", "0.1", -1])
def test_job_id_error_text_is_exauqs(bad):
    expected = ("Expected 'job_id' to define a string consisting only of digits, but "
                f"received '{bad}' instead.")
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        JobId(bad)


def test_job_error_texts_are_exauqs():
    expected = f"Expected 'id_' to define a valid {JobId!r}, but received 'a' instead."
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        Job(id_="a", data=Input(0))
    expected = f"Expected 'data' to be of type {Input} but received {type(1)} instead."
    with pytest.raises(TypeError, match=f"^{re.escape(expected)}$"):
        Job(id_=1, data=1)


def test_the_manager_takes_any_object_with_the_logs_public_methods():
    log = Mock(spec=SimulationsLog)  # passes isinstance, but is not simjobs' log
    log.get_non_terminated_jobs.return_value = []

    def status(key):
        if str(key) == "888":
            return JobStatus.COMPLETED
        raise SimulationsLogLookupError(f"no job {key}")

    log.get_job_status.side_effect = status
    hw = FakeInterface("hpc")
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1.0, 2.0))
        log.add_new_record.assert_called_once_with(
            Input(1.0, 2.0), str(job.id), job_status=JobStatus.PENDING_SUBMIT,
            job_level=1, interface_name="hpc")
        # the worker submits it, polls it and writes through the public methods
        wait_for(lambda: any(c.args == (str(job.id), JobStatus.COMPLETED)
                             for c in log.update_job_status.call_args_list), 30)
        log.update_job_status.assert_any_call(str(job.id), JobStatus.SUBMITTED)
        log.insert_result.assert_any_call(str(job.id), 3.0)
        with pytest.raises(UnknownJobIdError, match="no such job exists"):
            manager.cancel("999")
        with pytest.raises(InvalidJobStatusError, match="Cannot cancel 'job' with terminal"):
            manager.cancel("888")
    finally:
        manager.shutdown()


# ---- 5. the README's "Coming from exauq" example runs ---------------------------------

def test_readme_coming_from_exauq_example_runs(tmp_path):
    readme = (SRC.parent.parent / "README.md").read_text()
    section = readme.split("## Coming from exauq", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the section has a Python example"
    example = blocks[-1]
    out = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(SRC.parent)})
    assert out.returncode == 0, out.stderr
    assert "training data per level: {1: 3, 2: 2}" in out.stdout, out.stdout
