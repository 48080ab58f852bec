"""Where cached answers live: Redis (shared by every process and machine) or an in-process LRU.

Both speak the same tiny interface, ``get_many(keys)`` and ``set_many(pairs)`` over bytes, so
the caching facade does not care which one it has. The Redis store never raises: an error or a
timeout counts in ``lds_cache_errors``, opens the circuit breaker (one warning per outage) and the
caller computes the answer itself; after ``cache_retry_s`` one call tries Redis again.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Sequence

import redis

from lds import metrics
from lds.cache.breaker import CircuitBreaker

log = logging.getLogger("lds.cache")

# Values above this size are zlib-compressed (level 1: ~5x smaller geometry JSON for ~0.1 ms per 50 kB).
COMPRESS_ABOVE_BYTES = 2048
_RAW, _ZLIB = b"j", b"z"
# Keys per MGET / pipeline round trip, so one reply of a 10,000-item batch never nears the short timeout.
REDIS_SLICE = 500


def encode(raw_json: bytes) -> bytes:
    if len(raw_json) > COMPRESS_ABOVE_BYTES:
        return _ZLIB + zlib.compress(raw_json, 1)
    return _RAW + raw_json


def decode(blob: bytes) -> bytes:
    if blob[:1] == _ZLIB:
        return zlib.decompress(blob[1:])
    return blob[1:]


class LocalLRU:
    """Bounded, thread-safe LRU with per-entry expiry: the embedded cache, and the front of Redis."""

    backend = "local"

    def __init__(self, max_entries: int, ttl_s: float, clock=time.monotonic):
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        out: list[bytes | None] = []
        with self._lock:
            for key in keys:
                entry = self._data.get(key)
                if entry is None or entry[0] < now:
                    if entry is not None:
                        del self._data[key]
                    out.append(None)
                else:
                    self._data.move_to_end(key)
                    out.append(entry[1])
        return out

    def set_many(self, pairs: Sequence[tuple[str, bytes]]) -> None:
        if self.max_entries <= 0:
            return
        expires = self._clock() + self.ttl_s
        with self._lock:
            for key, value in pairs:
                self._data[key] = (expires, value)
                self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RedisStore:
    """Answers in Redis with a TTL, behind a circuit breaker and an optional small per-process front LRU."""

    backend = "redis"

    def __init__(self, client: redis.Redis, ttl_s: int, retry_s: float, front: LocalLRU | None = None):
        self.client = client
        self.ttl_s = ttl_s
        self.breaker = CircuitBreaker(retry_s)
        self.front = front

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        found: list[bytes | None] = self.front.get_many(keys) if self.front is not None else [None] * len(keys)
        missing = [i for i, value in enumerate(found) if value is None]
        if not missing:
            return found
        if not self.breaker.allow():
            metrics.CACHE_BYPASSED.labels("get").inc()
            return found
        started = self.breaker.now()
        try:
            values: list = []
            for start in range(0, len(missing), REDIS_SLICE):  # bounded replies stay well inside the timeout
                values.extend(self.client.mget([keys[i] for i in missing[start : start + REDIS_SLICE]]))
        except redis.RedisError as exc:
            self._failed("get", exc)
            return found
        self._succeeded(started)
        back = []
        for i, blob in zip(missing, values):
            if blob is not None:
                value = decode(blob)
                found[i] = value
                back.append((keys[i], value))
        if back and self.front is not None:
            self.front.set_many(back)
        return found

    def set_many(self, pairs: Sequence[tuple[str, bytes]]) -> None:
        if not pairs:
            return
        if self.front is not None:
            self.front.set_many(pairs)
        if not self.breaker.allow():
            metrics.CACHE_BYPASSED.labels("set").inc()
            return
        started = self.breaker.now()
        try:
            if len(pairs) == 1:
                key, value = pairs[0]
                self.client.set(key, encode(value), ex=self.ttl_s)
            else:
                for start in range(0, len(pairs), REDIS_SLICE):
                    pipe = self.client.pipeline(transaction=False)
                    for key, value in pairs[start : start + REDIS_SLICE]:
                        pipe.set(key, encode(value), ex=self.ttl_s)
                    pipe.execute()
        except redis.RedisError as exc:
            self._failed("set", exc)
            return
        self._succeeded(started)

    def _failed(self, op: str, exc: Exception) -> None:
        metrics.CACHE_ERRORS.labels(op).inc()
        if self.breaker.failure():
            log.warning("redis cache unavailable (%s: %s); answering uncached, retrying in %.0f s",
                        type(exc).__name__, exc, self.breaker.retry_s)

    def _succeeded(self, started: float) -> None:
        if self.breaker.success(started):
            log.info("redis cache is back; caching again")


class NoCache:
    """``cache_enabled=false``: every lookup misses and nothing is kept."""

    backend = "off"

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [None] * len(keys)

    def set_many(self, pairs: Sequence[tuple[str, bytes]]) -> None:
        return None
