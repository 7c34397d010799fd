"""One JobManager over a local, an SSH and a Slurm interface, built from one config.

Level 1 is served by a local process pool and by the loopback sshd's host, level 2 by
the one-node Slurm: jobs go to the interfaces of their own level, spread by load, and
every one completes with its simulator's output.
"""

from __future__ import annotations

import shlex
import uuid

import pytest

from helpers import config_text, sim_command
from simjobs.config import load_config
from simjobs.core import Input, JobManager, JobStatus
from simjobs.interfaces.runner import SSHSettings
from simjobs.interfaces.ssh_transport import SSHRunner

SUM_SH = """#!/bin/sh
awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i; printf "%.17g\\n", s}' "$1" > "$2"
"""


@pytest.fixture
def remote_sum(ssh_server):
    """A sum simulator uploaded to the SSH host; yields (script path, workspace)."""
    settings = SSHSettings(ssh_server["host"], int(ssh_server["port"]), ssh_server["user"],
                           (ssh_server["key"],), ssh_server["known_hosts"])
    base = f"/tmp/simjobs-ssh-tests/mixed-{uuid.uuid4().hex[:10]}"
    with SSHRunner(settings) as runner:
        assert runner.run(f"mkdir -p {shlex.quote(base)}").ok
        runner.put_file(SUM_SH.encode(), f"{base}/sum.sh")
        assert runner.run(f"chmod +x {shlex.quote(base)}/sum.sh").ok
        yield f"{base}/sum.sh", f"{base}/work"
        runner.run(f"pkill -KILL -u {shlex.quote(ssh_server['user'])} -f "
                   f"{shlex.quote(base)} ; rm -rf {shlex.quote(base)}")


def test_local_ssh_and_slurm_in_one_manager_route_by_level_and_load(
        tmp_path, ssh_server, slurm_cluster, remote_sum):
    script, workspace = remote_sum
    config_path = tmp_path / "simjobs.toml"
    config_path.write_text(config_text(log="runs.db", polling_interval=0.2, interfaces=[
        {"name": "here", "level": 1, "command": sim_command("sum.py"), "max_jobs": 2},
        {"kind": "ssh", "name": "server", "level": 1, "host": ssh_server["host"],
         "port": int(ssh_server["port"]), "user": ssh_server["user"],
         "identity_file": ssh_server["key"], "known_hosts": ssh_server["known_hosts"],
         "command": script, "workspace": workspace, "max_jobs": 2},
        {"kind": "slurm", "name": "cluster", "level": 2, "command": sim_command("sum.py"),
         "partition": slurm_cluster["partition"], "max_jobs": 4},
    ]))
    config = load_config(config_path)
    interfaces = config.build_interfaces()
    assert [i.kind for i in interfaces] == ["local", "ssh", "slurm"]
    log = config.open_log()
    manager = JobManager(log, interfaces, polling_interval=config.polling_interval)
    try:
        level1 = manager.submit_many([Input(i, 0.25) for i in range(8)], level=1)
        level2 = manager.submit_many([Input(10 + i, 0.5) for i in range(3)], level=2)
        assert manager.wait_until_done(timeout=120), manager.active_jobs()
        for job in level1 + level2:
            record = log.get_record(job.id)
            assert record.status is JobStatus.COMPLETED, (job.id, record.reason)
            assert record.output == pytest.approx(sum(job.data))
        l1_names = {log.get_record(j.id).interface_name for j in level1}
        l2_names = {log.get_record(j.id).interface_name for j in level2}
        # Least load spreads level 1 over both of its interfaces; level 2 has only Slurm.
        assert l1_names == {"here", "server"}
        assert l2_names == {"cluster"}
        counts = [log.get_record(j.id).interface_name for j in level1]
        assert abs(counts.count("here") - counts.count("server")) <= 2
    finally:
        manager.shutdown()
        for interface in interfaces:
            interface.close()
        log.close()
