"""The OSRM dialect: lds.dialects.osrm's parsing and encoding, and /route/v1, /table/v1, /nearest/v1 driven by an
OSRM client library (routingpy) against a live server, compared with osrm-routed where the bench extras exist."""

from __future__ import annotations

import polyline
import pytest
import requests
from authfixtures import ADMIN_TOKEN, bearer
from liveserver import LiveServer
from osrmpeer import osrm_routed, prepared

from lds.dialects import DialectError
from lds.dialects import osrm as dialect

A, B, C = (7.4197, 43.7311), (7.4270, 43.7400), (7.4216, 43.7370)
COORDS = f"{A[0]},{A[1]};{B[0]},{B[1]}"


# --- the formatter, without a server ------------------------------------------------------------------------------
def test_polyline_encodes_as_googles_algorithm():
    coords = [(7.4195567, 43.7313572), (7.4207655, 43.7317087), (7.4270123, 43.7399999)]
    for precision in (5, 6):
        decoded = polyline.decode(dialect.encode_polyline(coords, precision), precision)
        assert [x for p in decoded for x in p] == pytest.approx(
            [x for lon, lat in coords for x in (lat, lon)], abs=0.6 / 10**precision
        )
    assert dialect.decode_polyline(polyline.encode([(43.73, 7.42), (43.74, 7.43)], 5), 5) == [
        (7.42, 43.73),
        (7.43, 43.74),
    ]


@pytest.mark.parametrize(
    "text,code",
    [
        ("abc", "InvalidQuery"),
        ("7.42,43.73;x", "InvalidQuery"),
        ("7.42,143.73;7.42,43.73", "InvalidValue"),
        ("polyline(!!!)", "InvalidQuery"),
        ("7.42,43.73;" * 40 + "7.42,43.73", "TooBig"),
    ],
)
def test_bad_coordinates_get_osrms_codes(text, code):
    with pytest.raises(DialectError) as info:
        dialect.coordinates(text, 27)
    assert info.value.code == code and info.value.status == 400


def test_options_are_checked_like_osrm_routed():
    with pytest.raises(DialectError, match="malformed") as info:
        dialect.route_options({"overview": "some"}, 2)
    assert info.value.code == "InvalidQuery"
    with pytest.raises(DialectError) as info:
        dialect.route_options({"radiuses": "10"}, 2)
    assert info.value.code == "InvalidOptions"
    with pytest.raises(DialectError) as info:
        dialect.route_options({"exclude": "toll"}, 2)
    assert info.value.code == "InvalidValue"
    opts = dialect.route_options({"radiuses": "10;unlimited", "bearings": "90,20;", "approaches": "curb;"}, 2)
    assert opts["radiuses"] == [10.0, float("inf")]


# --- over HTTP with an OSRM client --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(monaco_dir, tmp_path_factory):
    live = LiveServer(monaco_dir, tmp_path_factory.mktemp("osrm_dialect"))
    yield live
    live.stop()


def _client(server):
    from routingpy import OSRM

    return OSRM(base_url=server.base, headers=bearer(ADMIN_TOKEN), timeout=30)


def test_routingpy_directions_match_the_lds_route(server, lds_core):
    client = _client(server)
    got = client.directions(
        [list(A), list(C), list(B)],
        profile="driving",
        steps=True,
        geometries="polyline6",
        overview="full",
        annotations=True,
    )
    raw = got.raw
    assert raw["code"] == "Ok" and len(raw["routes"][0]["legs"]) == 2 and len(raw["waypoints"]) == 3
    ours = lds_core.route(A, B, [C], mode="car")
    assert got.duration == round(ours["duration"]) or abs(got.duration - ours["duration"]) < 1
    assert abs(got.distance - ours["distance"]) < 1
    line = polyline.decode(raw["routes"][0]["geometry"], 6)
    assert len(line) == len(ours["geom"]["coordinates"])
    assert line[0] == pytest.approx((ours["geom"]["coordinates"][0][1], ours["geom"]["coordinates"][0][0]), abs=1e-6)
    leg = raw["routes"][0]["legs"][0]
    assert leg["steps"][0]["maneuver"]["type"] == "depart" and leg["steps"][-1]["maneuver"]["type"] == "arrive"
    for step in leg["steps"]:
        assert {"geometry", "maneuver", "mode", "name", "duration", "distance", "weight"} <= set(step)
    ann = leg["annotation"]
    assert (
        len(ann["distance"])
        == len(ann["duration"])
        == len(polyline.decode(leg["steps"][0]["geometry"], 6))
        - 1
        + sum(len(polyline.decode(s["geometry"], 6)) - 1 for s in leg["steps"][1:-1])
    )
    assert sum(ann["distance"]) == pytest.approx(leg["distance"], rel=0.01)


def test_routingpy_matrix_is_the_lds_matrix(server, lds_core):
    client = _client(server)
    got = client.matrix([list(A), list(B), list(C)], profile="driving", sources=[0, 1], destinations=[1, 2])
    assert len(got.durations) == 2 and len(got.durations[0]) == 2
    route = lds_core.route(A, B, mode="car")
    assert got.durations[0][0] == route["duration"] and got.distances[0][0] == route["distance"]
    assert got.durations[1][0] == 0.0


def test_nearest_and_walking(server):
    r = requests.get(f"{server.base}/nearest/v1/foot/{A[0]},{A[1]}", headers=bearer(ADMIN_TOKEN), timeout=30).json()
    assert r["code"] == "Ok" and len(r["waypoints"][0]["nodes"]) == 2 and r["waypoints"][0]["distance"] < 100
    r = requests.get(f"{server.base}/route/v1/walking/{COORDS}?overview=false", headers=bearer(ADMIN_TOKEN), timeout=30)
    assert r.status_code == 200 and "geometry" not in r.json()["routes"][0]


def test_tokens_and_errors_in_osrms_shape(server):
    assert (
        requests.get(f"{server.base}/route/v1/driving/{COORDS}?access_token={ADMIN_TOKEN}", timeout=30).status_code
        == 200
    )
    r = requests.get(f"{server.base}/route/v1/driving/{COORDS}", timeout=30)
    assert r.status_code == 401 and r.json()["code"] == "Unauthorized"
    for path, code in (
        (f"/route/v1/driving/{A[0]},{A[1]}", "InvalidOptions"),
        ("/route/v1/driving/1,2;x", "InvalidQuery"),
        (f"/route/v1/driving/2.35,48.85;{B[0]},{B[1]}", "NoSegment"),
        (f"/route/v1/driving/{COORDS}?radiuses=1;1", "NoSegment"),
        (f"/table/v1/driving/{COORDS}?sources=5", "InvalidOptions"),
        (f"/route/v1/driving/{COORDS}?steps=maybe", "InvalidQuery"),
    ):
        r = requests.get(server.base + path, headers=bearer(ADMIN_TOKEN), timeout=30)
        assert r.status_code == 400 and r.json()["code"] == code, (path, r.text)


def _get(server, path):
    return requests.get(server.base + path, headers=bearer(ADMIN_TOKEN), timeout=30)


def test_alternatives_answer_several_routes(server):
    """Monaco has an alternative between these points (osrm-routed answers one too): both routes are full OSRM
    routes from the same waypoints, the alternative slower but within 1.25x."""
    from routingpy import OSRM

    a, b = (7.4300, 43.7460), (7.4197, 43.7311)
    r = _get(server, f"/route/v1/driving/{a[0]},{a[1]};{b[0]},{b[1]}?alternatives=3&steps=true&overview=full").json()
    assert r["code"] == "Ok" and len(r["routes"]) == 2 and len(r["waypoints"]) == 2
    best, alt = r["routes"]
    assert best["duration"] < alt["duration"] <= 1.25 * best["duration"] + 0.1
    assert polyline.decode(alt["geometry"]) != polyline.decode(best["geometry"])
    assert polyline.decode(alt["geometry"])[0] == polyline.decode(best["geometry"])[0]
    assert alt["legs"][0]["steps"][-1]["maneuver"]["type"] == "arrive"
    assert len(_get(server, f"/route/v1/driving/{a[0]},{a[1]};{b[0]},{b[1]}?alternatives=true").json()["routes"]) == 2
    client = OSRM(base_url=server.base, headers=bearer(ADMIN_TOKEN), timeout=30)
    got = client.directions([list(a), list(b)], profile="driving", alternatives=True)
    assert len(got) == 2 and got[0].duration < got[1].duration  # routingpy reads them as a list of Directions
    with_waypoint = _get(server, f"/route/v1/driving/{a[0]},{a[1]};{C[0]},{C[1]};{b[0]},{b[1]}?alternatives=2")
    assert len(with_waypoint.json()["routes"]) == 1  # as osrm-routed: alternatives between two points only
    too_many = _get(server, f"/route/v1/driving/{a[0]},{a[1]};{b[0]},{b[1]}?alternatives=9")
    assert too_many.status_code == 400 and too_many.json()["code"] == "TooBig"


def test_bearings_approaches_and_several_nearest(server):
    """A bearing or an approach changes where and which way the route leaves; nearest answers ``number`` roads."""
    a, b = (7.4216, 43.7370), (7.4128, 43.7304)
    coords = f"{a[0]},{a[1]};{b[0]},{b[1]}"
    plain = _get(server, f"/route/v1/driving/{coords}?steps=true").json()["routes"][0]
    north = _get(server, f"/route/v1/driving/{coords}?steps=true&bearings=0,90;").json()["routes"][0]
    east = _get(server, f"/route/v1/driving/{coords}?steps=true&bearings=90,90;").json()["routes"][0]
    for route, heading in ((north, 0), (east, 90)):
        after = route["legs"][0]["steps"][0]["maneuver"]["bearing_after"]
        assert min(abs(after - heading) % 360, 360 - abs(after - heading) % 360) <= 90
    assert {north["duration"], east["duration"]} != {plain["duration"]}
    opposite = _get(server, f"/route/v1/driving/{coords}?approaches=opposite;opposite").json()["routes"][0]
    assert opposite["duration"] != plain["duration"]
    assert _get(server, f"/route/v1/driving/{coords}?approaches=curb;curb").json()["code"] == "Ok"
    for query, code in (("bearings=400,10;", "InvalidQuery"), ("approaches=side;", "InvalidQuery")):
        r = _get(server, f"/route/v1/driving/{coords}?{query}")
        assert r.status_code == 400 and r.json()["code"] == code
    near = _get(server, f"/nearest/v1/driving/{a[0]},{a[1]}?number=3").json()
    assert near["code"] == "Ok" and len(near["waypoints"]) == 3
    distances = [w["distance"] for w in near["waypoints"]]
    assert distances == sorted(distances) and len({tuple(w["nodes"]) for w in near["waypoints"]}) == 3
    r = _get(server, f"/nearest/v1/driving/{a[0]},{a[1]}?number=1000")
    assert r.status_code == 400 and r.json()["code"] == "TooBig"


# --- beside osrm-routed on the same extract ----------------------------------------------------------------------
SAMPLE = [
    ((7.4197, 43.7311), (7.4270, 43.7400)),
    ((7.4216, 43.7370), (7.4128, 43.7304)),
    ((7.4300, 43.7460), (7.4197, 43.7311)),
    ((7.4235, 43.7385), (7.4340, 43.7480)),
    ((7.4150, 43.7330), (7.4260, 43.7420)),
    ((7.4360, 43.7500), (7.4210, 43.7350)),
]


def _keys(node, prefix=""):
    """Every key path of a JSON document (list items merged), for comparing shapes."""
    if isinstance(node, dict):
        return {p for k, val in node.items() for p in {f"{prefix}.{k}"} | _keys(val, f"{prefix}.{k}")}
    if isinstance(node, list):
        return {p for item in node for p in _keys(item, prefix + "[]")}
    return set()


def test_answers_field_by_field_beside_osrm_routed(server, monaco_pbf, tmp_path):
    peer = prepared(monaco_pbf)
    if peer is None:
        pytest.skip(".venv-bench (scripts/setup_bench.sh) is absent: no osrm-routed to compare with")
    auth = bearer(ADMIN_TOKEN)
    close = 0
    with osrm_routed(peer, tmp_path / "osrm-routed.log") as osrm_base:
        for a, b in SAMPLE:
            path = (
                f"/route/v1/driving/{a[0]},{a[1]};{b[0]},{b[1]}?steps=true&annotations=duration,distance&overview=full"
            )
            ours, theirs = (
                requests.get(server.base + path, headers=auth, timeout=30).json(),
                requests.get(osrm_base + path, timeout=30).json(),
            )
            assert ours["code"] == theirs["code"] == "Ok"
            # every field of our answer is one osrm-routed has (they add hints, intersections' lanes, ...)
            extra = _keys(ours) - _keys(theirs)
            assert not extra, extra
            r_ours, r_theirs = ours["routes"][0], theirs["routes"][0]
            assert len(r_ours["legs"]) == len(r_theirs["legs"]) and len(ours["waypoints"]) == len(theirs["waypoints"])
            assert type(r_ours["geometry"]) is type(r_theirs["geometry"])
            for w_ours, w_theirs in zip(ours["waypoints"], theirs["waypoints"]):
                assert abs(w_ours["location"][0] - w_theirs["location"][0]) < 5e-4
            close += abs(r_ours["distance"] - r_theirs["distance"]) <= 0.1 * r_theirs["distance"]
        assert close >= len(SAMPLE) - 1  # the engines' road models differ a little (README: 96.9 % within 5 %)
        points = ";".join(f"{x},{y}" for pair in SAMPLE for x, y in pair)
        ours = requests.get(
            f"{server.base}/table/v1/driving/{points}?annotations=duration,distance", headers=auth, timeout=30
        ).json()
        theirs = requests.get(f"{osrm_base}/table/v1/driving/{points}?annotations=duration,distance", timeout=30).json()
        assert set(ours) <= set(theirs) and len(ours["durations"]) == len(theirs["durations"])
        for path in (
            "/route/v1/driving/1,2;x",
            f"/route/v1/driving/{points}?overview=some",
            f"/table/v1/driving/{points}?sources=99",
        ):
            o, t = (
                requests.get(server.base + path, headers=auth, timeout=30),
                requests.get(osrm_base + path, timeout=30),
            )
            assert (o.status_code, o.json()["code"]) == (t.status_code, t.json()["code"]), (path, o.text, t.text)
        counts = []  # alternatives: as many as osrm-routed finds on the same pairs, each within the stretch
        for a, b in SAMPLE:
            path = f"/route/v1/driving/{a[0]},{a[1]};{b[0]},{b[1]}?alternatives=3&overview=false"
            ours, theirs = (
                requests.get(server.base + path, headers=auth, timeout=30).json(),
                requests.get(osrm_base + path, timeout=30).json(),
            )
            counts.append((len(ours["routes"]), len(theirs["routes"])))
            assert all(r["duration"] <= 1.25 * ours["routes"][0]["duration"] + 0.1 for r in ours["routes"])
        assert sum(o == t for o, t in counts) >= len(SAMPLE) - 1, counts
        assert sum(o for o, _ in counts) > len(SAMPLE)  # some pairs have alternatives


def test_table_fallback_speed_and_scale_factor():
    """Cells without a route get a crow-fly estimate at fallback_speed; durations scale by scale_factor."""
    value = {
        "durations": [[0.0, None], [10.0, 0.0]],
        "distances": [[0.0, None], [100.0, 0.0]],
        "origins": [
            {"location": [7.42, 43.73], "snap_distance": 1.0, "name": "a"},
            {"location": [7.43, 43.73], "snap_distance": 1.0, "name": "b"},
        ],
    }
    value["destinations"] = value["origins"]
    plain = dialect.table_body(value, dialect.table_options({}))
    assert plain["durations"][0][1] is None and plain["sources"][1]["name"] == "b"
    opts = dialect.table_options({"fallback_speed": "10", "scale_factor": "2", "fallback_coordinate": "snapped"})
    body = dialect.table_body(value, opts)
    assert body["distances"][0][1] == pytest.approx(805.0, abs=5) and body["durations"][0][1] == pytest.approx(
        161, abs=1
    )
    assert body["durations"][1][0] == 20.0
    with pytest.raises(DialectError):
        dialect.table_options({"fallback_speed": "0"})
