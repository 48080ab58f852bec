"""Redis clients with explicit timeouts and no hidden retries.

redis-py retries failed commands with back-off by default; for the cache that would turn a dead
Redis into several timeouts per request, so the cache client fails fast and lets the circuit
breaker decide. The job client has a longer timeout: it moves whole chunks of results.
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def redis_client(url: str, timeout_s: float, *, retries: int = 0) -> redis.Redis:
    """A client for ``url`` whose every call gives up after ``timeout_s`` (connect and read)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), retries),
        retry_on_timeout=False,
        health_check_interval=0,
    )
