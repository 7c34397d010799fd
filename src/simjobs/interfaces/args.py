"""Checks of the constructor arguments every interface kind shares: one place each."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any, Optional, Union


def describe_value(value: Any) -> str:
    """A value as an error message shows it: scalars as repr, others by type."""
    return repr(value) if isinstance(value, (str, bool, int, float)) else type(value).__name__


def check_interface_args(name: Any, level: Any, max_jobs: Any = None) -> None:
    """Check an interface's name, level and max_jobs (None: the kind's default).

    Raises
    ------
    ValueError
        With one line naming the problem and the fix.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"The interface name must be a non-empty string, not {name!r}.")
    if not isinstance(level, int) or isinstance(level, bool):
        raise ValueError(
            f"The level of interface {name!r} must be an integer such as 1 or 2, not {level!r}."
        )
    if max_jobs is not None and (
        not isinstance(max_jobs, int) or isinstance(max_jobs, bool) or max_jobs < 1
    ):
        raise ValueError(
            f"max_jobs of interface {name!r} must be a whole number of at least 1, "
            f"not {max_jobs!r}."
        )


def split_command(command: Union[str, Sequence[str]], what: str = "the command") -> list[str]:
    """A simulator command as argv: a string is split like a shell would (shlex), a
    list of strings is taken as it is. Nothing is looked up.

    Raises
    ------
    ValueError
        With one line naming the problem and the fix.
    """
    argv: Optional[list[str]] = None
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ValueError(f"{what} cannot be parsed ({exc}); check its quotes") from None
    elif (
        isinstance(command, Sequence)
        and not isinstance(command, (bytes, bytearray))
        and all(isinstance(a, str) for a in command)
    ):
        argv = list(command)
    if argv is None:
        raise ValueError(
            f"{what} must be a string or a list of strings (got {describe_value(command)})"
        )
    if not argv or not argv[0].strip():
        raise ValueError(f'{what} is empty; give the simulator to run, e.g. "python3 sim.py"')
    return argv
