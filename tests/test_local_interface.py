"""LocalInterface with real processes and files."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from simjobs.core.types import Input, Job, JobId, JobStatus
from simjobs.interfaces import (
    JobAlreadyEndedError,
    LocalInterface,
    NoOutputError,
    UnknownJobError,
)
from simjobs.interfaces import jobdir

SIMS = Path(__file__).parent / "sims"
SUM = [sys.executable, str(SIMS / "sum.py")]
GATE = [sys.executable, str(SIMS / "gate.py")]
SRC = Path(__file__).resolve().parents[1] / "src"


def wait_for(predicate, timeout: float = 30.0, message: str = ""):
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {message or predicate}")
        time.sleep(0.01)


def wait_status(iface, job_id, statuses=(JobStatus.COMPLETED, JobStatus.FAILED,
                                         JobStatus.CANCELLED), timeout=30.0):
    statuses = (statuses,) if isinstance(statuses, JobStatus) else tuple(statuses)
    status = wait_for(
        lambda: (s := iface.get_job_status(job_id)) in statuses and s,
        timeout,
        f"job {job_id} reaching {[s.value for s in statuses]}",
    )
    return status


def job(n, *coords):
    return Job(n, Input(*coords) if coords else Input(1.0, 2.0))


def pid_gone(pid: int) -> bool:
    """True when ``pid`` is no live process (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2:].split()[0] in (b"Z", b"X")


@pytest.fixture
def gate(tmp_path, monkeypatch):
    path = tmp_path / "gate-open"
    monkeypatch.setenv("SIMJOBS_TEST_GATE", str(path))
    yield path
    path.touch()  # never leave a gate simulator waiting


@pytest.fixture
def cleanup():
    """Cancel whatever a test leaves running."""
    ifaces: list[LocalInterface] = []
    yield ifaces.append
    for iface in ifaces:
        for name in jobdir.job_dir_names(iface.workspace):
            try:
                iface.cancel_job(JobId(name))
            except Exception:
                pass


# ---- running jobs


def test_submit_runs_to_completed_with_the_exact_output(tmp_path):
    iface = LocalInterface("loc", 1, SUM, tmp_path / "ws")
    x = Input(1 / 3, 2 / 7, 1e-10, -0.1)
    iface.submit_job(Job(1, x))
    assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(1)) == sum(x)
    assert iface.failure_reason(JobId(1)) is None
    assert (tmp_path / "ws" / "1" / jobdir.INPUT_FILE).read_text() == (
        ",".join(repr(c) for c in x) + "\n"
    )
    details = iface.job_details(JobId(1))
    assert details["job_dir"] == str((tmp_path / "ws" / "1").resolve())
    assert details["exit_code"] == 0 and details["pid"] > 0
    assert details["started"] <= details["ended"]
    assert details["stdout_tail"] == "summed 4 coordinates"
    assert details["stderr_tail"] == ""
    assert details["host"]


def test_string_command_is_split_like_a_shell(tmp_path):
    iface = LocalInterface("loc", 1, f"{sys.executable} '{SIMS / 'sum.py'}'", tmp_path)
    iface.submit_job(job(3, 0.5, 0.25))
    assert wait_status(iface, JobId(3)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(3)) == 0.75


@pytest.mark.parametrize(
    "sim, reason",
    [
        ("garbage.sh", "output 'abc' is not a number"),
        ("nothing.sh", "no output file"),
        ("nan.sh", "output is nan"),
    ],
)
def test_bad_output_fails_with_the_reason(tmp_path, sim, reason):
    iface = LocalInterface("loc", 1, str(SIMS / sim), tmp_path)
    iface.submit_job(job(1))
    assert wait_status(iface, JobId(1)) is JobStatus.FAILED
    assert iface.failure_reason(JobId(1)) == reason
    with pytest.raises(NoOutputError) as info:
        iface.get_job_output(JobId(1))
    assert info.value.status is JobStatus.FAILED and reason in str(info.value)


def test_non_zero_exit_fails_and_keeps_the_stderr_tail(tmp_path):
    iface = LocalInterface("loc", 1, str(SIMS / "fail.sh"), tmp_path)
    iface.submit_job(job(1))
    assert wait_status(iface, JobId(1)) is JobStatus.FAILED
    reason = iface.failure_reason(JobId(1))
    assert reason == (
        "exit code 3; stderr: noise line 7\nnoise line 8\nnoise line 9\nnoise line 10\n"
        "fatal: the mesh is inverted"
    )
    details = iface.job_details(JobId(1))
    assert details["exit_code"] == 3
    assert details["stderr_tail"].splitlines()[0] == "noise line 1"
    assert details["stdout_tail"] == "this went to stdout"


def test_a_job_whose_process_vanished_without_exit_code_fails(tmp_path):
    iface = LocalInterface("loc", 1, SUM, tmp_path)
    # A job dir as a killed (-9) wrapper leaves it, its pid now taken by another process.
    job_dir = tmp_path / "9"
    job_dir.mkdir()
    (job_dir / jobdir.INPUT_FILE).write_text("1.0\n")
    (job_dir / jobdir.STARTED_MARKER).mkdir()
    (job_dir / jobdir.PID_FILE).write_text(f"{os.getpid()}\n")
    assert iface.get_job_status(JobId(9)) is JobStatus.FAILED
    assert iface.failure_reason(JobId(9)) == jobdir.NO_EXIT_CODE_REASON


def test_unknown_job_ids_raise_a_clear_error(tmp_path):
    iface = LocalInterface("loc", 1, SUM, tmp_path)
    with pytest.raises(UnknownJobError, match="Job 404 is unknown to interface 'loc'"):
        iface.get_job_status(JobId(404))
    with pytest.raises(KeyError):
        iface.get_job_output(JobId(404))
    with pytest.raises(UnknownJobError):
        iface.get_job_statuses([JobId(404)])
    iface.submit_job(job(1, 1.0))
    statuses = iface.get_job_statuses([JobId(1), JobId(404)])
    assert set(statuses) == {JobId(1)}
    assert iface.find_jobs([JobId(1), JobId(404)]) == {JobId(1)}
    wait_status(iface, JobId(1))


# ---- cancelling


def test_cancel_running_job_kills_the_whole_process_group(tmp_path, cleanup):
    iface = LocalInterface("loc", 1, str(SIMS / "sleep.sh"), tmp_path)
    cleanup(iface)
    iface.submit_job(job(1))
    job_dir = tmp_path / "1"
    wait_for(lambda: (job_dir / "child_pid").exists() and (job_dir / "sim_pid").exists())
    wait_status(iface, JobId(1), JobStatus.RUNNING)
    pgid = int((job_dir / jobdir.PID_FILE).read_text())
    sim_pid = int((job_dir / "sim_pid").read_text())
    child_pid = int((job_dir / "child_pid").read_text())
    assert os.getpgid(child_pid) == pgid

    iface.cancel_job(JobId(1))

    assert iface.get_job_status(JobId(1)) is JobStatus.CANCELLED
    assert iface.failure_reason(JobId(1)) is None
    # The whole tree is gone: wrapper, simulator and the simulator's own child.
    for pid in (pgid, sim_pid, child_pid):
        wait_for(lambda: pid_gone(pid), 10, f"pid {pid} gone")
    assert not jobdir.process_group_alive(pgid)
    with pytest.raises(JobAlreadyEndedError) as info:
        iface.cancel_job(JobId(1))
    assert info.value.status is JobStatus.CANCELLED
    assert "already ended with status Cancelled" in str(info.value)


def test_cancel_a_queued_job_never_starts_it(tmp_path, gate, cleanup):
    iface = LocalInterface("loc", 1, GATE, tmp_path / "ws", max_jobs=1)
    cleanup(iface)
    iface.submit_job(job(1, 4.0))
    iface.submit_job(job(2, 5.0))
    wait_status(iface, JobId(1), JobStatus.RUNNING)
    assert iface.get_job_status(JobId(2)) is JobStatus.SUBMITTED

    iface.cancel_job(JobId(2))

    assert iface.get_job_status(JobId(2)) is JobStatus.CANCELLED
    gate.touch()
    assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(1)) == 4.0
    assert iface.get_job_statuses([JobId(1), JobId(2)]) == {
        JobId(1): JobStatus.COMPLETED, JobId(2): JobStatus.CANCELLED}
    assert not (tmp_path / "ws" / "2" / jobdir.STARTED_MARKER).exists()


def test_cancel_a_finished_job_says_how_it_ended(tmp_path):
    iface = LocalInterface("loc", 1, SUM, tmp_path)
    iface.submit_job(job(1, 1.5))
    wait_status(iface, JobId(1))
    with pytest.raises(JobAlreadyEndedError, match="already ended with status Completed"):
        iface.cancel_job(JobId(1))
    assert iface.get_job_status(JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(1)) == 1.5


# ---- queueing and running once


def test_never_more_than_max_jobs_run_at_once(tmp_path, monkeypatch):
    conc = tmp_path / "conc"
    monkeypatch.setenv("SIMJOBS_TEST_CONC_DIR", str(conc))
    iface = LocalInterface("loc", 1, [sys.executable, str(SIMS / "concurrent.py")],
                           tmp_path / "ws", max_jobs=2)
    ids = [JobId(n) for n in range(1, 8)]
    for job_id in ids:
        iface.submit_job(Job(job_id, Input(float(str(job_id)))))
    max_running = 0

    def all_done():
        nonlocal max_running
        statuses = iface.get_job_statuses(ids)
        running = [j for j, s in statuses.items() if s is JobStatus.RUNNING]
        max_running = max(max_running, len(running))
        return all(s is JobStatus.COMPLETED for s in statuses.values())

    wait_for(all_done, 60)
    seen = [int(line) for line in (conc / "seen").read_text().split()]
    assert len(seen) == len(ids)  # every job ran, once
    assert max(seen) <= 2
    assert max_running <= 2


def test_queued_jobs_start_in_job_id_order(tmp_path, gate, cleanup):
    ws = tmp_path / "ws"
    iface = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(iface)
    for n in (4, 3, 2, 1):  # 4 takes the free slot; 3, 2, 1 queue behind it
        iface.submit_job(job(n, float(n)))
    wait_status(iface, JobId(4), JobStatus.RUNNING)
    gate.touch()
    ids = [JobId(n) for n in (1, 2, 3, 4)]
    wait_for(lambda: set(iface.get_job_statuses(ids).values()) == {JobStatus.COMPLETED})
    by_start = sorted(ids, key=lambda j: float((ws / str(j) / jobdir.STARTED_FILE).read_text()))
    assert by_start == [JobId(4), JobId(1), JobId(2), JobId(3)]


def test_submitting_the_same_job_id_twice_runs_it_once(tmp_path, monkeypatch):
    counter = tmp_path / "runs.txt"
    monkeypatch.setenv("SIMJOBS_TEST_COUNTER", str(counter))
    iface = LocalInterface("loc", 1, str(SIMS / "count.sh"), tmp_path / "ws")
    iface.submit_job(job(1))
    iface.submit_job(job(1))  # at once, while it may still be starting
    assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED
    iface.submit_job(job(1))  # after it finished
    again = LocalInterface("loc", 1, str(SIMS / "count.sh"), tmp_path / "ws")
    again.submit_job(job(1))  # from a new interface (the resume path)
    assert again.get_job_status(JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_status(JobId(1)) is JobStatus.COMPLETED
    assert len(counter.read_text().splitlines()) == 1


def test_a_new_interface_picks_up_running_finished_and_queued_jobs(tmp_path, gate,
                                                                    cleanup):
    ws = tmp_path / "ws"
    first = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(first)
    gate.touch()
    first.submit_job(job(1, 1.25))
    assert wait_status(first, JobId(1)) is JobStatus.COMPLETED
    gate.unlink()
    first.submit_job(job(2, 2.5))  # runs and waits for the gate
    first.submit_job(job(3, 3.75))  # queued behind it
    wait_status(first, JobId(2), JobStatus.RUNNING)
    assert first.get_job_status(JobId(3)) is JobStatus.SUBMITTED
    wait_for(lambda: (ws / "2" / "sim_pid").exists())  # the simulator itself is up
    wrapper_pid = int((ws / "2" / jobdir.PID_FILE).read_text())
    del first
    gc.collect()

    second = LocalInterface("loc", 1, GATE, ws, max_jobs=1)
    cleanup(second)
    ids = [JobId(1), JobId(2), JobId(3)]
    assert second.get_job_statuses(ids) == {
        JobId(1): JobStatus.COMPLETED,
        JobId(2): JobStatus.RUNNING,  # kept running while no interface watched it
        JobId(3): JobStatus.SUBMITTED,  # the adopted job still holds the only slot
    }
    assert second.get_job_output(JobId(1)) == 1.25
    assert not (ws / "3" / jobdir.STARTED_MARKER).exists()
    assert jobdir.process_is_wrapper(wrapper_pid, ws / "2")

    gate.touch()
    assert wait_status(second, JobId(2)) is JobStatus.COMPLETED
    assert wait_status(second, JobId(3)) is JobStatus.COMPLETED
    assert second.get_job_output(JobId(2)) == 2.5
    assert second.get_job_output(JobId(3)) == 3.75
    second.close()


def test_queued_jobs_left_on_disk_are_started_by_a_new_interface(tmp_path):
    ws = tmp_path / "ws"
    job_dir = ws / "5"
    job_dir.mkdir(parents=True)
    (job_dir / jobdir.INPUT_FILE).write_bytes(jobdir.format_input([0.5, 0.5]))
    iface = LocalInterface("loc", 1, SUM, ws)
    iface.submit_job(job(6, 1.0, 1.0))  # the first call adopts the queued job 5 too

    def job_5_done():
        iface.get_job_statuses([JobId(6)])  # only job 6 is polled
        return (job_dir / jobdir.EXIT_CODE_FILE).exists()

    wait_for(job_5_done)
    assert iface.get_job_output(JobId(5)) == 1.0
    assert wait_status(iface, JobId(6)) is JobStatus.COMPLETED


def test_workspace_with_spaces_and_quotes(tmp_path):
    ws = tmp_path / "my work 'dir' \"quoted\" $HOME & `x`"
    sim = tmp_path / "sims dir 'q'" / "sum it.py"
    sim.parent.mkdir()
    sim.write_text((SIMS / "sum.py").read_text())
    iface = LocalInterface("loc", 1, [sys.executable, str(sim)], ws)
    iface.submit_job(job(1, 0.1, 0.2))
    assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED
    assert iface.get_job_output(JobId(1)) == 0.1 + 0.2


# ---- construction


def test_describe_and_properties(tmp_path):
    iface = LocalInterface("loc", 2, SUM, tmp_path / "new" / "ws", max_jobs=3)
    assert (tmp_path / "new" / "ws").is_dir()
    assert iface.kind == "local" and iface.name == "loc" and iface.level == 2
    assert iface.max_jobs == 3
    info = iface.describe()
    assert info["kind"] == "local" and info["max_jobs"] == 3 and info["host"]
    assert info["workspace"] == str((tmp_path / "new" / "ws").resolve())
    assert LocalInterface("loc", 1, SUM, tmp_path).max_jobs == (os.cpu_count() or 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(command=""), "command of interface 'loc' is empty"),
        (dict(command=[]), "command of interface 'loc' is empty"),
        (dict(command="no-such-simulator-xyz --fast"), "was not found on PATH"),
        (dict(command="'unbalanced"), "cannot be parsed"),
        (dict(command=str(SIMS / "sum.py")), "is not executable"),
        (dict(command=[1, 2]), "must be a string or a list of strings"),
        (dict(max_jobs=0), "max_jobs of interface 'loc' must be a whole number"),
        (dict(max_jobs=2.5), "max_jobs"),
        (dict(max_jobs=True), "max_jobs"),
        (dict(level="1"), "level of interface 'loc' must be an integer"),
        (dict(level=1.0), "level"),
        (dict(name=""), "name must be a non-empty string"),
    ],
)
def test_invalid_arguments_give_one_clear_value_error(tmp_path, kwargs, message):
    args = dict(name="loc", level=1, command=SUM, workspace=tmp_path / "ws")
    args.update(kwargs)
    with pytest.raises(ValueError, match=message) as info:
        LocalInterface(**args)
    assert "\n" not in str(info.value)


def test_workspace_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="workspace .* cannot be created"):
        LocalInterface("loc", 1, SUM, blocker / "ws")


# ---- the demo simulator


def demo_env(**extra):
    env = {**os.environ, "SIMJOBS_DEMO_FAST": "1", "SIMJOBS_DEMO_FAILURE_RATE": "0",
           **extra}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH"), str(SRC)) if p)
    return env


def test_demo_simulator_gives_different_outputs_per_level(tmp_path):
    from simjobs.demo.simulator import simulate

    (tmp_path / "in.csv").write_bytes(jobdir.format_input([0.3, 0.7]))
    outputs = {}
    for level in (1, 2):
        out = tmp_path / f"out{level}.txt"
        result = subprocess.run(
            [sys.executable, "-m", "simjobs.demo.simulator", "--level", str(level),
             str(tmp_path / "in.csv"), str(out)],
            env=demo_env(), capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        outputs[level] = float(out.read_text())
        assert outputs[level] == simulate([0.3, 0.7], level)
    assert outputs[1] != outputs[2]
    # Every coordinate matters.
    assert simulate([0.3, 0.7], 2) != simulate([0.3, 0.2], 2)
    assert simulate([0.3, 0.7], 1) != simulate([0.3, 0.2], 1)


def test_demo_simulator_fails_now_and_then_with_a_message(tmp_path):
    (tmp_path / "in.csv").write_text("0.5,0.5\n")
    result = subprocess.run(
        [sys.executable, "-m", "simjobs.demo.simulator", "--level", "1",
         str(tmp_path / "in.csv"), str(tmp_path / "out.txt")],
        env=demo_env(SIMJOBS_DEMO_FAILURE_RATE="1"), capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "demo simulator" in result.stderr
    assert not (tmp_path / "out.txt").exists()


def test_demo_simulator_runs_under_local_interfaces(tmp_path, monkeypatch):
    for key, value in demo_env().items():
        monkeypatch.setenv(key, value)
    ifaces = {
        level: LocalInterface(f"demo-{level}", level,
                              [sys.executable, "-m", "simjobs.demo.simulator",
                               "--level", str(level)], tmp_path / str(level))
        for level in (1, 2)
    }
    for iface in ifaces.values():
        iface.submit_job(job(1, 0.3, 0.7))
    for iface in ifaces.values():
        assert wait_status(iface, JobId(1)) is JobStatus.COMPLETED, iface.failure_reason(
            JobId(1))
    assert ifaces[1].get_job_output(JobId(1)) != ifaces[2].get_job_output(JobId(1))


def test_demo_config_template_matches_the_config_format():
    path = SRC / "simjobs" / "demo" / "demo.toml"
    config = tomllib.loads(path.read_text())
    assert config["log"] == {"path": "runs.csv", "input_dim": 2}
    assert config["manager"]["polling_interval"] > 0
    by_name = {i["name"]: i for i in config["interfaces"]}
    assert set(by_name) == {"local-fast", "local-accurate"}
    assert by_name["local-fast"]["level"] == 1 and by_name["local-accurate"]["level"] == 2
    for level, iface in ((1, by_name["local-fast"]), (2, by_name["local-accurate"])):
        assert iface["kind"] == "local"
        assert iface["command"] == f"{{python}} -m simjobs.demo.simulator --level {level}"
        assert not Path(iface["workspace"]).is_absolute()
        assert iface["max_jobs"] >= 1
