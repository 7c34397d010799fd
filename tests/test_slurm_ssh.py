"""SlurmInterface driving the real one-node Slurm through the loopback sshd.

sbatch/squeue/scancel run as the sshd's test user (simjobs-test) over one SSH
connection; the workspace and the test simulator (POSIX sh: the remote python3 has no
numpy, and simjobs-test cannot read /root) live in a remote directory under /tmp. The
remote host is this machine, so the tests read the job directories and scancel directly.
"""

from __future__ import annotations

import re
import pwd
import shlex
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

import helpers
from simjobs.config import load_config
from simjobs.core import Input, JobManager, JobStatus
from simjobs.core.log import SimulationsLog
from simjobs.core.types import Job, JobId
from simjobs.interfaces.runner import SSHSettings
from simjobs.interfaces.slurm import SLURM_ID_FILE, SlurmInterface

REMOTE_ROOT = "/tmp/simjobs-slurm-ssh-tests"

# The sum of the input's coordinates; one line per run in ../runs (a run counter).
SUM_SH = """#!/bin/sh
base=$(dirname "$0")
echo "$PWD" >> "$base/runs"
awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i; printf "%.17g\\n", s}' "$1" > "$2"
"""
FAIL_SH = """#!/bin/sh
echo "reading the mesh" >&2
echo "the model diverged at step 7" >&2
exit 4
"""
GATE_SH = """#!/bin/sh
base=$(dirname "$0")
echo "$PWD" >> "$base/runs"
echo $$ > sim_pid
while [ ! -e "$base/gate" ]; do sleep 0.05; done
awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i; printf "%.17g\\n", s}' "$1" > "$2"
"""


def wait_for(predicate, timeout: float = 30.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.1, message=message)


def settings_of(server: dict) -> SSHSettings:
    return SSHSettings(server["host"], int(server["port"]), server["user"],
                       (server["key"],), server["known_hosts"], 10.0)


class CountingSSHRunner:
    """An SSHRunner that records the commands it runs."""

    def __init__(self, settings: SSHSettings):
        from simjobs.interfaces.ssh_transport import SSHRunner

        self._runner = SSHRunner(settings)
        self.host = self._runner.host
        self.commands: list[str] = []

    def run(self, command, input=None, timeout=None):
        self.commands.append(command)
        return self._runner.run(command, input, timeout)

    def run_many(self, commands, timeout=None):
        self.commands.extend(c for c, _ in commands)
        return self._runner.run_many(commands, timeout)

    def close(self):
        self._runner.close()

    def count(self, program: str) -> int:
        def start(line: str) -> str:  # without leading VAR=value assignments
            return re.sub(r"^(\s*[A-Z_]+=\S*\s+)+", "", line).lstrip()

        return sum(1 for c in self.commands
                   if any(start(line).startswith(program + " ") or f"$({program} " in line
                          for line in c.splitlines()))


def make_remote_dir(runner, root: str) -> str:
    """A new directory under ``root`` on the SSH host (a space and a quote in its name)
    holding the test simulators sum.sh, fail.sh and gate.sh."""
    base = f"{root}/{uuid.uuid4().hex[:8]} it's"
    q = shlex.quote
    result = runner.run(f"mkdir -p {q(base)} && chmod 755 {q(root)} 2>/dev/null; true")
    assert result.ok, result.error_text()
    for name, text in {"sum.sh": SUM_SH, "fail.sh": FAIL_SH, "gate.sh": GATE_SH}.items():
        result = runner.run(f"cat > {q(base + '/' + name)} && chmod +x {q(base + '/' + name)}",
                            input=text.encode())
        assert result.ok, result.error_text()
    return base


@pytest.fixture
def remote(ssh_server, slurm_cluster):
    """A remote directory (with a space and a quote in its name) holding the simulators."""
    from simjobs.interfaces.ssh_transport import SSHRunner

    runner = SSHRunner(settings_of(ssh_server))
    base = make_remote_dir(runner, REMOTE_ROOT)
    q = shlex.quote
    yield base
    local = Path(base)  # the remote host is this machine
    (local / "gate").touch()
    ids = [p.read_text().strip() for p in local.glob(f"*/*/{SLURM_ID_FILE}")]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60)
    runner.run(f"rm -rf {q(base)}")
    runner.close()


def runs(base: str) -> list[str]:
    path = Path(base) / "runs"
    return path.read_text().splitlines() if path.exists() else []


def test_jobs_run_through_ssh_one_array_per_batch_and_one_squeue_per_poll(
        ssh_server, remote, tmp_path):
    runner = CountingSSHRunner(settings_of(ssh_server))
    iface = SlurmInterface("cluster", 1, ["/bin/sh", f"{remote}/sum.sh"], f"{remote}/work",
                           partition="debug", ssh=settings_of(ssh_server), runner=runner)
    polls = []
    real = iface.get_job_statuses

    def counted(ids):
        before = runner.count("squeue")
        try:
            return real(ids)
        finally:
            polls.append(runner.count("squeue") - before)

    iface.get_job_statuses = counted
    log_path = tmp_path / "runs.csv"
    try:
        with SimulationsLog(log_path, 2) as log:
            manager = JobManager(log, [iface], polling_interval=0.2)
            try:
                single = manager.submit(Input(0.1, 0.2))
                assert manager.wait_until_submitted([single.id], timeout=30)
                batch = manager.submit_many([Input(float(i), 0.25) for i in range(4)])
                assert manager.wait_until_done(timeout=90)
            finally:
                manager.shutdown()
            records = log.get_records([single.id, *(j.id for j in batch)])
    finally:
        iface.close()
    assert [r["status"] for r in records] == [JobStatus.COMPLETED] * 5
    assert [r["output"] for r in records] == [0.1 + 0.2, 0.25, 1.25, 2.25, 3.25]
    assert runner.count("sbatch") == 2  # the single job, then the batch as one array
    ws = Path(remote) / "work"
    array_ids = {(ws / str(j.id) / SLURM_ID_FILE).read_text().strip().split("_")[0]
                 for j in batch}
    assert len(array_ids) == 1
    assert polls and set(polls) == {1}
    assert len(runs(remote)) == 5
    # The jobs belong to the SSH user.
    sid = (ws / str(single.id) / SLURM_ID_FILE).read_text().strip()
    shown = subprocess.run(["scontrol", "-o", "show", "job", sid], capture_output=True,
                           text=True).stdout
    assert f"UserId={ssh_server['user']}(" in shown


def test_a_failure_over_ssh_keeps_the_stderr_tail_and_details(ssh_server, remote):
    iface = SlurmInterface("cluster", 1, [f"{remote}/fail.sh"], f"{remote}/work",
                           partition="debug", ssh=settings_of(ssh_server))
    try:
        iface.submit_job(Job(1, Input(1.0, 2.0)))
        wait_for(lambda: iface.get_job_status(JobId(1)) is JobStatus.FAILED, 30)
        reason = iface.failure_reason(JobId(1))
        assert reason.startswith("Slurm state FAILED; exit code 4; stderr: ")
        assert reason.endswith("the model diverged at step 7")
        details = iface.job_details(JobId(1))
        assert details["host"] == f"{ssh_server['user']}@{ssh_server['host']}:" \
                                  f"{ssh_server['port']}"
        assert details["job_dir"] == f"{remote}/work/1"
        assert details["slurm_state"] == "FAILED"
        assert details["stderr_tail"].endswith("the model diverged at step 7")
        assert iface.describe()["host"] == details["host"]
    finally:
        iface.close()


def test_cancel_and_restart_over_ssh_from_a_config(ssh_server, remote, tmp_path):
    config = tmp_path / "simjobs.toml"
    config.write_text(f"""
[log]
path = "runs.csv"
input_dim = 2

[manager]
polling_interval = 0.2

[[interfaces]]
kind = "slurm"
name = "cluster"
level = 2
command = {_toml(f"/bin/sh {shlex.quote(remote + '/gate.sh')}")}
workspace = {_toml(remote + "/work")}
partition = "debug"
sbatch_args = ["--time=00:05:00"]

[interfaces.ssh]
host = {_toml(ssh_server["host"])}
port = {int(ssh_server["port"])}
user = {_toml(ssh_server["user"])}
identity_file = {_toml(ssh_server["key"])}
known_hosts = {_toml(ssh_server["known_hosts"])}
""")
    cfg = load_config(config)
    (iface,) = cfg.build_interfaces()
    assert isinstance(iface, SlurmInterface) and iface.describe()["partition"] == "debug"
    ws = Path(remote) / "work"
    with cfg.open_log() as log:
        manager = JobManager(log, [iface], polling_interval=0.2)
        try:
            kept, cancelled = manager.submit_many([Input(1.0, 2.0), Input(3.0, 4.0)], level=2)
            wait_for(lambda: len(runs(remote)) == 2, 30, "both jobs running")
            pid = int(wait_for(lambda: (ws / str(cancelled.id) / "sim_pid").exists()
                               and (ws / str(cancelled.id) / "sim_pid").read_text().strip()))
            manager.cancel(cancelled.id)
            wait_for(lambda: log.get_job_status(cancelled.id) is JobStatus.CANCELLED, 30)
            wait_for(lambda: not Path(f"/proc/{pid}").exists(), 30, "the cancelled sim gone")
        finally:
            manager.shutdown()  # simjobs stops mid-run; the kept job runs on
        iface.close()

    (again,) = load_config(config).build_interfaces()
    with cfg.open_log() as log:
        manager = JobManager(log, [again], polling_interval=0.2)
        try:
            (Path(remote) / "gate").touch()
            assert manager.wait_until_done(timeout=60)
        finally:
            manager.shutdown()
        assert log.get_job_status(kept.id) is JobStatus.COMPLETED
        assert log.get_records([kept.id])[0]["output"] == 3.0
    again.close()
    assert len(runs(remote)) == 2  # not resubmitted after the restart
    sid = (ws / str(kept.id) / SLURM_ID_FILE).read_text().strip()
    shown = subprocess.run(["scontrol", "-o", "show", "job", sid], capture_output=True,
                           text=True).stdout
    assert "TimeLimit=00:05:00" in shown  # the config's sbatch_args reached sbatch


def _toml(text: str) -> str:
    import json

    return json.dumps(text)


def test_a_workspace_relative_to_the_remote_home_works(ssh_server, remote):
    name = f"simjobs-slurm-test-{uuid.uuid4().hex[:8]}"
    home = Path(pwd.getpwnam(ssh_server["user"]).pw_dir)
    iface = SlurmInterface("cluster", 1, ["/bin/sh", f"{remote}/sum.sh"], f"~/{name}/work",
                           partition="debug", ssh=settings_of(ssh_server))
    try:
        assert iface.submit_jobs([Job(1, Input(1.0, 2.0)), Job(2, Input(3.0, 4.0))]) == \
            {JobId(1): None, JobId(2): None}
        wait_for(lambda: set(iface.get_job_statuses([JobId(1), JobId(2)]).values())
                 == {JobStatus.COMPLETED}, 30)
        assert [iface.get_job_output(JobId(i)) for i in (1, 2)] == [3.0, 7.0]
        assert iface.job_details(JobId(1))["job_dir"] == f"{name}/work/1"
        assert (home / name / "work" / "2" / SLURM_ID_FILE).exists()
    finally:
        iface.close()
        shutil.rmtree(home / name, ignore_errors=True)  # the remote host is this machine
