"""SlurmInterface: the Slurm state table (pure), and jobs on the real one-node Slurm of
scripts/services/start-slurm.sh (2 one-CPU jobs at once, no accounting, MinJobAge 600).

Jobs run as root here, so workspaces under tmp_path work. Test simulators are POSIX sh
scripts written into tmp_path, taking their counter and gate files as arguments.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import helpers
from helpers import assert_corrected_late, pid_gone
from simjobs.core import Input, JobManager, JobStatus
from simjobs.core.log import SimulationsLog
from simjobs.core.types import Job, JobId
from simjobs.interfaces import JobAlreadyEndedError, NoOutputError
from simjobs.interfaces import jobdir
from simjobs.core.hardware import HEALTH_UNREACHABLE
from simjobs.interfaces.runner import CommandResult, HostUnreachableError, LocalRunner
from simjobs.interfaces.slurm import (
    SLURM_ID_FILE,
    SLURM_STATES,
    SLURM_STDERR_FILE,
    SlurmInterface,
    accounting_disabled,
    killed_state,
    parse_scontrol,
    parse_squeue,
    resolve_job_state,
)
from simjobs.interfaces.remote_jobdir import RemoteJobDirs
from simjobs.interfaces.slurm_states import (compress_slurm_ids, expand_array_ids,
                                            parse_scontrol_jobs)

SUM = [sys.executable, str(Path(__file__).parent / "sims" / "sum.py")]
FAIL = [str(Path(__file__).parent / "sims" / "fail.sh")]

# Appends to the counter file (arg 1), records its pid, runs until the gate file (arg 2)
# exists, then writes the sum of the input's coordinates.
GATED_SH = """#!/bin/sh
counter=$1 gate=$2
shift 2
echo "run $$ $PWD" >> "$counter"
echo $$ > sim_pid.tmp && mv sim_pid.tmp sim_pid
sleep 600 &
echo $! > child_pid.tmp && mv child_pid.tmp child_pid
while [ ! -e "$gate" ]; do sleep 0.05; done
kill $! 2>/dev/null
awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i; printf "%.17g\\n", s}' "$1" > "$2"
"""


def wait_for(predicate, timeout: float = 30.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.1, message=message)


# ---- the state table (pure: no Slurm needed) ---------------------------------------------

STARTED = {jobdir.STARTED_MARKER: b"", jobdir.PID_FILE: b"123\n", jobdir.STARTED_FILE: b"1.0\n"}
EXITED_OK = {**STARTED, jobdir.ENDED_FILE: b"2.0\n", jobdir.EXIT_CODE_FILE: b"0\n",
             jobdir.OUTPUT_FILE: b"2.5\n"}
EXITED_3 = {**STARTED, jobdir.ENDED_FILE: b"2.0\n", jobdir.EXIT_CODE_FILE: b"3\n",
            jobdir.STDERR_FILE: b"loading mesh\nfatal: the mesh is inverted\n"}
# What squeue says for the job: the state, and the files its directory holds then.
ROWS = [
    ("PENDING", {}, JobStatus.SUBMITTED, None),
    ("CONFIGURING", {}, JobStatus.SUBMITTED, None),
    ("RUNNING", STARTED, JobStatus.RUNNING, None),
    ("COMPLETING", STARTED, JobStatus.RUNNING, None),
    ("COMPLETED", EXITED_OK, JobStatus.COMPLETED, None),
    ("FAILED", EXITED_3, JobStatus.FAILED, "Slurm state FAILED; exit code 3; stderr: "),
    ("TIMEOUT", STARTED, JobStatus.FAILED, "Slurm state TIMEOUT"),
    ("OUT_OF_MEMORY", STARTED, JobStatus.FAILED, "Slurm state OUT_OF_MEMORY"),
    ("NODE_FAIL", STARTED, JobStatus.FAILED, "Slurm state NODE_FAIL"),
    ("BOOT_FAIL", {}, JobStatus.FAILED, "Slurm state BOOT_FAIL"),
    ("DEADLINE", {}, JobStatus.FAILED, "Slurm state DEADLINE"),
    ("PREEMPTED", STARTED, JobStatus.FAILED, "Slurm state PREEMPTED"),
    ("CANCELLED", STARTED, JobStatus.CANCELLED, None),
]


@pytest.mark.parametrize("slurm_state, files, status, reason", ROWS,
                         ids=[row[0] for row in ROWS])
def test_each_slurm_state_maps_to_its_status(slurm_state, files, status, reason):
    state = resolve_job_state(slurm_state, files)
    assert state.status is status
    assert SLURM_STATES[slurm_state] is status  # the table says the same
    if reason is None:
        assert status is JobStatus.CANCELLED or state.reason is None
    else:
        assert state.reason.startswith(reason)
    if status is JobStatus.COMPLETED:
        assert state.output == 2.5


def test_every_state_of_the_issue_is_in_the_one_table():
    named = {row[0] for row in ROWS}
    assert named <= set(SLURM_STATES)
    assert len(ROWS) == 13
    # Slurm itself ended the job in these (its wrapper may have no exit code).
    assert {s for s in named if killed_state(s)} == {
        "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


def test_completed_with_an_invalid_output_is_failed_with_the_reason():
    files = {**EXITED_OK, jobdir.OUTPUT_FILE: b"nan\n"}
    state = resolve_job_state("COMPLETED", files)
    assert state.status is JobStatus.FAILED and state.reason == "output 'nan' is not a number"
    state = resolve_job_state("COMPLETED", {k: v for k, v in EXITED_OK.items()
                                            if k != jobdir.OUTPUT_FILE})
    assert state.status is JobStatus.FAILED and state.reason == "no output file"


def test_a_killed_job_s_reason_is_its_slurm_state_with_slurm_s_reason_and_stderr():
    files = {**STARTED, jobdir.STDERR_FILE: b"step 99 of 100\n"}
    state = resolve_job_state("TIMEOUT", files, slurm_reason="TimeLimit")
    assert state.reason == "Slurm state TIMEOUT (TimeLimit); stderr: step 99 of 100"
    # "CANCELLED by 0" (sacct's spelling) is CANCELLED too.
    assert resolve_job_state("CANCELLED by 0", STARTED).status is JobStatus.CANCELLED


def test_an_exit_code_decides_even_when_slurm_is_behind():
    assert resolve_job_state("RUNNING", EXITED_OK).status is JobStatus.COMPLETED
    assert resolve_job_state("COMPLETING", EXITED_3).status is JobStatus.FAILED
    # OOM after the simulator was killed: the wrapper recorded 137, Slurm the state.
    oom = {**EXITED_3, jobdir.EXIT_CODE_FILE: b"137\n"}
    reason = resolve_job_state("OUT_OF_MEMORY", oom).reason
    assert reason.startswith("Slurm state OUT_OF_MEMORY; exit code 137 (killed by SIGKILL)")


def test_simjobs_cancel_marker_wins_over_slurm():
    files = {**STARTED, jobdir.CANCELLED_FILE: b"5.0\n"}
    assert resolve_job_state("RUNNING", files).status is JobStatus.CANCELLED
    assert resolve_job_state("TIMEOUT", files).status is JobStatus.CANCELLED


def test_an_ended_job_without_exit_code_waits_for_its_files_then_fails():
    for slurm_state in ("COMPLETED", "FAILED", None):
        waiting = resolve_job_state(slurm_state, STARTED, files_overdue=False)
        assert waiting.status is JobStatus.RUNNING
        failed = resolve_job_state(slurm_state, STARTED, files_overdue=True)
        assert failed.status is JobStatus.FAILED
        assert "no exit code" in failed.reason or "without recording an exit code" in \
            failed.reason
    never = resolve_job_state("FAILED", {SLURM_STDERR_FILE: b"/bin/sh: 0: cannot open w.sh\n"})
    assert never.reason.endswith("the job wrapper never started (slurm.err: /bin/sh: 0: "
                                 "cannot open w.sh)")


def test_pending_ranges_are_expanded_with_their_steps():
    """Slurm 22.05's `squeue --array` drops the last task of a stepped range (1-19:2 listed
    as 1...17): simjobs expands the ranges itself, steps, lists and throttle included."""
    assert expand_array_ids("7_[1-19:2]") == [f"7_{t}" for t in range(1, 20, 2)]
    assert expand_array_ids("7_[0-9:3]") == ["7_0", "7_3", "7_6", "7_9"]
    assert expand_array_ids("7_[1-2,4,10-14:2%5]") == ["7_1", "7_2", "7_4", "7_10", "7_12",
                                                      "7_14"]
    assert expand_array_ids("7_3") == ["7_3"] and expand_array_ids("junk") == []
    rows = parse_squeue("7_[1-19:2]|PENDING|JobHeldUser\n7_0|RUNNING|None\n", {"7_19", "7_0"})
    assert rows == {"7_19": ("PENDING", "JobHeldUser"), "7_0": ("RUNNING", "None")}
    text = ("JobId=7 ArrayJobId=7 ArrayTaskId=5-19:2 ArrayTaskThrottle=5 JobState=PENDING "
            "Reason=JobHeldAdmin Dependency=(null)\n"
            "JobId=9 ArrayJobId=7 ArrayTaskId=3 JobState=COMPLETED Reason=None\n"
            "JobId=12 JobState=RUNNING Reason=None\n")
    assert parse_scontrol_jobs(text, {"7_19", "7_3", "7_4", "12"}) == {
        "7_19": ("PENDING", "JobHeldAdmin"), "7_3": ("COMPLETED", "None"),
        "12": ("RUNNING", "None")}


def test_a_job_slurm_says_ended_is_running_only_if_its_wrapper_started():
    # Missing from the queue, no files yet: no answer (its last status stands), never
    # RUNNING; with the wrapper's started marker it did run.
    assert resolve_job_state(None, {}, files_overdue=False) is None
    assert resolve_job_state("COMPLETED", {}, files_overdue=False) is None
    assert resolve_job_state(None, STARTED, files_overdue=False).status is JobStatus.RUNNING


def test_a_rerun_stopped_by_the_run_once_guard_says_so():
    """Slurm COMPLETED, the wrapper started (its first run) but no exit code: the
    wrapper exits 0 without one only at its run-once guard, i.e. a killed first run and a
    rerun (requeue, or slurmctld recovering older state)."""
    reason = resolve_job_state("COMPLETED", STARTED).reason
    assert "recorded no exit code" in reason
    assert "first run was killed" in reason and "run-once guard stopped the rerun" in reason
    assert "run-once" not in resolve_job_state("FAILED", STARTED).reason


def test_requeue_in_sbatch_args_is_warned_about_at_config_load(tmp_path, caplog):
    from simjobs.config import load_config

    (tmp_path / "simjobs.toml").write_text(
        '[log]\npath = "runs.csv"\ninput_dim = 1\n\n[[interfaces]]\nkind = "slurm"\n'
        'name = "c"\nlevel = 1\ncommand = "/bin/true"\nworkspace = "w"\n'
        'sbatch_args = ["--requeue"]\n')
    with caplog.at_level("WARNING", logger="simjobs"):
        load_config(tmp_path / "simjobs.toml")
    assert "--requeue, which conflicts with simjobs' run-once guard" in caplog.text


def test_an_unknown_slurm_state_gives_no_answer():
    assert resolve_job_state("SOMETHING_NEW", STARTED) is None


def test_parsers():
    rows = parse_squeue("12|RUNNING|None\n13_4|PENDING|Resources\njunk\n14_[5-9%2]|PENDING|x\n")
    assert rows == {"12": ("RUNNING", "None"), "13_4": ("PENDING", "Resources"),
                    **{f"14_{t}": ("PENDING", "x") for t in range(5, 10)}}
    assert parse_squeue("12|RUNNING|None\n13_4|PENDING|Resources\n", {"13_4", "99"}) == \
        {"13_4": ("PENDING", "Resources")}
    fields = parse_scontrol("JobId=6 ArrayJobId=2 JobName=simjobs-3 JobState=TIMEOUT "
                            "Reason=TimeLimit Dependency=(null) NodeList=vm WorkDir=/tmp/a b")
    assert fields["JobState"] == "TIMEOUT" and fields["NodeList"] == "vm"
    assert fields["WorkDir"] == "/tmp/a b"
    disabled = CommandResult(1, b"", b"Slurm accounting storage is disabled\n")
    assert accounting_disabled(disabled)
    assert accounting_disabled(CommandResult(0, b"Slurm accounting storage is disabled\n", b""))
    assert not accounting_disabled(CommandResult(0, b"12|COMPLETED\n", b""))


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_jobs=0), "max_jobs of interface 's' must be a whole number of at least 1"),
    (dict(partition="a b"), "partition of interface 's' must be a partition name"),
    (dict(sbatch_args="--time=1"), "sbatch_args of interface 's' must be a list of strings"),
    (dict(sbatch_args=["--output=x"]), "must not contain '--output=x': simjobs sets --output"),
    (dict(sbatch_args=["-Jname"]), "must not contain '-Jname': simjobs sets --job-name"),
    (dict(workspace="/tmp/a%b"), "contains '%' or a newline"),
    (dict(command=["/no/such/simulator"]), "'/no/such/simulator' does not exist"),
])
def test_invalid_arguments_are_one_clear_error(tmp_path, kwargs, message):
    args = {"name": "s", "level": 1, "command": SUM, "workspace": str(tmp_path / "w"), **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")) as err:
        SlurmInterface(**args)
    assert "\n" not in str(err.value)


# ---- against the real Slurm -----------------------------------------------------------------


class CountingRunner(LocalRunner):
    """A LocalRunner that records every command it runs (the program of each line)."""

    def __init__(self):
        super().__init__()
        self.commands: list[str] = []
        self.outputs: list[tuple[str, CommandResult]] = []

    def run(self, command, input=None, timeout=None):
        self.commands.append(command)
        result = super().run(command, input, timeout)
        self.outputs.append((command, result))
        return result

    def count(self, program: str) -> int:
        return sum(1 for c in self.commands if _runs(c, program))


def _runs(command: str, program: str) -> bool:
    def start(line: str) -> str:  # without leading VAR=value assignments
        return re.sub(r"^(\s*[A-Z_]+=\S*\s+)+", "", line).lstrip()

    return any(start(line).startswith(program + " ") or f"$({program} " in line
               for line in command.splitlines())


class Sims:
    """Test simulators in tmp_path, a run counter and a gate file."""

    def __init__(self, base: Path):
        self.base = base
        self.counter = base / "runs"
        self.gate = base / "gate"
        self.gated_sh = base / "gated.sh"
        self.gated_sh.write_text(GATED_SH)
        self.gated_sh.chmod(0o755)

    @property
    def gated(self) -> list[str]:
        return ["/bin/sh", str(self.gated_sh), str(self.counter), str(self.gate)]

    def runs(self) -> list[str]:
        return self.counter.read_text().splitlines() if self.counter.exists() else []

    def open_gate(self) -> None:
        self.gate.touch()


def scancel_workspace(workspace: Path) -> None:
    """Cancel every Slurm job whose id is recorded under ``workspace``."""
    ids = []
    for path in workspace.glob(f"*/{SLURM_ID_FILE}"):
        text = path.read_text().strip()
        if text:
            ids.append(text)
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60)


@pytest.fixture
def sims(tmp_path):
    s = Sims(tmp_path)
    yield s
    s.open_gate()


@pytest.fixture
def make_interface(slurm_cluster, tmp_path, sims):
    """Build SlurmInterfaces on the test cluster (workspace under tmp_path); at teardown
    they are closed and every Slurm job of their workspaces is cancelled."""
    made: list[SlurmInterface] = []

    def make(name="slurm", level=1, command=None, workspace="work", **kwargs):
        kwargs.setdefault("partition", slurm_cluster["partition"])
        iface = SlurmInterface(name, level, command or SUM, str(tmp_path / workspace),
                               **kwargs)
        made.append(iface)
        return iface

    yield make
    sims.open_gate()
    for iface in made:
        iface.close()
    for workspace in {Path(i.workspace) for i in made}:
        scancel_workspace(workspace)


@pytest.fixture
def log_path(tmp_path):
    return tmp_path / "runs.csv"


def wait_status(iface, job_id, statuses, timeout=30.0):
    statuses = (statuses,) if isinstance(statuses, JobStatus) else tuple(statuses)
    return wait_for(lambda: (s := iface.get_job_status(job_id)) in statuses and s, timeout,
                    f"job {job_id} reaching {[s.value for s in statuses]}")


def test_submit_completes_with_the_right_output_through_a_job_manager(make_interface,
                                                                      log_path):
    iface = make_interface()
    with SimulationsLog(log_path, 2) as log:
        manager = JobManager(log, [iface], polling_interval=0.2)
        try:
            job = manager.submit(Input(0.1, 0.2))
            assert manager.wait_until_done(timeout=60)
        finally:
            manager.shutdown()
        (record,) = log.get_records([job.id])
        assert record["status"] is JobStatus.COMPLETED
        assert record["output"] == 0.1 + 0.2  # full precision, from sum.py
    job_dir = Path(iface.workspace) / str(job.id)
    slurm_id = (job_dir / SLURM_ID_FILE).read_text().strip()
    assert slurm_id.isdigit()
    # The same layout as a local job's, plus Slurm's id and files.
    for name in (jobdir.INPUT_FILE, jobdir.OUTPUT_FILE, jobdir.EXIT_CODE_FILE,
                 jobdir.STDOUT_FILE, "slurm.out", "slurm.err"):
        assert (job_dir / name).exists(), name
    shown = subprocess.run(["scontrol", "-o", "show", "job", slurm_id], capture_output=True,
                           text=True).stdout
    fields = parse_scontrol(shown)
    assert fields["JobName"] == f"simjobs-{job.id}"
    assert fields["WorkDir"] == str(job_dir)
    assert fields["StdOut"] == str(job_dir / "slurm.out")
    assert fields["Requeue"] == "0"  # a requeue would only meet the run-once guard


def test_a_non_zero_exit_is_failed_with_the_stderr_tail(make_interface, log_path):
    iface = make_interface(command=FAIL)
    with SimulationsLog(log_path, 2) as log:
        manager = JobManager(log, [iface], polling_interval=0.2)
        try:
            job = manager.submit(Input(1.0, 2.0))
            assert manager.wait_until_done(timeout=60)
        finally:
            manager.shutdown()
    record = helpers.records_of(log_path)[str(job.id)]
    assert record.status is JobStatus.FAILED
    assert record.reason.startswith("Slurm state FAILED; exit code 3; stderr: ")
    assert record.reason.endswith("fatal: the mesh is inverted")
    details = iface.job_details(job.id)
    assert details["slurm_state"] == "FAILED" and details["exit_code"] == 3
    assert details["stderr_tail"].endswith("fatal: the mesh is inverted")
    assert details["stdout_tail"] == "this went to stdout"
    with pytest.raises(NoOutputError, match="exit code 3"):
        iface.get_job_output(job.id)


def test_cancelling_a_running_job_cancels_it_in_slurm_and_its_processes_are_gone(
        make_interface, sims):
    iface = make_interface(command=sims.gated)
    iface.submit_job(Job(1, Input(1.0, 2.0)))
    job_dir = Path(iface.workspace) / "1"
    wait_status(iface, JobId(1), JobStatus.RUNNING)
    sim_pid = int(wait_for(lambda: (job_dir / "sim_pid").exists()
                           and (job_dir / "sim_pid").read_text().strip()))
    child_pid = int(wait_for(lambda: (job_dir / "child_pid").exists()
                             and (job_dir / "child_pid").read_text().strip()))
    iface.cancel_job(JobId(1))
    assert iface.get_job_status(JobId(1)) is JobStatus.CANCELLED
    assert (job_dir / jobdir.CANCELLED_FILE).exists()
    wait_for(lambda: pid_gone(sim_pid) and pid_gone(child_pid), 30,
             "the simulator and its child to be killed by scancel")
    slurm_id = (job_dir / SLURM_ID_FILE).read_text().strip()
    state = wait_for(lambda: parse_scontrol(subprocess.run(
        ["scontrol", "-o", "show", "job", slurm_id], capture_output=True, text=True
    ).stdout).get("JobState") in ("CANCELLED",) and "CANCELLED")
    assert state == "CANCELLED"
    assert len(sims.runs()) == 1


def test_cancelling_many_jobs_is_one_scancel_through_the_manager(make_interface, sims,
                                                                  log_path):
    """cancel_many of running and pending jobs: the manager's batch cancel hook sends
    ONE scancel for all of them; all end CANCELLED, and the pending ones never ran."""
    runner = CountingRunner()
    iface = make_interface(runner=runner, command=sims.gated)
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.2)
    try:
        jobs = manager.submit_many([Input(float(i), 1.0) for i in range(5)])
        wait_for(lambda: len(sims.runs()) == 2, 30, "two jobs running (two CPUs)")
        before = runner.count("scancel")
        result = manager.cancel_many([j.id for j in jobs])
        assert len(result.cancelled) == 5
        wait_for(lambda: all(log.get_job_status(j.id) is JobStatus.CANCELLED for j in jobs))
        assert runner.count("scancel") - before == 1
        slurm_ids = {(Path(iface.workspace) / str(j.id) / SLURM_ID_FILE).read_text().strip()
                     for j in jobs}

        def slurm_states() -> dict[str, str]:
            out = subprocess.run(["squeue", "-h", "-t", "all", "--array", "-o", "%i %T"],
                                 capture_output=True, text=True).stdout
            return dict(line.split() for line in out.splitlines() if line.strip())

        wait_for(lambda: (states := slurm_states()) and all(
            states.get(i) not in ("RUNNING", "PENDING") for i in slurm_ids), 30,
            "Slurm to end every cancelled job")
    finally:
        manager.shutdown()
        log.close()
    assert len(sims.runs()) == 2  # the three pending jobs never started the simulator


def test_cancel_of_a_pending_job_never_runs_the_simulator(make_interface, sims):
    iface = make_interface(command=sims.gated, sbatch_args=["--begin=now+3600"])
    iface.submit_job(Job(5, Input(1.0, 2.0)))
    assert iface.get_job_status(JobId(5)) is JobStatus.SUBMITTED
    iface.cancel_job(JobId(5))
    assert iface.get_job_status(JobId(5)) is JobStatus.CANCELLED
    slurm_id = (Path(iface.workspace) / "5" / SLURM_ID_FILE).read_text().strip()
    wait_for(lambda: "CANCELLED" in subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", slurm_id, "-o", "%T"], capture_output=True,
        text=True).stdout)
    assert sims.runs() == []


def test_a_cancelled_job_slurm_still_starts_never_runs_the_simulator(make_interface, sims):
    """scancel cannot reach Slurm (injected): the job starts anyway, and its wrapper
    stops at the cancelled marker written before scancel."""
    runner = FlakyRunner()
    iface = make_interface(runner=runner, command=sims.gated, sbatch_args=["--hold"])
    iface.submit_job(Job(6, Input(1.0, 2.0)))
    runner.scancel_error = "scancel: error: Unable to contact slurm controller"
    with pytest.raises(HostUnreachableError):
        iface.cancel_job(JobId(6))
    slurm_id = (Path(iface.workspace) / "6" / SLURM_ID_FILE).read_text().strip()
    subprocess.run(["scontrol", "release", slurm_id], check=True)  # now Slurm starts it
    wait_for(lambda: "COMPLETED" in subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", slurm_id, "-o", "%T"], capture_output=True,
        text=True).stdout, 30, "Slurm running the job (its wrapper exits at the marker)")
    job_dir = Path(iface.workspace) / "6"
    assert (job_dir / jobdir.STARTED_MARKER).is_dir()  # the wrapper did start...
    assert not (job_dir / jobdir.PID_FILE).exists()  # ... and stopped at the marker
    assert sims.runs() == []
    assert iface.get_job_status(JobId(6)) is JobStatus.CANCELLED
    runner.scancel_error = ""
    iface.cancel_job(JobId(6))  # the manager's retry: scancel of an ended job is fine
    assert iface.get_job_status(JobId(6)) is JobStatus.CANCELLED


def test_submit_many_goes_out_as_one_job_array(make_interface, log_path):
    runner = CountingRunner()
    iface = make_interface(runner=runner)
    inputs = [Input(float(i), 0.5) for i in range(5)]
    with SimulationsLog(log_path, 2) as log:
        manager = JobManager(log, [iface], polling_interval=0.2)
        try:
            jobs = manager.submit_many(inputs)
            assert manager.wait_until_done(timeout=90)
        finally:
            manager.shutdown()
        records = log.get_records([j.id for j in jobs])
    assert [r["status"] for r in records] == [JobStatus.COMPLETED] * 5
    assert [r["output"] for r in records] == [i + 0.5 for i in range(5)]
    assert runner.count("sbatch") == 1
    slurm_ids = [(Path(iface.workspace) / str(j.id) / SLURM_ID_FILE).read_text().strip()
                 for j in jobs]
    array_ids = {s.split("_")[0] for s in slurm_ids}
    assert len(array_ids) == 1
    assert [s.split("_")[1] for s in slurm_ids] == ["0", "1", "2", "3", "4"]


def test_max_jobs_keeps_that_many_jobs_in_the_slurm_queue(make_interface, sims):
    runner = CountingRunner()
    iface = make_interface(runner=runner, max_jobs=2, command=sims.gated)
    ids = [JobId(i) for i in range(1, 6)]
    outcomes = iface.submit_jobs([Job(i, Input(float(str(i)), 0.0)) for i in ids])
    assert outcomes == {i: None for i in ids}
    (first,) = [c for c in runner.commands if _runs(c, "sbatch")]
    assert "--array=0-1%2" in first
    statuses = iface.get_job_statuses(ids)
    assert set(statuses) == set(ids)
    assert all(s in (JobStatus.SUBMITTED, JobStatus.RUNNING) for s in statuses.values())
    submitted = lambda: [i for i in ids if (Path(iface.workspace) / str(i) / SLURM_ID_FILE).exists()]
    assert len(submitted()) == 2
    sims.open_gate()

    def in_queue_counts():
        for command, result in runner.outputs:
            if _runs(command, "squeue"):
                ours = {(Path(iface.workspace) / str(i) / SLURM_ID_FILE).read_text().strip()
                        for i in submitted()}
                rows = parse_squeue(result.stdout.decode())
                yield sum(1 for sid, (state, _) in rows.items()
                          if sid in ours and state in ("PENDING", "RUNNING", "CONFIGURING"))

    def done():
        statuses = iface.get_job_statuses(ids)
        return all(s is JobStatus.COMPLETED for s in statuses.values())

    wait_for(done, 90, "all 5 jobs completing")
    assert len(submitted()) == 5
    assert max(in_queue_counts()) <= 2
    assert runner.count("sbatch") >= 2  # the held jobs went out later
    assert [iface.get_job_output(i) for i in ids] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_squeue_runs_once_per_poll_cycle(make_interface, sims, log_path):
    runner = CountingRunner()
    iface = make_interface(runner=runner, command=sims.gated)
    polls = []
    real = iface.get_job_statuses

    def counted(ids):
        before = runner.count("squeue")
        commands_before = len(runner.commands)
        try:
            return real(ids)
        finally:
            polls.append((len(ids), runner.count("squeue") - before,
                          len(runner.commands) - commands_before))

    iface.get_job_statuses = counted
    with SimulationsLog(log_path, 2) as log:
        manager = JobManager(log, [iface], polling_interval=0.1)
        try:
            manager.submit_many([Input(float(i), 1.0) for i in range(6)])
            wait_for(lambda: len(sims.runs()) == 2, 30, "two jobs running")
            wait_for(lambda: len(polls) >= 10, 30, "ten poll cycles")
            sims.open_gate()
            assert manager.wait_until_done(timeout=90)
        finally:
            manager.shutdown()
    assert all(n == 6 for n, _, _ in polls[:10])
    assert [squeues for _, squeues, _ in polls] == [1] * len(polls)
    # While every job waits or runs, a poll is that one squeue and nothing else.
    assert (6, 1, 1) in polls[:10]


def test_a_restart_of_simjobs_mid_run_picks_the_jobs_up_without_resubmitting(
        make_interface, sims, log_path):
    first = make_interface(command=sims.gated)
    with SimulationsLog(log_path, 2) as log:
        manager = JobManager(log, [first], polling_interval=0.2)
        jobs = manager.submit_many([Input(1.0, 2.0), Input(3.0, 4.0), Input(5.0, 6.0)])
        wait_for(lambda: len(sims.runs()) == 2, 30, "two jobs running (one pending)")
        wait_for(lambda: all(r["status"] is not JobStatus.PENDING_SUBMIT
                             for r in log.get_records()), 10)
        manager.shutdown()
    first.close()

    runner = CountingRunner()
    second = make_interface(command=sims.gated, runner=runner)
    with SimulationsLog(log_path, 2) as log:
        manager = JobManager(log, [second], polling_interval=0.2)
        try:
            sims.open_gate()
            assert manager.wait_until_done(timeout=60)
        finally:
            manager.shutdown()
        records = log.get_records([j.id for j in jobs])
    assert [r["output"] for r in records] == [3.0, 7.0, 11.0]
    assert len(sims.runs()) == 3  # each simulator ran once
    assert runner.count("sbatch") == 0


def test_submitting_a_job_again_never_runs_it_twice(make_interface, sims):
    iface = make_interface(command=sims.gated)
    iface.submit_job(Job(7, Input(1.0, 1.0)))
    slurm_id = (Path(iface.workspace) / "7" / SLURM_ID_FILE).read_text()
    runner = CountingRunner()
    again = make_interface(command=sims.gated, runner=runner)
    again.submit_jobs([Job(7, Input(1.0, 1.0))])
    assert runner.count("sbatch") == 0
    assert (Path(iface.workspace) / "7" / SLURM_ID_FILE).read_text() == slurm_id
    sims.open_gate()
    assert wait_status(again, JobId(7), JobStatus.COMPLETED) is JobStatus.COMPLETED
    assert len(sims.runs()) == 1


def test_a_job_slurm_no_longer_lists_is_settled_from_its_files(make_interface, sims):
    """squeue forgets finished jobs (MinJobAge); simulated by hiding the job from squeue
    and scontrol."""

    runner = Purging()
    iface = make_interface(runner=runner)
    iface.submit_jobs([Job(1, Input(1.0, 2.0))])
    slurm_id = (Path(iface.workspace) / "1" / SLURM_ID_FILE).read_text().strip()
    wait_for(lambda: "COMPLETED" in subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", slurm_id, "-o", "%T"], capture_output=True,
        text=True).stdout, 30)
    runner.hide = {slurm_id}
    assert iface.get_job_status(JobId(1)) is JobStatus.COMPLETED  # from its exit code
    assert iface.get_job_output(JobId(1)) == 3.0
    assert runner.count("sacct") == 0  # the files were enough

    # A purged job without an exit code: sacct is asked, says accounting is disabled
    # (detected, whatever its exit status), and after the grace the job is FAILED.
    second = make_interface(runner=runner, command=sims.gated, workspace="work2")
    second.files_grace = 0.5
    second.submit_jobs([Job(2, Input(1.0, 2.0))])
    job_dir = Path(second.workspace) / "2"
    wait_status(second, JobId(2), JobStatus.RUNNING)
    sid2 = (job_dir / SLURM_ID_FILE).read_text().strip()
    subprocess.run(["scancel", sid2], check=True)
    wait_for(lambda: "CANCELLED" in subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", sid2, "-o", "%T"], capture_output=True,
        text=True).stdout, 30)
    runner.hide = {sid2}
    assert second.get_job_status(JobId(2)) is JobStatus.RUNNING  # files may lag: wait
    assert runner.count("sacct") == 1
    status = wait_status(second, JobId(2), (JobStatus.FAILED,), timeout=10)
    assert status is JobStatus.FAILED
    assert "left the Slurm queue without recording an exit code" in \
        second.failure_reason(JobId(2))
    assert runner.count("sacct") == 1  # accounting is known to be disabled: asked once


def test_a_job_cancelled_outside_simjobs_is_cancelled(make_interface, sims):
    iface = make_interface(command=sims.gated)
    iface.submit_job(Job(3, Input(1.0, 2.0)))
    wait_status(iface, JobId(3), JobStatus.RUNNING)
    slurm_id = (Path(iface.workspace) / "3" / SLURM_ID_FILE).read_text().strip()
    subprocess.run(["scancel", slurm_id], check=True)
    assert wait_status(iface, JobId(3), (JobStatus.CANCELLED,)) is JobStatus.CANCELLED
    assert "cancelled in Slurm" in iface.failure_reason(JobId(3))


def test_find_jobs_details_describe(make_interface):
    iface = make_interface(max_jobs=4)
    iface.submit_job(Job(11, Input(1.0, 2.0)))
    assert iface.find_jobs([JobId(11), JobId(12)]) == {JobId(11)}
    wait_status(iface, JobId(11), JobStatus.COMPLETED)
    details = iface.job_details(JobId(11))
    assert details["host"] == socket.gethostname()
    assert details["job_dir"] == str(Path(iface.workspace) / "11")
    assert details["slurm_job_id"] == (Path(iface.workspace) / "11" / SLURM_ID_FILE) \
        .read_text().strip()
    assert details["status"] == "Completed" and details["output"] == 3.0
    assert details["slurm_state"] == "COMPLETED" and details["node"]
    assert details["stdout_tail"] == "summed 2 coordinates"
    assert details["exit_code"] == 0 and details["pid"] > 0
    assert details["started"] <= details["ended"] <= time.time()
    with pytest.raises(JobAlreadyEndedError, match="already ended with status Completed"):
        iface.cancel_job(JobId(11))
    described = iface.describe()
    assert described["kind"] == "slurm" and described["host"] == socket.gethostname()
    assert described["partition"] == "debug" and described["max_jobs"] == 4
    # A fresh interface (a restart) finds the job by its directory too.
    fresh = make_interface()
    assert fresh.find_jobs([JobId(11)]) == {JobId(11)}
    assert fresh.get_job_output(JobId(11)) == 3.0


class FlakyRunner(CountingRunner):
    """Failure injection: while ``sbatch_error`` / ``squeue_error`` is set, that
    command is not run and fails with that message (as with munge down, say)."""

    sbatch_error: str = ""
    squeue_error: str = ""
    scancel_error: str = ""
    lose_sbatch_answer: bool = False  # sbatch runs, but its answer is lost on the way

    def run(self, command, input=None, timeout=None):
        for program, error in (("sbatch", self.sbatch_error), ("squeue", self.squeue_error),
                               ("scancel", self.scancel_error)):
            if error and _runs(command, program):
                self.commands.append(command)
                return CommandResult(1, b"", error.encode())
        result = super().run(command, input, timeout)
        if self.lose_sbatch_answer and _runs(command, "sbatch"):
            raise HostUnreachableError("the connection dropped (injected)")
        return result


MUNGE_DOWN = ("sbatch: error: Munge encode failed: Failed to access \"/run/munge/munge.socket"
              ".2\": No such file or directory (retrying ...)\nsbatch: error: Batch job "
              "submission failed: Protocol authentication error")


def test_an_sbatch_rejection_is_one_clear_error_and_nothing_runs(make_interface, sims):
    iface = make_interface(partition="nosuch", command=sims.gated)
    outcomes = iface.submit_jobs([Job(1, Input(1.0, 2.0)), Job(2, Input(1.0, 2.0))])
    errors = set(map(str, outcomes.values()))
    (error,) = errors
    assert error.startswith(f"sbatch rejected the jobs on {socket.gethostname()}: ")
    assert "nosuch" in error and "Invalid partition name specified" in error
    assert error.endswith("check the partition and sbatch_args of interface 'slurm'")
    assert "\n" not in error
    assert not isinstance(outcomes[JobId(1)], HostUnreachableError)
    assert not list(Path(iface.workspace).glob(f"*/{SLURM_ID_FILE}"))
    assert sims.runs() == []


def test_munge_or_controller_failures_are_unreachable_never_job_gone(make_interface, sims):
    runner = FlakyRunner()
    iface = make_interface(runner=runner, command=sims.gated, max_jobs=1)
    assert iface.submit_jobs([Job(1, Input(1.0, 2.0)), Job(2, Input(3.0, 4.0))]) == \
        {JobId(1): None, JobId(2): None}  # job 2 is held: max_jobs is 1
    wait_status(iface, JobId(1), JobStatus.RUNNING)

    runner.squeue_error = ("squeue: error: Munge decode failed: Expired credential\n"
                           "slurm_load_jobs error: Protocol authentication error")
    with pytest.raises(HostUnreachableError, match=f"squeue on {iface.host} cannot reach Slurm"):
        iface.get_job_statuses([JobId(1), JobId(2)])
    assert iface.health.state == HEALTH_UNREACHABLE
    runner.squeue_error = "slurm_load_jobs error: Unable to contact slurm controller"
    with pytest.raises(HostUnreachableError, match="check that slurmctld"):
        iface.get_job_status(JobId(1))

    # A held job's sbatch meeting munge trouble stays held, the poll still answers.
    runner.squeue_error = ""
    runner.sbatch_error = MUNGE_DOWN
    sims.open_gate()
    wait_for(lambda: iface.get_job_statuses([JobId(1), JobId(2)]) ==
             {JobId(1): JobStatus.COMPLETED, JobId(2): JobStatus.SUBMITTED}, 30)
    assert iface.get_job_status(JobId(2)) is JobStatus.SUBMITTED
    assert not (Path(iface.workspace) / "2" / SLURM_ID_FILE).exists()
    assert iface.submit_jobs([Job(3, Input(0.0, 0.0))]) == {JobId(3): None}  # held too
    # A submit that meets it itself is unreachable (the manager waits, attempts kept).
    other = make_interface(runner=runner, workspace="work2")
    outcome = other.submit_jobs([Job(9, Input(0.0, 0.0))])[JobId(9)]
    assert isinstance(outcome, HostUnreachableError) and "slurmctld" in str(outcome)

    # A rejection of a held job when it finally goes out fails that job, with why.
    runner.sbatch_error = ("sbatch: error: Batch job submission failed: Requested node "
                           "configuration is not available")
    assert iface.get_job_statuses([JobId(2), JobId(3)]) == \
        {JobId(2): JobStatus.FAILED, JobId(3): JobStatus.SUBMITTED}
    assert "Requested node configuration is not available" in iface.failure_reason(JobId(2))

    runner.sbatch_error = ""
    assert wait_status(iface, JobId(3), JobStatus.COMPLETED) is JobStatus.COMPLETED
    assert iface.health.ok
    assert len(sims.runs()) == 2  # jobs 1 and 3; job 2 never ran


def test_an_sbatch_whose_answer_was_lost_is_not_submitted_again(make_interface, sims):
    runner = FlakyRunner()
    iface = make_interface(runner=runner, command=sims.gated, max_jobs=1)
    ids = [JobId(1), JobId(2)]
    assert iface.submit_jobs([Job(i, Input(1.0, 2.0)) for i in ids]) == {i: None for i in ids}
    wait_status(iface, JobId(1), JobStatus.RUNNING)
    # Job 2 goes out when job 1 ends, but the answer of its sbatch is lost.
    runner.lose_sbatch_answer = True
    sims.open_gate()
    wait_for(lambda: iface.get_job_statuses(ids)[JobId(1)] is JobStatus.COMPLETED, 30)
    wait_for(lambda: (Path(iface.workspace) / "2" / SLURM_ID_FILE).exists(), 30)
    assert runner.count("sbatch") == 2
    first = (Path(iface.workspace) / "2" / SLURM_ID_FILE).read_text().strip()
    runner.lose_sbatch_answer = False
    # The next try finds job 2's recorded Slurm id and does not call sbatch for it.
    assert wait_status(iface, JobId(2), JobStatus.COMPLETED) is JobStatus.COMPLETED
    assert runner.count("sbatch") == 3  # that try ran the command, which only looked
    named = subprocess.run(["squeue", "-h", "-t", "all", "--name=simjobs-2", "-o", "%i"],
                           capture_output=True, text=True).stdout.split()
    assert (Path(iface.workspace) / "2" / SLURM_ID_FILE).read_text().strip() == first
    assert [i for i in named if int(i) >= int(first)] == [first]  # one Slurm job for it
    assert len(sims.runs()) == 2


def test_jobs_held_back_by_max_jobs_go_out_once_after_a_restart(make_interface, sims):
    first = make_interface(command=sims.gated, max_jobs=1)
    ids = [JobId(1), JobId(2)]
    first.submit_jobs([Job(i, Input(1.0, 2.0)) for i in ids])
    wait_status(first, JobId(1), JobStatus.RUNNING)
    assert not (Path(first.workspace) / "2" / SLURM_ID_FILE).exists()  # held by simjobs
    first.close()

    runner = CountingRunner()
    second = make_interface(command=sims.gated, max_jobs=1, runner=runner)
    assert second.get_job_statuses(ids) == {JobId(1): JobStatus.RUNNING,
                                            JobId(2): JobStatus.SUBMITTED}
    assert runner.count("sbatch") == 0  # the queue is still full
    sims.open_gate()
    wait_for(lambda: set(second.get_job_statuses(ids).values()) == {JobStatus.COMPLETED}, 60)
    assert runner.count("sbatch") == 1
    assert len(sims.runs()) == 2


def test_a_batch_beyond_max_array_size_goes_out_as_several_arrays(make_interface):
    runner = CountingRunner()
    iface = make_interface(runner=runner)
    iface.max_array_size = 2  # Slurm's default MaxArraySize allows 1001 tasks
    ids = [JobId(i) for i in range(1, 6)]
    assert iface.submit_jobs([Job(i, Input(1.0, float(str(i)))) for i in ids]) == \
        {i: None for i in ids}
    assert runner.count("sbatch") == 3  # arrays of 2 and 2, then one plain job
    recorded = [(Path(iface.workspace) / str(i) / SLURM_ID_FILE).read_text().strip()
                for i in ids]
    assert [r.partition("_")[2] for r in recorded] == ["0", "1", "0", "1", ""]
    assert len({r.partition("_")[0] for r in recorded}) == 3
    wait_for(lambda: set(iface.get_job_statuses(ids).values()) == {JobStatus.COMPLETED}, 60)
    assert [iface.get_job_output(i) for i in ids] == [2.0, 3.0, 4.0, 5.0, 6.0]


QOS_LIMIT = ("sbatch: error: AssocMaxSubmitJobLimit\nsbatch: error: Batch job submission "
             "failed: Job violates accounting/QOS policy (job submit limit, user's size "
             "and/or time limits)")


def test_a_submit_limit_holds_jobs_back_while_ours_are_queued(make_interface, sims):
    runner = FlakyRunner()
    iface = make_interface(runner=runner, command=sims.gated)
    # With none of ours in the queue the QOS message cannot be the submit limit: rejected.
    runner.sbatch_error = QOS_LIMIT
    outcome = iface.submit_jobs([Job(1, Input(1.0, 2.0))])[JobId(1)]
    assert str(outcome).startswith("sbatch rejected the job on ")
    runner.sbatch_error = ""
    assert iface.submit_jobs([Job(1, Input(1.0, 2.0))]) == {JobId(1): None}
    wait_status(iface, JobId(1), JobStatus.RUNNING)
    # With one of ours queued it is the limit: job 2 waits in simjobs' queue.
    runner.sbatch_error = QOS_LIMIT
    assert iface.submit_jobs([Job(2, Input(3.0, 4.0))]) == {JobId(2): None}
    assert iface.health.state == "degraded" and "AssocMaxSubmitJobLimit" in \
        iface.health.message
    assert iface.get_job_statuses([JobId(2)]) == {JobId(2): JobStatus.SUBMITTED}
    assert not (Path(iface.workspace) / "2" / SLURM_ID_FILE).exists()
    runner.sbatch_error = ""
    sims.open_gate()
    wait_for(lambda: set(iface.get_job_statuses([JobId(1), JobId(2)]).values())
             == {JobStatus.COMPLETED}, 60)
    assert [iface.get_job_output(JobId(i)) for i in (1, 2)] == [3.0, 7.0]
    assert iface.health.ok


# ---- issue 13: no task concluded from one squeue listing; late results corrected ---------


def test_a_held_array_task_is_never_failed_and_runs_when_released(make_interface, log_path):
    """20 jobs as one held array, every other one cancelled, then released: no task is
    ever shown Running or Failed while Slurm holds it (Slurm 22.05's `squeue --array`
    leaves the last task of the stepped range 1-19:2 out), and all ten run and
    complete with their outputs once released."""
    runner = CountingRunner()
    iface = make_interface(runner=runner, sbatch_args=["--hold"])
    iface.files_grace = 1.0  # what a task concluded "gone" would be Failed after
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.2)
    seen: list[tuple[JobId, JobStatus]] = []
    manager.subscribe(lambda e: seen.append((e.job_id, e.new_status))
                      if hasattr(e, "new_status") else None)
    try:
        jobs = manager.submit_many([Input(float(i), 1.0) for i in range(20)])
        assert manager.wait_until_submitted([j.id for j in jobs], timeout=60)
        manager.cancel_many([j.id for j in jobs[0::2]])
        wait_for(lambda: all(log.get_job_status(j.id) is JobStatus.CANCELLED
                             for j in jobs[0::2]), 60, "the even jobs cancelled")
        # Well past the files grace, and many polls, with the array still held.
        polls, since = runner.count("squeue"), time.monotonic()
        wait_for(lambda: runner.count("squeue") >= polls + 10
                 and time.monotonic() - since > 4 * iface.files_grace, 60, "ten more polls")
        kept = jobs[1::2]
        assert [log.get_job_status(j.id) for j in kept] == [JobStatus.SUBMITTED] * 10
        array_id = (Path(iface.workspace) / str(kept[0].id) / SLURM_ID_FILE).read_text() \
            .strip().split("_")[0]
        held = {j.id for j in kept}
        assert not [s for s in seen if s[0] in held and s[1] in (JobStatus.RUNNING,
                                                                JobStatus.FAILED)]
        subprocess.run(["scontrol", "release", array_id], check=True, capture_output=True)
        assert manager.wait_until_done(timeout=180)
    finally:
        manager.shutdown()
    for index, job in zip(range(1, 20, 2), kept):
        record = log.get_record(job.id)
        assert record.status is JobStatus.COMPLETED, (job.id, record)
        assert record.output == index + 1.0
    assert not [s for s in seen if s[0] in held and s[1] is JobStatus.FAILED]
    log.close()


class Purging(CountingRunner):
    """Hides some Slurm ids from squeue and scontrol, as Slurm does once it purged a job
    (MinJobAge) - the fault that makes a job end without its exit code in sight."""

    hide: set = set()

    def run(self, command, input=None, timeout=None):
        result = super().run(command, input, timeout)
        if _runs(command, "squeue"):
            lines = [l for l in result.stdout.decode().splitlines()
                     if l.split("|")[0] not in self.hide]
            result = CommandResult(result.exit_status, ("\n".join(lines) + "\n").encode(),
                                   result.stderr)
        elif "scontrol -o show job" in command and "@simjobs" in command:
            out, keep = [], True
            for line in result.stdout.decode().splitlines():
                if line.startswith("@simjobs "):
                    keep = line.split(" ", 1)[1] not in self.hide
                    out.append(line)
                    if not keep:
                        out.append(f"Job {line.split(' ', 1)[1]} not found")
                elif keep:
                    out.append(line)
            result = CommandResult(result.exit_status, ("\n".join(out) + "\n").encode(),
                                   result.stderr)
        return result


def test_a_failed_job_whose_wrapper_records_its_exit_code_later_is_corrected(
        make_interface, sims, log_path):
    """A running job Slurm no longer knows (purge simulated) is FAILED after the files
    grace; when its wrapper then records exit code 0 and the output, the log says
    COMPLETED with the output, and its history shows FAILED then COMPLETED."""
    runner = Purging()
    iface = make_interface(runner=runner, command=sims.gated)
    iface.files_grace = 0.5
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.2)
    try:
        job = manager.submit(Input(1.0, 2.0))
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.RUNNING, 60)
        runner.hide = {(Path(iface.workspace) / str(job.id) / SLURM_ID_FILE).read_text().strip()}
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.FAILED, 60)
        assert "without recording an exit code" in log.get_record(job.id).reason
        sims.open_gate()
        wait_for(lambda: log.get_job_status(job.id) is JobStatus.COMPLETED, 60,
                 "the late exit code recorded as a correction")
    finally:
        manager.shutdown()
    assert_corrected_late(log.get_record(job.id), 3.0)
    log.close()


def test_a_full_disk_at_first_use_names_the_cause_and_never_breaks_the_workspace(
        slurm_cluster, tmp_path):
    """Slurm's workspace is full when simjobs first installs its wrapper: the submit fails
    naming "no space left" and df, with no staging folder or short wrapper left; a 0-byte
    wrapper (what older versions left) is redone by the next process once space is
    free, and the jobs run (as one array: its tasks file is checked too)."""
    disk = helpers.FullDisk(tmp_path / "disk")
    try:
        workspace = disk.path / "ws"
        disk.fill()
        first = SlurmInterface("s", 1, SUM, str(workspace),
                               partition=slurm_cluster["partition"])
        outcome = first.submit_jobs([Job(1, Input(1.0, 2.0))])[JobId(1)]
        assert f"no space left on the remote workspace {workspace}" in str(outcome)
        assert "df: 0 B free" in str(outcome)
        meta = workspace / ".simjobs"
        assert not list(meta.glob("new.*")) and not list(meta.glob("wrapper-*"))
        digest_name = RemoteJobDirs(LocalRunner(), str(workspace)).wrapper_name
        leftover = workspace / digest_name
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.touch()
        disk.free()
        second = SlurmInterface("s", 1, SUM, str(workspace),
                                partition=slurm_cluster["partition"])
        jobs = [Job(n, Input(float(n), 1.0)) for n in (2, 3)]
        assert set(second.submit_jobs(jobs).values()) == {None}
        for job in jobs:
            wait_status(second, job.id, JobStatus.COMPLETED, timeout=60)
            assert second.get_job_output(job.id) == float(str(job.id)) + 1.0
        assert leftover.read_text() == jobdir.render_wrapper().rstrip("\n") + "\n"
        second.close()
        first.close()
    finally:
        scancel_workspace(disk.path / "ws")
        disk.unmount()


def test_a_job_killed_by_a_full_disk_says_no_space(slurm_cluster, tmp_path, sims):
    """The workspace's disk fills while a Slurm job runs: it cannot record its exit code;
    its reason says the workspace has no space left (with df)."""
    disk = helpers.FullDisk(tmp_path / "disk")
    iface = None
    try:
        workspace = disk.path / "ws"
        iface = SlurmInterface("s", 1, sims.gated, str(workspace),
                               partition=slurm_cluster["partition"])
        iface.files_grace = 0.5
        iface.submit_job(Job(1, Input(1.0, 2.0)))
        wait_for(lambda: (workspace / "1" / jobdir.PID_FILE).exists(), 60)
        disk.fill()
        sims.open_gate()
        wait_status(iface, JobId(1), JobStatus.FAILED, timeout=60)
        reason = iface.failure_reason(JobId(1))
        assert "recorded no exit code" in reason or "without recording an exit code" in reason
        assert f"no space left on the remote workspace {workspace}" in reason
        assert "(df: 0 B free)" in reason
    finally:
        if iface is not None:
            iface.close()
        scancel_workspace(disk.path / "ws")
        disk.unmount()


def test_a_held_job_pending_cancel_is_never_sbatched(make_interface, sims, log_path):
    """Jobs held back by max_jobs are cancelled while the cancel cannot reach the
    workspace for a while (injected); the running jobs end and free their slots: the
    polls meanwhile never sbatch a job that is pending cancel, and it ends Cancelled
    without ever reaching Slurm or running the simulator."""

    class CancelFails(CountingRunner):
        failures = 0

        def run(self, command, input=None, timeout=None):
            if input and b"$f_cancelled.tmp" in input and self.failures > 0:
                self.failures -= 1
                self.commands.append(command)
                return CommandResult(1, b"", b"injected: the cancel could not run")
            return super().run(command, input, timeout)

    runner = CancelFails()
    iface = make_interface(runner=runner, command=sims.gated, max_jobs=2)
    log = SimulationsLog(log_path, 2)
    manager = JobManager(log, [iface], polling_interval=0.2)
    try:
        jobs = manager.submit_many([Input(float(i), 1.0) for i in range(6)])
        wait_for(lambda: len(sims.runs()) == 2, 60, "two jobs running, four held")
        held = jobs[2:]
        runner.failures = 3
        manager.cancel_many([j.id for j in held])
        wait_for(lambda: runner.failures == 0 or runner.failures < 3, 30, "a cancel failed")
        sims.open_gate()  # the running two end: their slots are free
        assert manager.wait_until_done(timeout=120)
    finally:
        manager.shutdown()
    assert [log.get_job_status(j.id) for j in jobs[:2]] == [JobStatus.COMPLETED] * 2
    assert [log.get_job_status(j.id) for j in held] == [JobStatus.CANCELLED] * 4
    assert not [j.id for j in held
                if (Path(iface.workspace) / str(j.id) / SLURM_ID_FILE).exists()]
    assert len(sims.runs()) == 2
    log.close()


def test_scancel_words_for_array_tasks():
    assert compress_slurm_ids(["12_0", "12_2", "12_3", "12_4", "12_9", "13", "14_1"]) == \
        ["13", "12_[0,2-4,9]", "14_1"]


def test_a_job_whose_directory_was_removed_ends_failed_once_slurm_ends_it(
        make_interface, sims):
    """Someone removes a Slurm job's directory: once Slurm says the job ended, it is
    FAILED naming the removed directory (before, it got no answer at every poll and the
    manager could never settle it: the interface still knew its Slurm id)."""
    import shutil

    iface = make_interface(command=sims.gated)
    iface.submit_job(Job(4, Input(1.0, 2.0)))
    wait_status(iface, JobId(4), JobStatus.RUNNING, timeout=60)
    job_dir = Path(iface.workspace) / "4"
    slurm_id = (job_dir / SLURM_ID_FILE).read_text().strip()
    shutil.rmtree(job_dir)
    sims.open_gate()
    wait_for(lambda: "RUNNING" not in subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", slurm_id, "-o", "%T"], capture_output=True,
        text=True).stdout, 60, "Slurm to end the job")
    assert wait_status(iface, JobId(4), JobStatus.FAILED, timeout=30) is JobStatus.FAILED
    assert f"its job directory {job_dir} was removed" in iface.failure_reason(JobId(4))


def test_a_restart_after_slurm_purged_finished_jobs_asks_no_scontrol(make_interface):
    """Jobs ended and Slurm forgot them (purge simulated): a restarted interface settles
    them from their exit codes with one read, and asks scontrol about none of them."""
    first = make_interface()
    jobs = [Job(n, Input(float(n), 1.0)) for n in range(1, 6)]
    assert set(first.submit_jobs(jobs).values()) == {None}
    for job in jobs:
        wait_status(first, job.id, JobStatus.COMPLETED, timeout=60)
    runner = Purging()
    runner.hide = {(Path(first.workspace) / str(j.id) / SLURM_ID_FILE).read_text().strip()
                   for j in jobs}
    restarted = make_interface(runner=runner)
    assert restarted.get_job_statuses([j.id for j in jobs]) == \
        {j.id: JobStatus.COMPLETED for j in jobs}
    assert [restarted.get_job_output(j.id) for j in jobs] == [n + 1.0 for n in range(1, 6)]
    assert not [c for c in runner.commands if "scontrol" in c]
