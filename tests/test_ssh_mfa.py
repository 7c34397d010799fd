"""Logins with a second factor (issue 12 item 1), against the real sshd of
``scripts/services/start-sshd-mfa.sh``: a key, then a TOTP code checked by PAM
(pam_google_authenticator). The codes are computed here (RFC 6238).

Transport: a code logs in; a connection that drops asks again, once; a wrong code is
refused with the server's message and not tried again until retry_logins; no prompter
fails at once in one line. CLI: on a real terminal (tmux) ``submit`` and ``run`` ask and
the job runs; without a terminal they fail at once with one line. The answers typed
appear in no file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from helpers import config_text, records_of, wait_for
from simjobs.core.login import LoginChallenge, retry_logins, set_login_prompter
from simjobs.core.types import JobStatus
from simjobs.interfaces.runner import LoginError, SSHSettings
from simjobs.interfaces.ssh_transport import SSHRunner
from tmux import TmuxSession, tmux_available

#: A wrong answer no file could hold by chance: grepped for after the tests type it.
WRONG = "wrong-code-Zq7x"
REFUSED = "Access denied: the verification code was wrong or has expired."
#: The simulator on the remote side: the first coordinate is the output.
SIM = "sh -c 'cut -d, -f1 \"$0\" > \"$1\"'"


def totp(secret: str, at: float | None = None) -> str:
    """The RFC 6238 code (HMAC-SHA1, 30 s steps, 6 digits) of a base32 secret."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int(time.time() if at is None else at) // 30)
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def settings_of(server: dict) -> SSHSettings:
    return SSHSettings(server["host"], int(server["port"]), server["user"], (server["key"],),
                       server["known_hosts"])


def sshd_log(server: dict) -> str:
    return (Path(server["dir"]) / "sshd" / "sshd.log").read_text(errors="replace")


def session_processes(server: dict) -> set[int]:
    """The sshd processes serving connections (children of the listener)."""
    listener = int((Path(server["dir"]) / "sshd" / "sshd.pid").read_text())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == listener:
                found.add(int(entry))
    return found


@pytest.fixture
def no_prompter():
    """No login prompter in this process for the test (put back after)."""
    previous = set_login_prompter(None)
    yield
    set_login_prompter(previous)


# ---- the transport --------------------------------------------------------------------------


def test_a_code_logs_in_and_a_dropped_connection_asks_again_once(ssh_mfa, no_prompter):
    asked: list[LoginChallenge] = []

    def prompter(challenge: LoginChallenge) -> list[str]:
        asked.append(challenge)
        return [totp(ssh_mfa["secret"])]

    before = session_processes(ssh_mfa)
    with SSHRunner(settings_of(ssh_mfa), interface="hpc", prompter=prompter,
                   use_ssh_config=False) as runner:
        assert runner.run("id -un").text().strip() == ssh_mfa["user"]
        # The server's own question, hidden as typed, naming the interface and host.
        assert [(p.text, p.echo) for p in asked[0].prompts] == [("Verification code: ", False)]
        assert (asked[0].interface, asked[0].host) == ("hpc", runner.host)
        assert runner.run("true").ok and len(asked) == 1  # one login, reused

        # The connection drops (its sshd process dies): the next call asks again, once.
        for pid in session_processes(ssh_mfa) - before:
            os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not runner.connected, timeout=30, message="the drop to be noticed")
        assert runner.run("id -un").text().strip() == ssh_mfa["user"]
        assert runner.run("true").ok
        assert len(asked) == 2 and runner.connects == 2


def test_a_wrong_code_is_refused_with_the_servers_message_and_not_tried_again(
        ssh_mfa, no_prompter):
    answers = [WRONG]
    asked: list[LoginChallenge] = []

    def prompter(challenge: LoginChallenge) -> list[str]:
        asked.append(challenge)
        return [answers.pop(0) if answers else totp(ssh_mfa["secret"])]

    with SSHRunner(settings_of(ssh_mfa), interface="hpc", prompter=prompter,
                   use_ssh_config=False) as runner:
        with pytest.raises(LoginError) as refused:
            runner.run("true")
        message = str(refused.value)
        assert REFUSED in message and "'hpc'" in message and "\n" not in message
        assert WRONG not in message
        failures = sshd_log(ssh_mfa).count("Failed keyboard-interactive/pam")
        assert failures >= 1

        # No new login by itself: every call fails at once, nothing reaches the server.
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(LoginError, match=re.escape(REFUSED)):
                runner.run("true")
            assert time.monotonic() - started < 1.0
        assert len(asked) == 1
        assert sshd_log(ssh_mfa).count("Failed keyboard-interactive/pam") == failures

        retry_logins()  # the person asks to log in again
        assert runner.run("id -un").text().strip() == ssh_mfa["user"]
        assert len(asked) == 2


def test_a_password_question_is_asked_once_and_answered(ssh_mfa, no_prompter, tmp_path,
                                                        monkeypatch):
    """The server also takes the code as a password (AuthenticationMethods
    publickey,password); a client whose ~/.ssh/config turns keyboard-interactive off
    gets the password question instead, once, refused or not."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        f"Host {ssh_mfa['host']}\n  KbdInteractiveAuthentication no\n")
    monkeypatch.setenv("HOME", str(home))
    answers = [WRONG]
    asked: list[LoginChallenge] = []

    def prompter(challenge: LoginChallenge) -> list[str]:
        asked.append(challenge)
        return [answers.pop(0) if answers else totp(ssh_mfa["secret"])]

    with SSHRunner(settings_of(ssh_mfa), interface="pw", prompter=prompter) as runner:
        with pytest.raises(LoginError, match="refused the login"):
            runner.run("true")
        assert [(p.text, p.echo) for c in asked for p in c.prompts] \
            == [(f"Password for {runner.host}: ", False)]
        assert sshd_log(ssh_mfa).count("Failed password for") >= 1
        retry_logins()
        assert runner.run("id -un").text().strip() == ssh_mfa["user"]
        assert len(asked) == 2


def test_a_prompter_that_raises_is_a_login_error_naming_only_its_type(ssh_mfa, no_prompter):
    """A prompter may fail in any way (the docstring allows any exception); its text may
    echo what was typed, so only its type reaches the message."""
    def prompter(challenge: LoginChallenge) -> list[str]:
        raise ValueError(f"bad answer {WRONG}")

    with SSHRunner(settings_of(ssh_mfa), interface="hpc", prompter=prompter,
                   use_ssh_config=False) as runner:
        with pytest.raises(LoginError) as failed:
            runner.run("true")
    message = str(failed.value)
    assert "the login prompter failed" in message and "ValueError" in message
    assert WRONG not in message and "\n" not in message


def test_a_failing_login_listener_does_not_reach_the_transport(ssh_mfa, no_prompter):
    from simjobs.core.login import on_login_failure

    told: list[str] = []

    def broken(error) -> None:
        raise RuntimeError("a listener's own fault")

    remove_broken = on_login_failure(broken)
    remove_told = on_login_failure(lambda error: told.append(str(error)))
    try:
        with SSHRunner(settings_of(ssh_mfa), interface="hpc", prompter=lambda c: [WRONG],
                       use_ssh_config=False) as runner:
            with pytest.raises(LoginError, match=re.escape(REFUSED)):
                runner.run("true")
    finally:
        remove_broken()
        remove_told()
    assert len(told) == 1 and REFUSED in told[0]  # the next listener was still told


def test_an_answer_just_before_the_calls_time_limit_lets_the_command_finish(
        ssh_mfa, no_prompter):
    """A person's answer stops the host's clock; an answer given just before the call's
    limit restarts it, instead of cancelling the command the moment after."""
    command_timeout = 3.0
    settings = settings_of(ssh_mfa)
    limit = command_timeout + settings.connect_timeout + 15.0  # SSHRunner.run's limit
    started = time.monotonic()

    def slow_person(challenge: LoginChallenge) -> list[str]:
        time.sleep(max(0.0, started + limit - 1.0 - time.monotonic()))
        return [totp(ssh_mfa["secret"])]

    with SSHRunner(settings, interface="hpc", prompter=slow_person,
                   use_ssh_config=False) as runner:
        # The command ends ~1 s after the limit counted from the call's start.
        result = runner.run("sleep 2; echo done", timeout=command_timeout)
    assert result.text() == "done\n"
    assert time.monotonic() - started > limit


def test_control_characters_of_the_server_never_reach_the_person_or_the_error(
        tmp_path, no_prompter):
    """A hostile or broken server's words (prompt, instructions, why it refused) go to
    the person's terminal and into error lines: escape sequences are taken out. The
    server is a real SSH server (asyncssh's) on loopback, saying what a PAM module could."""
    import asyncio
    import threading

    import asyncssh

    escape = "\x1b]0;pwned\x07\x1b[2J"
    host_key = asyncssh.generate_private_key("ssh-ed25519")

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
            return True

        def kbdint_auth_supported(self):
            return True

        def get_kbdint_challenge(self, username, lang, submethods):
            return ("", f"Site{escape} notice", "en", [(f"Code{escape}: ", False)])

        def validate_kbdint_response(self, username, responses):
            if responses:  # the answer: refused, with a message (no prompts)
                return ("", f"Denied{escape} go away\r\n", "en", [])
            return False

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder = {}

    def serve():
        asyncio.set_event_loop(loop)
        holder["server"] = loop.run_until_complete(asyncssh.create_server(
            Server, "127.0.0.1", 0, server_host_keys=[host_key]))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    port = holder["server"].sockets[0].getsockname()[1]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} "
                     f"{host_key.export_public_key().decode().strip()}\n")
    asked: list[LoginChallenge] = []

    def prompter(challenge: LoginChallenge) -> list[str]:
        asked.append(challenge)
        return ["123456"]

    try:
        settings = SSHSettings("127.0.0.1", port, "someone", known_hosts=str(known),
                               connect_timeout=10.0)
        with SSHRunner(settings, interface="hpc", prompter=prompter,
                       use_ssh_config=False) as runner:
            with pytest.raises(LoginError) as refused:
                runner.run("true")
    finally:
        loop.call_soon_threadsafe(holder["server"].close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    shown = [asked[0].instructions, asked[0].title] + [p.text for p in asked[0].prompts]
    assert "Code" in asked[0].prompts[0].text and "Site" in asked[0].instructions
    assert not any(ch in text for text in shown for ch in "\x1b\x07")
    message = str(refused.value)
    assert "Denied" in message and "go away" in message
    assert not any(ch in message for ch in "\x1b\x07\r\n"), repr(message)


def test_without_a_prompter_the_login_fails_at_once_in_one_line(ssh_mfa, no_prompter):
    with SSHRunner(settings_of(ssh_mfa), interface="hpc", use_ssh_config=False) as runner:
        started = time.monotonic()
        with pytest.raises(LoginError) as failed:
            runner.run("true")
        assert time.monotonic() - started < 10
    message = str(failed.value)
    assert "interface 'hpc'" in message and "Verification code:" in message
    assert 'transport = "openssh"' in message and "ControlMaster" in message
    assert "\n" not in message


# ---- the command line -----------------------------------------------------------------------


@pytest.fixture
def mfa_config(ssh_mfa, tmp_path):
    """A config with one SSH interface 'hpc' on the TOTP sshd (workspace removed after),
    and HOME in tmp_path, so every file a command writes is under tmp_path."""
    workspace = f"simjobs-mfa-test-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "simjobs.toml"
    config.write_text(config_text(polling_interval=0.2, interfaces=[{
        "kind": "ssh", "name": "hpc", "level": 1, "host": ssh_mfa["host"],
        "port": int(ssh_mfa["port"]), "user": ssh_mfa["user"], "identity_file": ssh_mfa["key"],
        "known_hosts": ssh_mfa["known_hosts"], "command": SIM, "workspace": workspace}]))
    (tmp_path / "home").mkdir()
    yield config
    remote_home = pwd.getpwnam(ssh_mfa["user"]).pw_dir
    shutil.rmtree(os.path.join(remote_home, workspace), ignore_errors=True)


def command_env(tmp_path: Path) -> dict[str, str]:
    """HOME and the XDG dirs (the log files among them) under tmp_path."""
    xdg = tmp_path / "xdg"
    return {"HOME": str(tmp_path / "home"), "TZ": "UTC",
            **{f"XDG_{kind}_HOME": str(xdg / kind.lower())
               for kind in ("CONFIG", "DATA", "STATE", "CACHE")}}


def files_holding(root: Path, text: str) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if text.encode() in path.read_bytes():
                    hits.append(str(path))
            except OSError:
                continue
    return hits


def test_without_a_terminal_submit_and_run_fail_at_once_in_one_line(
        mfa_config, tmp_path, no_prompter):
    env = {**os.environ, **command_env(tmp_path)}
    started = time.monotonic()
    submit = subprocess.run(
        [sys.executable, "-m", "simjobs", "submit", "--config", str(mfa_config), "-i", "3,4",
         "--timeout", "120"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        start_new_session=True,  # no terminal at all (else it asks on the one of pytest)
        env=env)
    assert time.monotonic() - started < 60  # not the 120 s of --timeout
    assert submit.returncode == 1
    lines = submit.stderr.strip().splitlines()
    assert len(lines) == 1, submit.stderr
    assert lines[0].startswith("simjobs: error: interface 'hpc'")
    assert 'transport = "openssh"' in lines[0]

    # `simjobs run` (under nohup: no terminal) resumes the pending job, meets the
    # question and stops at once, with the same one line.
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "simjobs", "run", "--config", str(mfa_config)],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        start_new_session=True,  # no terminal at all (else it asks on the one of pytest)
        env=env)
    assert time.monotonic() - started < 60
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == lines
    assert [r.status for r in records_of(tmp_path / "runs.csv").values()] \
        == [JobStatus.PENDING_SUBMIT]


@pytest.mark.skipif(not tmux_available(), reason="tmux is not installed (CI has it)")
def test_on_a_terminal_submit_and_run_ask_and_the_job_runs(ssh_mfa, mfa_config, tmp_path):
    def simjobs(*args: str) -> TmuxSession:
        return TmuxSession([sys.executable, "-m", "simjobs", *args, "--config",
                            str(mfa_config), "--log-level", "debug"],
                           width=400, height=40, cwd=str(tmp_path), env=command_env(tmp_path))

    # A wrong code: refused, the server's message shown, the command ends at once.
    with simjobs("submit", "-i", "3,4", "--timeout", "120") as term:
        term.wait_for(r"interface 'hpc' \(.*\) asks you to log in", timeout=60)
        term.wait_for(r"Verification code:", timeout=10)
        term.type(WRONG)
        term.send("Enter")
        screen = term.wait_for(re.escape(REFUSED), timeout=60)
        term.wait_until_exited(timeout=60)
    assert WRONG not in screen  # hidden as typed (the server said: no echo)

    # The right code: `simjobs run` asks (over its live table), the job runs to the end.
    with simjobs("run", "--until-done") as term:
        term.wait_for(r"Verification code:", timeout=60)
        term.type(totp(ssh_mfa["secret"]))
        term.send("Enter")
        term.wait_until_exited(timeout=120)
        screen = term.screen()
    records = list(records_of(tmp_path / "runs.csv").values())
    assert [(r.status, r.output) for r in records] == [(JobStatus.COMPLETED, 3.0)], screen

    # The answers typed are in no file: the log, the debug log files, HOME, the remote
    # side (the debug log did record the login: the grep looks in the right place).
    [log_file] = (tmp_path / "xdg" / "state").rglob("simjobs.log")
    assert "refused the login (Verification code:)" in log_file.read_text()
    assert files_holding(tmp_path, WRONG) == []
    remote = Path(pwd.getpwnam(ssh_mfa["user"]).pw_dir)
    assert files_holding(remote, WRONG) == []


@pytest.mark.skipif(not tmux_available(), reason="tmux is not installed (CI has it)")
def test_on_a_terminal_a_refused_code_ends_run_until_done_with_the_servers_message(
        ssh_mfa, mfa_config, tmp_path, no_prompter):
    """The CLI never asks again by itself, so after a refused code the interface is dead
    for the process: `simjobs run --until-done` ends at once with the server's message
    and a non-zero status, instead of waiting for ever."""
    env = {**os.environ, **command_env(tmp_path)}
    submit = subprocess.run(  # no terminal: the job stays pending, for `run` to resume
        [sys.executable, "-m", "simjobs", "submit", "--config", str(mfa_config), "-i", "3,4"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        start_new_session=True,  # no terminal at all (else it asks on the one of pytest)
        env=env)
    assert submit.returncode == 1, submit.stderr
    command = f"{shlex.quote(sys.executable)} -m simjobs run --until-done --config " \
              f"{shlex.quote(str(mfa_config))}; echo EXIT=$?"
    with TmuxSession(["sh", "-c", command], width=300, height=40, cwd=str(tmp_path),
                     env=command_env(tmp_path)) as term:
        term.wait_for(r"Verification code:", timeout=60)
        term.type(WRONG)
        term.send("Enter")
        screen = term.wait_for(r"EXIT=\d+", timeout=90)
    assert "EXIT=1" in screen, screen
    assert REFUSED in screen and WRONG not in screen
    assert [r.status for r in records_of(tmp_path / "runs.csv").values()] \
        == [JobStatus.PENDING_SUBMIT]


def stty_echo(screen: str) -> bool:
    """Whether the ``stty -a`` on ``screen`` shows echo on (``echo``, not ``-echo``)."""
    flags = screen.split("STTY", 1)[1].split()
    assert "echo" in flags or "-echo" in flags, screen
    return "echo" in flags


@pytest.mark.skipif(not tmux_available(), reason="tmux is not installed (CI has it)")
def test_ctrl_c_at_a_hidden_question_leaves_the_terminal_echoing(
        ssh_mfa, mfa_config, tmp_path):
    """The question is read in a daemon thread with echo off; Ctrl-C ends the command
    from the main thread: the terminal's settings must still be put back."""
    # (The shell traps ^C, so that it goes on to stty once simjobs has ended.)
    command = f"trap : INT; {shlex.quote(sys.executable)} -m simjobs submit -i 3,4 " \
              f"--timeout 120 --config {shlex.quote(str(mfa_config))}; echo EXIT=$?; " \
              "echo STTY; stty -a"
    with TmuxSession(["sh", "-c", command], width=300, height=40, cwd=str(tmp_path),
                     env=command_env(tmp_path)) as term:
        term.wait_for(r"Verification code:", timeout=60)
        term.send("C-c")
        screen = term.wait_for(r"STTY[\s\S]*eof", timeout=60)
    assert "EXIT=0" not in screen
    assert stty_echo(screen), screen


@pytest.mark.skipif(not tmux_available(), reason="tmux is not installed (CI has it)")
def test_in_a_terminal_with_stdin_from_a_file_the_question_is_asked(
        ssh_mfa, mfa_config, tmp_path):
    """The question is asked on /dev/tty, so stdin redirected from a file does not
    mean that no one is there."""
    command = f"{shlex.quote(sys.executable)} -m simjobs submit -i 3,4 --timeout 120 " \
              f"--config {shlex.quote(str(mfa_config))} < /dev/null; echo EXIT=$?"
    with TmuxSession(["sh", "-c", command], width=300, height=40, cwd=str(tmp_path),
                     env=command_env(tmp_path)) as term:
        term.wait_for(r"Verification code:", timeout=60)
        term.type(totp(ssh_mfa["secret"]))
        term.send("Enter")
        screen = term.wait_for(r"EXIT=\d+", timeout=90)
    assert "EXIT=0" in screen, screen
    assert [r.status for r in records_of(tmp_path / "runs.csv").values()] \
        != [JobStatus.PENDING_SUBMIT]


# ---- the app --------------------------------------------------------------------------------


@pytest.fixture
def mfa_backend(ssh_mfa, tmp_path):
    """A real ManagedBackend on a new log with one SSH interface 'hpc' on the TOTP sshd."""
    from simjobs.app.backend import ManagedBackend
    from simjobs.core.log import SimulationsLog
    from simjobs.interfaces.ssh import SSHInterface

    workspace = f"simjobs-mfa-test-{uuid.uuid4().hex[:8]}"
    interface = SSHInterface("hpc", 1, ssh_mfa["host"], SIM, workspace,
                             port=int(ssh_mfa["port"]), user=ssh_mfa["user"],
                             identity_files=[ssh_mfa["key"]],
                             known_hosts=ssh_mfa["known_hosts"])
    log = SimulationsLog(tmp_path / "runs.csv", 2)
    backend = ManagedBackend(log, [interface], polling_interval=0.2)
    yield backend
    backend.close()
    log.close()
    remote_home = pwd.getpwnam(ssh_mfa["user"]).pw_dir
    shutil.rmtree(os.path.join(remote_home, workspace), ignore_errors=True)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*("minus" if ch == "-" else ch for ch in text))


async def login_screen(app, pilot):
    from app_fixtures import until
    from simjobs.app.screens.login import LoginScreen

    from textual.widgets import Input

    # Focused too: keys typed before the input has the focus would be lost.
    await until(pilot, lambda: isinstance(app.screen, LoginScreen)
                and isinstance(app.focused, Input), timeout=60,
                message="the login screen, its input focused")
    return app.screen


def test_the_app_asks_in_a_modal_and_the_job_runs(ssh_mfa, mfa_backend, tmp_path):
    import asyncio

    from textual.widgets import Input, Label, Static

    from app_fixtures import until
    from simjobs.app.app import SimjobsApp

    async def scenario():
        app = SimjobsApp(mfa_backend, close_backend=False, live_stats=False)
        async with app.run_test(size=(100, 30)) as pilot:
            [job_id] = await asyncio.to_thread(mfa_backend.submit, [(5.0, 6.0)], 1)
            screen = await login_screen(app, pilot)
            assert "interface 'hpc'" in str(screen.query_one("#title", Static).render())
            assert [str(label.render()) for label in screen.query(Label)] \
                == ["Verification code:"]
            [answer] = screen.query(Input)
            assert answer.password  # the server said: no echo
            await type_text(pilot, totp(ssh_mfa["secret"]))
            await pilot.press("enter")
            await until(pilot, lambda: not screen.is_attached, timeout=10)

            def completed():
                record = mfa_backend.get_record(job_id)
                return record is not None and record.status is JobStatus.COMPLETED

            await until(pilot, completed, timeout=120, message="the job to complete")
            assert mfa_backend.get_record(job_id).output == 5.0

    asyncio.run(scenario())


def test_the_app_shows_a_refused_code_and_asks_again_only_when_told(
        ssh_mfa, mfa_backend, tmp_path):
    import asyncio

    from app_fixtures import notes, until
    from simjobs.app.app import SimjobsApp
    from simjobs.app.screens.login import LoginScreen

    def health() -> tuple[str, str]:
        [info] = mfa_backend.interfaces()
        return info.health, info.health_message

    async def scenario():
        app = SimjobsApp(mfa_backend, close_backend=False, live_stats=False)
        async with app.run_test(size=(100, 30)) as pilot:
            [job_id] = await asyncio.to_thread(mfa_backend.submit, [(7.0, 8.0)], 1)
            screen = await login_screen(app, pilot)
            await type_text(pilot, WRONG)
            await pilot.press("enter")
            await until(pilot, lambda: REFUSED in health()[1], timeout=60,
                        message=lambda: f"the refusal in the health, which is {health()}")
            assert health()[0] == "unreachable" and WRONG not in health()[1]
            # Said where the person looks: a notification with the server's words.
            await until(pilot, lambda: any(REFUSED in n for n in notes(app)), timeout=10,
                        message=lambda: f"a notification of the refusal, in {notes(app)}")

            # Polls go on (every 0.2 s) and no login is tried by itself: nothing new in
            # the server's log, no new question. (Absence needs time to show: 2 s.)
            failures = sshd_log(ssh_mfa).count("Failed keyboard-interactive/pam")
            await pilot.pause(2.0)
            assert sshd_log(ssh_mfa).count("Failed keyboard-interactive/pam") == failures
            assert not isinstance(app.screen, LoginScreen)
            assert REFUSED in health()[1]

            await pilot.press("L")  # log in again
            screen = await login_screen(app, pilot)
            await type_text(pilot, totp(ssh_mfa["secret"]))
            await pilot.press("enter")

            def completed():
                record = mfa_backend.get_record(job_id)
                return record is not None and record.status is JobStatus.COMPLETED

            await until(pilot, completed, timeout=120, message="the job to complete")

    asyncio.run(scenario())
    assert files_holding(tmp_path, WRONG) == []


def test_escape_in_the_app_gives_up_and_nothing_is_sent_until_asked_again(
        ssh_mfa, mfa_backend, tmp_path):
    import asyncio

    from app_fixtures import notes, until
    from simjobs.app.app import SimjobsApp
    from simjobs.app.screens.login import LoginScreen

    async def scenario():
        app = SimjobsApp(mfa_backend, close_backend=False, live_stats=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await asyncio.to_thread(mfa_backend.submit, [(1.0, 2.0)], 1)
            await login_screen(app, pilot)
            failures = sshd_log(ssh_mfa).count("Failed keyboard-interactive/pam")
            await pilot.press("escape")
            await until(pilot, lambda: any("cancelled in the app" in n for n in notes(app)),
                        timeout=30, message=lambda: f"a notification, in {notes(app)}")
            [info] = mfa_backend.interfaces()
            await until(pilot, lambda: info.health == "unreachable", timeout=30)
            assert "was not answered (cancelled in the app)" in info.health_message
            # (Absence needs time to show: 2 s of polls every 0.2 s.)
            await pilot.pause(2.0)
            assert not isinstance(app.screen, LoginScreen)
            # Nothing was answered, so the server saw no code at all.
            assert sshd_log(ssh_mfa).count("Failed keyboard-interactive/pam") == failures
            await pilot.press("L")
            await login_screen(app, pilot)

    asyncio.run(scenario())


# ---- the terminal prompter on a real pty ------------------------------------------------------


def read_available(fd: int, until: bytes, timeout: float = 10) -> bytes:
    import select

    data = b""
    deadline = time.monotonic() + timeout
    while until not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            data += os.read(fd, 4096)
    return data


def test_the_terminal_prompter_hides_a_secret_answer_and_gives_up_in_time():
    import threading

    from simjobs.cli.login import TerminalPrompter
    from simjobs.core.login import LoginCancelled, LoginPrompt

    master, slave = os.openpty()
    try:
        prompter = TerminalPrompter(timeout=30, tty=os.ttyname(slave))
        challenge = LoginChallenge("hpc", "me@login:22", "Site policy: codes expire.",
                                   (LoginPrompt("Verification code: ", False),
                                    LoginPrompt("Project: ", True)))
        result: list = []
        asking = threading.Thread(target=lambda: result.append(prompter(challenge)))
        asking.start()
        shown = read_available(master, b"Verification code: ")
        assert b"interface 'hpc' (me@login:22) asks you to log in" in shown
        assert b"Site policy: codes expire." in shown
        os.write(master, b"123456\n")
        shown = read_available(master, b"Project: ")
        assert b"123456" not in shown  # not echoed
        os.write(master, b"sims\n")
        asking.join(30)
        assert result == [["123456", "sims"]]
        assert b"sims" in read_available(master, b"sims", timeout=2)  # echoed as asked

        with pytest.raises(LoginCancelled, match="within 0.3 s"):
            TerminalPrompter(timeout=0.3, tty=os.ttyname(slave))(challenge)
    finally:
        os.close(master)
        os.close(slave)
