"""The job table's model: incremental updates give exactly what a rebuild would, and
the themes load from files, a user dir, or the packaged fallback."""

from __future__ import annotations

import dataclasses
import random

from simjobs.app.themes import BUILTIN, load_themes, remember_theme, remembered_theme
from simjobs.app.model import ACTIVE, COLUMN_KEYS, STATUS_RANK, Filter, JobModel
from simjobs.core.records import LogRecord
from simjobs.core.types import JobStatus

NOW = 1_767_276_000.0
STATUSES = list(JobStatus)


def record(i: int, rng: random.Random, status=None) -> LogRecord:
    created = NOW - rng.randint(0, 7200)
    return LogRecord(
        job_id=str(20260101000000000 + i), coords=(rng.random(), rng.random()),
        output=rng.choice([None, rng.uniform(-5, 5)]),
        status=status or rng.choice(STATUSES), level=rng.choice([1, 2]),
        interface_name=rng.choice(["local-fast", "hpc", "ssh-box"]),
        created=created, changed=created + rng.randint(0, 600),
    )


def expected_ids(model: JobModel) -> list[str]:
    """The view as a from-scratch filter and sort would give it."""
    fresh = JobModel(clock=model.clock)
    fresh.sort_column, fresh.sort_reverse, fresh.filter = (
        model.sort_column, model.sort_reverse, model.filter)
    fresh.load([r.rec for r in model.rows.values()])
    return [fresh.row_at(i).job_id for i in range(len(fresh))]


def shown_ids(model: JobModel) -> list[str]:
    return [model.row_at(i).job_id for i in range(len(model))]


def test_incremental_updates_match_a_rebuild_for_every_sort_and_filter():
    rng = random.Random(4)
    filters = [Filter(), Filter(hide_finished=True), Filter(status=ACTIVE),
               Filter(status=JobStatus.RUNNING), Filter(level=2), Filter(interface="hpc"),
               Filter(text="hpc 0.")]
    for column in COLUMN_KEYS:
        for flt in filters:
            model = JobModel(clock=lambda: NOW)
            model.sort_column, model.sort_reverse = column, rng.random() < 0.5
            model.filter = flt
            model.load([record(i, rng) for i in range(300)])
            assert shown_ids(model) == expected_ids(model)
            for _ in range(20):  # bursts of changes and new jobs
                batch = [record(rng.randrange(360), rng) for _ in range(rng.randint(1, 15))]
                model.update(batch)
            assert shown_ids(model) == expected_ids(model), (column, flt)
            for job_id in shown_ids(model)[:10]:
                assert model.row_at(model.index_of(job_id)).job_id == job_id


def reference_ids(view, now: float = NOW) -> list[str]:
    """The view worked out row by row in plain Python: the filter's ``matches``, a sort
    on (the column's value, the id's number, the id)."""
    ended = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.FAILED_SUBMIT,
             JobStatus.CANCELLED}

    def primary(row):
        rec = row.rec
        column = view.sort_column
        if column == "level":
            return row.level
        if column == "interface":
            return row.interface
        if column == "status":
            return STATUS_RANK[row.status]
        if column == "input":
            return tuple(rec.coords)
        if column == "output":
            return float("-inf") if rec.output is None else rec.output
        if column == "submitted":
            return rec.created or 0.0
        if column == "changed":
            return rec.changed or 0.0
        if column == "elapsed":
            if rec.created is None:
                return 0.0
            end = rec.changed if row.status in ended and rec.changed is not None else now
            return (end - rec.created) or 0.0
        return 0

    kept = [row for row in view.rows.values() if view.filter.matches(row)]
    kept.sort(key=lambda row: (primary(row), row.num, row.job_id))
    if view.sort_reverse:
        kept.reverse()
    return [row.job_id for row in kept]


def test_views_match_a_row_by_row_reference_while_jobs_change():
    """Several views of one model (as the job table's and the log view's), each sorted
    and filtered its own way, agree with a plain-Python filter and sort after every
    batch of changes, new jobs, ids that are not numbers and typing in the filter."""
    rng = random.Random(11)
    model = JobModel(clock=lambda: NOW)
    records = [record(i, rng) for i in range(400)]
    records[5].job_id = "run-b"  # ids that are not numbers sort by their text, first
    records[6].job_id = "run-a"
    model.load(records)
    filters = [Filter(), Filter(hide_finished=True), Filter(status=ACTIVE),
               Filter(status=JobStatus.COMPLETED), Filter(level=1, interface="hpc"),
               Filter(text="hpc 0.4"), Filter(text="ssh", hide_finished=True),
               Filter(interface="nowhere")]
    views = [model.view(column, rng.random() < 0.5, flt)
             for column, flt in zip(COLUMN_KEYS, filters)]
    model.set_sort("status", reverse=False)
    for round_ in range(30):
        batch = []
        for _ in range(rng.randint(1, 40)):
            i = rng.randrange(460)  # changes of known jobs, and new ones
            batch.append(record(i, rng))
            batch[-1].coords = (records[i].coords if i < len(records)
                                else batch[-1].coords)  # a job's input never changes
        model.update(batch)
        if round_ == 10:  # typing on in one view, a new sort in another
            views[5].set_filter(Filter(text="hpc 0.45"))
            views[2].set_sort("elapsed")
        for view in [model.main, *views]:
            assert [view.row_at(i).job_id for i in range(len(view))] == \
                reference_ids(view), (view.sort_column, view.filter, round_)
            for job_id in reference_ids(view)[:5]:
                assert view.row_at(view.index_of(job_id)).job_id == job_id
            top = view.rows_between(0, 7)
            assert [r.job_id for r in top] == reference_ids(view)[:7]


def test_a_dropped_view_no_longer_follows_the_model():
    rng = random.Random(12)
    model = JobModel(clock=lambda: NOW)
    model.load([record(i, rng) for i in range(20)])
    view = model.view("level")
    model.drop_view(view)
    model.update([record(30, rng)])
    assert len(model) == 21 and len(view) == 20


def test_update_reports_in_place_changes_apart_from_moves():
    rng = random.Random(1)
    model = JobModel(clock=lambda: NOW)
    records = [record(i, rng, JobStatus.RUNNING) for i in range(50)]
    model.load(records)
    same = records[10]
    changed_output = LogRecord(same.job_id, same.coords, 1.5, JobStatus.RUNNING, same.level,
                               same.interface_name, same.created, same.changed)
    model.update([changed_output])
    in_place, moved = model.take_changes()
    assert in_place == {same.job_id} and not moved  # sorted by id: stays where it was
    model.set_filter(Filter(hide_finished=True))
    done = LogRecord(same.job_id, same.coords, 1.5, JobStatus.COMPLETED, same.level,
                     same.interface_name, same.created, NOW)
    model.update([done])
    in_place, moved = model.take_changes()
    assert moved and model.index_of(same.job_id) is None and len(model) == 49


def test_counts_follow_status_changes_and_completions_feed_the_rate():
    rng = random.Random(2)
    model = JobModel(clock=lambda: NOW)
    records = [record(i, rng, JobStatus.RUNNING) for i in range(10)]
    model.load(records)
    assert model.status_counts == {JobStatus.RUNNING: 10}
    r = records[0]
    model.update([LogRecord(r.job_id, r.coords, 2.0, JobStatus.COMPLETED, r.level,
                            r.interface_name, r.created, NOW + 30)])  # in this minute
    assert model.status_counts == {JobStatus.RUNNING: 9, JobStatus.COMPLETED: 1}
    assert model.counts_for(r.interface_name)[JobStatus.COMPLETED] == 1
    assert model.completion_buckets(r.interface_name, 30)[-1] == 1
    assert model.completion_rate() == (1.0, 60.0)  # one in the first minute since start


def test_counts_per_interface_and_status_text_keep_every_pair_seen():
    """What the table sizes its interface and status columns by (a public accessor, not
    the model's private counter): the pairs counted since the load, 0 once moved on."""
    rng = random.Random(3)
    model = JobModel(clock=lambda: NOW)
    records = [record(i, rng, JobStatus.RUNNING) for i in range(6)]
    for r in records:
        r.interface_name = "hpc" if int(r.job_id) % 2 else ""
    model.load(records)
    assert model.interface_status_counts == {("hpc", "Running"): 3, ("", "Running"): 3}
    r = records[1]
    model.update([LogRecord(r.job_id, r.coords, None, JobStatus.PENDING_CANCEL, r.level,
                            "hpc", r.created, NOW)])
    assert model.interface_status_counts == {
        ("hpc", "Running"): 2, ("hpc", "Pending cancel"): 1, ("", "Running"): 3}
    model.update([LogRecord(r.job_id, r.coords, None, JobStatus.CANCELLED, r.level,
                            "hpc", r.created, NOW)])
    assert model.interface_status_counts == {
        ("hpc", "Running"): 2, ("hpc", "Pending cancel"): 0, ("hpc", "Cancelled"): 1,
        ("", "Running"): 3}


def test_rates_count_only_this_run_over_a_stated_window():
    """16 jobs done in the first 10 s once read 1.4 done/min (spread over ten minutes,
    with completions from before the app started counted too)."""
    clock = [NOW]
    model = JobModel(clock=lambda: clock[0])
    rng = random.Random(5)
    records = [record(i, rng, JobStatus.RUNNING) for i in range(40)]
    old = records[39]
    model.load(records)
    # done before this app started: no part of its rate
    model.update([LogRecord(old.job_id, old.coords, 1.0, JobStatus.COMPLETED, old.level,
                            old.interface_name, old.created, NOW - 30)])
    clock[0] = NOW + 10
    model.update([LogRecord(r.job_id, r.coords, 1.0, JobStatus.COMPLETED, r.level,
                            r.interface_name, r.created, NOW + i * 0.5)
                  for i, r in enumerate(records[:16])])
    assert model.completion_rate() == (16.0, 60.0)  # 16 in the last (first) minute
    clock[0] = NOW + 180
    assert model.completion_rate() == (16 / 3, 180.0)  # over the 3 minutes since start
    clock[0] = NOW + 400  # 5-minute window: the burst at the start has left it
    late = records[20]
    model.update([LogRecord(late.job_id, late.coords, 1.0, JobStatus.COMPLETED, late.level,
                            late.interface_name, late.created, NOW + 390)])
    assert model.completion_rate() == (0.2, 300.0)
    assert model.completion_rate(late.interface_name)[0] == 0.2


def test_typing_on_narrows_the_shown_rows_only():
    rng = random.Random(3)
    model = JobModel(clock=lambda: NOW)
    model.load([record(i, rng) for i in range(200)])
    model.set_filter(Filter(text="hp"))
    first = shown_ids(model)
    model.set_filter(Filter(text="hpc"))
    assert shown_ids(model) == expected_ids(model) and set(shown_ids(model)) <= set(first)
    model.set_filter(Filter(text="h"))  # wider again: from all rows
    assert shown_ids(model) == expected_ids(model)


# ---- themes ------------------------------------------------------------------------------


def test_search_texts_made_in_a_thread_are_taken_only_if_still_true():
    """encode_search_texts runs beside the UI; what changed meanwhile is never lost:
    rows added meanwhile are encoded on adoption, and a row whose interface changed
    (or rows replaced by a new load) makes the adoption give way to a fresh build."""
    rng = random.Random(8)

    def filtered(model: JobModel, text: str) -> list[str]:
        model.set_filter(Filter(text=text))
        return sorted(shown_ids(model))

    def reference(model: JobModel, text: str) -> list[str]:
        return sorted(r.job_id for r in model.rows.values()
                      if all(w in r.haystack for w in text.split()))

    def encoded() -> tuple[JobModel, tuple]:  # (the thread's half)
        model = JobModel(clock=lambda: NOW)
        model.load([record(i, rng) for i in range(200)])
        return model, model.encode_search_texts()

    # rows added between the thread's snapshot and the adoption
    model, made = encoded()
    model.update([dataclasses.replace(record(i, rng), interface_name="late-box")
                  for i in range(200, 230)])
    model.adopt_search_texts(made)
    assert model._texts is not None and len(model._texts) == 230
    assert filtered(model, "late-box") == reference(model, "late-box") != []

    # a row's interface (so its search text) changed meanwhile: not adopted
    model, made = encoded()
    moved = dataclasses.replace(model.slots[5].rec, interface_name="moved-box")
    model.update([moved])
    model.adopt_search_texts(made)
    assert model._texts is None
    assert filtered(model, "moved-box") == [moved.job_id]

    # the rows were replaced by a new load meanwhile: not adopted
    model, made = encoded()
    model.load([dataclasses.replace(record(i, rng), interface_name="other-box")
                for i in range(500, 520)])
    model.adopt_search_texts(made)
    assert filtered(model, "other-box") == reference(model, "other-box")
    assert len(shown_ids(model)) == 20


def test_the_themes_folder_holds_a_dark_and_a_light_theme():
    themes, errors = load_themes()
    by_name = {t.name: t for t in themes}
    assert not errors
    assert by_name["simjobs-dark"].dark and not by_name["simjobs-light"].dark


def test_a_broken_theme_file_is_skipped_naming_the_file_and_user_themes_come_first(tmp_path):
    good = tmp_path / "mine.toml"
    good.write_text('name = "simjobs-dark"\nprimary = "#ff0000"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "oops"\nprimary = "#ff0000"\ncolour = "blue"\n')
    themes, errors = load_themes([tmp_path])
    assert {t.name for t in themes} == {"simjobs-dark", "simjobs-light"}
    assert [t.primary for t in themes if t.name == "simjobs-dark"] == ["#ff0000"]
    assert len(errors) == 1 and str(bad) in errors[0] and "'colour'" in errors[0]


def test_without_any_theme_file_the_packaged_copies_are_used():
    themes, errors = load_themes([])
    assert [t.name for t in themes] == [d["name"] for d in BUILTIN] and not errors


def test_the_theme_choice_is_kept_in_the_user_config_dir():
    assert remembered_theme() is None
    remember_theme("simjobs-light")
    assert remembered_theme() == "simjobs-light"
