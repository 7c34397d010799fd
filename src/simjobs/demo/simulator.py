"""A two-level demo simulator: a Forrester-style function over inputs in [0, 1]^d.

Run as ``python -m simjobs.demo.simulator --level N INPUT_FILE OUTPUT_FILE``: it reads
one CSV line of coordinates from INPUT_FILE and writes one number to OUTPUT_FILE.
Level 1 is a cheap approximation (it sleeps 0.2-1 s), level 2 the exact function (it
sleeps 2-5 s). About 5% of runs fail on purpose, exiting 1 with a message on stderr,
so that failures can be seen in the app.

Environment variables
---------------------
SIMJOBS_DEMO_FAST=1
    Sleep about 0.01 s instead (for tests).
SIMJOBS_DEMO_FAILURE_RATE
    The chance a run fails, by default 0.05 (set 0 for runs that never fail).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from collections.abc import Sequence

LEVELS = (1, 2)
DEFAULT_FAILURE_RATE = 0.05
# Seconds each level sleeps, to feel like a cheap and an expensive model.
SLEEP_RANGES = {1: (0.2, 1.0), 2: (2.0, 5.0)}
FAST_SLEEP = 0.01


def forrester(x: float) -> float:
    """The Forrester et al. (2008) function, (6x - 2)^2 sin(12x - 4)."""
    return (6 * x - 2) ** 2 * math.sin(12 * x - 4)


def simulate(x: Sequence[float], level: int = 2) -> float:
    """The demo simulator's output at ``x`` (coordinates in [0, 1]) and ``level``.

    The first coordinate drives the Forrester function; every further coordinate adds
    a small smooth bump, so every coordinate matters. Level 2 is the exact function,
    level 1 the classic low-fidelity Forrester approximation ``0.5 f + 10 (x - 0.5) - 5``
    with a slightly distorted contribution from the other coordinates.

    Raises
    ------
    ValueError
        If ``x`` is empty or ``level`` is not 1 or 2.
    """
    if len(x) == 0:
        raise ValueError("The demo simulator needs at least one coordinate.")
    if level not in LEVELS:
        raise ValueError(f"The demo simulator has levels 1 and 2, not {level!r}.")
    x0, rest = float(x[0]), [float(v) for v in x[1:]]
    extra = sum(math.sin(math.pi * v) / (j + 1) for j, v in enumerate(rest, start=1))
    if level == 2:
        return forrester(x0) + extra
    return 0.5 * forrester(x0) + 10 * (x0 - 0.5) - 5 + 0.8 * extra + 0.1 * sum(rest)


def _read_input(path: str) -> list[float]:
    with open(path, encoding="ascii") as f:
        text = f.read().strip()
    return [float(v) for v in text.split(",")] if text else []


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m simjobs.demo.simulator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--level", type=int, choices=LEVELS, default=2)
    parser.add_argument("input_file")
    parser.add_argument("output_file")
    args = parser.parse_args(argv)

    try:
        x = _read_input(args.input_file)
        y = simulate(x, args.level)
    except (OSError, ValueError) as exc:
        print(f"demo simulator: {exc}", file=sys.stderr)
        return 2

    low, high = SLEEP_RANGES[args.level]
    fast = os.environ.get("SIMJOBS_DEMO_FAST", "") not in ("", "0")
    time.sleep(FAST_SLEEP if fast else random.uniform(low, high))

    try:
        failure_rate = float(os.environ.get("SIMJOBS_DEMO_FAILURE_RATE", DEFAULT_FAILURE_RATE))
    except ValueError:
        failure_rate = DEFAULT_FAILURE_RATE
    if random.random() < failure_rate:
        print(
            f"demo simulator: the level {args.level} model diverged at x={x} "
            "(a deliberate random failure, ~5% of runs)",
            file=sys.stderr,
        )
        return 1

    with open(args.output_file, "w", encoding="ascii") as f:
        f.write(f"{y!r}\n")
    print(f"level {args.level}: f({', '.join(map(repr, x))}) = {y!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
