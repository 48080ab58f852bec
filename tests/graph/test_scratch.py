"""Search scratch memory: arrays mapped only where written, shared by a worker's threads, handed back to the system
above a budget, and searches answering the same whatever the budget."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lds.graph.router import LABEL_CHECK
from lds.graph.scratch import PAGE, ScratchPool, cost_pool, get_cost, put_cost, resident_bytes, zero_array
from lds.graph.search import bounded_search, search_index
from lds.graph.store import RoadGraph


def test_a_zero_array_holds_only_the_pages_written():
    array, _ = zero_array(4_000_000, np.float64)  # 30 MB of zeros
    assert resident_bytes(array) == 0
    array[::PAGE // 8 * 10] = 1.0  # one item on every tenth page
    pages = len(range(0, len(array), PAGE // 8 * 10))
    assert resident_bytes(array) == pytest.approx(pages * PAGE, abs=2 * PAGE)
    assert array.sum() == pages


def test_costs_round_trip_exactly_and_absent_reads_inf():
    costs = cost_pool(10, 1 << 20)
    with costs.lend() as array:
        values = np.array([0.0, -0.0, 3.25, -12.5, 1e300, np.nextafter(0.0, 1.0)])
        put_cost(array, np.arange(6), values)
        got = get_cost(array, np.arange(10))
        assert got[:6].tobytes() == values.tobytes()  # bit for bit, -0.0 and subnormals included
        assert np.isinf(got[6:]).all()
        array[:6] = 0
        assert np.isinf(get_cost(array, np.arange(10))).all()


def test_a_pool_lends_one_array_per_search_running_and_reuses_them():
    pool = ScratchPool(1000, np.uint64, 1 << 20)
    with pool.lend() as a, pool.lend() as b:
        assert a is not b and not np.shares_memory(a, b)
        a[3] = b[4] = 1
        a[3] = b[4] = 0
    with pool.lend() as c:
        assert any(np.shares_memory(c, x) for x in (a, b))
    assert pool.made == 2

    barrier = threading.Barrier(3)

    def search():
        with pool.lend():
            barrier.wait(timeout=10)  # three searches at once: a third array

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pool.made == 3


def test_an_array_holding_more_than_the_budget_goes_back_to_the_system():
    pool = ScratchPool(2_000_000, np.uint64, budget_bytes=64 * PAGE)
    with pool.lend() as array:
        array[:: PAGE // 8] = 7  # every page written
        array[:: PAGE // 8] = 0  # and cleared, as a search leaves it: still held
        assert resident_bytes(array) > 64 * PAGE
    assert pool.released == 1 and pool.resident_bytes() == 0
    with pool.lend() as array:
        assert not array[:20 * PAGE // 8].any()  # zeros again
        array[:10 * PAGE // 8] = 1
        array[:10 * PAGE // 8] = 0
    assert pool.released == 1 and 0 < pool.resident_bytes() <= 64 * PAGE  # under the budget: kept


@pytest.fixture()
def fresh_walk(roads_dir):
    """A walking graph of its own (its search index and router made here): budgets set per test."""
    return RoadGraph.load(roads_dir / "graph" / "walk", "walk")


def test_isoline_searches_answer_the_same_on_a_zero_budget(fresh_walk, walk):
    from tests.graph.test_bounded_search import random_snaps

    fresh_walk.scratch_bytes = 0  # every array handed back after every search
    for snap in random_snaps(walk, 8, seed=5):
        ref = bounded_search(walk, snap, 900, "time")
        got = bounded_search(fresh_walk, snap, 900, "time")
        assert np.array_equal(ref.nodes, got.nodes) and ref.cost.tobytes() == got.cost.tobytes()
    pool = search_index(fresh_walk).costs
    assert pool.released >= 8 and pool.resident_bytes() == 0


def test_route_labels_go_back_to_the_system_and_routes_stay_the_same(fresh_walk, walk):
    from tests.graph.test_router import _random_points

    fresh_walk.scratch_bytes = 0
    rng = np.random.default_rng(8)
    pts = _random_points(walk, rng, 2 * LABEL_CHECK + 2)
    for a, b in zip(pts[::2], pts[1::2], strict=True):
        sa, sb = walk.snapper.snap(*a, 2000), walk.snapper.snap(*b, 2000)
        ref, got = walk.router.leg(sa, sb), fresh_walk.router.leg(sa, sb)
        assert (ref is None) == (got is None)
        if ref is not None:
            assert np.array_equal(ref.edges, got.edges) and ref.weight_s == got.weight_s
    assert fresh_walk.router.released >= 1
    assert fresh_walk.router._query.resident_bytes() < walk.router._query.resident_bytes() or \
        walk.router._query.resident_bytes() == 0
