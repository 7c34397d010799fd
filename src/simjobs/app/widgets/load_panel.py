"""InterfaceLoadPanel: one interface's load, health and recent completions.

Two layouts, switched by the ``-compact`` class the screen sets when the terminal is
narrow: a boxed panel of a few lines beside the table, or one line below it.
"""

from __future__ import annotations

import re
import time
from typing import Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...core.types import JobStatus
from ..backend import InterfaceInfo
from ..model import JobModel

SPARK = " ▁▂▃▄▅▆▇█"
QUEUED = (JobStatus.PENDING_SUBMIT, JobStatus.SUBMITTED)
FAILED = (JobStatus.FAILED, JobStatus.FAILED_SUBMIT)


def sparkline(values: list[int]) -> str:
    top = max(values) if values else 0
    if top <= 0:
        return "▁" * len(values)
    return "".join(SPARK[1 + round(v / top * (len(SPARK) - 2))] if v else SPARK[1]
                   for v in values)


def load_bar(running: int, queued: int, capacity: Optional[int], width: int) -> str:
    cap = capacity or max(1, running + queued)
    run_w = min(width, round(width * running / cap))
    queue_w = min(width - run_w, round(width * queued / cap))
    return "█" * run_w + "▒" * queue_w + "░" * (width - run_w - queue_w)


def health_text(info: InterfaceInfo) -> str:
    if info.health == "ok":
        return "ok"
    if info.health == "unknown":
        return "health —"  # watching: only the log's manager knows
    since = ""
    if info.health_since:
        since = " since " + time.strftime("%H:%M", time.localtime(info.health_since))
    cause = short_cause(info.health_message)
    message = f": {cause}" if cause else ""
    return f"{info.health}{since}{message}"


def short_cause(message: str, limit: int = 72) -> str:
    """The cause part of a health message, short enough for a panel: its first clause
    (before "; check...", the fix), cut at a word within ``limit`` characters. The
    whole message is the panel's tooltip and is shown in a job's detail view."""
    text = re.sub(r"^[A-Za-z]+(Error|Exception): ", "", " ".join(message.split()))
    text = text.split("; ", 1)[0]
    if len(text) <= limit:
        return text
    cut = text[:limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


class InterfaceLoadPanel(Static):
    """Name, kind, host, level, load bar, completed/failed, sparkline, health, poll."""

    DEFAULT_CSS = """
    InterfaceLoadPanel {
        border: round $primary 50%;
        border-title-color: $foreground;
        padding: 0 1;
        height: auto;
        margin-bottom: 0;
    }
    InterfaceLoadPanel.-unhealthy { border: round $error; }
    InterfaceLoadPanel.-compact { border: none; padding: 0; height: 1; }
    """

    def __init__(self, info: InterfaceInfo, model: JobModel) -> None:
        super().__init__(id=f"panel-{_css_id(info.name)}")
        self.info = info
        self.model = model
        self.poll_seconds: Optional[float] = None
        self.poll_time: Optional[float] = None
        self._shown: Optional[str] = None
        self.shown_text = ""  # the plain text drawn last (tests, screenshots)

    def on_mount(self) -> None:
        self.update_view()

    def update_view(self) -> None:
        """Redraw if (and only if) what it shows changed: no bytes sent while idle."""
        text = self.render_text()
        key = text.plain + str(self.has_class("-compact")) + self.info.health
        if key == self._shown:
            return
        self._shown = key
        self.shown_text = text.plain
        unhealthy = self.info.health not in ("ok", "unknown")
        self.set_class(unhealthy, "-unhealthy")
        self.tooltip = self.info.health_message if unhealthy and self.info.health_message \
            else None
        self.border_title = f"{self.info.name} · L{self.info.level}"
        # Re-lay-out the screen only when the panel's height may change.
        lines = text.plain.count("\n")
        self.update(text, layout=lines != getattr(self, "_lines", None))
        self._lines = lines

    def _numbers(self) -> tuple[int, int, int, int]:
        counts = self.model.counts_for(self.info.name)
        running = counts.get(JobStatus.RUNNING, 0) + counts.get(JobStatus.PENDING_CANCEL, 0) \
            + counts.get(JobStatus.FAILED_CANCEL, 0)
        queued = sum(counts.get(s, 0) for s in QUEUED)
        return running, queued, counts.get(JobStatus.COMPLETED, 0), \
            sum(counts.get(s, 0) for s in FAILED)

    def _poll_text(self) -> str:
        if self.poll_seconds is None:
            return "poll —"
        if self.poll_seconds < 0.0005:
            return "poll <1 ms"  # (not "0 ms": it was measured)
        return f"poll {self.poll_seconds * 1000:.0f} ms"

    def render_text(self) -> Text:
        info = self.info
        running, queued, completed, failed = self._numbers()
        cap = info.max_jobs
        # A viewer of a log without its config knows neither the kind nor the capacity:
        # it says so rather than showing a full bar (the load against itself) or "?".
        kind = info.kind if info.kind and info.kind != "?" else ""
        health_style = {"ok": "green", "unreachable": "bold red", "unknown": "dim"}.get(
            info.health, "yellow")
        if self.has_class("-compact"):
            spark = sparkline(self.model.completion_buckets(info.name, 10))
            load = f"{running}+{queued}/{cap}" if cap else f"{running}+{queued}"
            bar = (load_bar(running, queued, cap, 6), "") if cap else ("cap —".ljust(6), "dim")
            text = Text.assemble(
                (f"L{info.level} ", "bold"), (f"{info.name[:14]:<14} ", "bold"),
                (f"{(kind or '—')[:5]:<5} ", "dim"),
                bar, f" {load:<8} ",
                ("✔", "green"), f"{completed} ", ("✘", "red"), f"{failed} ",
                spark, " ", (health_text(info), health_style), f"  {self._poll_text()}",
            )
            text.no_wrap = True
            text.overflow = "ellipsis"
            return text
        where = " @ ".join(part for part in (kind or "kind unknown", info.host) if part)
        spark = sparkline(self.model.completion_buckets(info.name, 30))
        per_min, _window = self.model.completion_rate(info.name)
        if cap:
            load: tuple = (load_bar(running, queued, cap, 10),
                           f" {running} run + {queued} queued / {cap}")
        else:
            load = (f"{running} run + {queued} queued", ("  capacity unknown", "dim"))
        return Text.assemble(
            (where, "dim"), "\n",
            *load, "\n",
            ("✔ ", "green"), f"{completed} done  ", ("✘ ", "red"), f"{failed} failed  ",
            (f"{per_min:.1f}/min", "dim"), "\n",
            spark, (" 30m", "dim"), "\n",
            (health_text(info), health_style), ("  " + self._poll_text(), "dim"),
        )


def _css_id(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


class LoadPanels(VerticalScroll, can_focus=False):
    """The panels, grouped under a heading per level."""

    DEFAULT_CSS = """
    LoadPanels { height: auto; }
    LoadPanels > .level-heading { color: $text-muted; text-style: bold; padding: 0 1; }
    LoadPanels.-compact > .level-heading { display: none; }
    """

    def __init__(self, infos: list[InterfaceInfo], model: JobModel, **kwargs) -> None:
        super().__init__(**kwargs)
        self.infos = infos
        self.model = model
        self.panels: dict[str, InterfaceLoadPanel] = {}

    def compose(self) -> ComposeResult:
        levels: dict[int, list[InterfaceInfo]] = {}
        for info in self.infos:
            levels.setdefault(info.level, []).append(info)
        for level in sorted(levels):
            yield Static(f"Level {level}", classes="level-heading")
            for info in levels[level]:
                panel = InterfaceLoadPanel(info, self.model)
                self.panels[info.name] = panel
                yield panel

    def set_compact(self, compact: bool) -> None:
        self.set_class(compact, "-compact")
        for panel in self.panels.values():
            panel.set_class(compact, "-compact")
            panel.update_view()

    def update_views(self) -> None:
        for panel in self.panels.values():
            panel.update_view()

    def add_interface(self, info: InterfaceInfo) -> None:
        """An interface first seen now (watch mode learns them from the log)."""
        if info.name in self.panels:
            return
        self.infos.append(info)
        panel = InterfaceLoadPanel(info, self.model)
        panel.set_class(self.has_class("-compact"), "-compact")
        self.panels[info.name] = panel
        self.mount(panel)
