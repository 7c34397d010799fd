"""The job table's model: incremental updates give exactly what a rebuild would, and
the themes load from files, a user dir, or the packaged fallback."""

from __future__ import annotations

import random

from simjobs.app.themes import BUILTIN, load_themes, remember_theme, remembered_theme
from simjobs.app.model import ACTIVE, COLUMN_KEYS, Filter, JobModel
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


def test_update_reports_in_place_changes_apart_from_moves():
    rng = random.Random(1)
    model = JobModel(clock=lambda: NOW)
    records = [record(i, rng, JobStatus.RUNNING) for i in range(50)]
    model.load(records)
    same = records[10]
    changed_output = LogRecord(same.job_id, same.coords, 1.5, JobStatus.RUNNING, same.level,
                               same.interface_name, same.created, same.changed)
    in_place, moved = model.update([changed_output])
    assert in_place == {same.job_id} and not moved  # sorted by id: stays where it was
    model.set_filter(Filter(hide_finished=True))
    done = LogRecord(same.job_id, same.coords, 1.5, JobStatus.COMPLETED, same.level,
                     same.interface_name, same.created, NOW)
    in_place, moved = model.update([done])
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
