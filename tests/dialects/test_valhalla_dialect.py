"""The Valhalla dialect: /isochrone driven by routingpy's Valhalla client against a live server, and its errors."""

from __future__ import annotations

import json

import pytest
import requests
from authfixtures import ADMIN_TOKEN, bearer
from liveserver import LiveServer

ORIGIN = [7.4197, 43.7311]


@pytest.fixture(scope="module")
def server(monaco_dir, tmp_path_factory):
    live = LiveServer(monaco_dir, tmp_path_factory.mktemp("valhalla_dialect"))
    yield live
    live.stop()


def test_routingpy_isochrones(server, lds_core):
    from routingpy import Valhalla
    from shapely.geometry import shape

    client = Valhalla(base_url=server.base, headers=bearer(ADMIN_TOKEN), timeout=30)
    got = client.isochrones(ORIGIN, profile="auto", intervals=[120, 300], polygons=True)
    raw = got.raw
    assert raw["type"] == "FeatureCollection" and [f["properties"]["contour"] for f in raw["features"]] == [5, 2]
    assert all(f["properties"]["metric"] == "time" for f in raw["features"])
    big, small = (shape(f["geometry"]) for f in raw["features"])
    assert big.area > small.area > 0
    ours = lds_core.isolines(tuple(ORIGIN), [300], "time", "car")[0]
    assert big.area == pytest.approx(shape(ours["geom"]).area, rel=0.02)
    lines = client.isochrones(
        ORIGIN, profile="pedestrian", intervals=[1000], interval_type="distance", generalize=20, denoise=0.5
    )
    assert lines.raw["features"][0]["geometry"]["type"] in ("LineString", "MultiLineString")
    assert lines.raw["features"][0]["properties"]["metric"] == "distance"


@pytest.mark.parametrize(
    "body,code",
    [
        ({"locations": [], "costing": "auto", "contours": [{"time": 5}]}, 110),
        ({"locations": [{"lat": 43.73, "lon": 7.42}], "costing": "boat", "contours": [{"time": 5}]}, 125),
        ({"locations": [{"lat": 43.73, "lon": 7.42}], "costing": "auto", "contours": [{"time": -1}]}, 111),
        ({"locations": [{"lat": 43.73, "lon": 7.42}], "costing": "auto", "contours": []}, 113),
        ({"locations": [{"lat": 95, "lon": 7.42}], "costing": "auto", "contours": [{"time": 5}]}, 130),
        ({"locations": [{"lat": 43.73, "lon": 7.42}], "costing": "auto", "contours": [{"time": 5}], "denoise": 3}, 100),
    ],
)
def test_errors_in_valhallas_shape(server, body, code):
    r = requests.get(
        server.base + "/isochrone", params={"json": json.dumps(body)}, headers=bearer(ADMIN_TOKEN), timeout=30
    )
    assert r.status_code == 400 and r.json()["error_code"] == code and r.json()["status"] == "Bad Request"
    assert requests.get(server.base + "/isochrone", params={"json": json.dumps(body)}, timeout=30).status_code == 401
