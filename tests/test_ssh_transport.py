"""SSHRunner against the real sshd, and the remote job-directory layer (RemoteJobDirs)."""

from __future__ import annotations

import shlex
import uuid
from pathlib import Path

import pytest

import helpers
from simjobs.core.types import JobId, JobStatus
from simjobs.interfaces import jobdir
from simjobs.interfaces.remote_jobdir import RemoteJobDirs, quote_command
from simjobs.interfaces.runner import (
    CommandResult,
    HostKeyError,
    HostUnreachableError,
    LocalRunner,
    SSHSettings,
)
from simjobs.interfaces.ssh_transport import SSHRunner
from helpers import group_members, pid_gone
from test_ssh_interface import PrivateSSHD, settings_of


def wait_for(predicate, timeout: float = 30.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.02, message=message)


@pytest.fixture
def runner(ssh_server):
    r = SSHRunner(settings_of(ssh_server))
    yield r
    r.close()


def test_commands_run_with_stdin_exit_status_and_output_on_one_connection(runner):
    result = runner.run("cat; echo oops >&2; exit 3", input=b"hello\n")
    assert result == CommandResult(3, b"hello\n", b"oops\n")
    assert runner.run("whoami").text().strip() == runner.settings.user
    for _ in range(5):
        assert runner.run("true").ok
    assert runner.commands_run == 7
    assert runner.connects == 1  # one connection, reused


def test_run_many_runs_commands_concurrently_as_channels(runner, tmp_path):
    flag = f"/tmp/simjobs-transport-{uuid.uuid4().hex}"
    # The first command waits for the last: run one after the other they could not finish.
    waiting = f"i=0; while [ ! -e {flag} ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; " \
              f"[ -e {flag} ] && echo first"
    commands = [(waiting, None)] + [(f"echo {n}", None) for n in range(1, 10)] + \
               [(f"touch {flag}; echo last", None)]
    try:
        results = runner.run_many(commands, timeout=30)
    finally:
        runner.run(f"rm -f {flag}")
    assert [r.text().strip() for r in results] == ["first", *map(str, range(1, 10)), "last"]
    assert runner.connects == 1


def test_put_file_writes_bytes_over_sftp(runner):
    path = f"/tmp/simjobs-put-{uuid.uuid4().hex}"
    data = bytes(range(256)) * 10
    runner.put_file(data, path)
    try:
        assert Path(path).read_bytes() == data
    finally:
        runner.run(f"rm -f {path}")


def test_close_stops_the_loop_thread_and_closes_the_connection(ssh_server):
    r = SSHRunner(settings_of(ssh_server))
    assert r.run("true").ok
    thread = r._thread
    assert thread is not None and thread.is_alive() and r.connected
    r.close()
    assert not thread.is_alive() and not r.connected
    r.close()  # idempotent
    with pytest.raises(HostUnreachableError, match="closed"):
        r.run("true")


def test_a_missing_known_hosts_file_is_a_host_key_error_naming_the_fix(ssh_server, tmp_path):
    settings = SSHSettings(ssh_server["host"], int(ssh_server["port"]), ssh_server["user"],
                           (ssh_server["key"],), str(tmp_path / "known_hosts"))
    with SSHRunner(settings) as r:
        with pytest.raises(HostKeyError) as info:
            r.run("true")
    message = str(info.value)
    assert "\n" not in message
    assert f"ssh-keyscan -p {ssh_server['port']} {ssh_server['host']} >> " in message
    assert r.connects == 0


def test_a_dropped_connection_is_unreachable_then_reconnects_with_backoff(ssh_server):
    server = PrivateSSHD(Path(f"/tmp/simjobs-private-sshd-{uuid.uuid4().hex[:8]}"), 2224)
    info = server.start()
    r = SSHRunner(settings_of(info))
    r.max_backoff = 0.5
    try:
        assert r.run("true").ok
        server.stop()  # the listener and our connection's sshd: the host is gone
        with pytest.raises(HostUnreachableError, match="127.0.0.1:2224"):
            wait_for(lambda: not r.connected, message="the drop noticed")
            r.run("true")
        with pytest.raises(HostUnreachableError):
            r.run("true")  # still down (or waiting out the backoff): fails at once
        server.start()
        wait_for(lambda: _runs(r), message="reconnected")
        assert r.connects == 2
    finally:
        r.close()
        server.stop()
        import subprocess

        subprocess.run(["bash", str(Path(__file__).resolve().parents[1] / "scripts" / "services"
                                    / "stop-sshd.sh")],
                       env={**server.env, "SIMJOBS_SSHD_PURGE": "1"}, capture_output=True)


def _runs(r: SSHRunner) -> bool:
    try:
        return r.run("true").ok
    except HostUnreachableError:
        return False


# ---- RemoteJobDirs: the same protocol through any runner (here: this machine) -------


SIM = """#!/bin/sh
IFS=, read -r a b < "$1"
case $a in 9*) echo "bad input $a" >&2; exit 4 ;; esac
[ -e "$(dirname "$0")/slow" ] && sleep 600
echo "$a + $b" | awk -F' [+] ' '{ printf "%.17g\\n", $1 + $2 }' > "$2"
"""


@pytest.fixture
def sim(tmp_path):
    path = tmp_path / "sim.sh"
    path.write_text(SIM)
    path.chmod(0o755)
    return path


class NoisyRunner(LocalRunner):
    """A runner whose remote login script prints a banner first (a chatty ~/.bashrc)."""

    def run(self, command, input=None, timeout=None):
        result = super().run(command, input, timeout)
        return CommandResult(result.exit_status, b"Welcome! 1 2 3\n" + result.stdout,
                             result.stderr)


def test_remote_job_dirs_create_read_start_and_limit_in_one_command_each(tmp_path, sim):
    runner = NoisyRunner()
    workspace = str(tmp_path / "a 'quoted' \"work\" $space")
    dirs = RemoteJobDirs(runner, workspace, [str(sim)])
    inputs = {JobId(n): jobdir.format_input([float(n), 0.5]) for n in (1, 2, 3)}
    created = dirs.create_job_dirs(inputs)
    assert created == {JobId(1): True, JobId(2): True, JobId(3): True}
    assert dirs.create_job_dirs({JobId(1): b"7.0,7.0\n"}) == {JobId(1): False}
    assert (Path(workspace) / "1" / "input.csv").read_bytes() == inputs[JobId(1)]

    found = dirs.sync(read=[1, 2, 3, 4], launch=[1, 2, 3], max_running=2)
    assert [found[JobId(n)].launched for n in (1, 2, 3)] == [True, True, False]
    assert found[JobId(4)].exists is False
    done = wait_for(lambda: (j := dirs.read_jobs([1, 2]))
                    and all(x.state.finished for x in j.values()) and j)
    assert [done[JobId(n)].state.output for n in (1, 2)] == [1.5, 2.5]
    dirs.sync(read=[3], launch=[3], max_running=2)
    wait_for(lambda: dirs.read_output(3) == (3.5, None))
    assert Path(workspace, ".simjobs").is_dir()  # the wrapper, once per workspace


def test_remote_job_dirs_failure_tails_and_cancel(tmp_path, sim):
    dirs = RemoteJobDirs(LocalRunner(), str(tmp_path / "ws"), [str(sim)])
    dirs.create_job_dirs({JobId(1): b"9.0,1.0\n", JobId(2): b"1.0,1.0\n", JobId(3): b"1.0,2.0\n"})
    dirs.sync(read=[1], launch=[1])
    failed = wait_for(lambda: (s := dirs.read_jobs([1])[JobId(1)].state).finished and s)
    assert failed.status is JobStatus.FAILED and "exit code 4" in failed.reason
    assert "bad input 9.0" in failed.reason
    assert dirs.tails(1) == ("", "bad input 9.0")

    (sim.parent / "slow").touch()
    dirs.sync(read=[2], launch=[2])
    running = wait_for(lambda: (j := dirs.read_jobs([2])[JobId(2)]).alive and j)
    pid = running.state.pid
    assert group_members(pid)
    outcome = dirs.cancel([2, 3], grace=0.5)
    assert outcome[JobId(2)].signalled and outcome[JobId(2)].gone
    assert outcome[JobId(3)].signalled is False  # queued: the marker is enough
    assert pid_gone(pid) and group_members(pid) == []
    states = dirs.read_jobs([2, 3])
    assert {j.state.status for j in states.values()} == {JobStatus.CANCELLED}
    # A cancelled queued job never starts, even when asked to.
    assert not dirs.sync(read=[3], launch=[3])[JobId(3)].launched
    # An ended job is left alone and says so.
    assert dirs.cancel([1])[JobId(1)].before.state.status is JobStatus.FAILED


@pytest.mark.parametrize("exit_code, output, status, why, stderr_read", [
    ("0", "1.25\n", JobStatus.COMPLETED, None, False),  # read by the shell, no stderr
    ("0", "-2.5e-3", JobStatus.COMPLETED, None, False),  # no final newline
    ("0", "1.25\n7\n", JobStatus.FAILED, "not a number", False),  # two lines: read whole
    ("0", "nan\n", JobStatus.FAILED, "output 'nan' is not a number", False),
    ("0", "1.2.3\n", JobStatus.FAILED, "not a number", False),  # looks numeric, is not
    ("0", "", JobStatus.FAILED, "empty", False),
    ("0", None, JobStatus.FAILED, "no output", False),
    ("3", "1.0\n", JobStatus.FAILED, "exit code 3; stderr: solver warning", True),
])
def test_ended_jobs_outputs_and_when_stderr_is_read(tmp_path, exit_code, output, status, why,
                                                     stderr_read):
    """An output that is one plain number is read by the shell (no process per file);
    others are read whole. stderr is read only for a non-zero exit, whose reason
    quotes its tail."""
    ws = tmp_path / "ws"
    d = ws / "1"
    (d / jobdir.STARTED_MARKER).mkdir(parents=True)
    for name, text in ((jobdir.STARTED_FILE, "1\n"), (jobdir.ENDED_FILE, "2\n"),
                       (jobdir.STDERR_FILE, "solver warning\n"),
                       (jobdir.EXIT_CODE_FILE, exit_code + "\n")):
        (d / name).write_text(text)
    if output is not None:
        (d / jobdir.OUTPUT_FILE).write_text(output)
    job = RemoteJobDirs(LocalRunner(), str(ws)).read_jobs([1])[JobId(1)]
    state = job.state
    assert state.status is status
    if status is JobStatus.COMPLETED:
        assert state.output == float(output)
    else:
        assert why in state.reason
    assert (jobdir.STDERR_FILE in job.files) is stderr_read


def test_extra_files_are_read_and_written(tmp_path, sim):
    dirs = RemoteJobDirs(LocalRunner(), str(tmp_path / "ws"))
    dirs.create_job_dirs({JobId(5): b"1.0\n"})
    dirs.write_files({JobId(5): {"slurm_id": "12345\n"}})
    job = dirs.read_jobs([5], extra_files=("slurm_id",))[JobId(5)]
    assert job.files["slurm_id"] == b"12345\n"
    assert job.state.status is JobStatus.SUBMITTED


def test_commands_are_quoted_and_remote_relative_programs_use_the_remote_home():
    assert quote_command(["/opt/my sim/run", "it's"]) == "'/opt/my sim/run' 'it'\"'\"'s'"
    assert quote_command(["~/bin/sim", "$x"]) == "\"$HOME\"/bin/sim '$x'"
    assert quote_command(["bin/sim"]) == "\"$HOME\"/bin/sim"
    assert quote_command(["python3", "-c", "print(1)"]) == "python3 -c 'print(1)'"
    with pytest.raises(ValueError, match="digits"):
        RemoteJobDirs(LocalRunner(), "/tmp/x").read_jobs(["1; rm -rf /"])
    assert shlex.split(quote_command(["a b", "c"])) == ["a b", "c"]


def test_a_batch_larger_than_a_chunk_is_still_one_command(tmp_path, monkeypatch):
    from simjobs.interfaces import remote_jobdir

    monkeypatch.setattr(remote_jobdir, "CREATE_CHUNK", 7)
    runner = LocalRunner()
    calls = []
    run = runner.run
    runner.run = lambda *a, **k: calls.append(a) or run(*a, **k)
    dirs = RemoteJobDirs(runner, str(tmp_path / "ws"))
    inputs = {JobId(n): jobdir.format_input([n, -n]) for n in range(1, 31)}
    assert dirs.create_job_dirs(inputs) == {j: True for j in inputs}
    assert len(calls) == 1
    assert sorted(int(p.name) for p in (tmp_path / "ws").iterdir() if p.name.isdigit()) == \
        list(range(1, 31))
    assert (tmp_path / "ws" / "30" / "input.csv").read_bytes() == inputs[JobId(30)]


def test_a_host_that_never_speaks_is_unreachable_after_the_connect_timeout(tmp_path):
    """The connect timeout still bounds a host that accepts the connection and then
    says nothing (the person's time is left out of it, the host's is not)."""
    import socket
    import time

    from simjobs.interfaces.runner import HostUnreachableError, SSHSettings

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # the kernel accepts; nothing ever answers
    known = tmp_path / "known_hosts"
    known.write_text("")
    settings = SSHSettings("127.0.0.1", silent.getsockname()[1], "nobody",
                           known_hosts=str(known), connect_timeout=1.0)
    try:
        with SSHRunner(settings, use_ssh_config=False) as runner:
            started = time.monotonic()
            with pytest.raises(HostUnreachableError, match="no answer within 1 s"):
                runner.run("true")
            assert time.monotonic() - started < 10
    finally:
        silent.close()
