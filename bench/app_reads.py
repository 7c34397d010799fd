"""Benchmark of the reads the app makes of the core (issue 10: the app reads through a
public core API, at no cost in speed).

What it measures, on a CSV log of --records records (made anew in --dir at each run),
through the app's backend (``simjobs.app.backend``) as the app calls it:

  live_records()     every record, not copied: the first load of the app's model
  model prepare      JobModel.prepare on those records: rows, counts, sort (the rest of
                     the work before the first paint)
  records()          a snapshot of every record, copied (the log view, exports)
  get_record()       one record, copied (the detail view, each event the app applies)
  check_now, idle    a watched log's refresh when nothing changed (two stat calls)
  check_now, N       a watched log's refresh after the writer changed N statuses: the
                     changed records found among all and their events published

Each figure is the CPU time of the calling thread (``time.thread_time``: what the UI or
the watch thread spends), the fastest of --repeat runs: on a shared machine the other
processes only ever add time, so these are the steadiest figures of the work itself. The
script uses only what both the old and the new backend offer, so the same script
measures before and after a change (``PYTHONPATH=<old checkout>/src python
bench/app_reads.py``; run the two in turn, more than once, on a loaded machine).

Usage: python bench/app_reads.py [--records 100000] [--changes 500] [--repeat 15] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path


def make_log(path: Path, n: int) -> None:
    from simjobs.core.log import SimulationsLog
    from simjobs.core.types import JobStatus

    rng = random.Random(1)
    statuses = [JobStatus.COMPLETED] * 8 + [JobStatus.FAILED, JobStatus.RUNNING]
    t0 = 1_767_000_000.0
    with SimulationsLog(path, 2) as log:
        for start in range(0, n, 10_000):
            rows = [((rng.random(), rng.random()), str(10**12 + i), JobStatus.PENDING_SUBMIT,
                     1 + i % 2, f"hpc{i % 3}") for i in range(start, min(n, start + 10_000))]
            log.add_new_records(rows, now=t0 + start, sync=False)
            with log.batch(sync=False):
                for _, job_id, *_ in rows:
                    status = rng.choice(statuses)
                    if status is JobStatus.COMPLETED:
                        log.insert_result(job_id, rng.random())
                    log.update_job_status(job_id, status)
        log.checkpoint()


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.thread_time()
        result = fn()
        times.append(time.thread_time() - t)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--dir", help="keep the log here (default: a temporary dir)")
    args = parser.parse_args()

    from simjobs.app.backend import WatchBackend
    from simjobs.app.model import JobModel
    from simjobs.core.log import SimulationsLog
    from simjobs.core.types import JobStatus

    work = Path(args.dir or tempfile.mkdtemp(prefix="simjobs-bench-reads-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"reads-{args.records}.csv"
    for old in (path, *path.parent.glob(path.name + ".*")):
        old.unlink(missing_ok=True)
    t = time.perf_counter()
    make_log(path, args.records)
    print(f"  made {path.name} ({args.records:,} records) in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    import simjobs

    figures: list[tuple[str, str]] = []
    load = os.getloadavg()[0]

    backend = WatchBackend(path, interval=3600)  # the watch thread idles: refreshed here
    backend.subscribe(lambda event: None)  # events are built and published, as in the app
    try:
        n = len(backend.live_records())
        s, records = timed(backend.live_records, args.repeat)
        figures.append(("live_records()", f"{s * 1e3:8.2f} ms  ({n:,} records)"))
        model = JobModel(clock=time.time)
        s, _ = timed(lambda: model.prepare(records), args.repeat)
        figures.append(("JobModel.prepare(live records)", f"{s * 1e3:8.2f} ms"))
        s, _ = timed(backend.records, args.repeat)
        figures.append(("records() (copies)", f"{s * 1e3:8.2f} ms"))
        ids = [r.job_id for r in random.Random(2).sample(records, 10_000)]
        s, _ = timed(lambda: [backend.get_record(j) for j in ids], args.repeat)
        figures.append(("get_record(id)", f"{s / len(ids) * 1e6:8.2f} µs  (per call)"))

        backend.check_now()  # the baseline
        s, _ = timed(backend.check_now, args.repeat)
        figures.append(("check_now(), nothing changed", f"{s * 1e3:8.2f} ms"))
        writer = SimulationsLog(path, 2)
        try:
            # Each record changed once, to a status no record has yet: N changes each time.
            fresh = random.Random(3).sample(ids, args.changes * args.repeat)
            times, found = [], []
            for k in range(args.repeat):
                with writer.batch():
                    for job_id in fresh[k * args.changes:(k + 1) * args.changes]:
                        writer.update_job_status(job_id, JobStatus.SUBMITTED)
                t = time.thread_time()
                found.append(backend.check_now())
                times.append(time.thread_time() - t)
            assert backend.wait_idle(30)
            figures.append((f"check_now(), {args.changes} statuses changed",
                            f"{min(times) * 1e3:8.2f} ms  "
                            f"(events per refresh: {sorted(set(found))})"))
        finally:
            writer.close()
    finally:
        backend.close()

    print(f"\nsimjobs app reads (bench/app_reads.py): {args.records:,} records, fastest of "
          f"{args.repeat}; simjobs from {Path(simjobs.__file__).parent.parent}; "
          f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    for label, value in figures:
        print(f"  {label:<36} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
