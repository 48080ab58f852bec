"""Quota counters on Redis, SQLite and PostgreSQL: all-or-nothing charges, no lost or double counts
when several processes charge the same token at once."""

import multiprocessing
from datetime import UTC, datetime

import pytest
from authfixtures import *
from authfixtures import REDIS_URL

from lds.auth.quota import (
    RedisQuotaCounter,
    StoreQuotaCounter,
    period_end,
    period_of,
    seconds_to_next_period,
)
from lds.auth.tokens import TokenStore
from lds.errors import BadRequest
from lds.state import StateStore

PROCESSES = 4
CHARGES_EACH = 25


def test_periods_are_utc_calendar_months():
    assert period_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "2026-12"
    assert period_end(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert seconds_to_next_period(datetime(2026, 2, 28, 23, 59, 0, tzinfo=UTC)) == 60


@pytest.fixture(params=["state", "redis"])
def counter_setup(request, state_store, redis_prefix):
    """(counter factory args, a token id) per backend; the store backends come from ``state_store``."""
    token_id = TokenStore(state_store).create({"allowed_apis": ["lds"]})[1].id
    if request.param == "redis":
        prefix = f"{redis_prefix}{state_store.backend}:"
        return ("redis", REDIS_URL, prefix), token_id
    return ("state", state_store.url, None), token_id


def _counter(spec):
    kind, url, prefix = spec
    if kind == "redis":
        return RedisQuotaCounter(url, prefix, timeout_s=5.0)
    return StoreQuotaCounter(StateStore(url))


def test_charge_is_all_or_nothing(counter_setup):
    spec, token_id = counter_setup
    counter = _counter(spec)
    assert counter.charge(token_id, "geocoding", 7, 10, "2026-01") == (True, 7)
    assert counter.charge(token_id, "geocoding", 4, 10, "2026-01") == (False, 7)  # a batch of 4 would exceed
    assert counter.charge(token_id, "geocoding", 3, 10, "2026-01") == (True, 10)
    assert counter.charge(token_id, "geocoding", 1, 10, "2026-01") == (False, 10)
    assert counter.charge(token_id, "geocoding", 0, 10, "2026-01") == (True, 10)
    assert counter.charge(token_id, "geocoding", 1, 10, "2026-02") == (True, 1)  # a new month starts from zero
    assert counter.used(token_id, ["geocoding", "routing"], "2026-01") == {"geocoding": 10, "routing": 0}
    with pytest.raises(BadRequest):
        counter.charge(token_id, "geocoding", -1, 10, "2026-01")
    with pytest.raises(ValueError):
        counter.charge(token_id, "tiles", 1, 10, "2026-01")


def _charge_many(spec, token_id, limit, period, n, barrier):
    counter = _counter(spec)
    barrier.wait()
    return sum(counter.charge(token_id, "routing", 1, limit, period)[0] for _ in range(n))


@pytest.fixture(scope="module")
def pool():
    """Worker processes (spawned: nothing shared with this one) and a barrier that starts them together."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(PROCESSES) as workers:
        yield workers, manager.Barrier(PROCESSES)


def _run_concurrently(pool, spec, token_id, limit, period):
    workers, barrier = pool
    results = [workers.apply_async(_charge_many, (spec, token_id, limit, period, CHARGES_EACH, barrier))
               for _ in range(PROCESSES)]
    return [r.get(timeout=120) for r in results]


def test_concurrent_processes_neither_lose_nor_double_count(counter_setup, pool):
    spec, token_id = counter_setup
    total = PROCESSES * CHARGES_EACH
    accepted = _run_concurrently(pool, spec, token_id, 10**9, "2030-01")  # under the limit: every unit counted once
    assert sum(accepted) == total
    assert _counter(spec).used(token_id, ["routing"], "2030-01") == {"routing": total}
    limit = total // 3  # over the limit: exactly `limit` accepted, never one more
    accepted = _run_concurrently(pool, spec, token_id, limit, "2030-02")
    assert sum(accepted) == limit
    assert _counter(spec).used(token_id, ["routing"], "2030-02") == {"routing": limit}
