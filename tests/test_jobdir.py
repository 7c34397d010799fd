"""The job-directory protocol: state from files, and the wrapper run directly."""

from __future__ import annotations

import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import helpers

from simjobs.core.types import Input, JobStatus
from simjobs.interfaces import jobdir
from simjobs.interfaces.jobdir import (
    CANCELLED_FILE,
    ENDED_FILE,
    EXIT_CODE_FILE,
    INPUT_FILE,
    OUTPUT_FILE,
    PID_FILE,
    STARTED_FILE,
    STARTED_MARKER,
    STDERR_FILE,
    STDOUT_FILE,
    JobState,
    LocalJobFiles,
    job_state_from_files,
)

SIMS = Path(__file__).parent / "sims"



def wait_for(predicate, timeout: float = 15.0, message: str = ""):
    return helpers.wait_for(predicate, timeout=timeout, interval=0.01, message=message)


def finished(**files) -> dict:
    base = {STARTED_MARKER: b"", PID_FILE: b"123\n", STARTED_FILE: b"100.5\n",
            ENDED_FILE: b"101.25\n"}
    base.update(files)
    return base


# ---- state from files


def test_no_started_marker_is_queued():
    state = job_state_from_files({})
    assert state.status is JobStatus.SUBMITTED and state.queued and not state.finished


def test_started_without_exit_code_is_running_while_alive_or_unknown():
    files = {STARTED_MARKER: b"", PID_FILE: b"42\n", STARTED_FILE: b"1.5\n"}
    assert job_state_from_files(files, alive=True).status is JobStatus.RUNNING
    assert job_state_from_files(files, alive=None).status is JobStatus.RUNNING
    state = job_state_from_files(files, alive=True)
    assert state.pid == 42 and state.started == 1.5


def test_started_without_exit_code_and_process_gone_is_failed():
    state = job_state_from_files({STARTED_MARKER: b""}, alive=False)
    assert state.status is JobStatus.FAILED
    assert state.reason == "the job's process ended without recording an exit code"


def test_exit_zero_with_a_number_is_completed_at_full_precision():
    value = 1 / 3 + 1e-17
    state = job_state_from_files(
        finished(**{EXIT_CODE_FILE: b"0\n", OUTPUT_FILE: repr(value).encode() + b"\n"})
    )
    assert state.status is JobStatus.COMPLETED
    assert state.output == value
    assert (state.exit_code, state.started, state.ended) == (0, 100.5, 101.25)


@pytest.mark.parametrize(
    "output, reason",
    [
        (None, "no output file"),
        (b"", "the output file is empty"),
        (b"  \n", "the output file is empty"),
        (b"abc\n", "output 'abc' is not a number"),
        (b"1.0 2.0\n", "output '1.0 2.0' is not a number"),
        (b"nan\n", "output 'nan' is not a number"),
        (b"-inf\n", "output '-inf' is not a number"),
    ],
)
def test_exit_zero_without_a_valid_number_is_failed(output, reason):
    files = finished(**{EXIT_CODE_FILE: b"0\n"})
    if output is not None:
        files[OUTPUT_FILE] = output
    state = job_state_from_files(files, alive=False)
    assert state.status is JobStatus.FAILED
    assert state.reason == reason


def test_non_zero_exit_is_failed_with_the_stderr_tail():
    stderr = b"".join(f"line {i}\n".encode() for i in range(1, 21))
    state = job_state_from_files(
        finished(**{EXIT_CODE_FILE: b"2\n", STDERR_FILE: stderr, OUTPUT_FILE: b"1.0"})
    )
    assert state.status is JobStatus.FAILED
    assert state.reason == "exit code 2; stderr: line 16\nline 17\nline 18\nline 19\nline 20"


def test_non_zero_exit_tail_is_bounded_and_names_signals():
    state = job_state_from_files(
        finished(**{EXIT_CODE_FILE: b"137\n", STDERR_FILE: b"x" * 5000})
    )
    assert state.reason.startswith("exit code 137 (killed by SIGKILL); stderr: ...")
    assert len(state.reason) < 600
    empty = job_state_from_files(finished(**{EXIT_CODE_FILE: b"1\n"}))
    assert empty.reason == "exit code 1; no stderr output"


def test_cancelled_marker_wins_over_everything_else():
    assert job_state_from_files({CANCELLED_FILE: b"5.0\n"}).status is JobStatus.CANCELLED
    running = {CANCELLED_FILE: b"5.0\n", STARTED_MARKER: b""}
    assert job_state_from_files(running, alive=True).status is JobStatus.CANCELLED
    assert job_state_from_files(running, alive=False).status is JobStatus.CANCELLED


def test_a_job_that_ended_before_the_cancel_request_keeps_its_ending():
    files = finished(**{EXIT_CODE_FILE: b"0\n", OUTPUT_FILE: b"2.5\n",
                        CANCELLED_FILE: b"200.0\n"})
    state = job_state_from_files(files)
    assert state.status is JobStatus.COMPLETED and state.output == 2.5


def test_unreadable_exit_code_is_failed():
    state = job_state_from_files(finished(**{EXIT_CODE_FILE: b"zz\n"}))
    assert state.status is JobStatus.FAILED and "unreadable exit code" in state.reason


def test_input_round_trips_at_full_precision():
    x = Input(1 / 3, -2.5e-300, 7, 0.1 + 0.2)
    data = jobdir.format_input(x)
    assert data.count(b"\n") == 1
    assert jobdir.parse_input(data) == (1 / 3, -2.5e-300, 7.0, 0.1 + 0.2)


def test_job_state_is_a_value():
    assert JobState(JobStatus.RUNNING) == JobState(JobStatus.RUNNING)


def test_rendered_wrapper_assigns_the_module_names_as_shell_variables():
    text = jobdir.render_wrapper()
    assert "@" not in text.replace('"$@"', "").replace("$@", "")
    assert text.startswith("#!/bin/sh\n")
    names = {"input_file": INPUT_FILE, "output_file": OUTPUT_FILE,
             "started_marker": STARTED_MARKER, "pid_file": PID_FILE,
             "exit_code_file": EXIT_CODE_FILE, "cancelled_file": CANCELLED_FILE,
             "stdout_file": STDOUT_FILE, "stderr_file": STDERR_FILE,
             "started_file": STARTED_FILE, "ended_file": ENDED_FILE}
    for variable, name in names.items():
        assert f"\n{variable}={shlex.quote(name)}\n" in text


def test_wrapper_parses_with_strict_posix_shells(tmp_path):
    # The shipped file, and the rendered one that runs.
    rendered = tmp_path / "rendered.sh"
    rendered.write_text(jobdir.render_wrapper())
    shells = [s for s in ("dash", "posh", "sh") if shutil.which(s)]
    assert shells
    for path in (Path(jobdir.__file__).with_name("wrapper.sh"), rendered):
        for shell in shells:
            subprocess.run([shutil.which(shell), "-n", str(path)], check=True)


# ---- local files and the wrapper itself


def make_job(tmp_path: Path, coords=(1.0, 2.0), name="7") -> Path:
    job_dir = tmp_path / name
    job_dir.mkdir(parents=True)
    (job_dir / INPUT_FILE).write_bytes(jobdir.format_input(coords))
    wrapper = tmp_path / "wrapper.sh"
    if not wrapper.exists():
        wrapper.write_text(jobdir.render_wrapper())
    return job_dir


def run_wrapper(job_dir: Path, *command: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/sh", str(job_dir.parent / "wrapper.sh"), str(job_dir), *command],
        capture_output=True,
        env=env,
        timeout=60,
    )


def test_wrapper_records_the_job_and_reader_sees_it(tmp_path):
    job_dir = make_job(tmp_path, (1 / 3, 0.25))
    before = time.time()
    run_wrapper(job_dir, sys.executable, str(SIMS / "sum.py"))
    files = LocalJobFiles(job_dir)
    state = job_state_from_files(files, alive=False)
    assert state.status is JobStatus.COMPLETED
    assert state.output == 1 / 3 + 0.25
    assert state.exit_code == 0 and state.pid > 0
    assert before - 2 <= state.started <= state.ended <= time.time() + 2
    assert files[STDOUT_FILE] == b"summed 2 coordinates\n"
    assert files[STDERR_FILE] == b""
    # The atomic writes leave no temporary files behind.
    assert sorted(p.name for p in job_dir.iterdir()) == sorted(
        [INPUT_FILE, OUTPUT_FILE, STDOUT_FILE, STDERR_FILE, STARTED_MARKER, PID_FILE,
         STARTED_FILE, ENDED_FILE, EXIT_CODE_FILE]
    )


def test_wrapper_keeps_a_non_zero_exit_code_and_stderr(tmp_path):
    job_dir = make_job(tmp_path)
    result = run_wrapper(job_dir, str(SIMS / "fail.sh"))
    assert result.returncode == 3
    state = job_state_from_files(LocalJobFiles(job_dir), alive=False)
    assert state.status is JobStatus.FAILED
    assert state.reason.startswith("exit code 3; stderr: noise line 7\n")
    assert state.reason.endswith("fatal: the mesh is inverted")


def test_wrapper_never_runs_a_job_twice(tmp_path):
    counter = tmp_path / "runs.txt"
    env = {**os.environ, "SIMJOBS_TEST_COUNTER": str(counter)}
    job_dir = make_job(tmp_path)
    procs = [
        subprocess.Popen(
            ["/bin/sh", str(tmp_path / "wrapper.sh"), str(job_dir), str(SIMS / "count.sh")],
            env=env,
        )
        for _ in range(5)
    ]
    for proc in procs:
        proc.wait(timeout=60)
    run_wrapper(job_dir, str(SIMS / "count.sh"), env=env)
    assert len(counter.read_text().splitlines()) == 1
    assert job_state_from_files(LocalJobFiles(job_dir)).output == 1.0


def test_wrapper_does_not_start_a_cancelled_job(tmp_path):
    counter = tmp_path / "runs.txt"
    job_dir = make_job(tmp_path)
    (job_dir / CANCELLED_FILE).write_text("1.0\n")
    run_wrapper(job_dir, str(SIMS / "count.sh"),
                env={**os.environ, "SIMJOBS_TEST_COUNTER": str(counter)})
    assert not counter.exists()
    assert job_state_from_files(LocalJobFiles(job_dir)).status is JobStatus.CANCELLED


def test_wrapper_handles_spaces_and_quotes_in_paths(tmp_path):
    base = tmp_path / "a dir with 'quotes' and \"double\" $HOME `x`"
    job_dir = make_job(base, (0.5, 0.25))
    sim = base / "my sim's.py"
    sim.write_text((SIMS / "sum.py").read_text())
    run_wrapper(job_dir, sys.executable, str(sim))
    state = job_state_from_files(LocalJobFiles(job_dir), alive=False)
    assert state.status is JobStatus.COMPLETED and state.output == 0.75


def test_reader_reads_only_the_tail_of_big_stderr(tmp_path):
    job_dir = tmp_path / "1"
    job_dir.mkdir()
    (job_dir / STDERR_FILE).write_bytes(b"a" * 100_000 + b"\nlast line\n")
    data = LocalJobFiles(job_dir)[STDERR_FILE]
    assert len(data) == jobdir.TAIL_BYTES and data.endswith(b"last line\n")
    assert LocalJobFiles(job_dir)[OUTPUT_FILE] is None
    assert LocalJobFiles(job_dir)[STARTED_MARKER] is None


def test_process_is_wrapper_rejects_a_reused_pid(tmp_path):
    # This test process is alive but is not running the job directory's wrapper.
    assert not jobdir.process_is_wrapper(os.getpid(), tmp_path / "1")
    assert not jobdir.process_is_wrapper(2**22 + 12345, tmp_path / "1")


def test_process_is_wrapper_accepts_the_wrapper(tmp_path, monkeypatch):
    gate = tmp_path / "gate"
    monkeypatch.setenv("SIMJOBS_TEST_GATE", str(gate))
    job_dir = make_job(tmp_path)
    proc = subprocess.Popen(
        ["/bin/sh", str(tmp_path / "wrapper.sh"), str(job_dir), sys.executable,
         str(SIMS / "gate.py")],
        start_new_session=True,
    )
    try:
        wait_for(lambda: (job_dir / PID_FILE).exists())
        pid = int((job_dir / PID_FILE).read_text())
        assert pid == proc.pid
        assert jobdir.process_is_wrapper(pid, job_dir)
        assert jobdir.process_group_alive(pid)
    finally:
        gate.touch()
        proc.wait(timeout=60)
    assert not jobdir.process_is_wrapper(pid, job_dir)
    wait_for(lambda: not jobdir.process_group_alive(pid))
    assert math.isclose(job_state_from_files(LocalJobFiles(job_dir)).output, 1.0)


# ---- process groups: who is in one, and telling a member from a reused pid

linux_proc = pytest.mark.skipif(
    not (sys.platform == "linux" and os.path.isdir("/proc/self")), reason="needs Linux /proc")


@linux_proc
def test_process_group_members_names_live_members_with_their_start_times():
    # A session leader with a child: a group of two, neither of them this process.
    leader = subprocess.Popen(["/bin/sh", "-c", "sleep 600 & wait"], start_new_session=True)
    try:
        members = wait_for(lambda: (m := jobdir.process_group_members(leader.pid))
                           and len(m) == 2 and m)
        assert leader.pid in members and os.getpid() not in members
        for pid, start in members.items():
            assert jobdir.process_in_group(pid, start, leader.pid)
            assert not jobdir.process_in_group(pid, start + 1, leader.pid)  # another process
            assert not jobdir.process_in_group(pid, start, os.getpgid(0))  # another group
    finally:
        os.killpg(leader.pid, 9)
        leader.wait(timeout=60)
    wait_for(lambda: jobdir.process_group_members(leader.pid) == {})
    assert not any(jobdir.process_in_group(p, s, leader.pid) for p, s in members.items())
    assert not jobdir.process_group_alive(leader.pid)


def test_process_in_group_of_no_process_is_false():
    assert not jobdir.process_in_group(2**22 + 12345, 1, 2**22 + 12345)
