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
