"""Nested dissection finishes a contraction that node priorities leave dense: no core, exact routes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_router import assert_costs_equal_plain_dijkstra

from lds.graph.dissection import _best_cut, _separator_sizes, nested_dissection


def test_separators_come_after_both_sides():
    """On a path 0-1-...-n-1 the order is a permutation whose last node splits the path in the middle, and each
    half's own separator comes after the rest of that half."""
    n = 500
    nodes = np.arange(n, dtype=np.int32)
    tails = np.concatenate([nodes[:-1], nodes[1:]])
    heads = np.concatenate([nodes[1:], nodes[:-1]])
    order = nested_dissection(nodes, tails, heads, np.arange(n, dtype=float), np.zeros(n))
    assert sorted(order.tolist()) == list(range(n))
    top = int(order[-1])
    assert n // 2 - 2 <= top <= n // 2 + 1
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    for lo, hi in ((0, top), (top + 1, n)):
        half = rank[lo:hi]
        sep = lo + int(np.argmax(half))  # the last of the half: its separator
        assert lo < sep < hi - 1  # inside the half, not at an end


def test_separator_sizes_match_counting_each_cut():
    """The linear-time separator sizes equal, cut by cut, the fewer distinct left or right ends of the arcs
    crossing it."""
    rng = np.random.default_rng(5)
    n = 60
    a, b = rng.integers(0, n, 300), rng.integers(0, n, 300)
    a, b = a[a != b], b[a != b]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    sizes = _separator_sizes(lo, hi, n)
    for k in range(n + 1):
        cross = (lo < k) & (hi >= k)
        assert sizes[k] == min(len(np.unique(lo[cross])), len(np.unique(hi[cross])))


def test_grid_cut_runs_between_two_columns():
    """On a 20x10 grid of nodes (4-neighbour arcs) the best cut is a straight line across the short side,
    between two columns of equal x: 10 separator nodes, halves within the balance limit."""
    xs, ys = np.meshgrid(np.arange(20.0), np.arange(10.0))
    px, py = xs.ravel(), ys.ravel()
    ids = np.arange(200)
    right = ids[px[ids] < 19]
    up = ids[py[ids] < 9]
    at = np.concatenate([right, right + 1, up, up + 20])
    ah = np.concatenate([right + 1, right, up + 20, up])
    order, k = _best_cut(ids, at, ah, px, py, np.zeros(200, dtype=np.int64))
    assert k % 10 == 0 and 60 <= k <= 140
    left = np.zeros(200, dtype=bool)
    left[order[:k]] = True
    assert len(np.unique(px[order[:k]])) == k // 10 and px[order[:k]].max() < px[order[k:]].min()
    cross = left[at] & ~left[ah]
    assert len(np.unique(at[cross])) == 10


@pytest.fixture(scope="module", params=["car", "walk"])
def dissected(request, roads_dir, tmp_path_factory):
    """Monaco's graph with priority contraction stopped early (as on grids), the rest contracted by dissection."""
    from lds.graph import prepare
    from lds.graph.store import RoadGraph

    mode = request.param
    out = tmp_path_factory.mktemp(f"nd-{mode}") / mode
    shutil.copytree(roads_dir / "graph" / mode, out)
    mp = pytest.MonkeyPatch()
    mp.setattr(prepare, "CORE_DEGREE", 6)
    try:
        stats = prepare.prepare_routing(out, mode)
    finally:
        mp.undo()
    assert stats["core_nodes"] == 0 and stats["dissection_nodes"] > 100
    return RoadGraph.load(out, mode)


def test_costs_equal_plain_dijkstra_after_dissection(dissected):
    assert assert_costs_equal_plain_dijkstra(dissected, seed=13, n_points=200) > 80


def test_grid_contracts_fully(tmp_path):
    """A street grid with turn costs contracts completely and its routes equal plain Dijkstra's."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    from lds.build.roads import write_graph
    from lds.graph import prepare
    from lds.graph.store import RoadGraph
    from lds.graph.synthetic import grid_graph

    write_graph(grid_graph(40, 40, jitter=0.1, seed=2), tmp_path / "g")
    stats = prepare.prepare_routing(tmp_path / "g", "car")
    assert stats["core_nodes"] == 0 and stats["dissection_nodes"] > stats["nodes"] // 2
    g = RoadGraph.load(tmp_path / "g", "car")
    tg = prepare.turn_graph(g.arrays, "car")
    n = stats["nodes"]
    m = coo_matrix((tg["arc_w"].astype(float), (tg["from"], tg["to"])), shape=(n, n)).tocsr()
    q = prepare.ch_query(g)
    rng = np.random.default_rng(3)
    sources = rng.integers(0, n, 8)
    ref = dijkstra(m, indices=sources, directed=True)
    zero = np.zeros(1)
    for k, s in enumerate(sources):
        for t in rng.integers(0, n, 25):
            found = q.route(np.array([s], np.int32), zero, np.array([t], np.int32), zero)
            assert found is not None and found[0] == ref[k, t]
