"""The user's key remapping: ``keymap.toml`` in the user config dir, next to app.json.

Each line gives a binding id (listed in the README, and by the app's help screen's
bindings) the keys that trigger it instead of the default ones::

    submit = "a"              # a instead of s
    quit = "ctrl+q"
    cancel = "c,delete"       # several keys: comma-separated

The app applies it with Textual's ``App.set_keymap``. A file that cannot be used is
one warning in the app, never a crash: a TOML error leaves every key as it is;
unknown ids or values that are not key strings are left out, the rest is applied.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from ..core.text import plural
from .themes import user_dir

KEYMAP_FILE = "keymap.toml"


def keymap_path() -> Path:
    """``<user config dir>/simjobs/keymap.toml``."""
    return user_dir() / KEYMAP_FILE


def binding_ids(classes: Iterable[type]) -> set[str]:
    """The binding ids of the ``BINDINGS`` of ``classes`` (what a keymap may name)."""
    ids = set()
    for cls in classes:
        for binding in getattr(cls, "BINDINGS", []):
            binding_id = getattr(binding, "id", None)
            if binding_id:
                ids.add(binding_id)
    return ids


def load_keymap(path: Path, known: set[str]) -> tuple[dict[str, str], Optional[str]]:
    """The keymap in ``path`` (binding id -> keys) and a one-line warning, or None.

    No file: an empty keymap and no warning. ``known``: the binding ids that exist.
    """
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return {}, None
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        return {}, f"{path}: cannot read it ({reason}); default keys in use"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return {}, (f"{path}: invalid TOML ({exc}); default keys in use; fix the file "
                    "(lines like: submit = \"a\")")
    keymap: dict[str, str] = {}
    unknown, bad = [], []
    for binding_id, keys in data.items():
        if binding_id not in known:
            unknown.append(binding_id)
        elif not isinstance(keys, str) or not keys.strip() or \
                any(not k.strip() or " " in k.strip() for k in keys.split(",")):
            bad.append(binding_id)
        else:
            keymap[binding_id] = ",".join(k.strip() for k in keys.split(","))
    problems = []
    if unknown:
        problems.append(f"{plural(len(unknown), 'unknown binding id')}: "
                        f"{', '.join(sorted(unknown))} (see the README for the ids)")
    if bad:
        problems.append(f"{', '.join(sorted(bad))}: not a key string (like \"a\" or "
                        "\"ctrl+q,f10\")")
    warning = None
    if problems:
        warning = f"{path.name}: {'; '.join(problems)}; left out, the rest applied"
    return keymap, warning
