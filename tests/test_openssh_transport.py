"""The OpenSSH transport (``transport = "openssh"``) against real sshds on 127.0.0.1.

The sshd pair of ``scripts/services/start-sshd-pair.sh`` (target 2226, jump host 2227,
both LogLevel VERBOSE) is what the commands reach, so its logs count connections and
sessions; the test simulators are uploaded into a directory made through the shared
sshd (the same machine and user), as in test_ssh_interface.py.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

import helpers
from simjobs.config import ConfigError, load_config
from simjobs.core import Input, JobManager, JobStatus
from simjobs.core.log import SimulationsLog
from simjobs.core.types import Job, JobId
from simjobs.interfaces.openssh_transport import OpenSSHRunner
from simjobs.interfaces.runner import HostKeyError, HostUnreachableError, SSHSettings
from simjobs.interfaces.ssh import SSHInterface
from simjobs.interfaces.slurm import SlurmInterface
from test_inbox_users import AS_USER, OTHER, users  # noqa: F401 - users: a fixture
from test_ssh_interface import PrivateSSHD, Remote
from test_ssh_interface import settings_of as asyncssh_settings


def wait_for(predicate, timeout: float = 30.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.05, message=message)


def settings_of(server: dict, **changes) -> SSHSettings:
    values = dict(host=server["host"], port=int(server["port"]), user=server["user"],
                  identity_files=(server["key"],), known_hosts=server["known_hosts"],
                  connect_timeout=10.0, transport="openssh")
    values.update(changes)
    return SSHSettings(**values)


class SSHDLog:
    """An sshd's log from a mark on: what it saw since."""

    def __init__(self, server: dict):
        self.path = Path(server["log"])
        self.mark = self._size()

    def _size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def since(self) -> str:
        with open(self.path, "rb") as f:
            f.seek(self.mark)
            return f.read().decode("utf-8", "replace")

    def connections(self) -> int:
        return self.since().count("Connection from ")

    def logins(self) -> int:
        return self.since().count("Accepted publickey for ")

    def sessions(self) -> int:
        return self.since().count("Starting session: command")


def pid_alive(pid: int) -> bool:
    return not helpers.pid_gone(pid)


def ssh_by_hand(config: Path, *args: str) -> subprocess.CompletedProcess:
    """The person's own ssh (e.g. opening a master after typing a one-time code)."""
    return subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


@pytest.fixture
def control_dir():
    """A short private directory for a user's ControlPath (socket paths are limited)."""
    path = tempfile.mkdtemp(prefix="sj-cm-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def remote(ssh_server):
    r = Remote(asyncssh_settings(ssh_server))
    yield r
    r.close()


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)  # ssh refuses a config others may write
    return path


def runner_for_control_path(tmp_path: Path, server: dict, alias: str,
                            control_path: str) -> tuple[OpenSSHRunner, Path]:
    """A runner for ``alias`` (reaching ``server``) whose ssh configuration gives the
    host ``control_path``; and that configuration."""
    config = write_config(tmp_path / "ssh_config", host_entry(
        alias, server, "ControlMaster auto", f"ControlPath {control_path}"))
    return OpenSSHRunner(SSHSettings(alias, transport="openssh"),
                         config_file=str(config)), config


def host_entry(alias: str, server: dict, *extra: str, key: str = "",
               known_hosts: str = "") -> str:
    """A ``Host`` block of an ssh configuration reaching ``server`` as ``alias``."""
    lines = [f"Host {alias}", f"HostName {server['host']}", f"Port {server['port']}",
             f"User {server['user']}", f"IdentityFile {key or server['key']}",
             "IdentitiesOnly yes", f"UserKnownHostsFile {known_hosts or server['known_hosts']}",
             *extra]
    return "\n  ".join(lines) + "\n"


def unreachable_keeping_jobs(manager: JobManager, log: SimulationsLog, jobs, cause: str) -> str:
    """Wait until the interface is unreachable for ``cause`` (a poll in flight when the
    connection went first says "lost the connection"); the jobs (running, queued) keep
    their statuses. Returns the health message."""
    wait_for(lambda: manager.interface_health()["remote"].state == "unreachable")
    message = wait_for(lambda: cause in (
        health := manager.interface_health()["remote"]).message and health.message)
    assert "\n" not in message
    assert [log.get_job_status(j.id) for j in jobs] == [JobStatus.RUNNING, JobStatus.SUBMITTED]
    return message


def finish_after_outage(manager: JobManager, log_path: Path, remote: Remote, jobs) -> None:
    """The gate opens: every job completes and the interface is healthy again."""
    remote.open_gate()
    assert manager.wait_until_done(timeout=60)
    wait_for(lambda: manager.interface_health()["remote"].ok)
    recs = helpers.records_of(log_path)
    assert [recs[str(j.id)].status for j in jobs] == [JobStatus.COMPLETED] * 2


def start_two_jobs(manager: JobManager, log: SimulationsLog):
    """One job running and one queued behind it (max_jobs = 1), as the log shows."""
    running = manager.submit(Input(1.0, 1.0))
    queued = manager.submit(Input(2.0, 2.0))
    wait_for(lambda: log.get_job_status(running.id) is JobStatus.RUNNING
             and log.get_job_status(queued.id) is JobStatus.SUBMITTED)
    return [running, queued]


# ---- the master connection --------------------------------------------------------------


def test_simjobs_opens_one_private_master_reuses_it_and_stops_it_on_close(sshd_pair):
    target = sshd_pair["target"]
    log = SSHDLog(target)
    runner = OpenSSHRunner(settings_of(target))
    try:
        result = runner.run("cat; echo err >&2; exit 3", input=b"from stdin\n")
        assert (result.exit_status, result.stdout, result.stderr) == \
            (3, b"from stdin\n", b"err\n")
        results = runner.run_many([(f"echo {n}", None) for n in range(12)])
        assert [r.text() for r in results] == [f"{n}\n" for n in range(12)]
        name = f"/tmp/simjobs-openssh-put-{uuid.uuid4().hex[:8]}"
        runner.put_file(b"\x00bytes\n", name)
        assert Path(name).read_bytes() == b"\x00bytes\n"
        runner.run(f"rm -f {name}")

        assert runner.uses_own_master and runner.connects == 1 and runner.connected
        control_dir = Path(runner.control_path).parent
        info = control_dir.lstat()
        assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
        assert info.st_uid == os.getuid()
        (socket,) = control_dir.iterdir()
        assert stat.S_ISSOCK(socket.lstat().st_mode)
        master = runner.master_pid()
        assert master is not None and pid_alive(master)
        # 15 commands, one connection and one login: each command a session on it.
        assert log.connections() == 1 and log.logins() == 1
        assert log.sessions() == runner.commands_run == 15
    finally:
        runner.close()
    wait_for(lambda: not pid_alive(master), message="the master to end on close")
    assert not control_dir.exists()
    with pytest.raises(HostUnreachableError, match="closed"):
        runner.run("true")


def test_key_and_known_hosts_paths_with_spaces_quotes_and_percent_signs(sshd_pair, tmp_path):
    """ssh splits option values at spaces and expands %-tokens in paths: simjobs quotes
    and escapes them, so the files named are the files used."""
    target = sshd_pair["target"]
    odd = tmp_path / "it's 100% \"odd\""
    odd.mkdir()
    key, known = odd / "client key", odd / "known hosts"
    shutil.copy(target["key"], key)
    key.chmod(0o600)
    shutil.copy(target["known_hosts"], known)
    runner = OpenSSHRunner(settings_of(target, identity_files=(str(key),),
                                       known_hosts=str(known)))
    try:
        # The login (IdentitiesOnly, StrictHostKeyChecking) needed both files.
        assert runner.run("echo in").text() == "in\n"
        assert runner.effective_config()["userknownhostsfile"] == str(known)
    finally:
        runner.close()


def test_a_master_the_user_opened_is_used_and_left_open(sshd_pair, tmp_path, control_dir):
    target = sshd_pair["target"]
    config = write_config(tmp_path / "ssh_config", host_entry(
        "simjobs-mine", target, "ControlMaster auto", f"ControlPath {control_dir}/%C"))
    opened = ssh_by_hand(config, "-MNf", "simjobs-mine")
    assert opened.returncode == 0, opened.stderr
    log = SSHDLog(target)
    runner = OpenSSHRunner(SSHSettings("simjobs-mine", transport="openssh"),
                           config_file=str(config))
    try:
        assert not runner.uses_own_master
        assert runner.control_path.startswith(control_dir + "/")
        for n in range(5):
            assert runner.run(f"echo {n}").text() == f"{n}\n"
        mine = runner.master_pid()
        assert mine is not None
        assert runner.connects == 0  # simjobs opened nothing
        assert log.connections() == 0 and log.logins() == 0 and log.sessions() == 5
    finally:
        runner.close()
    # The user's master outlives simjobs.
    assert pid_alive(mine)
    assert ssh_by_hand(config, "-O", "check", "simjobs-mine").returncode == 0
    ssh_by_hand(config, "-O", "exit", "simjobs-mine")


def ssh_processes_reading(config: Path) -> list[int]:
    """Live processes whose command line names ``config`` (ssh -F CONFIG ...)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if str(config).encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_a_controlpath_ssh_cannot_make_is_named_and_leaves_no_ssh_behind(
        sshd_pair, tmp_path, control_dir):
    """ssh -Nf with a ControlPath it cannot bind would log in and stay in the background
    without a master: simjobs says what to fix instead, and starts nothing."""
    target = sshd_pair["target"]
    missing = Path(control_dir) / "no-such-dir"
    runner, config = runner_for_control_path(tmp_path, target, "simjobs-nodir",
                                             f"{missing}/%C")
    try:
        with pytest.raises(HostUnreachableError) as caught:
            runner.run("true")
        assert f"create it: mkdir -m 700 {missing}" in str(caught.value)
        assert runner.connects == 0
        assert ssh_processes_reading(config) == []
    finally:
        runner.close()


def test_what_the_users_config_adds_for_interactive_use_stays_out_of_commands(
        sshd_pair, tmp_path):
    """A tty, a RemoteCommand, a LocalForward (which a second session would fail to bind,
    and ExitOnForwardFailure make fatal) and agent forwarding: none reaches the commands."""
    import socket

    target = sshd_pair["target"]
    with socket.socket() as s:  # a free local port for the forwarding
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_config(tmp_path / "ssh_config", host_entry(
        "simjobs-interactive", target, "RequestTTY yes", "RemoteCommand echo the-remote-command",
        f"LocalForward 127.0.0.1:{port} 127.0.0.1:{target['port']}",
        "ExitOnForwardFailure yes", "ForwardAgent yes"))
    runner = OpenSSHRunner(SSHSettings("simjobs-interactive", transport="openssh"),
                           config_file=str(config))
    try:
        result = runner.run("tty; echo agent=${SSH_AUTH_SOCK:-none}")
        assert (result.exit_status, result.text(), result.stderr) == \
            (0, "not a tty\nagent=none\n", b"")
        assert [r.text() for r in runner.run_many([("echo a", None), ("echo b", None)])] \
            == ["a\n", "b\n"]
    finally:
        runner.close()


def test_a_master_killed_between_commands_is_opened_again_and_the_command_runs(sshd_pair):
    target = sshd_pair["target"]
    runner = OpenSSHRunner(settings_of(target))
    try:
        assert runner.run("echo one").text() == "one\n"
        first = runner.master_pid()
        log = SSHDLog(target)
        os.kill(first, 9)
        wait_for(lambda: not pid_alive(first))
        # The command found no master, reached nothing, and ran once the master was back.
        assert runner.run("echo two").text() == "two\n"
        assert runner.connects == 2
        assert runner.master_pid() not in (None, first)
        assert log.connections() == 1 and log.sessions() == 1
    finally:
        runner.close()


def test_a_master_killed_while_a_command_runs_fails_that_command_only(sshd_pair, tmp_path):
    target = sshd_pair["target"]
    runner = OpenSSHRunner(settings_of(target))
    marker = f"/tmp/simjobs-openssh-{uuid.uuid4().hex[:8]}"
    outcome: list = []
    try:
        runner.run("true")

        def slow():
            try:
                outcome.append(runner.run(f"touch {marker}; sleep 60; echo finished"))
            except Exception as exc:  # noqa: BLE001 - what the test looks at
                outcome.append(exc)

        thread = threading.Thread(target=slow)
        thread.start()
        wait_for(lambda: os.path.exists(marker), message="the slow command to start")
        os.kill(runner.master_pid(), 9)
        thread.join(30)
        assert not thread.is_alive()
        (error,) = outcome
        assert isinstance(error, HostUnreachableError), error
        assert str(error).startswith(f"lost the connection to {runner.host}")
        assert runner.run("echo again").text() == "again\n"
        assert runner.connects == 2
    finally:
        runner.close()
        Path(marker).unlink(missing_ok=True)


# ---- the interfaces through it --------------------------------------------------------------


def test_a_poll_of_many_jobs_is_one_session_on_the_one_connection(sshd_pair, remote):
    target = sshd_pair["target"]
    log = SSHDLog(target)
    iface = SSHInterface("remote", 1, target["host"], remote.sim("gate.sh"),
                         remote.workspace(), port=int(target["port"]), user=target["user"],
                         max_jobs=5, identity_files=[target["key"]],
                         known_hosts=target["known_hosts"], transport="openssh")
    assert isinstance(iface.runner, OpenSSHRunner)
    try:
        jobs = [Job(JobId(n), Input(float(n), 0.0)) for n in range(1, 41)]
        assert set(iface.submit_jobs(jobs).values()) == {None}
        wait_for(lambda: sum(s is JobStatus.RUNNING
                             for s in iface.get_job_statuses([j.id for j in jobs]).values())
                 == 5)
        connections, before = log.connections(), log.sessions()
        for _ in range(10):
            iface.get_job_statuses([j.id for j in jobs])
        wait_for(lambda: log.sessions() - before >= 10)
        assert log.sessions() - before == 10  # one session per poll of 40 jobs
        assert log.connections() == connections == 1  # all on the first connection
        assert iface.runner.connects == 1
    finally:
        remote.open_gate()
        iface.close()
    assert not iface.runner.connected


def test_proxyjump_through_the_jump_host(sshd_pair, remote, tmp_path):
    target, jump = sshd_pair["target"], sshd_pair["jump"]
    known = f"{target['known_hosts']} {jump['known_hosts']}"
    config = write_config(tmp_path / "ssh_config",
                          host_entry("simjobs-target", target, "ProxyJump simjobs-jump",
                                     known_hosts=known)
                          + host_entry("simjobs-jump", jump, known_hosts=known))
    target_log, jump_log = SSHDLog(target), SSHDLog(jump)
    runner = OpenSSHRunner(SSHSettings("simjobs-target", transport="openssh"),
                           config_file=str(config))
    iface = SSHInterface("remote", 1, "simjobs-target", remote.sim("sum.sh"),
                         remote.workspace(), max_jobs=2, runner=runner)
    try:
        assert set(iface.submit_jobs([Job(JobId(1), Input(1.0, 2.0)),
                                      Job(JobId(2), Input(3.0, 4.0))]).values()) == {None}
        wait_for(lambda: set(iface.get_job_statuses([JobId(1), JobId(2)]).values())
                 == {JobStatus.COMPLETED})
        assert [iface.get_job_output(JobId(n)) for n in (1, 2)] == [3.0, 7.0]
        # The jump host logged the one login that carried the master to the target.
        assert jump_log.logins() == 1
        assert target_log.logins() == 1 and target_log.connections() == 1
        assert target_log.sessions() == runner.commands_run >= 3
    finally:
        iface.close()
        runner.close()
    # With the jump host's key withdrawn from the config, the target cannot be reached:
    # the way in really is through the jump host.
    config.write_text(config.read_text().replace(jump["key"], "/nonexistent-key"))
    blocked = OpenSSHRunner(SSHSettings("simjobs-target", transport="openssh"),
                            config_file=str(config))
    try:
        with pytest.raises(HostUnreachableError):
            blocked.run("true")
        assert blocked.connects == 0
    finally:
        blocked.close()


def test_a_hand_opened_master_dying_mid_run_is_unreachable_until_it_is_back(
        sshd_pair, remote, tmp_path, control_dir, monkeypatch):
    """Under nohup with a second factor: the person opened the master by hand (here:
    with a key the configuration does not give simjobs); when it dies, simjobs cannot
    log in by itself, says so, and carries on as soon as the master is open again."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    target = sshd_pair["target"]
    config = write_config(tmp_path / "ssh_config", host_entry(
        "simjobs-mfa", target, "ControlMaster auto", f"ControlPath {control_dir}/%C",
        key="/nonexistent-key"))

    def open_by_hand():
        opened = ssh_by_hand(config, "-i", target["key"], "-MNf", "simjobs-mfa")
        assert opened.returncode == 0, opened.stderr

    open_by_hand()
    runner = OpenSSHRunner(SSHSettings("simjobs-mfa", transport="openssh"),
                           config_file=str(config))
    iface = SSHInterface("remote", 1, "simjobs-mfa", remote.sim("gate.sh"),
                         remote.workspace(), max_jobs=1, runner=runner)
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    events = []
    manager.subscribe(events.append)
    try:
        jobs = start_two_jobs(manager, log)

        os.kill(runner.master_pid(), 9)
        message = unreachable_keeping_jobs(manager, log, jobs, "refused the login")
        assert "ssh -MNf simjobs-mfa" in message

        open_by_hand()
        finish_after_outage(manager, tmp_path / "runs.csv", remote, jobs)
    finally:
        manager.shutdown()
        log.close()
        runner.close()
        ssh_by_hand(config, "-O", "exit", "simjobs-mfa")
    assert any(getattr(e, "state", None) == "unreachable" for e in events)
    assert runner.connects == 0  # simjobs never logged in by itself


def test_an_ssh_interface_from_a_config_runs_a_job_through_openssh(sshd_pair, remote,
                                                                   make_config):
    target = sshd_pair["target"]
    config = make_config(polling_interval=0.1, interfaces=[{
        "kind": "ssh", "name": "remote", "level": 1, "host": target["host"],
        "port": int(target["port"]), "user": target["user"],
        "identity_file": target["key"], "known_hosts": target["known_hosts"],
        "transport": "openssh", "command": remote.sim("sum.sh"),
        "workspace": remote.workspace()}])
    cfg = load_config(config)
    assert cfg.interfaces[0].ssh.transport == "openssh"
    (iface,) = cfg.build_interfaces()
    assert isinstance(iface.runner, OpenSSHRunner)
    with cfg.open_log() as log:
        manager = JobManager(log, [iface], polling_interval=cfg.polling_interval)
        try:
            job = manager.submit(Input(1.5, 2.0))
            assert manager.wait_until_done(timeout=60)
        finally:
            manager.shutdown()
        assert log.get_job_status(job.id) is JobStatus.COMPLETED
        assert log.get_records([job.id])[0]["output"] == 3.5
    assert not iface.runner.connected


def test_a_slurm_interface_over_openssh_runs_a_job(sshd_pair, remote, slurm_cluster, tmp_path):
    target = sshd_pair["target"]
    ssh = {"host": target["host"], "port": int(target["port"]), "user": target["user"],
           "identity_file": target["key"], "known_hosts": target["known_hosts"],
           "transport": "openssh"}
    config = tmp_path / "simjobs.toml"
    config.write_text(helpers.config_text(polling_interval=0.2, interfaces=[{
        "kind": "slurm", "name": "cluster", "level": 1,
        "command": "/bin/sh " + shlex.quote(remote.sim("sum.sh")),
        "workspace": remote.workspace("slurm"), "partition": slurm_cluster["partition"]}])
        + "[interfaces.ssh]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in ssh.items()))
    log_seen = SSHDLog(target)
    (iface,) = load_config(config).build_interfaces()
    assert isinstance(iface, SlurmInterface)
    with SimulationsLog(tmp_path / "runs.csv", 2) as log:
        manager = JobManager(log, [iface], polling_interval=0.2)
        try:
            jobs = manager.submit_many([Input(1.0, 2.0), Input(0.5, 0.25)])
            assert manager.wait_until_done(timeout=120)
        finally:
            manager.shutdown()
        records = log.get_records([j.id for j in jobs])
    assert [r["status"] for r in records] == [JobStatus.COMPLETED] * 2
    assert [r["output"] for r in records] == [3.0, 0.75]
    # sbatch ran as the SSH user, over the one connection simjobs opened.
    sid = (Path(remote.workspace("slurm")) / str(jobs[0].id) / "slurm_job_id").read_text()
    shown = subprocess.run(["scontrol", "-o", "show", "job", sid.strip()],
                           capture_output=True, text=True).stdout
    assert f"UserId={target['user']}(" in shown
    assert log_seen.connections() == 1 and log_seen.logins() == 1


# ---- refusals -------------------------------------------------------------------------------


def fingerprint_of(public_key_file: str) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-f", public_key_file], capture_output=True,
                         text=True, check=True).stdout
    return out.split()[1]


def test_an_unknown_host_key_is_a_host_key_error_and_no_login(sshd_pair, tmp_path):
    target = sshd_pair["target"]
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    log = SSHDLog(target)
    runner = OpenSSHRunner(settings_of(target, known_hosts=str(empty)))
    try:
        with pytest.raises(HostKeyError) as caught:
            runner.run("touch /tmp/simjobs-openssh-must-not-exist")
        message = str(caught.value)
        assert "\n" not in message
        assert f"the host key of 127.0.0.1:{target['port']} is unknown" in message
        host_key = str(Path(target["known_hosts"]).parent / "host_ed25519_key.pub")
        assert f"the host offers {fingerprint_of(host_key)}" in message
        assert f"ssh-keyscan -p {target['port']} 127.0.0.1 >> {empty}" in message
        assert runner.host_key_problem() == message
        assert runner.connects == 0
    finally:
        runner.close()
    assert log.logins() == 0 and log.sessions() == 0
    assert not Path("/tmp/simjobs-openssh-must-not-exist").exists()


def test_a_changed_host_key_says_changed_with_the_fix(sshd_pair, tmp_path):
    target = sshd_pair["target"]
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{target['port']} "
                     + " ".join(Path(f"{other}.pub").read_text().split()[:2]) + "\n")
    log = SSHDLog(target)
    runner = OpenSSHRunner(settings_of(target, known_hosts=str(wrong)))
    try:
        with pytest.raises(HostKeyError) as caught:
            runner.run("true")
        message = str(caught.value)
        assert f"the host key of 127.0.0.1:{target['port']} has CHANGED" in message
        host_key = str(Path(target["known_hosts"]).parent / "host_ed25519_key.pub")
        assert f"the host offers {fingerprint_of(host_key)}" in message
        assert f"ssh-keygen -R '[127.0.0.1]:{target['port']}' -f {wrong}" in message
        assert runner.host_key_problem() == message
    finally:
        runner.close()
    assert log.logins() == 0 and log.sessions() == 0


def test_a_refused_connection_is_unreachable_and_retried_with_backoff(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on (the kernel's pick)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = SSHSettings("127.0.0.1", port, "nobody", known_hosts=str(tmp_path / "kh"),
                           transport="openssh")
    runner = OpenSSHRunner(settings)
    try:
        with pytest.raises(HostUnreachableError) as first:
            runner.run("true")
        assert "connection refused" in str(first.value)
        assert f"sshd listens on port {port}" in str(first.value)
        # Within the backoff: the same words, no new attempt.
        with pytest.raises(HostUnreachableError) as second:
            runner.run("true")
        assert str(second.value) == str(first.value)
        assert runner.connects == 0
    finally:
        runner.close()


# ---- configuration --------------------------------------------------------------------------


def test_the_host_going_down_is_unreachable_and_jobs_finish_when_it_is_back(
        sshd_pair, remote, tmp_path):
    """simjobs' own master ends with the host; opening it again is refused (unreachable,
    with backoff) until sshd is back, and then everything carries on."""
    target = sshd_pair["target"]
    server = PrivateSSHD(Path(target["log"]).parent, int(target["port"]))
    iface = SSHInterface("remote", 1, target["host"], remote.sim("gate.sh"),
                         remote.workspace(), port=int(target["port"]), user=target["user"],
                         max_jobs=1, identity_files=[target["key"]],
                         known_hosts=target["known_hosts"], transport="openssh")
    iface.runner.max_backoff = 0.5  # come back quickly once the host is up again
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    manager = JobManager(log, [iface], polling_interval=0.05)
    try:
        jobs = start_two_jobs(manager, log)
        first_master = iface.runner.master_pid()
        try:
            server.stop()  # the listener and its connections, like a host going down
            message = unreachable_keeping_jobs(manager, log, jobs, "connection refused")
            assert f"127.0.0.1:{target['port']}" in message
            assert not pid_alive(first_master)
        finally:
            server.start()
        finish_after_outage(manager, tmp_path / "runs.csv", remote, jobs)
    finally:
        manager.shutdown()
        log.close()
    assert iface.runner.connects >= 2


def _ssh_config(make_config, transport: str) -> Path:
    return make_config(interfaces=[{"kind": "ssh", "name": "remote", "level": 1,
                                    "host": "sim.example.org", "command": "python3 run.py",
                                    "transport": transport}])


def test_an_unknown_transport_is_one_line_naming_the_choices(tmp_path, make_config):
    config = _ssh_config(make_config, "putty")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    message = str(caught.value)
    assert "\n" not in message
    assert "interfaces[0].transport must be one of 'asyncssh', 'openssh'" in message
    assert "'putty'" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["simjobs.toml"]
    with pytest.raises(ValueError, match="unknown SSH transport 'putty'"):
        SSHSettings("h", transport="putty")


def test_the_transport_defaults_to_asyncssh_and_openssh_needs_the_ssh_program(
        tmp_path, make_config, monkeypatch):
    config = _ssh_config(make_config, "openssh")
    assert load_config(config).interfaces[0].ssh.transport == "openssh"
    config.write_text(config.read_text().replace('transport = "openssh"\n', ""))
    assert "transport" not in config.read_text()
    assert load_config(config).interfaces[0].ssh.transport == "asyncssh"

    config = _ssh_config(make_config, "openssh")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "the ssh program, which is not installed here" in str(caught.value)
    assert 'transport = "asyncssh"' in str(caught.value)
    runner = OpenSSHRunner(SSHSettings("h", transport="openssh"))
    with pytest.raises(HostUnreachableError, match="not installed here"):
        runner.run("true")
    runner.close()


# ---- a ControlPath other users can write to --------------------------------------------

PLANTER = """
import os, socket, sys, time
path, stop = sys.argv[1], sys.argv[2]
listener = socket.socket(socket.AF_UNIX)
listener.bind(path)
listener.listen(8)
listener.settimeout(0.1)
print("listening", flush=True)
while not os.path.exists(stop):
    try:
        conn, _ = listener.accept()
    except socket.timeout:
        continue
    print("connected", flush=True)
    conn.close()
"""


def test_a_control_socket_planted_by_another_user_is_refused_and_gets_nothing(
        sshd_pair, tmp_path, users):
    """With ``ControlPath /tmp/ssh-%r@%h:%p`` (a sticky world-writable dir), another user
    can create the socket first: ssh would hand that user's listener every command and
    its stdin. simjobs refuses a socket that is not its user's, naming the path and the
    fix, and never connects to it; its own socket there is used as before."""
    target = sshd_pair["target"]
    sticky = Path(tempfile.mkdtemp(prefix="sj-sticky-", dir="/tmp"))
    sticky.chmod(0o1777)
    planter = None
    try:
        runner, config = runner_for_control_path(tmp_path, target, "simjobs-sticky",
                                                 f"{sticky}/ssh-%r@%h:%p")
        path = runner.control_path
        assert path.startswith(str(sticky) + "/")
        stop = sticky / "stop"
        planter = subprocess.Popen(
            [sys.executable, str(AS_USER), OTHER, "code", PLANTER, path, str(stop)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert planter.stdout.readline().strip() == "listening", planter.stderr.read()
        assert os.lstat(path).st_uid != os.geteuid()
        try:
            with pytest.raises(HostUnreachableError) as caught:
                runner.run("echo secret-command", b"secret-stdin")
            message = str(caught.value)
            assert path in message and "not a socket of yours" in message
            assert "~/.ssh/cm-%C" in message and "\n" not in message
            assert runner.connects == 0
        finally:
            runner.close()
        stop.touch()
        out, err = planter.communicate(timeout=30)
        assert "connected" not in out, "ssh connected to the planted socket"
        # The user's own socket in the same sticky dir is fine.
        os.unlink(path)
        mine = OpenSSHRunner(SSHSettings("simjobs-sticky", transport="openssh"),
                             config_file=str(config))
        try:
            assert mine.run("echo mine").text() == "mine\n"
            assert os.lstat(path).st_uid == os.geteuid()
        finally:
            mine.close()
            subprocess.run(["ssh", "-F", str(config), "-O", "exit", "simjobs-sticky"],
                           capture_output=True, timeout=30)
    finally:
        if planter is not None and planter.poll() is None:
            planter.kill()
            planter.wait()
        shutil.rmtree(sticky, ignore_errors=True)


def test_a_control_path_in_a_directory_others_may_write_is_refused(sshd_pair, tmp_path):
    """A group- or world-writable directory without the sticky bit lets others replace
    the socket between the check and its use: refused before anything runs."""
    target = sshd_pair["target"]
    open_dir = Path(tempfile.mkdtemp(prefix="sj-open-", dir="/tmp"))
    open_dir.chmod(0o777)
    try:
        runner, _ = runner_for_control_path(tmp_path, target, "simjobs-open",
                                            f"{open_dir}/%C")
        try:
            with pytest.raises(HostUnreachableError) as caught:
                runner.run("true")
            assert str(open_dir) in str(caught.value)
            assert "may be written by other users" in str(caught.value)
            assert runner.connects == 0 and os.listdir(open_dir) == []
        finally:
            runner.close()
    finally:
        shutil.rmtree(open_dir, ignore_errors=True)


# ---- nothing ever asks on the terminal ----------------------------------------------------

UNKNOWN_JUMP = """
import sys, time
from simjobs.interfaces.openssh_transport import OpenSSHRunner
from simjobs.interfaces.runner import SSHSettings
runner = OpenSSHRunner(SSHSettings("simjobs-target", transport="openssh"),
                       config_file=sys.argv[1])
start = time.monotonic()
try:
    runner.run("true")
    print("RESULT ran", flush=True)
except Exception as exc:
    print(f"RESULT {type(exc).__name__} after {time.monotonic() - start:.1f} s: {exc}",
          flush=True)
finally:
    runner.close()
"""


def test_a_jump_host_with_an_unknown_key_fails_at_once_and_asks_nothing_on_the_tty(
        sshd_pair, tmp_path):
    """ssh applies command-line options (BatchMode, StrictHostKeyChecking) to the
    destination only, not to a ProxyJump hop: that hop would ask "continue connecting
    (yes/no)?" on the controlling terminal, over the app's screen or the CLI. Run in a
    real terminal (pty), simjobs' ssh has none: the login fails at once, unreachable."""
    import pty
    import select
    import time

    target, jump = sshd_pair["target"], sshd_pair["jump"]
    empty = tmp_path / "known_hosts_without_the_jump_host"
    empty.write_text("")
    config = write_config(tmp_path / "ssh_config",
                          host_entry("simjobs-target", target, "ProxyJump simjobs-jump")
                          + host_entry("simjobs-jump", jump, known_hosts=str(empty)))
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session whose controlling terminal is the pty
        try:
            os.execv(sys.executable, [sys.executable, "-c", UNKNOWN_JUMP, str(config)])
        finally:
            os._exit(127)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while b"RESULT" not in shown or not shown.endswith(b"\n"):
            assert time.monotonic() < deadline, f"no result within 60 s: {shown!r}"
            before = shown.split(b"RESULT")[0]  # (the result may name a password)
            assert b"continue connecting" not in before and b"assword" not in before, \
                f"ssh asked on the terminal: {shown!r}"
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    shown += os.read(fd, 4096)
                except OSError:  # the child closed the pty
                    break
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        os.close(fd)
    result = shown.decode("utf-8", "replace").split("RESULT ", 1)[1].strip()
    assert result.startswith(("HostKeyError", "HostUnreachableError")), result
    assert "through the jump host simjobs-jump" in result, result
    assert float(result.split(" after ")[1].split(" s")[0]) < 20, result


@pytest.mark.parametrize("transport", ["openssh", "asyncssh"])
def test_the_suggested_keyscan_command_works_for_a_known_hosts_path_with_spaces(
        sshd_pair, tmp_path, transport):
    """The fix a host-key message gives is pasted into a shell: the known_hosts path is
    quoted, so the key lands in that file and the next connection works."""
    target = sshd_pair["target"]
    odd = tmp_path / "my hosts"
    odd.mkdir()
    known = odd / "known hosts; x"
    known.write_text("")

    def make():
        if transport == "openssh":
            return OpenSSHRunner(settings_of(target, known_hosts=str(known)))
        from simjobs.interfaces.ssh_transport import SSHRunner

        return SSHRunner(settings_of(target, known_hosts=str(known), transport="asyncssh"),
                         use_ssh_config=False)

    runner = make()
    try:
        with pytest.raises(HostKeyError) as caught:
            runner.run("true")
    finally:
        runner.close()
    fix = str(caught.value).split("add it: ", 1)[1]
    assert fix.startswith("ssh-keyscan ")
    done = subprocess.run(["sh", "-c", fix], cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert known.read_text().strip() and not (tmp_path / "my").exists()
    runner = make()
    try:
        assert runner.run("echo in").text() == "in\n"
    finally:
        runner.close()


# ---- a master shared by several interfaces ------------------------------------------------


@pytest.fixture
def few_sessions_sshd(sshd_pair, tmp_path):
    """An sshd of this test's own (a free port) like the pair's target but allowing only
    two sessions per connection (MaxSessions 2): a shared master's limit, met early."""
    import socket

    target_dir = Path(sshd_pair["target"]["log"]).parent
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = Path(tempfile.mkdtemp(prefix="sj-few-", dir="/tmp"))
    config = (target_dir / "sshd_config").read_text()
    lines = [line for line in config.splitlines()
             if not line.startswith(("Port ", "PidFile ", "MaxSessions "))]
    lines += [f"Port {port}", f"PidFile {state}/sshd.pid", "MaxSessions 2"]
    (state / "sshd_config").write_text("\n".join(lines) + "\n")
    known = state / "known_hosts"
    public = (target_dir / "host_ed25519_key.pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    log = state / "sshd.log"
    sshd = subprocess.Popen([shutil.which("sshd") or "/usr/sbin/sshd", "-D", "-e", "-f",
                             str(state / "sshd_config"), "-E", str(log)])
    try:
        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_for(listening, timeout=30, message="the MaxSessions 2 sshd to listen")
        yield {**sshd_pair["target"], "port": str(port), "known_hosts": str(known),
               "log": str(log)}
    finally:
        sshd.terminate()
        sshd.wait(30)
        shutil.rmtree(state, ignore_errors=True)


def test_sessions_a_shared_master_refuses_are_retried_not_unreachable(
        few_sessions_sshd, tmp_path, control_dir):
    """Two interfaces on the user's one master open more sessions than the server allows
    per connection (MaxSessions): a refused session waits and is tried again, instead of
    making the interface unreachable."""
    config = write_config(tmp_path / "ssh_config", host_entry(
        "simjobs-few", few_sessions_sshd, "ControlMaster auto",
        f"ControlPath {control_dir}/%C"))
    opened = ssh_by_hand(config, "-MNf", "simjobs-few")
    assert opened.returncode == 0, opened.stderr
    runners = [OpenSSHRunner(SSHSettings("simjobs-few", transport="openssh"),
                             config_file=str(config)) for _ in range(2)]
    try:
        results: list = []
        threads = [threading.Thread(target=lambda r=r: results.extend(r.run_many(
            [(f"sleep 0.3; echo {n}", None) for n in range(4)]))) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        errors = [r for r in results if isinstance(r, Exception)]
        assert errors == [], errors
        assert sorted(r.text() for r in results) == sorted(f"{n}\n" for n in range(4)
                                                           for _ in runners)
    finally:
        for runner in runners:
            runner.close()
        ssh_by_hand(config, "-O", "exit", "simjobs-few")
