"""Benchmark of the two log stores (CSV and SQLite) on a 100,000-record log.

Prints, for each store:
  build     adding N records in batches of 1,000 (journal/compactions included)
  open      opening the N-record log for writing, and for reading (readonly)
  apply     one single-change apply() (one status change), mean over 10,000 consecutive
            calls, amortised compactions and the fsync of each call included; also the
            95th percentile and the maximum single call
  add       one batch of 1,000 new records
  refresh   a reader's refresh() when nothing changed, and after 1,000 changes
  close     close() of the writer (the CSV store folds its journal into the main file)

  finished  opening a log as a finished run leaves it (Completed, outputs, a 4-step
            history per job): the harder case for open

Goals: open < 1 s; apply < 1 ms amortised.

Usage: python bench/logstore.py [N] [DIR]
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from simjobs.core.records import LogChange, LogRecord  # noqa: E402
from simjobs.core.stores import CsvStore, SqliteStore  # noqa: E402
from simjobs.core.types import JobStatus  # noqa: E402

BATCH = 1000
N_APPLY = 10_000


def make_records(start: int, n: int, rng: random.Random, now: float) -> list[LogRecord]:
    out = []
    for i in range(start, start + n):
        out.append(
            LogRecord(
                str(20240601000000000 + i),
                (rng.random(), rng.random(), rng.random()),
                None,
                JobStatus.PENDING_SUBMIT,
                1,
                "hpc_a" if i % 2 else "hpc_b",
                created=now,
                changed=now,
                history=[(JobStatus.PENDING_SUBMIT, now)],
            )
        )
    return out


def make_finished_records(start: int, n: int, rng: random.Random, t0: float) -> list[LogRecord]:
    """Records as a finished run leaves them: Completed, an output, a 4-step history,
    two levels and two interfaces (the harder case for open: more to parse)."""
    S = JobStatus
    out = []
    for i in range(start, start + n):
        t = t0 + i * 0.37
        out.append(
            LogRecord(
                str(20240601000000000 + i),
                (rng.random(), rng.random(), rng.random()),
                rng.random() * 10,
                S.COMPLETED,
                1 + i % 2,
                "hpc_a" if i % 2 else "hpc_b",
                created=t,
                changed=t + 9.5,
                history=[(S.PENDING_SUBMIT, t), (S.SUBMITTED, t + 0.2),
                         (S.RUNNING, t + 1.3), (S.COMPLETED, t + 9.5)],
            )
        )
    return out


def bench_finished_open(cls, path: str, n: int) -> None:
    store = cls(path, 3)
    rng = random.Random(2)
    for start in range(0, n, BATCH):
        store.add(make_finished_records(start, min(BATCH, n - start), rng, 1.7e9))
    store.close()
    for readonly in (False, True):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            opened = cls(path, 3, readonly=readonly)
            times.append(time.perf_counter() - t)
            opened.close()
            del opened  # freeing 100,000 records is not part of the next open
        label = "open readonly" if readonly else "open for writing"
        print(f"  finished log (Completed, output, 4-step history), {label}: "
              f"median of 3 {fmt(statistics.median(times))}   (goal < 1 s)")


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.3f} s "


def bench(cls, path: str, n: int) -> None:
    rng = random.Random(20240601)
    now = time.time()
    name = cls.__name__
    print(f"\n== {name}  ({os.path.basename(path)}, {n:,} records, input_dim 3)")

    t = time.perf_counter()
    store = cls(path, 3)
    for start in range(0, n, BATCH):
        store.add(make_records(start, min(BATCH, n - start), rng, now))
    store.close()
    print(f"  build {n:,} records in batches of {BATCH:,}: {fmt(time.perf_counter() - t)}")
    sizes = {f: os.path.getsize(os.path.join(os.path.dirname(path), f))
             for f in sorted(os.listdir(os.path.dirname(path)))}
    print("  files after close: " + ", ".join(f"{f} {s / 1e6:.1f} MB" for f, s in sizes.items()))

    t = time.perf_counter()
    store = cls(path, 3)
    t_open = time.perf_counter() - t
    t = time.perf_counter()
    reader = cls(path, 3, readonly=True)
    t_open_ro = time.perf_counter() - t
    print(f"  open for writing:                    {fmt(t_open)}   (goal < 1 s)")
    print(f"  open readonly:                       {fmt(t_open_ro)}")

    ids = list(store.records)
    statuses = [JobStatus.SUBMITTED, JobStatus.RUNNING, JobStatus.COMPLETED]
    per_call = []
    t_all = time.perf_counter()
    for k in range(N_APPLY):
        job_id = ids[(k * 7919) % len(ids)]
        ch = LogChange(job_id, now + k, status=statuses[k % 3])
        t = time.perf_counter()
        store.apply([ch])
        per_call.append(time.perf_counter() - t)
    total = time.perf_counter() - t_all
    per_call.sort()
    print(
        f"  apply (1 status change), {N_APPLY:,} calls: mean {fmt(total / N_APPLY)}  "
        f"median {fmt(statistics.median(per_call))}  p95 {fmt(per_call[int(0.95 * N_APPLY)])}  "
        f"max {fmt(per_call[-1])}   (goal < 1 ms)"
    )

    t = time.perf_counter()
    reader.refresh()
    t_catch = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(1000):
        reader.refresh()
    t_idle = (time.perf_counter() - t) / 1000
    print(f"  reader refresh after {N_APPLY:,} changes: {fmt(t_catch)}; when nothing changed: "
          f"{fmt(t_idle)}")
    assert all(reader.records[j].status == store.records[j].status for j in ids[:1000])

    batch = make_records(n, BATCH, rng, now)
    t = time.perf_counter()
    store.add(batch)
    print(f"  add one batch of {BATCH:,} records:       {fmt(time.perf_counter() - t)}")
    t = time.perf_counter()
    store.apply([LogChange(r.job_id, now, status=JobStatus.SUBMITTED) for r in batch])
    print(f"  apply one batch of {BATCH:,} changes:     {fmt(time.perf_counter() - t)}")

    t = time.perf_counter()
    store.close()
    print(f"  close (checkpoint):                  {fmt(time.perf_counter() - t)}")
    reader.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    base = sys.argv[2] if len(sys.argv) > 2 else None
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for cls, suffix in ((CsvStore, ".csv"), (SqliteStore, ".db")):
        d = tempfile.mkdtemp(prefix="simjobs-bench-", dir=base)
        try:
            bench(cls, os.path.join(d, "runs" + suffix), n)
            bench_finished_open(cls, os.path.join(d, "finished" + suffix), n)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
