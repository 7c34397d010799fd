"""SimulationsLog's exauq API, on both stores (written from exauq's documented contract)."""

from __future__ import annotations

import csv
import warnings

import pytest

from simjobs import (
    Input,
    Job,
    JobId,
    JobStatus,
    LogLockedError,
    MultiLevel,
    SimulationsLog,
    SimulationsLogLookupError,
    TrainingDatum,
)


@pytest.fixture(params=["csv", "db"])
def path(request, tmp_path):
    return tmp_path / f"sims.{request.param}"


def test_constructor_validation(tmp_path):
    with pytest.raises(TypeError):
        SimulationsLog(tmp_path / "a.csv", 2.0)
    with pytest.raises(ValueError):
        SimulationsLog(tmp_path / "a.csv", 0)
    with pytest.raises(TypeError):
        SimulationsLog(12, 2)
    assert not (tmp_path / "a.csv").exists()


def test_new_log_file_is_created_with_exauq_header(tmp_path):
    log = SimulationsLog(tmp_path / "new.csv", 3)
    log.close()
    with open(tmp_path / "new.csv", newline="") as f:
        assert next(csv.reader(f)) == ["Input_1", "Input_2", "Input_3", "Output", "Job_ID",
                                       "Job_Status", "Job_Level", "Interface_Name"]


def test_add_and_query_records(path):
    log = SimulationsLog(path, 2)
    log.add_new_record(Input(0.1, 0.2), "1", interface_name="hpc")
    log.add_new_record(Input(0.3, 0.4), JobId("2"), JobStatus.RUNNING, job_level=2)
    log.add_new_record(Input(0.5, 0.6), 3, JobStatus.COMPLETED)
    log.insert_result("3", 1.1)
    assert log.get_job_status(JobId("2")) is JobStatus.RUNNING
    assert log.get_simulations() == (
        (Input(0.1, 0.2), None, 1), (Input(0.3, 0.4), None, 2), (Input(0.5, 0.6), 1.1, 1))
    records = log.get_records()
    assert [r["job_id"] for r in records] == [JobId("1"), JobId("2"), JobId("3")]
    assert records[0] == {"job_id": JobId("1"), "status": JobStatus.PENDING_SUBMIT,
                          "input": Input(0.1, 0.2), "output": None}
    assert [r["job_id"] for r in log.get_records(job_ids=["3", 1])] == [JobId("1"), JobId("3")]
    assert [r["job_id"] for r in log.get_records(statuses=[JobStatus.RUNNING])] == [JobId("2")]
    assert log.get_records(job_ids=["3"], statuses=[JobStatus.RUNNING]) == []
    assert log.get_unsubmitted_inputs() == (Input(0.1, 0.2),)
    jobs = log.get_non_terminated_jobs()
    assert [(j.id, j.level, j.interface_name) for j in jobs] == [
        (JobId("1"), 1, "hpc"), (JobId("2"), 2, None)]
    assert all(isinstance(j, Job) for j in jobs)
    log.close()


def test_add_new_record_errors_change_nothing(path):
    log = SimulationsLog(path, 2)
    log.add_new_record(Input(0.1, 0.2), "1")
    with pytest.raises(ValueError):
        log.add_new_record(Input(0.1, 0.2), "1")  # id in use
    with pytest.raises(ValueError):
        log.add_new_record(Input(0.1), "2")  # wrong dimension
    with pytest.raises(ValueError):
        log.add_new_record(Input(0.1, 0.2), "abc")  # not digits
    with pytest.raises(ValueError):
        log.add_new_record((0.1, float("nan")), "3")
    assert len(log) == 1
    log.close()
    assert len(SimulationsLog(path, 2, readonly=True)) == 1


def test_lookup_errors(path):
    log = SimulationsLog(path, 2)
    with pytest.raises(SimulationsLogLookupError):
        log.get_job_status("9")
    with pytest.raises(SimulationsLogLookupError):
        log.update_job_status("9", JobStatus.FAILED)
    with pytest.raises(SimulationsLogLookupError):
        log.insert_result("9", 1.0)
    log.close()


def test_prepare_training_data_per_level(path):
    log = SimulationsLog(path, 1)
    with pytest.warns(UserWarning, match="No successfully completed simulations"):
        assert log.prepare_training_data() == MultiLevel({})
    log.add_new_record(Input(1.0), "1", JobStatus.COMPLETED, job_level=1)
    log.insert_result("1", 10.0)
    log.add_new_record(Input(2.0), "2", JobStatus.COMPLETED, job_level=2)
    log.insert_result("2", 20.0)
    log.add_new_record(Input(3.0), "3", JobStatus.RUNNING, job_level=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = log.prepare_training_data()
    assert data == MultiLevel({1: [TrainingDatum(Input(1.0), 10.0)],
                               2: [TrainingDatum(Input(2.0), 20.0)]})
    log.close()


def test_state_survives_reopen_and_extras_are_kept(path):
    log = SimulationsLog(path, 2)
    log.add_new_record(Input(0.1, 1e-300), "1", interface_name="hpc")
    log.update_job_status("1", JobStatus.SUBMITTED)
    log.update_job_status("1", JobStatus.COMPLETED)
    log.insert_result("1", 123456789.01234567)
    log.close()
    again = SimulationsLog(path, 2)
    record = again.get_record("1")
    assert record.status is JobStatus.COMPLETED and record.output == 123456789.01234567
    assert record.coords == (0.1, 1e-300) and record.interface_name == "hpc"
    assert [s for s, _ in record.history] == [
        JobStatus.PENDING_SUBMIT, JobStatus.SUBMITTED, JobStatus.COMPLETED]
    assert record.created is not None and record.changed >= record.created
    again.close()


def test_objects_of_one_process_share_the_writer_readers_always(path):
    writer = SimulationsLog(path, 2)
    assert writer.is_writer
    second = SimulationsLog(path, 2)  # same process, second object: the same writer
    assert second.is_writer
    second.add_new_record(Input(1, 2), "1")
    assert writer.get_job_status("1") is JobStatus.PENDING_SUBMIT  # sees it at once
    reader = SimulationsLog(path, 2, readonly=True)
    with pytest.raises(LogLockedError, match="read-only"):
        reader.update_job_status("1", JobStatus.RUNNING)
    writer.update_job_status("1", JobStatus.RUNNING)
    assert reader.get_job_status("1") is JobStatus.RUNNING
    writer.close()  # the other object goes on writing
    second.update_job_status("1", JobStatus.COMPLETED)
    assert reader.get_job_status("1") is JobStatus.COMPLETED
    second.close()
    reader.close()
    third = SimulationsLog(path, 2)  # the place is free again
    assert third.is_writer and third.get_job_status("1") is JobStatus.COMPLETED
    third.close()


def test_insert_result_rejects_non_finite(path):
    log = SimulationsLog(path, 1)
    log.add_new_record(Input(1.0), "1")
    with pytest.raises(ValueError):
        log.insert_result("1", float("inf"))
    assert log.get_records()[0]["output"] is None
    log.close()


def test_a_failed_open_leaves_no_lock_file(tmp_path):
    from simjobs import LogFormatError

    path = tmp_path / "bad.csv"
    path.write_text("Input_1,Output,Job_ID,Job_Status,Job_Level,Interface_Name\r\n"
                    "abc,,1,Completed,1,hpc\r\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(LogFormatError, match="line 2"):
        SimulationsLog(path, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_lock_file_tells_a_manager_from_a_plain_writer(path):
    from simjobs import JobManager
    from simjobs.core.control import manager_holder
    from fakes import FakeInterface

    log = SimulationsLog(path, 2)
    assert log.holder()["pid"] > 0
    assert manager_holder(log.path) is None  # a script's writer is no manager
    manager = JobManager(log, [FakeInterface("hpc")], polling_interval=0.01)
    assert manager_holder(log.path)["manager"] is True
    manager.shutdown()
    assert manager_holder(log.path) is None
    log.close()
    assert log.holder() is None


def test_unsynced_writes_wait_for_sync_and_sync_is_free_when_clean(path, monkeypatch):
    import os

    log = SimulationsLog(path, 2)
    log.add_new_record(Input(0, 0), "0")  # files and journal exist from here on
    calls = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda fd, real=real: calls.append(fd) or real(fd))
    log.add_new_records([(Input(1, 2), "1", JobStatus.PENDING_SUBMIT, 1, "hpc")], sync=False)
    assert calls == []  # written (a reader sees it), not yet synced
    assert SimulationsLog(path, 2, readonly=True).get_job_status("1") is JobStatus.PENDING_SUBMIT
    log.sync()
    assert calls  # now on disk
    calls.clear()
    log.sync()
    assert calls == []  # nothing left to sync
    if str(path).endswith(".csv"):  # (SQLite syncs inside its C library, unseen here)
        log.update_job_status("1", JobStatus.RUNNING)  # the exauq API syncs each call
        assert calls
    log.close()
