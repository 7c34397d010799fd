"""A LogRecord as a store loads it (packed history, created/changed referring to it)
survives copy, deepcopy and pickle unchanged."""

from __future__ import annotations

import copy
import pickle

import pytest

from simjobs.core.records import FIRST_TIME, LAST_TIME, LogRecord, append_history, pack_history
from simjobs.core.types import JobStatus

S = JobStatus
HISTORY = [(S.PENDING_SUBMIT, 10.0), (S.SUBMITTED, 11.5), (S.RUNNING, 12.25)]


def packed_record() -> LogRecord:
    return LogRecord("7", (0.5, 1.5), None, S.RUNNING, 1, "hpc", FIRST_TIME, LAST_TIME,
                     history="7,0.5,1.5," + pack_history(HISTORY))


@pytest.mark.parametrize("clone", [copy.copy, copy.deepcopy,
                                   lambda r: pickle.loads(pickle.dumps(r))])
def test_a_loaded_record_copies_whole(clone):
    twin = clone(packed_record())
    assert (twin.created, twin.changed, twin.history) == (10.0, 12.25, HISTORY)
    assert twin == packed_record()


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda r: pickle.loads(pickle.dumps(r))])
def test_a_deep_copy_of_a_loaded_record_goes_its_own_way(clone):
    rec = packed_record()
    twin = clone(rec)
    append_history(twin, S.COMPLETED, 20.0)
    assert twin.history[-1] == (S.COMPLETED, 20.0) and rec.history == HISTORY


def test_the_time_references_stay_themselves_through_pickle_and_copy():
    for ref in (FIRST_TIME, LAST_TIME):
        assert pickle.loads(pickle.dumps(ref)) is ref
        assert copy.deepcopy(ref) is ref


def test_history_created_and_changed_are_properties_of_the_class_body():
    for name in ("history", "created", "changed"):
        assert isinstance(LogRecord.__dict__[name], property)
        assert LogRecord.__dict__[name].fget.__qualname__ == f"LogRecord.{name}"
