"""The test-server scripts of scripts/services/ act only in directories of their own.

They run as root, write env files, logs, keys and a TOTP secret into a state directory
in /tmp, and callers eval the env file: a directory another user made there first would
hand that user root. ``state_dir`` of ``scripts/services/lib.sh`` (sourced by every
start script) refuses one; these tests run it in real bash, as root, against directories
made by a second real user (``simjobs-test-a``, made with ``useradd`` when missing).
Also: apt_install's policy-rc.d goes away however the script exits, and the exit hooks
add up instead of replacing each other.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parent.parent / "scripts" / "services"
LIB = SERVICES / "lib.sh"
OTHER = "simjobs-test-a"
FREE_PORT = 2239  # no server of the suite uses it (2222-2227 are taken)


@pytest.fixture(scope="module")
def other_user() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        pytest.skip("needs root: the start scripts run as root, and a second user is made")
    try:
        return pwd.getpwnam(OTHER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", OTHER], check=True)
        return pwd.getpwnam(OTHER)


def state_dir(path: Path | str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``state_dir PATH`` of lib.sh in a script named like a start script."""
    script = f'set -euo pipefail; . "{LIB}"; s="$(state_dir "$1")"; echo "$s"'
    return subprocess.run(["bash", "-c", script, "start-x.sh", str(path)], cwd=cwd,
                          capture_output=True, text=True, timeout=30)


def refused(result: subprocess.CompletedProcess, path: Path, why: str) -> None:
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"start-x: ERROR: state directory {path}: ") and why in lines[0]


def test_a_fresh_path_is_created_mode_0700_and_then_accepted(other_user, tmp_path):
    path = tmp_path / "state"
    first = state_dir(f"{path}//")
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"{path}\n"
    st = path.lstat()
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
    assert st.st_uid == 0
    path.chmod(0o755)  # the sshd scripts open it for reading: still only root's to write
    again = state_dir("state", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == f"{path}\n"


def test_a_directory_another_user_made_is_refused_and_left_as_it_is(other_user, tmp_path):
    tmp_path.chmod(0o755)
    path = tmp_path / "state"
    path.mkdir(mode=0o755)
    os.chown(path, other_user.pw_uid, other_user.pw_gid)
    planted = path / "env"
    planted.write_text("export X=$(id)\n")
    refused(state_dir(path), path, f"belongs to uid {other_user.pw_uid}")
    assert [p.name for p in path.iterdir()] == ["env"]
    assert planted.read_text() == "export X=$(id)\n"
    assert path.stat().st_mode & 0o777 == 0o755


def test_a_symlink_is_refused_even_to_a_directory_of_ours(other_user, tmp_path):
    ours = tmp_path / "ours"
    ours.mkdir(mode=0o700)
    link = tmp_path / "state"
    link.symlink_to(ours)
    for given in (link, f"{link}/"):
        refused(state_dir(given), link, "is a symlink")
    assert link.is_symlink() and list(ours.iterdir()) == []


def test_another_users_symlink_on_the_way_is_refused(other_user):
    # In sticky /tmp, a link another user made to a directory root would accept.
    target = Path(tempfile.mkdtemp(prefix="simjobs-statedir-"))
    link = Path(tempfile.mktemp(prefix="simjobs-statedir-link-", dir="/tmp"))
    try:
        subprocess.run(["runuser", "-u", OTHER, "--", "ln", "-s", str(target), str(link)],
                       check=True)
        refused(state_dir(link / "state"), link / "state",
                f"{link} on its path is a symlink of uid {other_user.pw_uid}")
        assert list(target.iterdir()) == []
    finally:
        link.unlink(missing_ok=True)
        shutil.rmtree(target)


@pytest.mark.parametrize("mode", [0o775, 0o757, 0o1777])
def test_a_directory_others_can_write_is_refused(other_user, tmp_path, mode):
    path = tmp_path / "state"
    path.mkdir()
    path.chmod(mode)
    refused(state_dir(path), path, f"is writable by group or others (mode {mode:o})")


def test_a_directory_under_one_another_user_owns_is_refused(other_user, tmp_path):
    tmp_path.chmod(0o755)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, other_user.pw_uid, other_user.pw_gid)
    refused(state_dir(theirs / "state"), theirs / "state",
            f"{theirs} above it belongs to uid {other_user.pw_uid}")
    assert list(theirs.iterdir()) == []


def test_a_file_or_a_missing_parent_is_refused(other_user, tmp_path):
    (tmp_path / "file").write_text("")
    refused(state_dir(tmp_path / "file"), tmp_path / "file", "is not a directory")
    refused(state_dir(tmp_path / "no" / "state"), tmp_path / "no" / "state",
            "its parent directory does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("script", ["start-sshd.sh", "start-sshd-pair.sh", "start-sge.sh"])
def test_start_scripts_refuse_a_state_dir_another_user_made(other_user, script):
    # The real start scripts: before the fix start-sshd.sh took such a directory (mkdir
    # -p), made it 0755 and started a root sshd whose config and keys lay in the other
    # user's hands; start-sge.sh would have written its env file there. (start-slurm.sh
    # and start-sshd-mfa.sh refuse the same way, checked by hand: run here against a
    # regression they would touch the shared Slurm's /etc/slurm/slurm.conf link and the
    # shared MFA sshd's PAM file.)
    if script == "start-sge.sh" and not Path("/usr/sbin/sge_qmaster").exists():
        pytest.skip("Grid Engine not installed: start-sge.sh would install it first")
    ports = (FREE_PORT, FREE_PORT - 1, FREE_PORT - 2)
    assert not any(map(_listening, ports)), f"ports {ports} must be free for this test"
    path = Path(tempfile.mkdtemp(prefix="simjobs-statedir-start-"))
    os.chown(path, other_user.pw_uid, other_user.pw_gid)
    env = {**os.environ, "SIMJOBS_SSH_PORT": str(ports[0]),
           "SIMJOBS_SSHPAIR_TARGET_PORT": str(ports[1]),
           "SIMJOBS_SSHPAIR_JUMP_PORT": str(ports[2]), "SIMJOBS_SGE_PROBE": "0"}
    try:
        out = subprocess.run(["bash", str(SERVICES / script), str(path)], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 1 and out.stdout == ""
        assert out.stderr.splitlines() == [
            f"{script[:-3]}: ERROR: state directory {path}: belongs to uid"
            f" {other_user.pw_uid}, not to uid 0 who runs this; remove it (rm -r {path})"
            " or choose another state directory"]
        assert list(path.iterdir()) == [] and not any(map(_listening, ports))
    finally:
        if script != "start-sge.sh":  # (stop-sge.sh would stop the shared Grid Engine)
            stop = "stop-sshd.sh" if script == "start-sshd.sh" else "stop-sshd-pair.sh"
            subprocess.run(["bash", str(SERVICES / stop), str(path)], env=env,
                           capture_output=True, timeout=60)
        shutil.rmtree(path)


def _fake_apt(bin_dir: Path, body: str) -> None:
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text("#!/bin/sh\n" + body)
    apt.chmod(0o755)


def _apt_install(tmp_path: Path, policy: Path) -> subprocess.CompletedProcess:
    script = (f'set -euo pipefail; . "{LIB}"; POLICY_RC="$1"; on_exit "echo hook-a >&2"; '
              'apt_install some-package || exit 7; echo after-install')
    return subprocess.run(["bash", "-c", script, "start-x.sh", str(policy)],
                          env={**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
                               "POLICY": str(policy), "SEEN": str(tmp_path / "seen")},
                          capture_output=True, text=True, timeout=60)


def test_an_interrupted_install_leaves_no_policy_rc_d(tmp_path):
    # Fault injected: apt-get is killed mid-install (SIGTERM to the script, as when a
    # CI job is cancelled). The "exit 101" policy would block every later service start.
    policy = tmp_path / "policy-rc.d"
    _fake_apt(tmp_path / "bin", 'case "$1" in update) exit 0;; esac\n'
              'cp "$POLICY" "$SEEN"; kill -TERM "$PPID"; exit 1\n')
    out = _apt_install(tmp_path, policy)
    assert out.returncode == 143, out.stderr
    assert (tmp_path / "seen").read_text() == "#!/bin/sh\nexit 101\n"
    assert not policy.exists()
    assert "hook-a" in out.stderr and "after-install" not in out.stdout


def test_a_failed_install_removes_the_policy_and_reports(tmp_path):
    policy = tmp_path / "policy-rc.d"
    _fake_apt(tmp_path / "bin", 'case "$1" in update) exit 0;; esac\ncp "$POLICY" "$SEEN"; exit 100\n')
    out = _apt_install(tmp_path, policy)
    assert out.returncode == 7 and (tmp_path / "seen").exists() and not policy.exists()


def test_a_policy_rc_d_that_was_there_stays(tmp_path):
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 0\n")
    _fake_apt(tmp_path / "bin", "exit 0\n")
    out = _apt_install(tmp_path, policy)
    assert out.returncode == 0 and out.stdout == "after-install\n", out.stderr
    assert policy.read_text() == "#!/bin/sh\nexit 0\n"


def test_exit_hooks_add_up_and_keep_the_exit_status(tmp_path):
    # start-sge.sh used to set its own EXIT trap, replacing any before it.
    script = (f'set -euo pipefail; . "{LIB}"; on_exit "echo one >&2"; '
              "on_exit 'echo two >&2'; on_exit false; on_exit 'echo three >&2'; exit 5")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 5 and out.stderr.splitlines() == ["one", "two", "three"]


def test_service_scripts_are_shellcheck_clean():
    # tests/test_shell_scripts.py checks src/ only; these are bash (shebang or directive).
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck, or "
                    "scripts/services/install-tools.sh)")
    files = sorted(SERVICES.glob("*.sh"))
    assert LIB in files and len(files) >= 14
    result = subprocess.run([shellcheck, "-x", *map(str, files)], cwd=SERVICES,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stop_sshd_mfa_removes_its_pam_file_even_when_the_sshd_does_not_stop(tmp_path):
    # A copy of the script whose PAM file is in tmp_path (the real one serves the shared
    # MFA sshd), next to a stop-sshd.sh that fails as when sshd refuses to die.
    text = (SERVICES / "stop-sshd-mfa.sh").read_text()
    line = "PAM_FILE=/etc/pam.d/simjobs-sshd-mfa\n"
    assert text.count(line) == 1
    pam = tmp_path / "simjobs-sshd-mfa"
    (tmp_path / "stop-sshd-mfa.sh").write_text(text.replace(line, f"PAM_FILE={pam}\n"))
    (tmp_path / "stop-sshd.sh").write_text(
        'echo "stop-sshd: ERROR: pid 1 still alive" >&2; exit 1\n')
    pam.write_text("# Written by simjobs scripts/services/start-sshd-mfa.sh for its test sshd\n")
    state = tmp_path / "state"
    (state / "sshd").mkdir(parents=True)
    out = subprocess.run(["bash", str(tmp_path / "stop-sshd-mfa.sh"), str(state)],
                         env={**os.environ, "SIMJOBS_SSHD_PURGE": "1"},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert not pam.exists()
    assert (state / "sshd").is_dir()  # kept while its sshd may still run
    assert out.stderr.splitlines()[-1] == (
        f"stop-sshd-mfa: ERROR: the sshd in {state}/sshd did not stop (see above)")


def test_stop_sge_deletes_only_the_test_runs_jobs(sge, other_user):
    # stop-sge.sh used `qdel -u '*'`: every user's jobs. It now deletes those sge_jobs
    # calls `test` and stops nothing while there are `other` ones. Checked on the shared
    # Grid Engine with held jobs (they never run), without stopping it.
    def qsub(user: str, *args: str) -> str:
        out = subprocess.run(["runuser", "-u", user, "--", "qsub", "-terse", "-h", "-b", "y",
                              "-o", "/dev/null", "-j", "y", *args, "true"], cwd="/",
                             capture_output=True, text=True, timeout=60, check=True)
        return out.stdout.strip().split(".")[0]

    def jobs(whose: str) -> set[tuple[str, str]]:
        out = subprocess.run(["bash", "-c", f'. "{LIB}"; sge_jobs {whose}'],
                             capture_output=True, text=True, timeout=60, check=True)
        return {tuple(line.split()) for line in out.stdout.splitlines()}

    ids = []
    try:
        ids.append(foreign := qsub("nobody", "-N", "simjobs-not-a-test"))
        ids.append(array := qsub("simjobs-test", "-N", "check", "-t", "1-3"))
        ids.append(own := qsub("root", "-N", "simjobs-probe"))
        ids.append(test_a := qsub(OTHER, "-N", "x"))
        test, other = jobs("test"), jobs("other")
        assert (foreign, "nobody") in other and (foreign, "nobody") not in test
        assert {(array, "simjobs-test"), (own, "root"), (test_a, OTHER)} <= test
        assert not {array, own, test_a} & {i for i, _ in other}
        assert [i for i, _ in test].count(array) == 1  # one line for the three tasks
    finally:
        subprocess.run(["qdel", *ids], capture_output=True, timeout=60)
    text = (SERVICES / "stop-sge.sh").read_text()
    assert "sge_jobs other" in text and "-u '*'" not in text.replace("qstat -xml -u '*'", "")
