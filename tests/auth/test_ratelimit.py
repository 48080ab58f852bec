"""The per-token limiter: a moving one-second window, shared through Redis, per process without it."""

import secrets

from authfixtures import *
from authfixtures import REDIS_URL

from lds.auth.ratelimit import RateLimiter


def _burst(limiter, key, n, per_s):
    return [limiter.retry_after(key, per_s) for _ in range(n)]


def test_memory_limiter_counts_per_token():
    limiter = RateLimiter()
    waits = _burst(limiter, "a", 8, 5)
    assert waits[:5] == [None] * 5 and all(w is not None and w >= 1 for w in waits[5:])
    assert limiter.retry_after("b", 5) is None  # another token has its own window
    assert _burst(limiter, "c", 50, 0) == [None] * 50  # 0 = unlimited


def test_redis_limiter_is_shared_between_instances(redis_prefix):
    key = secrets.token_hex(4)
    one = RateLimiter(REDIS_URL, redis_prefix, timeout_s=2.0)
    two = RateLimiter(REDIS_URL, redis_prefix, timeout_s=2.0)  # as another gunicorn worker would
    waits = [lim.retry_after(key, 6) for lim in (one, two) * 5]
    assert waits.count(None) == 6 and one.backend == "redis"


def test_separate_memory_limiters_are_not_shared():
    one, two = RateLimiter(), RateLimiter()
    waits = [lim.retry_after("k", 3) for lim in (one, two) * 3]
    assert waits.count(None) == 6  # why Redis is needed behind several workers


def test_unreachable_redis_falls_back_to_a_per_process_limit(caplog):
    limiter = RateLimiter("redis://127.0.0.1:1/0", "x:", timeout_s=0.05)
    waits = _burst(limiter, "k", 5, 3)
    assert waits[:3] == [None] * 3 and waits[3] is not None
    assert "rate-limit storage unavailable" in caplog.text


def test_first_requests_of_a_fresh_worker_share_one_window():
    """Threads racing on a new process's first requests must not each build their own storage."""
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(5):
        limiter = RateLimiter()
        with ThreadPoolExecutor(16) as pool:
            waits = list(pool.map(limiter.retry_after, ["k"] * 16, [4] * 16))
        assert waits.count(None) == 4
