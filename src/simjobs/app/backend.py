"""The app's only way into the core.

Two implementations of one small interface:

- :class:`ManagedBackend` owns a JobManager (built from a Config, or from a log and
  interfaces in tests); the manager's threads do the monitoring, off the UI loop.
- :class:`WatchBackend` reads a log another process manages. A backend thread refreshes
  the log (two ``stat`` calls when nothing changed) and turns what changed into the same
  JobEvents the manager publishes. Submit/cancel/resubmit are handed to the running
  manager through the log's inbox (core/control.py), or refused with a message naming
  who holds the log. It never takes the log's writer lock.

Every method marked *blocking* must be called from a thread worker, never from the UI
loop.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from ..core.command import hint
from ..core.control import NoManagerError, hand_over, hand_over_refusal
from ..core.errors import HardwareUnreachableError, SimjobsError
from ..core.events import Event, EventBus, InterfaceHealthEvent, JobEvent
from ..core.hardware import HardwareInterface
from ..core.interface_stats import read_interface_stats, stats_path
from ..core.lock import LogLock, holder_text
from ..core.login import (  # noqa: F401 - the app's login screen takes them from here
    LoginCancelled,
    LoginChallenge,
    on_login_failure,
    retry_logins,
    set_login_prompter,
)
from ..core.log import SimulationsLog, StatusChanges
from ..core.manager import CancelResult, JobManager
from ..core.records import LogRecord
from ..core.types import TERMINAL_STATUSES, Input, Job, JobId, JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

Clock = Callable[[], float]
JobIdLike = Union[str, int, JobId]

#: Seconds between two refreshes of a watched log (each is two ``stat`` calls when
#: nothing changed).
WATCH_INTERVAL = 0.25
#: Seconds between two looks at who holds a watched log when its manager's interface
#: stats file has not changed (a manager that ended leaves a stale file behind).
HOLDER_INTERVAL = 2.0


@dataclasses.dataclass
class InterfaceInfo:
    """What the load panels show about an interface that does not change by itself."""

    name: str
    level: int
    kind: str = "?"
    host: str = ""
    max_jobs: Optional[int] = None
    health: str = "ok"
    health_message: str = ""
    health_since: Optional[float] = None


class Backend:
    """The interface the app talks to (``app.backend``); see the module docstring."""

    #: "managed" or "watch"
    mode: str = "managed"
    log_path: Path
    input_dim: Optional[int]
    clock: Clock

    # ---- what the log is and who may change it ---------------------------------------

    @property
    def readonly(self) -> bool:
        """True when submit/cancel/resubmit cannot be done (watch mode, no manager)."""
        return False

    @property
    def readonly_reason(self) -> str:
        """Why the app is read-only, naming who holds the log ("" when it is not)."""
        return ""

    def manager_state(self, short: bool = False) -> str:
        """One line for the status bar: who manages the log (``short``: a form that
        fits beside the log's path at 80 columns)."""
        raise NotImplementedError

    def running_count(self) -> int:
        """Jobs that this app's own manager still tracks (0 when it owns none)."""
        return 0

    # ---- reading ---------------------------------------------------------------------

    def levels(self) -> dict[int, list[str]]:
        """The levels that have interfaces -> the names of those interfaces."""
        raise NotImplementedError

    def interfaces(self) -> list[InterfaceInfo]:
        """Every interface (configured, or seen in the log when watching)."""
        raise NotImplementedError

    def interface_stats(self) -> dict[str, dict[str, Any]]:
        """Per interface: health and last poll latency (*blocking*: may call describe())."""
        return {}

    def records(self) -> list[LogRecord]:
        """A snapshot of every record, in the order they were added (copies)."""
        raise NotImplementedError

    def get_record(self, job_id: JobIdLike) -> Optional[LogRecord]:
        raise NotImplementedError

    def get_records(self, job_ids: Iterable[JobIdLike], live: bool = False) -> list[LogRecord]:
        """Copies of these jobs' records as the log holds them now, in this order (ids
        not in the log left out): what :meth:`get_record` gives for each, in one call
        (one lock, one pass; the app reads a batch of changed jobs so). ``live``: the
        log's own objects, as :meth:`live_records` gives them (the app's model keeps
        those: no second copy of each job's record in a 100,000-job campaign)."""
        return self._log().records(list(job_ids), live=live)

    def live_records(self) -> list[LogRecord]:
        """Every record *without copying* (the fast first load of a big log): strictly
        read-only, and fields may change underneath as jobs change (events follow)."""
        return self._log().records(live=True)

    # ---- acting (all blocking) -------------------------------------------------------

    def submit(self, inputs: Sequence[Input], level: int) -> list[JobId]:
        raise NotImplementedError

    def cancel(self, job_ids: Iterable[JobIdLike]) -> CancelResult:
        raise NotImplementedError

    def resubmit(self, job_ids: Iterable[JobIdLike], again: bool = False) -> list[JobId]:
        """Resubmit jobs; ``again`` also those already resubmitted (else refused)."""
        raise NotImplementedError

    def job_details(self, job_id: JobIdLike) -> dict:
        """Where the job runs and the tails of its output (*blocking*, maybe remote)."""
        raise NotImplementedError

    # ---- events and life cycle -------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` (on a backend thread) for every JobEvent and
        InterfaceHealthEvent; returns a function that unsubscribes."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the backend's threads (a manager's jobs go on and resume next start)."""

    # ---- shared helpers --------------------------------------------------------------

    def _log(self) -> SimulationsLog:
        raise NotImplementedError

    def _snapshot(self) -> list[LogRecord]:
        # Copies of the records, made cheaply: the app never writes them, and a copy per
        # record keeps the manager's threads free to change the originals meanwhile.
        # (No refresh of a watched log here either: see _get.)
        return self._log().records()

    def _get(self, job_id: JobIdLike) -> Optional[LogRecord]:
        # Read as the log holds it now, without refreshing a watched log: only the watch
        # thread refreshes it, so that every change it loads is also published as an
        # event (a refresh here would load changes that no event ever announces).
        found = self._log().records([job_id])
        return found[0] if found else None


class ManagedBackend(Backend):
    """A backend that owns a JobManager on the log.

    Parameters
    ----------
    log : SimulationsLog
        The log, opened for writing by this process.
    interfaces : list[HardwareInterface]
        The interfaces the manager drives.
    polling_interval : float
        Seconds between two status polls of an interface.
    clock : callable, optional
        "Now" for the app's elapsed times (fixed in tests), by default time.time.
    """

    mode = "managed"

    def __init__(self, log: SimulationsLog, interfaces: list[HardwareInterface], *,
                 polling_interval: float = 10, clock: Clock = time.time):
        self.log_path = Path(log.path)
        self.input_dim = log.input_dim
        self.clock = clock
        self._simulations_log = log
        self._infos = {
            i.name: InterfaceInfo(i.name, i.level, **_describe(i)) for i in interfaces
        }
        self._bus = EventBus()
        self.manager = JobManager(log, interfaces, polling_interval=polling_interval)
        # Forward the manager's events through our own bus: health is noted here first,
        # so that interfaces() is current when a subscriber hears of a change.
        self._unsubscribe = self.manager.subscribe(self._forward)
        for name, health in self.manager.interface_health().items():
            info = self._infos[name]
            info.health, info.health_message = health.state, health.message
            info.health_since = health.since

    @classmethod
    def from_config(cls, config: "Config", *, clock: Clock = time.time) -> "ManagedBackend":
        """Open the config's log and start a manager on it.

        Raises
        ------
        LogLockedError
            If another process manages (or writes) the log: use :func:`open_backend`,
            which then watches instead.
        """
        interfaces = config.build_interfaces()
        log = config.open_log()
        if not log.is_writer:
            holder = log.holder() or {}
            log.close()
            from ..core.errors import LogLockedError

            raise LogLockedError(
                f"{config.log_path.name} is held by {holder_text(holder)}", holder=holder)
        try:
            return cls(log, interfaces, polling_interval=config.polling_interval, clock=clock)
        except BaseException:
            log.close()
            raise

    def _forward(self, event: Event) -> None:
        info = self._infos.get(getattr(event, "interface_name", None) or "")
        if info is not None and not isinstance(event, JobEvent):
            info.health, info.health_message, info.health_since = (
                event.state, event.message, event.time)
        self._bus.publish([event])

    def _log(self) -> SimulationsLog:
        return self._simulations_log

    def manager_state(self, short: bool = False) -> str:
        if not self.manager.is_running:
            return "manager stopped"
        # (the job counts are the status bar's second line, from the app's one model)
        return "managed by this app"

    def running_count(self) -> int:
        return sum(self.manager.interface_job_counts.values())

    def levels(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for interface in self.manager.interfaces:
            out.setdefault(interface.level, []).append(interface.name)
        return dict(sorted(out.items()))

    def interfaces(self) -> list[InterfaceInfo]:
        return list(self._infos.values())

    def interface_stats(self) -> dict[str, dict[str, Any]]:
        return self.manager.interface_stats()

    def records(self) -> list[LogRecord]:
        return self._snapshot()

    def get_record(self, job_id: JobIdLike) -> Optional[LogRecord]:
        return self._get(job_id)

    def submit(self, inputs: Sequence[Input], level: int) -> list[JobId]:
        return [job.id for job in self.manager.submit_many(list(inputs), level)]

    def cancel(self, job_ids: Iterable[JobIdLike]) -> CancelResult:
        return self.manager.cancel_many(list(job_ids))

    def resubmit(self, job_ids: Iterable[JobIdLike], again: bool = False) -> list[JobId]:
        return [job.id for job in self.manager.resubmit(list(job_ids), again=again)]

    def job_details(self, job_id: JobIdLike) -> dict:
        record = self._get(job_id)
        if record is None:
            return {}
        details: dict = {}
        info = self._infos.get(record.interface_name)
        if info is not None:
            details.update(kind=info.kind, host=info.host)
            if info.health not in ("ok", "unknown") and info.health_message:
                # The whole cause (the load panel shows a short one).
                details["health"] = f"{info.health}: {info.health_message}"
            try:
                interface = self.manager.get_interface(record.interface_name)
                details.update(interface.job_details(JobId(record.job_id)))
            except Exception as exc:  # noqa: BLE001 - shown, not raised, in the detail view
                details["error"] = f"could not ask {record.interface_name}: {exc}"
                details["unreachable"] = isinstance(exc, HardwareUnreachableError)
        return details

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self._bus.subscribe(callback)

    def wait_idle(self, timeout: float = 10) -> bool:
        """Wait until every event so far has been delivered (tests)."""
        return self.manager.wait_events_delivered(timeout) and self._bus.wait_idle(timeout)

    def close(self) -> None:
        self._unsubscribe()
        self.manager.shutdown()
        self._bus.close()
        self._simulations_log.close()


def _describe(interface: HardwareInterface) -> dict:
    try:
        desc = interface.describe()
    except Exception:  # noqa: BLE001 - a description is a courtesy
        desc = {}
    return {
        "kind": str(desc.get("kind") or getattr(interface, "kind", "?") or "?"),
        "host": str(desc.get("host") or ""),
        "max_jobs": desc.get("max_jobs", interface.max_jobs),
    }


class WatchBackend(Backend):
    """A read-only view of a log another process manages (never takes its lock).

    Parameters
    ----------
    log_path : path
        The log to watch.
    input_dim : int, optional
        Read from the file when not given.
    interval : float
        Seconds between two refreshes of the log by the backend thread.
    clock : callable, optional
        "Now" for the app's elapsed times.
    interfaces : list[InterfaceInfo], optional
        What is known about the interfaces (from a config); otherwise they are learnt
        from the records (names and levels only).
    """

    mode = "watch"

    def __init__(self, log_path: Union[str, os.PathLike], input_dim: Optional[int] = None,
                 *, interval: float = WATCH_INTERVAL, clock: Clock = time.time,
                 interfaces: Optional[list[InterfaceInfo]] = None,
                 request_timeout: float = 10.0):
        path = Path(log_path).expanduser()
        if not path.exists():
            raise SimjobsError(
                f"{path}: no such simulations log; check the path given to --watch")
        self.log_path = path.resolve()
        self._simulations_log = SimulationsLog.open(self.log_path, input_dim, readonly=True)
        self.input_dim = self._simulations_log.input_dim
        self.clock = clock
        self.interval = interval
        self.request_timeout = request_timeout
        self._configured = {i.name: i for i in (interfaces or [])}
        self._bus = EventBus()
        self._stop = threading.Event()
        self._changes: Optional[StatusChanges] = None  # see _take_baseline
        self._stats_seen: Optional[tuple] = None  # the stats file's (holder, stat) read last
        self._stats_checked = float("-inf")
        self._poll_stats: dict[str, dict[str, Any]] = {}
        self._from_manager: set[str] = set()  # interfaces whose health the manager told
        # Interfaces: the configured ones, then those the log names (learnt as it grows).
        self._infos: dict[str, InterfaceInfo] = dict(self._configured)
        seen = {(r.interface_name, r.level)
                for r in self._simulations_log.records(live=True)}
        for name, level in sorted(seen, key=lambda nl: (nl[1], nl[0])):
            self._learn_interface(name, level)
        self.check_interfaces()  # capacity and health before the first paint
        self._thread = threading.Thread(target=self._watch, name="simjobs-watch", daemon=True)
        self._thread.start()

    def _log(self) -> SimulationsLog:
        return self._simulations_log

    # ---- who holds the log -----------------------------------------------------------

    def holder(self) -> Optional[dict]:
        return LogLock.holder(self.log_path)

    @property
    def readonly(self) -> bool:
        return bool(self.readonly_reason)

    @property
    def readonly_reason(self) -> str:
        holder = self.holder()
        if holder is None:
            name = self.log_path.name
            return (f"read-only: no process manages {name}; start '{hint('app --config FILE')}'"
                    f" or '{hint('run')}' on it to submit or cancel")
        refusal = hand_over_refusal(self.log_path, holder)
        return f"read-only: {refusal}" if refusal else ""

    def manager_state(self, short: bool = False) -> str:
        # ``short``: a form for a narrow status bar (80 columns with the log's path);
        # the whole reason of a refusal is in the notice that read-only keys give.
        holder = self.holder()
        if holder is None:
            return "watching, read-only: no manager" if short else \
                "watching, read-only: nobody manages this log"
        if not holder.get("manager"):
            if short:
                return f"read-only: pid {holder.get('pid', '?')} holds it, no manager"
            return f"watching, read-only: held by {holder_text(holder)} (no manager)"
        refusal = hand_over_refusal(self.log_path, holder)
        if refusal:
            return "watching, read-only" if short else f"watching, read-only: {refusal}"
        if short:
            return f"watching · manager pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
        return f"watching; requests go to the manager, {holder_text(holder)}"

    # ---- reading ---------------------------------------------------------------------

    def levels(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for info in self.interfaces():
            out.setdefault(info.level, []).append(info.name)
        return dict(sorted(out.items()))

    def interfaces(self) -> list[InterfaceInfo]:
        return list(self._infos.values())

    def _learn_interface(self, name: str, level: int) -> None:
        if name and name not in self._infos:
            # Only its manager knows its health: not claimed "ok" from here.
            self._infos[name] = InterfaceInfo(name, level, health="unknown")

    def interface_stats(self) -> dict[str, dict[str, Any]]:
        """Each interface's last poll latency, as its manager last wrote it (not
        blocking: read by the watch thread, see :meth:`check_interfaces`)."""
        return {name: dict(s) for name, s in self._poll_stats.items()}

    def check_interfaces(self, force: bool = False) -> int:
        """Learn capacity, kind, host, health and poll latency of each interface from
        the stats file the log's manager writes beside it
        (:mod:`simjobs.core.interface_stats`), when that file or the log's holder
        changed; publish an InterfaceHealthEvent per health change and return how many.
        A missing, foreign, garbled or stale file (its manager ended) makes the health
        "unknown" again, as it is: only a manager knows it."""
        stats = self._changed_stats(force)
        if stats is None:
            return 0
        events: list[Event] = []
        poll: dict[str, dict[str, Any]] = {}
        for name, s in stats.items():
            events += self._learn_from_stats(name, s)
            seconds = s.get("last_poll_seconds")
            poll[name] = {"last_poll_seconds": seconds if isinstance(seconds, (int, float))
                          else None, "last_poll_time": s.get("last_poll_time")}
        for name in self._from_manager - set(stats):  # nobody tells any more
            self._from_manager.discard(name)
            poll[name] = {"last_poll_seconds": None, "last_poll_time": None}
            events += self._set_health(self._infos[name], "unknown", "", time.time())
        self._poll_stats = poll
        if events:
            self._bus.publish(events)
        return len(events)

    def _changed_stats(self, force: bool) -> Optional[dict[str, dict[str, Any]]]:
        """The stats file's interfaces ({} when no manager tells), or None when neither
        the file nor the log's holder changed since the last look (the holder is looked
        at every HOLDER_INTERVAL at most while the file stays the same)."""
        now = time.monotonic()
        try:
            st = os.stat(stats_path(self.log_path), follow_symlinks=False)
            signature: Optional[tuple] = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            signature = None
        if not force and self._stats_seen is not None and \
                self._stats_seen[1] == signature and now - self._stats_checked < HOLDER_INTERVAL:
            return None
        self._stats_checked = now
        holder = self.holder()
        key = ((holder or {}).get("pid"), (holder or {}).get("since"))
        if not force and self._stats_seen == (key, signature):
            return None
        self._stats_seen = (key, signature)
        if holder and holder.get("manager") and signature:
            return read_interface_stats(self.log_path, holder)
        return {}

    def _learn_from_stats(self, name: str, s: dict[str, Any]) -> list[Event]:
        """Take what the stats file says of interface ``name`` (fields of the wrong
        type are ignored); the health events of a change of its health."""
        level = s.get("level")
        self._learn_interface(name, level if isinstance(level, int) else 0)
        info = self._infos[name]
        for field in ("kind", "host"):
            if isinstance(s.get(field), str) and s[field]:
                setattr(info, field, s[field])
        if isinstance(s.get("max_jobs"), int) and s["max_jobs"] > 0:
            info.max_jobs = s["max_jobs"]
        state, message = s.get("health"), s.get("health_message") or ""
        if not (isinstance(state, str) and state):
            return []
        since = s.get("health_since")
        since = since if isinstance(since, (int, float)) else time.time()
        self._from_manager.add(name)
        return self._set_health(info, state, str(message), since)

    @staticmethod
    def _set_health(info: InterfaceInfo, state: str, message: str, since: float) -> list[Event]:
        if (info.health, info.health_message) == (state, message):
            return []
        old = info.health
        info.health, info.health_message, info.health_since = state, message, since
        return [InterfaceHealthEvent(info.name, old, state, message, since)]

    def records(self) -> list[LogRecord]:
        return self._snapshot()

    def get_record(self, job_id: JobIdLike) -> Optional[LogRecord]:
        return self._get(job_id)

    # ---- acting: handed to the manager -----------------------------------------------

    def _request(self, request: dict) -> dict:
        reason = self.readonly_reason
        if reason:
            raise SimjobsError(reason)
        try:
            return hand_over(self.log_path, request, timeout=self.request_timeout)
        except NoManagerError:
            raise SimjobsError(self.readonly_reason or "the log's manager has gone") from None

    def submit(self, inputs: Sequence[Input], level: int) -> list[JobId]:
        response = self._request({"op": "submit", "level": int(level),
                                  "inputs": [list(map(float, x)) for x in inputs]})
        return [JobId(j) for j in response["job_ids"]]

    def cancel(self, job_ids: Iterable[JobIdLike]) -> CancelResult:
        response = self._request({"op": "cancel", "job_ids": [str(j) for j in job_ids]})
        cancelled = []
        for job_id in response.get("cancelled", []):
            record = self._get(job_id)
            cancelled.append(record.to_job() if record is not None else Job(job_id, Input(0)))
        skipped = {JobId(k): JobStatus(v) for k, v in response.get("skipped", {}).items()}
        return CancelResult(cancelled, skipped)

    def resubmit(self, job_ids: Iterable[JobIdLike], again: bool = False) -> list[JobId]:
        response = self._request({"op": "resubmit", "job_ids": [str(j) for j in job_ids],
                                  "again": again})
        return [JobId(j) for j in response["job_ids"]]

    def job_details(self, job_id: JobIdLike) -> dict:
        # No interface objects here: what the log says (the detail view shows that).
        record = self._get(job_id)
        if record is None:
            return {}
        info = self._configured.get(record.interface_name)
        details = {"note": "watching: job details come from the log only"}
        if info is not None:
            details.update(kind=info.kind, host=info.host)
        return details

    # ---- events ------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self._bus.subscribe(callback)

    def _take_baseline(self) -> None:
        """What every record is now: changes are told against it. Taken by the watch
        thread before its first refresh (nobody else refreshes the log), off the path
        to the first paint."""
        self._changes = StatusChanges(self._simulations_log)

    def check_now(self) -> int:
        """Refresh the log and publish a JobEvent for each job whose status changed, or
        that is new; returns how many.

        Only statuses are compared: the manager writes an output, a reason or a
        resubmission link together with a status change, and the app reads the whole
        record for each event anyway."""
        if self._changes is None:
            self._take_baseline()
        changed = self._changes.refresh()
        if not changed:
            return 0
        now = self.clock()
        events: list[Event] = []
        for r, old in changed:
            if r.interface_name not in self._infos:
                self._learn_interface(r.interface_name, r.level)
            events.append(JobEvent(
                JobId(r.job_id), old, r.status, r.level, r.interface_name or None,
                r.output, r.changed or now, r.reason))
        self._bus.publish(events)
        return len(events)

    def _watch(self) -> None:
        if self._changes is None:
            self._take_baseline()
        while not self._stop.wait(self.interval):
            try:
                self.check_now()
                self.check_interfaces()
            except Exception:  # noqa: BLE001 - a torn read now is read whole next time
                import logging

                logging.getLogger("simjobs").exception("simjobs: watching the log failed")

    def wait_idle(self, timeout: float = 10) -> bool:
        return self._bus.wait_idle(timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._bus.close()
        self._simulations_log.close()


#: Records a first screen shows while a log opens (the newest; see PeekBackend).
PEEK_RECORDS = 200
#: Logs smaller than this (~20,000 CSV records) open in a fraction of a second: no peek,
#: the whole log shows at once (and keys act on it at once).
PEEK_MIN_BYTES = 2_000_000


class PeekBackend(Backend):
    """What the app shows while the log opens: its newest records (read by
    :func:`~simjobs.core.log.peek_log`, without loading the log) and how many it holds.
    Read-only; :meth:`records` and the acting methods (*blocking*) wait for the real
    backend (:meth:`opened`) and hand over to it, so that nothing is ever shown or done
    from the peek alone as if it were the whole log."""

    mode = "opening"

    def __init__(self, log_path: Union[str, os.PathLike], records: list[LogRecord],
                 total: int, *, interfaces: Optional[list[InterfaceInfo]] = None,
                 clock: Clock = time.time):
        self.log_path = Path(log_path)
        self.input_dim = len(records[0].coords) if records else None
        self.clock = clock
        self.total = total
        self._records = {r.job_id: r for r in records}
        self._infos = {i.name: i for i in (interfaces or [])}
        for r in records:
            if r.interface_name and r.interface_name not in self._infos:
                self._infos[r.interface_name] = InterfaceInfo(r.interface_name, r.level,
                                                              health="unknown")
        self._real: Optional[Backend] = None
        self._ready = threading.Event()

    def opened(self, backend: Backend) -> None:
        """The real backend is open: blocked calls go on with it."""
        self._real = backend
        self._ready.set()

    def _wait(self) -> Backend:
        self._ready.wait()
        assert self._real is not None
        return self._real

    @property
    def readonly(self) -> bool:
        return True

    @property
    def readonly_reason(self) -> str:
        return f"{self.log_path.name} is still opening; try again in a moment"

    def manager_state(self, short: bool = False) -> str:
        return f"opening the log ({self.total:,} records)…"

    def levels(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for info in self._infos.values():
            out.setdefault(info.level, []).append(info.name)
        return dict(sorted(out.items()))

    def interfaces(self) -> list[InterfaceInfo]:
        return list(self._infos.values())

    def live_records(self) -> list[LogRecord]:
        return list(self._records.values())

    def records(self) -> list[LogRecord]:
        return self._wait().records()  # the whole log, never the peek alone

    def get_record(self, job_id: JobIdLike) -> Optional[LogRecord]:
        if self._real is not None:
            return self._real.get_record(job_id)
        record = self._records.get(str(job_id))
        return record.shallow_copy() if record is not None else None

    def get_records(self, job_ids: Iterable[JobIdLike], live: bool = False) -> list[LogRecord]:
        if self._real is not None:
            return self._real.get_records(job_ids, live)
        return [r for r in map(self.get_record, job_ids) if r is not None]

    def submit(self, inputs: Sequence[Input], level: int) -> list[JobId]:
        return self._wait().submit(inputs, level)

    def cancel(self, job_ids: Iterable[JobIdLike]) -> CancelResult:
        return self._wait().cancel(job_ids)

    def resubmit(self, job_ids: Iterable[JobIdLike], again: bool = False) -> list[JobId]:
        return self._wait().resubmit(job_ids, again)

    def job_details(self, job_id: JobIdLike) -> dict:
        return self._wait().job_details(job_id)

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return lambda: None  # nothing changes the peek: the real backend's events follow


def peek_backend(log_path: Union[str, os.PathLike], *,
                 interfaces: Optional[list[InterfaceInfo]] = None,
                 clock: Clock = time.time, n: int = PEEK_RECORDS,
                 min_bytes: int = PEEK_MIN_BYTES) -> Optional[PeekBackend]:
    """A PeekBackend on the newest ``n`` records of the log, or None when the log is
    smaller than ``min_bytes`` or cannot be peeked at (missing, empty, not cheaply
    readable): then it is simply opened."""
    from ..core.log import peek_log

    try:
        if os.path.getsize(log_path) < min_bytes:
            return None
    except OSError:
        return None
    got = peek_log(log_path, n)
    if not got or not got[0]:
        return None
    return PeekBackend(log_path, got[0], got[1], interfaces=interfaces, clock=clock)


def open_backend(config: Optional["Config"] = None, *, watch: Union[str, os.PathLike, None] = None,
                 clock: Clock = time.time) -> Backend:
    """The backend for ``simjobs app``: watch ``watch`` (or the config's log when another
    process holds it), else manage the config's log.

    Raises
    ------
    SimjobsError
        If neither is given, or the log to watch does not exist.
    """
    if watch is not None:
        infos = configured_interfaces(config) if config is not None else None
        return WatchBackend(watch, clock=clock, interfaces=infos)
    if config is None:
        raise SimjobsError("give a config (--config FILE) or a log to watch (--watch LOG)")
    if LogLock.holder(config.log_path) is not None and config.log_path.exists():
        # Another process holds it: never take over, watch it instead.
        return WatchBackend(config.log_path, config.input_dim, clock=clock,
                            interfaces=configured_interfaces(config))
    return ManagedBackend.from_config(config, clock=clock)


def configured_interfaces(config: "Config") -> list[InterfaceInfo]:
    """What the config says about each of its interfaces (health unknown: only the
    log's manager knows it), for a backend that has no interface objects."""
    return [InterfaceInfo(s.name, s.level, s.kind, "localhost" if s.kind == "local" else "",
                          s.effective_max_jobs, health="unknown") for s in config.interfaces]


def terminal(status: JobStatus) -> bool:
    return status in TERMINAL_STATUSES
