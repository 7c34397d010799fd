"""Errors a person can act on (issue 8, item 8): a full disk, read-only files and
directories, damaged or foreign files given as a log. Real processes, a real tmpfs
filled up, real read-only/immutable files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import records_of, sim_command, wait_for

pytestmark = pytest.mark.slow


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs and chattr +i need root")


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KB tmpfs mounted at tmp_path/disk (unmounted at teardown)."""
    needs_root()
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"cannot mount a tmpfs as root: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Write a filler file until the disk is full; returns it."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    assert shutil.disk_usage(disk).free == 0
    return filler


def config_for(make_config, log: Path, sim: str = "sum.py") -> Path:
    return make_config(log=str(log), polling_interval=0.05, interfaces=[
        {"name": "local", "level": 1, "command": sim_command(sim), "max_jobs": 2}])


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


def test_submit_on_a_full_disk_names_the_file_and_the_free_space(cli, make_config, small_disk):
    log = small_disk / "runs.csv"
    config = config_for(make_config, log)
    assert cli("submit", "--config", config, "-i", "1,2").returncode == 0
    fill(small_disk)

    # (More than the few bytes left in the journal's last block on a tmpfs.)
    result = cli("submit", "--config", config, *[f"--input={i},4" for i in range(300)])
    assert result.returncode == 1, result.stderr
    no_traceback(result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("simjobs: error: no space left on device writing "
                           f"runs.csv.journal (0 B free on {small_disk})"), result.stderr
    # The failed batch was cut back: nothing torn is left, and none of it was added.
    assert (small_disk / "runs.csv.journal").read_bytes().endswith(b"\r\n")
    assert len(records_of(log)) == 1


def test_an_sqlite_log_on_a_full_disk_is_one_line_too(cli, make_config, small_disk, tmp_path):
    from simjobs.core import Input, JobStatus, SimulationsLog

    log = small_disk / "runs.db"
    config = config_for(make_config, log)
    assert cli("submit", "--config", config, "-i", "1,2").returncode == 0
    filler = fill(small_disk)
    result = cli("submit", "--config", config, *[f"--input={i},2" for i in range(200)])
    assert result.returncode == 1, result.stderr
    no_traceback(result.stderr)
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"simjobs: error: no space left on device writing runs.db (0 B free on {small_disk})"
    ), result.stderr
    # Through the API, a write that meets the full disk is the same error, and the log
    # takes writes again once there is room.
    filler.unlink()
    with SimulationsLog.open(log, 2) as writer:
        filler = fill(small_disk)
        with pytest.raises(OSError) as caught:
            writer.add_new_records([(Input(i, 0.5), str(10 + i), JobStatus.PENDING_SUBMIT,
                                     1, "local") for i in range(500)])
        assert str(caught.value).startswith("no space left on device writing runs.db")
        filler.unlink()
        writer.add_new_record(Input(7, 7), "9")
    with SimulationsLog.open(log, 2, readonly=True) as reader:
        assert "9" in {str(r["job_id"]) for r in reader.get_records()}


def test_closing_a_csv_log_on_a_full_disk_keeps_it_whole_in_the_journal(small_disk):
    from simjobs.core import Input, SimulationsLog

    log = small_disk / "runs.csv"
    writer = SimulationsLog.open(log, 2)
    writer.add_new_record(Input(1, 2), "1")
    filler = fill(small_disk)
    with pytest.warns(UserWarning, match="could not fold the journal into the log .no space "
                      "left on device writing runs.csv.tmp"):
        writer.close()  # folding needs new files: it fails, but nothing is lost
    assert not [p for p in os.listdir(small_disk) if p.endswith(".tmp")]
    filler.unlink()
    with SimulationsLog.open(log, 2, readonly=True) as reader:
        assert [str(r["job_id"]) for r in reader.get_records()] == ["1"]


def test_run_reports_a_full_disk_once_and_again_when_it_clears(make_config, small_disk,
                                                               tmp_path):
    from simjobs.core import Input, JobStatus, SimulationsLog

    log = small_disk / "runs.csv"
    config = config_for(make_config, log)
    # 200 jobs waiting to be submitted: what the manager records about them is more
    # than the few bytes left in the journal's last block once the disk is full.
    with SimulationsLog.open(log, 2) as writer:
        writer.add_new_records([(Input(i, 1), str(1000 + i), JobStatus.PENDING_SUBMIT, 1,
                                 "local") for i in range(200)])
    journal = small_disk / "runs.csv.journal"
    filler = fill(small_disk)
    errors = tmp_path / "run.stderr"
    with open(errors, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "simjobs", "run", "--config", str(config)],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wanted = (f"simjobs: error: writing the log: no space left on device writing "
                  f"runs.csv.journal (0 B free on {small_disk})")
        wait_for(lambda: wanted in errors.read_text(), timeout=60)
        # Each failed attempt cuts the journal back (ftruncate), which moves its mtime:
        # wait for several more attempts, then check the error was not repeated.
        seen = {journal.stat().st_mtime_ns}
        wait_for(lambda: seen.add(journal.stat().st_mtime_ns) or len(seen) >= 4, timeout=60)
        assert errors.read_text().count("no space left on device") == 1, errors.read_text()

        filler.unlink()
        wait_for(lambda: "simjobs: writing the log works again" in errors.read_text(),
                 timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    text = errors.read_text()
    no_traceback(text)
    assert text.count("no space left on device") == 2, text  # the error, and in "works again"
    assert proc.returncode == 0, text


# ---- read-only files and directories --------------------------------------------------------


@pytest.fixture
def immutable():
    """chattr +i on paths (binds root too); undone at teardown."""
    needs_root()
    made: list[Path] = []

    def make(path: Path) -> Path:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        made.append(path)
        return path

    yield make
    for path in reversed(made):
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def logged(cli, make_config, tmp_path):
    """A config and its log holding one job."""
    config = config_for(make_config, tmp_path / "runs.csv")
    assert cli("submit", "--config", config, "-i", "1,2").returncode == 0
    return config


def one_error_line(result, code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    no_traceback(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simjobs: error: "), result.stderr
    return lines[0]


def test_a_read_only_journal_is_named(cli, logged, tmp_path, immutable):
    immutable(tmp_path / "runs.csv.journal")
    line = one_error_line(cli("submit", "--config", logged, "-i", "3,4"), 1)
    assert "runs.csv.journal" in line and "chattr -i" in line, line


def test_a_read_only_lock_file_is_called_so(cli, logged, tmp_path, immutable):
    lock = immutable(tmp_path / "runs.csv.lock")
    line = one_error_line(cli("submit", "--config", logged, "-i", "3,4"), 1)
    assert f"cannot open the lock file {lock} for writing" in line, line
    assert "read-only or immutable" in line and "directory" not in line, line


@pytest.mark.parametrize("name", ["runs.csv", "runs.db"])
def test_a_read_only_log_directory_still_lets_status_read(cli, make_config, tmp_path,
                                                          immutable, name):
    logs = tmp_path / "logs"
    logs.mkdir()
    config = config_for(make_config, logs / name)
    job = cli("submit", "--config", config, "-i", "1,2").stdout.strip()
    assert job
    files = sorted(os.listdir(logs))
    immutable(logs)  # (an SQLite log is in WAL mode: reading it needs a -shm file)
    result = cli("status", "--config", config, "--json")
    assert result.returncode == 0, result.stderr
    assert [j["job_id"] for j in json.loads(result.stdout)] == [job]
    assert cli("interfaces", "--config", config).returncode == 0
    assert sorted(os.listdir(logs)) == files
    # Writing still says why not.
    line = one_error_line(cli("submit", "--config", config, "-i", "3,4"), 2)
    assert "not writable" in line, line


# ---- damaged and foreign files --------------------------------------------------------------


def test_a_small_log_ending_in_nul_bytes_follows_the_stores_rule(cli, logged, tmp_path):
    from simjobs.core import SimulationsLog

    log = tmp_path / "runs.csv"
    with open(log, "ab") as f:
        f.write(b"\x00" * 200)  # a crash after the file grew, before its block was written
    assert log.stat().st_size < 4096
    with SimulationsLog.open(log, 2, readonly=True) as reader:
        ids = [str(r["job_id"]) for r in reader.get_records()]
    for args in (("--config", logged), ("--log", log)):
        result = cli("status", *args, "--json")
        assert result.returncode == 0, result.stderr
        assert [j["job_id"] for j in json.loads(result.stdout)] == ids
    # NUL bytes inside the lines (not a torn end) are still a binary file, for both.
    log.write_bytes(log.read_bytes().replace(b"\r\n", b"\x00\r\n", 1))
    line = one_error_line(cli("status", "--log", log), 2)
    assert "binary file" in line


def test_quoted_file_content_is_cut_to_about_80_characters(cli, logged, tmp_path):
    meta = tmp_path / "runs.csv.meta"
    lines = meta.read_bytes().split(b"\r\n")
    lines[1] = b"\x00" * 16000
    meta.write_bytes(b"\r\n".join(lines))
    line = one_error_line(cli("status", "--config", logged), 1)
    assert len(line) < 400, len(line)
    assert "(16000 characters)" in line and "delete that line" in line


def test_text_garbage_as_a_log_is_exit_2_with_one_message(cli, make_config, tmp_path):
    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello, this is not a log\nsecond line\n")
    before = sorted(os.listdir(tmp_path))
    config = config_for(make_config, garbage)
    from_status = one_error_line(cli("status", "--log", str(garbage)), 2)
    from_submit = one_error_line(cli("submit", "--config", config, "-i", "1,2"), 2)
    assert from_status == from_submit, (from_status, from_submit)
    assert "is not a simulations log header" in from_status and "check the path" in from_status
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["simjobs.toml"])
    assert garbage.read_text() == "hello, this is not a log\nsecond line\n"


def test_a_long_bad_value_in_an_input_csv_is_quoted_short(cli, make_config, tmp_path):
    config = config_for(make_config, tmp_path / "runs.csv")
    inputs = tmp_path / "inputs.csv"
    inputs.write_text("1,2\n" + "7" * 20 + "x" * 5000 + ",3\n")
    line = one_error_line(cli("submit", "--config", config, "--csv", inputs), 2)
    assert len(line) < 300 and "(5020 characters)" in line, line
