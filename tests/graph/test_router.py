"""Point-to-point queries on the hierarchy cost exactly what a plain Dijkstra (networkx) finds on the same graph:
the car's edge-based graph with its turn costs, the walk's node graph without."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from lds.graph.prepare import turn_graph
from lds.graph.snap import Snap


def _directions(g, snap: Snap, leave: bool) -> list[tuple[int, float]]:
    """The directed edges at a snapped point with the fraction along each; a point on a road node may also
    leave by any edge out of it (``leave``) or be reached by any edge into it, with no turn."""
    out = [(snap.edge, snap.fraction)]
    if g.edge_rev[snap.edge] >= 0:
        out.append((int(g.edge_rev[snap.edge]), 1.0 - snap.fraction))
    length = float(g.edge_length[snap.edge])
    node = (int(g.edge_src[snap.edge]) if snap.fraction * length <= 0.5 else
            int(g.edge_dst[snap.edge]) if (1 - snap.fraction) * length <= 0.5 else -1)
    if node >= 0:
        ends = np.asarray(g.edge_src if leave else g.edge_dst)
        out += [(int(e), 0.0 if leave else 1.0) for e in np.flatnonzero(ends == node)]
    return out


class Reference:
    """Plain Dijkstra on the graph the hierarchy was built from, with the same partial-edge semantics."""

    def __init__(self, g):
        self.g = g
        self.w = np.asarray(g.ch_edge_w, dtype=float)
        self.G = nx.DiGraph()
        if g.router.edge_based:
            tg = turn_graph(g.arrays, g.mode)
            self.G.add_weighted_edges_from(zip(tg["from"].tolist(), tg["to"].tolist(), tg["arc_w"].tolist()))
        else:
            for e, (u, v) in enumerate(zip(g.edge_src.tolist(), g.edge_dst.tolist())):
                if not self.G.has_edge(u, v) or self.G[u][v]["weight"] > self.w[e]:
                    self.G.add_edge(u, v, weight=self.w[e])

    def cost_ms(self, a: Snap, b: Snap) -> float:
        g, w = self.g, self.w
        eb = g.router.edge_based  # edge-based sources leave a node, node-based ones arrive at it
        src, tgt = _directions(g, a, leave=eb), _directions(g, b, leave=not eb)
        best = math.inf
        for se, sf in src:
            for te, tf in tgt:
                if se == te and tf >= sf:
                    best = min(best, (tf - sf) * w[se])
        H = self.G
        try:
            return min(best, self._search(H, src, tgt))
        finally:
            H.remove_node("S")

    def _search(self, H, src, tgt) -> float:
        g, w, best = self.g, self.w, math.inf
        if g.router.edge_based:  # nodes are edges: reaching node e means having driven all of e
            for se, sf in src:  # an edge may be listed twice (the snapped one, and out of the node): keep the cheaper
                c = (1 - sf) * w[se]
                if not H.has_edge("S", se) or H["S"][se]["weight"] > c:
                    H.add_edge("S", se, weight=c)
            dist = nx.single_source_dijkstra_path_length(H, "S")
            starts = {se for se, _ in src}
            for te, tf in tgt:
                if te in starts:  # arriving on the start edge again means going round a loop first
                    loops = [dist[p] + H[p][te]["weight"] for p in H.predecessors(te) if p != "S" and p in dist]
                    reach = min(loops, default=math.inf)
                else:
                    reach = dist.get(te, math.inf)
                best = min(best, reach - (1 - tf) * w[te])
        else:
            for se, sf in src:
                v, c = int(g.edge_dst[se]), (1 - sf) * w[se]
                if not H.has_edge("S", v) or H["S"][v]["weight"] > c:
                    H.add_edge("S", v, weight=c)
            dist = nx.single_source_dijkstra_path_length(H, "S")
            for te, tf in tgt:
                best = min(best, dist.get(int(g.edge_src[te]), math.inf) + tf * w[te])
        return best


def _random_points(g, rng, n):
    lon, lat = np.asarray(g.node_lon), np.asarray(g.node_lat)
    idx = rng.integers(len(lon), size=n)
    return np.column_stack([lon[idx] + rng.normal(0, 4e-4, n), lat[idx] + rng.normal(0, 4e-4, n)])


def assert_costs_equal_plain_dijkstra(g, seed: int, n_points: int) -> int:
    """Route random point pairs on ``g``; every cost must equal the reference's. Returns the pairs routed."""
    ref = Reference(g)
    rng = np.random.default_rng(seed)
    pts = _random_points(g, rng, n_points)
    found = 0
    for p, q in zip(pts[0::2], pts[1::2]):
        a, b = g.snapper.snap(*p, 2000), g.snapper.snap(*q, 2000)
        leg = g.router.leg(a, b)
        expected = ref.cost_ms(a, b)
        if leg is None:
            assert math.isinf(expected)
            continue
        found += 1
        assert leg.weight_s * 1000 == pytest.approx(expected, abs=1.0)
    return found


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_costs_equal_plain_dijkstra(mode, car, walk):
    assert assert_costs_equal_plain_dijkstra(car if mode == "car" else walk, seed=7, n_points=240) > 100


def _on_edge(g, e: int, frac: float) -> Snap:
    a = g.edge_geom_off[e]
    lon, lat = float(g.geom_lon[a]), float(g.geom_lat[a])  # location is not used by the router
    return Snap(int(e), frac, lon, lat, 0.0, (lon, lat))


def test_same_edge_ahead_behind_and_loops(car, walk):
    """Target ahead on the source edge: straight along it; behind on a two-way road: the other direction;
    behind on a one-way road: round the block, exactly as Dijkstra says."""
    for g in (car, walk):
        ref = Reference(g)
        w = np.asarray(g.ch_edge_w, dtype=float)
        oneway = np.flatnonzero(np.asarray(g.edge_rev) < 0)
        twoway = np.flatnonzero(np.asarray(g.edge_rev) >= 0)
        for e in list(oneway[:15]) + list(twoway[:15]):
            ahead = g.router.leg(_on_edge(g, e, 0.2), _on_edge(g, e, 0.7))
            assert ahead.weight_s * 1000 == pytest.approx(0.5 * w[e], abs=1.0)
            assert list(ahead.edges) == [e]
            a, b = _on_edge(g, e, 0.7), _on_edge(g, e, 0.2)
            behind = g.router.leg(a, b)
            expected = ref.cost_ms(a, b)
            if behind is None:
                assert math.isinf(expected)
            else:
                assert behind.weight_s * 1000 == pytest.approx(expected, abs=1.0)
                if g.edge_rev[e] >= 0:
                    assert list(behind.edges) == [g.edge_rev[e]]
                else:
                    assert len(behind.edges) > 1 and behind.edges[0] == e and behind.edges[-1] == e


def test_path_is_connected_and_weight_adds_up(car):
    rng = np.random.default_rng(3)
    pts = _random_points(car, rng, 60)
    w = np.asarray(car.ch_edge_w, dtype=float)
    for p, q in zip(pts[0::2], pts[1::2]):
        a, b = car.snapper.snap(*p, 2000), car.snapper.snap(*q, 2000)
        leg = car.router.leg(a, b)
        if leg is None or len(leg.edges) < 2:
            continue
        e = leg.edges
        assert (np.asarray(car.edge_dst)[e[:-1]] == np.asarray(car.edge_src)[e[1:]]).all()
        total = ((1 - leg.first_frac) * w[e[0]] + w[e[1:-1]].sum() + leg.last_frac * w[e[-1]]
                 + leg.turn_s.sum() * 1000)
        assert leg.weight_s * 1000 >= total - 1.0  # weight = durations + turns (+ restricted-entry weight)


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_upward_searches_settle_what_plain_dijkstra_does(mode, car, walk):
    """The alternatives' full upward searches (Router.upward, in the query's labels) settle the nodes, at the costs,
    that a plain bounded Dijkstra over the upward arcs does, then leave the query answering as before."""
    from lds.graph._search import bounded_dijkstra

    g = {"car": car, "walk": walk}[mode]
    router = g.router
    n = len(g.ch_fwd_off) - 1
    rng = np.random.default_rng(4)
    pts = _random_points(g, rng, 2)
    a, b = g.snapper.snap(*pts[0], 2000), g.snapper.snap(*pts[1], 2000)
    before = router.leg(a, b)
    dist = np.zeros(n, np.uint64)  # a cost array of lds.graph.scratch: every cost +inf
    for forward in (True, False):
        off, adj, w = ((g.ch_fwd_off, g.ch_fwd_head, g.ch_fwd_w) if forward else (g.ch_bwd_off, g.ch_bwd_tail, g.ch_bwd_w))
        w = np.asarray(w, np.float32)  # exact: the weights of a city are far below 2**24 ms
        for _ in range(15):
            seeds = rng.integers(0, n, 2).astype(np.int32)
            costs = rng.uniform(-500, 2000, 2)
            limit = float(rng.uniform(1e4, 3e5))
            nodes, found = router.upward(forward, seeds, costs, limit)  # the graph's nodes, in and out
            ref_nodes, ref_costs = bounded_dijkstra(np.asarray(off), np.asarray(adj), w, np.asarray(g.ch_rank)[seeds],
                                                    costs, limit, dist)  # on the hierarchy's own numbers
            ref_nodes = np.asarray(g.ch_node)[ref_nodes]
            assert np.array_equal(np.sort(nodes), np.sort(ref_nodes))
            assert dict(zip(nodes.tolist(), found.tolist())) == dict(zip(ref_nodes.tolist(), ref_costs.tolist()))
    after = router.leg(a, b)
    assert (before is None) == (after is None)
    assert before is None or (np.array_equal(before.edges, after.edges) and before.weight_s == after.weight_s)


def test_unreachable_gives_none(car):
    """A target that the largest component cannot reach yields None, not an exception."""
    G = nx.DiGraph(list(zip(car.edge_src.tolist(), car.edge_dst.tolist())))
    start = int(np.flatnonzero(np.asarray(car.node_scc) == car.largest_scc)[0])
    reach = nx.descendants(G, start) | {start}
    cut = [e for e in range(car.n_edges) if car.edge_src[e] not in reach and car.edge_dst[e] not in reach]
    if not cut:
        pytest.skip("every car edge of this extract is reachable from the largest component")
    src = int(np.flatnonzero(np.asarray(car.edge_src) == start)[0])
    assert car.router.leg(_on_edge(car, src, 0.5), _on_edge(car, cut[0], 0.5)) is None


def test_point_on_a_node_does_not_depend_on_the_edge_snapped(car):
    """A point exactly on a road node leaves and is reached by any edge there: which of the edges meeting at the
    node the snap picked changes nothing."""
    src, dst = np.asarray(car.edge_src), np.asarray(car.edge_dst)
    deg = np.bincount(src, minlength=car.n_nodes) + np.bincount(dst, minlength=car.n_nodes)
    rng = np.random.default_rng(2)
    checked = 0
    for v in rng.permutation(np.flatnonzero(deg >= 5))[:20]:
        snaps = [_on_edge(car, int(e), 0.0) for e in np.flatnonzero(src == v)]
        snaps += [_on_edge(car, int(e), 1.0) for e in np.flatnonzero(dst == v)]
        other = _on_edge(car, int(rng.integers(car.n_edges)), 0.5)
        there = {round(leg.weight_s, 3) if (leg := car.router.leg(s, other)) else None for s in snaps}
        back = {round(leg.weight_s, 3) if (leg := car.router.leg(other, s)) else None for s in snaps}
        assert len(there) == 1 and len(back) == 1
        checked += 1
    assert checked >= 10


def test_graph_without_hierarchy_is_unavailable(tmp_path):
    from lds.build.roads import write_graph
    from lds.errors import Unavailable
    from lds.graph.store import RoadGraph
    from lds.graph.synthetic import grid_graph

    write_graph(grid_graph(3, 3), tmp_path / "g")
    with pytest.raises(Unavailable) as err:
        RoadGraph.load(tmp_path / "g", "car").router  # noqa: B018
    assert err.value.status == 503 and "lds build" in err.value.message


@pytest.fixture(scope="module", params=["car", "walk"])
def cored(request, roads_dir, tmp_path_factory, monkeypatch_module):
    """Monaco's graph of one mode with contraction stopped early, so queries meet a core searched by Dijkstra
    (what large grid-like networks get in production)."""
    import shutil

    from lds.graph import prepare
    from lds.graph.store import RoadGraph

    mode = request.param
    out = tmp_path_factory.mktemp(f"core-{mode}") / mode
    shutil.copytree(roads_dir / "graph" / mode, out)
    monkeypatch_module.setattr(prepare, "CORE_DEGREE", 6)
    monkeypatch_module.setattr(prepare, "NESTED_DISSECTION", False)
    stats = prepare.prepare_routing(out, mode)
    assert stats["core_nodes"] > 100  # a real core, not a few leftovers
    return RoadGraph.load(out, mode)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_costs_equal_plain_dijkstra_through_a_core(cored):
    assert assert_costs_equal_plain_dijkstra(cored, seed=11, n_points=200) > 80


def _in_graph_numbers(src, out) -> None:
    """Copy the hierarchy in ``src`` to ``out`` renumbered as builds before model version 5 wrote it: nodes by the
    graph's numbers (no ``ch_node``), each node's lists where the graph node's number puts them, arcs renumbered."""
    import shutil

    shutil.copytree(src, out)
    a = {p.stem: np.load(p) for p in out.glob("ch_*.npy")}
    rank, node = a["ch_rank"].astype(np.int64), a["ch_node"].astype(np.int64)
    arc_of = []  # old arc id of each new arc position, forward lists then backward ones
    base = 0
    for side, adj in (("fwd", "ch_fwd_head"), ("bwd", "ch_bwd_tail")):
        off = a[f"ch_{side}_off"]
        deg = np.diff(off)[rank]  # graph node m's list is hierarchy node rank[m]'s
        new_off = np.concatenate([[0], np.cumsum(deg)])
        take = np.concatenate([np.arange(off[r], off[r + 1]) for r in rank]).astype(np.int64)
        a[f"ch_{side}_off"] = new_off
        a[adj] = node[a[adj][take]].astype(np.int32)
        a[f"ch_{side}_w"] = a[f"ch_{side}_w"][take]
        arc_of.append(take + base)
        base += len(off) and int(off[-1])
    arc_of = np.concatenate(arc_of)
    new_id = np.empty_like(arc_of)
    new_id[arc_of] = np.arange(len(arc_of))
    for name in ("ch_arc_c1", "ch_arc_c2", "ch_loop_c1", "ch_loop_c2"):
        x = a[name][arc_of] if name.startswith("ch_arc") else a[name][rank]
        a[name] = np.where(x >= 0, new_id[np.maximum(x, 0)], x).astype(np.int32)
    for name in ("ch_arc_dur", "ch_arc_dist"):
        a[name] = a[name][arc_of]
    for name in ("ch_loop_w", "ch_loop_dur", "ch_loop_dist"):
        a[name] = a[name][rank]
    (out / "ch_node.npy").unlink()
    del a["ch_node"]
    for name, array in a.items():
        np.save(out / f"{name}.npy", array)


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_a_hierarchy_in_the_graphs_numbers_answers_the_same(mode, roads_dir, tmp_path):
    """Builds before the hierarchy was numbered by rank (no ``ch_node``) are served as before: the same routes,
    alternatives' via searches and matrices."""
    from lds.graph.store import RoadGraph
    from lds.routing_matrix import matrix_costs

    ranked = RoadGraph.load(roads_dir / "graph" / mode, mode)
    _in_graph_numbers(roads_dir / "graph" / mode, tmp_path / mode)
    plain = RoadGraph.load(tmp_path / mode, mode)
    assert "ch_node" in ranked.arrays and "ch_node" not in plain.arrays
    rng = np.random.default_rng(12)
    pts = _random_points(ranked, rng, 60)
    snaps = [ranked.snapper.snap(*p, 2000) for p in pts]
    for a, b in zip(snaps[::2], snaps[1::2], strict=True):
        x, y = ranked.router.leg(a, b), plain.router.leg(a, b)
        assert (x is None) == (y is None)
        if x is not None:
            assert np.array_equal(x.edges, y.edges) and x.weight_s == y.weight_s and x.first_frac == y.first_frac
        s_nodes, s_costs = ranked.router._ends(a, True)[2:]
        fx, cx = ranked.router.upward(True, s_nodes, s_costs, 3e5)
        fy, cy = plain.router.upward(True, s_nodes, s_costs, 3e5)
        assert dict(zip(fx.tolist(), cx.tolist())) == dict(zip(fy.tolist(), cy.tolist()))
    dx, lx = matrix_costs(ranked, snaps[:12], snaps[12:24])
    dy, ly = matrix_costs(plain, snaps[:12], snaps[12:24])
    assert np.array_equal(dx, dy, equal_nan=True) and np.array_equal(lx, ly, equal_nan=True)
