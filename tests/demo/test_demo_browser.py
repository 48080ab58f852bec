"""The demo page at / in headless Chromium (tests/js/demo.mjs, playwright-core) against a live `lds serve` on
Monaco: the extract's roads as the basemap through the Maps API, then a geocode, a reverse, a route and
isolines (polygons and H3 cells) made through the UI; what the page drew and listed is compared with the API's
own answers. Screenshots are kept in the test's tmp dir (``artifacts/``), printed at the end."""

from __future__ import annotations

import json

import pytest
import requests
from authfixtures import *
from authfixtures import ADMIN_TOKEN, bearer
from liveserver import browser_server, new_token, run_node

CASE = {
    "search": "Boulevard des Moulins",
    "reverse": [7.4246, 43.7384],
    "origin": [7.4197, 43.7311],
    "destination": [7.4270, 43.7400],
    "isoline": [7.4246, 43.7384],
    "mode": "walk",
    "ranges": "300,600",
    "resolution": 11,
}


@pytest.fixture(scope="module")
def live(monaco_dir, tmp_path_factory):
    with browser_server(monaco_dir, tmp_path_factory.mktemp("demo")) as base:
        yield base


def test_page_is_served_offline_with_its_assets(live):
    html = requests.get(live + "/", timeout=30)
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert "OpenStreetMap" not in html.text or "openstreetmap.org/copyright" in html.text
    for asset in (
        "static/vendor/maplibre-gl/maplibre-gl.js",
        "static/vendor/maplibre-gl/maplibre-gl.css",
        "static/vendor/h3-js/h3-js.umd.js",
        "static/demo/demo.js",
        "static/demo/demo.css",
    ):
        assert f'"{asset}"' in html.text
        assert requests.get(f"{live}/{asset}", timeout=30).status_code == 200
    config = json.loads(html.text.split('id="lds-config">')[1].split("</script>")[0])
    assert config["modes"] == ["car", "walk", "bike"] and len(config["bbox"]) == 4
    missing = requests.get(live + "/static/vendor/nope.js", timeout=30)
    assert missing.status_code == 404 and missing.json()["status"] == 404


def test_geocode_reverse_route_and_isolines_through_the_ui(live, tmp_path):
    token = new_token(
        live, allowed_apis=["lds", "maps"], grants=[{"connection_name": "carto_dw", "source": "lds.roads"}]
    )
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    out = run_node(
        "demo.mjs",
        {"LDS_BASE": live, "LDS_TOKEN": token, "LDS_ARTIFACTS": str(artifacts), "LDS_CASE": json.dumps(CASE)},
        timeout_s=300,
    )
    print(f"screenshots: {artifacts}")
    api = bearer(ADMIN_TOKEN)

    def answer(path: str, **params) -> list:
        r = requests.get(live + path, params=params, headers=api, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    assert out["errors"] == [] and out["console"] == [], out
    assert set(out["requests"]) == {live.removeprefix("http://")}  # nothing fetched from anywhere else
    assert "OpenStreetMap" in out["attribution"]
    assert out["roadsRendered"] > 100  # the basemap: lds.roads through the Maps API

    geocoded = answer("/v3/lds/geocoding/geocode", address=CASE["search"], limit=5)[0]["value"]
    assert [(c["text"], c["matchType"]) for c in out["candidates"]] == [
        (g["formattedAddress"], g["matchType"]) for g in geocoded
    ]
    assert out["points"] == len(geocoded)

    lon, lat = CASE["reverse"]
    rev = answer("/v3/lds/geocoding/reverse", lat=lat, lon=lon)[0]["value"][0]
    assert out["reverse"].startswith(rev["formattedAddress"])  # a click lands within a pixel: same address

    route = answer(
        "/v3/lds/routing",
        origin="{},{}".format(*CASE["origin"]),
        destination="{},{}".format(*CASE["destination"]),
        mode="car",
    )[0]["value"][0]
    assert len(out["steps"]) == len(route["steps"]) and out["steps"][0].startswith(route["steps"][0]["instruction"])
    assert out["route"]["type"] == "LineString" and out["route"]["points"] > 10 and out["route"]["rendered"] > 0

    assert out["polygons"]["features"] == 2 and out["polygons"]["ranges"] == [600, 300]
    assert out["polygons"]["kinds"] == ["polygon"] and out["polygons"]["rendered"] > 0
    assert [t.split(" ", 2)[:2] for t in out["legend"]] == [["5", "min"], ["10", "min"]]
    h3 = answer(
        "/v3/lds/isolines/h3",
        origin="{},{}".format(*CASE["isoline"]),
        range=CASE["ranges"],
        mode=CASE["mode"],
        resolution=CASE["resolution"],
    )[0]["value"]
    assert out["h3"]["kinds"] == ["h3"] and out["h3"]["ranges"] == [300, 600]
    assert abs(out["h3"]["features"] - len(h3[-1]["cells"])) <= 0.1 * len(h3[-1]["cells"])  # a click: a pixel off
    assert out["h3"]["rendered"] > 0
    for name in ("01-basemap", "02-geocode", "03-route", "04-isolines", "05-isolines-h3"):
        assert (artifacts / f"{name}.png").stat().st_size > 10_000
