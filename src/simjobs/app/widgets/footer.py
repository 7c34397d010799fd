"""FittingFooter: a Footer whose keys never run under one another on a narrow screen.

Textual's Footer lays its keys out in one line and lets the ones that do not fit run on
under the command palette's key (docked right): at 60 columns a cut "/F" and a stray
"q" after "^p Commands". This one measures its keys once they are laid out and either
leaves out those that do not fit (the screen footers: the keys to keep, help and quit,
stay, and help lists every key), or, with ``wrap``, puts them on as many lines as they
need (a form's key hints, which must all be seen).
"""

from __future__ import annotations

from typing import Optional

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


def _cell_len(renderable) -> int:
    return getattr(renderable, "cell_len", None) or len(str(renderable))


#: Actions whose keys a footer shows whatever its width (help lists all the others).
KEEP = ("help", "quit")


class FittingFooter(Footer):
    """A Footer that fits its width (see the module docstring).

    Parameters
    ----------
    wrap : bool
        Show every key, on more lines when one is not enough (else leave keys out).
    keep : tuple of str
        Actions whose keys are never left out.
    """

    def __init__(self, *args, wrap: bool = False, keep: tuple[str, ...] = KEEP, **kwargs):
        super().__init__(*args, **kwargs)
        self.wrap = wrap
        self.keep = keep
        self._widths: dict[FooterKey, int] = {}
        #: the keys left out at the last fit (tests)
        self.left_out: list[str] = []

    async def recompose(self) -> None:
        await super().recompose()
        self._widths = {}
        self.call_after_refresh(self.fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self.fit)

    def _keys(self) -> Optional[tuple[list[FooterKey], int]]:
        """The keys in order (the palette's apart) and the width the palette's takes;
        None while some key is not laid out yet."""
        keys, palette = [], 0
        for key in self.query(FooterKey):
            width = self._widths.get(key)
            if width is None:
                if not key.is_mounted:
                    return None
                # Its natural width (what it renders, its padding and margins), whatever
                # the layout it is in now (a grid cell may have cut it).
                margin = key.styles.margin
                width = self._widths[key] = _cell_len(key.render()) + \
                    key.styles.gutter.width + margin.left + margin.right
            if key.has_class("-command-palette"):
                palette = width
            else:
                keys.append(key)
        return keys, palette

    def fit(self) -> None:
        """Leave out (or wrap) the keys that do not fit the width now."""
        if not self.is_attached or not self.size.width:
            return
        found = self._keys()
        if found is None:  # not laid out yet: again after the next frame
            self.set_timer(0.05, self.fit)
            return
        keys, palette = found
        room = self.size.width - palette
        if self.wrap:
            self._wrap(keys, room)
            return
        needed = sum(self._widths[k] for k in keys if self._kept(k))
        shown: list[FooterKey] = []
        for key in keys:
            if self._kept(key) or needed + self._widths[key] <= room:
                shown.append(key)
                if not self._kept(key):
                    needed += self._widths[key]
        self.left_out = [k.description for k in keys if k not in shown]
        for key in keys:
            key.display = key in shown

    def _kept(self, key: FooterKey) -> bool:
        return key.action.rsplit(".", 1)[-1] in self.keep

    def _wrap(self, keys: list[FooterKey], room: int) -> None:
        if not keys:
            return
        total = sum(self._widths[k] for k in keys)
        if total <= room:
            lines, columns = 1, len(keys)
            self.styles.layout = "horizontal"
        else:
            widest = max(self._widths[k] for k in keys)
            columns = max(1, room // widest)
            lines = -(-len(keys) // columns)
            self.styles.layout = "grid"
            self.styles.grid_size_columns = columns
        self.styles.height = lines
