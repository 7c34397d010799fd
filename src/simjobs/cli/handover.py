"""Acting on jobs: hand the request to the process managing the log, or act with a
JobManager of our own and wait until the hardware has the jobs."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..core.command import hint
from ..core.control import RequestInterrupted, hand_over, settled_holder
from ..core.errors import LogLockedError
from ..core.events import Event, JobEvent
from ..core.login import InteractiveLoginError, on_login_failure
from ..core.manager import JobManager
from ..core.types import JobStatus
from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, CliError
from .logs import check_log_file
from .login import terminal_login
from .output import note

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config


@contextlib.contextmanager
def own_manager(config: Config, unfinished: Optional[set[str]] = None) -> Iterator[JobManager]:
    """A JobManager of this process on the config's log, shut down on exit. A host
    that asks for a login (a one-time code) asks on the terminal, if there is one
    (:mod:`.login`).

    ``unfinished``, when given, receives the ids of the log's jobs that had not ended
    when the manager took over (the ones it resumes among them)."""
    with terminal_login() as prompter:
        with _own_manager(config, unfinished) as manager:
            try:
                yield manager
            finally:
                # Before the manager's shutdown, which waits for its calls: one may be
                # waiting for an answer nobody will type now (Ctrl-C at the question).
                if prompter is not None:
                    prompter.stop()


@contextlib.contextmanager
def _own_manager(config: Config, unfinished: Optional[set[str]]) -> Iterator[JobManager]:
    if os.path.lexists(config.log_path):
        check_log_file(config.log_path)
    log = config.open_log()
    try:
        if unfinished is not None:
            unfinished.update(str(job.id) for job in log.get_non_terminated_jobs())
        manager = JobManager(log, config.build_interfaces(), polling_interval=config.polling_interval)
    except BaseException:
        log.close()
        raise
    failed = False
    try:
        yield manager
    except BaseException:
        failed = True
        raise
    finally:
        try:
            manager.shutdown()
        finally:
            try:
                log.close()
            except Exception:  # noqa: BLE001
                # Closing meets the same trouble (a full disk) that stopped the command:
                # the error that stopped it is the one to report, not this echo of it.
                if not failed:
                    raise



def hand_over_or_act(
    config: Config, request: dict, act: Callable[[JobManager], dict], timeout: float
) -> tuple[dict, Optional[dict]]:
    """Hand ``request`` to the log's manager (:func:`~simjobs.core.control.hand_over`),
    or, when none runs, ``act`` with our own. Fails at once when a process that runs no
    manager holds the log.

    Returns the response and the manager's holder record (None when we acted).
    """
    holder = settled_holder(config.log_path)
    if holder is None:
        try:
            with own_manager(config) as manager:
                return act(manager), None
        except LogLockedError:
            holder = settled_holder(config.log_path)  # another process took the log meanwhile
            if holder is None:
                raise
    try:
        return hand_over(config.log_path, request, timeout, holder=holder), holder
    except RequestInterrupted as exc:
        raise CliError(str(exc), EXIT_INTERRUPTED) from None



class JobWatch:
    """The latest status of each job, from a manager's events (subscribe before acting).

    Waiting for submission uses these events, not JobManager.wait_until_submitted:
    that one is woken only when jobs end, so it returned only after the next poll.
    """

    def __init__(self, manager: JobManager):
        self._cond = threading.Condition()
        self._status: dict[str, JobStatus] = {}
        #: Why waiting is pointless: an interactive login failed (no new one is tried).
        self.login_failure: Optional[str] = None
        self._unsubscribe = manager.subscribe(self._on_event)
        self._unlisten = on_login_failure(self._on_login_failure)

    def _on_login_failure(self, error: InteractiveLoginError) -> None:
        with self._cond:
            self.login_failure = self.login_failure or str(error)
            self._cond.notify_all()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobEvent):
            with self._cond:
                self._status[str(event.job_id)] = event.new_status
                self._cond.notify_all()

    def status(self, job_id: str) -> Optional[JobStatus]:
        with self._cond:
            return self._status.get(job_id)

    def wait(self, job_ids: Sequence[str], done: Callable[[Optional[JobStatus]], bool],
             timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self.login_failure is not None
                or all(done(self._status.get(j)) for j in job_ids), timeout)

    def check_login(self) -> None:
        """Raise CliError (one line) when an interactive login failed while waiting: no
        terminal to ask on, a refused code. The jobs stay as the log has them."""
        if self.login_failure is not None:
            raise CliError(self.login_failure, EXIT_FAILURE)

    def __enter__(self) -> "JobWatch":
        return self

    def __exit__(self, *exc) -> None:
        self._unsubscribe()
        self._unlisten()



def _submitted(status: Optional[JobStatus]) -> bool:
    return status is not None and status is not JobStatus.PENDING_SUBMIT



def wait_submitted(watch: JobWatch, ids: list[str], timeout: float) -> list[str]:
    """Wait until the hardware has every job; the ids still pending submission.

    Raises
    ------
    CliError
        At once, when an interactive login failed (no terminal to ask on, a refused code).
    """
    watch.wait(ids, _submitted, timeout)
    watch.check_login()
    return [j for j in ids if not _submitted(watch.status(j))]



def not_managed_note(log_path: Path) -> None:
    note(f"note: no manager runs on {log_path.name}: the jobs run, but their results "
          f"are recorded (and jobs waiting for a free slot start) only while one does; "
          f"start it with '{hint('run')}'")
