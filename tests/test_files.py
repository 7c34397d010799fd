"""One atomic_write for every file simjobs replaces whole (issue 8 item 1, issue 10 item 3):
no link followed, nothing left behind on failure, the umask respected, the old file or
the whole new one."""

from __future__ import annotations

import json
import os
import stat

import pytest

from simjobs.cli import main
from simjobs.core import Input, JobStatus, SimulationsLog
from simjobs.core.files import atomic_write


def test_writes_the_whole_file_with_the_umask_or_private(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a.txt", "hello\n")
        atomic_write(tmp_path / "b.txt", b"\x00\x01", private=True)
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_text() == "hello\n"
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert (tmp_path / "b.txt").read_bytes() == b"\x00\x01"
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "out.json").symlink_to(victim)
    atomic_write(tmp_path / "out.json", "{}\n")
    assert victim.read_text() == "keep\n"
    assert not (tmp_path / "out.json").is_symlink()
    assert (tmp_path / "out.json").read_text() == "{}\n"


def test_without_replace_an_existing_file_is_kept(tmp_path):
    (tmp_path / "x").write_text("first\n")
    with pytest.raises(FileExistsError):
        atomic_write(tmp_path / "x", "second\n", replace=False)
    assert (tmp_path / "x").read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    (tmp_path / "x").write_text("old\n")

    def no_space(fd):  # fault injection: the disk fills up at the fsync
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(tmp_path / "x", "new\n")
    assert (tmp_path / "x").read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


def test_the_remembered_theme_never_writes_through_a_planted_link(tmp_path):
    """The app's settings file was written through ``app.<pid>.tmp``, a name anyone can
    predict: a link planted there wrote into the file it pointed at."""
    from simjobs.app.themes import remember_theme, remembered_theme, settings_path

    path = settings_path()
    path.parent.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    path.with_suffix(f".{os.getpid()}.tmp").symlink_to(victim)
    remember_theme("simjobs-light")
    assert victim.read_text() == "keep\n"
    assert remembered_theme() == "simjobs-light"


def test_export_never_writes_through_a_planted_link(tmp_path, capsys):
    """``simjobs export`` wrote through ``.<name>.<pid>.tmp`` next to its target."""
    log = tmp_path / "runs.csv"
    with SimulationsLog(log, 2) as simulations:
        simulations.add_new_record(Input(1.0, 2.0), "1", JobStatus.FAILED, 1, "local")
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / f".out.json.{os.getpid()}.tmp").symlink_to(victim)
    assert main(["export", "--log", str(log), str(tmp_path / "out.json")]) == 0
    assert victim.read_text() == "keep\n"
    assert [r["job_id"] for r in json.loads((tmp_path / "out.json").read_text())] == ["1"]
