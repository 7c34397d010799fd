"""SSHInterface against a real OpenSSH sshd on 127.0.0.1 (scripts/services/start-sshd.sh).

Remote jobs run as the sshd's test user, who cannot read this venv: the test simulators
are POSIX sh scripts uploaded into a remote directory under /tmp/simjobs-ssh-tests/.
The remote host is this machine, so the tests check processes in /proc directly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import helpers
from helpers import assert_corrected_late, group_members, pid_gone
from simjobs.config import load_config
from simjobs.core import Input, JobManager, JobStatus
from simjobs.core.log import SimulationsLog
from simjobs.core.types import Job, JobId
from simjobs.interfaces import JobAlreadyEndedError, jobdir
from simjobs.interfaces.runner import HostKeyError, HostUnreachableError, SSHSettings
from simjobs.interfaces.ssh import SSHInterface
from simjobs.interfaces.ssh_transport import SSHRunner

REPO = Path(__file__).resolve().parents[1]
SERVICES = REPO / "scripts" / "services"
REMOTE_ROOT = "/tmp/simjobs-ssh-tests"

SUM_SH = """#!/bin/sh
# sum of the input's coordinates; appends its job dir to ../runs (a run counter)
base=$(dirname "$0")
echo "$PWD" >> "$base/runs"
awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i; printf "%.17g\\n", s}' "$1" > "$2"
"""

FAIL_SH = """#!/bin/sh
base=$(dirname "$0")
echo "$PWD" >> "$base/runs"
echo "starting the model" >&2
echo "the model diverged at step 7" >&2
exit 3
"""

# Runs until the file "gate" appears next to it; a child (sleep) shares its process group.
GATE_SH = """#!/bin/sh
base=$(dirname "$0")
echo "$PWD" >> "$base/runs"
echo $$ > sim_pid
sleep 600 &
echo $! > child_pid
while [ ! -e "$base/gate" ] && [ -d "$base" ]; do sleep 0.05; done
kill $! 2>/dev/null
awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i; printf "%.17g\\n", s}' "$1" > "$2"
"""


def wait_for(predicate, timeout: float = 30.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.02, message=message)


def settings_of(server: dict) -> SSHSettings:
    return SSHSettings(server["host"], int(server["port"]), server["user"],
                       (server["key"],), server["known_hosts"], 10.0)


class Remote:
    """A remote directory with the test simulators, made through its own SSH runner."""

    def __init__(self, settings: SSHSettings):
        self.settings = settings
        self.runner = SSHRunner(settings)
        self.base = f"{REMOTE_ROOT}/{uuid.uuid4().hex[:12]}"
        scripts = {"sum.sh": SUM_SH, "fail.sh": FAIL_SH, "gate.sh": GATE_SH}
        q = shlex.quote
        self.run(f"mkdir -p {q(self.base)} && chmod 755 {q(REMOTE_ROOT)} 2>/dev/null; true")
        for name, text in scripts.items():
            self.runner.put_file(text.encode(), f"{self.base}/{name}")
        self.run(f"chmod +x {q(self.base)}/*.sh")

    def run(self, command: str) -> str:
        result = self.runner.run(command)
        assert result.ok, result.error_text()
        return result.text()

    def sim(self, name: str) -> str:
        return f"{self.base}/{name}"

    def workspace(self, name: str = "work") -> str:
        return f"{self.base}/{name}"

    @property
    def local_base(self) -> Path:
        return Path(self.base)  # the remote host is this machine

    def runs(self) -> list[str]:
        path = self.local_base / "runs"
        return path.read_text().splitlines() if path.exists() else []

    def open_gate(self) -> None:
        self.run(f"touch {shlex.quote(self.base)}/gate")

    def processes(self) -> list[int]:
        """Live processes working in the remote directory (the host is this machine)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and not pid_gone(int(entry)):
                try:
                    cwd = os.readlink(f"/proc/{entry}/cwd")
                except OSError:
                    continue
                if cwd == self.base or cwd.startswith(self.base + "/"):
                    found.append(int(entry))
        return found

    def close(self) -> None:
        try:
            self.open_gate()  # gated jobs end; the directory goes once they have
            wait_for(lambda: not self.processes(), timeout=60,
                     message=f"the test's jobs in {self.base} to end")
        finally:
            try:
                self.run(f"rm -rf {shlex.quote(self.base)}")
            finally:
                self.runner.close()


@pytest.fixture
def remote(ssh_server):
    r = Remote(settings_of(ssh_server))
    yield r
    r.close()


@pytest.fixture
def make_interface(ssh_server, remote):
    made: list[SSHInterface] = []

    def make(name="remote", level=1, command=None, workspace=None, server=None, **kwargs):
        server = server or ssh_server
        iface = SSHInterface(
            name, level, server["host"], command or remote.sim("sum.sh"),
            workspace or remote.workspace(), port=int(server["port"]), user=server["user"],
            identity_files=[server["key"]], known_hosts=server["known_hosts"], **kwargs,
        )
        made.append(iface)
        return iface

    yield make
    for iface in made:
        iface.close()


@pytest.fixture
def log_path(tmp_path):
    return tmp_path / "runs.csv"


def records(log_path):
    return helpers.records_of(log_path)


def test_submit_completes_with_the_right_output_through_a_job_manager(make_interface, remote,
                                                                        log_path):
    iface = make_interface(max_jobs=2)
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    try:
        jobs = [manager.submit(Input(float(i), 0.5)) for i in range(5)]
        assert manager.wait_until_done(timeout=60)
    finally:
        manager.shutdown()
        log.close()
    recs = records(log_path)
    for i, job in enumerate(jobs):
        assert recs[str(job.id)].status is JobStatus.COMPLETED
        assert recs[str(job.id)].output == i + 0.5
    # Five jobs through two slots: each ran exactly once, in its own job directory.
    runs = remote.runs()
    assert sorted(runs) == sorted(f"{remote.workspace()}/{j.id}" for j in jobs)
    assert not iface.runner.connected  # shutdown closed the connection


def test_a_failing_simulator_is_failed_with_its_exit_code_and_stderr_tail(make_interface,
                                                                           remote, log_path):
    iface = make_interface(command=remote.sim("fail.sh"))
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    try:
        job = manager.submit(Input(1.0, 2.0))
        assert manager.wait_until_done(timeout=60)
        reason = iface.failure_reason(job.id)
        details = iface.job_details(job.id)
    finally:
        manager.shutdown()
        log.close()
    record = records(log_path)[str(job.id)]
    assert record.status is JobStatus.FAILED
    assert "exit code 3" in record.reason and "diverged at step 7" in record.reason
    assert reason == record.reason
    assert details["exit_code"] == 3
    assert details["host"] == iface.runner.host
    assert details["job_dir"] == f"{remote.workspace()}/{job.id}"
    assert "starting the model" in details["stderr_tail"]


def test_cancelling_a_running_job_kills_its_whole_process_group(make_interface, remote):
    iface = make_interface(command=remote.sim("gate.sh"))
    iface.submit_job(Job(JobId(1), Input(1.0, 2.0)))
    wait_for(lambda: iface.get_job_status(JobId(1)) is JobStatus.RUNNING)
    job_dir = remote.local_base / "work" / "1"
    wait_for(lambda: (job_dir / "child_pid").exists() and (job_dir / "sim_pid").exists())
    wrapper = iface.job_details(JobId(1))["pid"]
    sim = int((job_dir / "sim_pid").read_text())
    child = int((job_dir / "child_pid").read_text())
    assert group_members(wrapper), "the job's processes should be running before the cancel"
    assert not any(pid_gone(p) for p in (wrapper, sim, child))

    iface.cancel_job(JobId(1))

    # cancel_job returns once the remote side confirmed: nothing of the job is left.
    assert all(pid_gone(p) for p in (wrapper, sim, child))
    assert group_members(wrapper) == []
    assert iface.get_job_status(JobId(1)) is JobStatus.CANCELLED
    assert (job_dir / "cancelled").exists()
    with pytest.raises(JobAlreadyEndedError):
        iface.cancel_job(JobId(1))
    # A fresh interface (no cache) reads CANCELLED from the job directory too.
    other = make_interface(command=remote.sim("gate.sh"))
    assert other.get_job_status(JobId(1)) is JobStatus.CANCELLED


def test_cancel_through_the_manager_and_a_queued_job_never_starts(make_interface, remote,
                                                                    log_path):
    iface = make_interface(command=remote.sim("gate.sh"), max_jobs=1)
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    try:
        running = manager.submit(Input(1.0, 1.0))
        queued = manager.submit(Input(2.0, 2.0))
        wait_for(lambda: log.get_job_status(running.id) is JobStatus.RUNNING)
        assert log.get_job_status(queued.id) is JobStatus.SUBMITTED
        manager.cancel(queued.id)
        manager.cancel(running.id)
        wait_for(lambda: log.get_job_status(running.id) is JobStatus.CANCELLED
                 and log.get_job_status(queued.id) is JobStatus.CANCELLED)
    finally:
        manager.shutdown()
        log.close()
    assert remote.runs() == [f"{remote.workspace()}/{running.id}"]  # the queued one never ran


def test_cancelling_many_jobs_is_one_remote_command(make_interface, remote, log_path):
    """cancel_many of running and queued jobs reaches the host as one command (the
    manager's batch cancel hook), and every process of theirs is gone."""
    iface = make_interface(command=remote.sim("gate.sh"), max_jobs=3)
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=3600)  # no polls in between
    try:
        jobs = manager.submit_many([Input(float(i), 1.0) for i in range(5)])
        assert manager.wait_until_submitted([j.id for j in jobs], timeout=30)
        wait_for(lambda: len(remote.runs()) == 3)
        before = iface.runner.commands_run
        result = manager.cancel_many([j.id for j in jobs])
        assert len(result.cancelled) == 5
        wait_for(lambda: all(log.get_job_status(j.id) is JobStatus.CANCELLED for j in jobs))
        assert iface.runner.commands_run - before == 1
        assert remote.processes() == []
    finally:
        manager.shutdown()
        log.close()
    assert len(remote.runs()) == 3  # the two queued jobs never started


def test_a_restart_mid_run_picks_the_jobs_up_without_running_them_again(make_interface,
                                                                          remote, log_path):
    iface = make_interface(command=remote.sim("gate.sh"), max_jobs=2)
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    jobs = [manager.submit(Input(float(i), 1.0)) for i in range(3)]
    wait_for(lambda: sum(log.get_job_status(j.id) is JobStatus.RUNNING for j in jobs) == 2)
    wait_for(lambda: len(remote.runs()) == 2)
    manager.shutdown()  # closes the interface and its connection; the jobs run on
    log.close()
    assert not iface.runner.connected

    iface2 = make_interface(command=remote.sim("gate.sh"), max_jobs=2)
    log2 = SimulationsLog(log_path, 2)
    manager2 = JobManager(log2, [iface2], polling_interval=0.05)
    try:
        wait_for(lambda: manager2.interface_health()["remote"].ok)
        remote.open_gate()
        assert manager2.wait_until_done(timeout=60)
    finally:
        manager2.shutdown()
        log2.close()
    recs = records(log_path)
    assert [recs[str(j.id)].status for j in jobs] == [JobStatus.COMPLETED] * 3
    assert [recs[str(j.id)].output for j in jobs] == [1.0, 2.0, 3.0]
    # Each simulator ran exactly once: the queued third one started after the restart.
    assert sorted(remote.runs()) == sorted(f"{remote.workspace()}/{j.id}" for j in jobs)


def test_submitting_the_same_job_twice_never_runs_it_twice(make_interface, remote):
    iface = make_interface()
    job = Job(JobId(7), Input(3.0, 4.0))
    assert iface.submit_jobs([job]) == {job.id: None}
    wait_for(lambda: iface.get_job_status(job.id) is JobStatus.COMPLETED)
    other = make_interface()
    assert other.submit_jobs([Job(JobId(7), Input(9.0, 9.0))]) == {job.id: None}
    assert other.get_job_status(job.id) is JobStatus.COMPLETED
    assert other.get_job_output(job.id) == 7.0
    assert other.find_jobs([JobId(7), JobId(8)]) == {JobId(7)}
    assert remote.runs() == [f"{remote.workspace()}/7"]


def test_a_workspace_with_spaces_and_quotes_works(make_interface, remote):
    workspace = remote.workspace("it's a \"work\" space $HOME `x`")
    iface = make_interface(workspace=workspace)
    jobs = [Job(JobId(n), Input(float(n), 0.25)) for n in (1, 2, 3)]
    assert iface.submit_jobs(jobs) == {j.id: None for j in jobs}
    ids = [j.id for j in jobs]
    wait_for(lambda: set(iface.get_job_statuses(ids).values()) == {JobStatus.COMPLETED})
    for n in (1, 2, 3):
        assert iface.get_job_output(JobId(n)) == n + 0.25
    assert (Path(workspace) / "1" / "output.txt").read_text().strip() == "1.25"
    assert sorted(remote.runs()) == [f"{workspace}/{n}" for n in (1, 2, 3)]


def test_a_poll_is_one_remote_command_whatever_the_number_of_jobs(make_interface, remote):
    iface = make_interface(command=remote.sim("gate.sh"), max_jobs=4)
    jobs = [Job(JobId(n), Input(float(n), 0.0)) for n in range(1, 41)]
    before = iface.runner.commands_run
    assert set(iface.submit_jobs(jobs).values()) == {None}
    setup = iface.runner.commands_run - before
    # First contact: CPU count not needed (max_jobs given), scan, wrapper install, submit.
    assert setup <= 4
    ids = [j.id for j in jobs]
    for _ in range(5):
        before = iface.runner.commands_run
        statuses = iface.get_job_statuses(ids)
        assert iface.runner.commands_run - before == 1
        assert len(statuses) == 40
    assert sum(s is JobStatus.RUNNING for s in statuses.values()) == 4
    assert sum(s is JobStatus.SUBMITTED for s in statuses.values()) == 36
    remote.open_gate()
    # The same single command per poll starts queued jobs as slots free.
    while True:
        before = iface.runner.commands_run
        statuses = iface.get_job_statuses(ids)
        assert iface.runner.commands_run - before <= 1
        if all(s is JobStatus.COMPLETED for s in statuses.values()):
            break
    assert len(remote.runs()) == 40


def test_poll_cycles_of_a_job_manager_are_one_remote_command_each(make_interface, remote,
                                                                     log_path):
    iface = make_interface(command=remote.sim("gate.sh"), max_jobs=3)
    calls: list[int] = []
    poll = iface.get_job_statuses

    def counted(ids):
        before = iface.runner.commands_run
        try:
            return poll(ids)
        finally:
            calls.append(iface.runner.commands_run - before)

    iface.get_job_statuses = counted
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.02)
    try:
        for i in range(6):
            manager.submit(Input(float(i), 0.0))
        wait_for(lambda: len(calls) >= 20)
        remote.open_gate()
        assert manager.wait_until_done(timeout=60)
    finally:
        manager.shutdown()
        log.close()
    assert calls and set(calls) == {1}


# ---- a private sshd (stopped and started by the tests, never the shared one) ------------


class PrivateSSHD:
    def __init__(self, state_dir: Path, port: int):
        self.dir = state_dir
        self.port = port
        self.env = {**os.environ, "SIMJOBS_SSHD_DIR": str(state_dir),
                    "SIMJOBS_SSH_PORT": str(port), "SIMJOBS_SSHD_LOGLEVEL": "VERBOSE"}
        self.info: dict = {}

    def start(self) -> dict:
        out = subprocess.run(["bash", str(SERVICES / "start-sshd.sh")], env=self.env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        values = dict(line[len("export "):].split("=", 1) for line in out.stdout.splitlines()
                      if line.startswith("export "))
        self.info = {"host": values["SIMJOBS_SSH_HOST"], "port": values["SIMJOBS_SSH_PORT"],
                     "user": values["SIMJOBS_SSH_USER"], "key": values["SIMJOBS_SSH_KEY"],
                     "known_hosts": values["SIMJOBS_SSH_KNOWN_HOSTS"], "dir": str(self.dir)}
        return self.info

    def stop(self, drop_connections: bool = True) -> None:
        """Stop the listener and, like a host going down, end its open connections."""
        children = []
        pid_file = self.dir / "sshd.pid"
        if drop_connections and pid_file.exists():
            listener = int(pid_file.read_text())
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/stat", "rb") as f:
                            stat = f.read()
                    except OSError:
                        continue
                    if int(stat[stat.rfind(b")") + 2:].split()[1]) == listener:
                        children.append(int(entry))
        out = subprocess.run(["bash", str(SERVICES / "stop-sshd.sh")], env=self.env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        for pid in children:  # the per-connection sshd processes of our own sshd
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass

    def log_text(self) -> str:
        path = self.dir / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def private_sshd(ssh_server, tmp_path_factory):
    # A state dir without spaces (sshd_config paths), and a port of our own.
    state = Path(f"/tmp/simjobs-private-sshd-{uuid.uuid4().hex[:8]}")
    server = PrivateSSHD(state, 2223)
    server.start()
    yield server
    server.stop()
    subprocess.run(["bash", str(SERVICES / "stop-sshd.sh")],
                   env={**server.env, "SIMJOBS_SSHD_PURGE": "1"}, capture_output=True,
                   timeout=60)


def test_sshd_down_mid_run_is_unreachable_health_and_jobs_finish_when_it_is_back(
        private_sshd, remote, make_interface, log_path, monkeypatch):
    from simjobs.core.strategies import PendingSubmitJobStrategy

    monkeypatch.setattr(PendingSubmitJobStrategy, "initial_delay", 0.05)
    monkeypatch.setattr(PendingSubmitJobStrategy, "max_delay", 0.2)
    server = private_sshd.info
    iface = make_interface(command=remote.sim("gate.sh"), server=server, max_jobs=1)
    iface.runner.max_backoff = 0.5  # come back quickly once the host is up again
    unreachable_submits = []
    submit_jobs = iface.submit_jobs

    def counted(jobs):
        outcomes = submit_jobs(jobs)
        unreachable_submits.extend(
            j for j, e in outcomes.items() if isinstance(e, HostUnreachableError))
        return outcomes

    iface.submit_jobs = counted
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    events = []
    manager.subscribe(events.append)
    try:
        running = manager.submit(Input(1.0, 1.0))
        queued = manager.submit(Input(2.0, 2.0))
        wait_for(lambda: log.get_job_status(running.id) is JobStatus.RUNNING
                 and log.get_job_status(queued.id) is JobStatus.SUBMITTED)

        private_sshd.stop()
        wait_for(lambda: manager.interface_health()["remote"].state == "unreachable")
        assert "127.0.0.1:2223" in manager.interface_health()["remote"].message
        waiting = manager.submit(Input(3.0, 3.0))
        # While the host is down: nothing fails, and the new job's submit is tried more
        # often than its attempts allow, without using them up.
        wait_for(lambda: unreachable_submits.count(waiting.id)
                 > PendingSubmitJobStrategy.max_attempts)
        assert log.get_job_status(running.id) is JobStatus.RUNNING
        assert log.get_job_status(queued.id) is JobStatus.SUBMITTED
        assert log.get_job_status(waiting.id) is JobStatus.PENDING_SUBMIT
        assert iface.health.state == "unreachable"

        private_sshd.start()
        remote.open_gate()
        assert manager.wait_until_done(timeout=60)
        wait_for(lambda: manager.interface_health()["remote"].ok)
    finally:
        manager.shutdown()
        log.close()
    recs = records(log_path)
    jobs = (running, queued, waiting)
    assert [recs[str(j.id)].status for j in jobs] == [JobStatus.COMPLETED] * 3
    assert [recs[str(j.id)].output for j in jobs] == [2.0, 4.0, 6.0]
    assert sorted(remote.runs()) == sorted(f"{remote.workspace()}/{j.id}" for j in jobs)
    assert any(getattr(e, "state", None) == "unreachable" for e in events)
    assert iface.runner.connects >= 2  # it reconnected


def test_a_wrong_host_key_is_a_clear_error_and_nothing_reaches_the_host(
        private_sshd, remote, make_interface, tmp_path):
    import asyncssh

    other_key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{private_sshd.port} {other_key}")
    server = {**private_sshd.info, "known_hosts": str(wrong)}
    marker = remote.local_base / "must-not-exist"
    iface = make_interface(command=f"touch {marker}", server=server,
                           workspace=remote.workspace("never"))
    log_before = len(private_sshd.log_text())

    outcome = iface.submit_jobs([Job(JobId(1), Input(1.0, 2.0))])[JobId(1)]
    assert isinstance(outcome, HostKeyError)
    message = str(outcome)
    assert "\n" not in message
    assert "127.0.0.1:2223" in message
    assert f"ssh-keyscan -p 2223 127.0.0.1 >> {wrong}" in message
    with pytest.raises(HostKeyError):
        iface.get_job_statuses([JobId(1)])
    assert iface.health.state == "unreachable"

    new_log = private_sshd.log_text()[log_before:]
    assert "Connection from 127.0.0.1" in new_log  # it did try this very server
    assert "Accepted publickey" not in new_log and "Starting session" not in new_log
    assert not marker.exists()
    assert not Path(remote.workspace("never")).exists()

    # The same interface settings with the right known_hosts do work.
    good = make_interface(server=private_sshd.info, workspace=remote.workspace("ok"))
    good.submit_job(Job(JobId(1), Input(1.0, 2.0)))
    wait_for(lambda: good.get_job_status(JobId(1)) is JobStatus.COMPLETED)


def test_the_sshd_log_sees_one_session_per_poll(private_sshd, remote, make_interface):
    iface = make_interface(command=remote.sim("gate.sh"), server=private_sshd.info,
                           max_jobs=5)
    jobs = [Job(JobId(n), Input(float(n), 0.0)) for n in range(1, 31)]
    assert set(iface.submit_jobs(jobs).values()) == {None}
    wait_for(lambda: sum(s is JobStatus.RUNNING
                         for s in iface.get_job_statuses([j.id for j in jobs]).values()) == 5)
    mark = len(private_sshd.log_text())
    for _ in range(10):
        iface.get_job_statuses([j.id for j in jobs])
    # sshd logs each command it starts; all on the one connection already open.
    wait_for(lambda: private_sshd.log_text()[mark:].count("Starting session") >= 10)
    new_log = private_sshd.log_text()[mark:]
    assert new_log.count("Starting session: command") == 10
    assert "Connection from" not in new_log
    remote.open_gate()


def test_unreachable_host_raises_host_unreachable_error(remote):
    iface = SSHInterface("down", 1, "127.0.0.1", remote.sim("sum.sh"), "work", port=1,
                         known_hosts=remote.settings.known_hosts, connect_timeout=2)
    try:
        with pytest.raises(HostUnreachableError, match="127.0.0.1:1.*refused"):
            iface.get_job_statuses([JobId(1)])
        assert iface.health.state == "unreachable"
    finally:
        iface.close()
    assert iface.describe()["kind"] == "ssh"


def test_a_config_file_makes_a_working_ssh_interface(ssh_server, remote, tmp_path):
    workspace = remote.workspace("from config")
    (tmp_path / "simjobs.toml").write_text(f"""\
[log]
path = "runs.csv"
input_dim = 2

[manager]
polling_interval = 0.05

[[interfaces]]
kind = "ssh"
name = "server"
level = 1
host = "{ssh_server['host']}"
port = {int(ssh_server['port'])}
user = "{ssh_server['user']}"
identity_file = "{ssh_server['key']}"
known_hosts = "{ssh_server['known_hosts']}"
workspace = {workspace!r}
command = "sh {remote.sim('sum.sh')}"
max_jobs = 2
connect_timeout = 5
""".replace("'", '"'))
    config = load_config(tmp_path / "simjobs.toml")
    assert list(tmp_path.iterdir()) == [tmp_path / "simjobs.toml"]
    [iface] = config.build_interfaces()
    assert isinstance(iface, SSHInterface)
    assert iface.describe()["host"] == f"{ssh_server['user']}@{ssh_server['host']}:{ssh_server['port']}"
    assert iface.max_jobs == 2
    log = config.open_log()
    manager = JobManager(log, [iface], polling_interval=config.polling_interval)
    try:
        job = manager.submit(Input(2.5, 4.0))
        assert manager.wait_until_done(timeout=60)
    finally:
        manager.shutdown()
        log.close()
    assert records(tmp_path / "runs.csv")[str(job.id)].output == 6.5
    assert (Path(workspace) / str(job.id) / "output.txt").exists()


def test_a_workspace_the_remote_user_cannot_write_fails_the_submit_with_a_clear_reason(
        make_interface, remote):
    iface = make_interface(workspace="/root/simjobs-not-allowed")
    outcome = iface.submit_jobs([Job(JobId(1), Input(1.0, 2.0))])[JobId(1)]
    message = str(outcome)
    assert "\n" not in message
    assert "cannot create or enter the workspace '/root/simjobs-not-allowed'" in message
    assert "Permission denied" in message and "choose a directory" in message
    assert iface.health.state == "degraded"
    assert not Path("/root/simjobs-not-allowed").exists()



@pytest.mark.parametrize("form", ["relative", "tilde"])
def test_a_relative_workspace_is_in_the_remote_home(make_interface, remote, form):
    name = f"simjobs-test-ws-{uuid.uuid4().hex[:8]}"
    home = remote.run("printf %s \"$HOME\"")
    iface = make_interface(workspace=name if form == "relative" else f"~/{name}")
    try:
        iface.submit_job(Job(JobId(3), Input(1.0, 1.0)))
        wait_for(lambda: iface.get_job_status(JobId(3)) is JobStatus.COMPLETED)
        assert iface.get_job_output(JobId(3)) == 2.0
        assert (Path(home) / name / "3" / "output.txt").read_text().strip() == "2"
        assert remote.runs() == [f"{home}/{name}/3"]
        assert iface.job_details(JobId(3))["job_dir"] == f"{name}/3"
    finally:
        remote.run(f"rm -rf ~/{name}")


# ---- mass cancels and cancels that outlive their simjobs (issue 8, items 3 and 4) -------


def test_cancel_many_of_queued_jobs_never_starts_one(make_interface, remote, log_path):
    iface = make_interface(command=remote.sim("gate.sh"), max_jobs=2)
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    try:
        jobs = manager.submit_many([Input(float(i), 1.0) for i in range(200)])
        ids = [j.id for j in jobs]
        assert manager.wait_until_submitted(ids, timeout=120)
        wait_for(lambda: len(remote.runs()) == 2, message="two jobs running")
        manager.cancel_many(ids)
        assert manager.wait_until_done(timeout=120)
        assert all(log.get_job_status(j) is JobStatus.CANCELLED for j in ids)
    finally:
        manager.shutdown()
        log.close()
    assert len(remote.runs()) == 2, f"the simulator ran {len(remote.runs())} times"
    assert remote.processes() == []


def _remote_scripts_in(directory: Path) -> list[int]:
    """The job-directory scripts (``/bin/sh -s``) running in ``directory``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cmdline[:2] == [b"/bin/sh", b"-s"] and cwd == str(directory):
            found.append(int(entry))
    return found


@pytest.mark.parametrize("remote_script", ["lives", "killed"])
def test_a_cancel_whose_manager_dies_in_the_grace_period_is_finished_after_a_restart(
        ssh_server, remote, log_path, remote_script):
    """The remote cancel command outlives its SSH connection and sends the SIGKILL
    itself; if it is killed too, the restarted manager's cancel finds the group by its
    members working in the job directory (its wrapper died of the SIGTERM)."""
    from simjobs.interfaces.remote_jobdir import CANCEL_GRACE

    poll = 0.5
    remote.runner.put_file(helpers.TERM_TRAPPING_SH.encode(), remote.sim("trapping.sh"))
    remote.run(f"chmod +x {shlex.quote(remote.sim('trapping.sh'))}")
    local_ws = remote.local_base / "work"  # the remote host is this machine
    server = ssh_server
    spec = {"kind": "ssh", "args": ["ssh", 1, server["host"], remote.sim("trapping.sh"),
                                    remote.workspace()],
            "kwargs": {"port": int(server["port"]), "user": server["user"],
                       "identity_files": [server["key"]],
                       "known_hosts": server["known_hosts"], "max_jobs": 1}}
    first = helpers.managing_process(log_path, local_ws, poll, "submit-and-cancel", spec)
    pids = None
    try:
        job_dir = wait_for(
            lambda: next((local_ws / n for n in os.listdir(local_ws) if n.isdigit()), None)
            if local_ws.is_dir() else None, 60, "the job directory")
        wait_for(lambda: all((job_dir / n).exists() for n in ("pid", "sim_pid", "child_pid")),
                 60, "the job started")
        pids = [int((job_dir / n).read_text()) for n in ("pid", "sim_pid", "child_pid")]
        # The simulator got its SIGTERM (and ignored it): kill the manager at once,
        # well inside the grace period, before the SIGKILL is due.
        wait_for(lambda: (job_dir / "got_term").exists(), 60, "the SIGTERM")
        first.kill()
        first.wait(timeout=60)
        if remote_script == "killed":
            scripts = _remote_scripts_in(local_ws)
            assert scripts, "the remote cancel command should be waiting out the grace"
            for pid in scripts:
                os.kill(pid, 9)
            wait_for(lambda: all(pid_gone(p) for p in scripts), 10, "the script killed")
        assert group_members(pids[0]), "the group died before the restart"
        (record,) = records(log_path).values()
        assert record.status is JobStatus.PENDING_CANCEL  # not Cancelled while it runs

        helpers.resume_until_killed(log_path, local_ws, poll, spec, pids,
                                    CANCEL_GRACE + poll + 5.0)
        (record,) = records(log_path).values()
        assert record.status is JobStatus.CANCELLED
    finally:
        helpers.kill_leftovers(first, pids)


def test_a_failed_job_whose_wrapper_records_its_exit_code_later_is_corrected(
        make_interface, remote, log_path):
    """The poll sees the wrapper gone without an exit code (injected: its pid file names
    another process), so the job is FAILED; when the wrapper then records exit code 0
    and the output, the log is corrected to COMPLETED with the output, and the history
    shows FAILED then COMPLETED."""
    iface = make_interface(command=remote.sim("gate.sh"))
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.1)
    try:
        job = manager.submit(Input(1.0, 2.0))
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.RUNNING, 60)
        pid_file = Path(remote.workspace()) / str(job.id) / "pid"
        wait_for(pid_file.exists)
        real_pid = pid_file.read_text()
        pid_file.write_text("1\n")  # not the wrapper: the poll concludes it is gone
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.FAILED, 60)
        assert "without recording an exit code" in log.get_record(job.id).reason
        pid_file.write_text(real_pid)
        remote.open_gate()
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.COMPLETED, 60,
                 "the late exit code recorded as a correction")
    finally:
        manager.shutdown()
    assert_corrected_late(log.get_record(job.id), 3.0)
    log.close()


@pytest.fixture
def full_disk():
    disk = helpers.FullDisk(Path(f"/tmp/simjobs-full-{uuid.uuid4().hex[:8]}"))
    yield disk
    disk.unmount()


def test_a_full_disk_at_first_use_names_the_cause_and_never_breaks_the_workspace(
        make_interface, remote, full_disk):
    """The workspace's disk is full when simjobs first installs its wrapper: the submit
    fails naming "no space left" and df, leaving no staging folder and no short wrapper;
    a 0-byte wrapper left there (as older versions did) is found wrong and redone by the
    next process once space is free, and jobs run."""
    workspace = f"{full_disk.path}/ws"
    full_disk.fill()
    first = make_interface(workspace=workspace)
    outcome = first.submit_jobs([Job(JobId(1), Input(1.0, 2.0))])[JobId(1)]
    assert outcome is not None
    assert f"no space left on the remote workspace {workspace}" in str(outcome)
    assert "df: 0 B free" in str(outcome)
    meta = Path(workspace) / ".simjobs"
    assert not list(meta.glob("new.*")) if meta.exists() else True
    wrapper = Path(workspace) / first.jobs.wrapper_name
    assert not wrapper.exists()
    assert not (Path(workspace) / "1").exists()

    # What an older simjobs left: a 0-byte wrapper, owned by the remote user.
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.touch()
    owner = Path(workspace).stat()
    os.chown(wrapper.parent, owner.st_uid, owner.st_gid)
    os.chown(wrapper, owner.st_uid, owner.st_gid)
    full_disk.free()
    second = make_interface(workspace=workspace)  # a new process's interface
    assert second.submit_jobs([Job(JobId(2), Input(1.0, 2.0))])[JobId(2)] is None
    wait_for(lambda: second.get_job_status(JobId(2)) is JobStatus.COMPLETED, 60)
    assert second.get_job_output(JobId(2)) == 3.0
    assert wrapper.read_text() == jobdir.render_wrapper().rstrip("\n") + "\n"

    # Full again once the wrapper is in place: the job directories' inputs cannot be
    # written; the submit fails naming it and leaves no staging folder behind.
    full_disk.fill()
    outcome = second.submit_jobs([Job(JobId(3), Input(1.0, 2.0))])[JobId(3)]
    assert "no space left on the remote workspace" in str(outcome)
    assert not list(meta.glob("new.*"))
    assert not (Path(workspace) / "3").exists()


def _connection_processes(listener: int) -> list[int]:
    """The per-connection sshd processes of a listener (its children and theirs)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rfind(b")") + 2:].split()[1])
    found, frontier = [], [listener]
    while frontier:
        pid = frontier.pop()
        children = [p for p, parent in parents.items() if parent == pid]
        found += children
        frontier += children
    return found


def test_health_events_come_on_a_change_of_state_or_cause_only(
        private_sshd, remote, make_interface, log_path):
    """While the host is down every poll fails, with the runner's backoff counting down
    between attempts: one health event for the fall (no "unreachable -> unreachable"
    per poll), one for the return; no countdown in the message."""
    iface = make_interface(command=remote.sim("gate.sh"), server=private_sshd.info)
    iface.runner.max_backoff = 0.5
    polls = []
    statuses = iface.get_job_statuses

    def counted(ids):
        polls.append(1)
        return statuses(ids)

    iface.get_job_statuses = counted
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    events = []
    manager.subscribe(lambda e: events.append(e) if hasattr(e, "state") else None)
    try:
        job = manager.submit(Input(1.0, 1.0))
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.RUNNING)
        private_sshd.stop()
        wait_for(lambda: manager.interface_health()["remote"].state == "unreachable")
        mark = len(polls)
        wait_for(lambda: len(polls) >= mark + 20, 60, "20 more polls while down")
        down = list(events)
        private_sshd.start()
        remote.open_gate()
        assert manager.wait_until_done(timeout=60)
        wait_for(lambda: events and events[-1].state == "ok", 30, "the ok event")
    finally:
        manager.shutdown()
        log.close()
    assert [e.state for e in down][0] == "unreachable"
    assert not [e for e in down if "next try" in e.message]
    # Each event changes the state or the cause: never the same pair twice in a row,
    # and a handful while 20 polls failed (the fall: lost connection, then refused).
    pairs = [(e.state, e.message) for e in events]
    assert all(a != b for a, b in zip(pairs, pairs[1:])), pairs
    assert len(down) <= 3, pairs
    assert events[-1].state == "ok"


def test_a_frozen_host_is_degraded_once_a_poll_outlasts_its_timeout(
        private_sshd, remote, make_interface, log_path):
    """sshd's session processes stopped (SIGSTOP): the poll hangs; the interface is
    degraded once the poll has taken longer than its timeout, saying since when, and
    ok again after SIGCONT."""
    import signal

    iface = make_interface(command=remote.sim("gate.sh"), server=private_sshd.info)
    iface.call_timeout = 2.0
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.1)
    stopped: list[int] = []
    try:
        job = manager.submit(Input(1.0, 1.0))
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.RUNNING)
        listener = int((private_sshd.dir / "sshd.pid").read_text())
        stopped = _connection_processes(listener)
        assert stopped
        frozen_at = time.time()
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        health = wait_for(lambda: (h := manager.interface_health()["remote"]).state
                          == "degraded" and h, 30, "degraded while the host is frozen")
        assert time.time() - frozen_at < 15  # not the ~60 s of the manager's default
        assert "get_job_statuses has not returned since" in health.message
        assert "2 s timeout" in health.message
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        stopped = []
        wait_for(lambda: manager.interface_health()["remote"].ok, 60, "ok after SIGCONT")
        remote.open_gate()
        assert manager.wait_until_done(timeout=60)
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        manager.shutdown()
        log.close()


def test_a_job_whose_directory_is_removed_has_its_processes_stopped(
        make_interface, remote, log_path):
    """Someone removes a running job's directory: the job ends FAILED (the hardware has
    no record of it), and its wrapper and simulator (the whole process group, known
    from the poll before) are killed rather than left running uncancellable."""
    iface = make_interface(command=remote.sim("gate.sh"))
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    try:
        job = manager.submit(Input(1.0, 1.0))
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.RUNNING)
        job_dir = Path(remote.workspace()) / str(job.id)
        wait_for(lambda: (job_dir / "child_pid").exists() and (job_dir / "pid").exists())
        pgid = int((job_dir / "pid").read_text())
        wait_for(lambda: iface.get_job_statuses([job.id]))  # a poll has seen its pid
        assert group_members(pgid)
        subprocess.run(["rm", "-rf", str(job_dir)], check=True)
        wait_for(lambda: not group_members(pgid), 30, "the orphaned process group killed")
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.FAILED, 60)
        assert "no record of this job" in log.get_record(job.id).reason
    finally:
        manager.shutdown()
        log.close()


def _fingerprint(pub_key: Path) -> str:
    return subprocess.run(["ssh-keygen", "-lf", str(pub_key)], capture_output=True,
                          text=True, check=True).stdout.split()[1]


def test_the_host_key_message_says_unknown_or_changed_with_the_fingerprint(
        private_sshd, tmp_path):
    """Unknown and changed keys are told apart, the offered key's fingerprint is printed
    to compare, and ssh-keygen -R gets the form that removes the key (a bare host name
    on port 22, [host]:port otherwise)."""
    import asyncssh

    real = _fingerprint(private_sshd.dir / "host_ed25519_key.pub")
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    port = private_sshd.port
    unknown = tmp_path / "unknown"
    unknown.write_text(f"[10.9.9.9]:{port} {other}")
    changed = tmp_path / "changed"
    changed.write_text(f"[127.0.0.1]:{port} {other}")
    base = settings_of(private_sshd.info)
    for known, word in ((unknown, "is unknown"), (changed, "has CHANGED")):
        runner = SSHRunner(dataclasses.replace(base, known_hosts=str(known)))
        try:
            with pytest.raises(HostKeyError) as caught:
                runner.run("true")
        finally:
            runner.close()
        message = str(caught.value)
        assert word in message and real in message, message
        assert f"ssh-keyscan -p {port} 127.0.0.1 >> {known}" in message
        assert "compare the fingerprint" in message.lower()
    assert f"ssh-keygen -R '[127.0.0.1]:{port}' -f {changed}" in message

    # Port 22: the bare host name (no server there: the fingerprint cannot be read).
    on_22 = tmp_path / "on22"
    on_22.write_text(f"127.0.0.1 {other}")
    runner = SSHRunner(dataclasses.replace(base, port=22, known_hosts=str(on_22),
                                           connect_timeout=2.0), use_ssh_config=False)
    try:
        message = runner.host_key_problem()
    finally:
        runner.close()
    assert "has CHANGED" in message
    assert f"ssh-keygen -R 127.0.0.1 -f {on_22}" in message and "[127.0.0.1]:22" not in message


@pytest.mark.parametrize("case", ["down", "unknown key"])
def test_submit_to_an_unreachable_host_prints_the_reason_and_fails(
        ssh_server, remote, tmp_path, cli, case):
    """`simjobs submit` with no manager running, to a host that is down (nothing listens
    on port 2224) or whose key is unknown: the interface's reason is printed, the exit
    status is non-zero, and the jobs stay recorded, pending submit."""
    known = ssh_server["known_hosts"]
    port = int(ssh_server["port"])
    if case == "down":
        port = 2224
    else:
        known = str(tmp_path / "empty_known_hosts")
        Path(known).write_text("")
    (tmp_path / "simjobs.toml").write_text(f"""\
[log]
path = "runs.csv"
input_dim = 2

[[interfaces]]
kind = "ssh"
name = "server"
level = 1
host = "{ssh_server['host']}"
port = {port}
user = "{ssh_server['user']}"
identity_file = "{ssh_server['key']}"
known_hosts = "{known}"
workspace = "{remote.workspace()}"
command = "sh {remote.sim('sum.sh')}"
connect_timeout = 3
""")
    out = cli("submit", "--config", "simjobs.toml", "--timeout", "5", "1", "2")
    assert out.returncode == 1, out.stderr
    expected = "connection refused" if case == "down" else "is unknown"
    assert expected in out.stderr and "not on the hardware after 5 s" in out.stderr
    assert "pending submit" in out.stderr
    assert "submitted by this process" not in out.stderr and "the jobs run" not in out.stderr
    job_id = out.stdout.split()[0]
    status = cli("status", "--config", "simjobs.toml", "--json")
    (record,) = [r for r in json.loads(status.stdout) if r["job_id"] == job_id]
    assert record["status"] == "Pending submit"


def test_a_job_killed_by_a_full_disk_says_no_space(make_interface, remote, full_disk):
    """The workspace's disk fills while a job runs: it cannot record its exit code, and
    its reason says that the remote workspace has no space left (with df), not only
    that the process ended without an exit code."""
    workspace = f"{full_disk.path}/ws"
    iface = make_interface(command=remote.sim("gate.sh"), workspace=workspace)
    iface.submit_job(Job(JobId(1), Input(1.0, 2.0)))
    wait_for(lambda: iface.get_job_status(JobId(1)) is JobStatus.RUNNING
             and (Path(workspace) / "1" / "pid").exists(), 30)
    full_disk.fill()
    remote.open_gate()
    wait_for(lambda: iface.get_job_statuses([JobId(1)]).get(JobId(1)) is JobStatus.FAILED, 30)
    reason = iface.failure_reason(JobId(1))
    assert "without recording an exit code" in reason
    assert f"no space left on the remote workspace {workspace}" in reason
    assert "(df: 0 B free)" in reason


def test_a_wrapper_damaged_while_simjobs_runs_is_redone_after_a_failed_start(
        make_interface, remote, monkeypatch):
    """The installed wrapper is emptied behind simjobs' back: the next job cannot start
    and fails (after the start timeout); the interface then checks its install again,
    redoes it, and the following job runs."""
    from simjobs.interfaces import ssh as ssh_module

    monkeypatch.setattr(ssh_module, "START_TIMEOUT", 2.0)
    iface = make_interface()
    iface.submit_job(Job(JobId(1), Input(1.0, 1.0)))
    wait_for(lambda: iface.get_job_statuses([JobId(1)])[JobId(1)] is JobStatus.COMPLETED, 30)
    wrapper = Path(remote.workspace()) / iface.jobs.wrapper_name
    wrapper.write_bytes(b"")
    iface.submit_job(Job(JobId(2), Input(1.0, 2.0)))
    wait_for(lambda: iface.get_job_statuses([JobId(2)])[JobId(2)] is JobStatus.FAILED, 30)
    assert "did not start" in iface.failure_reason(JobId(2))
    iface.submit_job(Job(JobId(3), Input(1.0, 3.0)))
    wait_for(lambda: iface.get_job_statuses([JobId(3)])[JobId(3)] is JobStatus.COMPLETED, 30)
    assert iface.get_job_output(JobId(3)) == 4.0
    assert wrapper.read_text() == jobdir.render_wrapper().rstrip("\n") + "\n"


#: The wrapper as simjobs installed it before its values became shell variables (its file
#: names filled into @NAME@ placeholders), byte for byte: its hash names its file.
OLD_WRAPPER = Path(__file__).parent / "data" / "wrappers" / "wrapper-placeholders.sh"


def _wrapper_of(pid: int) -> str:
    """The wrapper file a running wrapper process was started with (sh WRAPPER DIR ...)."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return argv[1].decode()


def test_jobs_run_by_an_older_wrapper_are_followed_and_the_new_one_goes_beside_it(
        make_interface, remote, monkeypatch):
    """An older simjobs installed its wrapper and started jobs that still run: this
    version reads, cancels and finishes them, and installs its own wrapper under a new
    name beside the old one, which is left as it is (running jobs' shells and queued
    Slurm jobs still read it)."""
    old_text = OLD_WRAPPER.read_text()
    with monkeypatch.context() as patched:
        patched.setattr(jobdir, "render_wrapper", lambda: old_text)
        old = make_interface(command=remote.sim("gate.sh"), max_jobs=3)
    ids = [JobId(1), JobId(2)]
    assert old.submit_jobs([Job(JobId(1), Input(1.0, 2.0)), Job(JobId(2), Input(2.0, 2.0))]) \
        == {JobId(1): None, JobId(2): None}
    wait_for(lambda: set(old.get_job_statuses(ids).values()) == {JobStatus.RUNNING})
    workspace = Path(remote.workspace())
    old_wrapper = workspace / old.jobs.wrapper_name
    assert old_wrapper.read_text() == old_text
    old.close()

    new = make_interface(command=remote.sim("gate.sh"), max_jobs=3)
    assert new.jobs.wrapper_name != old.jobs.wrapper_name
    assert new.get_job_statuses(ids) == {JobId(1): JobStatus.RUNNING, JobId(2): JobStatus.RUNNING}
    new.cancel_job(JobId(2))
    assert new.get_job_status(JobId(2)) is JobStatus.CANCELLED
    assert new.submit_jobs([Job(JobId(3), Input(3.0, 2.0))]) == {JobId(3): None}
    wait_for(lambda: new.get_job_status(JobId(3)) is JobStatus.RUNNING)
    # Each job runs under the wrapper that started it.
    assert _wrapper_of(new.job_details(JobId(1))["pid"]) == str(old_wrapper)
    assert _wrapper_of(new.job_details(JobId(3))["pid"]) == str(workspace / new.jobs.wrapper_name)

    remote.open_gate()
    for job_id in (JobId(1), JobId(3)):
        wait_for(lambda: new.get_job_status(job_id) is JobStatus.COMPLETED, 60)
    assert (new.get_job_output(JobId(1)), new.get_job_output(JobId(3))) == (3.0, 5.0)
    assert new.get_job_status(JobId(2)) is JobStatus.CANCELLED
    assert old_wrapper.read_text() == old_text
    assert (workspace / new.jobs.wrapper_name).read_text() == \
        jobdir.render_wrapper().rstrip("\n") + "\n"
