"""Benchmark of the SSH, Slurm and Grid Engine interfaces on loopback (issue 3's and
issue 12's figures).

For N active jobs on one SSHInterface (the test sshd of scripts/services/), on one
SlurmInterface (the one-node test Slurm) and on one SGEInterface (the one-node test
Grid Engine), prints:

- remote round trips per poll cycle (commands the interface's runner ran for one
  ``get_job_statuses`` of all N jobs; goal 1),
- poll-cycle time (median of several polls; goal < 100 ms for SSH at N=500),
- submit throughput of one batch of N (``submit_jobs``, the manager's batch hook; goal
  >= 100 jobs/s over SSH, and for Slurm one job array in < 2 s for 500),
- the same through a real JobManager (``submit_many`` until every job is SUBMITTED in
  the log), the path a user takes,

for N = 50, 500 and 2,000 (``--sizes``). The jobs run ``sleep`` (SSH: all N running,
max_jobs = N; Slurm and Grid Engine: a few run, the rest pend in the queue) and are
killed/cancelled at the end of each size.

``--only openssh`` (issue 12): the poll time of N running jobs through the OpenSSH
transport (``transport = "openssh"``: the system ssh over a ControlMaster) next to
asyncssh's, the two interfaces polling the same jobs in turn (goal: within 1.5x at 500).

Needs the services: ``bash scripts/services/start-sshd.sh``,
``bash scripts/services/start-slurm.sh`` and ``bash scripts/services/start-sge.sh`` (as
root). Usage:
``python bench/remote.py [--sizes 50,500,2000] [--only ssh|slurm|sge|openssh] [--polls 9]``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Optional

from simjobs import Input, Job, JobId, JobManager, JobStatus, SimulationsLog
from simjobs.interfaces.runner import LocalRunner


class CountingRunner:
    """A CommandRunner proxy that counts the commands (round trips) it runs."""

    def __init__(self, inner):
        self.inner = inner
        self.host = inner.host
        self.count = 0
        self._lock = threading.Lock()

    def run(self, command, input=None, timeout=None):
        with self._lock:
            self.count += 1
        return self.inner.run(command, input=input, timeout=timeout)

    def run_many(self, commands, timeout=None):
        with self._lock:
            self.count += len(commands)
        return self.inner.run_many(commands, timeout=timeout)

    def __getattr__(self, name):  # put_file etc. are not used by the measured calls
        return getattr(self.inner, name)

    def close(self):
        self.inner.close()


def service_env(state_dir: str) -> dict[str, str]:
    values = {}
    env_file = Path(state_dir) / "env"
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line[len("export "):].partition("=")
                values[key] = value.strip("'\"")
    values.update(os.environ)
    return values


def jobs_for(n: int, first: int) -> list[Job]:
    return [Job(JobId(first + i), Input(float(i), 0.5)) for i in range(n)]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure_polls(iface, runner: CountingRunner, ids, polls: int) -> tuple[float, float, float]:
    """Median and max poll time (ms) and round trips per poll."""
    times, trips = [], []
    for _ in range(polls):
        before = runner.count
        t0 = time.perf_counter()
        statuses = iface.get_job_statuses(ids)
        times.append(time.perf_counter() - t0)
        trips.append(runner.count - before)
        missing = [j for j in ids if j not in statuses]
        if missing:
            raise SystemExit(f"poll left out {len(missing)} jobs, e.g. {missing[:3]}")
    return median_ms(times), max(times) * 1000, statistics.mean(trips)


def report(kind: str, n: int, submit_s: float, submit_trips: int, poll, manager_s: float,
           statuses: dict) -> None:
    poll_med, poll_max, trips = poll
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status.value] = counts.get(status.value, 0) + 1
    print(f"{kind:5} N={n:5}  submit batch {submit_s * 1000:8.1f} ms = {n / submit_s:7.0f} jobs/s "
          f"({submit_trips} round trips)  |  poll median {poll_med:6.1f} ms (max {poll_max:6.1f}), "
          f"{trips:.1f} round trips/poll  |  JobManager.submit_many -> all SUBMITTED "
          f"{manager_s * 1000:8.1f} ms = {n / manager_s:6.0f} jobs/s  |  states {counts}",
          flush=True)


def manager_submit(iface, n: int, tmp: Path) -> float:
    """submit_many of n inputs through a real JobManager until all are SUBMITTED in the log."""
    log = SimulationsLog(tmp / f"bench-{uuid.uuid4().hex[:6]}.db", 2)
    manager = JobManager(log, [iface], polling_interval=3600)
    try:
        t0 = time.perf_counter()
        jobs = manager.submit_many([Input(float(i), 1.5) for i in range(n)], level=1)
        if not manager.wait_until_submitted([j.id for j in jobs], timeout=300):
            raise SystemExit("JobManager: not all jobs submitted within 300 s")
        elapsed = time.perf_counter() - t0
        bad = [j for j in jobs if log.get_job_status(j.id) is not JobStatus.SUBMITTED
               and log.get_job_status(j.id) is not JobStatus.RUNNING]
        if bad:
            raise SystemExit(f"JobManager: {len(bad)} jobs not submitted, e.g. "
                             f"{log.get_record(bad[0].id).reason}")
        return elapsed
    finally:
        manager.shutdown(timeout=5)
        log.close()


def measure(kind: str, iface, runner: CountingRunner, n: int, polls: int,
            manager_iface, tmp: Path) -> None:
    """Submit one batch of n jobs, time polls of them, then submit_many through a
    JobManager on ``manager_iface``; print the row."""
    iface.get_job_statuses([])  # connect + install the wrapper: not part of the figure
    jobs = jobs_for(n, 1)
    before = runner.count
    t0 = time.perf_counter()
    outcomes = iface.submit_jobs(jobs)
    submit_s = time.perf_counter() - t0
    errors = [e for e in outcomes.values() if e is not None]
    if errors:
        raise SystemExit(f"{kind} submit: {len(errors)} failed, e.g. {errors[0]}")
    trips = runner.count - before
    ids = [j.id for j in jobs]
    poll = measure_polls(iface, runner, ids, polls)
    statuses = iface.get_job_statuses(ids)
    manager_s = manager_submit(manager_iface, n, tmp)
    report(kind, n, submit_s, trips, poll, manager_s, statuses)


# ---- SSH -----------------------------------------------------------------------------

def shared_sshd_settings():
    """The SSHSettings of the test sshd (scripts/services/start-sshd.sh)."""
    from simjobs.interfaces.runner import SSHSettings

    env = service_env(os.environ.get("SIMJOBS_SSHD_DIR", "/tmp/simjobs-sshd"))
    try:
        return SSHSettings(env["SIMJOBS_SSH_HOST"], int(env["SIMJOBS_SSH_PORT"]),
                           env["SIMJOBS_SSH_USER"], (env["SIMJOBS_SSH_KEY"],),
                           env["SIMJOBS_SSH_KNOWN_HOSTS"])
    except KeyError:
        raise SystemExit("no test sshd: run `bash scripts/services/start-sshd.sh` first")


def remote_sleep_sim(setup) -> str:
    """A new remote directory holding sim.sh (sleeps an hour); its path."""
    base = f"/tmp/simjobs-bench-{uuid.uuid4().hex[:8]}"
    setup.run(f"mkdir -p {base} && printf '#!/bin/sh\\nexec sleep 3600\\n' > {base}/sim.sh "
              f"&& chmod +x {base}/sim.sh")
    return base


def kill_remote_jobs(setup, workspaces: str) -> None:
    """Kill the process group of every job in ``workspaces`` (a glob), in one command."""
    setup.run(f"for p in {workspaces}/*/pid; do [ -f \"$p\" ] && "
              f"kill -KILL -- -$(cat \"$p\") 2>/dev/null; done; true")


def bench_ssh(sizes: list[int], polls: int, tmp: Path) -> None:
    from simjobs.interfaces.ssh import SSHInterface
    from simjobs.interfaces.ssh_transport import SSHRunner

    settings = shared_sshd_settings()
    setup = SSHRunner(settings)
    base = remote_sleep_sim(setup)
    try:
        for n in sizes:
            workspace = f"{base}/ws{n}"
            runner = CountingRunner(SSHRunner(settings))
            iface = SSHInterface("ssh-bench", 1, settings.host, f"{base}/sim.sh", workspace,
                                 port=settings.port, user=settings.user, max_jobs=n,
                                 runner=runner)
            try:
                # The manager path, on its own workspace and connection (closed by the
                # manager's shutdown).
                m_iface = SSHInterface("ssh-bench", 1, settings.host, f"{base}/sim.sh",
                                       f"{workspace}-m", port=settings.port, user=settings.user,
                                       max_jobs=n, identity_files=settings.identity_files,
                                       known_hosts=settings.known_hosts)
                measure("ssh", iface, runner, n, polls, m_iface, tmp)
            finally:
                # Kill every job's process group (one command), then drop the connections.
                kill_remote_jobs(setup, f"{base}/ws{n}*")
                iface.close()
                runner.close()
    finally:
        setup.run(f"rm -rf {base}")
        setup.close()


# ---- OpenSSH transport next to asyncssh ------------------------------------------------

def bench_openssh(sizes: list[int], polls: int) -> None:
    import dataclasses

    from simjobs.interfaces.openssh_transport import OpenSSHRunner
    from simjobs.interfaces.ssh import SSHInterface
    from simjobs.interfaces.ssh_transport import SSHRunner

    settings = shared_sshd_settings()
    openssh = dataclasses.replace(settings, transport="openssh")
    setup = SSHRunner(settings)
    base = remote_sleep_sim(setup)
    try:
        for n in sizes:
            workspace = f"{base}/os{n}"
            runners = {"asyncssh": CountingRunner(SSHRunner(settings)),
                       "openssh": CountingRunner(OpenSSHRunner(openssh))}
            ifaces = {name: SSHInterface(f"{name}-bench", 1, settings.host, f"{base}/sim.sh",
                                         workspace, port=settings.port, user=settings.user,
                                         max_jobs=n, runner=runner)
                      for name, runner in runners.items()}
            try:
                jobs = jobs_for(n, 1)
                errors = [e for e in ifaces["asyncssh"].submit_jobs(jobs).values() if e]
                if errors:
                    raise SystemExit(f"submit: {len(errors)} failed, e.g. {errors[0]}")
                ids = [j.id for j in jobs]
                for iface in ifaces.values():  # connect, learn the jobs: not measured
                    iface.get_job_statuses(ids)
                times: dict[str, list[float]] = {name: [] for name in ifaces}
                trips: dict[str, list[int]] = {name: [] for name in ifaces}
                for _ in range(polls):  # in turn, so both meet the same load
                    for name, iface in ifaces.items():
                        before = runners[name].count
                        t0 = time.perf_counter()
                        statuses = iface.get_job_statuses(ids)
                        times[name].append(time.perf_counter() - t0)
                        trips[name].append(runners[name].count - before)
                        if len(statuses) != n:
                            raise SystemExit(f"{name}: the poll left out {n - len(statuses)}")
                a, o = median_ms(times["asyncssh"]), median_ms(times["openssh"])
                print(f"openssh N={n:5}  poll median {o:6.1f} ms (max "
                      f"{max(times['openssh']) * 1000:6.1f}), "
                      f"{statistics.mean(trips['openssh']):.1f} round trips/poll  |  asyncssh "
                      f"poll median {a:6.1f} ms (max {max(times['asyncssh']) * 1000:6.1f}), "
                      f"{statistics.mean(trips['asyncssh']):.1f} round trips/poll  |  "
                      f"openssh/asyncssh {o / a:4.2f}x (goal <= 1.5x)", flush=True)
            finally:
                kill_remote_jobs(setup, workspace)
                for name, iface in ifaces.items():
                    iface.close()
                    runners[name].close()
    finally:
        setup.run(f"rm -rf {base}")
        setup.close()


# ---- Slurm ---------------------------------------------------------------------------

def bench_slurm(sizes: list[int], polls: int, tmp: Path) -> None:
    from simjobs.interfaces.slurm import SlurmInterface

    env = service_env(os.environ.get("SIMJOBS_SLURM_DIR", "/tmp/simjobs-slurm"))
    if "SLURM_CONF" not in env:
        raise SystemExit("no test Slurm: run `bash scripts/services/start-slurm.sh` first")
    os.environ["SLURM_CONF"] = env["SLURM_CONF"]
    sim = tmp / "sleep-sim.sh"
    sim.write_text("#!/bin/sh\nexec sleep 3600\n")
    sim.chmod(0o755)
    for n in sizes:
        runner = CountingRunner(LocalRunner())
        iface = SlurmInterface("slurm-bench", 1, [str(sim)], tmp / f"slurm{n}",
                               partition=env.get("SIMJOBS_SLURM_PARTITION", "debug"),
                               runner=runner)
        m_iface = SlurmInterface("slurm-bench", 1, [str(sim)], tmp / f"slurm{n}-m",
                                 partition=env.get("SIMJOBS_SLURM_PARTITION", "debug"))
        try:
            measure("slurm", iface, runner, n, polls, m_iface, tmp)
        finally:
            # Cancel this benchmark's jobs (their working directories are under tmp)
            # in one scancel; nothing else in the queue is touched.
            subprocess.run(f"squeue -h -o '%F %Z' | grep -F {shlex.quote(str(tmp))} "
                           f"| cut -d' ' -f1 | sort -u | xargs -r scancel", shell=True,
                           check=False)
            iface.close()
            m_iface.close()


# ---- Grid Engine ---------------------------------------------------------------------

def bench_sge(sizes: list[int], polls: int, tmp: Path) -> None:
    from simjobs.interfaces.sge import SGE_ID_FILE, SGEInterface

    env = service_env(os.environ.get("SIMJOBS_SGE_DIR", "/tmp/simjobs-sge"))
    for key in ("SGE_ROOT", "SGE_CELL", "SGE_QMASTER_PORT", "SGE_EXECD_PORT"):
        if key in env:
            os.environ[key] = env[key]
    probe = subprocess.run("qstat -xml", shell=True, capture_output=True, text=True)
    if probe.returncode != 0:
        raise SystemExit("no test Grid Engine: run `bash scripts/services/start-sge.sh` "
                         f"first ({probe.stderr.strip() or 'qstat failed'})")
    sim = tmp / "sleep-sim.sh"
    sim.write_text("#!/bin/sh\nexec sleep 3600\n")
    sim.chmod(0o755)
    queue = env.get("SIMJOBS_SGE_QUEUE")
    for n in sizes:
        runner = CountingRunner(LocalRunner())
        iface = SGEInterface("sge-bench", 1, [str(sim)], tmp / f"sge{n}", queue=queue,
                             runner=runner)
        m_iface = SGEInterface("sge-bench", 1, [str(sim)], tmp / f"sge{n}-m", queue=queue)
        try:
            measure("sge", iface, runner, n, polls, m_iface, tmp)
        finally:
            # Delete this benchmark's jobs: the job numbers recorded in its job
            # directories, in one qdel; nothing else in the queue is touched.
            numbers = {p.read_text().split(".")[0].strip()
                       for p in tmp.glob(f"sge{n}*/*/{SGE_ID_FILE}")}
            if numbers:
                subprocess.run(["qdel", *sorted(numbers)], capture_output=True, check=False)
            iface.close()
            m_iface.close()


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,500,2000")
    parser.add_argument("--only", choices=("ssh", "slurm", "sge", "openssh"))
    parser.add_argument("--polls", type=int, default=9)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"simjobs remote benchmark: sizes {sizes}, {args.polls} polls each, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="simjobs-bench-") as tmp:
        if args.only in (None, "ssh"):
            bench_ssh(sizes, args.polls, Path(tmp))
        if args.only in (None, "slurm"):
            bench_slurm(sizes, args.polls, Path(tmp))
        if args.only in (None, "sge"):
            bench_sge(sizes, args.polls, Path(tmp))
        if args.only in (None, "openssh"):
            bench_openssh(sizes, args.polls)


if __name__ == "__main__":
    main()
