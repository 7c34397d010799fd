"""The shell code shipped in src/: in .sh files, shellcheck-clean, each function once."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from simjobs.interfaces import jobdir

SRC = Path(__file__).resolve().parent.parent / "src"
SHELL_FILES = sorted(SRC.rglob("*.sh"))
_DEFINITION = re.compile(r"(?m)^\s*([A-Za-z_][A-Za-z0-9_]*)\(\)\s*\{")


def _python_strings(path: Path):
    """The string literals of a module, docstrings left out."""
    tree = ast.parse(path.read_text("utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.value


def test_shell_files_are_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck, or "
                    "scripts/services/install-tools.sh)")
    assert SHELL_FILES
    result = subprocess.run([shellcheck, "-s", "sh", *map(str, SHELL_FILES)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_shell_function_is_defined_once_in_src():
    # Across the .sh files and every string literal of the Python modules.
    names: Counter = Counter()
    for path in SHELL_FILES:
        names.update(_DEFINITION.findall(path.read_text("utf-8")))
    for path in SRC.rglob("*.py"):
        for text in _python_strings(path):
            names.update(_DEFINITION.findall(text))
    assert names["now"] == 1
    assert [name for name, n in names.items() if n > 1] == []


def test_job_directory_shell_library_is_a_shipped_file():
    files = resources.files("simjobs.interfaces")
    for name in ("now.sh", "remote_lib.sh", "wrapper.sh"):
        assert files.joinpath(name).is_file(), name
    lib = files.joinpath("remote_lib.sh").read_text("utf-8")
    for function in ("rd", "alive_of", "stop_groups", "free_note", "installed"):
        assert re.search(rf"(?m)^{function}\(\) \{{", lib), function
    # One value convention: no text substitution left in the library.
    assert "__GRACE__" not in lib and not re.search(r"@[A-Z_]+@", lib)


# "; do", "; then", or a line that is "done", "fi", "esac" (or starts with one).
_SHELL_CONTROL = re.compile(r"(?m);\s*(do|then)\b|^\s*(done|fi|esac)\s*($|[;<>|&])")


def test_job_directory_operations_have_no_shell_code_in_python_strings():
    # The operations are functions of remote_*.sh; the Python side only calls them.
    path = SRC / "simjobs" / "interfaces" / "remote_jobdir.py"
    found = [text for text in _python_strings(path) if _SHELL_CONTROL.search(text)]
    assert found == []


def test_submit_scripts_have_no_shell_code_in_python_strings():
    # BatchInterface's submit command and batch scripts: batch_submit.sh, batch_job.sh,
    # batch_array.sh and each dialect's *_submit.sh, with values as quoted variables (an
    # f-string's parts count too).
    tree = ast.parse((SRC / "simjobs" / "interfaces" / "batch.py").read_text("utf-8"))
    methods = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
               and n.name in ("_submit", "_submit_command")]
    assert len(methods) == 2
    texts = [n.value for m in methods for n in ast.walk(m) if isinstance(n, ast.Constant)
             and isinstance(n.value, str)]
    assert texts and [t for t in texts if _SHELL_CONTROL.search(t) or "exec " in t] == []
    files = resources.files("simjobs.interfaces")
    for name in ("batch_submit.sh", "batch_job.sh", "batch_array.sh", "slurm_submit.sh"):
        assert files.joinpath(name).is_file(), name


def test_one_value_convention_in_every_shell_file_the_wrapper_included():
    # No text substitution anywhere (no "@NAME@" or "__NAME__" placeholders): values
    # reach the shell code as variables assigned (quoted) before it, and the wrapper as
    # installed holds wrapper.sh and now.sh as shipped, unchanged.
    placeholder = re.compile(r"@[A-Z_]+@|__[A-Z]+__")
    found = {path.name: placeholder.findall(path.read_text("utf-8")) for path in SHELL_FILES}
    assert {name: hits for name, hits in found.items() if hits} == {}
    files = resources.files("simjobs.interfaces")
    rendered = jobdir.render_wrapper()
    for name in ("now.sh", "wrapper.sh"):
        assert files.joinpath(name).read_text("utf-8") in rendered, name
    assert rendered.count("now() {") == 1


def test_the_rendered_wrapper_is_shellcheck_clean(tmp_path):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck, or "
                    "scripts/services/install-tools.sh)")
    path = tmp_path / "wrapper.sh"
    path.write_text(jobdir.render_wrapper())
    result = subprocess.run([shellcheck, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_slurm_module_has_no_shell_code_in_python_strings():
    # Every command of slurm.py (sbatch, scontrol...) keeps its shell code in a .sh file.
    path = SRC / "simjobs" / "interfaces" / "slurm.py"
    found = [text for text in _python_strings(path) if _SHELL_CONTROL.search(text)]
    assert found == []
    assert resources.files("simjobs.interfaces").joinpath("slurm_scontrol.sh").is_file()
