"""FilterInput: a one-line text input whose typing never re-lays out the screen."""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class FilterInput(Input):
    """An :class:`~textual.widgets.Input` for the filter bars.

    Textual's Input sets its ``virtual_size`` (a layout reactive) at every change of its
    value, and the screen's layout sets it back: each key typed re-laid out the whole
    screen (~20 ms a frame at 120x35 with a table of jobs), though a one-line input's
    size never depends on its text. Here the same reactive only repaints the input.
    """

    virtual_size = Reactive(Size(0, 0), layout=False)
