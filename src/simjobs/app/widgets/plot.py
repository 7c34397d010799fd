"""ScatterPlot: simulator output against one input coordinate, one marker per level.

Drawn with plain characters: each point is the digit of its level (``1``, ``2``, ...),
so levels read apart without colour (over SSH, in a 256-colour tmux, on a screenshot);
colour (from the 16 ANSI colours) is a second cue. Where points of different levels
share a cell, ``*`` marks the overlap. Binning is one numpy pass, so 100,000 points
draw as fast as 100.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Optional

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from simjobs.core.text import plural

#: Colours of the level markers (ANSI names: no truecolour needed), by level order.
LEVEL_COLOURS = ("cyan", "magenta", "yellow", "green", "red", "blue", "bright_white")
OVERLAP = "*"
Y_LABEL_WIDTH = 9
_SPACE_RUNS = re.compile(r" +|[^ ]+")


def level_marker(level: int) -> str:
    """The character drawn for a point of ``level``."""
    return str(level) if 0 <= level <= 9 else chr(ord("a") + (level - 10) % 26)


def nice_number(value: float) -> str:
    """A short axis label (at most 8 characters)."""
    if value == 0:
        return "0"
    text = f"{value:.4g}"
    if len(text) > 8:
        text = f"{value:.2e}"
    return text


def _range(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if lo == hi:  # a single value: centre it in a unit-wide range
        pad = abs(lo) * 0.5 or 0.5
        return lo - pad, hi + pad
    return lo, hi


def plot_grid(series: Mapping[int, tuple[Sequence[float], Sequence[float]]],
              width: int, height: int) -> tuple[list[list[str]], Optional[tuple]]:
    """The character grid (``height`` rows of ``width`` cells, top row first) and the
    ranges ``((x_lo, x_hi), (y_lo, y_hi))`` of the points in ``series``
    (level -> (xs, ys)); ranges None when there is no point."""
    import numpy as np

    grid = [[" "] * width for _ in range(height)]
    xs_all = [x for xs, _ in series.values() for x in xs]
    ys_all = [y for _, ys in series.values() for y in ys]
    if not xs_all or width < 1 or height < 1:
        return grid, None
    (x_lo, x_hi), (y_lo, y_hi) = _range(xs_all), _range(ys_all)
    for level in sorted(series):
        xs, ys = series[level]
        if not len(xs):
            continue
        cols = np.clip(((np.asarray(xs, float) - x_lo) / (x_hi - x_lo) * (width - 1)).round(),
                       0, width - 1).astype(int)
        rows = np.clip(((np.asarray(ys, float) - y_lo) / (y_hi - y_lo) * (height - 1)).round(),
                       0, height - 1).astype(int)
        marker = level_marker(level)
        for c, r in set(zip(cols.tolist(), rows.tolist())):
            line = grid[height - 1 - r]
            line[c] = marker if line[c] in (" ", marker) else OVERLAP
    return grid, ((x_lo, x_hi), (y_lo, y_hi))


class ScatterPlot(Widget):
    """Output (y) against an input coordinate (x), per level; see the module docstring."""

    DEFAULT_CSS = """
    ScatterPlot { height: 1fr; min-height: 6; }
    """

    def __init__(self, *, id: Optional[str] = None, classes: Optional[str] = None):
        super().__init__(id=id, classes=classes)
        self.series: dict[int, tuple[list[float], list[float]]] = {}
        self.x_label = "x"
        self.y_label = "output"
        self.empty_message = "No completed jobs with an output to plot."
        self._cache: Optional[tuple] = None

    def set_data(self, series: Mapping[int, tuple[Sequence[float], Sequence[float]]],
                 x_label: str, y_label: str = "output") -> None:
        self.series = {lvl: (list(xs), list(ys)) for lvl, (xs, ys) in series.items()}
        self.x_label, self.y_label = x_label, y_label
        self._cache = None
        self.refresh()

    @property
    def point_count(self) -> int:
        return sum(len(xs) for xs, _ in self.series.values())

    def legend(self, width: Optional[int] = None) -> list[tuple[str, str]]:
        """The legend line as (text, style) pieces: ``Legend: "1" level 1 (10 points) ·
        "2" level 2 (4 points) · "*" several levels``, the markers quoted so that it does
        not read as key hints ("1 level 1": press 1 for level 1); shorter (``"1" L1
        (10)``) when that does not fit in ``width``."""
        def pieces(long: bool) -> list[tuple[str, str]]:
            parts: list[tuple[str, str]] = [("Legend: " if long else "", "dim")]
            for i, level in enumerate(sorted(self.series)):
                n = len(self.series[level][0])
                if i:
                    parts.append((" · ", "dim"))
                colour = f"bold {LEVEL_COLOURS[i % len(LEVEL_COLOURS)]}"
                parts += [('"', "dim"), (level_marker(level), colour), ('"', "dim")]
                parts.append((f" level {level} ({plural(n, 'point')})" if long
                               else f" L{level} ({n:,})", ""))
            if len(self.series) > 1:
                parts += [(" · ", "dim"), (f'"{OVERLAP}"', "bold"),
                          (" several levels" if long else " several", "")]
            return parts

        long = pieces(True)
        if width is None or sum(len(t) for t, _ in long) <= width:
            return long
        return pieces(False)

    def lines(self, width: int, height: int) -> list[list[tuple[str, str]]]:
        """The plot as ``height`` lines of (text, style) pieces."""
        if not self.point_count:
            return [[(self.empty_message, "italic")]]
        plot_w = max(1, width - Y_LABEL_WIDTH - 1)
        plot_h = max(1, height - 3)  # legend above; x ticks and label below
        grid, ranges = plot_grid(self.series, plot_w, plot_h)
        assert ranges is not None
        (x_lo, x_hi), (y_lo, y_hi) = ranges
        colours = {level_marker(level): LEVEL_COLOURS[i % len(LEVEL_COLOURS)]
                   for i, level in enumerate(sorted(self.series))}
        out = [self.legend(width)]
        ticks = {0: y_hi, plot_h - 1: y_lo}
        if plot_h >= 5:
            ticks[(plot_h - 1) // 2] = y_hi - (y_hi - y_lo) * ((plot_h - 1) // 2) / (plot_h - 1)
        for r, cells in enumerate(grid):
            label = nice_number(ticks[r]) if r in ticks else (self.y_label if r == 1 else "")
            line = [(label[:Y_LABEL_WIDTH].rjust(Y_LABEL_WIDTH) + "│", "dim")]
            for ch in cells:
                line.append((ch, f"bold {colours[ch]}" if ch in colours else "bold"))
            out.append(line)
        out.append([(" " * Y_LABEL_WIDTH + "└" + "─" * plot_w, "dim")])
        lo_text, hi_text = nice_number(x_lo), nice_number(x_hi)
        middle = f"{self.x_label} →"
        gap = plot_w - len(lo_text) - len(hi_text)
        if gap >= len(middle) + 2:
            left = (gap - len(middle)) // 2
            below = lo_text + " " * left + middle + " " * (gap - len(middle) - left) + hi_text
        else:
            below = lo_text + " " * max(1, gap) + hi_text
        out.append([(" " * (Y_LABEL_WIDTH + 1) + below, "dim")])
        return out

    def text(self) -> str:
        """The plot as plain text at the widget's size (tests, screen readers)."""
        size = self.size
        return "\n".join("".join(t for t, _ in line) for line in self.lines(size.width, size.height))

    def on_resize(self) -> None:
        self._cache = None

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        key = (width, height, id(self.series), self.x_label)
        if getattr(self, "_cache", None) is None or self._cache[0] != key:
            self._cache = (key, self.lines(width, height))
        lines = self._cache[1]
        base = self.rich_style
        if y >= len(lines):
            return Strip.blank(width, base)
        # Runs of spaces go in segments of their own: SVG screenshots collapse the
        # leading spaces of a text run, which would shift the axis labels.
        segments = [Segment(run, base + Style.parse(style) if style else base)
                    for text, style in lines[y] for run in _SPACE_RUNS.findall(text)]
        return Strip(segments).adjust_cell_length(width, base)
