"""StatusBar: the log, who manages it, the jobs per status and the completion rate."""

from __future__ import annotations

import os
from typing import Optional

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from ...core.text import plural
from ...core.types import JobStatus
from ..model import STATUS_RANK, JobModel

SHORT = {
    JobStatus.PENDING_SUBMIT: "pending", JobStatus.SUBMITTED: "submitted",
    JobStatus.RUNNING: "running", JobStatus.PENDING_CANCEL: "cancelling",
    JobStatus.FAILED_CANCEL: "cancel failed", JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed", JobStatus.FAILED_SUBMIT: "submit failed",
    JobStatus.CANCELLED: "cancelled",
}
TINY = {
    JobStatus.PENDING_SUBMIT: "pend", JobStatus.SUBMITTED: "subm", JobStatus.RUNNING: "run",
    JobStatus.PENDING_CANCEL: "cancelling", JobStatus.FAILED_CANCEL: "cancel-failed",
    JobStatus.COMPLETED: "done", JobStatus.FAILED: "failed",
    JobStatus.FAILED_SUBMIT: "submit-failed", JobStatus.CANCELLED: "cancelled",
}
#: The narrowest status bar counts groups of statuses (in this order, so styled).
GROUP = {
    JobStatus.COMPLETED: "done", JobStatus.FAILED: "failed", JobStatus.FAILED_SUBMIT: "failed",
    JobStatus.CANCELLED: "cancelled",
}  # any other status (a failed cancel too: the job goes on): "active"
GROUP_STYLE = {"active": "bold", "done": "green", "failed": "bold red", "cancelled": ""}
STYLE = {
    JobStatus.RUNNING: "bold", JobStatus.COMPLETED: "green", JobStatus.FAILED: "bold red",
    JobStatus.FAILED_SUBMIT: "red", JobStatus.PENDING_CANCEL: "yellow",
    JobStatus.FAILED_CANCEL: "yellow",
}


def display_path(path: str) -> str:
    """The path relative to the working directory when inside it, else with ~ for home."""
    p = os.path.abspath(path)
    cwd = os.getcwd()
    if p.startswith(cwd + os.sep):
        return os.path.relpath(p, cwd)
    home = os.path.expanduser("~")
    if home not in ("", "/") and p.startswith(home + os.sep):
        return "~" + p[len(home):]
    return p


class StatusBar(Static):
    """Two lines: log path and manager state; counts per status and jobs/min."""

    DEFAULT_CSS = """
    StatusBar {
        height: 2; background: $panel; color: $foreground; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;  /* a long line never pushes out the next */
    }
    """

    def __init__(self, log_path: str, model: JobModel, **kwargs) -> None:
        super().__init__(**kwargs)
        self.log_path = display_path(log_path)
        self.model = model
        self.manager_state = ""
        #: the same, short enough to fit beside the path at 80 columns ("" = no short form)
        self.manager_state_short = ""
        #: errors logged since the app started (shown, when any, at the end of line 1;
        #: a click or E opens them)
        self.error_count = 0
        self._shown: Optional[str] = None

    def on_mount(self) -> None:
        self.update_view()

    def update_view(self) -> None:
        text = self.render_text()
        if text.plain != self._shown:  # idle screens send nothing
            self._shown = text.plain
            self.update(text, layout=False)  # height fixed at 2: no re-layout of the screen

    def _counts(self, names: Optional[dict], sep: str, rate_label: str) -> Text:
        """``24 jobs: 2 submitted · 6 running · …  · 0.3 done/min, last 5 min``
        (``WINDOW`` in ``rate_label`` stands for the rate's window); ``names`` None
        groups the statuses (active, done, failed, cancelled) for the narrowest."""
        counts = self.model.status_counts
        total = sum(counts.values())
        if names is None:
            groups: dict = {}
            for status, n in counts.items():
                group = GROUP.get(status, "active")
                groups[group] = groups.get(group, 0) + n
            items = [(f"{groups[g]:,} {g}", GROUP_STYLE[g]) for g in GROUP_STYLE if g in groups]
        else:
            items = [(f"{counts[status]:,} {names[status]}", STYLE.get(status, ""))
                     for status in sorted(counts, key=lambda s: STATUS_RANK.get(s, 99))]
        parts: list = [(plural(total, "job"), "bold")]
        for i, item in enumerate(items):
            parts += [(": " if sep == " " else sep) if i == 0 else sep, item]
        rate, window = self.model.completion_rate()
        label = rate_label.replace("WINDOW", f"{window / 60:.0f} min")
        parts += [" · ", (f"{rate:.1f}{label}", "dim")]
        return Text.assemble(*parts)

    def render_text(self) -> Text:
        width = max(20, self.size.width - 2) if self.size.width else 200
        path = self.log_path
        state = self.manager_state
        errors = self._errors_text()
        if len(state) + 3 + min(len(path), 20) + errors.cell_len > width \
                and self.manager_state_short:
            state = self.manager_state_short
        room = width - len(state) - 3 - errors.cell_len
        if len(path) > room:
            path = "…" + path[-max(10, room - 1):]
        # The counts in the longest wording that fits: full words, short words, a
        # shorter rate, then the statuses grouped; cut (…) only past all of these.
        for names, sep, rate_label in ((SHORT, " · ", " done/min, last WINDOW"),
                                       (SHORT, " · ", " done/min"), (TINY, " ", " done/min"),
                                       (TINY, " ", "/min"), (None, " ", "/min")):
            line2 = self._counts(names, sep, rate_label)
            if line2.cell_len <= width:
                break
        line2.truncate(width, overflow="ellipsis")
        return Text.assemble((path, "bold"), " · ", (state, "italic"), errors, "\n", line2,
                             no_wrap=True, overflow="ellipsis")

    def _errors_text(self) -> Text:
        """`` · ⚠ 3 errors (E)``, a link to the list of them; nothing without errors."""
        if not self.error_count:
            return Text()
        link = Style(meta={"@click": "app.show_errors"})
        return Text.assemble(" · ", (f"⚠ {plural(self.error_count, 'error')} (E)",
                                     Style(color="red", bold=True) + link))
