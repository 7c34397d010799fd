"""Benchmark: cancelling 100,000 queued local jobs (issue 8, item 3).

N jobs go to one LocalInterface with max_jobs = 2 through a real JobManager; the
simulator counts its runs in a file and then runs until killed, so two jobs run and
the rest wait in the interface's queue. Once every job is on the hardware (Submitted
or Running in the log), ``cancel_many`` of all N ids is timed until every record of
the log is Cancelled. Prints that time (goal: under 10 s for 100,000 jobs) and how many
times the simulator ran (goal: 2, the jobs already running; before the fix each cancel
freed a slot for a job pending cancel: 44 runs for 200 jobs).

Usage: ``python bench/cancel.py [--jobs 100000] [--store csv|db] [--poll 10]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from simjobs import Input, JobManager, JobStatus, SimulationsLog
from simjobs.interfaces import LocalInterface

COUNTED_SH = """#!/bin/sh
echo "run $$" >> "$1"
sleep 600 &
wait
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--store", choices=("csv", "db"), default="csv")
    parser.add_argument("--poll", type=float, default=10.0,
                        help="the manager's polling interval (s), 10 by default as in "
                             "simjobs' own default")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="simjobs-bench-cancel-") as tmp:
        base = Path(tmp)
        counter = base / "runs"
        sim = base / "counted.sh"
        sim.write_text(COUNTED_SH)
        sim.chmod(0o755)
        iface = LocalInterface("local", 1, [str(sim), str(counter)], base / "ws", max_jobs=2)
        log_path = base / f"runs.{args.store}"
        log = SimulationsLog(log_path, 2)
        manager = JobManager(log, [iface], polling_interval=args.poll)
        try:
            began = time.perf_counter()
            jobs = manager.submit_many(Input(float(i), 0.5) for i in range(args.jobs))
            ids = [job.id for job in jobs]
            if not manager.wait_until_submitted(ids, timeout=3600):
                sys.exit("the jobs did not all reach the interface within an hour")
            while not counter.exists() or len(counter.read_text().splitlines()) < 2:
                time.sleep(0.05)
            setup = time.perf_counter() - began

            began = time.perf_counter()
            manager.cancel_many(ids)
            if not manager.wait_until_done(timeout=600):
                sys.exit("the cancel did not end within 10 minutes")
            took = time.perf_counter() - began
        finally:
            manager.shutdown()
            log.close()
        with SimulationsLog.open(log_path, readonly=True) as reader:
            statuses = [r.status for r in reader.iter_records()]
        cancelled = sum(s is JobStatus.CANCELLED for s in statuses)
        runs = len(counter.read_text().splitlines())
        print(f"jobs: {args.jobs:,} on one LocalInterface (max_jobs=2), {args.store} log, "
              f"polling interval {args.poll:g} s; setup (submit until all on the "
              f"interface) {setup:.1f} s")
        print(f"cancel_many of all {args.jobs:,}: {took:.2f} s until every record is "
              f"Cancelled ({cancelled:,} Cancelled of {len(statuses):,} records)")
        print(f"simulator runs: {runs} (max_jobs = 2)")
        print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
