"""The value types behave as exauq's do."""

import math
from collections.abc import Sequence

import numpy as np
import pytest

from simjobs import (
    PENDING_STATUSES,
    TERMINAL_STATUSES,
    Input,
    Job,
    JobId,
    JobStatus,
    MultiLevel,
    TrainingDatum,
)


def test_job_status_values_and_order():
    assert [(s.name, s.value) for s in JobStatus] == [
        ("COMPLETED", "Completed"), ("FAILED", "Failed"), ("RUNNING", "Running"),
        ("SUBMITTED", "Submitted"), ("PENDING_SUBMIT", "Pending submit"),
        ("FAILED_SUBMIT", "Failed submit"), ("CANCELLED", "Cancelled"),
        ("PENDING_CANCEL", "Pending cancel"), ("FAILED_CANCEL", "Failed cancel"),
    ]
    assert TERMINAL_STATUSES == {JobStatus.COMPLETED, JobStatus.FAILED,
                                 JobStatus.FAILED_SUBMIT, JobStatus.CANCELLED}
    assert PENDING_STATUSES == {JobStatus.PENDING_CANCEL, JobStatus.PENDING_SUBMIT}


def test_input_is_an_immutable_sequence():
    x = Input(1, 2.5, -3)
    assert isinstance(x, Sequence)
    assert len(x) == 3 and x[1] == 2.5 and list(x) == [1, 2.5, -3]
    assert x.value == (1, 2.5, -3)
    assert Input(4.0).value == 4.0
    assert Input().value is None
    assert x == Input(1, 2.5, -3) and x != Input(1, 2.5) and x != (1, 2.5, -3)
    assert x[1:] == Input(2.5, -3)
    with pytest.raises(IndexError):
        x[3]
    with pytest.raises(AttributeError):
        x.value = 3


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf])
def test_input_rejects_non_finite(bad):
    with pytest.raises(ValueError):
        Input(0.0, bad)


def test_input_rejects_non_numbers():
    with pytest.raises(TypeError):
        Input(0.0, "1")


def test_input_from_arrays():
    assert Input.from_array(np.array([1.0, 2.0])) == Input(1.0, 2.0)
    assert Input.sequence_from_array(np.array([[1, 2], [3, 4]])) == (Input(1, 2), Input(3, 4))
    with pytest.raises(ValueError):
        Input.from_array(np.array([[1.0]]))
    with pytest.raises(ValueError):
        Input.from_array(np.array([1.0, np.nan]))


def test_job_id():
    assert str(JobId("0123")) == "0123"
    assert repr(JobId(123)) == "JobId('123')"
    assert JobId(JobId("5")) == JobId("5")
    assert hash(JobId("5")) == hash(JobId(5))
    for bad in ["", "12a", "-1", "1.5", -1, None]:
        with pytest.raises(ValueError):
            JobId(bad)


def test_job():
    job = Job("42", Input(1.0), level=2, interface_name="hpc")
    assert job.id == JobId("42") and job.data == Input(1.0)
    assert job.level == 2 and job.interface_name == "hpc"
    assert Job(7, Input(1.0)).level == 1 and Job(7, Input(1.0)).interface_name is None
    with pytest.raises(TypeError):
        Job("1", (1.0,))
    with pytest.raises(TypeError):
        Job("1", Input(1.0), level="2")
    with pytest.raises(ValueError):
        Job("x", Input(1.0))
    with pytest.raises(AttributeError):
        job.level = 3


def test_training_datum():
    d = TrainingDatum(Input(1.0), 2.0)
    assert d.input == Input(1.0) and d.output == 2.0
    with pytest.raises(ValueError):
        TrainingDatum(Input(1.0), math.nan)
    with pytest.raises(TypeError):
        TrainingDatum((1.0,), 2.0)
    with pytest.raises(Exception):
        d.output = 3.0


def test_multilevel():
    ml = MultiLevel({2: "b", 1: "a"})
    assert isinstance(ml, dict) and ml.levels == (1, 2)
    assert MultiLevel(["a", "b"]) == ml
    assert ml != {1: "a", 2: "b"}
    assert MultiLevel([]) == MultiLevel({})
    with pytest.raises(TypeError):
        MultiLevel({"1": "a"})
    assert ml.map(lambda level, v: v * level) == MultiLevel({1: "a", 2: "bb"})
