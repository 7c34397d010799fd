"""``simjobs demo``: the bundled config and simulator, run to the end."""

from __future__ import annotations

import pytest

from helpers import records_of
from simjobs.core.types import TERMINAL_STATUSES

pytestmark = pytest.mark.slow


def test_demo_runs_to_the_end_with_jobs_at_both_levels(cli, tmp_path):
    demo = tmp_path / "demo"
    result = cli("demo", "--dir", demo, "--fast", timeout=240)
    assert result.returncode == 0, result.stderr
    records = records_of(demo / "runs.csv")
    assert len(records) == 16
    levels = [r.level for r in records.values()]
    assert (levels.count(1), levels.count(2)) == (12, 4)
    assert all(r.status in TERMINAL_STATUSES for r in records.values())
    assert all(0 <= c <= 1 for r in records.values() for c in r.coords)
    assert (demo / "demo.toml").is_file()
    # Not a terminal: one plain line per status change, then the summary.
    assert "-> Completed" in result.stdout
    assert "16 of 16 jobs done" in result.stdout

    # A second run reuses the directory (an edited config is kept) and adds new jobs.
    config = demo / "demo.toml"
    config.write_text(config.read_text() + "\n# edited\n")
    result = cli("demo", "--dir", demo, "--fast", "--jobs", "2", timeout=240)
    assert result.returncode == 0, result.stderr
    assert config.read_text().endswith("# edited\n")
    records = records_of(demo / "runs.csv")
    assert len(records) == 18
    assert all(r.status in TERMINAL_STATUSES for r in records.values())
    assert len({r.coords for r in records.values()}) == 18  # fresh points each run
