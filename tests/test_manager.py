"""Behaviour of JobManager: exauq's seed API, and the defects simjobs must not repeat."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from typing import Optional

from simjobs import (
    Input,
    InvalidJobStatusError,
    JobId,
    JobManager,
    JobStatus,
    LogLockedError,
    PendingCancelJobStrategy,
    PendingSubmitJobStrategy,
    SimulationsLog,
    UnknownJobIdError,
)
from simjobs.core.errors import HardwareUnreachableError
from simjobs.core.events import InterfaceHealthEvent, JobEvent

from fakes import FakeInterface
from helpers import wait_for


@pytest.fixture(params=["csv", "db"])
def log(request, tmp_path):
    log = SimulationsLog(tmp_path / f"runs.{request.param}", 2)
    yield log
    log.close()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    for cls in (PendingSubmitJobStrategy, PendingCancelJobStrategy):
        monkeypatch.setattr(cls, "initial_delay", 0.01)
        monkeypatch.setattr(cls, "max_delay", 0.05)


def status_of(log, job):
    return log.get_job_status(job.id)


def test_submit_runs_job_to_completion_with_output(log):
    hw = FakeInterface("hpc", polls_to_complete=1)
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(0.25, 0.5))
        assert job.level == 1 and job.interface_name == "hpc"
        assert len(str(job.id)) == 17
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, job) is JobStatus.COMPLETED
        [record] = log.get_records([job.id])
        assert record["output"] == 0.75
        assert record["input"] == Input(0.25, 0.5)
        assert manager.interface_job_counts == {"hpc": 0}
    finally:
        manager.shutdown()


def test_constructor_validates_interfaces(log):
    with pytest.raises(TypeError):
        JobManager(log, ["not an interface"])
    with pytest.raises(ValueError, match="Interface name not set."):
        JobManager(log, [FakeInterface(None)])
    with pytest.raises(ValueError, match="Each interface must have a unique name."):
        JobManager(log, [FakeInterface("a"), FakeInterface("a")])


def test_submit_at_level_without_interface_fails_and_logs_nothing(log):
    manager = JobManager(log, [FakeInterface("hpc", level=1)], polling_interval=0.01)
    try:
        with pytest.raises(ValueError, match="No interfaces found for level 2"):
            manager.submit(Input(0.1, 0.2), level=2)
        with pytest.raises(ValueError, match="coordinates"):
            manager.submit(Input(0.1, 0.2, 0.3))
        assert len(log) == 0
    finally:
        manager.shutdown()


def test_least_loaded_interface_is_chosen_per_level(log):
    a = FakeInterface("a", polls_to_complete=10**9)
    b = FakeInterface("b", polls_to_complete=10**9)
    c = FakeInterface("c", level=2, polls_to_complete=10**9)
    manager = JobManager(log, [a, b, c], polling_interval=0.01)
    try:
        jobs = [manager.submit(Input(i, i)) for i in range(4)]
        assert [j.interface_name for j in jobs] == ["a", "b", "a", "b"]
        assert manager.submit(Input(0, 0), level=2).interface_name == "c"
        assert manager.interface_job_counts == {"a": 2, "b": 2, "c": 1}
        many = manager.submit_many([Input(i, 0) for i in range(6)])
        names = [j.interface_name for j in many]
        assert names.count("a") == 3 and names.count("b") == 3
    finally:
        manager.shutdown()


def test_submit_retries_with_backoff_then_succeeds(log):
    hw = FakeInterface("hpc")
    hw.fail_submits = 2
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 2))
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, job) is JobStatus.COMPLETED
        assert hw.submit_calls.count(job.id) == 3
    finally:
        manager.shutdown()


def test_five_failed_submits_give_failed_submit_with_reason(log):
    hw = FakeInterface("hpc")
    hw.fail_submits = 100
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 2))
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, job) is JobStatus.FAILED_SUBMIT
        assert hw.submit_calls.count(job.id) == 5
        assert "hardware refused the job" in log.get_record(job.id).reason
    finally:
        manager.shutdown()


def test_unreachable_hardware_neither_uses_up_submit_attempts_nor_fails_jobs(log):
    """An interface that cannot reach its host (HardwareUnreachableError) is shown as
    unreachable; submits wait past max_attempts, running jobs keep their status, and
    everything finishes once the host answers again."""
    hw = FakeInterface("remote", polls_to_complete=1000)
    manager = JobManager(log, [hw], polling_interval=0.01)
    events = []
    manager.subscribe(events.append)
    try:
        running = manager.submit(Input(1, 2))
        wait_for(lambda: status_of(log, running) is JobStatus.RUNNING)
        hw.status_error = HardwareUnreachableError("connection refused by 127.0.0.1:2222")
        hw.fail_submits = 3 * PendingSubmitJobStrategy.max_attempts
        hw.fail_submit_error = HardwareUnreachableError("connection refused by 127.0.0.1:2222")
        waiting = manager.submit(Input(3, 4))
        wait_for(lambda: hw.submit_calls.count(waiting.id) > PendingSubmitJobStrategy.max_attempts)
        wait_for(lambda: manager.interface_health()["remote"].state == "unreachable")
        assert "connection refused" in manager.interface_health()["remote"].message
        assert status_of(log, waiting) is JobStatus.PENDING_SUBMIT
        assert status_of(log, running) is JobStatus.RUNNING
        assert any(isinstance(e, InterfaceHealthEvent) and e.state == "unreachable"
                   for e in events)
        hw.status_error = None
        hw.fail_submits = 0
        hw.polls_to_complete = 0
        assert manager.wait_until_done(timeout=20)
        assert status_of(log, running) is JobStatus.COMPLETED
        assert status_of(log, waiting) is JobStatus.COMPLETED
        wait_for(lambda: manager.interface_health()["remote"].ok)
    finally:
        manager.shutdown()


def test_a_waiting_retry_does_not_stall_other_jobs(log, monkeypatch):
    monkeypatch.setattr(PendingSubmitJobStrategy, "initial_delay", 30.0)
    monkeypatch.setattr(PendingSubmitJobStrategy, "max_delay", 30.0)
    hw = FakeInterface("hpc")
    hw.fail_submits = 1
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        stuck = manager.submit(Input(0, 0))
        wait_for(lambda: hw.submit_calls.count(stuck.id) == 1)
        others = manager.submit_many([Input(i, 1) for i in range(5)])
        wait_for(lambda: all(status_of(log, j) is JobStatus.COMPLETED for j in others), timeout=5)
        assert status_of(log, stuck) is JobStatus.PENDING_SUBMIT  # still waiting its 30 s
        assert "retrying" in log.get_record(stuck.id).reason
    finally:
        manager.shutdown()


def test_hanging_interface_does_not_delay_another(log):
    release = threading.Event()
    slow = FakeInterface("slow")
    slow.before_statuses = lambda: release.wait(20)
    fast = FakeInterface("fast", level=2)
    manager = JobManager(log, [slow, fast], polling_interval=0.01)
    try:
        stuck = manager.submit(Input(0, 0), level=1)
        wait_for(lambda: slow.submit_calls)
        jobs = manager.submit_many([Input(i, i) for i in range(10)], level=2)
        wait_for(lambda: all(status_of(log, j) is JobStatus.COMPLETED for j in jobs), timeout=5)
        assert status_of(log, stuck) is JobStatus.SUBMITTED
    finally:
        release.set()
        manager.shutdown()


def test_one_poll_per_cycle_and_never_two_threads_in_one_interface(log):
    hw = FakeInterface("hpc", polls_to_complete=3)
    manager = JobManager(log, [hw], polling_interval=0.02)
    try:
        manager.submit_many([Input(i, i) for i in range(50)])
        manager.submit_many([Input(i, -i) for i in range(50)])
        assert manager.wait_until_done(timeout=20)
        # 100 jobs, each needs 4 status answers: in batches, far fewer batch calls than jobs.
        assert hw.batch_calls < 40
        assert hw.concurrent_calls == 0
        assert hw.threads == {"simjobs-hpc"}
    finally:
        manager.shutdown()


def test_cancel_accepts_str_int_and_jobid(log):
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        jobs = manager.submit_many([Input(i, i) for i in range(3)])
        wait_for(lambda: all(status_of(log, j) is JobStatus.RUNNING for j in jobs))
        manager.cancel(str(jobs[0].id))
        manager.cancel(int(str(jobs[1].id)))
        returned = manager.cancel(jobs[2].id)
        assert returned.id == jobs[2].id
        assert manager.wait_until_done(timeout=10)
        assert all(status_of(log, j) is JobStatus.CANCELLED for j in jobs)
        assert set(hw.cancel_calls) == {j.id for j in jobs}
    finally:
        manager.shutdown()


def test_cancel_is_logged_at_once(log):
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    release = threading.Event()
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 1))
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        in_poll = threading.Event()

        def hold():
            in_poll.set()
            release.wait(20)

        hw.before_statuses = hold
        # With the worker held inside a poll, the cancel must still reach the log at once.
        assert in_poll.wait(5)
        manager.cancel(job.id)
        assert status_of(log, job) is JobStatus.PENDING_CANCEL
        release.set()
        wait_for(lambda: status_of(log, job) is JobStatus.CANCELLED)
    finally:
        release.set()
        manager.shutdown()


def test_cancel_racing_a_poll_is_not_overwritten(log):
    """The worker is inside get_job_statuses (job RUNNING) when the cancel arrives; the
    RUNNING answer must not overwrite PENDING_CANCEL, and the job ends CANCELLED."""
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    in_poll, release = threading.Event(), threading.Event()
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 1))
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        hw.polls[job.id] = 0  # the next answer is RUNNING again

        def hold():
            in_poll.set()
            release.wait(20)

        hw.before_statuses = hold
        assert in_poll.wait(5)
        manager.cancel(job.id)
        release.set()
        hw.before_statuses = None
        wait_for(lambda: status_of(log, job) is JobStatus.CANCELLED)
        history = [s for s, _ in log.get_record(job.id).history]
        assert history[-2:] == [JobStatus.PENDING_CANCEL, JobStatus.CANCELLED]
    finally:
        release.set()
        manager.shutdown()


def test_cancel_errors(log):
    hw = FakeInterface("hpc")
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 1))
        assert manager.wait_until_done(timeout=10)
        with pytest.raises(InvalidJobStatusError) as info:
            manager.cancel(job.id)
        assert info.value.status is JobStatus.COMPLETED
        with pytest.raises(UnknownJobIdError) as info:
            manager.cancel("12345")
        assert info.value.unknown_ids == [JobId("12345")]
        with pytest.raises(UnknownJobIdError):
            manager.cancel("not-an-id")
        result = manager.cancel_many([str(job.id)])
        assert result.cancelled == [] and result.skipped == {job.id: JobStatus.COMPLETED}
    finally:
        manager.shutdown()


def test_job_that_ends_before_its_cancel_keeps_real_status_and_output(log):
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(2, 3))
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        hw.forced[job.id] = JobStatus.COMPLETED  # finishes just before the cancel lands
        hw.fail_cancels = 100
        manager.cancel(job.id)
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, job) is JobStatus.COMPLETED
        assert log.get_record(job.id).output == 5.0
    finally:
        manager.shutdown()


def test_cancel_that_keeps_failing_ends_failed_cancel_then_real_end(log):
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    hw.fail_cancels = 100
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(2, 3))
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        manager.cancel(job.id)
        wait_for(lambda: status_of(log, job) is JobStatus.FAILED_CANCEL)
        assert len(hw.cancel_calls) == 5
        assert "cancel refused" in log.get_record(job.id).reason
        hw.forced[job.id] = JobStatus.FAILED
        wait_for(lambda: status_of(log, job) is JobStatus.FAILED)
    finally:
        manager.shutdown()


class BatchCancelInterface(FakeInterface):
    """Cancels many jobs in one call; a job it finished meanwhile says so with a status."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[list] = []
        self.ended_before_cancel: dict = {}
        self.batch_error: Optional[Exception] = None

    def cancel_jobs(self, job_ids):
        self.batches.append(list(job_ids))
        if self.batch_error is not None:
            raise self.batch_error
        outcomes = {}
        for job_id in job_ids:
            if job_id in self.ended_before_cancel:
                self.forced[job_id] = self.ended_before_cancel[job_id]
                error = RuntimeError(f"job {job_id} already ended")
                error.status = self.ended_before_cancel[job_id]
                outcomes[job_id] = error
            else:
                self.cancelled.add(job_id)
                outcomes[job_id] = None
        return outcomes

    def cancel_job(self, job_id):
        raise AssertionError("cancel_job called although cancel_jobs exists")


def test_cancels_go_to_the_hardware_in_one_batch_call(log):
    """An interface with cancel_jobs gets every due cancel in one call; a job that had
    already ended keeps its real status and output; a job never submitted is
    cancelled without asking the hardware."""
    hw = BatchCancelInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=0.05)
    try:
        jobs = manager.submit_many([Input(i, 1) for i in range(5)])
        assert manager.wait_until_submitted([j.id for j in jobs], timeout=10)
        hw.ended_before_cancel[jobs[0].id] = JobStatus.COMPLETED
        result = manager.cancel_many([j.id for j in jobs])
        assert len(result.cancelled) == 5 and not result.skipped
        wait_for(lambda: all(status_of(log, j) in (JobStatus.CANCELLED, JobStatus.COMPLETED)
                             for j in jobs))
        assert status_of(log, jobs[0]) is JobStatus.COMPLETED
        assert log.get_record(jobs[0].id).output == pytest.approx(1.0)
        assert [status_of(log, j) for j in jobs[1:]] == [JobStatus.CANCELLED] * 4
        assert sorted(map(str, sum(hw.batches, []))) == sorted(str(j.id) for j in jobs)
        assert len(hw.batches) <= 2  # the five cancels went out together (a cycle may split)
    finally:
        manager.shutdown()


def test_batch_cancel_failures_retry_and_unreachable_uses_no_attempts(log):
    hw = BatchCancelInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=0.05)
    try:
        job = manager.submit(Input(1, 1))
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        hw.batch_error = HardwareUnreachableError("connection refused")
        manager.cancel(job.id)
        wait_for(lambda: len(hw.batches) > PendingCancelJobStrategy.max_attempts)
        assert status_of(log, job) is JobStatus.PENDING_CANCEL  # waits, no FAILED_CANCEL
        hw.batch_error = RuntimeError("scancel refused")
        wait_for(lambda: status_of(log, job) is JobStatus.FAILED_CANCEL)
        assert "scancel refused" in log.get_record(job.id).reason
    finally:
        manager.shutdown()


def test_hardware_cancelled_job_stops_being_polled(log):
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(2, 3))
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        hw.forced[job.id] = JobStatus.CANCELLED
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, job) is JobStatus.CANCELLED
    finally:
        manager.shutdown()


def test_exceptions_are_handled_per_job_and_monitoring_goes_on(log):
    hw = FakeInterface("hpc")
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        bad_none, bad_text, bad_nan, good = manager.submit_many(
            [Input(0, 1), Input(0, 2), Input(0, 3), Input(0, 4)])
        hw.outputs[bad_none.id] = None
        hw.outputs[bad_text.id] = "garbage"
        hw.outputs[bad_nan.id] = float("nan")
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, good) is JobStatus.COMPLETED
        for job, words in [(bad_none, "without an output"), (bad_text, "not a number"),
                           (bad_nan, "non-finite")]:
            record = log.get_record(job.id)
            assert record.status is JobStatus.FAILED, job
            assert record.output is None
            assert words in record.reason
        # A status call that raises keeps the jobs and reports the interface degraded.
        events = []
        manager.subscribe(events.append)
        hw.status_error = OSError("network is down")
        job = manager.submit(Input(9, 9))
        wait_for(lambda: any(isinstance(e, InterfaceHealthEvent) and e.state == "degraded"
                               for e in events))
        assert status_of(log, job) is JobStatus.SUBMITTED
        hw.status_error = None
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, job) is JobStatus.COMPLETED
        wait_for(lambda: any(isinstance(e, InterfaceHealthEvent) and e.state == "ok"
                               for e in events))
    finally:
        manager.shutdown()


def test_output_fetch_errors_are_retried_then_fail(log):
    hw = FakeInterface("hpc")
    hw.output_error = OSError("disk unreachable")
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 1))
        assert manager.wait_until_done(timeout=10)
        record = log.get_record(job.id)
        assert record.status is JobStatus.FAILED
        assert "could not be fetched" in record.reason and "disk unreachable" in record.reason
    finally:
        manager.shutdown()


def test_events_for_every_status_change(log):
    hw = FakeInterface("hpc", polls_to_complete=1)
    manager = JobManager(log, [hw], polling_interval=0.01)
    events = []
    manager.subscribe(events.append)
    manager.subscribe(lambda e: 1 / 0)  # a broken subscriber must not stop delivery
    try:
        job = manager.submit(Input(1, 2))
        assert manager.wait_until_done(timeout=10)
        mine = [e for e in events if isinstance(e, JobEvent) and e.job_id == job.id]
        assert [(e.old_status, e.new_status) for e in mine] == [
            (None, JobStatus.PENDING_SUBMIT),
            (JobStatus.PENDING_SUBMIT, JobStatus.SUBMITTED),
            (JobStatus.SUBMITTED, JobStatus.RUNNING),
            (JobStatus.RUNNING, JobStatus.COMPLETED),
        ]
        assert mine[-1].output == 3.0 and mine[-1].interface_name == "hpc" and mine[-1].level == 1
        assert all(e.time > 0 for e in mine)
    finally:
        manager.shutdown()


def test_first_poll_is_immediate(log):
    hw = FakeInterface("hpc")
    manager = JobManager(log, [hw], polling_interval=30)
    try:
        start = time.monotonic()
        manager.submit(Input(1, 1))
        assert manager.wait_until_done(timeout=5)
        assert time.monotonic() - start < 2
    finally:
        manager.shutdown()


def test_resume_submits_exauq_record_without_interface(tmp_path):
    path = tmp_path / "runs.csv"
    log = SimulationsLog(path, 2)
    log.add_new_record(Input(1, 2), "20240601120000010")  # exauq's default: no interface
    hw = FakeInterface("hpc")
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        assert manager.wait_until_done(timeout=10)
        record = log.get_record("20240601120000010")
        assert record.status is JobStatus.COMPLETED and record.interface_name == "hpc"
    finally:
        manager.shutdown()
        log.close()


def test_resume_does_not_resubmit_a_job_the_hardware_holds(tmp_path):
    path = tmp_path / "runs.csv"
    log = SimulationsLog(path, 2)
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    log.add_new_record(Input(1, 2), "20240601120000001", interface_name="hpc")
    log.add_new_record(Input(3, 4), "20240601120000002", interface_name="hpc")
    from simjobs import Job
    hw.submit_job(Job("20240601120000001", Input(1, 2), 1, "hpc"))  # reached it before a crash
    hw.submit_calls.clear()
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        wait_for(lambda: all(log.get_job_status(i) is JobStatus.RUNNING
                               for i in ("20240601120000001", "20240601120000002")))
        assert hw.submit_calls == [JobId("20240601120000002")]
    finally:
        manager.shutdown()
        log.close()


def test_resume_leaves_jobs_of_unconfigured_levels_alone(tmp_path):
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    log.add_new_record(Input(1, 2), "20240601120000001", job_level=3)
    manager = JobManager(log, [FakeInterface("hpc")], polling_interval=0.01)
    try:
        assert manager.interface_job_counts == {"hpc": 0}
        assert log.get_job_status("20240601120000001") is JobStatus.PENDING_SUBMIT
    finally:
        manager.shutdown()
        log.close()


def test_wait_for_pending_blocks_until_resumed_jobs_end(tmp_path):
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    log.add_new_record(Input(1, 2), "20240601120000001", interface_name="hpc")
    manager = JobManager(log, [FakeInterface("hpc", polls_to_complete=2)],
                         polling_interval=0.01, wait_for_pending=True)
    try:
        assert log.get_job_status("20240601120000001") is JobStatus.COMPLETED
    finally:
        manager.shutdown()
        log.close()


def test_resubmit_makes_linked_job_at_original_level(log):
    hw1 = FakeInterface("l1")
    hw2 = FakeInterface("l2", level=2)
    hw2.fail_submits = 5
    manager = JobManager(log, [hw1, hw2], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 1), level=2)
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, job) is JobStatus.FAILED_SUBMIT
        (new,) = manager.resubmit([str(job.id)])
        assert new.level == 2 and new.id != job.id and new.data == job.data
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, new) is JobStatus.COMPLETED
        assert log.get_record(job.id).resubmitted_as == [str(new.id)]
        assert log.get_record(new.id).resubmit_of == str(job.id)
        assert status_of(log, job) is JobStatus.FAILED_SUBMIT  # the old record is kept
        with pytest.raises(InvalidJobStatusError):
            manager.resubmit([new.id])  # completed: nothing to redo
        with pytest.raises(UnknownJobIdError):
            manager.resubmit(["999"])
        assert manager.resubmit([]) == []  # never "everything" (exauq defect 11)
    finally:
        manager.shutdown()


def test_resubmitting_twice_is_refused_naming_the_new_job_and_again_keeps_every_link(
        log, tmp_path):
    hw = FakeInterface("hpc")
    hw.fail_submits = 5
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(1, 1))
        assert manager.wait_until_done(timeout=10)
        (first,) = manager.resubmit([job.id])
        with pytest.raises(InvalidJobStatusError, match=f"already resubmitted as {first.id}"):
            manager.resubmit([job.id])
        assert len(log) == 2  # refused: nothing added
        (second,) = manager.resubmit([job.id], again=True)
        assert log.get_record(job.id).resubmitted_as == [str(first.id), str(second.id)]
        assert log.get_record(second.id).resubmit_of == str(job.id)
        assert manager.wait_until_done(timeout=10)
    finally:
        manager.shutdown()
    path = log.path
    log.close()
    with open(path, "rb") as f:
        main = f.read()
    back = SimulationsLog(path, 2)
    try:  # every link is on disk
        assert back.get_record(job.id).resubmitted_as == [str(first.id), str(second.id)]
    finally:
        back.close()
    if str(path).endswith(".csv"):  # exauq's columns are untouched by the links
        assert main.splitlines()[0] == (
            b"Input_1,Input_2,Output,Job_ID,Job_Status,Job_Level,Interface_Name")
        assert all(line.count(b",") == 6 for line in main.splitlines())


def test_second_manager_on_same_log_fails_at_once(log):
    manager = JobManager(log, [FakeInterface("hpc")], polling_interval=0.01)
    try:
        with pytest.raises(LogLockedError, match="already managed"):
            JobManager(log, [FakeInterface("other")])
    finally:
        manager.shutdown()
    JobManager(log, [FakeInterface("hpc")]).shutdown()  # free again after shutdown


def test_second_process_cannot_manage_a_held_log(tmp_path):
    path = tmp_path / "runs.csv"
    log = SimulationsLog(path, 2)
    manager = JobManager(log, [FakeInterface("hpc")], polling_interval=0.01)
    try:
        code = (
            "import sys; sys.path.insert(0, %r)\n"
            "from simjobs import SimulationsLog, JobManager, LogLockedError\n"
            "from fakes import FakeInterface\n"
            "log = SimulationsLog(%r, 2)\n"
            "print(len(log))\n"
            "try:\n    JobManager(log, [FakeInterface('x')])\n"
            "except LogLockedError as e:\n    print('LOCKED', e)\n"
        ) % (os.path.dirname(__file__), str(path))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
        assert f"pid {os.getpid()}" in out.stdout, out.stdout + out.stderr
        assert "LOCKED" in out.stdout
    finally:
        manager.shutdown()
        log.close()


def test_forgetting_shutdown_does_not_hang_exit(tmp_path):
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from simjobs import SimulationsLog, JobManager, Input\n"
        "from fakes import FakeInterface\n"
        "log = SimulationsLog(%r, 2)\n"
        "m = JobManager(log, [FakeInterface('hpc', polls_to_complete=10**9)], polling_interval=0.01)\n"
        "m.submit(Input(1, 2))\n"
        "print('submitted')\n"
    ) % (os.path.dirname(__file__), str(tmp_path / "runs.csv"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "submitted" in out.stdout, out.stderr
    # and the log the script left behind is complete and readable
    log = SimulationsLog(tmp_path / "runs.csv", 2, readonly=True)
    assert len(log) == 1


def test_log_is_written_before_hardware_acts(tmp_path):
    path = tmp_path / "runs.csv"
    log = SimulationsLog(path, 2)
    seen = []

    class Checking(FakeInterface):
        def submit_job(self, job):
            reader = SimulationsLog(path, 2, readonly=True)
            seen.append(reader.get_job_status(job.id))
            # and durable: nothing the manager wrote is still waiting for its fsync
            seen.append(bool(log._store._unsynced))
            super().submit_job(job)

    manager = JobManager(log, [Checking("hpc")], polling_interval=0.01)
    try:
        manager.submit(Input(1, 1))
        assert manager.wait_until_done(timeout=10)
        assert seen == [JobStatus.PENDING_SUBMIT, False]
    finally:
        manager.shutdown()
        log.close()


def test_wait_until_submitted_wakes_on_submission_not_on_next_poll(log):
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=30)
    try:
        first = manager.submit(Input(0, 0))
        wait_for(lambda: status_of(log, first) is JobStatus.RUNNING)  # first poll done
        start = time.monotonic()
        jobs = manager.submit_many([Input(1, 1), Input(2, 2)])
        assert manager.wait_until_submitted([j.id for j in jobs], timeout=10)
        assert time.monotonic() - start < 5  # not the 30 s to the next poll
        assert all(status_of(log, j) in (JobStatus.SUBMITTED, JobStatus.RUNNING) for j in jobs)
    finally:
        manager.shutdown()


def test_identical_changes_in_one_batch_make_one_event(log):
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=30)
    events = []
    manager.subscribe(events.append)
    try:
        job = manager.submit(Input(0, 0))
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        from simjobs.core.records import LogChange
        now = time.time()
        manager._apply([LogChange(str(job.id), now, status=JobStatus.FAILED, reason="a"),
                        LogChange(str(job.id), now, status=JobStatus.FAILED, reason="b"),
                        LogChange(str(job.id), now, status=JobStatus.RUNNING)])
        manager.wait_events_delivered(5)
        mine = [(e.old_status, e.new_status) for e in events if isinstance(e, JobEvent)]
        assert mine.count((JobStatus.RUNNING, JobStatus.FAILED)) == 1
        assert (JobStatus.FAILED, JobStatus.FAILED) not in mine
        assert status_of(log, job) is JobStatus.FAILED  # nothing follows a terminal status
        assert manager.interface_job_counts == {"hpc": 0}
    finally:
        manager.shutdown()


def test_resumed_pending_cancel_that_never_reached_hardware_is_cancelled(tmp_path):
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    log.add_new_record(Input(1, 2), "20240601120000001", JobStatus.PENDING_CANCEL,
                       interface_name="hpc")
    hw = FakeInterface("hpc")
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        assert manager.wait_until_done(timeout=10)
        assert log.get_job_status("20240601120000001") is JobStatus.CANCELLED
        assert hw.cancel_calls == [] and hw.submit_calls == []
    finally:
        manager.shutdown()
        log.close()


def test_resumed_pending_cancel_on_the_hardware_is_cancelled_there(tmp_path):
    from simjobs import Job
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    log.add_new_record(Input(1, 2), "20240601120000001", JobStatus.PENDING_CANCEL,
                       interface_name="hpc")
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    hw.submit_job(Job("20240601120000001", Input(1, 2), 1, "hpc"))
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        assert manager.wait_until_done(timeout=10)
        assert log.get_job_status("20240601120000001") is JobStatus.CANCELLED
        assert hw.cancel_calls == [JobId("20240601120000001")]
    finally:
        manager.shutdown()
        log.close()


def test_job_the_hardware_has_lost_ends_failed(tmp_path):
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    log.add_new_record(Input(1, 2), "20240601120000001", JobStatus.RUNNING, interface_name="hpc")
    manager = JobManager(log, [FakeInterface("hpc")], polling_interval=0.01)
    try:
        assert manager.wait_until_done(timeout=10)
        record = log.get_record("20240601120000001")
        assert record.status is JobStatus.FAILED
        assert "no record of this job" in record.reason
    finally:
        manager.shutdown()
        log.close()


def test_a_job_is_not_failed_when_the_hardware_cannot_tell(tmp_path):
    """An exauq interface cannot say which jobs it has: its silence is not a loss."""

    class Exauqish(FakeInterface):
        def find_jobs(self, job_ids):
            return None

    log = SimulationsLog(tmp_path / "runs.csv", 2)
    log.add_new_record(Input(1, 2), "20240601120000001", JobStatus.RUNNING, interface_name="hpc")
    hw = Exauqish("hpc")
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        wait_for(lambda: hw.status_calls >= 3 * 5)  # well past the point of asking
        assert not manager.wait_until_done(timeout=0.1)
        assert log.get_job_status("20240601120000001") is JobStatus.RUNNING
    finally:
        manager.shutdown()
        log.close()


def test_shutdown_does_not_wait_for_or_close_a_hung_interface(log, monkeypatch):
    monkeypatch.setattr(JobManager, "call_timeout", 0.2)
    release, entered = threading.Event(), threading.Event()
    closed = []

    class Hanging(FakeInterface):
        def close(self):
            closed.append(self.name)

    hung = Hanging("hung")
    fine = Hanging("fine", level=2)

    def hang():
        entered.set()
        release.wait(30)

    hung.before_statuses = hang
    manager = JobManager(log, [hung, fine], polling_interval=0.01)
    events = []
    manager.subscribe(events.append)
    try:
        manager.submit(Input(1, 1))
        assert entered.wait(5)
        wait_for(lambda: any(isinstance(e, InterfaceHealthEvent) and e.interface_name == "hung"
                               and "has not returned" in e.message for e in events))
        start = time.monotonic()
        manager.shutdown()
        assert time.monotonic() - start < 3
        assert closed == ["fine"]  # never called from a second thread while busy
    finally:
        release.set()


def test_exauq_style_interface_may_assign_its_attributes(log):
    from simjobs import HardwareInterface

    class Mine(HardwareInterface):
        def __init__(self):
            super().__init__()
            self._name, self._level = "mine", 1
            self.max_jobs = 4
        submit_job = get_job_status = get_job_output = cancel_job = lambda *a: None

    interface = Mine()
    assert interface.max_jobs == 4 and interface.name == "mine" and interface.health.ok
    JobManager(log, [interface], polling_interval=0.01).shutdown()


def test_a_running_job_the_hardware_queues_again_is_shown_queued_until_it_runs(log):
    """Slurm requeues a job (or slurmctld recovers an older state): while it pends again
    the log says Submitted, with the reason, not Running; then Running, then its end."""
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    manager = JobManager(log, [hw], polling_interval=0.01)
    try:
        job = manager.submit(Input(2, 3))
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        hw.forced[job.id] = JobStatus.SUBMITTED
        wait_for(lambda: status_of(log, job) is JobStatus.SUBMITTED)
        assert "requeued" in log.get_record(job.id).reason
        del hw.forced[job.id]  # started again
        wait_for(lambda: status_of(log, job) is JobStatus.RUNNING)
        hw.forced[job.id] = JobStatus.COMPLETED
        assert manager.wait_until_done(timeout=10)
        assert status_of(log, job) is JobStatus.COMPLETED
        statuses = [s for s, _ in log.get_record(job.id).history]
        assert statuses[-4:] == [JobStatus.RUNNING, JobStatus.SUBMITTED, JobStatus.RUNNING,
                                 JobStatus.COMPLETED]
    finally:
        manager.shutdown()


def test_a_worker_hands_its_interface_a_bounded_batch_per_cycle_and_the_rest_at_once(
        log, monkeypatch):
    # A 100,000-job campaign handed over in one cycle made 100,000 outcomes, changes and
    # events at once; now at most MAX_SUBMITS_PER_CYCLE a cycle, oldest first, the next
    # cycle straight after (no polling interval between).
    import simjobs.core.manager as manager_module

    monkeypatch.setattr(manager_module, "MAX_SUBMITS_PER_CYCLE", 5)
    hw = FakeInterface("hpc", polls_to_complete=10**9)
    batches: list[list] = []
    hw.submit_jobs = lambda jobs: (batches.append([j.id for j in jobs]),
                                   {j.id: hw.submit_job(j) for j in jobs})[1]
    manager = JobManager(log, [hw], polling_interval=30.0)
    try:
        jobs = manager.submit_many([(i / 20, 0.5) for i in range(12)], level=1)
        assert manager.wait_until_submitted([j.id for j in jobs], timeout=10)
        assert [len(b) for b in batches] == [5, 5, 2]
        assert [j for b in batches for j in b] == [j.id for j in jobs]  # oldest first
        assert all(status_of(log, j) in (JobStatus.SUBMITTED, JobStatus.RUNNING) for j in jobs)
    finally:
        manager.shutdown()
