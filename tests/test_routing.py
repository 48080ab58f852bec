"""Routes through the core facade on Monaco: the JSON answer, geometry on the roads, waypoints, steps, errors."""

from __future__ import annotations

import numpy as np
import pytest

from lds.errors import NotFound, OutOfCoverage
from lds.geo import haversine_m
from lds.routing_steps import modifier

MODIFIERS = {"uturn", "sharp right", "right", "slight right", "straight", "slight left", "left", "sharp left"}
TYPES = {"depart", "turn", "new name", "continue", "roundabout", "exit roundabout", "on ramp", "off ramp", "merge",
         "arrive"}
FONTVIEILLE = (7.4197, 43.7311)
MONTE_CARLO = (7.4270, 43.7397)
SEA = (7.4300, 43.7150)


def _length_m(coords) -> float:
    c = np.asarray(coords)
    return float(haversine_m(c[:-1, 0], c[:-1, 1], c[1:, 0], c[1:, 1]).sum())


def test_route_answer_shape(lds_core):
    r = lds_core.route(FONTVIEILLE, MONTE_CARLO, mode="car")
    assert set(r) >= {"distance", "duration", "geom", "legs", "steps", "waypoints"}
    assert r["geom"]["type"] == "LineString" and len(r["geom"]["coordinates"]) > 10
    assert 1000 < r["distance"] < 10_000 and 60 < r["duration"] < 2000
    assert len(r["legs"]) == 1
    leg = r["legs"][0]
    assert leg["distance"] == pytest.approx(r["distance"]) and leg["duration"] == pytest.approx(r["duration"])
    for end, point in (("origin", FONTVIEILLE), ("destination", MONTE_CARLO)):
        snapped = leg[end]
        assert snapped["input"] == list(point)
        assert snapped["snap_distance"] == pytest.approx(
            float(haversine_m(*point, *snapped["location"])), abs=0.5)
    assert [w["role"] for w in r["waypoints"]] == ["origin", "destination"]
    assert all(w["snap_distance"] < 100 for w in r["waypoints"])


def test_geometry_follows_the_roads_between_the_snapped_points(lds_core):
    r = lds_core.route(FONTVIEILLE, MONTE_CARLO, mode="car")
    coords = r["geom"]["coordinates"]
    assert coords[0] == r["waypoints"][0]["location"] and coords[-1] == r["waypoints"][1]["location"]
    assert _length_m(coords) == pytest.approx(r["distance"], rel=0.01)
    car = lds_core.graph("car")
    for lon, lat in coords[:: max(1, len(coords) // 60)]:
        assert car.snapper.snap(lon, lat, 50).distance_m < 1.0  # every vertex lies on a car road


def test_steps(lds_core):
    r = lds_core.route(FONTVIEILLE, MONTE_CARLO, mode="car")
    steps = r["steps"]
    assert steps[0]["type"] == "depart" and steps[-1]["type"] == "arrive"
    assert steps[0]["location"] == r["geom"]["coordinates"][0]
    assert steps[-1]["location"] == r["geom"]["coordinates"][-1]
    assert sum(s["distance"] for s in steps) == pytest.approx(r["distance"], abs=len(steps) * 0.1)
    assert sum(s["duration"] for s in steps) == pytest.approx(r["duration"], abs=len(steps) * 0.1)
    for s in steps:
        assert s["type"] in TYPES and isinstance(s["instruction"], str) and s["instruction"]
        assert set(s) >= {"type", "name", "distance", "duration", "location", "instruction"}
        if "modifier" in s:
            assert s["modifier"] in MODIFIERS
        if s["type"] == "turn" and s["name"] and s["modifier"] not in ("uturn", "straight"):
            assert s["instruction"].startswith("Turn ") and s["instruction"].endswith(f" onto {s['name']}")
    assert len(steps) > 4
    assert steps[-1]["instruction"] == "You have arrived at your destination"


def test_turn_instructions_name_the_street(lds_core):
    car = lds_core.graph("car")
    rng = np.random.default_rng(5)
    idx = np.flatnonzero(np.asarray(car.node_scc) == car.largest_scc)
    turns = []
    for i, j in rng.choice(idx, (25, 2)):
        r = lds_core.route((float(car.node_lon[i]), float(car.node_lat[i])),
                           (float(car.node_lon[j]), float(car.node_lat[j])), mode="car")
        turns += [s for s in r["steps"] if s["type"] == "turn" and s["name"]]
    lefts = [s["instruction"] for s in turns if s["modifier"] == "left"]
    assert lefts and all(t == f"Turn left onto {s['name']}" for t, s in
                         zip(lefts, [s for s in turns if s["modifier"] == "left"]))


def test_modifiers_follow_osrm_angle_bands():
    assert [modifier(a) for a in (0, 25, -30, 90, -100, 150, -170)] == [
        "straight", "slight right", "slight left", "right", "left", "sharp right", "sharp left"]


def test_waypoints_make_legs(lds_core):
    via = (7.4230, 43.7330)
    direct = lds_core.route(FONTVIEILLE, MONTE_CARLO, mode="car")
    r = lds_core.route(FONTVIEILLE, MONTE_CARLO, [via], mode="car")
    assert len(r["legs"]) == 2 and len(r["waypoints"]) == 3
    assert r["distance"] == pytest.approx(sum(leg["distance"] for leg in r["legs"]), abs=0.2)
    assert r["duration"] >= direct["duration"] - 0.1
    w = r["waypoints"][1]["location"]
    assert w in r["geom"]["coordinates"]
    assert r["legs"][0]["steps"][-1]["instruction"] == "You have arrived at waypoint 1"
    assert r["legs"][1]["steps"][0]["type"] == "depart"
    assert r["steps"] == r["legs"][0]["steps"] + r["legs"][1]["steps"]


def test_walk_route(lds_core):
    r = lds_core.route(FONTVIEILLE, MONTE_CARLO, mode="walk")
    assert r["duration"] == pytest.approx(r["distance"] / (5 / 3.6), rel=0.15)  # steps are a little slower
    car = lds_core.route(FONTVIEILLE, MONTE_CARLO, mode="car")
    assert r["distance"] < car["distance"] * 1.2  # pedestrians ignore one-way streets


def test_point_off_the_roads_is_out_of_coverage(lds_core):
    with pytest.raises(OutOfCoverage) as err:
        lds_core.route(FONTVIEILLE, SEA, mode="car")
    assert err.value.status == 422 and err.value.message.startswith("destination:")


def test_unconnected_points_are_not_found(lds_core):
    import networkx as nx

    car = lds_core.graph("car")
    G = nx.DiGraph(list(zip(car.edge_src.tolist(), car.edge_dst.tolist())))
    start = int(np.flatnonzero(np.asarray(car.node_scc) == car.largest_scc)[0])
    reach = nx.descendants(G, start) | {start}
    cut = [e for e in range(car.n_edges) if car.edge_src[e] not in reach and car.edge_dst[e] not in reach]
    if not cut:
        pytest.skip("every car road of this extract is reachable")
    lon, lat = car.edge_coords(cut[0])
    from lds.routing import route

    settings = lds_core.settings.replace(snap_radius_m=1.0) if hasattr(lds_core.settings, "replace") else None
    if settings is None:
        pytest.skip("settings cannot be overridden")
    with pytest.raises(NotFound) as err:
        route(car, [(float(car.node_lon[start]), float(car.node_lat[start])), (float(lon[0]), float(lat[0]))],
              settings)
    assert err.value.status == 404 and "no car route" in err.value.message


def test_http_routing(client):
    res = client.get(f"/v3/lds/routing?origin={FONTVIEILLE[0]},{FONTVIEILLE[1]}"
                     f"&destination={MONTE_CARLO[0]},{MONTE_CARLO[1]}&mode=car")
    assert res.status_code == 200
    body = res.get_json()
    assert body[0]["error"] is None and body[0]["value"][0]["geom"]["type"] == "LineString"
    res = client.get(f"/v3/lds/routing?origin={SEA[0]},{SEA[1]}&destination={MONTE_CARLO[0]},{MONTE_CARLO[1]}")
    assert res.status_code == 422 and res.get_json()["status"] == 422
