"""Small pieces of English shared by the CLI and the app (no Textual, no Rich)."""

from __future__ import annotations

from typing import Optional


def plural(n: int, word: str, words: Optional[str] = None) -> str:
    """``n`` and the word that goes with it: ``1 job``, ``2 jobs``, ``1,000 jobs``.

    Parameters
    ----------
    n : int
        The count, written with thousands separators.
    word : str
        The singular.
    words : str, optional
        The plural when it is not ``word + "s"`` (``plural(2, "was", "were")``).
    """
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` from someone else (a server's message) made safe to show on a terminal:
    every control or other unprintable character (escape sequences' ESC, carriage
    returns, bidi overrides) becomes a space, so it cannot move the cursor, recolour or
    rewrite what the terminal shows.

    Parameters
    ----------
    text : str
        The text as received.
    keep_newlines : bool, optional
        Keep line breaks (``\\n``) for text of several lines; by default they become
        spaces too.

    Examples
    --------
    >>> printable("code\\x1b[2J wrong\\r")
    'code [2J wrong '
    """
    return "".join(ch if ch.isprintable() or (keep_newlines and ch == "\n") else " "
                   for ch in text)
