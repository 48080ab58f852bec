"""The isolines' bounded search, checked against a plain networkx Dijkstra on the same arrays."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from lds.graph.search import bounded_search, expand_ranges, origin_starts, search_index


def reference_costs(graph, snap, limit: float, weight: str) -> dict[int, float]:
    """Costs from the snapped point by networkx: a virtual source joined to both ends of the snapped edge."""
    w = np.asarray(graph.edge_time if weight == "time" else graph.edge_length, dtype=float)
    src, dst = np.asarray(graph.edge_src), np.asarray(graph.edge_dst)
    g = nx.DiGraph()
    for u, v, c in zip(src.tolist(), dst.tolist(), w.tolist(), strict=True):
        if not g.has_edge(u, v) or g[u][v]["w"] > c:
            g.add_edge(u, v, w=c)
    e, f = snap.edge, snap.fraction
    g.add_edge("origin", int(dst[e]), w=(1 - f) * w[e])
    twin = int(graph.edge_rev[e])
    if twin >= 0:
        g.add_edge("origin", int(dst[twin]), w=f * w[twin])
    costs = nx.single_source_dijkstra_path_length(g, "origin", cutoff=limit, weight="w")
    costs.pop("origin")
    return costs


def random_snaps(graph, n: int, seed: int):
    rng = np.random.default_rng(seed)
    lon, lat = np.asarray(graph.node_lon), np.asarray(graph.node_lat)
    for i in rng.choice(graph.n_nodes, n, replace=False):
        yield graph.snapper.snap(float(lon[i]) + 3e-4, float(lat[i]) - 2e-4, 500)


@pytest.mark.parametrize("mode, weight, limit", [("car", "time", 300), ("walk", "time", 600), ("car", "distance", 2000),
                                                 ("walk", "distance", 800)])
def test_costs_match_networkx(request, mode, weight, limit):
    graph = request.getfixturevalue(mode)
    for snap in random_snaps(graph, 12, seed=7):
        reach = bounded_search(graph, snap, limit, weight)
        expected = reference_costs(graph, snap, limit, weight)
        got = dict(zip(reach.nodes.tolist(), reach.cost.tolist(), strict=True))
        assert set(got) == set(expected)
        for node, cost in expected.items():
            assert got[node] == pytest.approx(cost, rel=1e-5, abs=1e-3)
        assert (reach.cost <= limit).all()
        assert len(np.unique(reach.nodes)) == len(reach.nodes)


def test_scratch_is_restored_between_searches(car):
    """A search leaves its lent cost array all zero bits (every cost +inf), so the next borrower starts clean."""
    index = search_index(car)
    for snap in random_snaps(car, 5, seed=3):
        bounded_search(car, snap, 600, "time")
        with index.costs.lend() as costs:
            assert not costs.any()


def test_search_is_bounded(car):
    snap = next(random_snaps(car, 1, seed=11))
    small = bounded_search(car, snap, 60, "time")
    large = bounded_search(car, snap, 600, "time")
    assert 0 < len(small.nodes) < len(large.nodes)
    assert set(small.nodes.tolist()) <= set(large.nodes.tolist())


def test_origin_starts_cover_both_directions_of_a_two_way_road(walk, car):
    index = search_index(walk)
    two_way = int(np.flatnonzero(np.asarray(walk.edge_rev) >= 0)[0])
    snap = walk.snapper.snap(*_midpoint(walk, two_way), 50)
    starts = origin_starts(index, snap)
    assert len(starts) == 2
    (e1, f1, c1), (e2, f2, c2) = starts
    assert e2 == walk.edge_rev[e1]
    assert f1 + f2 == pytest.approx(1.0)
    assert c1 == c2 == 0.0
    one_way = int(np.flatnonzero((np.asarray(car.edge_rev) < 0) & (np.asarray(car.edge_length) > 50))[0])
    snap = car.snapper.snap(*_midpoint(car, one_way), 50)
    if car.edge_rev[snap.edge] < 0:
        assert len(origin_starts(search_index(car), snap)) == 1


def _midpoint(graph, edge: int) -> tuple[float, float]:
    lon, lat = graph.edge_coords(edge)
    k = len(lon) // 2
    return float((lon[k - 1] + lon[k]) / 2), float((lat[k - 1] + lat[k]) / 2)


def test_expand_ranges():
    out = expand_ranges(np.array([5, 0, 10]), np.array([2, 0, 3]))
    assert out.tolist() == [5, 6, 10, 11, 12]
    assert expand_ranges(np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == []


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_edge_boxes_answer_as_a_scan_of_every_edge(request, mode):
    """The blocked box query returns exactly the edges whose bounds meet the box, ascending, as testing every edge
    would: small and large boxes, boxes beside the data, a point box, and a set stored in another order."""
    from lds.graph.search import BOX_BLOCK, EdgeBoxes

    graph = request.getfixturevalue(mode)
    ids = np.arange(len(graph.edge_src), dtype=np.int32)
    every = EdgeBoxes.of(graph, ids[::3])
    assert len(every.edges) > 4 * BOX_BLOCK  # several blocks
    assert not np.array_equal(every.edges, np.sort(every.edges))  # stored in Z-order, not by id
    shuffled = EdgeBoxes(every.edges[::-1].copy(), every.bounds[:, ::-1].copy())  # blocks of scattered edges
    lo_lon, lo_lat, hi_lon, hi_lat = every.bounds
    rng = np.random.default_rng(5)
    x0, y0, x1, y1 = lo_lon.min(), lo_lat.min(), hi_lon.max(), hi_lat.max()
    boxes = [(x0, y0, x1, y1), (x1 + 0.01, y0, x1 + 0.02, y1), (x0 - 1, y0 - 1, x0 - 0.5, y0 - 0.5)]
    for _ in range(40):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        w = rng.uniform(0, 0.01)
        boxes.append((cx - w, cy - w / 2, cx + w, cy + w / 2))
    boxes.append((float(lo_lon[7]), float(lo_lat[7]), float(lo_lon[7]), float(lo_lat[7])))
    for box in boxes:
        meets = (hi_lon >= box[0]) & (lo_lon <= box[2]) & (hi_lat >= box[1]) & (lo_lat <= box[3])
        expected = np.sort(every.edges[meets])
        assert np.array_equal(every.in_box(box), expected)
        assert np.array_equal(shuffled.in_box(box), expected)
    assert len(every.in_box(boxes[0])) == len(every.edges)
    assert len(every.in_box(boxes[1])) == 0 and len(EdgeBoxes.of(graph, ids[:0]).in_box(boxes[0])) == 0


@pytest.mark.parametrize("group", [1, 4, 64])
def test_in_box_less_the_drawn_roads(group):
    """The C scan (groups of blocks, then blocks, then edges) finds the edges :meth:`EdgeBoxes.in_box` does, less the
    drawn roads and their twins when asked, and leaves its mark array as it found it."""
    from lds.graph._search import edges_in_box

    from lds.graph.search import BOX_BLOCK, EdgeBoxes

    rng = np.random.default_rng(3)
    n = 5000
    lon0, lat0 = rng.uniform(7.0, 7.5, n), rng.uniform(43.5, 44.0, n)
    bounds = np.vstack([lon0, lat0, lon0 + rng.uniform(0, 0.01, n), lat0 + rng.uniform(0, 0.01, n)])
    ids = rng.permutation(2 * n)[:n].astype(np.int32)
    order = np.lexsort((bounds[1], bounds[0]))  # some locality, as the Z-order gives
    boxes = EdgeBoxes(np.ascontiguousarray(ids[order]), np.ascontiguousarray(bounds[:, order]))
    blocks = boxes._blocks()
    starts = np.arange(0, blocks.shape[1], group)
    groups = np.ascontiguousarray(np.stack([np.minimum.reduceat(blocks[0], starts),
                                            np.minimum.reduceat(blocks[1], starts),
                                            np.maximum.reduceat(blocks[2], starts),
                                            np.maximum.reduceat(blocks[3], starts)]))
    rev = np.full(2 * n, -1, dtype=np.int32)
    rev[0:2 * n:2], rev[1:2 * n:2] = np.arange(1, 2 * n, 2), np.arange(0, 2 * n, 2)  # twins 2k, 2k + 1
    mark = np.zeros(2 * n, dtype=np.uint8)
    lo_lon, lo_lat, hi_lon, hi_lat = boxes.bounds
    for bbox in ((7.1, 43.6, 7.2, 43.7), (7.0, 43.5, 7.6, 44.1), (8.0, 45.0, 8.1, 45.1), (7.3, 43.8, 7.3001, 43.8001)):
        meets = (hi_lon >= bbox[0]) & (lo_lon <= bbox[2]) & (hi_lat >= bbox[1]) & (lo_lat <= bbox[3])
        inside = np.sort(boxes.edges[meets])
        assert np.array_equal(boxes.in_box(bbox), inside)
        drawn = rng.choice(inside, size=len(inside) // 3, replace=False) if len(inside) else inside
        expected = inside[~np.isin(inside, np.concatenate([drawn, rev[drawn]]))]
        drawn = np.ascontiguousarray(drawn, dtype=np.int32)
        got = edges_in_box(boxes.edges, boxes.bounds, blocks, groups, BOX_BLOCK, group, *bbox, drawn, rev, mark)
        assert got.dtype == np.int32 and np.array_equal(got, expected)
        assert np.array_equal(boxes.in_box(bbox, drawn, rev, mark), expected)
        assert not mark.any()
