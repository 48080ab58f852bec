"""Quota counting on SQLite and PostgreSQL: all-or-nothing charges, reserved blocks counted in memory
(no state-store write per charge), no lost or double counts between processes, no overshoot, refunds,
a killed process losing at most its block, and counters of an older version moved out of Redis."""

import multiprocessing
import os
import secrets
import signal
import time
from datetime import UTC, datetime

import pytest
import redis
from authfixtures import *
from authfixtures import REDIS_URL

from lds.auth.leases import LeasedQuota
from lds.auth.quota import QuotaLedger, import_redis_counts, period_end, period_of, seconds_to_next_period
from lds.auth.tokens import TokenStore
from lds.errors import BadRequest
from lds.state import StateStore

PROCESSES = 4
CHARGES_EACH = 25


def test_periods_are_utc_calendar_months():
    assert period_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "2026-12"
    assert period_end(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert seconds_to_next_period(datetime(2026, 2, 28, 23, 59, 0, tzinfo=UTC)) == 60


@pytest.fixture()
def token_id(state_store):
    return TokenStore(state_store).create({"allowed_apis": ["lds"]})[1].id


def quota(url: str, lease_units: int = 0, exact_below: int = 0, ttl_s: float = 30.0, flush_s: float = 0) -> LeasedQuota:
    """A process's counter over the store at ``url`` (flush_s=0: no background flush, the test flushes)."""
    return LeasedQuota(QuotaLedger(StateStore(url), lease_units, exact_below, ttl_s), flush_s)


def written(url: str, token_id: str, service: str, period: str) -> int:
    return QuotaLedger(StateStore(url)).used(token_id, [service], period)[service]


@pytest.mark.parametrize("lease_units", [0, 100])
def test_charge_is_all_or_nothing(state_store, token_id, lease_units):
    counter = quota(state_store.url, lease_units=lease_units, exact_below=5)
    assert counter.charge(token_id, "geocoding", 7, 10, "2026-01") == (True, 7)
    assert counter.charge(token_id, "geocoding", 4, 10, "2026-01") == (False, 7)  # a batch of 4 would exceed
    assert counter.charge(token_id, "geocoding", 3, 10, "2026-01") == (True, 10)
    assert counter.charge(token_id, "geocoding", 1, 10, "2026-01") == (False, 10)
    assert counter.charge(token_id, "geocoding", 1, 10, "2026-02")[0]  # a new month starts from zero
    assert counter.used(token_id, ["geocoding", "routing"], "2026-01") == {"geocoding": 10, "routing": 0}
    with pytest.raises(BadRequest):
        counter.charge(token_id, "geocoding", -1, 10, "2026-01")
    with pytest.raises(BadRequest):
        counter.charge(token_id, "geocoding", 2**63, 10, "2026-01")
    with pytest.raises(ValueError):
        counter.charge(token_id, "tiles", 1, 10, "2026-01")


def test_charges_are_counted_in_memory_and_exact_after_a_flush(state_store, token_id):
    counter = quota(state_store.url, lease_units=100, exact_below=1000)
    for _ in range(1000):
        assert counter.charge(token_id, "routing", 1, 1_000_000, "2030-01")[0]
    assert counter.writes <= 10  # one state-store write per block of 100, not one per charge
    assert counter.used(token_id, ["routing"], "2030-01") == {"routing": 1000}  # unwritten units included
    assert written(state_store.url, token_id, "routing", "2030-01") < 1000
    assert counter.ledger.reservations(token_id, "routing", "2030-01") == {counter.holder: 100}
    counter.flush()
    assert written(state_store.url, token_id, "routing", "2030-01") == 1000  # exact after a flush
    assert sum(counter.ledger.reservations(token_id, "routing", "2030-01").values()) == 100  # topped up: active
    counter.flush()  # no charge since the last flush: the idle block goes back
    assert counter.ledger.reservations(token_id, "routing", "2030-01") == {}
    assert written(state_store.url, token_id, "routing", "2030-01") == 1000


def test_blocks_never_reach_into_the_last_units_so_the_boundary_is_exact(state_store, token_id):
    """Two processes (two holders) alternate up to the limit: exactly the limit is served, never one more."""
    limit, lease, exact_below = 1500, 100, 1000
    a = quota(state_store.url, lease, exact_below)
    b = quota(state_store.url, lease, exact_below)
    served = 0
    for i in range(2 * limit):
        counter = (a, b)[i % 2]
        if counter.charge(token_id, "isolines", 1, limit, "2030-03")[0]:
            served += 1
        if i % 10 == 0:
            reserved = sum(a.ledger.reservations(token_id, "isolines", "2030-03").values())
            used = a.ledger.used(token_id, ["isolines"], "2030-03")["isolines"]
            assert used + reserved <= limit  # what is written plus what is reserved never exceeds the quota
    assert served == limit
    for counter in (a, b):
        counter.close()
    assert written(state_store.url, token_id, "isolines", "2030-03") == limit


def test_refunds_give_units_back(state_store, token_id):
    for lease_units in (0, 100):
        counter = quota(state_store.url, lease_units=lease_units)
        period = f"2031-0{1 + lease_units // 100}"
        for _ in range(5):
            counter.charge(token_id, "geocoding", 1, 5, period)
        assert not counter.charge(token_id, "geocoding", 1, 5, period)[0]
        counter.refund(token_id, "geocoding", 2, period)
        assert counter.used(token_id, ["geocoding"], period) == {"geocoding": 3}
        counter.flush()
        assert written(state_store.url, token_id, "geocoding", period) == 3
        assert counter.charge(token_id, "geocoding", 2, 5, period)[0]  # the refunded units can be used again
        counter.refund(token_id, "geocoding", 50, period)  # more than was charged: the count stops at zero
        counter.close()
        assert written(state_store.url, token_id, "geocoding", period) == 0


def test_lowering_a_quota_takes_back_the_block(state_store, token_id):
    counter = quota(state_store.url, lease_units=100, exact_below=10)
    assert counter.charge(token_id, "routing", 1, 10_000, "2032-01")[0]
    assert sum(counter.ledger.reservations(token_id, "routing", "2032-01").values()) == 100
    assert counter.charge(token_id, "routing", 1, 2, "2032-01")[0]  # the token's quota was PATCHed down to 2
    assert counter.ledger.reservations(token_id, "routing", "2032-01") == {}
    assert not counter.charge(token_id, "routing", 1, 2, "2032-01")[0]


def _charge_many(url, token_id, limit, period, n, barrier, lease_units, exact_below):
    counter = quota(url, lease_units, exact_below, flush_s=0.05)  # flushing in the background, as in a worker
    barrier.wait()
    accepted = sum(counter.charge(token_id, "routing", 1, limit, period)[0] for _ in range(n))
    counter.close()  # a worker's exit: everything written, every block returned
    return accepted


@pytest.fixture(scope="module")
def pool():
    """Worker processes (spawned: nothing shared with this one) and a barrier that starts them together."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(PROCESSES) as workers:
        yield workers, manager.Barrier(PROCESSES)


def _run_concurrently(pool, url, token_id, limit, period, lease_units, exact_below):
    workers, barrier = pool
    results = [workers.apply_async(_charge_many, (url, token_id, limit, period, CHARGES_EACH, barrier, lease_units,
                                                  exact_below))
               for _ in range(PROCESSES)]
    return [r.get(timeout=120) for r in results]


@pytest.mark.parametrize("lease_units", [0, 10])
def test_concurrent_processes_neither_lose_nor_double_count(state_store, token_id, pool, lease_units):
    url, total = state_store.url, PROCESSES * CHARGES_EACH
    accepted = _run_concurrently(pool, url, token_id, 10**9, "2030-01", lease_units, 0)
    assert sum(accepted) == total  # under the limit: every unit counted once
    assert written(url, token_id, "routing", "2030-01") == total
    limit = total // 3  # over the limit: at most `limit` accepted, never one more; exactly that when charged one by one
    accepted = _run_concurrently(pool, url, token_id, limit, "2030-02", lease_units, 0 if lease_units == 0 else 5)
    assert sum(accepted) <= limit and (lease_units or sum(accepted) == limit)
    assert written(url, token_id, "routing", "2030-02") == sum(accepted)


def _charge_then_wait(url, token_id, n, ready):
    counter = quota(url, lease_units=100, ttl_s=2.0)  # no background flush: everything after the first charge is unwritten
    for _ in range(n):
        counter.charge(token_id, "routing", 1, 10**6, "2033-01")
    ready.set()
    time.sleep(600)


def test_a_killed_process_loses_at_most_its_block_and_the_block_is_reclaimed(state_store, token_id):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_charge_then_wait, args=(state_store.url, token_id, 50, ready))
    proc.start()
    try:
        assert ready.wait(60)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.join(30)
    used = written(state_store.url, token_id, "routing", "2033-01")
    assert 50 - 100 <= used <= 50  # the first charge was written; the rest (< one block) died with the process
    ledger = QuotaLedger(StateStore(state_store.url), 100, 0, 2.0)
    assert sum(ledger.reservations(token_id, "routing", "2033-01").values()) == 100  # still held by the dead process
    time.sleep(2.1)
    survivor = LeasedQuota(ledger, 0)
    assert survivor.charge(token_id, "routing", 1, 200, "2033-01")[0]
    assert list(ledger.reservations(token_id, "routing", "2033-01")) == [survivor.holder]  # the dead block reclaimed


def test_counters_an_older_version_kept_in_redis_move_into_the_store(state_store, token_id, redis_prefix):
    prefix = f"{redis_prefix}{secrets.token_hex(3)}:"
    client = redis.Redis.from_url(REDIS_URL)
    client.set(f"{prefix}quota:2034-01:{token_id}:geocoding", 40)
    client.set(f"{prefix}quota:2034-01:{token_id}:routing", 3)
    client.set(f"{prefix}quota:2034-01:no-such-token:routing", 9)
    ledger = QuotaLedger(state_store)
    counter = LeasedQuota(ledger, 0)
    counter.charge(token_id, "routing", 5, 100, "2034-01")  # already counted in the store: the larger count wins
    assert import_redis_counts(ledger, REDIS_URL, prefix, 2.0) == 2
    assert ledger.used(token_id, ["geocoding", "routing"], "2034-01") == {"geocoding": 40, "routing": 5}
    assert list(client.scan_iter(match=f"{prefix}quota:*")) == []  # moved: a second run changes nothing
    assert import_redis_counts(ledger, REDIS_URL, prefix, 2.0) == 0


def test_threads_charging_refunding_and_flushing_at_once_keep_the_count_exact(state_store, token_id):
    """Eight request threads and a busy background flush (every 10 ms, and when a block is half used)."""
    from concurrent.futures import ThreadPoolExecutor

    counter = quota(state_store.url, lease_units=10, exact_below=20, flush_s=0.01)

    def work(n: int) -> tuple[int, int]:
        served = refunded = 0
        for i in range(300):
            if counter.charge(token_id, "geocoding", 1 + i % 3, 1000, "2035-01")[0]:
                served += 1 + i % 3
                if (n + i) % 7 == 0:  # this answer failed with a 5xx
                    counter.refund(token_id, "geocoding", 1 + i % 3, "2035-01")
                    refunded += 1 + i % 3
        return served, refunded

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    served, refunded = sum(r[0] for r in results), sum(r[1] for r in results)
    assert served - refunded <= 1000  # never over the quota
    assert served > 900  # and it was reached (refunds made room again)
    assert counter.used(token_id, ["geocoding"], "2035-01") == {"geocoding": served - refunded}
    counter.close()
    assert written(state_store.url, token_id, "geocoding", "2035-01") == served - refunded
    assert counter.ledger.reservations(token_id, "geocoding", "2035-01") == {}
