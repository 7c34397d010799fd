"""``simjobs run``: manage the log with the live table (or JSON lines) until done or
interrupted; the demo's headless run too."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Optional

from rich.console import Console

from ..core.command import hint
from ..core.control import plain_writer_text, settled_holder
from ..core.errors import LogLockedError
from ..core.events import Event, JobEvent
from ..core.lock import holder_text
from ..core.login import InteractiveLoginError, login_prompter, on_login_failure
from ..core.manager import JobManager
from ..core.records import LogRecord
from ..core.types import JobStatus
from ..export import record_json
from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, CliError
from .handover import own_manager
from .login import TerminalPrompter
from .logs import command_config
from .output import note, stdout_console

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config


def cmd_run(args: argparse.Namespace) -> int:
    return headless_run(command_config(args), until_done=args.until_done,
                        view=_JsonEvents if args.json else None)



def event_to_json(event: Event) -> dict:
    """One event as a JSON object (a line of ``simjobs run --json``): ``"event"`` is
    "job" or "interface"; the other keys are those of ``simjobs status --json``
    (:func:`simjobs.export.record_json`) where they overlap: a job event's ``status`` is its new
    status and ``changed`` its time, in the same form."""
    if isinstance(event, JobEvent):
        # Through record_json itself, so that the shared keys keep its names and
        # forms (times included) whatever they become.
        as_record = record_json(LogRecord(
            str(event.job_id), (), event.output, event.new_status, event.level,
            event.interface_name or "", None, event.time, event.reason))
        shared = ("job_id", "status", "level", "interface_name", "output", "changed", "reason")
        return {"event": "job", "old_status": event.old_status.value if event.old_status else None,
                **{key: as_record[key] for key in shared}}
    as_record = record_json(LogRecord("", (), None, JobStatus.PENDING_SUBMIT, 0,
                                         event.interface_name, None, event.time))
    return {"event": "interface", "interface_name": as_record["interface_name"],
            "old_state": event.old_state, "state": event.state, "message": event.message,
            "changed": as_record["changed"]}



class _JsonEvents:
    """``simjobs run --json``'s view: each event of the manager as one JSON line on
    stdout (flushed, so a reader sees it at once), instead of the live table."""

    def __init__(self, manager: JobManager, console, title, resumed=()) -> None:
        self._manager = manager
        self._lock = threading.Lock()

    def _write(self, event: Event) -> None:
        line = json.dumps(event_to_json(event))
        with self._lock:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                pass  # the reader went away; the manager goes on and so does the log

    def __enter__(self) -> "_JsonEvents":
        # Never unsubscribed: the manager's shutdown (which follows the exit) delivers
        # the events published until then, so the last lines are not lost.
        self._manager.subscribe(self._write)
        return self

    def __exit__(self, *exc) -> None:
        pass



@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a run like Ctrl-C does: a clean shutdown."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            previous[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)



def headless_run(
    config: Config,
    until_done: bool = False,
    *,
    prepare: Optional[Callable[[JobManager], None]] = None,
    console: Optional[Console] = None,
    title: str = "simjobs",
    view: Optional[Callable[..., Any]] = None,
) -> int:
    """Manage the config's log with the live progress table until every job has ended
    (``until_done``) or until interrupted (Ctrl-C, SIGTERM). Jobs still running at an
    interrupt keep running and are resumed by the next start. A failed interactive login
    (no terminal, a refused code, no answer in time) ends the run with its one line
    (:class:`~simjobs.cli.errors.CliError`): the next start asks again.

    ``prepare(manager)`` runs once the table shows (the demo submits its jobs there).
    ``view``: what shows the manager's progress, called as ``view(manager, console,
    title, resumed=ids)`` and entered as a context manager (default: the live table,
    :class:`~simjobs.cli.progress.ProgressView`).
    """
    holder = settled_holder(config.log_path)
    if holder is not None and not holder.get("manager"):
        raise CliError(plain_writer_text(config.log_path, holder), EXIT_FAILURE)
    if holder is not None:
        raise LogLockedError(
            f"{config.log_path.name} is already managed by {holder_text(holder)}; "
            f"stop that process first, or use '{hint('submit/cancel/resubmit')}', which hand "
            "requests to it", holder=holder)
    console = console or stdout_console()
    interrupted = False
    unfinished: set[str] = set()  # the jobs this run resumes count as its own
    # A failed interactive login ends the run at once, with its one line: nobody here
    # can answer (no terminal), or the server refused the code, or no one answered in
    # time. The CLI never asks again by itself (no retries into a lockout), so that
    # interface would stay dead for the life of the process and --until-done would wait
    # for ever; starting the command again asks again. Listened to before the first poll.
    wake = threading.Event()
    unanswered: list[str] = []
    def login_failed(error: InteractiveLoginError) -> None:
        unanswered.append(str(error))
        wake.set()

    stop_listening = on_login_failure(login_failed)
    with _signals_interrupt():
        try:
            if view is None:
                from .progress import ProgressView as view

            with own_manager(config, unfinished) as manager:
                shown = view(manager, console, title, resumed=unfinished)
                prompter = login_prompter()
                if isinstance(prompter, TerminalPrompter) and hasattr(shown, "paused"):
                    prompter.pause_with(shown.paused)  # no redraws over a login question
                with shown:
                    if prepare is not None:
                        prepare(manager)
                    if until_done:
                        threading.Thread(target=lambda: (manager.wait_until_done(), wake.set()),
                                         name="simjobs-run-until-done", daemon=True).start()
                    wake.wait()
                    if unanswered:
                        raise CliError(unanswered[0], EXIT_FAILURE)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            stop_listening()
    if interrupted:
        note("stopped: jobs still running keep running and are resumed at the next start")
        return EXIT_INTERRUPTED if until_done else EXIT_OK
    return EXIT_OK
