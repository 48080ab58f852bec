"""The per-token limiter: at most N requests in any second; per process without Redis, shared through it in blocks.

Redis is always real: the machine's one (a key prefix per session) or a private redis-server that a test may
kill, whose INFO commandstats counts the round trips.
"""

import logging
import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from authfixtures import *
from authfixtures import REDIS_URL
from redisfixtures import *
from redisfixtures import PrivateRedis

from lds.auth.ratelimit import MAX_BLOCK, RateLimiter


def _burst(limiter, key, n, per_s):
    return [limiter.retry_after(key, per_s) for _ in range(n)]


def _shared(redis_prefix, **kw):
    return RateLimiter(REDIS_URL, redis_prefix, timeout_s=2.0, **kw)


def _round_trips(server: PrivateRedis) -> int:
    stats = redis.Redis(port=server.port).info("commandstats")
    return sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("evalsha", "eval"))


# --- embedded (no Redis) -----------------------------------------------------------------------------------
def test_memory_limiter_counts_per_token():
    limiter = RateLimiter()
    waits = _burst(limiter, "a", 8, 5)
    assert waits[:5] == [None] * 5 and waits[5:] == [1, 1, 1]
    assert limiter.retry_after("b", 5) is None  # another token has its own window
    assert _burst(limiter, "c", 50, 0) == [None] * 50  # 0 = unlimited


def test_memory_window_moves_and_says_how_long_to_wait():
    """A moving window, not fixed seconds: each allowed request leaves it one second after it came."""
    limiter = RateLimiter()
    t0 = time.monotonic()
    assert _burst(limiter, "k", 2, 3) == [None, None]
    time.sleep(0.5)
    assert limiter.wait_s("k", 3) is None
    wait = limiter.wait_s("k", 3)
    elapsed = time.monotonic() - t0
    assert wait == pytest.approx(1 - elapsed, abs=0.05)  # until the first two leave the window
    time.sleep(1.1 - (time.monotonic() - t0))
    assert _burst(limiter, "k", 3, 3) == [None, None, 1]  # the first two left; the third is still in
    time.sleep(0.5)
    assert limiter.wait_s("k", 3) is None


def test_a_lowered_limit_applies_at_once():
    limiter = RateLimiter()
    assert _burst(limiter, "k", 6, 10) == [None] * 6
    assert limiter.retry_after("k", 3) == 1 and limiter.retry_after("k", 7) is None


def test_idle_tokens_are_forgotten(monkeypatch, redis_prefix):
    from lds.auth import ratelimit

    monkeypatch.setattr(ratelimit, "_SWEEP_EVERY_S", 0.2)
    for limiter in (RateLimiter(), _shared(redis_prefix)):
        assert _burst(limiter, "a", 2, 50) + _burst(limiter, "b", 1, 50) == [None] * 3
        time.sleep(1.3)
        assert limiter.retry_after("c", 3) is None
        assert list(limiter.memory._logs if limiter.backend == "memory" else limiter._blocks) == ["c"]


def test_separate_memory_limiters_are_not_shared():
    one, two = RateLimiter(), RateLimiter()
    waits = [lim.retry_after("k", 3) for lim in (one, two) * 3]
    assert waits.count(None) == 6  # why Redis is needed behind several workers


@pytest.mark.parametrize("shared", [False, True])
def test_threads_of_one_process_share_one_count(shared, redis_prefix):
    for _ in range(5):
        limiter = _shared(redis_prefix) if shared else RateLimiter()
        key = secrets.token_hex(4)
        with ThreadPoolExecutor(16) as pool:
            waits = list(pool.map(limiter.retry_after, [key] * 64, [4] * 64))
        assert waits.count(None) == 4
        with ThreadPoolExecutor(8) as pool:  # blocks: many threads take units of one block at once
            waits = list(pool.map(limiter.retry_after, [key + "b"] * 400, [300] * 400))
        assert waits.count(None) == 300


# --- shared through Redis ----------------------------------------------------------------------------------
def test_redis_limiter_is_shared_between_instances(redis_prefix):
    key = secrets.token_hex(4)
    one, two = _shared(redis_prefix), _shared(redis_prefix)  # as two gunicorn workers would
    waits = [lim.retry_after(key, 6) for lim in (one, two) * 5]
    assert waits.count(None) == 6 and one.backend == "redis"
    assert redis.Redis.from_url(REDIS_URL).exists(f"{redis_prefix}ratelimit:{key}")


_PROCESS = """
import sys, time
from lds.auth.ratelimit import RateLimiter
url, prefix, key, per_s, n, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
limiter = RateLimiter(url, prefix, timeout_s=2.0)
limiter.retry_after("warm-" + key, 1)  # connect and load the script before the start
while time.time() < start:
    pass
t0 = time.time()
allowed = sum(limiter.retry_after(key, per_s) is None for _ in range(n))
print(allowed, t0, time.time())
"""


def _two_processes(prefix: str, key: str, per_s: int, n: int) -> tuple[list[int], float]:
    start = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", _PROCESS, REDIS_URL, prefix, key, str(per_s), str(n), str(start)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    out = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return [int(o[0]) for o in out], max(float(o[2]) for o in out) - min(float(o[1]) for o in out)


@pytest.mark.parametrize("per_s", [4, 100, 5000])
def test_two_processes_share_one_exact_count(redis_prefix, per_s):
    """Two processes hammering one token at once: together exactly N in the second (blocks for 100 and 5,000)."""
    for _attempt in range(3):
        allowed, elapsed = _two_processes(redis_prefix, secrets.token_hex(4), per_s, per_s + per_s // 2 + 10)
        if elapsed < 0.9:  # both bursts inside one second (a loaded machine may stretch or stagger them)
            break
    assert sum(allowed) == per_s and elapsed < 0.9, (allowed, elapsed)


def test_redis_window_moves_and_retry_after_is_exact(redis_prefix):
    limiter = _shared(redis_prefix)
    key = secrets.token_hex(4)
    t0 = time.monotonic()
    assert _burst(limiter, key, 2, 3) == [None, None]
    time.sleep(0.4)
    assert limiter.wait_s(key, 3) is None
    wait = limiter.wait_s(key, 3)
    assert wait == pytest.approx(1 - (time.monotonic() - t0), abs=0.05)
    assert limiter.retry_after(key, 3) == 1  # answered from the refusal, without asking Redis again
    other = _shared(redis_prefix)  # another worker asks Redis and gets the same wait
    assert other.wait_s(key, 3) == pytest.approx(1 - (time.monotonic() - t0), abs=0.05)
    time.sleep(1.1 - (time.monotonic() - t0))
    assert [lim.retry_after(key, 3) for lim in (other, limiter, other)] == [None, None, 1]  # the third is still in
    assert limiter.retry_after(key, 4) is None  # a higher limit (a token's override changed) is not refused from memory


def test_blocks_cost_a_round_trip_per_block_not_per_request(private_redis):
    limiter = RateLimiter(private_redis.url, "b:", timeout_s=2.0, block_s=10.0)  # blocks outlive this test
    limiter.retry_after("warm", 1)  # the first call loads the script
    before = _round_trips(private_redis)
    assert _burst(limiter, "small", 30, 30) == [None] * 30  # below 40/s: one round trip per request (exact)
    assert _round_trips(private_redis) - before == 30
    before = _round_trips(private_redis)
    assert _burst(limiter, "default", 100, 100) == [None] * 100
    waits = _burst(limiter, "default", 50, 100)
    assert waits == [1] * 50
    assert _round_trips(private_redis) - before == 1 + 1 + 1 + 19 + 1  # blocks of 1, 2, 4, 18 of 5, the last 3; one refusal
    before = _round_trips(private_redis)
    assert _burst(limiter, "big", 20_000, 1_000_000) == [None] * 20_000
    trips = _round_trips(private_redis) - before
    assert trips <= 10 + 20_000 // MAX_BLOCK + 1, trips  # doubling up to MAX_BLOCK units


def test_an_unused_block_is_given_back_when_its_process_asks_again(private_redis):
    """False 429s come only from allowance reserved and not used, and the next call of its process returns it."""
    for _attempt in range(3):
        a = RateLimiter(private_redis.url, f"u{_attempt}:", timeout_s=2.0, block_s=0.15)
        b = RateLimiter(private_redis.url, f"u{_attempt}:", timeout_s=2.0)
        c = RateLimiter(private_redis.url, f"u{_attempt}:", timeout_s=2.0)
        t0 = time.monotonic()
        assert _burst(a, "k", 8, 100) == [None] * 8  # blocks of 1, 2 and 4, then one of 5: 4 units held unused
        assert _burst(b, "k", 100, 100).count(None) == 88  # 100 - 7 - 5: a's unused units are not b's
        time.sleep(0.2)  # a's block is no longer valid
        assert a.retry_after("k", 100) is None  # a asks again and reports it used 1 of its 5
        allowed = _burst(c, "k", 10, 100).count(None)
        if time.monotonic() - t0 < 0.9:
            break
    assert allowed == 3  # the 4 came back: 7 + 1 + 88 + 1 + 3 = 100, not one more


def test_a_forked_child_starts_with_no_blocks(redis_prefix):
    limiter = _shared(redis_prefix)
    key = secrets.token_hex(4)
    assert _burst(limiter, key, 8, 200) == [None] * 8
    assert limiter._blocks[key].left > 0  # the parent holds units of a block
    pid = os.fork()
    if pid == 0:  # the child must not serve from the parent's block, nor use its lock or sockets
        ok = not limiter._blocks and limiter.retry_after(key, 200) is None
        os._exit(0 if ok else 1)
    assert os.waitpid(pid, 0)[1] == 0


# --- Redis unreachable, killed, back -----------------------------------------------------------------------
def test_unreachable_redis_falls_back_to_a_per_process_limit(caplog):
    limiter = RateLimiter("redis://127.0.0.1:1/0", "x:", timeout_s=0.05)
    waits = _burst(limiter, "k", 5, 3)
    assert waits[:3] == [None] * 3 and waits[3] == 1
    assert caplog.text.count("rate-limit storage unavailable") == 1  # once per outage, not per request


def test_a_dead_redis_means_per_process_limits_then_shared_ones_again(caplog):
    """Redis killed: every call is still answered, limited per process; once it is back (after retry_s) the
    window is shared again. While it is down, Redis is tried once per retry_s, not on every call."""
    caplog.set_level(logging.INFO, "lds.auth")
    server = PrivateRedis()
    server.start()
    try:
        one = RateLimiter(server.url, "t:", timeout_s=0.5, retry_s=1.0)
        two = RateLimiter(server.url, "t:", timeout_s=0.5, retry_s=1.0)
        assert [lim.retry_after("k", 4) for lim in (one, two) * 3].count(None) == 4  # shared through Redis
        assert [lim.retry_after("big", 1000) for lim in (one, two) * 20].count(None) == 40
        server.stop()
        time.sleep(1.1)
        waits = _burst(one, "fresh", 6, 4)
        assert waits[:4] == [None] * 4 and waits[4:] == [1, 1]  # answered, and limited in this process
        assert [lim.retry_after("big", 1000) for lim in (one, two) * 500].count(None) == 1000  # both processes
        assert "rate-limit storage unavailable" in caplog.text
        assert one.breaker.is_open  # no Redis call per request
        server.start()
        time.sleep(1.1)  # retry_s passed: Redis is asked again
        key = secrets.token_hex(4)
        assert [lim.retry_after(key, 4) for lim in (one, two) * 3].count(None) == 4  # shared again
        assert not one.breaker.is_open and not two.breaker.is_open
        assert "rate limits are shared again" in caplog.text
    finally:
        server.stop()


def test_a_stuck_redis_costs_one_timeout_then_limits_per_process(caplog):
    server = PrivateRedis()
    server.start()
    try:
        limiter = RateLimiter(server.url, "s:", timeout_s=0.2, retry_s=30.0)
        assert limiter.retry_after("k", 4) is None
        server.pause()
        waits = _burst(limiter, "k", 8, 4)
        assert waits[:4] == [None] * 4 and waits[4:] == [1] * 4
        assert limiter.breaker.failures == 1  # one timeout, not one per request
        assert caplog.text.count("rate-limit storage unavailable") == 1
    finally:
        server.stop()
