"""Inputs for a batch of jobs: read from a CSV file, or a Latin hypercube design.

Pure functions with no Textual in them: the one reader of input CSV files and the one
Latin hypercube, used by the app's submit form, ``simjobs submit --csv`` and the demo
(and usable from a script). Every problem a user can cause is a :class:`DesignError` whose message is one
sentence naming what is wrong and how to fix it.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from simjobs.core.errors import excerpt
from simjobs.core.text import plural
from simjobs.core.types import Input

#: The most points a design may have (a guard against a typo like 10000000).
MAX_DESIGN_POINTS = 1_000_000
#: The most bytes of a CSV file of inputs we read (a guard against the wrong file).
MAX_CSV_BYTES = 200 * 1024 * 1024


class DesignError(ValueError):
    """A CSV file of inputs or a design that cannot be used; the message says why."""


def parse_coordinate(text: str) -> float:
    """The finite float written in ``text`` (a form field or a CSV cell).

    Raises
    ------
    DesignError
        If the text is empty, not a number, or not finite.
    """
    stripped = text.strip()
    if not stripped:
        raise DesignError("enter a number")
    try:
        value = float(stripped)
    except ValueError:
        raise DesignError(f"{excerpt(stripped)} is not a number") from None
    if not math.isfinite(value):
        raise DesignError(f"{excerpt(stripped)} is not finite: enter a finite number")
    return value


def parse_count(text: str, what: str = "number of points",
                maximum: int = MAX_DESIGN_POINTS) -> int:
    """The positive integer written in ``text`` (at most ``maximum``)."""
    stripped = text.strip()
    if not stripped:
        raise DesignError(f"enter the {what}")
    try:
        value = int(stripped)
    except ValueError:
        raise DesignError(f"the {what} must be a whole number, not {excerpt(stripped)}") from None
    if value < 1:
        raise DesignError(f"the {what} must be at least 1, not {value}")
    if value > maximum:
        raise DesignError(f"the {what} must be at most {maximum:,}, not {value:,}")
    return value


def parse_seed(text: str) -> Optional[int]:
    """The optional seed written in ``text``: None when empty, else an integer >= 0."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        value = int(stripped)
    except ValueError:
        raise DesignError(
            f"the seed must be a whole number >= 0 (or empty for a random design), "
            f"not {excerpt(stripped)}"
        ) from None
    if value < 0:
        raise DesignError(f"the seed must be a whole number >= 0, not {value}")
    return value


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _input_columns(header: list[str]) -> Optional[list[int]]:
    """The positions of the ``Input_1``, ``Input_2``, ... columns of ``header`` in ``k``
    order, or None when it names none. Gaps (``Input_1``, ``Input_3``) are no log's."""
    found = {int(c[6:]): i for i, c in enumerate(header)
             if c.startswith("Input_") and c[6:].isdigit()}
    if not found:
        return None
    if sorted(found) != list(range(1, len(found) + 1)):
        raise DesignError(
            f"the header names the columns Input_{', Input_'.join(map(str, sorted(found)))}; "
            f"an exauq-style header numbers them Input_1 to Input_{len(found)}"
        )
    return [found[k] for k in sorted(found)]


def parse_inputs_csv(text: str, input_dim: Optional[int], source: str = "the file") -> list[Input]:
    """The inputs in the CSV ``text``: one input per line, one number per coordinate.

    The first non-blank line is a header, and skipped, when none of its cells is a
    number. A header naming ``Input_k`` columns (an exauq simulations log, or a simjobs
    export) selects those columns, in ``k`` order, and ignores the others. Blank lines
    and lines starting with ``#`` are ignored. With ``input_dim`` None the dimension is
    that of the first input.

    Raises
    ------
    DesignError
        Naming the first bad line (its number in the file) and what is wrong with it.
    """
    inputs: list[Input] = []
    dim = input_dim
    header_allowed = True
    columns: Optional[list[int]] = None  # the Input_k columns of an exauq-style header
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        where = f"line {reader.line_num} of {source}"
        if header_allowed:
            header_allowed = False
            if not any(_is_number(c) for c in cells):
                columns, dim = _read_header(cells, dim, where)
                continue
        cells, numbers = _select_columns(cells, columns)
        if dim is None:
            dim = len(cells)
        inputs.append(_row_input(cells, numbers, dim, where))
    if not inputs:
        raise DesignError(f"{source} holds no inputs; write one input per line, e.g. 0.5,1.25")
    return inputs


def _read_header(cells: list[str], dim: Optional[int], where: str
                 ) -> tuple[Optional[list[int]], Optional[int]]:
    """The ``Input_k`` columns a header line (at ``where``) names (None: it names none,
    every column is a coordinate), and the dimension of the inputs from there on."""
    try:
        columns = _input_columns(cells)
    except DesignError as exc:
        raise DesignError(f"{where}: {exc}") from None
    if columns is None:
        if dim is not None and len(cells) != dim:
            raise DesignError(
                f"{where}: the header names {len(cells)} columns "
                f"but inputs have {dim} coordinates; give one column per coordinate"
            )
        return None, dim
    if dim is not None and len(columns) != dim:
        raise DesignError(
            f"{where}: the header names "
            f"{plural(len(columns), 'Input_k column')} but inputs have "
            f"{dim} coordinates; use a log or file of the same dimension"
        )
    return columns, len(columns)


def _select_columns(cells: list[str], columns: Optional[list[int]]
                    ) -> tuple[list[str], Sequence[int]]:
    """The coordinate cells of a line and their column numbers (from 1): those of
    ``columns`` (a missing one is empty), or every cell when None."""
    if columns is None:
        return cells, range(1, len(cells) + 1)
    return [cells[i] if i < len(cells) else "" for i in columns], [i + 1 for i in columns]


def _row_input(cells: list[str], numbers: Sequence[int], dim: int, where: str) -> Input:
    """The input written in a line's coordinate ``cells`` (at ``where``)."""
    if len(cells) != dim:
        raise DesignError(
            f"{where}: {plural(len(cells), 'value')} "
            f"where inputs have {dim} coordinates; write one number per coordinate, "
            f"separated by commas"
        )
    coords = []
    for column, cell in zip(numbers, cells):
        try:
            coords.append(parse_coordinate(cell))
        except DesignError as exc:
            raise DesignError(f"{where}, column {column}: {exc}") from None
    return Input(*coords)


def read_inputs_csv(path: os.PathLike | str, input_dim: Optional[int]) -> list[Input]:
    """The inputs in the CSV file at ``path`` (see :func:`parse_inputs_csv`).

    Raises
    ------
    DesignError
        If the file cannot be read or a line is not an input of the right dimension.
    """
    text_path = str(path).strip()
    if not text_path:
        raise DesignError("enter the path of a CSV file of inputs")
    p = Path(text_path).expanduser()
    name = p.name
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise DesignError(f"{text_path} does not exist; check the path") from None
    except OSError as exc:
        raise DesignError(f"cannot read {text_path}: {exc.strerror or exc}") from None
    if p.is_dir():
        raise DesignError(f"{text_path} is a directory; give the path of a CSV file")
    if size > MAX_CSV_BYTES:
        raise DesignError(
            f"{text_path} is {size / 1e6:.0f} MB, over the {MAX_CSV_BYTES // 2**20} MiB limit; "
            f"split it into smaller files"
        )
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DesignError(f"{text_path} is not a UTF-8 text file; save it as CSV text") from None
    except OSError as exc:
        raise DesignError(f"cannot read {text_path}: {exc.strerror or exc}") from None
    return parse_inputs_csv(text, input_dim, source=name)


def latin_hypercube(n: int, lower: Sequence[float], upper: Sequence[float],
                    seed: Optional[int] = None) -> list[Input]:
    """``n`` inputs of a Latin hypercube design in the box ``[lower, upper]``.

    Each coordinate's range is cut into ``n`` equal slices and every slice holds
    exactly one point, at a uniformly random place in it; the slices are paired across
    coordinates by independent random permutations (McKay, Beckman & Conover, 1979).
    The same ``seed`` gives the same design. A coordinate whose lower and upper bounds
    are equal is held fixed.

    Raises
    ------
    DesignError
        If ``n`` is not a positive integer (at most :data:`MAX_DESIGN_POINTS`), the
        bounds differ in length, are not finite, or a lower bound exceeds its upper one.
    """
    import numpy as np

    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or n > MAX_DESIGN_POINTS:
        raise DesignError(
            f"the number of points must be a whole number from 1 to {MAX_DESIGN_POINTS:,}, "
            f"not {n!r}"
        )
    if len(lower) != len(upper) or not lower:
        raise DesignError(
            f"give one lower and one upper bound per coordinate "
            f"({len(lower)} lower, {len(upper)} upper)"
        )
    for i, (lo, hi) in enumerate(zip(lower, upper), start=1):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise DesignError(f"the bounds of x{i} must be finite numbers")
        if lo > hi:
            raise DesignError(f"the lower bound of x{i} ({lo:g}) exceeds its upper bound "
                              f"({hi:g}); swap them")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise DesignError(f"the seed must be a whole number >= 0, not {seed!r}")
    rng = np.random.default_rng(seed)
    d = len(lower)
    strata = np.stack([rng.permutation(n) for _ in range(d)], axis=1)
    unit = (strata + rng.random((n, d))) / n
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    points = lo + unit * (hi - lo)
    # (lo + u*(hi-lo) can round a hair past hi)
    points = np.minimum(np.maximum(points, lo), hi)
    return [Input(*row) for row in points.tolist()]
