"""JobTable: a virtualised table of jobs that draws only the rows on screen.

Textual's DataTable keeps a widget-side copy of every row and invalidates its caches on
each change; at 100,000 jobs its first paint takes seconds. This table renders lines
straight from a :class:`~simjobs.app.model.JobModel` (the Line API, as toolong does): the cost
of a frame is the number of visible rows, whatever the number of jobs, and an event
redraws only the lines it changed (or the visible part, when rows moved).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Optional, Union

from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...core.records import LogRecord
from ...core.types import JobStatus
from ..model import COLUMNS, Column, JobModel, JobView, cell_texts, elapsed, format_duration

MARK = "●"
STATUS_CLASSES = {s: "job-table--status-" + s.name.lower().replace("_", "-") for s in JobStatus}
SEPARATOR = " "
#: Between a right-aligned column and a left-aligned one (``1.356  13:59:00``, not
#: ``1.356 13:59:00``): the one place two cells' texts would otherwise touch.
WIDE_SEPARATOR = "  "


def separators(columns: list[Column]) -> list[str]:
    """The text before each column (none before the first)."""
    return [""] + [WIDE_SEPARATOR if a.align == "right" and b.align != "right" else SEPARATOR
                   for a, b in zip(columns, columns[1:])]
#: Lines kept drawn (a few screens' worth; the least recently drawn go first).
LINE_CACHE_SIZE = 4096
#: (column, narrowest width) in the order columns give up room on a narrow screen; the
#: widths start from what the cells need (see JobTable._content_widths)
SHRINKABLE = (("output", 9), ("input", 12), ("interface", 10), ("input", 8),
              ("interface", 8), ("status", 13))
#: Shorter headers, for a table short of room (Slurm's squeue says TIME for elapsed)
SHORT_LABELS = {"elapsed": "Time", "interface": "Iface"}
#: Columns left out, in this order, when even the shrunk columns do not fit (60
#: columns): the level (the interface names it), then the input (the detail shows it),
#: then the elapsed time. The sort column is never left out.
NARROW_DROP = ("level", "input", "elapsed", "interface")
#: The columns given room, up to their usual width, when the cells need less
GROWABLE = ("output", "interface", "status", "submitted", "changed", "input")
#: The widest a column is made for its content (longer cells are cut with "…").
MOST = {"job_id": 24, "level": 5, "interface": 20, "status": 14, "input": 40, "output": 12,
        "submitted": 12, "changed": 12, "elapsed": 7}
#: Jobs looked at, from each end of the log, to size the columns to their content.
SAMPLE_ROWS = 256


def _fit(text: str, width: int, align: str) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…" if width > 0 else ""
    return text.rjust(width) if align == "right" else text.ljust(width)


def plan_columns(width: int, content: dict[str, int], sort_column: str
                 ) -> tuple[list[tuple[Column, int]], list[str], dict[str, str]]:
    """The columns drawn in ``width`` cells, their widths, the separators before them
    and the headers, for cells ``content`` wide (column key -> width) sorted on
    ``sort_column``: every column drawn is whole or cut with "…", never cropped."""
    labels = {c.key: c.label for c in COLUMNS}
    cols, seps, labels, want = _fit_columns(width, content, sort_column, labels)
    widths = _share_room(width, cols, want, seps)
    return [(c, widths[c.key]) for c in cols], seps, labels


def _wants(labels: dict[str, str], content: dict[str, int],
           sort_column: str) -> dict[str, int]:
    """What each column needs: its label (the sorted one with its arrow) or its cells,
    whichever is wider."""
    return {c.key: max(len(labels[c.key]) + (c.key == sort_column),
                       content.get(c.key, c.width)) for c in COLUMNS}


def _need(cols: list[Column], want: dict[str, int], seps: list[str]) -> int:
    return 2 + sum(want[c.key] for c in cols) + sum(map(len, seps[:len(cols)]))


def _fit_columns(width: int, content: dict[str, int], sort_column: str,
                 labels: dict[str, str]) -> tuple[list[Column], list[str], dict, dict]:
    """Which columns, separators and labels: the least needed columns hidden first,
    then single spaces, then short labels, then more columns left out."""
    want = _wants(labels, content, sort_column)
    cols = _hide_by_rank(width, want, sort_column)
    seps = separators(cols)
    # Short of room still: single spaces only, then the short labels (a header
    # shortened reads better than a cell cut).
    if _need(cols, want, seps) > width:
        seps = [""] + [SEPARATOR] * (len(cols) - 1)
    for key, short in SHORT_LABELS.items():
        if _need(cols, want, seps) <= width:
            break
        if len(labels[key]) + (key == sort_column) > content.get(key, 0):
            labels[key] = short  # (only where the header is what makes it wide)
            want = _wants(labels, content, sort_column)
    dropped = _drop_narrow(width, cols, want, sort_column)
    if dropped is not cols:
        cols, seps = dropped, [""] + [SEPARATOR] * (len(dropped) - 1)
    return cols, seps, labels, want


def _hide_by_rank(width: int, want: dict[str, int], sort_column: str) -> list[Column]:
    """Every column, less the least needed ones (highest hide rank first) until they
    fit; never the one sorted on (its arrow and its values are what the sort is read
    by)."""
    cols = list(COLUMNS)
    for rank in sorted({c.hide_rank for c in cols if c.hide_rank}, reverse=True):
        if _need(cols, want, separators(cols)) <= width:
            break
        cols = [c for c in cols if c.hide_rank != rank or c.key == sort_column]
    return cols


def _drop_narrow(width: int, cols: list[Column], want: dict[str, int],
                 sort_column: str) -> list[Column]:
    """Narrower than the shrunk columns: leave out more of them (:data:`NARROW_DROP`),
    so that every column drawn is whole or cut with "…", never cropped at the edge.
    Returns ``cols`` itself when none is left out."""
    least = {key: min(w for k, w in SHRINKABLE if k == key) for key, _ in SHRINKABLE}
    for key in NARROW_DROP:
        shrunk = 2 + sum(min(want[c.key], least.get(c.key, want[c.key])) for c in cols) \
            + len(cols) - 1
        if shrunk <= width:
            break
        if key != sort_column and len(cols) > 2:
            cols = [c for c in cols if c.key != key]
    return cols


def _share_room(width: int, cols: list[Column], want: dict[str, int],
                seps: list[str]) -> dict[str, int]:
    """The width of each of ``cols``: what it wants, the room left given to the columns
    narrower than their usual width (a little air between them) and then to Input; when
    short of room, the columns that read well shorter shrink, down to a minimum."""
    widths = {c.key: want[c.key] for c in cols}
    extra = width - _need(cols, want, seps)
    usual = {c.key: c.width for c in cols}
    for key in GROWABLE:
        if extra > 0 and key in widths and widths[key] < usual[key]:
            grow = min(extra, usual[key] - widths[key])
            widths[key] += grow
            extra -= grow
    if extra > 0 and "input" in widths:
        widths["input"] += min(extra, 24)
    for key, least in SHRINKABLE:
        if extra < 0 and key in widths and widths[key] > least:
            cut = min(-extra, widths[key] - least)
            widths[key] -= cut
            extra += cut
    if extra < 0:  # still too wide (a tiny terminal): the widest column gives way
        key = max(widths, key=widths.__getitem__)
        widths[key] = max(1, widths[key] + extra)
    return widths


class JobTable(ScrollView, can_focus=True):
    """The jobs of the log, one per line (see the module docstring)."""

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
    ]

    COMPONENT_CLASSES = {
        "job-table--header", "job-table--cursor", "job-table--marked",
        "job-table--sorted", "job-table--empty", *STATUS_CLASSES.values(),
    }

    DEFAULT_CSS = """
    JobTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        background: $surface;
    }
    JobTable > .job-table--header { background: $panel; color: $foreground; text-style: bold; }
    JobTable > .job-table--sorted { color: $accent; text-style: bold; }
    JobTable > .job-table--cursor {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
        text-style: bold;
    }
    JobTable:focus > .job-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    JobTable > .job-table--marked { background: $accent 25%; }
    JobTable > .job-table--empty { color: $text-muted; text-style: italic; }
    JobTable > .job-table--status-completed { color: $success; }
    JobTable > .job-table--status-running { color: $primary; text-style: bold; }
    JobTable > .job-table--status-submitted { color: $secondary; }
    JobTable > .job-table--status-pending-submit { text-style: dim; }
    JobTable > .job-table--status-pending-cancel { color: $warning; }
    JobTable > .job-table--status-failed-cancel { color: $warning; text-style: bold; }
    JobTable > .job-table--status-failed { color: $error; text-style: bold; }
    JobTable > .job-table--status-failed-submit { color: $error; }
    JobTable > .job-table--status-cancelled { text-style: dim; }
    """

    class CursorMoved(Message):
        """The highlighted job changed (``job_id`` None when the table is empty)."""

        def __init__(self, job_id: Optional[str]) -> None:
            super().__init__()
            self.job_id = job_id

    class LabelsChanged(Message):
        """The headers changed (a short "Time" for "Elapsed" when short of room)."""

    def __init__(self, model: Union[JobModel, JobView], *, name: Optional[str] = None,
                 id: Optional[str] = None, classes: Optional[str] = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model = model
        self.cursor = 0
        self.cursor_job_id: Optional[str] = None
        self.marked: set[str] = set()
        self.columns: list[tuple[Column, int]] = [(c, c.width) for c in COLUMNS]
        self._separators = separators(list(COLUMNS))
        self._labels = {c.key: c.label for c in COLUMNS}
        self._layout_width = -1
        self._layout_day = -1
        self._layout_sort = ""
        self._content: Optional[dict[str, int]] = None  # column key -> its cells' width
        self._content_model: object = None  # the model (view) _content was taken of
        self._elapsed_drawn: dict[str, str] = {}  # job id -> Elapsed text on screen
        # job id -> (record, key, strip): a line scrolled back to is not drawn again
        self._line_cache: LRUCache[str, tuple] = LRUCache(LINE_CACHE_SIZE)
        #: said after "no jobs match <filter>": how to clear it on the screen showing it
        self.no_match_hint = ""

    # ---- geometry ---------------------------------------------------------------------

    @property
    def body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _content_widths(self) -> dict[str, int]:
        """The width each column's cells need: the names of the interfaces and statuses
        the model counts, and the texts of a sample of the jobs (the oldest, the newest
        and those on screen), capped at :data:`MOST`. Worked out once per model (a few
        ms); a cell found wider when drawn widens its column (:meth:`_note_width`)."""
        want = {c.key: 1 for c in COLUMNS}
        model = self.model
        counts = model.interface_status_counts  # {(interface, status text): n}
        if isinstance(counts, dict):
            for name, status in counts:
                want["interface"] = max(want["interface"], len(name or "—"))
                want["status"] = max(want["status"], len(str(status)))
        rows = getattr(model, "rows", None)
        sample: list = []
        if isinstance(rows, dict) and rows:
            sample += islice(rows.values(), SAMPLE_ROWS)
            sample += islice(reversed(rows.values()), SAMPLE_ROWS)
        if len(model):
            top = int(self.scroll_offset.y)
            sample += model.rows_between(top, top + self.body_height)
        now = model.clock()
        for row in sample:
            for column, text in zip(COLUMNS, cell_texts(row, now)):
                if len(text) > want[column.key]:
                    want[column.key] = len(text)
        return {key: min(w, MOST.get(key, w)) for key, w in want.items()}

    def _note_width(self, key: str, text: str) -> None:
        """A cell drawn is wider than its column: widen the column (up to its cap) at
        the next frame, if the table has the room."""
        want = min(len(text), MOST.get(key, len(text)))
        if self._content is not None and want > self._content.get(key, 0):
            self._content[key] = want
            self._layout_width = -1
            self.call_after_refresh(self.refresh)

    def _layout(self) -> None:
        width = self.scrollable_content_region.width
        model = self.model
        day = int(model.clock() // 86400)  # times of another day show their date
        stale = bool(len(model.rows)) and (self._content_model is not model
                                           or day != self._layout_day)
        if width == self._layout_width and model.sort_column == self._layout_sort \
                and not stale:
            return
        if stale:
            self._content = self._content_widths()
            self._content_model, self._layout_day = model, day
        self._layout_width, self._layout_sort = width, model.sort_column
        columns, seps, labels = plan_columns(width, self._content or {}, model.sort_column)
        if columns != self.columns or seps != self._separators or labels != self._labels:
            self.columns = columns
            self._separators = seps
            relabelled = labels != self._labels
            self._labels = labels
            self._line_cache.clear()  # the lines drawn for the old widths
            self.refresh()
            if relabelled:
                self.post_message(self.LabelsChanged())

    def label(self, key: str) -> str:
        """The header of column ``key`` as drawn now (its short form when short of
        room), so that what names a column elsewhere agrees with the table."""
        return self._labels.get(key) or next(c.label for c in COLUMNS if c.key == key)

    def line_width(self) -> int:
        """The cells a line of the table takes as laid out now (the mark, the columns and
        the separators): never more than the table's width, so nothing is cropped."""
        return 2 + sum(w for _, w in self.columns) + sum(map(len, self._separators))

    def _update_virtual_size(self) -> None:
        size = Size(self.scrollable_content_region.width, len(self.model) + 1)
        if size == self.virtual_size:
            return
        # Set without Textual's re-layout of the whole screen (virtual_size is a layout
        # reactive: ~20 ms a frame, at each key typed in the filter): the table's own
        # size is its container's whatever its number of rows (height 1fr, the
        # scrollbar's gutter kept), so only its scrollbar and scroll range follow.
        self.set_reactive(JobTable.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._layout()
        self._update_virtual_size()
        self._scroll_to_cursor()
        self.refresh()

    # ---- data -------------------------------------------------------------------------

    def reload(self) -> None:
        """The model was rebuilt (sort, filter, first load): redraw, keep the cursor's job."""
        self._update_virtual_size()
        self._reanchor()
        self.refresh()

    def apply_records(self, records: Iterable[LogRecord]) -> None:
        """Apply changed records to the model (every view of it follows), then
        :meth:`show_changes`."""
        self.model.update(records)
        self.show_changes()

    def show_changes(self) -> None:
        """Show what the model's updates changed in this table's view: redraw only the
        lines they touch, or the visible part when rows moved."""
        changed, moved = self.model.take_changes()
        if moved:
            self.reload()
            return
        top, height = int(self.scroll_offset.y), self.body_height
        if len(changed) > height:  # (a burst: look at the rows on screen, not at each id)
            for i, row in enumerate(self.model.rows_between(top, top + height)):
                if row.job_id in changed:
                    self.refresh_line(i + 1)
            return
        for job_id in changed:
            index = self.model.index_of(job_id)
            if index is not None and top <= index < top + height:
                self.refresh_line(index + 1)

    def _reanchor(self) -> None:
        n = len(self.model)
        index = self.model.index_of(self.cursor_job_id) if self.cursor_job_id else None
        if index is None:
            index = min(self.cursor, n - 1) if n else 0
        self._set_cursor(index, scroll=True)

    # ---- cursor -----------------------------------------------------------------------

    def _set_cursor(self, index: int, scroll: bool = True) -> None:
        n = len(self.model)
        index = max(0, min(index, n - 1)) if n else 0
        old_index, old_id = self.cursor, self.cursor_job_id
        self.cursor = index
        self.cursor_job_id = self.model.row_at(index).job_id if n else None
        if scroll:
            self._scroll_to_cursor()
        if old_index != index:
            self.refresh_line(old_index + 1)
            self.refresh_line(index + 1)
        if old_id != self.cursor_job_id:
            self.post_message(self.CursorMoved(self.cursor_job_id))

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.body_height:
            self.scroll_to(y=self.cursor - self.body_height + 1, animate=False, immediate=True)

    def move_to(self, job_id: str) -> bool:
        index = self.model.index_of(job_id)
        if index is None:
            return False
        self._set_cursor(index)
        return True

    def action_cursor_up(self) -> None:
        self._set_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self._set_cursor(self.cursor - self.body_height)

    def action_page_down(self) -> None:
        self._set_cursor(self.cursor + self.body_height)

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self.model) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._set_cursor(int(self.scroll_offset.y) + event.y - 1, scroll=False)

    # ---- marks ------------------------------------------------------------------------

    def toggle_mark(self, job_id: Optional[str] = None) -> None:
        job_id = job_id or self.cursor_job_id
        if job_id is None:
            return
        if job_id in self.marked:
            self.marked.discard(job_id)
        else:
            self.marked.add(job_id)
        index = self.model.index_of(job_id)
        if index is not None:
            self.refresh_line(index + 1)

    def clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self.refresh()

    # ---- rendering --------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        self._layout()
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header(width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self.model):
            if index == 0 and self.model.filter.active:
                return self._no_match(width)
            return Strip.blank(width, self.rich_style)
        return self._row_strip(index, width)

    def _no_match(self, width: int) -> Strip:
        """What an empty view says when a filter emptied it (not a blank table)."""
        style = self.rich_style + self.get_component_rich_style("job-table--empty",
                                                                partial=True)
        head, tail = "  no jobs match ", self.no_match_hint
        what = self.model.filter.describe()
        room = width - len(head) - len(tail)
        if len(what) > room:
            what = what[:max(0, room - 1)] + "…" if room > 0 else ""
        return Strip([Segment(head + what + tail, style)]).adjust_cell_length(width,
                                                                           self.rich_style)

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("job-table--header")
        sorted_style = style + self.get_component_rich_style("job-table--sorted", partial=True)
        arrow = "↓" if self.model.sort_reverse else "↑"
        segments = [Segment("  ", style)]
        for (column, w), sep in zip(self.columns, self._separators):
            if sep:
                segments.append(Segment(sep, style))
            text = self._labels.get(column.key, column.label)
            if column.key == self.model.sort_column:
                label = _fit(f"{text}{arrow}", w, column.align)
                segments.append(Segment(label, sorted_style))
            else:
                segments.append(Segment(_fit(text, w, column.align), style))
        return Strip(segments).adjust_cell_length(width, style)

    def _row_strip(self, index: int, width: int) -> Strip:
        row = self.model.row_at(index)
        marked = row.job_id in self.marked
        now = self.model.clock()
        # A running job's Elapsed ticks each second on the highlighted row only (a
        # screen of them would redraw every second): coarse steps elsewhere.
        live = None if row.finished else \
            format_duration(elapsed(row, now), live=index != self.cursor)
        # A line is drawn again only when something it shows may have changed: its
        # record (a new copy per change), the cursor, the mark, the width, the day (times
        # of another day show their date) or a running job's elapsed time.
        key = (index == self.cursor, marked, width, self._layout_width, int(now // 86400),
               live)
        cached = self._line_cache.get(row.job_id)
        if cached is not None and cached[0] is row.rec and cached[1] == key:
            if live is not None:
                self._elapsed_drawn[row.job_id] = live
            return cached[2]
        strip = self._draw_row(row, index, width, marked, now)
        if cached is not None:  # (LRUCache.set keeps an existing entry: replace it)
            self._line_cache.discard(row.job_id)
        self._line_cache.set(row.job_id, (row.rec, key, strip))
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._line_cache.clear()  # a new theme: every line in new colours

    def _draw_row(self, row, index: int, width: int, marked: bool, now: float) -> Strip:
        base = self.rich_style
        if index == self.cursor:
            base = base + self.get_component_rich_style("job-table--cursor", partial=True)
        elif marked:
            base = base + self.get_component_rich_style("job-table--marked", partial=True)
        texts = cell_texts(row, now)
        if index == self.cursor and not row.finished:  # to the second (see _row_strip)
            texts = (*texts[:ELAPSED], format_duration(elapsed(row, now)), *texts[ELAPSED + 1:])
        segments = [Segment((MARK if marked else " ") + " ", base)]
        for (column, w), sep in zip(self.columns, self._separators):
            if sep:
                segments.append(Segment(sep, base))
            text = texts[COLUMN_INDEX[column.key]]
            if len(text) > w:
                self._note_width(column.key, text)
            if column.key == "elapsed":
                self._elapsed_drawn[row.job_id] = text
            style = base
            # The cursor row is one colour pair (the theme's block cursor, chosen to be
            # readable on 256 colours): a status colour over it (green on light blue)
            # would not be; the status still reads as its word.
            if column.key == "status" and index != self.cursor:
                style = base + self.get_component_rich_style(STATUS_CLASSES[row.status],
                                                             partial=True)
            segments.append(Segment(_fit(text, w, column.align), style))
        strip = Strip(segments).adjust_cell_length(width, base)
        if index == self.cursor and not row.finished:
            # Redrawn each second (its Elapsed ticks), and the terminal gets the whole
            # line: one style run (the cursor row is one colour pair) is ~150 bytes where
            # a run per cell, each with its colour codes, is ~600.
            strip = strip.simplify()
        return strip

    # ---- for tests and the screen -----------------------------------------------------

    def visible_job_ids(self) -> list[str]:
        top = int(self.scroll_offset.y)
        return [r.job_id for r in self.model.rows_between(top, top + self.body_height)]

    def refresh_active_rows(self) -> None:
        """Redraw the Elapsed cell of the jobs on screen that have not ended, when its
        text changed: the terminal gets a few bytes per changed cell (each second for the
        highlighted job, to the second; every 5 s or minute for the others), an idle
        table of finished jobs nothing."""
        x = 2
        for (column, w), sep in zip(self.columns, self._separators):
            x += len(sep)
            if column.key == "elapsed":
                break
            x += w
        else:
            return
        top = int(self.scroll_offset.y)
        now = self.model.clock()
        for i, row in enumerate(self.model.rows_between(top, top + self.body_height)):
            if row.finished:
                continue
            text = format_duration(elapsed(row, now), live=top + i != self.cursor)
            if self._elapsed_drawn.get(row.job_id) != text:
                self.refresh(Region(x, i + 1, w, 1))

    def has_active_rows_visible(self) -> bool:
        top = int(self.scroll_offset.y)
        return any(not r.finished for r in self.model.rows_between(top, top + self.body_height))


COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}
ELAPSED = COLUMN_INDEX["elapsed"]
