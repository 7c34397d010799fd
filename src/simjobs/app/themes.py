"""The app's themes (TOML files, see themes/README.md) and the remembered choice."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional

from textual.theme import Theme

from ..core.files import atomic_write

DEFAULT_THEME = "simjobs-dark"
THEME_KEYS = ("name", "dark", "primary", "secondary", "accent", "foreground", "background",
              "surface", "panel", "boost", "warning", "error", "success", "variables")

# The last resort when no theme file can be found (a broken install): the two themes
# (keep in step with themes/*.toml).
BUILTIN = [
    {"name": "simjobs-dark", "dark": True, "primary": "#5fafff", "secondary": "#87afd7",
     "accent": "#ffaf5f", "foreground": "#e4e4e4", "background": "#1c1c1c",
     "surface": "#262626", "panel": "#303030", "boost": "#3a3a3a", "warning": "#ffd75f",
     "error": "#ff5f5f", "success": "#5fd75f",
     "variables": {"footer-key-foreground": "#ffaf5f", "block-cursor-background": "#005f87",
                   "block-cursor-foreground": "#ffffff",
                   "block-cursor-blurred-background": "#444444",
                   "block-cursor-blurred-foreground": "#e4e4e4",
                   "input-selection-background": "#005f87"}},
    {"name": "simjobs-light", "dark": False, "primary": "#005faf", "secondary": "#5f5f87",
     "accent": "#af5f00", "foreground": "#1c1c1c", "background": "#eeeeee",
     "surface": "#e4e4e4", "panel": "#d0d0d0", "boost": "#c6c6c6", "warning": "#af8700",
     "error": "#d70000", "success": "#008700",
     "variables": {"footer-key-foreground": "#005faf", "block-cursor-background": "#87afd7",
                   "block-cursor-foreground": "#000000",
                   "block-cursor-blurred-background": "#bcbcbc",
                   "block-cursor-blurred-foreground": "#1c1c1c",
                   "input-selection-background": "#87afd7"}},
]


def user_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("simjobs"))


def theme_dirs() -> list:
    """Where theme files are looked for, first match of a name wins."""
    dirs: list = [user_dir() / "themes"]
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file() and (checkout / "themes").is_dir():
        dirs.append(checkout / "themes")
    try:
        dirs.append(resources.files("simjobs.app").joinpath("theme_files"))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - not installed
        pass
    return dirs


def theme_from_dict(data: dict, where: str) -> Theme:
    """A Theme from a theme file's table; ValueError names the file and the key."""
    unknown = sorted(set(data) - set(THEME_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; the keys are "
                         f"{', '.join(THEME_KEYS)}")
    if not isinstance(data.get("name"), str) or not data.get("primary"):
        raise ValueError(f"{where}: a theme needs a 'name' and a 'primary' colour")
    try:
        return Theme(**data)
    except Exception as exc:  # noqa: BLE001 - a bad colour, say where
        raise ValueError(f"{where}: {exc}") from None


def load_themes(dirs: Optional[Iterable] = None) -> tuple[list[Theme], list[str]]:
    """Every theme found (first of a name wins) and one line per file that was wrong."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for directory in (theme_dirs() if dirs is None else dirs):
        try:
            entries = sorted(directory.iterdir(), key=lambda p: p.name)
        except (OSError, AttributeError):
            continue
        for entry in entries:
            if not entry.name.endswith(".toml"):
                continue
            try:
                data = tomllib.loads(entry.read_text(encoding="utf-8"))
                theme = theme_from_dict(data, str(entry))
            except (OSError, UnicodeError, tomllib.TOMLDecodeError, ValueError) as exc:
                errors.append(f"theme file {entry} skipped: {exc}")
                continue
            themes.setdefault(theme.name, theme)
    for data in BUILTIN:
        if data["name"] not in themes:
            themes[data["name"]] = Theme(**data)
    return list(themes.values()), errors


# ---- the remembered choice -------------------------------------------------------------


def settings_path() -> Path:
    return user_dir() / "app.json"


def remembered_theme() -> Optional[str]:
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("theme") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def remember_theme(name: str) -> None:
    """Save the choice (best effort: an unwritable config dir only loses the memory)."""
    path = settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data["theme"] = name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(data, indent=2) + "\n")
    except OSError:
        pass
