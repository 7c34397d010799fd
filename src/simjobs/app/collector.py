"""When the app lets Python's garbage collector scan everything: between keys.

Python's full collection (its oldest generation) looks at every container object of the
process. With a 100,000-job campaign managed by the app that is the manager's records,
the model's copies and rows: one full collection took 330-400 ms, every thread stopped,
and fell on whatever key was being answered (keys of 240-340 ms in the campaign).
Python starts one by an allocation counter, whenever that runs over; once the app's
model is loaded :class:`FullCollections` takes that decision instead: the counter still
says when one is due, and it is made on the app's 1 s tick once no key came for :data:`QUIET`
seconds (or :data:`LONGEST` seconds after the last at the latest, so that garbage in
reference cycles is never kept for long). The young generations are collected by Python
as before (a millisecond or less each).

The C heap the app's threads allocate from is the other half of its memory: glibc's
malloc gives every thread that allocates its own arena (up to 8 per core), and each keeps
what was freed in it for that thread alone. The app has ~10 threads (its reader, the
manager's workers, event bus, thread workers) that each build and drop lists, dict tables
and numpy arrays of 100,000 entries in a campaign; measured with ``bench/tui.py
--campaign 100000``, two arenas for all of them (:func:`limit_malloc_arenas`) took the
peak from 333-335 MB to 298-312 MB, with the same key latencies. After a full collection
:func:`trim_malloc` gives the pages freed since back to the system.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import logging
import os
import time
from typing import Callable, Optional

logger = logging.getLogger(__name__)

#: Seconds without a key before a due full collection is made.
QUIET = 1.0
#: Seconds after the last full collection when a due one is made even while keys come.
LONGEST = 60.0
#: Seconds at least between two (Python's counter cannot say how much of the oldest
#: generation is new, which it also asks: a quarter of it at least).
EVERY = 10.0
#: The oldest generation's threshold while the app decides: never reached by Python's
#: counter (one per collection of the middle generation).
DEFERRED = 1 << 30
#: glibc arenas for the app's threads (see :func:`limit_malloc_arenas`).
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter (malloc.h)


class FullCollections:
    """Python's full garbage collections, made between keys (see the module docstring).

    :meth:`start` takes the decision from Python's allocation counter (and remembers
    its thresholds), :meth:`stop` gives it back; :meth:`collect_if_due` is called on a
    timer with the time of the last key.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._thresholds: tuple[int, ...] = ()
        self.last = clock()  # when the last full collection was made
        self.made = 0  # how many were made (tests)

    def start(self) -> None:
        if self._thresholds:
            return
        self._thresholds = gc.get_threshold()
        young, middle, oldest = self._thresholds
        if oldest:  # (0 there: the user turned full collections off; keep it so)
            gc.set_threshold(young, middle, DEFERRED)

    def stop(self) -> None:
        if self._thresholds:
            gc.set_threshold(*self._thresholds)
            self._thresholds = ()

    def due(self) -> bool:
        """Python's counter would have made a full collection by now."""
        if not self._thresholds or not gc.isenabled():
            return False
        oldest = self._thresholds[2]
        return bool(oldest) and gc.get_count()[2] >= oldest

    def collect_if_due(self, last_key: float) -> bool:
        """Make the full collection if one is due, the last was :data:`EVERY` seconds
        ago or more, and no key came for :data:`QUIET` seconds (or the last was
        :data:`LONGEST` seconds ago); True if it was made."""
        now = self.clock()
        if now - self.last < EVERY or not self.due():
            return False
        if now - last_key < QUIET and now - self.last < LONGEST:
            return False
        gc.collect()
        trim_malloc()
        self.last = self.clock()
        self.made += 1
        return True


@functools.cache
def _glibc() -> Optional[ctypes.CDLL]:
    """The process's C library if it is glibc (mallopt and malloc_trim are glibc's)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (not musl, not macOS)
        libc.mallopt, libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas for the threads started from now on (call
    it before the app starts its threads), unless the user chose a number already
    (``MALLOC_ARENA_MAX`` or ``GLIBC_TUNABLES=glibc.malloc.arena_max=N``); True if set.
    Not glibc: nothing to do."""
    if "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    libc = _glibc()
    if libc is None:
        return False
    done = libc.mallopt(_M_ARENA_MAX, arenas) == 1
    logger.debug("malloc arenas limited to %d: %s", arenas, done)
    return done


def trim_malloc() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``: 1-3 ms
    with a 100,000-job campaign, so only where keys rest)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
