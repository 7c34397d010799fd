"""Benchmark of handing requests to a running manager through the log's inbox.

Starts ``simjobs run`` on a fresh log in a temporary directory (one local interface,
a one-line sh simulator, max_jobs 2) and prints:

  small     round trip of N one-input submits handed over one after another (median,
            95th percentile, max): client id, .wait lock, request, claim, two journal
            fsyncs, reply, read; the manager serves its inbox every 0.2 s
  big       one submit of M inputs handed over (the request file, the manager's
            submit_many and its journal line with M job ids)

Usage: python bench/handover.py [N] [M]
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from simjobs.core.control import hand_over, manager_holder  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    top = tempfile.mkdtemp(prefix="simjobs-bench-handover-")
    log = os.path.join(top, "runs.csv")
    with open(os.path.join(top, "sim.sh"), "w") as f:
        f.write('echo 1 > "$2"\n')
    with open(os.path.join(top, "simjobs.toml"), "w") as f:
        f.write('[log]\npath = "runs.csv"\ninput_dim = 2\n\n[manager]\npolling_interval = 1\n'
                '\n[[interfaces]]\nname = "local"\nlevel = 1\nkind = "local"\n'
                f'command = "/bin/sh {top}/sim.sh"\nworkspace = "work"\nmax_jobs = 2\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [sys.path[0], os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "simjobs", "run"], cwd=top, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while (manager_holder(log) or {}).get("pid") != proc.pid:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the manager did not start: {proc.stderr.read()!r}")
            time.sleep(0.05)
        times = []
        for i in range(n):
            started = time.perf_counter()
            hand_over(log, {"op": "submit", "inputs": [[float(i), 1.0]], "level": 1},
                      timeout=60)
            times.append(time.perf_counter() - started)
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"small  {n} one-input submits: median {statistics.median(times) * 1e3:.0f} ms,"
              f" p95 {p95 * 1e3:.0f} ms, max {times[-1] * 1e3:.0f} ms")
        inputs = [[float(i), 2.0] for i in range(m)]
        started = time.perf_counter()
        reply = hand_over(log, {"op": "submit", "inputs": inputs, "level": 1}, timeout=600)
        elapsed = time.perf_counter() - started
        print(f"big    one submit of {len(reply['job_ids']):,} inputs: {elapsed:.2f} s")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
