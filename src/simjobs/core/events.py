"""Events the JobManager publishes, and the thread that delivers them to subscribers."""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from collections.abc import Callable
from typing import Optional, Union

from .types import JobId, JobStatus

logger = logging.getLogger("simjobs")


@dataclasses.dataclass(frozen=True, slots=True)
class JobEvent:
    """A job changed status. ``old_status`` is None for a job just created."""

    job_id: JobId
    old_status: Optional[JobStatus]
    new_status: JobStatus
    level: int
    interface_name: Optional[str]
    output: Optional[float]
    time: float
    reason: Optional[str] = None


@dataclasses.dataclass(frozen=True, slots=True)
class InterfaceHealthEvent:
    """An interface's health changed (``state`` is "ok", "degraded" or "unreachable")."""

    interface_name: str
    old_state: str
    state: str
    message: str
    time: float


Event = Union[JobEvent, InterfaceHealthEvent]
Subscriber = Callable[[Event], None]


class EventBus:
    """Delivers events to subscribers from its own daemon thread.

    Publishing never blocks: events go into an unbounded queue, so a slow subscriber
    delays only other subscribers, never the manager. A subscriber that raises is
    logged and keeps its subscription.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._queue: "queue.SimpleQueue[Optional[Event]]" = queue.SimpleQueue()
        self._thread: Optional[threading.Thread] = None
        self._idle = threading.Condition()
        self._pending = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        with self._lock:
            self._subscribers.append(callback)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="simjobs-events", daemon=True
                )
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def publish(self, events: list[Event]) -> None:
        if not events or not self._subscribers:
            return
        with self._idle:
            self._pending += len(events)
        for event in events:
            self._queue.put(event)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Wait until every published event has been delivered."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            with self._lock:
                subscribers = list(self._subscribers)
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:  # noqa: BLE001 - a subscriber's bug must not stop delivery
                    logger.exception("simjobs event subscriber %r failed", callback)
            with self._idle:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()
