"""The routing hierarchy written at build time: storage, the turn model of the car (OSRM car.lua semantics) and
the contraction's invariants."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lds.build.roads import write_graph
from lds.graph import _turns
from lds.graph.prepare import CAR_TURN_BIAS, CAR_TURN_PENALTY_S, CAR_UTURN_PENALTY_S, prepare_routing, turn_graph
from lds.graph.snap import Snap
from lds.graph.store import RoadGraph
from lds.graph.synthetic import grid_graph


def osrm_turn_s(angle: float) -> float:
    """car.lua process_turn(), transcribed: the documented spec the turn costs must follow."""
    if angle >= 0:
        return CAR_TURN_PENALTY_S / (1 + math.exp(-((13 / CAR_TURN_BIAS) * angle / 180 - 6.5 * CAR_TURN_BIAS)))
    return CAR_TURN_PENALTY_S / (1 + math.exp(-((13 * CAR_TURN_BIAS) * -angle / 180 - 6.5 / CAR_TURN_BIAS)))


def test_hierarchy_is_stored_memory_mapped(car, roads_dir):
    for name in ("ch_fwd_off", "ch_fwd_head", "ch_bwd_off", "ch_arc_c1", "ch_edge_w", "turn_bearing_start"):
        assert isinstance(getattr(car, name), np.memmap)
    meta = json.loads((roads_dir / "graph" / "car" / "ch.json").read_text())
    assert meta["kind"] == "edge" and meta["nodes"] == car.n_edges and meta["turn_costs"]
    walk_meta = json.loads((roads_dir / "graph" / "walk" / "ch.json").read_text())
    assert walk_meta["kind"] == "node" and not walk_meta["turn_costs"]


def test_hierarchy_is_numbered_by_rank(car):
    """The hierarchy's node k is the graph's node of rank k (ch_node), and ch_rank maps the graph's back."""
    rank, node = np.asarray(car.ch_rank), np.asarray(car.ch_node)
    assert len(rank) == len(node) == car.n_edges  # edge-based: a node per road edge
    assert np.array_equal(np.sort(rank), np.arange(len(rank)))
    assert np.array_equal(rank[node], np.arange(len(rank)))


def test_arcs_go_up_the_hierarchy_and_shortcuts_unpack(car):
    n = len(car.ch_rank)
    rank = np.arange(n)  # the hierarchy's own numbers are its ranks
    tail_f = np.repeat(np.arange(n), np.diff(car.ch_fwd_off))
    assert (rank[np.asarray(car.ch_fwd_head)] > rank[tail_f]).all()
    head_b = np.repeat(np.arange(n), np.diff(car.ch_bwd_off))
    assert (rank[np.asarray(car.ch_bwd_tail)] > rank[head_b]).all()
    heads = np.concatenate([car.ch_fwd_head, head_b])
    w = np.concatenate([car.ch_fwd_w, car.ch_bwd_w]).astype(np.int64)
    c1, c2 = np.asarray(car.ch_arc_c1), np.asarray(car.ch_arc_c2)
    sc = np.flatnonzero(c1 >= 0)
    assert len(sc) > 0
    assert (w[sc] == w[c1[sc]] + w[c2[sc]]).all()  # a shortcut weighs what its halves do
    assert (heads[c2[sc]] == heads[sc]).all()  # and ends where its second half ends
    assert (rank[heads[c1[sc]]] < np.minimum(rank[heads[sc]], rank[heads[c2[sc]]] + n)).all()


def test_car_u_turns_only_where_osrm_allows_them(car):
    tg = turn_graph(car.arrays, "car")
    src, dst = np.asarray(car.edge_src), np.asarray(car.edge_dst)
    n = car.n_nodes
    indeg = np.bincount(dst, minlength=n)
    outdeg = np.bincount(src, minlength=n)
    u = dst[tg["to"]] == src[tg["from"]]
    via = dst[tg["from"]][u]
    # allowed only at dead ends, where it is the only exit left (restrictions), or where it is the only way in
    other_exits = np.bincount(tg["from"][~u], minlength=car.n_edges)[tg["from"][u]]
    assert ((outdeg[via] == 1) | (indeg[via] <= 1) | (other_exits == 0)).all()
    assert (tg["turn_ms"][u] >= CAR_UTURN_PENALTY_S * 1000).all()
    # every two-way dead end lets a car turn back
    rev = np.asarray(car.edge_rev)
    dead = np.flatnonzero((outdeg == 1) & (indeg == 1))
    into = [int(np.flatnonzero(dst == v)[0]) for v in dead if rev[np.flatnonzero(dst == v)[0]] >= 0]
    pairs = set(zip(tg["from"].tolist(), tg["to"].tolist()))
    assert into and all((e, int(rev[e])) in pairs for e in into)


def test_turn_restrictions_are_applied(car):
    tg = turn_graph(car.arrays, "car")
    way = np.asarray(car.edge_way)
    dst, src = np.asarray(car.edge_dst), np.asarray(car.edge_src)
    frm_way, to_way = way[tg["from"]], way[tg["to"]]
    at = dst[tg["from"]]
    checked = 0
    for f, v, t, only in zip(car.restr_from_way, car.restr_via_node, car.restr_to_way, car.restr_only):
        here = (at == v) & (frm_way == f)
        if not here.any():
            continue
        checked += 1
        if only:
            assert (to_way[here] == t).all()
        else:
            assert not (to_way[here] == t).any()
    assert checked >= 10
    assert len(np.unique(dst[np.isin(way, car.restr_from_way)])) > 0 and len(src) == car.n_edges


def _plus_intersection(tmp_path, restrictions=()):
    """A 3x3 grid; node 4 is the centre crossing of Row 1 (way 2) and Column 1 (way 5)."""
    g = grid_graph(3, 3, spacing_m=100, arterial_every=100)
    if restrictions:
        r = np.array(restrictions, dtype=np.int64)
        g.arrays.update(restr_from_way=r[:, 0], restr_via_node=r[:, 1].astype(np.int32), restr_to_way=r[:, 2],
                        restr_only=r[:, 3].astype(bool))
    out = tmp_path / "grid"
    write_graph(g, out)
    prepare_routing(out, "car")
    return RoadGraph.load(out, "car")


def _edge(g, a, b):
    return int(np.flatnonzero((np.asarray(g.edge_src) == a) & (np.asarray(g.edge_dst) == b))[0])


def test_turn_costs_follow_car_lua(tmp_path):
    g = _plus_intersection(tmp_path)
    tg = turn_graph(g.arrays, "car")
    cost = {(int(f), int(t)): c / 1000 for f, t, c in zip(tg["from"], tg["to"], tg["turn_ms"])}
    north = _edge(g, 1, 4)  # driving north into the centre
    straight, right, left = _edge(g, 4, 7), _edge(g, 4, 5), _edge(g, 4, 3)
    assert cost[(north, straight)] == pytest.approx(osrm_turn_s(0), abs=2e-3)
    assert cost[(north, right)] == pytest.approx(osrm_turn_s(90), abs=0.05)
    assert cost[(north, left)] == pytest.approx(osrm_turn_s(-90), abs=0.05)
    assert cost[(north, straight)] < cost[(north, right)] < cost[(north, left)]
    assert (north, _edge(g, 4, 1)) not in cost  # no U-turn at an ordinary crossing
    # the corner (two roads meet): no angle penalty; its dead-end-free corner forbids U-turns too
    assert cost[(_edge(g, 1, 0), _edge(g, 0, 3))] == 0
    assert (_edge(g, 1, 0), _edge(g, 0, 1)) not in cost


def _transitions(path):
    return list(zip(path.edges[:-1].tolist(), path.edges[1:].tolist()))


def test_restriction_reroutes(tmp_path):
    free = _plus_intersection(tmp_path / "a")
    a_edge, b_edge, east = _edge(free, 1, 4), _edge(free, 4, 3), _edge(free, 4, 5)
    snap = lambda e: Snap(e, 0.5, 0.0, 0.0, 0.0, (0.0, 0.0))
    direct = free.router.leg(snap(a_edge), snap(b_edge))
    assert list(direct.edges) == [a_edge, b_edge]
    # no_left_turn from Column 1 (way 5) onto Row 1 (way 2) at the centre (node 4)
    banned = _plus_intersection(tmp_path / "b", [(5, 4, 2, 0)])
    detour = banned.router.leg(snap(a_edge), snap(b_edge))
    assert detour is not None and (a_edge, b_edge) not in _transitions(detour) and detour.weight_s > direct.weight_s
    # only_straight_on along Column 1: turning right from it is no longer possible either
    assert _transitions(free.router.leg(snap(a_edge), snap(east))) == [(a_edge, east)]
    only = _plus_intersection(tmp_path / "c", [(5, 4, 5, 1)])
    forced = only.router.leg(snap(a_edge), snap(east))
    assert all(t == _edge(only, 4, 7) for f, t in _transitions(forced) if f == a_edge)
    assert forced.weight_s > direct.weight_s


def test_walk_has_no_turn_costs(walk, roads_dir):
    meta = json.loads((roads_dir / "graph" / "walk" / "ch.json").read_text())
    assert meta["kind"] == "node" and meta["turns"] is None  # no turn expansion: a hierarchy over road nodes
    tg = turn_graph(walk.arrays, "walk")
    assert (tg["turn_ms"] == 0).all()
    assert not (tg["to"] == np.asarray(walk.edge_rev)[tg["from"]]).any()


def test_bearings_are_compass_headings():
    lon = np.array([8.0, 8.0, 8.001, 8.0])
    lat = np.array([49.0, 49.001, 49.001, 49.0])
    start, end = _turns.edge_bearings(np.array([0, 2, 4]), lon, lat, 10.0)
    assert start[0] == pytest.approx(0, abs=0.5) and end[0] == pytest.approx(0, abs=0.5)  # due north
    assert start[1] == pytest.approx(180 + math.degrees(math.atan2(1 * math.cos(math.radians(49)), 1)), abs=0.5)
