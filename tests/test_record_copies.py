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


@pytest.mark.parametrize("clone", [copy.copy, copy.deepcopy,
                                   lambda r: pickle.loads(pickle.dumps(r))])
def test_records_never_resubmitted_share_one_empty_list_that_refuses_changes(tmp_path, clone):
    # One empty list for every record (not 100,000 in a campaign); it cannot be changed
    # in place, so no record can change the links of all the others.
    from simjobs.core.log import SimulationsLog

    log = SimulationsLog(tmp_path / "log.csv", input_dim=1)
    log.add_new_records([((0.5,), "11", S.PENDING_SUBMIT, 1, "a"),
                         ((0.25,), "12", S.PENDING_SUBMIT, 1, "a")])
    first, second = log.records(live=True)
    assert first.resubmitted_as is second.resubmitted_as == []
    with pytest.raises(TypeError, match="never changed in place"):
        first.resubmitted_as.append("13")
    with pytest.raises(TypeError):
        first.resubmitted_as += ["13"]
    assert second.resubmitted_as == [] and not second.resubmitted_as
    twin = clone(first)
    assert twin == first and twin.resubmitted_as == [] and twin.resubmitted_as is not None
    # A link replaces the list; the other record keeps the shared empty one.
    log.add_new_records([((0.75,), "13", S.PENDING_SUBMIT, 1, "a")])
    log.link_resubmission("11", "13")
    assert [r.resubmitted_as for r in log.records()] == [["13"], [], []]
    reopened = SimulationsLog(tmp_path / "log.csv", input_dim=1)
    links = [r.resubmitted_as for r in reopened.records(live=True)]
    assert links == [["13"], [], []] and links[1] is links[2]
