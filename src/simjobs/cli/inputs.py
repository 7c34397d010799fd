"""The inputs of ``simjobs submit``: coordinates, --input lists and CSV files."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..core.text import plural
from ..design import DesignError, parse_coordinate, read_inputs_csv
from .errors import CliError

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config


def _number(text: str, where: str) -> float:
    try:
        return parse_coordinate(text)
    except DesignError as exc:
        raise CliError(f"{where}: {exc}") from None



def _check_dim(coords: list[float], dim: int, where: str) -> list[float]:
    if len(coords) != dim:
        raise CliError(f"{where}: {plural(len(coords), 'coordinate')}, "
                       f"but the log's inputs have {dim}")
    return coords



def collect_inputs(args: argparse.Namespace, dim: int) -> list[list[float]]:
    inputs = []
    if args.coords:
        inputs.append(_check_dim([_number(c, "input") for c in args.coords], dim, "input"))
    for text in args.input or []:
        where = f"--input {text!r}"
        inputs.append(_check_dim([_number(c, where) for c in text.split(",")], dim, where))
    if args.csv:
        try:
            inputs.extend(list(x) for x in read_inputs_csv(args.csv, dim))
        except DesignError as exc:
            raise CliError(str(exc)) from None
    if not inputs:
        raise CliError("no input given: simjobs submit 0.1 0.2, --input 0.1,0.2 or --csv FILE")
    return inputs



def check_level(config: Config, level: int) -> None:
    if level not in config.levels:
        levels = ", ".join(str(v) for v in config.levels)
        raise CliError(f"no interface serves level {level} in {config.path.name} "
                       f"(levels: {levels}); add one or choose another level")
