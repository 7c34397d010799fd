"""Crash test: SIGKILL the managing process at random moments, restart it, and check
that nothing is lost and nothing runs twice."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys

import pytest

from simjobs import JobStatus, SimulationsLog

from helpers import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
N = 300


def terminal_count(path: str) -> int:
    if not os.path.exists(path):
        return 0
    try:
        log = SimulationsLog(path, 2, readonly=True)
    except Exception:  # noqa: BLE001 - the writer may be creating it this instant
        return 0
    counts = log.status_counts()
    return sum(counts.get(s, 0) for s in (JobStatus.COMPLETED, JobStatus.FAILED,
                                            JobStatus.FAILED_SUBMIT, JobStatus.CANCELLED))


@pytest.mark.slow
@pytest.mark.parametrize("store", ["csv", "db"])
def test_sigkill_five_times_loses_nothing_and_runs_nothing_twice(tmp_path, store):
    counter = tmp_path / "runs.txt"
    log_path = str(tmp_path / f"runs.{store}")
    env = dict(os.environ, SIMJOBS_RUN_COUNTER=str(counter))
    cmd = [sys.executable, os.path.join(HERE, "crash", "driver.py"), str(tmp_path), store, str(N)]
    rng = random.Random()
    kills = 0
    while kills < 5:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Kill at a random moment: after a random number of further jobs ended, or
        # right away (during start-up and submission) on some rounds.
        before = terminal_count(log_path)
        target = before + rng.choice([0, 0, 5, 20, 40])
        try:
            wait_for(lambda: terminal_count(log_path) >= target or proc.poll() is not None,
                       timeout=60, interval=rng.uniform(0.005, 0.05))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.returncode == -signal.SIGKILL:
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read().decode()
            break  # it finished before we could kill it five times
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert final.returncode == 0, final.stderr
    assert "all done" in final.stdout
    assert kills == 5, "the run ended before it could be killed five times"

    log = SimulationsLog(log_path, 2, readonly=True)
    records = log.iter_records()
    assert len(records) == N  # no record lost, none duplicated
    assert len({r.coords for r in records}) == N
    for r in records:
        assert r.status is JobStatus.COMPLETED, (r.job_id, r.status, r.reason)
        assert r.output == sum(r.coords)
        terminal = [s for s, _ in r.history if s in (JobStatus.COMPLETED, JobStatus.FAILED,
                                                     JobStatus.CANCELLED, JobStatus.FAILED_SUBMIT)]
        assert terminal == [JobStatus.COMPLETED], (r.job_id, r.history)
    runs = collections.Counter(counter.read_text().split())
    assert set(runs) == {r.job_id for r in records}
    assert max(runs.values()) == 1, [k for k, v in runs.items() if v > 1]
