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
"""

from __future__ import annotations

import gc
import time
from typing import Callable

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
        self.last = self.clock()
        self.made += 1
        return True
