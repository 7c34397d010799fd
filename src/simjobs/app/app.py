"""SimjobsApp: the Textual app over a Backend.

How events get to the screen: the backend calls :meth:`SimjobsApp._on_backend_event` on
its event thread; that only notes the changed job's id and, for the first event of a
burst, posts one message to the UI loop. There a timer applies what is pending at most
every ~100 ms (:data:`APPLY_INTERVAL`), in batches (:data:`MAX_BATCH`, fewer while keys
are pressed): the changed jobs' records are read in one call by the reader thread (the
manager may hold the log's lock a while), applied once to the app's model
(:mod:`simjobs.app.model`: every view of it follows), and each screen redraws what
changed in its view. Nothing reads the log on a timer.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Optional, Union

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.css.query import NoMatches
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from ..core.events import Event, InterfaceHealthEvent, JobEvent
from ..core.types import JobStatus
from .. import logfile
from .collector import FullCollections
from .backend import Backend, PeekBackend, retry_logins, set_login_prompter
from .messages import JobsUpdated
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen, key_rows
from .screens.login import AppLoginPrompter
from .screens.main import MainScreen
from .themes import DEFAULT_THEME, load_themes, remember_theme, remembered_theme
from .model import JobModel
from .widgets.job_table import JobTable

#: Seconds between two applications of pending events (bursts are coalesced).
APPLY_INTERVAL = 0.1
#: Logs up to this many records are loaded before the first paint; bigger ones after it,
#: in a thread (the screen says "loading" meanwhile).
INLINE_LOAD = 20_000
#: Keys first: pending events wait until no key came for this long (a key is drawn
#: before a batch of events is applied, not after it)...
KEY_QUIET = 0.15
#: ...but never longer than this after the first of them arrived.
MAX_DEFER = 0.5
#: Jobs whose records one batch reads and applies at most; more wait for the next (a
#: manager handing 100,000 queued jobs over changes them all at once: read and applied
#: in one go they held the UI loop for a second, keys waiting).
MAX_BATCH = 5_000
#: ... and while keys are being pressed (no KEY_QUIET pause since the last): a batch of
#: 5,000 held the loop ~15 ms, and one is applied every MAX_DEFER however fast one types.
TYPING_BATCH = 1_000
#: The GIL's switch interval while the app runs (seconds; Python's default is 0.005):
#: how long the UI loop may wait for a thread computing in Python to let it run.
SWITCH_INTERVAL = 0.001
#: Seconds between two looks at the interfaces' poll latency (the manager's memory).
STATS_INTERVAL = 5.0


class _EventsPending(Message):
    """Posted (from the backend's thread) when the first event of a burst arrives."""


class _RecordsRead(Message):
    """Posted by the reader thread: a batch's records, read (see apply_pending)."""

    def __init__(self, records: list, health: list) -> None:
        super().__init__()
        self.records = records
        self.health = health


class _ErrorLogged(Message):
    """Posted (from whichever thread logged it) when the first of a burst of warnings
    or errors reaches :func:`simjobs.logfile.recent_entries`."""


class OpeningScreen(Screen):
    """What shows while a big log is opened (a fraction of a second to a few)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self):
        yield Static(self.text)


class PeekingMainScreen(MainScreen):
    """The main screen shown on a peek at the log (:class:`PeekBackend`) while the log
    opens: the info line says so and how many of the log's jobs are shown."""

    def update_info(self) -> None:
        super().update_info()
        app = self.simjobs
        total = getattr(app, "peek_total", None)
        if total is None or app.loaded:
            return
        try:
            info = self.query_one("#table-info", Static)
        except NoMatches:
            return
        text = getattr(info, "_simjobs_text", "")
        first, sep, rest = text.partition(" · ")
        shown = (f"{first} · newest {len(self.model):,} of {total:,} jobs shown (the rest "
                 f"as it loads){sep}{rest}")
        if shown != text:
            info._simjobs_text = shown
            info.update(shown)


def quit_question(model: JobModel, interfaces: Iterable) -> Optional[tuple[str, str]]:
    """The question and detail of the quit dialog, or None when no job is going.

    Counts come from the model, as every other count on screen, and say what quitting
    does to each kind of job: a running process (or Slurm job) goes on; a job queued
    behind max_jobs waits, since only a running manager starts it; a job not yet handed
    to its interface, or not yet cancelled there, waits too."""
    counts = model.status_counts
    running = counts.get(JobStatus.RUNNING, 0)
    queued = counts.get(JobStatus.SUBMITTED, 0)
    unsent = counts.get(JobStatus.PENDING_SUBMIT, 0)
    cancelling = counts.get(JobStatus.PENDING_CANCEL, 0) + counts.get(JobStatus.FAILED_CANCEL, 0)
    if not (running or queued or unsent or cancelling):
        return None
    parts = [f"{running:,} running" if running else "",
             f"{queued:,} queued" if queued else "",
             f"{unsent:,} not yet submitted" if unsent else "",
             f"{cancelling:,} being cancelled" if cancelling else ""]
    question = f"Jobs still going: {', '.join(p for p in parts if p)}. Quit?"
    detail = []
    if running:
        detail.append("Running jobs go on running; their ends are recorded at the next "
                      "start of simjobs on this log.")
    if queued:
        slurm = {i.name for i in interfaces if i.kind == "slurm"}
        in_slurm = sum(model.counts_for(name).get(JobStatus.SUBMITTED, 0) for name in slurm)
        detail.append("Queued jobs wait: only a running simjobs starts them, so they start "
                      "at its next start" + ("; those already in Slurm's queue run when "
                                             "Slurm starts them." if in_slurm else "."))
    if unsent or cancelling:
        detail.append("Submits and cancels not yet done wait for the next start too.")
    return question, " ".join(detail)


class SimjobsApp(App):
    """The simjobs app. ``backend`` is its only way to the core (``self.app.backend``).

    Parameters
    ----------
    backend : Backend
        A ManagedBackend or WatchBackend; the app closes it when it exits.
    theme : str, optional
        A theme name (else the remembered one, else simjobs-dark).
    close_backend : bool
        Close the backend when the app exits (default True).
    live_stats : bool
        Show the interfaces' measured poll latency (default True; snapshots turn it off:
        it is a real measurement, never the same twice).
    peek : callable, optional
        With a ``backend`` factory: called before the first frame, returns a
        PeekBackend on the log's newest records (or None), shown at once while the
        factory opens the whole log in a thread.
    """

    TITLE = "simjobs"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit (asks first while jobs run)"),
        Binding("question_mark,f1", "help", "Keys", id="help", tooltip="Every key, listed"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, id="palette",
                tooltip="Command palette: submit, cancel, log view, export, theme, ..."),
        Binding("E", "show_errors", "Errors", show=False, id="errors",
                tooltip="The recent errors and warnings (the status bar counts them)"),
        Binding("L", "login_again", "Log in again", show=False, id="login_again",
                tooltip="Interfaces whose interactive login (one-time code) failed ask "
                        "again at their next poll"),
    ]

    def __init__(self, backend: Union[Backend, Callable[[], Backend]], *,
                 theme: Optional[str] = None, close_backend: bool = True,
                 live_stats: bool = True, opening: str = "",
                 peek: Optional[Callable[[], Optional[PeekBackend]]] = None) -> None:
        super().__init__()
        if isinstance(backend, Backend):
            self.backend: Optional[Backend] = backend
        else:
            self.backend = None  # opened by the factory in a thread, after the first paint
            self._backend_factory = backend
        self.opening_text = opening or "opening the simulations log…"
        self._peek = peek
        #: the log's number of records while a peek at it is shown (None otherwise)
        self.peek_total: Optional[int] = None
        self.startup_error: Optional[Exception] = None
        self.open_seconds = 0.0
        self.close_backend = close_backend
        self.live_stats = live_stats
        self.model = JobModel(clock=backend.clock if self.backend else time.time)
        #: ids of the jobs changed and not yet applied, oldest change first (kept by the
        #: backend's thread as events come: a manager handing 100,000 jobs over sends
        #: 100,000 events at once, which the UI loop need not go through)
        self._pending_ids: OrderedDict[str, None] = OrderedDict()
        self._pending_health: list[InterfaceHealthEvent] = []
        self._pending_lock = threading.Lock()
        self._posted = False
        self._last_apply = 0.0
        self._pending_since = 0.0  # when the first pending event arrived (monotonic)
        self._reading = False  # a batch's records are being read (see apply_pending)
        self._reads: queue.SimpleQueue = queue.SimpleQueue()  # for the reader thread
        self._reader: Optional[threading.Thread] = None  # started by the first batch
        #: when the last key was pressed (time.monotonic): what waits for keys to rest
        self.last_key = float("-inf")
        self._held_keys: Optional[list[events.Key]] = None  # see hold_keys()
        self.full_collections = FullCollections()  # made between keys (see collector)
        self._unsubscribe = None
        self.notices: list[tuple[str, str, str]] = []
        self.applied_batches = 0  # how many coalesced batches were applied (tests, bench)
        themes, self.theme_errors = load_themes()
        for t in themes:
            self.register_theme(t)
        wanted = theme or remembered_theme() or DEFAULT_THEME
        if wanted not in self.available_themes:
            self.theme_errors.append(f"unknown theme {wanted!r}; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        self.theme = wanted
        self._explicit_theme = theme if theme == wanted else None
        self.main_screen: Optional[MainScreen] = None
        self.loaded = False
        self.load_seconds = 0.0
        #: the user's keymap as applied (binding id -> keys), from keymap.toml
        self.user_keymap: dict[str, str] = {}
        # Errors logged since this app started (the count in the status bar): those of
        # the process before it (another app in a test run, the command's start) are
        # not this app's.
        self._recent = logfile.recent_entries()
        self._errors_before = self._recent.error_count
        self._entries_before = self._recent.total
        self._error_posted = False
        self._unsubscribe_errors = self._recent.subscribe(self._on_log_entry)

    def notify(self, message: str, *, title: str = "", severity="information",
               timeout: Optional[float] = None, markup: bool = False) -> None:
        """As App.notify (markup off: job ids and paths are shown as they are), and keep
        the last notifications in :attr:`notices` (newest last)."""
        self.notices.append((title, message, severity))
        del self.notices[:-50]
        super().notify(message, title=title, severity=severity, timeout=timeout,
                       markup=markup)

    # ---- start and stop -------------------------------------------------------------------

    def on_mount(self) -> None:
        # Before the backend exists: its first poll may already meet a login question.
        self.login_prompter = AppLoginPrompter(self)
        self._previous_prompter = set_login_prompter(self.login_prompter)
        # The manager's threads (and the record reader) run Python beside the UI loop:
        # each time the loop wants the GIL back (a key read, a message, a frame written)
        # it waited up to the switch interval, 5 ms by default, several times a key.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._load_keymap()
        self.theme_changed_signal.subscribe(self, lambda theme: remember_theme(theme.name))
        if self._explicit_theme:
            remember_theme(self._explicit_theme)  # --theme NAME is a choice too
        for error in self.theme_errors:
            self.notify(error, title="Themes", severity="warning", timeout=8)
        if self.backend is None:
            # Opening a big log takes a while: paint at once (its newest records when they
            # can be peeked at), open it in a thread once that frame is out.
            peek = None
            if self._peek is not None:
                try:
                    peek = self._peek()
                except Exception:  # noqa: BLE001 - the log is opened all the same
                    peek = None
            if peek is not None:
                self._show_peek(peek)
            else:
                self.push_screen(OpeningScreen(self.opening_text))
            self.call_after_refresh(self._open_backend)
        else:
            self._start()

    @work(thread=True, group="open", exit_on_error=False)
    def _open_backend(self) -> None:
        started = time.perf_counter()
        try:
            backend = self._backend_factory()
        except Exception as exc:  # noqa: BLE001 - said in one line by the CLI
            self.call_from_thread(self._open_failed, exc)
            return
        self.open_seconds = time.perf_counter() - started
        self.call_from_thread(self._opened, backend)

    def _open_failed(self, exc: Exception) -> None:
        self.startup_error = exc
        self.exit(return_code=1)

    def _show_peek(self, peek: PeekBackend) -> None:
        """The main screen on the newest records, marked as loading, until the log is
        open and loaded (then :meth:`_model_loaded` puts every job in place)."""
        self.backend = peek
        self.peek_total = peek.total
        self.model.load(peek.live_records())
        self.main_screen = PeekingMainScreen(self.model)
        self.push_screen(self.main_screen)
        self.call_after_refresh(self.show_error_count)  # errors logged while it opened
        self.set_interval(1.0, self._tick)

    def _opened(self, backend: Backend) -> None:
        peek = self.backend if isinstance(self.backend, PeekBackend) else None
        self.backend = backend
        self.model.clock = backend.clock
        if peek is None:
            self._start()
            return
        peek.opened(backend)  # calls waiting for the whole log go on
        self._unsubscribe = backend.subscribe(self._on_backend_event)
        started = time.perf_counter()
        records = backend.live_records()
        self._records_to_load = records
        self._load_model()
        self.load_seconds = time.perf_counter() - started
        if backend.readonly:
            self.notify(backend.readonly_reason, title="Read-only", severity="warning",
                        timeout=10)
        if self.live_stats:  # (a watched log: from its manager's stats file)
            self.set_timer(1.0, self._poll_stats)
            self.set_interval(STATS_INTERVAL, self._poll_stats)

    def _start(self) -> None:
        """Show the main screen on the backend."""
        # Subscribe first, then read: an event between the two is applied again (harmless)
        # rather than lost.
        self._unsubscribe = self.backend.subscribe(self._on_backend_event)
        started = time.perf_counter()
        records = self.backend.live_records()
        self.loaded = len(records) <= INLINE_LOAD
        if self.loaded:
            self.model.load(records)
            self._warm_search_texts()
            self.full_collections.start()  # (see _model_loaded)
        else:
            # A big log: paint the screen first, build the table's model in a thread.
            # (Not passed as an argument: a worker's description is the repr of its
            # arguments, and that of 100,000 records takes seconds.)
            self._records_to_load = records
            self._load_model()
        self.load_seconds = time.perf_counter() - started
        self.main_screen = MainScreen(self.model)
        if isinstance(self.screen, OpeningScreen):
            self.switch_screen(self.main_screen)
        else:
            self.push_screen(self.main_screen)
        self.call_after_refresh(self.show_error_count)  # errors logged while it opened
        if self.backend.readonly:
            self.notify(self.backend.readonly_reason, title="Read-only", severity="warning",
                        timeout=10)
        self.set_interval(1.0, self._tick)
        if self.live_stats:  # (a watched log: from its manager's stats file)
            self.set_timer(1.0, self._poll_stats)
            self.set_interval(STATS_INTERVAL, self._poll_stats)

    async def on_unmount(self) -> None:
        if getattr(self, "login_prompter", None) is not None:
            set_login_prompter(self._previous_prompter)
            self.login_prompter.close()  # a question still open gives up
        sys.setswitchinterval(self._switch_interval)
        self.full_collections.stop()
        self._reads.put(None)  # the reader thread ends (after the read it may be in)
        self._unsubscribe_errors()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.close_backend and self.backend is not None:
            import asyncio

            await asyncio.to_thread(self.backend.close)

    @work(thread=True, group="load", exit_on_error=False)
    def _load_model(self) -> None:
        started = time.perf_counter()
        records, self._records_to_load = self._records_to_load, []
        prepared = self.model.prepare(records)
        self.call_from_thread(self._model_loaded, prepared, started)
        self._encode_search_texts()
        completions = self.model.recent_completions()
        self.call_from_thread(self._completions_loaded, completions)

    @work(thread=True, group="load", exit_on_error=False)
    def _warm_search_texts(self) -> None:
        self._encode_search_texts()

    def _encode_search_texts(self) -> None:
        # (In a thread, after the first paint: the first key typed in the filter need
        # not encode 100,000 search texts.)
        self.call_from_thread(self.model.adopt_search_texts, self.model.encode_search_texts())

    def _model_loaded(self, prepared, started: float) -> None:
        self.model.install(prepared)
        self.loaded = True
        # Python's full collections stay Python's own while a log loads (it keeps ~40 MB
        # less at 100,000 records, measured); from now on keys come first.
        self.full_collections.start()
        self.peek_total = None
        self.load_seconds = time.perf_counter() - started
        if self.main_screen is not None:
            # Panels made on a peek show the backend's own interfaces from now on.
            panels = self.main_screen.panels
            for info in self.backend.interfaces():
                panel = panels.panels.get(info.name)
                if panel is None:
                    panels.add_interface(info)
                elif panel.info is not info:
                    panel.info = info
            self.main_screen.table.reload()
            self.main_screen.refresh_views()
        self._tell_screens([], [])  # (a log view open meanwhile shows every job now)
        self.apply_pending()  # what happened while loading

    def _completions_loaded(self, completions) -> None:
        self.model.set_completions(completions)
        if self.main_screen is not None and self.main_screen.is_attached:
            self.main_screen.refresh_views()

    # ---- events from the backend ------------------------------------------------------------

    def _on_backend_event(self, event: Event) -> None:
        """Runs on the backend's event thread: queue, and wake the UI once per burst."""
        with self._pending_lock:
            if isinstance(event, JobEvent):
                self._pending_ids[str(event.job_id)] = None
            elif isinstance(event, InterfaceHealthEvent):
                self._pending_health.append(event)
            if self._posted:
                return
            self._posted = True
            self._pending_since = time.monotonic()
        self.post_message(_EventsPending())

    def on__events_pending(self, message: _EventsPending) -> None:
        wait = APPLY_INTERVAL - (time.monotonic() - self._last_apply)
        if wait > 0:
            self.set_timer(wait, self._apply_when_keys_rest)
        else:
            self._apply_when_keys_rest()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self.last_key = time.monotonic()
            if self._held_keys is not None:
                self._held_keys.append(event)  # typed ahead of a screen: see hold_keys()
                return
            opens_form = self._opens_form(event.key)
            await super().on_event(event)
            if opens_form:
                # The binding runs only once the key has gone down the focus chain and
                # back up, after the app has handed on the keys typed behind it.
                self.hold_keys()
            return
        await super().on_event(event)

    #: Actions of the main screen that open a form its keys typed ahead are meant for.
    TYPE_AHEAD_ACTIONS = frozenset({"submit"})

    def _opens_form(self, key: str) -> bool:
        if self.main_screen is None or self.screen is not self.main_screen:
            return False
        active = self.screen.active_bindings.get(key)
        return bool(active and active.enabled and active.binding.action in self.TYPE_AHEAD_ACTIONS)

    def hold_keys(self, longest: float = 2.0) -> None:
        """Hold the keys pressed from now on until :meth:`release_keys` (or ``longest``
        seconds), then deliver them in order.

        A screen being opened has no focused widget until it has mounted, and Textual
        drops the keys that reach it before then: ``s0.5`` typed at once over SSH gave
        an empty x1. Whoever pushes such a screen holds the keys first, and the screen
        releases them once it has focused its first field."""
        if self._held_keys is None:
            self._held_keys = []
            self.set_timer(longest, self.release_keys)

    async def release_keys(self) -> None:
        """Deliver the held keys, in order, to whatever has the focus now.

        Scheduled with ``call_later`` by the screen once it has asked for its field's
        focus (itself a ``call_later``), so it runs after that and after every key
        already queued for the app (held too), and before any key that comes later,
        which stays behind the held ones because those are delivered here and now."""
        held, self._held_keys = self._held_keys, None
        for event in held or ():
            await super().on_event(event)

    def _apply_when_keys_rest(self) -> None:
        """The timer's call: apply pending events, unless keys are being pressed (then
        a little later: see KEY_QUIET and MAX_DEFER)."""
        now = time.monotonic()
        quiet_at = self.last_key + KEY_QUIET
        if now < quiet_at and now - self._pending_since < MAX_DEFER:
            self.set_timer(min(quiet_at, self._pending_since + MAX_DEFER) - now,
                           self._apply_when_keys_rest)
            return
        self.apply_pending()

    def apply_pending(self) -> None:
        """Apply the pending events now (one batch: the records of at most
        :data:`MAX_BATCH` changed jobs; the others a batch interval later).

        The records are read in a thread (:meth:`_reader_loop`): the log's lock may be
        held a while by the manager writing a big batch, and the UI loop must not wait
        for it; the batch is applied on the loop once read (:meth:`_records_read`)."""
        if not self.loaded or self._reading:
            return  # kept until the model is in place, or the batch being read is applied
        typing = time.monotonic() - self.last_key < KEY_QUIET
        with self._pending_lock:
            pending = self._pending_ids
            take = min(len(pending), TYPING_BATCH if typing else MAX_BATCH)
            job_ids = [pending.popitem(last=False)[0] for _ in range(take)]
            health, self._pending_health = self._pending_health, []
            self._posted = False
            if pending:  # left for the next batch, applied once this one is
                self._pending_since = time.monotonic()
        self._last_apply = time.monotonic()
        if not job_ids and not health:
            return
        for event in health:
            for info in self.backend.interfaces():
                if info.name == event.interface_name:
                    info.health, info.health_message = event.state, event.message
                    info.health_since = event.time
        if not job_ids:
            self._records_read([], health)
            return
        self._reading = True
        self._read_records(job_ids, health)

    def _read_records(self, job_ids: list[str], health: list) -> None:
        """Have the reader thread read these records (see :meth:`_reader_loop`)."""
        if self._reader is None:
            self._reader = threading.Thread(target=self._reader_loop, name="simjobs-records",
                                            daemon=True)
            self._reader.start()
        self._reads.put((job_ids, health))

    def _reader_loop(self) -> None:
        """The one thread that reads every batch's records, for as long as the app runs.

        Not a Textual thread worker per batch: each was a Worker made on the UI loop
        (with the repr of its 5,000 job ids for a description, and three state messages)
        on whichever of the executor's threads was free, each thread with glibc arenas of
        its own for the batches' lists."""
        while True:
            read = self._reads.get()
            if read is None:
                return
            job_ids, health = read
            try:
                # The log's own records (read-only; events follow their changes), as
                # the first load takes them: the model keeps no copy of its own.
                records = self.backend.get_records(job_ids, live=True)
            except Exception:  # noqa: BLE001 - closing: nothing more to show
                records = []
            self.post_message(_RecordsRead(records, health))  # (thread-safe; False: ended)

    def on__records_read(self, message: "_RecordsRead") -> None:
        self._records_read(message.records, message.health)

    def _records_read(self, records: list, health: list) -> None:
        self._reading = False
        # Once into the model, for every view of it (the job table's, the log view's):
        # each screen then shows what changed in its own view.
        self.model.update(records)
        self.applied_batches += 1
        self._tell_screens(records, health)
        if self._pending_ids or self._pending_health:  # came meanwhile, or left for later
            self.set_timer(APPLY_INTERVAL, self._apply_when_keys_rest)

    def _tell_screens(self, records: list, health: list) -> None:
        for screen in self.screen_stack:  # the main screen, and any modal that listens
            if screen.is_attached:
                screen.post_message(JobsUpdated(records, health))

    # ---- clocks that redraw only what changed ---------------------------------------------

    def _tick(self) -> None:
        """Once a second: elapsed times of running jobs on screen, and the summaries
        (each redraws only if its text changed: an idle app sends nothing); a full
        garbage collection when one is due and the keys rest."""
        self.full_collections.collect_if_due(self.last_key)
        main = self.main_screen
        if main is None or not main.is_attached:
            return
        main.table.refresh_active_rows()
        main.refresh_views()

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def _poll_stats(self) -> None:
        try:
            stats = self.backend.interface_stats()
        except Exception:  # noqa: BLE001 - the panels keep their last figures
            return
        self.call_from_thread(self._apply_stats, stats)

    def _apply_stats(self, stats: dict) -> None:
        if self.main_screen is None:
            return
        for name, panel in self.main_screen.panels.panels.items():
            s = stats.get(name)
            if s:
                panel.poll_seconds = s.get("last_poll_seconds")
                panel.poll_time = s.get("last_poll_time")
                panel.update_view()

    # ---- errors and warnings logged (simjobs.logfile) ----------------------------------------

    def _on_log_entry(self) -> None:
        """Runs in the thread that logged: wake the UI once per burst."""
        with self._pending_lock:
            if self._error_posted:
                return
            self._error_posted = True
        self.post_message(_ErrorLogged())

    @property
    def error_count(self) -> int:
        """How many errors were logged since this app started."""
        return self._recent.error_count - self._errors_before

    def on__error_logged(self, message: _ErrorLogged) -> None:
        with self._pending_lock:
            self._error_posted = False
        self.show_error_count()

    def show_error_count(self) -> None:
        """Put :attr:`error_count` in the main screen's status bar."""
        if self.main_screen is None or not self.main_screen.is_attached:
            return
        bar = self.main_screen.status_bar
        if bar.error_count != self.error_count:
            bar.error_count = self.error_count
            bar.update_view()

    def action_show_errors(self) -> None:
        """Open the list of recent errors and warnings (E, or a click on the count)."""
        from .screens.errors import ErrorsScreen

        if isinstance(self.screen, ErrorsScreen):
            return
        entries = self._recent.entries(since=self._entries_before)
        self.push_screen(ErrorsScreen(entries, str(logfile.log_file())))

    # ---- the user's keymap ---------------------------------------------------------------------

    def _load_keymap(self) -> None:
        """Apply keymap.toml (see :mod:`simjobs.app.keymap`); one warning if it is bad."""
        from .keymap import keymap_path

        path = keymap_path()
        if not path.exists():
            return
        from .keymap import binding_ids, load_keymap

        keymap, warning = load_keymap(path, binding_ids(self.binding_classes()))
        if warning:
            self.notify(warning, title="Keymap", severity="warning", timeout=10)
        if keymap:
            self.user_keymap = keymap
            self.set_keymap(keymap)

    def binding_classes(self) -> list[type]:
        """Every class whose bindings the app's screens use (their ids are what a keymap
        may name)."""
        # Imported here, only when a keymap is read: starting the app loads none of them.
        from .screens.detail import JobDetailScreen
        from .screens.errors import ErrorsScreen
        from .screens.export import ExportScreen
        from .screens.log_view import SimulationsLogScreen
        from .screens.submit import SubmitScreen

        return [type(self), MainScreen, JobTable, HelpScreen, ConfirmScreen, ErrorsScreen,
                SubmitScreen, SimulationsLogScreen, ExportScreen, JobDetailScreen]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A background task that failed unexpectedly says so, in one line."""
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{event.worker.name or 'a background task'} failed: "
                        f"{type(error).__name__}: {error}", title="Error", severity="error",
                        timeout=10)

    # ---- app-wide actions ------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        keymap = self.user_keymap
        sections = [
            ("Jobs (main screen)", key_rows(MainScreen, keymap=keymap)),
            ("Moving in the table", key_rows(JobTable, keymap=keymap)),
            ("Everywhere", key_rows(type(self), keymap=keymap)
             + [("ctrl+p", "Command palette: submit, cancel, log view, export, theme, ...")]),
            ("Filter bar", [("enter", "Keep the filter, back to the table"),
                            ("esc", "Back to the table; esc again clears all filters")]),
        ]
        self.push_screen(HelpScreen(sections, log_file=str(logfile.log_file())))

    async def action_quit(self) -> None:
        question = None
        if self.backend is not None and not self.backend.readonly:  # our own manager
            question = quit_question(self.model, self.backend.interfaces())
        if question is None:
            self.exit()
            return

        def answered(yes: Optional[bool]) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(*question, yes="Quit", no="Stay"), answered)

    def _main_action(self, action: str) -> None:
        if self.main_screen is None:
            return
        while self.screen is not self.main_screen and len(self.screen_stack) > 1:
            self.pop_screen()
        getattr(self.main_screen, f"action_{action}")()

    def _export(self) -> None:
        from simjobs.app.screens.log_view import SimulationsLogScreen  # (when first used)

        screen = SimulationsLogScreen(self.backend, self.model)
        self.push_screen(screen)
        self.call_after_refresh(screen.action_export)

    def _set_theme(self, name: str) -> None:
        self.theme = name

    def action_login_again(self) -> None:
        """Let the interfaces whose interactive login failed ask again (simjobs.core.login)."""
        retry_logins()
        self.notify("Interfaces whose login failed ask again at their next poll.",
                    title="Log in again")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            ("Submit jobs", "Submit inputs at a level (s)", "submit"),
            ("Cancel jobs", "Cancel the highlighted or marked jobs (c)", "cancel"),
            ("Resubmit jobs", "Resubmit the highlighted or marked failed/cancelled jobs (r)",
             "resubmit"),
            ("Simulations log view", "Every record, summaries per level, plot (l)", "log_view"),
            ("Toggle hide finished", "Hide or show jobs that have ended (h)", "toggle_finished"),
            ("Filter jobs", "Filter the table by text (/)", "filter"),
            ("Sort by next column", "Cycle the sort column (o)", "cycle_sort"),
        ]
        for title, help_text, action in commands:
            yield SystemCommand(title, help_text, lambda a=action: self._main_action(a))
        yield SystemCommand("Export the log", "Export the filtered log view to CSV or JSON",
                            self._export)
        yield SystemCommand("Log in again", "Interfaces whose interactive login failed ask "
                            "again at their next poll (L)", self.action_login_again)
        for name in sorted(self.available_themes):
            if name.startswith("simjobs"):
                yield SystemCommand(f"Theme: {name}", f"Switch to the {name} theme",
                                    lambda n=name: self._set_theme(n))


def default_css_path() -> Path:
    return Path(__file__).with_name("app.tcss")
