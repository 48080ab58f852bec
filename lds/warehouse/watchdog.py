"""One timer thread per process for every statement's deadline (a ``threading.Timer`` per statement
costs a thread start each time, which is most of a one-row query's overhead)."""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections.abc import Callable


class _Deadline:
    __slots__ = ("at", "cancelled", "fn")

    def __init__(self, at: float, fn: Callable[[], None]):
        self.at, self.fn, self.cancelled = at, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class _Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._pid = -1
        self._compact_at = 4096

    def schedule(self, delay_s: float, fn: Callable[[], None]) -> _Deadline:
        d = _Deadline(time.monotonic() + delay_s, fn)
        with self._cv:
            if self._pid != os.getpid():  # first use, or a forked child (the parent's thread is not here)
                self._pid = os.getpid()
                self._heap = []
                threading.Thread(target=self._run, name="lds-sql-watchdog", daemon=True).start()
            if len(self._heap) >= self._compact_at:  # finished statements' deadlines linger until due: drop them
                self._heap = [e for e in self._heap if not e[2].cancelled]
                heapq.heapify(self._heap)
                self._compact_at = max(4096, 2 * len(self._heap))
            heapq.heappush(self._heap, (d.at, next(self._seq), d))
            if self._heap[0][2] is d:
                self._cv.notify()
        return d

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cv.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cv.wait(wait)
                    continue
                d = heapq.heappop(self._heap)[2]
            if not d.cancelled:
                try:
                    d.fn()
                except Exception:  # noqa: BLE001, S110 - a failed interrupt must not stop the other deadlines
                    pass


_WATCHDOG = _Watchdog()


def after(delay_s: float, fn: Callable[[], None]) -> _Deadline:
    """Call ``fn`` on the watchdog thread in ``delay_s`` seconds unless the returned deadline is cancelled."""
    return _WATCHDOG.schedule(delay_s, fn)
