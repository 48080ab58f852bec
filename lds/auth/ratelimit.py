"""Per-token rate limit (requests per second) on the ``limits`` library, the engine of Flask-Limiter.

A moving one-second window per token: in Redis when configured, so every gunicorn worker and machine
shares one count; in process memory otherwise. We drive ``limits`` directly rather than through
Flask-Limiter's own ``before_request`` hook because the key is the authenticated token, which only
exists after our auth hook ran, and a breach must leave in the service's one error envelope.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("lds.auth")

_FALLBACK_WARN_EVERY_S = 60.0


def _limits_uri(redis_url: str) -> str:
    return "redis+unix://" + redis_url[len("unix://"):] if redis_url.startswith("unix://") else redis_url


class RateLimiter:
    """``retry_after(key, per_s)`` counts one request and says how long to wait when over the limit."""

    def __init__(self, redis_url: str | None = None, prefix: str = "lds:", timeout_s: float = 0.1):
        self.redis_url = redis_url
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._last_warning = 0.0

    @property
    def backend(self) -> str:
        return "redis" if self.redis_url else "memory"

    def _ensure(self) -> None:
        """Storage is built per process: a limiter made before gunicorn forks must not share sockets or timers."""
        if self._pid == os.getpid():
            return
        with self._lock:  # threads of a fresh worker race here; one must build the storage for all
            if self._pid != os.getpid():
                self._build()

    def _build(self) -> None:
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._shared = None
        if self.redis_url:
            storage = storage_from_string(
                _limits_uri(self.redis_url), key_prefix=f"{self.prefix}ratelimit",
                socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s,
            )
            self._shared = MovingWindowRateLimiter(storage)
        self._pid = os.getpid()

    def retry_after(self, key: str, per_s: int) -> int | None:
        """None when this request is within ``per_s`` requests in the last second, else seconds to wait (>= 1)."""
        if per_s <= 0:
            return None
        self._ensure()
        item = RateLimitItemPerSecond(per_s)
        limiter = self._shared or self._memory
        try:
            if limiter.hit(item, "token", key):
                return None
            reset = limiter.get_window_stats(item, "token", key).reset_time
        except Exception as exc:  # Redis down or slow: limit per process rather than not at all
            if limiter is self._memory:
                raise
            now = time.monotonic()
            if now - self._last_warning > _FALLBACK_WARN_EVERY_S:
                log.warning("rate-limit storage unavailable (%s); limiting per process", type(exc).__name__)
                self._last_warning = now
            if self._memory.hit(item, "token", key):
                return None
            reset = self._memory.get_window_stats(item, "token", key).reset_time
        return max(1, math.ceil(reset - time.time()))
