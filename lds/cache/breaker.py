"""A small circuit breaker: after a backend error, stop calling it for a while, then try again.

Used in front of Redis so that a dead or slow Redis costs one short timeout per ``retry_s``
per process instead of one per request, and so that the cache comes back by itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed (calls pass) until a failure; then open for ``retry_s``; then one trial call decides."""

    def __init__(self, retry_s: float, clock: Callable[[], float] = time.monotonic):
        self.retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._opened_at = 0.0
        self._trial_running = False
        self.failures = 0

    def now(self) -> float:
        """The breaker's clock; read it before a call and hand it to :meth:`success`."""
        return self._clock()

    @property
    def is_open(self) -> bool:
        return self._open_until > 0.0

    def allow(self) -> bool:
        """True when a call may go to the backend (closed, or the single trial after the pause)."""
        if self._open_until == 0.0:
            return True
        with self._lock:
            if self._open_until == 0.0:
                return True
            if self._clock() < self._open_until or self._trial_running:
                return False
            self._trial_running = True
            return True

    def success(self, started_at: float | None = None) -> bool:
        """Record a good call; True when this closed an open breaker (the backend is back).

        A call that was already in flight when the breaker opened (``started_at`` before the opening)
        proves nothing about the backend now, so it does not close the breaker.
        """
        if self._open_until == 0.0:
            return False
        with self._lock:
            if self._open_until == 0.0 or (started_at is not None and started_at < self._opened_at):
                return False
            self._open_until = 0.0
            self._trial_running = False
            return True

    def failure(self) -> bool:
        """Record a failed call; True when this opened a closed breaker (first failure of an outage)."""
        with self._lock:
            self.failures += 1
            was_closed = self._open_until == 0.0
            now = self._clock()
            if was_closed:
                self._opened_at = now
            self._open_until = now + self.retry_s
            self._trial_running = False
            return was_closed
