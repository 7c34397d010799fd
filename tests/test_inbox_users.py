"""The inbox is no way in for other local users (issue 8, item 1).

Run as root with two real unprivileged users, ``simjobs-test-a`` (the log's owner) and
``simjobs-test-b`` (another user), made here with ``useradd`` if missing, both in the
group ``simjobs-test-g``. Their processes are the real CLI and Python run through
``as_user.py``. The log lives in a directory other users can create files in: a sticky
world-writable one (like /tmp) and a group-writable one (a shared project directory).
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import records_of, wait_for
from simjobs.core.control import manager_holder

OWNER, OTHER, GROUP = "simjobs-test-a", "simjobs-test-b", "simjobs-test-g"
AS_USER = Path(__file__).with_name("as_user.py")


@pytest.fixture(scope="module")
def users() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root, to make and become two unprivileged users")
    if shutil.which("useradd") is None:
        pytest.fail("running as root, but there is no useradd to make the test users")
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", GROUP], check=True)
    for name in (OWNER, OTHER):
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", "--user-group", name],
                           check=True)
        if name not in grp.getgrnam(GROUP).gr_mem:
            subprocess.run(["usermod", "-a", "-G", GROUP, name], check=True)


def _owned_dir(parent: Path, user: str, mode: int) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"{user}-", dir=parent))
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)
    return path


@pytest.fixture(params=["sticky", "group"])
def place(request, users):
    """A directory other users can create files in, with the test's config and a
    simulator in it, and a private home for each user (0700) holding the owner's secret."""
    top = Path(tempfile.mkdtemp(prefix="simjobs-inbox-users-", dir="/tmp"))
    top.chmod(0o755)  # pytest's tmp_path is under a 0700 dir: the users could not reach it
    try:
        shared = top / "shared"
        shared.mkdir()
        if request.param == "sticky":
            shared.chmod(0o1777)
        else:
            os.chown(shared, 0, grp.getgrnam(GROUP).gr_gid)
            shared.chmod(0o2770)
        homes = {user: _owned_dir(top, user, 0o700) for user in (OWNER, OTHER)}
        # Runs until the gate file exists (or the directory is gone: teardown), so
        # jobs stay cancellable.
        (shared / "sim.sh").write_text(
            f'while [ -d {shared} ] && [ ! -e {shared}/gate ]; do sleep 0.05; done\n'
            'echo 3 > "$2"\n')
        (shared / "simjobs.toml").write_text(
            '[log]\npath = "runs.csv"\ninput_dim = 2\n\n[manager]\npolling_interval = 0.05\n'
            '\n[[interfaces]]\nname = "local"\nlevel = 1\nkind = "local"\n'
            f'command = "/bin/sh {shared}/sim.sh"\nworkspace = "work-a"\nmax_jobs = 2\n')
        # The other user's own config for the same log (its workspace is its own).
        (homes[OTHER] / "simjobs.toml").write_text(
            (shared / "simjobs.toml").read_text()
            .replace('"runs.csv"', json.dumps(str(shared / "runs.csv")))
            .replace('"work-a"', json.dumps(str(homes[OTHER] / "work"))))
        secret = homes[OWNER] / "secret"
        secret.write_text("the owner's secret\n")
        owner = pwd.getpwnam(OWNER)
        os.chown(secret, owner.pw_uid, owner.pw_gid)
        secret.chmod(0o600)
        yield shared, homes, secret
    finally:
        (top / "shared" / "gate").touch()
        shutil.rmtree(top, ignore_errors=True)


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "SIMJOBS_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"))
    return env


def as_user(user: str, homes: dict, cwd: Path, kind: str, *args: str,
            background: bool = False):
    """Run ``simjobs ARGS`` (kind "cli") or Python code (kind "code") as ``user``."""
    argv = [sys.executable, str(AS_USER), user, kind, *args]
    umask = 0o002 if cwd.stat().st_mode & 0o020 and not cwd.stat().st_mode & 0o1000 else 0o022

    def start():
        os.umask(umask)  # a shared group directory goes with a group umask

    options = dict(cwd=cwd, env=_env(homes[user]), stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True, preexec_fn=start)
    if background:
        return subprocess.Popen(argv, **options)
    return subprocess.run(argv, timeout=120, **options)


def one_line(result, code: int) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code and len(lines) == 1, (result.returncode, result.stderr)
    return lines[0]


PLANT = """
import json, os, sys
shared, secret, pid = sys.argv[1], sys.argv[2], sys.argv[3]
inbox = os.path.join(shared, "runs.csv.inbox")
done = []
try:
    os.mkdir(inbox)
    done.append("mkdir")
except OSError:
    pass
try:
    os.chmod(inbox, 0o777)
except OSError:
    pass
request = {"op": "submit", "inputs": [[66.0, 66.0]], "level": 1}
for name in ["0", "0-attack"]:
    try:
        with open(os.path.join(inbox, name + ".req"), "w") as f:
            json.dump(request, f)
        done.append(name + ".req")
    except OSError:
        pass
    # Every name a reply or its temporary file could take, pointing at the secret.
    for link in [name + ".resp", f"{name}.resp.{pid}.tmp", name + ".wait"]:
        try:
            os.symlink(secret, os.path.join(inbox, link))
            done.append(link)
        except OSError:
            pass
print(json.dumps(done))
"""


def plant(homes, shared: Path, secret: Path, pid: int = 0) -> list[str]:
    result = as_user(OTHER, homes, shared, "code", PLANT, str(shared), str(secret), str(pid))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=60)


def test_an_inbox_planted_before_the_owner_starts_is_refused(place):
    shared, homes, secret = place
    log = shared / "runs.csv"
    assert plant(homes, shared, secret)[:2] == ["mkdir", "0.req"]  # the attack is set up

    # The owner's manager runs, refusing the inbox in one line, and acts on nothing in it.
    manager = as_user(OWNER, homes, shared, "cli", "run", background=True)
    try:
        wait_for(lambda: (manager_holder(str(log)) or {}).get("pid") == manager.pid,
                 timeout=60, message="the owner's manager is up")
        result = as_user(OWNER, homes, shared, "cli", "submit", "1", "2")
        line = one_line(result, 1)
        assert "takes no requests" in line and "runs.csv.inbox" in line
        status = as_user(OWNER, homes, shared, "cli", "status")
        assert status.returncode == 0, status.stderr
    finally:
        out, err = stop(manager)
    warnings = [line for line in err.splitlines() if "inbox" in line]
    assert len(warnings) == 1, err
    assert str(shared / "runs.csv.inbox") in warnings[0] and OTHER in warnings[0]
    assert "restart the manager" in warnings[0] and "Traceback" not in err
    assert secret.read_text() == "the owner's secret\n"
    assert records_of(log) == {}  # the planted request never ran

    # With no manager running, the owner's commands act themselves: the CLI works.
    result = as_user(OWNER, homes, shared, "cli", "submit", "1", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert [r.coords for r in records_of(log).values()] == [(1.0, 2.0)]
    assert secret.read_text() == "the owner's secret\n"


def test_a_lock_file_planted_as_a_link_is_never_written_through(place):
    shared, homes, secret = place
    result = as_user(OTHER, homes, shared, "code",
                     "import os, sys; os.symlink(sys.argv[1], sys.argv[2])",
                     str(secret), str(shared / "runs.csv.lock"))
    assert result.returncode == 0, result.stderr
    for command in (["run", "--until-done"], ["submit", "1", "2"]):
        line = one_line(as_user(OWNER, homes, shared, "cli", *command), 1)
        assert "runs.csv.lock is a symbolic link" in line and "remove it" in line
    assert secret.read_text() == "the owner's secret\n"


def test_the_owners_inbox_takes_nothing_from_another_user(place):
    shared, homes, secret = place
    log = shared / "runs.csv"
    manager = as_user(OWNER, homes, shared, "cli", "run", background=True)
    try:
        holder = wait_for(lambda: manager_holder(str(log)), timeout=60,
                          message="the owner's manager is up")
        # The other user knows the manager's pid (the lock file says it) and tries the
        # attack on the running manager's inbox, then the owner hands a request over.
        planted = plant(homes, shared, secret, holder["pid"])
        result = as_user(OWNER, homes, shared, "cli", "submit", "1", "2", "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["managed_by"]["pid"] == manager.pid
        assert secret.read_text() == "the owner's secret\n"
        assert planted == []  # nothing of the attack could be done
        st = (shared / "runs.csv.inbox").lstat()
        assert st.st_uid == pwd.getpwnam(OWNER).pw_uid and st.st_mode & 0o7777 == 0o700
        assert [r.coords for r in records_of(log).values()] == [(1.0, 2.0)]

        # The other user reads the log: a read-only viewer works, and its submit and
        # cancel are refused naming the owner; its CLI too. Nothing reaches the log.
        viewer = as_user(OTHER, homes, shared, "code", VIEWER, str(log))
        assert viewer.returncode == 0, viewer.stderr
        seen = json.loads(viewer.stdout)
        assert seen["records"] == 1 and seen["readonly"]
        for key in ("reason", "submit", "cancel"):
            assert f"managed by user {OWNER}" in seen[key], seen
        for command in (["submit", "5", "6"], ["cancel", seen["job_id"]]):
            line = one_line(as_user(OTHER, homes, shared, "cli", *command, "--config",
                                    str(homes[OTHER] / "simjobs.toml")), 1)
            assert f"managed by user {OWNER}" in line and "only that user" in line
        status = as_user(OTHER, homes, shared, "cli", "status", "--log", str(log))
        assert status.returncode == 0 and seen["job_id"] in status.stdout, status.stderr
        assert len(records_of(log)) == 1
    finally:
        out, err = stop(manager)
    assert "Traceback" not in err
    assert secret.read_text() == "the owner's secret\n"


VIEWER = """
import json, sys
from simjobs.app.backend import WatchBackend
from simjobs.core.errors import SimjobsError
backend = WatchBackend(sys.argv[1])
try:
    records = backend.records()
    out = {"records": len(records), "readonly": backend.readonly,
           "reason": backend.readonly_reason, "job_id": records[0].job_id}
    for name, call in (("submit", lambda: backend.submit([(5.0, 6.0)], 1)),
                       ("cancel", lambda: backend.cancel([records[0].job_id]))):
        try:
            call()
            out[name] = "accepted"
        except SimjobsError as exc:
            out[name] = str(exc)
finally:
    backend.close()
print(json.dumps(out))
"""
