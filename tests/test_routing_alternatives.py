"""Alternative routes by the via-node method (lds/routing_alternatives.py) on the real Monaco build: every
alternative is a valid connected route between the same points, within the stretch bound, sharing little with the
routes chosen before it, and locally optimal."""

from __future__ import annotations

import numpy as np
import pytest

from lds import routing_alternatives as ra
from lds.errors import BadRequest
from lds.routing import route, snap_points

# pairs where osrm-routed (CH) answers an alternative on the same extract (and pairs where it answers none)
WITH = [((7.4300, 43.7460), (7.4197, 43.7311)), ((7.4235, 43.7385), (7.4340, 43.7480))]
WITHOUT = [((7.4197, 43.7311), (7.4270, 43.7400)), ((7.4150, 43.7330), (7.4260, 43.7420))]


def _paths(graph, settings, o, d, count=3):
    a, b = snap_points(graph, [o, d], settings.snap_radius_m)
    return ra.alternative_paths(graph, a.snap, b.snap, count)


def _connected(router, edges: np.ndarray) -> bool:
    return bool(np.all(router.dst[edges[:-1]] == router.src[edges[1:]]))


@pytest.mark.parametrize("mode", ["car", "walk", "bike"])
def test_alternatives_are_valid_different_and_within_the_stretch(lds_core, mode):
    graph, s = lds_core.graph(mode), lds_core.settings
    length = np.asarray(graph.router.views["edge_length"], np.float64)
    found = 0
    for o, d in WITH + WITHOUT:
        a, b = (w.snap for w in snap_points(graph, [o, d], s.snap_radius_m))
        paths = ra.alternative_paths(graph, a, b, 3)
        best = paths[0]
        assert best.edges.tolist() == graph.router.leg(a, b).edges.tolist()
        for p in paths[1:]:
            found += 1
            assert _connected(graph.router, p.edges)
            assert p.edges[0] in graph.router._ends(a, True)[0] and p.edges[-1] in graph.router._ends(b, False)[0]
            assert best.weight_s <= p.weight_s <= (1 + ra.STRETCH) * best.weight_s + 1e-3
            shared = length[p.edges[np.isin(p.edges, best.edges)]].sum()
            assert shared <= ra.MAX_SHARING * min(length[p.edges].sum(), length[best.edges].sum()) + 1e-6
        for i, p in enumerate(paths):  # pairwise different
            for q in paths[i + 1 :]:
                assert p.edges.tolist() != q.edges.tolist()
    assert found >= 1  # Monaco has real alternatives for each mode on these pairs


@pytest.fixture(scope="module")
def heidelberg_car(shared_data, tmp_path_factory):
    """Heidelberg's car graph (roads only, ~10 s): a city with a river, bridges and a ring, so many alternatives."""
    from lds.build.pipeline import build
    from lds.graph.store import RoadGraph

    out = tmp_path_factory.mktemp("heidelberg") / "heidelberg"
    build(str(shared_data / "heidelberg-ors-2024-09.osm.pbf"), out, skip_geocoder=True, quiet=True)
    return RoadGraph.load(out / "graph" / "car", "car")


def test_heidelberg_alternatives_pass_every_admissibility_test(heidelberg_car):
    """40 random pairs across the city: each alternative is a connected path between the same snapped points,
    within the stretch, sharing at most 80 % with every route kept before it, and at least a few pairs have one."""
    graph = heidelberg_car
    router = graph.router
    length = np.asarray(router.views["edge_length"], np.float64)
    rng = np.random.default_rng(15)
    with_alternatives = 0
    for _ in range(40):
        o, d = (
            (rng.uniform(8.64, 8.72), rng.uniform(49.38, 49.42)),
            (rng.uniform(8.64, 8.72), rng.uniform(49.38, 49.42)),
        )
        a, b = (w.snap for w in snap_points(graph, [o, d], 500))
        paths = ra.alternative_paths(graph, a, b, 3)
        with_alternatives += len(paths) > 1
        for k, p in enumerate(paths[1:], 1):
            assert _connected(router, p.edges)
            assert p.edges[0] in router._ends(a, True)[0] and p.edges[-1] in router._ends(b, False)[0]
            assert p.weight_s <= (1 + ra.STRETCH) * paths[0].weight_s + 1e-3
            own = length[p.edges].sum()
            for q in paths[:k]:
                shared = length[p.edges[np.isin(p.edges, q.edges)]].sum()
                assert shared <= ra.MAX_SHARING * min(own, length[q.edges].sum()) + 1e-6
    assert with_alternatives >= 5


def test_car_alternatives_where_osrm_has_them(lds_core):
    """The same pairs as osrm-routed: one alternative on WITH, none on WITHOUT (counted beside it in
    tests/dialects/test_osrm_dialect.py)."""
    graph, s = lds_core.graph("car"), lds_core.settings
    assert [len(_paths(graph, s, o, d)) for o, d in WITH] == [2, 2]
    assert [len(_paths(graph, s, o, d)) for o, d in WITHOUT] == [1, 1]


def test_routes_answer_the_best_route_first_then_full_alternatives(lds_core):
    o, d = WITH[0]
    values = lds_core.route_alternatives([o, d], "car", 3)
    single = lds_core.route(o, d, mode="car")
    assert values[0]["duration"] == single["duration"] and values[0]["geom"] == single["geom"]
    assert len(values) == 2
    alt = values[1]
    assert alt["duration"] > single["duration"] and alt["steps"][0]["type"] == "depart"
    assert alt["steps"][-1]["type"] == "arrive"
    assert alt["geom"]["coordinates"][0] == single["geom"]["coordinates"][0]
    assert alt["geom"]["coordinates"][-1] == single["geom"]["coordinates"][-1]
    assert abs(sum(st["distance"] for st in alt["steps"]) - alt["distance"]) < 1.0


def test_no_alternatives_asked_or_waypoints_give_the_route(lds_core):
    o, d = WITH[0]
    assert len(lds_core.route_alternatives([o, d], "car", 0)) == 1
    three = lds_core.route_alternatives([o, (7.4216, 43.7370), d], "car", 2)
    assert len(three) == 1 and len(three[0]["legs"]) == 2
    with pytest.raises(BadRequest):
        lds_core.route_alternatives([o, d], "car", lds_core.settings.max_alternatives + 1)


def test_local_optimality_rejects_a_detour(lds_core):
    """A path with a pointless loop around its via node fails the T-test; the best path passes it."""
    graph = lds_core.graph("car")
    router = graph.router
    a, b = (w.snap for w in snap_points(graph, list(WITH[0]), 500))
    best = router.leg(a, b)
    node = int(best.edges[len(best.edges) // 2])
    path, chain, cost, at = router.via(a, b, node)
    assert path.edges.tolist() == best.edges.tolist()
    assert ra._locally_optimal(router, chain, cost, at, ra.ALPHA * best.weight_s * 1000)
    detour = cost.copy()
    detour[at:] += 60_000  # the same nodes, but a minute more to reach the via node: not a shortest path
    assert not ra._locally_optimal(router, chain, detour, at, ra.ALPHA * best.weight_s * 1000)


def test_route_with_snapping_conditions_is_the_plain_route_without_them(lds_core):
    graph, s = lds_core.graph("car"), lds_core.settings
    o, d = WITH[1]
    plain = route(graph, [o, d], s)
    same = route(graph, [o, d], s, {"bearings": [None, None], "approaches": ["unrestricted", None]})
    assert plain.duration == same.duration


@pytest.mark.parametrize(
    "snapping",
    [
        {"bearings": [(90, 10)]},  # one entry for two points
        {"bearings": [(400, 10), None]},
        {"bearings": ["north", None]},
        {"approaches": ["side", None]},
        {"approaches": "curb"},
        {"exclude": [None, None]},
    ],
)
def test_bad_snapping_conditions_are_bad_requests(lds_core, snapping):
    with pytest.raises(BadRequest):
        lds_core.route_alternatives(list(WITH[0]), "car", 1, snapping)
