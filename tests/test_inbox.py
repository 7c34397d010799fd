"""Requests handed to a running manager run exactly once (issue 8, item 5).

Real processes throughout: ``simjobs run`` in the background, the CLI as a process, real
SIGSTOP/SIGKILL/SIGINT. Where a test needs a manager that has taken a request but not
yet answered, the manager runs in this process with its ``submit_many`` held on an
event (fault injection); everything else is the real thing.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import records_of, wait_for
from simjobs.config import load_config
from simjobs.core import JobManager
from simjobs.core.control import JOURNAL_NAME, REPLY_TTL, hand_over, manager_holder
from simjobs.core.files import atomic_write


def inbox_of(tmp_path: Path) -> Path:
    return tmp_path / "runs.csv.inbox"


def names(inbox: Path, suffix: str) -> list[str]:
    return sorted(p.name for p in inbox.iterdir() if p.name.endswith(suffix)) \
        if inbox.is_dir() else []


def journal(inbox: Path) -> dict[str, dict]:
    entries = {}
    for line in (inbox / JOURNAL_NAME).read_text().splitlines():
        entry = json.loads(line)
        entries[entry["id"]] = entry
    return entries


def start_manager(background_run, config: Path, log: Path) -> subprocess.Popen:
    proc = background_run(config)
    wait_for(lambda: (manager_holder(str(log)) or {}).get("pid") == proc.pid, timeout=60,
             message="the manager is up")
    return proc


def client(config: Path, *args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "simjobs", "submit", "--config", str(config), *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def held_manager(make_config, tmp_path):
    """A manager in this process whose ``submit_many`` waits until ``release`` is set:
    it takes a request and then cannot answer until the test says so."""
    config_path = make_config()
    config = load_config(config_path)
    release, entered = threading.Event(), threading.Event()
    log = config.open_log()
    manager = JobManager(log, config.build_interfaces(), polling_interval=0.05)
    original = manager.submit_many

    def held(*args, **kwargs):
        entered.set()
        release.wait(120)
        return original(*args, **kwargs)

    manager.submit_many = held
    yield config_path, manager, release, entered
    release.set()
    manager.shutdown()
    log.close()


def test_a_repeated_request_id_is_answered_from_the_journal_not_run_again(
        make_config, tmp_path, background_run):
    config, log = make_config(), tmp_path / "runs.csv"
    proc = start_manager(background_run, config, log)
    request = {"op": "submit", "inputs": [[1.0, 2.0]], "level": 1}
    first = hand_over(log, request, timeout=60, request_id="repeat-me")
    assert first["ok"] and len(first["job_ids"]) == 1
    assert hand_over(log, request, timeout=60, request_id="repeat-me") == first

    # The journal outlives its manager: a SIGKILL'd one's successor answers the repeat.
    proc.kill()
    proc.wait()
    start_manager(background_run, config, log)
    assert hand_over(log, request, timeout=60, request_id="repeat-me") == first
    assert list(records_of(log)) == first["job_ids"]
    # Replies are removed once read; nothing else is left behind (the manager removes
    # its .taken just after writing the reply).
    wait_for(lambda: sorted(p.name for p in inbox_of(tmp_path).iterdir()) == [JOURNAL_NAME],
             timeout=30, message="only the journal is left in the inbox")


def test_a_request_left_by_a_killed_client_and_manager_is_never_run(
        make_config, tmp_path, background_run):
    config, log = make_config(), tmp_path / "runs.csv"
    inbox = inbox_of(tmp_path)
    proc = start_manager(background_run, config, log)
    os.kill(proc.pid, signal.SIGSTOP)  # it cannot take the request
    sender = client(config, "5", "6", "--timeout", "300", cwd=tmp_path)
    (request,) = wait_for(lambda: names(inbox, ".req"), timeout=60, message="request sent")
    sender.kill()
    sender.communicate()
    proc.kill()  # a stopped process dies of SIGKILL too
    proc.wait()

    start_manager(background_run, config, log)
    request_id = request[: -len(".req")]
    wait_for(lambda: request_id in journal(inbox) and not names(inbox, ".taken"),
             timeout=60, message="the next manager deals with the left-over request")
    entry = journal(inbox)[request_id]
    assert entry["reply"]["dropped"] and "nothing was done" in entry["reply"]["error"]
    assert not names(inbox, ".req") and not names(inbox, ".taken")
    assert not names(inbox, ".wait")
    assert records_of(log) == {}


def test_ctrl_c_withdraws_a_request_the_manager_has_not_taken(
        make_config, tmp_path, background_run, cli):
    config, log = make_config(), tmp_path / "runs.csv"
    inbox = inbox_of(tmp_path)
    proc = start_manager(background_run, config, log)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        sender = client(config, "5", "6", "--timeout", "300", cwd=tmp_path)
        wait_for(lambda: names(inbox, ".req"), timeout=60, message="request sent")
        sender.send_signal(signal.SIGINT)
        out, err = sender.communicate(timeout=60)
        assert sender.returncode == 130, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "withdrawn" in lines[0] and "nothing was done" in lines[0]
        assert not names(inbox, ".req") and not names(inbox, ".wait")
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    # The manager goes on with the next request only: the withdrawn one never runs.
    result = cli("submit", "--config", config, "7", "8", "--json")
    assert result.returncode == 0, result.stderr
    (job_id,) = json.loads(result.stdout)["job_ids"]
    assert [r.coords for r in records_of(log).values()] == [(7.0, 8.0)]
    assert list(records_of(log)) == [job_id]


def test_ctrl_c_after_the_manager_took_the_request_says_so(held_manager, tmp_path):
    config, manager, release, entered = held_manager
    log = tmp_path / "runs.csv"
    sender = client(config, "5", "6", "--timeout", "300", cwd=tmp_path)
    assert entered.wait(60), sender.stderr
    sender.send_signal(signal.SIGINT)
    out, err = sender.communicate(timeout=60)
    assert sender.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "already taken" in lines[0] and "simjobs status` shows whether it ran" in lines[0]
    release.set()
    wait_for(lambda: len(records_of(log)) == 1, timeout=60, message="the request ran")
    assert [r.coords for r in records_of(log).values()] == [(5.0, 6.0)]


def test_a_timed_out_client_says_what_is_true_and_never_advises_a_retry(
        held_manager, tmp_path):
    config, manager, release, entered = held_manager
    log = tmp_path / "runs.csv"
    # Long enough for the manager (serving every 0.2 s) to take it on a busy machine.
    sender = client(config, "5", "6", "--timeout", "8", cwd=tmp_path)
    out, err = sender.communicate(timeout=120)
    assert entered.is_set()
    assert sender.returncode == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "sent as request " in lines[0] and "has not answered" in lines[0]
    assert "simjobs status` shows whether it ran" in lines[0]
    assert "retry" not in err
    release.set()
    wait_for(lambda: len(records_of(log)) == 1, timeout=60, message="the request ran once")


def test_a_request_not_taken_in_time_is_withdrawn(make_config, tmp_path, background_run,
                                                  cli):
    config, log = make_config(), tmp_path / "runs.csv"
    proc = start_manager(background_run, config, log)
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        result = cli("submit", "--config", config, "5", "6", "--timeout", "1")
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert result.returncode == 1
    assert "withdrawn and nothing was done" in result.stderr, result.stderr
    assert "retry" not in result.stderr
    assert not names(inbox_of(tmp_path), ".req")
    assert cli("submit", "--config", config, "7", "8").returncode == 0
    assert [r.coords for r in records_of(log).values()] == [(7.0, 8.0)]


BAD_REQUESTS = [
    ("[1, 2]", "a request must be a JSON object, not a list"),
    ("null", "a request must be a JSON object, not null"),
    ('{"op": "submit", "inputs": [[1, 2]], "level": 1e400}', "'level' is inf"),
    ('{"op": "submit", "inputs": [[1, 2]], "level": true}', "'level' is true/false"),
    ('{"op": "submit", "level": 1}', "'inputs' is missing"),
    ('{"op": "submit", "inputs": [[1, "x"]]}', "inputs[0][1] is a string, not a number"),
    ('{"op": "submit", "inputs": [[1, 1e999]]}', "inputs[0][1] is inf, not a finite"),
    ('{"op": "submit", "inputs": [[1, 1' + "0" * 400 + ']]}',
     "inputs[0][1] is 100000000000... (401 digits), not a finite number"),
    ('{"inputs": [[1, 2]]}', "'op' is missing"),
    ('{"op": "launch"}', "'op' is 'launch'; use one of submit, cancel, resubmit"),
    ('{"op": "cancel", "job_ids": "7"}', "'job_ids' is a string; give a list of job ids"),
    ('{"op": "resubmit"}', "'job_ids' is missing"),
    ("{not json", "bad request:"),
]


def test_a_malformed_request_gets_an_error_reply_and_the_manager_goes_on(
        make_config, tmp_path, background_run, cli):
    config, log = make_config(), tmp_path / "runs.csv"
    inbox = inbox_of(tmp_path)
    proc = start_manager(background_run, config, log)
    dir_fd = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY)
    waits = []
    try:
        for i, (body, _) in enumerate(BAD_REQUESTS):
            # As a client does: a locked .wait (someone waits), then the request.
            fd = os.open(f"bad{i}.wait", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600,
                         dir_fd=dir_fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
            waits.append(fd)
            atomic_write(f"bad{i}.req", body, private=True, dir_fd=dir_fd)
        for i, (_, expected) in enumerate(BAD_REQUESTS):
            reply_path = inbox / f"bad{i}.resp"
            wait_for(reply_path.exists, timeout=60, message=f"a reply to {BAD_REQUESTS[i][0]}")
            reply = json.loads(reply_path.read_text())
            assert reply["ok"] is False and expected in reply["error"], (BAD_REQUESTS[i], reply)
            assert "\n" not in reply["error"]
    finally:
        for fd in waits:
            os.close(fd)
        os.close(dir_fd)
    assert cli("submit", "--config", config, "7", "8").returncode == 0
    assert [r.coords for r in records_of(log).values()] == [(7.0, 8.0)]
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "Traceback" not in out


def test_replies_nobody_read_are_removed_after_a_day(make_config, tmp_path, background_run):
    config, log = make_config(), tmp_path / "runs.csv"
    inbox = inbox_of(tmp_path)
    inbox.mkdir(mode=0o700)
    old = time.time() - REPLY_TTL - 3600
    for name in ("old.resp", ".old.resp.0123456789ab.tmp", "old.wait"):
        (inbox / name).write_text("{}")
        os.utime(inbox / name, (old, old))
    (inbox / "fresh.resp").write_text("{}")
    start_manager(background_run, config, log)
    wait_for(lambda: not (inbox / "old.resp").exists(), timeout=60,
             message="the stale reply is removed")
    assert not (inbox / ".old.resp.0123456789ab.tmp").exists()
    assert not (inbox / "old.wait").exists()
    assert (inbox / "fresh.resp").exists()


def test_a_manager_refuses_its_own_inbox_when_others_can_write_it(make_config, tmp_path,
                                                                   background_run, cli):
    config, log = make_config(), tmp_path / "runs.csv"
    inbox = inbox_of(tmp_path)
    inbox.mkdir()
    inbox.chmod(0o770)  # as an older simjobs under a group umask made it
    proc = start_manager(background_run, config, log)
    result = cli("submit", "--config", config, "1", "2")
    assert result.returncode == 1 and "takes no requests" in result.stderr, result.stderr
    out, err = stop_manager(proc)
    (line,) = [line for line in err.splitlines() if "inbox" in line]
    assert f"{inbox} can be written by other users (mode 770)" in line
    assert "'chmod 700'" in line
    assert records_of(log) == {}


def stop_manager(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=60)


def _send_raw(inbox: Path, request_id: str, make) -> dict:
    """Put ``request_id.req`` in place with ``make(path)`` while a locked .wait says
    that someone waits; return the manager's reply."""
    wait = os.open(inbox / f"{request_id}.wait", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(wait, fcntl.LOCK_EX)
        make(inbox / f"{request_id}.req")
        reply = inbox / f"{request_id}.resp"
        wait_for(reply.exists, timeout=60, message=f"a reply to {request_id}")
        return json.loads(reply.read_text())
    finally:
        os.close(wait)


def test_only_regular_request_files_of_the_managers_user_are_acted_on(
        make_config, tmp_path, background_run):
    config, log = make_config(), tmp_path / "runs.csv"
    inbox = inbox_of(tmp_path)
    start_manager(background_run, config, log)
    body = json.dumps({"op": "submit", "inputs": [[1, 2]], "level": 1})
    elsewhere = tmp_path / "request.json"
    elsewhere.write_text(body)

    reply = _send_raw(inbox, "link", lambda p: p.symlink_to(elsewhere))
    assert not reply["ok"] and "link.taken is a symbolic link" in reply["error"]
    reply = _send_raw(inbox, "fifo", lambda p: os.mkfifo(p, 0o600))
    assert not reply["ok"] and "fifo.taken is not a regular file" in reply["error"]
    if os.geteuid() == 0:  # only root can put another user's file in a 0700 inbox
        def foreign(path):
            path.write_text(body)
            os.chown(path, 54321, 54321)

        reply = _send_raw(inbox, "foreign", foreign)
        assert not reply["ok"] and "belongs to uid 54321" in reply["error"]
    assert records_of(log) == {}


def test_a_request_its_manager_was_killed_acting_on_is_answered_never_run_again(
        make_config, tmp_path, background_run):
    """The state a manager SIGKILLed inside a request leaves: the request claimed
    (``.taken``), ``started`` in the journal, no ``done``; the journal's last line cut by
    the kill. The next manager answers it from that, and does not run it."""
    config, log = make_config(), tmp_path / "runs.csv"
    inbox = inbox_of(tmp_path)
    inbox.mkdir(mode=0o700)
    body = {"id": "mid-act", "op": "submit", "inputs": [[1, 2]], "level": 1}
    (inbox / "mid-act.taken").write_text(json.dumps(body))
    (inbox / JOURNAL_NAME).write_text(
        json.dumps({"id": "mid-act", "state": "started", "time": time.time()}) + "\n"
        + '{"id": "cut-sh')
    start_manager(background_run, config, log)
    reply_path = inbox / "mid-act.resp"
    wait_for(reply_path.exists, timeout=60, message="a reply to the interrupted request")
    reply = json.loads(reply_path.read_text())
    assert reply["ok"] is False and reply["interrupted"]
    assert "stopped while acting on request mid-act" in reply["error"]
    assert "shows what was" in reply["error"]
    wait_for(lambda: not (inbox / "mid-act.taken").exists(), timeout=30)
    assert journal(inbox)["mid-act"]["state"] == "done"  # every line whole again
    assert records_of(log) == {}
