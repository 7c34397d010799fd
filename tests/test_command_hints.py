"""The commands the program prints as hints work from the shell the user is in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "simjobs"


def _path_without_the_venv() -> str:
    venv_bin = str(SCRIPT.parent)
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and os.path.realpath(p) != os.path.realpath(venv_bin))


def _demo(tmp_path: Path, path_env: str) -> str:
    env = dict(os.environ, PATH=path_env)
    result = subprocess.run([str(SCRIPT), "demo", "--dir", str(tmp_path / "demo"), "--fast",
                             "--jobs", "1"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    found = re.search(r"see the jobs with: (.+)$", result.stderr, re.MULTILINE)
    assert found, result.stderr
    return found.group(1)


@pytest.mark.skipif(not SCRIPT.exists(), reason="simjobs is not installed as a script "
                    "beside this Python (run the tests from the project's .venv)")
def test_a_hint_printed_outside_the_venv_works_in_that_shell(tmp_path):
    # After `make demo` a fresh shell has no `simjobs` on PATH: the hint must carry the
    # script's full path, and the printed command must run as printed.
    path_env = _path_without_the_venv()
    hint = _demo(tmp_path, path_env)
    assert hint.startswith(str(SCRIPT) + " status --config "), hint
    shown = subprocess.run(["/bin/sh", "-c", hint], capture_output=True, text=True,
                           env=dict(os.environ, PATH=path_env), cwd="/", timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "Completed" in shown.stdout or "Failed" in shown.stdout, shown.stdout


@pytest.mark.skipif(not SCRIPT.exists(), reason="simjobs is not installed as a script "
                    "beside this Python (run the tests from the project's .venv)")
def test_a_hint_says_plain_simjobs_when_it_is_on_path(tmp_path):
    hint = _demo(tmp_path, os.pathsep.join([str(SCRIPT.parent), _path_without_the_venv()]))
    assert hint.startswith("simjobs status --config "), hint
