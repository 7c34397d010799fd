"""No module of simjobs reaches into another module's private names: what one module
needs of another is public and documented there (issue 10).

The rule (the one the project's before-stop hook applies): ``x._name`` (not a dunder)
where ``x`` is not ``self``/``cls`` is a reach into someone else's privates unless
``_name`` is defined in the same file (a def, a class, an assignment, an argument).
``getattr``/``hasattr``/``setattr`` with a literal ``"_name"`` count as reads too, and
so does ``from module import _name`` (the name is another module's by definition).
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: The private names of other libraries simjobs still needs, per file: each with why.
ALLOWED = {
    # Textual has no public "run the bindings of the focus chain for this key now":
    # FieldInput runs them in order with keys typed ahead of them (see the README).
    ("app/screens/submit.py", "_check_bindings"),
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def reaches(path: Path) -> list[tuple[int, str, str]]:
    """(line, the expression, the private name) of each reach in one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
        elif isinstance(node, ast.arg):
            own.add(node.arg)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [(node.lineno, f"from {'.' * node.level}{node.module or ''} import "
                       f"{alias.name}", alias.name)
                      for alias in node.names if _is_private(alias.name)]
            continue
        if isinstance(node, ast.Attribute):
            target, name = node.value, node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            target, name = node.args[0], node.args[1].value
        else:
            continue
        if not _is_private(name) or name in own:
            continue
        if isinstance(target, ast.Name) and target.id in ("self", "cls"):
            continue
        found.append((node.lineno, ast.unparse(node), name))
    return found


def violations(src: Path) -> list[str]:
    package = src / "simjobs"
    out = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        for line, text, name in reaches(path):
            if (relative, name) not in ALLOWED:
                out.append(f"{relative}:{line}: {text}")
    return out


def test_no_module_reads_another_modules_private_names():
    found = violations(ROOT / "src")
    assert not found, ("give the owner a public, documented method instead:\n"
                       + "\n".join(found))


def test_every_allowed_private_name_is_still_used():
    """An exception that is no longer needed is taken out, not kept as a blank cheque."""
    package = ROOT / "src" / "simjobs"
    for relative, name in ALLOWED:
        assert any(n == name for _, _, n in reaches(package / relative)), (relative, name)


@pytest.mark.parametrize("line", [
    "print(log._planted_read)",  # a read of another module's attribute
    "getattr(log, '_planted_read', None)",  # the same through getattr
    "from .records import LogRecord, _planted_name",  # a private name imported
    "LogRecord(1)._planted_write = None\nx = y._planted_read",  # written here: only y's
])
def test_a_reach_into_a_private_name_is_found(tmp_path, line):
    """The check is not vacuous: one reach added to a copy of the sources is reported."""
    shutil.copytree(ROOT / "src", tmp_path / "src",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "src" / "simjobs" / "core" / "log.py"
    assert violations(tmp_path / "src") == []  # (nothing planted)
    target.write_text(target.read_text() + "\n\ndef _planted(log, y):\n"
                      + "".join(f"    {row}\n" for row in line.splitlines()))
    found = violations(tmp_path / "src")
    assert len(found) == 1 and found[0].startswith("core/log.py:"), found


def test_names_defined_in_the_same_file_and_self_are_not_reaches(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "class A:\n"
        "    def _helper(self):\n"
        "        return self._x, cls_or_other._helper\n"
        "def f(other, _given):\n"
        "    other._cache = 1\n"
        "    return other._cache, other.__class__, _given\n")
    assert reaches(source) == []
