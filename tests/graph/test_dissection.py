"""Nested dissection finishes a contraction that node priorities leave dense: no core, exact routes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_router import assert_costs_equal_plain_dijkstra

from lds.graph import _dissection
from lds.graph.dissection import CUT_SHARE, DIRECTIONS, LEAF_NODES, PER_PART, nested_dissection


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
    sizes = _dissection.separator_sizes(lo.astype(np.int32), hi.astype(np.int32), n)
    for k in range(n + 1):
        cross = (lo < k) & (hi >= k)
        assert sizes[k] == min(len(np.unique(lo[cross])), len(np.unique(hi[cross])))


def test_separators_by_part_are_no_larger(monkeypatch):
    """Each connected part of a cut's crossing arcs giving up its smaller side makes the top separator (the last
    cell of the order) no larger than the smaller side of the whole cut (each direction offers the same cut both
    ways); the cells number runs of the order, which is the same as without them."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(1)
    n = 2000
    x, y = rng.uniform(0, 1000, n), rng.uniform(0, 1000, n)
    near = cKDTree(np.c_[x, y]).query(np.c_[x, y], k=4)[1][:, 1:]  # arcs one way to 3 nearest neighbours
    keep = rng.random(3 * n) < 0.8
    tails, heads = np.repeat(np.arange(n), 3)[keep].astype(np.int32), near.ravel()[keep].astype(np.int32)
    nodes = np.arange(n, dtype=np.int32)
    order, cells = nested_dissection(nodes, tails, heads, x, y, cells=True)
    assert np.array_equal(order, nested_dissection(nodes, tails, heads, x, y))
    assert (np.diff(cells) >= 0).all() and cells[0] == 0
    by_part = np.count_nonzero(cells == cells[-1])
    monkeypatch.setattr("lds.graph.dissection.PER_PART", False)
    order, cells = nested_dissection(nodes, tails, heads, x, y, cells=True)
    assert 0 < by_part <= np.count_nonzero(cells == cells[-1])


def _grid(w: int, h: int) -> tuple[np.ndarray, ...]:
    """A w x h grid of nodes with 4-neighbour arcs both ways: (nodes, tails, heads, x, y)."""
    xs, ys = np.meshgrid(np.arange(float(w)), np.arange(float(h)))
    px, py = xs.ravel(), ys.ravel()
    ids = np.arange(w * h)
    right, up = ids[px < w - 1], ids[py < h - 1]
    return (ids.astype(np.int32), np.concatenate([right, right + 1, up, up + w]).astype(np.int32),
            np.concatenate([right + 1, right, up + w, up]).astype(np.int32), px, py)


def test_grid_cut_runs_between_two_columns():
    """On a 20x10 grid of nodes (4-neighbour arcs) the first cut is a straight line across the short side: its
    separator, ordered last, is one column of 10 nodes, with the halves within the balance limit."""
    nodes, tails, heads, px, py = _grid(20, 10)
    order = nested_dissection(nodes, tails, heads, px, py)
    top = order[-10:]
    assert len(np.unique(px[top])) == 1 and sorted(py[top]) == list(range(10))
    assert 6 <= px[top[0]] <= 13
    assert len(np.unique(px[order[-11:]])) == 2  # the 11th from last belongs to a half's separator


def _parts_separator(ends_l: np.ndarray, ends_r: np.ndarray, n: int) -> np.ndarray:
    """The separator of crossing arcs (left end, right end): each connected part of them gives up its ends on the
    side where it has fewer (the left one on a tie)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    part = connected_components(coo_matrix((np.ones(len(ends_l)), (ends_l, ends_r)), shape=(n, n)),
                                directed=False)[1]
    left, right = np.unique(ends_l), np.unique(ends_r)
    n_l = np.bincount(part[left], minlength=n)
    n_r = np.bincount(part[right], minlength=n)
    return np.union1d(left[n_l[part[left]] <= n_r[part[left]]], right[n_r[part[right]] < n_l[part[right]]])


def _reference_order(nodes, tails, heads, x, y):
    """The dissection written plainly in numpy (recursive, a sort per cell and direction), as it was before the
    C++ version: the order to match."""
    n = len(nodes)
    px, py = np.asarray(x)[nodes], np.asarray(y)[nodes]
    at, ah = np.searchsorted(nodes, tails), np.searchsorted(nodes, heads)

    def crossing(side, at, ah):
        cross = side[at] != side[ah]
        return (cross, np.where(side[at[cross]] == 0, at[cross], ah[cross]),
                np.where(side[at[cross]] == 0, ah[cross], at[cross]))

    def cut(ids, at, ah):
        c = len(ids)
        if c <= LEAF_NODES:
            return [ids]
        k = np.arange(c + 1)
        balance = np.abs(k - c / 2)
        allowed = (k >= CUT_SHARE * c) & (k <= (1 - CUT_SHARE) * c)
        rank = np.zeros(n, dtype=np.int64)
        best = None
        for dx, dy in DIRECTIONS:
            coord = np.round(dx * px[ids] + dy * py[ids], 2)
            order = np.argsort(coord, kind="stable")
            rank[ids[order]] = np.arange(c)
            lo, hi = np.minimum(rank[at], rank[ah]), np.maximum(rank[at], rank[ah])
            size = np.array([min(len(np.unique(lo[(lo < j) & (hi >= j)])), len(np.unique(hi[(lo < j) & (hi >= j)])))
                             for j in range(c + 1)])
            gap = allowed.copy()
            gap[1:c] &= coord[order][1:] != coord[order][:-1]
            cand = np.flatnonzero(gap if gap.any() else allowed)
            pick = cand[np.lexsort((balance[cand], size[cand]))[0]]
            pick_size = size[pick]
            if PER_PART:  # the chosen cut of each direction sized as it will be cut
                side = np.zeros(n, dtype=np.int8)
                side[ids[order[pick:]]] = 1
                pick_size = len(_parts_separator(*crossing(side, at, ah)[1:], n))
            if best is None or (pick_size, balance[pick]) < best[0]:
                best = ((pick_size, balance[pick]), order, pick)
        side = np.zeros(n, dtype=np.int8)
        side[ids[best[1][best[2]:]]] = 1
        cross, ends_l, ends_r = crossing(side, at, ah)
        if PER_PART:
            sep = _parts_separator(ends_l, ends_r, n)
        else:
            ends_l, ends_r = np.unique(ends_l), np.unique(ends_r)
            sep = ends_l if len(ends_l) <= len(ends_r) else ends_r
        free = ~np.isin(ids, sep)
        keep = ~cross & ~np.isin(at, sep) & ~np.isin(ah, sep)
        halves = [cut(ids[free & (side[ids] == s)], at[keep & (side[at] == s)], ah[keep & (side[at] == s)])
                  for s in (0, 1)]
        return halves[0] + halves[1] + [sep]

    return nodes[np.concatenate(cut(np.arange(n), at, ah))]


@pytest.mark.parametrize("seed", [1, 2])
def test_order_equals_plain_numpy_dissection(seed):
    """The C++ dissection gives exactly the order of the plain one, on random points (arcs to near neighbours,
    ids with gaps) and on a jittered grid whose columns share positions (cuts only between them)."""
    rng = np.random.default_rng(seed)
    n = 600
    x, y = rng.uniform(0, 1000, n), rng.uniform(0, 1000, n)
    a = rng.integers(0, n, 3000)
    b = np.minimum(a + rng.integers(1, 30, 3000), n - 1)
    a, b = a[a != b], b[a != b]
    nodes = np.flatnonzero(rng.random(n) < 0.8).astype(np.int32)
    inside = np.isin(a, nodes) & np.isin(b, nodes)
    tails, heads = a[inside].astype(np.int32), b[inside].astype(np.int32)
    assert np.array_equal(nested_dissection(nodes, tails, heads, x, y), _reference_order(nodes, tails, heads, x, y))
    nodes, tails, heads, px, py = _grid(23, 17)
    px = px + np.repeat(rng.integers(0, 2, 17), 23) * 0.001  # some rows off by a millimetre: one position
    assert np.array_equal(nested_dissection(nodes, tails, heads, px, py),
                          _reference_order(nodes, tails, heads, px, py))


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
    from lds.graph.router import hierarchy_query
    from lds.graph.store import RoadGraph
    from lds.graph.synthetic import grid_graph

    write_graph(grid_graph(40, 40, jitter=0.1, seed=2), tmp_path / "g")
    stats = prepare.prepare_routing(tmp_path / "g", "car")
    assert stats["core_nodes"] == 0 and stats["dissection_nodes"] > stats["nodes"] // 2
    g = RoadGraph.load(tmp_path / "g", "car")
    tg = prepare.turn_graph(g.arrays, "car")
    n = stats["nodes"]
    m = coo_matrix((tg["arc_w"].astype(float), (tg["from"], tg["to"])), shape=(n, n)).tocsr()
    q = hierarchy_query(g)
    rng = np.random.default_rng(3)
    sources = rng.integers(0, n, 8)
    ref = dijkstra(m, indices=sources, directed=True)
    zero = np.zeros(1)
    for k, s in enumerate(sources):
        for t in rng.integers(0, n, 25):
            found = q.route(np.array([s], np.int32), zero, np.array([t], np.int32), zero)
            assert found is not None and found[0] == ref[k, t]
