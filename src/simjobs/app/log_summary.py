"""What the log view shows besides the records: the per-level summary and the plot's
series, computed from records or table rows (anything with ``level``, ``status``,
``output`` and ``coords``).

Pure functions with no Textual in them, run in the log view's thread workers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, Optional

from simjobs.core.types import JobStatus

FAILED = (JobStatus.FAILED, JobStatus.FAILED_SUBMIT)


@dataclasses.dataclass
class LevelSummary:
    """What the jobs of one level came to."""

    level: int
    count: int = 0
    completed: int = 0
    failed: int = 0  # failed or failed to submit
    cancelled: int = 0
    minimum: Optional[float] = None
    mean: Optional[float] = None
    maximum: Optional[float] = None


def summarise(rows: Iterable[Any]) -> list[LevelSummary]:
    """Per level (ascending): counts by outcome and min/mean/max of the outputs.

    ``rows`` are records or table rows: anything with ``level``, ``status``, ``output``.
    """
    sums: dict[int, LevelSummary] = {}
    totals: dict[int, float] = {}
    outputs: dict[int, int] = {}
    for row in rows:
        s = sums.get(row.level)
        if s is None:
            s = sums[row.level] = LevelSummary(row.level)
            totals[row.level] = 0.0
            outputs[row.level] = 0
        s.count += 1
        status = row.status
        if status is JobStatus.COMPLETED:
            s.completed += 1
        elif status in FAILED:
            s.failed += 1
        elif status is JobStatus.CANCELLED:
            s.cancelled += 1
        out = row.output
        if out is not None and math.isfinite(out):
            outputs[row.level] += 1
            totals[row.level] += out
            if s.minimum is None or out < s.minimum:
                s.minimum = out
            if s.maximum is None or out > s.maximum:
                s.maximum = out
    for level, s in sums.items():
        if outputs[level]:
            s.mean = totals[level] / outputs[level]
    return [sums[level] for level in sorted(sums)]


def plot_series(rows: Iterable[Any], coordinate: int) -> dict[int, tuple[list[float], list[float]]]:
    """Per level: (input coordinate ``coordinate`` (0-based), output) of the rows that
    have an output."""
    series: dict[int, tuple[list[float], list[float]]] = {}
    for row in rows:
        out = row.output
        if out is None or coordinate >= len(row.coords):
            continue
        xs, ys = series.setdefault(row.level, ([], []))
        xs.append(row.coords[coordinate])
        ys.append(out)
    return dict(sorted(series.items()))
