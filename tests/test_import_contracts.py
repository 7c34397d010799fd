"""The layers hold: import-linter's contracts in pyproject.toml ([tool.importlinter]),
checked by running lint-imports on the package (as CI does with the suite)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]')")
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    return subprocess.run([str(exe), "--no-cache"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=300)


def test_every_layer_contract_is_kept():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout, result.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("core/ids.py", "import rich.text", "core imports nothing of simjobs above it"),
    ("core/ids.py", "from .. import config", "core imports nothing of simjobs above it"),
    ("interfaces/args.py", "from .. import cli", "interfaces import only core"),
    ("config.py", "from .app import themes", "config imports only core and interfaces"),
    ("logfile.py", "import rich.text", "logfile (where errors go) imports only core"),
])
def test_a_wrong_import_breaks_its_contract(tmp_path, module, line, contract):
    """The contracts are not vacuous: one import against the layers in a copy breaks one."""
    shutil.copytree(ROOT / "src", tmp_path / "src")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "src" / "simjobs" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), result.stdout


@pytest.mark.parametrize("module", ["simjobs.core", "simjobs.interfaces", "simjobs.config",
                                    "simjobs.app.backend", "simjobs.design", "simjobs.export",
                                    "simjobs.app.log_summary", "simjobs.logfile"])
def test_importing_the_lower_layers_loads_no_ui_library(module):
    """What a notebook or batch script imports stays free of textual and rich (a fresh
    interpreter: this one has loaded them for other tests)."""
    code = (f"import sys, {module}\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "[]", (module, result.stdout)


def test_screens_are_imported_directly_where_used_and_not_at_startup():
    """The main screen and the app import the other screens by name (tools such as
    import-linter follow them), inside the action: starting the app loads none of them."""
    import grimp

    graph = grimp.build_graph("simjobs")
    for importer, imported in [("simjobs.app.screens.main", "simjobs.app.screens.submit"),
                               ("simjobs.app.screens.main", "simjobs.app.screens.log_view"),
                               ("simjobs.app.screens.main", "simjobs.app.screens.detail"),
                               ("simjobs.app.app", "simjobs.app.screens.log_view"),
                               ("simjobs.app.screens.log_view", "simjobs.app.screens.export")]:
        assert graph.direct_import_exists(importer=importer, imported=imported), (
            importer, imported)
    code = ("import json, sys, simjobs.app.app\n"
            "print(json.dumps([m for m in sys.modules if m.startswith('simjobs.app.screens.')]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    loaded = set(json.loads(result.stdout))
    assert not loaded & {"simjobs.app.screens.submit", "simjobs.app.screens.log_view",
                         "simjobs.app.screens.detail", "simjobs.app.screens.export"}, loaded
