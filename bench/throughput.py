"""End-to-end throughput of simjobs on exauq's benchmark workload.

Workload (../shared/exauq-compat/README.md, copied here): N inputs of dimension 3 from
random.Random(20240601), all at level 1, two in-process interfaces hpc_a and hpc_b
that accept every submit and answer every status call with COMPLETED (after
``polls_to_complete`` RUNNING polls, 0 by default); output = sum of the coordinates;
polling interval 0.

Figures, per N and per store:
  (a) wall time of N ``submit()`` calls (and of one ``submit_many``)
  (b) wall time from the first submit until every record is COMPLETED in the log,
      outputs checked
  (c) one update_job_status / insert_result on a log of N records (median of 200)
  (d) JobIDGenerator ids per second
  (e) peak RSS of the process
Each (N, store) runs in its own process so RSS and caches do not leak between runs.

Usage: python bench/throughput.py [--sizes 300,1000,3000,10000] [--stores csv,db]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

# exauq 0.3.2 on this kind of machine (from ../shared/exauq-compat/README.md).
EXAUQ = {
    300: {"submit": 1.13, "e2e": 2.38, "update_ms": 2.6, "insert_ms": 2.5, "ids": 936, "rss": 63},
    1000: {"submit": 8.05, "e2e": 27.6, "update_ms": 15.1, "insert_ms": 14.9, "ids": 939, "rss": 65},
    3000: {"submit": 57.9, "e2e": 227.9, "update_ms": 29.5, "insert_ms": 23.8, "ids": 933, "rss": 71},
}


def workload(n: int) -> list[tuple[float, float, float]]:
    rng = random.Random(20240601)
    return [(rng.random(), rng.random(), rng.random()) for _ in range(n)]


def run_one(n: int, store: str, polls_to_complete: int, batch: bool) -> dict:
    from simjobs import HardwareInterface, Input, JobIDGenerator, JobManager, JobStatus, SimulationsLog

    class InstantInterface(HardwareInterface):
        def __init__(self, name):
            super().__init__(name, 1)
            self.jobs = {}
            self.polls = {}

        def submit_job(self, job):
            self.jobs[job.id] = job
            self.polls[job.id] = 0

        def get_job_status(self, job_id):
            self.polls[job_id] += 1
            if self.polls[job_id] > polls_to_complete:
                return JobStatus.COMPLETED
            return JobStatus.RUNNING

        def get_job_output(self, job_id):
            return float(sum(self.jobs[job_id].data))

        def cancel_job(self, job_id):
            pass

    inputs = [Input(*x) for x in workload(n)]
    tmp = tempfile.mkdtemp(prefix="simjobs-bench-")
    log = SimulationsLog(os.path.join(tmp, f"runs.{store}"), 3)
    manager = JobManager(log, [InstantInterface("hpc_a"), InstantInterface("hpc_b")],
                         polling_interval=0)
    t0 = time.perf_counter()
    if batch:
        jobs = manager.submit_many(inputs)
    else:
        jobs = [manager.submit(x) for x in inputs]
    t_submit = time.perf_counter() - t0
    manager.wait_until_done()
    t_e2e = time.perf_counter() - t0
    records = log.get_records()
    assert len(records) == n
    for job, record in zip(jobs, records):
        assert record["status"] is JobStatus.COMPLETED, record
        assert record["output"] == float(sum(job.data)), record
    manager.shutdown()

    # (c) single-record operations on a log of n records
    ids = [str(j.id) for j in jobs]
    rng = random.Random(1)
    upd, ins = [], []
    for i in range(200):
        job_id = rng.choice(ids)
        # always a real change (the same status again would write nothing)
        current = log.get_job_status(job_id)
        s = time.perf_counter()
        log.update_job_status(job_id, JobStatus.RUNNING if current is JobStatus.COMPLETED
                              else JobStatus.COMPLETED)
        upd.append(time.perf_counter() - s)
        s = time.perf_counter()
        log.insert_result(job_id, float(i))
        ins.append(time.perf_counter() - s)
    log.close()

    gen = JobIDGenerator()
    s = time.perf_counter()
    for _ in range(10_000):
        gen.generate_id()
    ids_per_s = 10_000 / (time.perf_counter() - s)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n": n, "store": store, "batch": batch, "submit_s": t_submit, "e2e_s": t_e2e,
        "update_ms": statistics.median(upd) * 1e3, "insert_ms": statistics.median(ins) * 1e3,
        "ids_per_s": ids_per_s, "rss_mb": rss_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,1000,3000,10000")
    parser.add_argument("--stores", default="csv,db")
    parser.add_argument("--polls-to-complete", type=int, default=0)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n, store, batch = args.one.split(":")
        print(json.dumps(run_one(int(n), store, args.polls_to_complete, batch == "batch")))
        return

    rows = []
    for store in args.stores.split(","):
        for n in [int(s) for s in args.sizes.split(",")]:
            for mode in ("single", "batch"):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", f"{n}:{store}:{mode}",
                     "--polls-to-complete", str(args.polls_to_complete)],
                    capture_output=True, text=True, check=True)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                r = rows[-1]
                print(f"  done N={n} store={store} {mode}: e2e {r['e2e_s']:.3f} s", file=sys.stderr)

    print(f"\nsimjobs throughput on exauq's workload (polls_to_complete={args.polls_to_complete})")
    print("| store | N | (a) N x submit() | (a) submit_many | (b) all COMPLETED (submit()) "
          "| (b) all COMPLETED (submit_many) | exauq (b) | speed-up (b) | (c) update_job_status "
          "| (c) insert_result | (d) ids/s | (e) peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for store in args.stores.split(","):
        for n in [int(s) for s in args.sizes.split(",")]:
            single = next(r for r in rows if r["n"] == n and r["store"] == store and not r["batch"])
            batch = next(r for r in rows if r["n"] == n and r["store"] == store and r["batch"])
            ex = EXAUQ.get(n)
            speed = f"{ex['e2e'] / single['e2e_s']:.0f}x" if ex else "-"
            print(f"| {store} | {n:,} | {single['submit_s']:.3f} s | {batch['submit_s']:.3f} s "
                  f"| {single['e2e_s']:.3f} s | {batch['e2e_s']:.3f} s "
                  f"| {(str(ex['e2e']) + ' s') if ex else '-'} | {speed} "
                  f"| {single['update_ms']:.3f} ms | {single['insert_ms']:.3f} ms "
                  f"| {single['ids_per_s']:,.0f} | {single['rss_mb']:.0f} MB |")
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) > 1:
        for store in args.stores.split(","):
            t = {r["n"]: r["e2e_s"] for r in rows if r["store"] == store and not r["batch"]}
            lo, hi = min(sizes), max(sizes)
            print(f"growth ({store}): {hi // lo}x the jobs cost {t[hi] / t[lo]:.1f}x the time "
                  f"(exauq: 10x the jobs cost 96x)")


if __name__ == "__main__":
    main()
