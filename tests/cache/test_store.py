"""Answer stores: the in-process LRU, and Redis with its circuit breaker, on real Redis servers."""

import time

import pytest

from lds import metrics
from lds.cache.breaker import CircuitBreaker
from lds.cache.store import COMPRESS_ABOVE_BYTES, LocalLRU, RedisStore, decode, encode
from lds.redisconn import redis_client as make_client


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def counter_value(counter, *labels) -> float:
    return counter.labels(*labels)._value.get()


def test_lru_is_bounded_and_evicts_least_recently_used():
    lru = LocalLRU(max_entries=3, ttl_s=60)
    lru.set_many([("a", b"1"), ("b", b"2"), ("c", b"3")])
    assert lru.get_many(["a"]) == [b"1"]  # a is now the most recent
    lru.set_many([("d", b"4")])
    assert len(lru) == 3
    assert lru.get_many(["a", "b", "c", "d"]) == [b"1", None, b"3", b"4"]


def test_lru_entries_expire():
    clock = Clock()
    lru = LocalLRU(max_entries=10, ttl_s=5, clock=clock)
    lru.set_many([("a", b"1")])
    clock.now += 4.9
    assert lru.get_many(["a"]) == [b"1"]
    clock.now += 0.2
    assert lru.get_many(["a"]) == [None] and len(lru) == 0


def test_codec_compresses_large_values_only():
    small, large = b'{"a":1}', b'{"geom":"' + b"7.4197,43.7311," * 1000 + b'"}'
    assert encode(small)[:1] == b"j" and decode(encode(small)) == small
    assert len(large) > COMPRESS_ABOVE_BYTES and encode(large)[:1] == b"z"
    assert len(encode(large)) < len(large) / 5 and decode(encode(large)) == large


def test_breaker_opens_then_allows_one_trial_after_the_pause():
    clock = Clock()
    b = CircuitBreaker(retry_s=5, clock=clock)
    assert b.allow()
    assert b.failure()  # the first failure opens it
    assert not b.failure()  # later ones only extend the pause
    assert b.is_open and not b.allow()
    clock.now += 5.1
    assert b.allow()  # the trial call
    assert not b.allow()  # only one at a time
    assert b.success() and not b.is_open and b.allow()


def test_a_call_in_flight_when_the_breaker_opened_does_not_close_it():
    clock = Clock()
    b = CircuitBreaker(retry_s=5, clock=clock)
    started = b.now()  # a slow call starts...
    clock.now += 0.01
    b.failure()  # ...another one fails and opens the breaker...
    clock.now += 0.01
    assert not b.success(started) and b.is_open  # ...the slow one's late success says nothing about now
    clock.now += 5
    assert b.allow() and b.success(b.now()) and not b.is_open


def test_redis_store_round_trip_with_ttl(redis_url, redis_client, redis_ns):
    store = RedisStore(make_client(redis_url, 0.5), ttl_s=123, retry_s=5)
    big = b"[" + b"1," * 5000 + b"1]"
    store.set_many([(redis_ns + "k1", b'{"x":1}'), (redis_ns + "k2", big)])
    assert store.get_many([redis_ns + "k1", redis_ns + "nope", redis_ns + "k2"]) == [b'{"x":1}', None, big]
    assert 0 < redis_client.ttl(redis_ns + "k1") <= 123
    assert redis_client.get(redis_ns + "k2")[:1] == b"z"  # stored compressed


def test_redis_store_front_lru_serves_hot_keys(redis_url, redis_client, redis_ns):
    store = RedisStore(make_client(redis_url, 0.5), ttl_s=60, retry_s=5, front=LocalLRU(10, 30))
    redis_client.set(redis_ns + "hot", encode(b"1"))
    assert store.get_many([redis_ns + "hot"]) == [b"1"]
    redis_client.delete(redis_ns + "hot")
    assert store.get_many([redis_ns + "hot"]) == [b"1"]  # from the front, no round trip


def test_dead_redis_answers_none_fast_counts_and_bypasses():
    from redisfixtures import free_port

    store = RedisStore(make_client(f"redis://127.0.0.1:{free_port()}/0", 0.1), ttl_s=60, retry_s=30)
    errors, bypassed = counter_value(metrics.CACHE_ERRORS, "get"), counter_value(metrics.CACHE_BYPASSED, "get")
    t0 = time.perf_counter()
    assert store.get_many(["a", "b"]) == [None, None]
    store.set_many([("a", b"1")])  # breaker open: skipped without a network call
    for _ in range(100):
        assert store.get_many(["a"]) == [None]
    assert time.perf_counter() - t0 < 1.0
    assert counter_value(metrics.CACHE_ERRORS, "get") == errors + 1
    assert counter_value(metrics.CACHE_BYPASSED, "get") == bypassed + 100
    assert store.breaker.is_open


def test_cache_recovers_by_itself_when_redis_returns(private_redis, caplog):
    store = RedisStore(make_client(private_redis.url, 0.1), ttl_s=60, retry_s=0.3)
    store.set_many([("k", b"1")])
    assert store.get_many(["k"]) == [b"1"]
    private_redis.stop()
    with caplog.at_level("WARNING", logger="lds.cache"):
        assert store.get_many(["k"]) == [None]
    assert store.breaker.is_open and "redis cache unavailable" in caplog.text
    private_redis.start()  # same port, empty memory
    assert store.get_many(["k"]) == [None]  # still within the pause: not even tried
    time.sleep(0.35)
    store.set_many([("k", b"2")])  # the trial call succeeds and closes the breaker
    assert not store.breaker.is_open
    assert store.get_many(["k"]) == [b"2"]


def test_slow_redis_counts_as_down(private_redis):
    """A Redis that stops answering (frozen with SIGSTOP) costs one short timeout, then is bypassed."""
    store = RedisStore(make_client(private_redis.url, 0.1), ttl_s=60, retry_s=0.5)
    store.set_many([("k", b"1")])  # the connection is open before the freeze
    private_redis.pause()
    try:
        t0 = time.perf_counter()
        assert store.get_many(["k"]) == [None]
        assert store.get_many(["k"]) == [None]
        assert time.perf_counter() - t0 < 0.5 and store.breaker.is_open
    finally:
        private_redis.resume()
    time.sleep(0.6)
    assert store.get_many(["k"]) == [b"1"] and not store.breaker.is_open


@pytest.mark.parametrize("entries", [0])
def test_lru_of_size_zero_keeps_nothing(entries):
    lru = LocalLRU(entries, 60)
    lru.set_many([("a", b"1")])
    assert lru.get_many(["a"]) == [None]
