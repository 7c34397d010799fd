"""Errors a person can act on (issue 8, item 8): a full disk, read-only files and
directories, damaged or foreign files given as a log. Real processes, a real tmpfs
filled up, real read-only/immutable files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import sim_command, wait_for

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
    journal_before = (small_disk / "runs.csv.journal").read_bytes()
    fill(small_disk)

    result = cli("submit", "--config", config, "-i", "3,4")
    assert result.returncode == 1, result.stderr
    no_traceback(result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("simjobs: error: no space left on device writing "
                           f"runs.csv.journal (0 B free on {small_disk})"), result.stderr
    # The failed batch was cut back: nothing torn is left in the journal.
    assert (small_disk / "runs.csv.journal").read_bytes() == journal_before


def test_run_reports_a_full_disk_once_and_again_when_it_clears(cli, make_config, small_disk,
                                                               tmp_path, gate):
    log = small_disk / "runs.csv"
    config = config_for(make_config, log, "gate.py")
    # A job on the hardware, and an empty journal (submit folds it in when it stops):
    # on the full disk, the first change the manager writes needs a new block and fails.
    assert cli("submit", "--config", config, "-i", "1,2").returncode == 0
    journal = small_disk / "runs.csv.journal"
    assert journal.stat().st_size == 0
    filler = fill(small_disk)
    errors = tmp_path / "run.stderr"
    with open(errors, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "simjobs", "run", "--config", str(config)],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)
    try:
        gate.touch()  # the job ends; recording that fails while the disk is full
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
        wait_for(lambda: journal.stat().st_size > 0, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    text = errors.read_text()
    no_traceback(text)
    assert text.count("no space left on device") == 2, text  # the error, and in "works again"
    assert proc.returncode == 0, text
