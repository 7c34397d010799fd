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


# ---- coordinates of any real number type (issue 8, item 6) ----------------------------

from decimal import Decimal  # noqa: E402
from fractions import Fraction  # noqa: E402

from simjobs import SimulationsLog  # noqa: E402

ODD_REALS = [Fraction(1, 3), Decimal("0.1"), np.float32(0.1), np.int64(-7),
             np.float64(2.5e-7), Decimal("-1234567890.123456789012345")]


def exauq_read_inputs(path, dim):
    """The inputs as exauq's reader gets them: csv.DictReader, then float() per cell."""
    import csv

    with open(path, newline="") as f:
        return [tuple(float(row[f"Input_{i}"]) for i in range(1, dim + 1))
                for row in csv.DictReader(f)]


@pytest.mark.parametrize("suffix", ["csv", "db"])
def test_inputs_of_any_real_type_are_stored_as_the_float_they_equal(tmp_path, suffix):
    path = tmp_path / f"sims.{suffix}"
    expected = tuple(float(v) for v in ODD_REALS)
    log = SimulationsLog(path, len(ODD_REALS))
    log.add_new_record(Input(*ODD_REALS), "1")
    log.add_new_record(list(ODD_REALS), "2")  # a plain sequence goes through Input too
    log.close()
    again = SimulationsLog(path, len(ODD_REALS))
    try:
        assert [tuple(r["input"]) for r in again.get_records()] == [expected, expected]
    finally:
        again.close()
    if suffix == "csv":
        assert exauq_read_inputs(path, len(ODD_REALS)) == [expected, expected]
        text = path.read_text()
        assert "1/3" not in text and "0.3333333333333333" in text
        assert "0.10000000149011612" in text  # the float32's value, not its short str()


@pytest.mark.parametrize("big", [10**400, -(10**400), Decimal("1e400"),
                                 Fraction(10**400, 3), np.longdouble("1e400")],
                         ids=["int", "negative-int", "Decimal", "Fraction", "longdouble"])
@pytest.mark.parametrize("suffix", ["csv", "db"])
def test_a_coordinate_too_large_for_a_float_is_one_line_value_error(tmp_path, suffix, big):
    path = tmp_path / f"sims.{suffix}"
    log = SimulationsLog(path, 2)
    try:
        with pytest.raises(ValueError) as info:
            log.add_new_record([0.5, big], "1")
        message = str(info.value)
        assert "\n" not in message and len(message) < 200
        assert "coordinate 2" in message and "too large for a float" in message
        assert log.get_records() == []
    finally:
        log.close()
    with pytest.raises(ValueError, match="coordinate 1 .*too large"):
        Input(big)
