"""The one-node Grid Engine of scripts/services/start-sge.sh does what simjobs needs.

These tests drive the real qmaster and execd through qsub/qstat/qacct/qdel (no simjobs
code), as an unprivileged user, the way simjobs' ``kind = "sge"`` reaches them over SSH:
a job runs as its submitter, every task of an array job finishes, ``qstat -xml`` lists
running and waiting jobs, ``qdel`` removes queued jobs (several in one call), and a job
survives a qmaster restart. Jobs wait on gate files, never on fixed sleeps.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import helpers

SERVICES = Path(__file__).resolve().parent.parent / "scripts" / "services"
USER = "simjobs-test"


def wait_for(predicate, timeout: float = 60.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.1, message=message)


def run(*args: str, user: str | None = USER, check: bool = True,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a Grid Engine command, as ``user`` (None: root)."""
    cmd = ["runuser", "-u", user, "--", *args] if user else list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=check,
                          cwd=cwd)


def qsub(*args: str, cwd: Path) -> int:
    """Submit as USER; the job id (``qsub -terse`` prints ``ID`` or ``ID.1-N:1``)."""
    out = run("qsub", "-terse", *args, cwd=cwd).stdout.strip()
    return int(out.split(".")[0])


def jobs() -> list[dict]:
    """Every job entry of ``qstat -xml -u '*'`` (pending array tasks may be one entry)."""
    root = ET.fromstring(run("qstat", "-xml", "-u", "*", user=None).stdout)
    return [{"id": int(j.findtext("JB_job_number")), "state": j.findtext("state"),
             "list_state": j.get("state"), "tasks": j.findtext("tasks"),
             "owner": j.findtext("JB_owner")}
            for j in root.iter("job_list")]


def states(job_id: int) -> list[str]:
    return [j["state"] for j in jobs() if j["id"] == job_id]


def qacct(job_id: int) -> list[dict[str, str]]:
    """The accounting records of a job (one per task), [] while it has none."""
    out = run("qacct", "-j", str(job_id), user=None, check=False)
    if out.returncode != 0:
        return []
    records: list[dict[str, str]] = []
    for line in out.stdout.splitlines():
        if line.startswith("====="):
            records.append({})
        elif records and line.strip():
            key, _, value = line.partition(" ")
            records[-1][key] = value.strip()
    return records


@pytest.fixture(scope="module")
def user() -> str:
    """The unprivileged test user (start-sshd.sh makes it; made here when missing)."""
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", USER], check=True)
    return USER


@pytest.fixture
def work(sge, user):
    """A directory under /tmp that only the test user can write (pytest's tmp_path is
    root's, which the user cannot enter). Jobs still queued at the end are deleted."""
    d = Path(tempfile.mkdtemp(prefix="simjobs-sge-test-", dir="/tmp"))
    shutil.chown(d, user, user)
    submitted_before = {j["id"] for j in jobs()}
    yield d
    leftover = sorted({j["id"] for j in jobs()} - submitted_before)
    if leftover:
        run("qdel", *map(str, leftover), user=None, check=False)
    shutil.rmtree(d, ignore_errors=True)


def test_a_job_runs_as_its_submitter_and_reaches_qacct(work):
    job = qsub("-N", "whoami", "-cwd", "-o", "out", "-j", "y", "-b", "y", "id -un", cwd=work)
    wait_for(lambda: not states(job), message=f"job {job} to leave qstat")
    assert (work / "out").read_text() == f"{USER}\n"
    assert os.stat(work / "out").st_uid == pwd.getpwnam(USER).pw_uid
    record = wait_for(lambda: qacct(job), 30, f"job {job} in qacct")[0]
    assert (record["owner"], record["exit_status"], record["failed"]) == (USER, "0", "0")


def test_a_failing_job_has_its_exit_status_in_qacct(work):
    job = qsub("-N", "exit3", "-o", "/dev/null", "-j", "y", "-b", "y", "sh", "-c", "'exit 3'",
               cwd=work)
    record = wait_for(lambda: qacct(job), 60, f"job {job} in qacct")[0]
    assert record["exit_status"] == "3"


def test_every_task_of_an_array_job_finishes(work):
    (work / "run-task.sh").write_text('#!/bin/sh\necho "$SGE_TASK_ID" > "task.$SGE_TASK_ID"\n')
    out = run("qsub", "-terse", "-N", "arr", "-t", "1-3", "-cwd", "-o", "/dev/null",
              "-j", "y", "-S", "/bin/sh", "run-task.sh", cwd=work).stdout.strip()
    assert out.endswith(".1-3:1"), out  # -terse for an array: ID.FIRST-LAST:STEP
    job = int(out.split(".")[0])
    wait_for(lambda: not states(job), message=f"array job {job} to leave qstat")
    assert {p.name: p.read_text() for p in work.glob("task.*")} == {
        f"task.{i}": f"{i}\n" for i in (1, 2, 3)}
    records = wait_for(lambda: len(qacct(job)) == 3 and qacct(job), 30, "3 qacct records")
    assert sorted((r["taskid"], r["exit_status"]) for r in records) == [
        ("1", "0"), ("2", "0"), ("3", "0")]


def test_qstat_xml_lists_running_and_waiting_jobs(work):
    gate = work / "gate"
    running = qsub("-N", "gated", "-o", "/dev/null", "-j", "y", "-b", "y", "sh", "-c",
                   f"'while [ ! -e {gate} ]; do sleep 0.1; done'", cwd=work)
    held = qsub("-N", "held", "-h", "-o", "/dev/null", "-j", "y", "-b", "y", "true", cwd=work)
    held_array = qsub("-N", "heldarr", "-h", "-t", "1-5", "-o", "/dev/null", "-j", "y",
                      "-b", "y", "true", cwd=work)
    wait_for(lambda: states(running) == ["r"], message=f"job {running} running")
    listed = {j["id"]: j for j in jobs()}
    assert listed[running]["list_state"] == "running" and listed[running]["owner"] == USER
    assert (listed[held]["state"], listed[held]["list_state"]) == ("hqw", "pending")
    # A waiting array is one entry whose tasks are a range: ID.FIRST-LAST:STEP of qsub.
    assert (listed[held_array]["state"], listed[held_array]["tasks"]) == ("hqw", "1-5:1")
    # -g d lists each waiting task on its own.
    detailed = ET.fromstring(run("qstat", "-xml", "-u", "*", "-g", "d", user=None).stdout)
    tasks = [j.findtext("tasks") for j in detailed.iter("job_list")
             if j.findtext("JB_job_number") == str(held_array)]
    assert tasks == ["1", "2", "3", "4", "5"]
    gate.touch()
    wait_for(lambda: not states(running), message=f"job {running} to finish")


def test_qdel_removes_queued_jobs_in_one_call_and_refuses_unknown_ids(work):
    ids = [qsub("-N", f"q{i}", "-h", "-o", "/dev/null", "-j", "y", "-b", "y", "true", cwd=work)
           for i in range(3)]
    assert all(states(j) == ["hqw"] for j in ids)
    out = run("qdel", *map(str, ids))
    assert out.stdout.splitlines() == [f"{USER} has deleted job {j}" for j in ids]
    wait_for(lambda: not any(states(j) for j in ids), 30, "deleted jobs to leave qstat")
    gone = run("qdel", "999999", check=False)
    assert gone.returncode == 1 and gone.stdout.strip() == 'denied: job "999999" does not exist'
    unknown = run("qstat", "-j", str(ids[0]), check=False)
    assert unknown.returncode == 1 and str(ids[0]) in unknown.stderr


class Qmaster:
    """Stops the test cluster's sge_qmaster and starts it again with start-sge.sh,
    which then starts only what is missing (the execd and its jobs stay)."""

    def __init__(self, cluster: dict):
        self.pid_file = Path(cluster["qmaster_pid_file"])
        self.state_dir = cluster["dir"]

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (OSError, ValueError):
            return None
        # A zombie is gone (this machine's init reaps orphans late).
        return pid if "(sge_qmaster)" in stat and stat.split(")")[1].split()[0] != "Z" else None

    def stop(self) -> None:
        pid = self.pid()
        assert pid is not None, f"no running sge_qmaster in {self.pid_file}"
        run("qconf", "-km", user=None)
        wait_for(lambda: self.pid() is None, 60, "sge_qmaster to exit")

    def start(self) -> None:
        subprocess.run(["bash", str(SERVICES / "start-sge.sh"), self.state_dir],
                       check=True, capture_output=True, timeout=120,
                       env={**os.environ, "SIMJOBS_SGE_PROBE": "0"})


@pytest.fixture
def qmaster(sge):
    ctl = Qmaster(sge)
    assert ctl.pid() is not None
    yield ctl
    ctl.start()  # back up after the test, whatever happened in it


def test_a_running_job_survives_a_qmaster_restart(work, qmaster):
    gate, out = work / "gate", work / "out"
    job = qsub("-N", "survivor", "-o", "/dev/null", "-j", "y", "-b", "y", "sh", "-c",
               f"'while [ ! -e {gate} ]; do sleep 0.1; done; echo done > {out}'", cwd=work)
    wait_for(lambda: states(job) == ["r"], message=f"job {job} running")
    qmaster.stop()
    assert run("qstat", check=False).returncode != 0  # really down
    qmaster.start()
    assert states(job) == ["r"]  # the restarted qmaster still has it, running
    gate.touch()
    wait_for(lambda: out.exists(), 60, "the job to carry on after the restart")
    assert out.read_text() == "done\n"
    record = wait_for(lambda: qacct(job), 60, f"job {job} in qacct")[0]
    assert record["exit_status"] == "0"
