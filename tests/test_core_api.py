"""The public core API the app reads through (issue 10): cheap snapshots of a log's
records, the status changes a refresh loaded, a manager's running state and the
delivery of its events. Real logs on both stores, real managers on local processes."""

from __future__ import annotations

import sys
import threading

import pytest

from simjobs import Input, JobStatus, SimulationsLog
from simjobs.core.log import StatusChanges
from simjobs.core.manager import JobManager
from simjobs.interfaces.local import LocalInterface

RUNNING, COMPLETED = JobStatus.RUNNING, JobStatus.COMPLETED


@pytest.fixture(params=["csv", "db"])
def path(request, tmp_path):
    return tmp_path / f"sims.{request.param}"


def fields(record) -> tuple:
    return (record.job_id, record.coords, record.output, record.status, record.level,
            record.interface_name, record.created, record.changed, record.reason,
            record.resubmit_of, list(record.resubmitted_as), list(record.history))


def test_a_shallow_copy_equals_its_record_and_keeps_what_it_was(path):
    with SimulationsLog(path, 2) as log:
        log.add_new_records([((0.1, 0.2), "1", JobStatus.PENDING_SUBMIT, 1, "a")], now=100.0)
        log.update_job_status("1", JobStatus.SUBMITTED)
        log.set_job_reason("1", "on its way")
    # Reopened: the store hands its records over with packed histories; one more change
    # appends to a packed history without decoding it. Both shapes are copied.
    with SimulationsLog(path, 2) as log:
        packed = log.records()[0]  # copied before any change: the history as loaded
        log.update_job_status("1", RUNNING)
        assert [s for s, _ in packed.history] == [JobStatus.PENDING_SUBMIT,
                                                  JobStatus.SUBMITTED]
        for n in (3, 5):
            live = log.records(live=True)[0]
            copy = live.shallow_copy()
            assert copy is not live and copy == live
            assert fields(copy) == fields(live)
            assert [s for s, _ in copy.history][:3] == [JobStatus.PENDING_SUBMIT,
                                                       JobStatus.SUBMITTED, RUNNING]
            log.update_job_status("1", COMPLETED)
            log.insert_result("1", 4.5)
            # The original moved on; the copy is what the record was.
            assert (copy.status, copy.output, len(copy.history)) == (RUNNING, None, n)
            assert (live.status, live.output, len(live.history)) == (COMPLETED, 4.5, n + 1)
            # (decoded now: the second round copies a plain list)
            log.insert_result("1", None)
            log.update_job_status("1", RUNNING)


def test_records_are_copies_in_log_order_or_the_ids_asked_for(path):
    with SimulationsLog(path, 2) as log:
        log.add_new_records([((0.1 * i, 0.5), str(i), RUNNING, 1 + i % 2, "a")
                             for i in range(1, 6)])
        copies = log.records()
        assert [r.job_id for r in copies] == ["1", "2", "3", "4", "5"]
        assert [fields(r) for r in copies] == [fields(r) for r in log.iter_records()]
        live = log.records(live=True)
        assert not any(c is r for c, r in zip(copies, live))
        assert [r.job_id for r in log.records(["4", 2, "99", "1"])] == ["4", "2", "1"]
        assert log.records([]) == [] and log.records(["99"]) == []
        with pytest.raises(TypeError, match="a list of job ids"):
            log.records("12")  # one id, not the ids "1" and "2"
        log.update_job_status("2", COMPLETED)
        assert copies[1].status is RUNNING  # a copy is a snapshot
        assert live[1].status is COMPLETED  # a live record is the log's own
        assert log.records(["2"])[0].status is COMPLETED
        assert log.records(["2"], live=True)[0] is live[1]


def test_a_readers_records_are_what_it_holds_until_it_refreshes(path):
    with SimulationsLog(path, 2) as writer:
        writer.add_new_record(Input(0.1, 0.2), "1", RUNNING)
        reader = SimulationsLog(path, 2, readonly=True)
        try:
            writer.update_job_status("1", COMPLETED)
            writer.add_new_record(Input(0.3, 0.4), "2", RUNNING)
            assert [(r.job_id, r.status) for r in reader.records()] == [("1", RUNNING)]
            assert reader.refresh()
            assert [(r.job_id, r.status) for r in reader.records()] == [
                ("1", COMPLETED), ("2", RUNNING)]
        finally:
            reader.close()


def test_a_copy_is_never_taken_halfway_through_a_change(path, monkeypatch):
    """records() copies under the log's lock, which a change holds while it is applied
    to the record in memory: a snapshot taken meanwhile waits and shows it whole."""
    import simjobs.core.records as records_module

    with SimulationsLog(path, 2) as log:
        log.add_new_record(Input(0.5, 0.5), "1", RUNNING)
        halfway, release = threading.Event(), threading.Event()
        append = records_module.append_history

        def held_append(record, status, time):  # the fault: a change held halfway
            halfway.set()
            assert release.wait(60), "never released"
            append(record, status, time)

        monkeypatch.setattr(records_module, "append_history", held_append)
        writer = threading.Thread(target=log.update_job_status, args=("1", COMPLETED))
        writer.start()
        try:
            assert halfway.wait(30)  # the status is set, its history not yet
            copies = []
            reader = threading.Thread(target=lambda: copies.extend(log.records()))
            reader.start()
            reader.join(2)  # without the lock it copies now, halfway
        finally:
            release.set()
            writer.join(30)
        reader.join(30)
        [copy] = copies
        assert (copy.status, copy.history[-1][0]) == (COMPLETED, COMPLETED), fields(copy)


def test_status_changes_name_each_record_changed_or_added_with_its_old_status(path):
    with SimulationsLog(path, 2) as writer:
        writer.add_new_records([((0.1, 0.1), "1", RUNNING, 1, "a"),
                                ((0.2, 0.2), "2", RUNNING, 1, "a"),
                                ((0.3, 0.3), "3", RUNNING, 1, "b")])
        reader = SimulationsLog(path, 2, readonly=True)
        try:
            changes = StatusChanges(reader)
            assert changes.refresh() == []  # nothing written since
            writer.insert_result("1", 1.5)  # no status change: not a change here
            writer.update_job_status("3", COMPLETED)
            writer.add_new_record(Input(0.4, 0.4), "4", JobStatus.PENDING_SUBMIT)
            got = changes.refresh()
            assert [(r.job_id, old, r.status) for r, old in got] == [
                ("3", RUNNING, COMPLETED), ("4", None, JobStatus.PENDING_SUBMIT)]
            assert got[0][0] is reader.records(["3"], live=True)[0]
            assert changes.refresh() == []  # told once
            # A compaction: the reader loads the log anew; changes are still told once.
            writer.update_job_status("2", COMPLETED)
            writer.checkpoint()
            writer.update_job_status("1", COMPLETED)
            got = changes.refresh()
            assert sorted((r.job_id, old, r.status) for r, old in got) == [
                ("1", RUNNING, COMPLETED), ("2", RUNNING, COMPLETED)]
            assert changes.refresh() == []
        finally:
            reader.close()


def test_status_changes_of_a_reader_that_began_on_an_empty_log(path):
    SimulationsLog(path, 2).close()
    reader = SimulationsLog(path, 2, readonly=True)
    try:
        changes = StatusChanges(reader)
        with SimulationsLog(path, 2) as writer:
            writer.add_new_records([((0.1, 0.1), "1", RUNNING, 1, "a"),
                                    ((0.2, 0.2), "2", RUNNING, 1, "a")])
            writer.checkpoint()
            got = changes.refresh()
            assert [(r.job_id, old) for r, old in got] == [("1", None), ("2", None)]
            writer.update_job_status("2", COMPLETED)
            assert [(r.job_id, old) for r, old in changes.refresh()] == [("2", RUNNING)]
    finally:
        reader.close()


def _manager(tmp_path, log) -> JobManager:
    sim = tmp_path / "sim.py"
    sim.write_text("import sys\nx = [float(v) for v in open(sys.argv[1]).read().split(',')]\n"
                   "open(sys.argv[2], 'w').write(repr(sum(x)))\n")
    interface = LocalInterface("local", 1, [sys.executable, str(sim)], tmp_path / "work",
                               max_jobs=2)
    return JobManager(log, [interface], polling_interval=0.05)


def test_a_manager_runs_until_it_is_shut_down(tmp_path):
    log = SimulationsLog(tmp_path / "sims.csv", 2)
    manager = _manager(tmp_path, log)
    try:
        assert manager.is_running
    finally:
        manager.shutdown()
        log.close()
    assert not manager.is_running
    manager.shutdown()  # (twice is fine)
    assert not manager.is_running


def test_waiting_for_a_managers_events_returns_once_every_callback_has_returned(tmp_path):
    log = SimulationsLog(tmp_path / "sims.csv", 2)
    manager = _manager(tmp_path, log)
    release, delivered = threading.Event(), []

    def slow(event):
        assert release.wait(60), "never released"
        delivered.append(event)

    manager.subscribe(slow)
    try:
        assert manager.wait_events_delivered(5)  # nothing published yet
        manager.submit_many([Input(1.0, 2.0)], level=1)  # a JobEvent, held in `slow`
        assert not manager.wait_events_delivered(0.2)
        release.set()
        assert manager.wait_until_done(60)
        assert manager.wait_events_delivered(30)
        assert delivered and delivered[-1].new_status is COMPLETED
        count = len(delivered)
        assert manager.wait_events_delivered(5) and len(delivered) == count
    finally:
        release.set()
        manager.shutdown()
        log.close()
