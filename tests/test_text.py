"""core.text: the one plural() of the CLI and the app, and no hand-made plurals beside it."""

from __future__ import annotations

import re
from pathlib import Path

from simjobs.core.text import plural

SRC = Path(__file__).resolve().parent.parent / "src" / "simjobs"


def test_plural():
    assert [plural(n, "job") for n in (0, 1, 2, 1000)] == ["0 jobs", "1 job", "2 jobs",
                                                          "1,000 jobs"]
    assert plural(1, "was", "were") == "1 was" and plural(3, "was", "were") == "3 were"


def test_no_count_is_pluralised_by_hand():
    # `f"{n} job{'s' * (n != 1)}"` and `{'s' if n != 1 else ''}` were written ~16 times.
    hand_made = re.compile(r"""['"]s['"] \* \([^)]*!= 1\)|['"]s['"] if [^'"]*!= 1 else""")
    found = [f"{path.relative_to(SRC)}:{lineno}"
             for path in sorted(SRC.rglob("*.py"))
             for lineno, line in enumerate(path.read_text().splitlines(), 1)
             if hand_made.search(line)]
    assert found == [], f"use simjobs.core.text.plural: {found}"
