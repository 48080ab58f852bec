"""The Nominatim dialect: geopy's Nominatim geocoder (forward, structured, reverse) against a live server, and the
formats, lookup and errors of /nominatim/... as Nominatim 4/5 answers them."""

from __future__ import annotations

import pytest
import requests
from authfixtures import ADMIN_TOKEN, bearer
from liveserver import LiveServer


@pytest.fixture(scope="module")
def server(monaco_dir, tmp_path_factory):
    live = LiveServer(monaco_dir, tmp_path_factory.mktemp("nominatim_dialect"))
    yield live
    live.stop()


@pytest.fixture(scope="module")
def geocoder(server):
    from geopy.geocoders import Nominatim

    g = Nominatim(
        user_agent="lds-tests", domain=f"{server.base.removeprefix('http://')}/nominatim", scheme="http", timeout=30
    )
    g.headers["Authorization"] = bearer(ADMIN_TOKEN)["Authorization"]
    return g


def _get(server, path: str, **params):
    return requests.get(server.base + path, params=params, headers=bearer(ADMIN_TOKEN), timeout=30)


def test_geopy_forward_structured_and_reverse(geocoder, lds_core):
    ours = lds_core.geocode("Boulevard des Moulins 12", limit=1)[0]
    found = geocoder.geocode("Boulevard des Moulins 12")
    assert found is not None and (found.latitude, found.longitude) == pytest.approx(
        (ours["latitude"], ours["longitude"])
    )
    assert "Boulevard des Moulins" in found.address and isinstance(found.raw["lat"], str)
    structured = geocoder.geocode({"street": "12 Boulevard des Moulins", "city": "Monaco"}, addressdetails=True)
    assert (
        structured.raw["address"]["road"] == "Boulevard des Moulins"
        and structured.raw["address"]["country_code"] == "mc"
    )
    many = geocoder.geocode("Boulevard des Moulins", exactly_one=False, limit=3)
    assert 1 <= len(many) <= 3
    back = geocoder.reverse((ours["latitude"], ours["longitude"]))
    assert back.raw["address"]["road"] == "Boulevard des Moulins" and back.raw["address"]["house_number"]
    assert back.raw["osm_type"] in ("node", "way", "relation") and isinstance(back.raw["osm_id"], int)
    street = geocoder.reverse((ours["latitude"], ours["longitude"]), zoom=17)
    assert "house_number" not in street.raw["address"] and street.raw["address"]["road"]
    assert geocoder.reverse((3.0, 7.0)) is None  # Nominatim's "Unable to geocode"


def test_formats_lookup_and_status(server):
    r = _get(server, "/nominatim/search", q="Boulevard des Moulins 12", format="geojson", limit=1).json()
    assert r["type"] == "FeatureCollection" and r["features"][0]["geometry"]["type"] == "Point"
    r = _get(server, "/nominatim/search", q="Boulevard des Moulins 12", format="geocodejson", limit=1).json()
    props = r["features"][0]["properties"]["geocoding"]
    assert props["housenumber"] and props["street"] == "Boulevard des Moulins"
    v2 = _get(server, "/nominatim/search", q="Boulevard des Moulins 12", format="jsonv2", limit=1).json()[0]
    assert "category" in v2 and "class" not in v2 and len(v2["boundingbox"]) == 4
    back = _get(server, "/nominatim/reverse", lat=v2["lat"], lon=v2["lon"], format="json").json()
    osm = {"node": "N", "way": "W", "relation": "R"}[back["osm_type"]] + str(back["osm_id"])
    looked = _get(server, "/nominatim/lookup", osm_ids=osm, format="json").json()
    assert len(looked) == 1 and looked[0]["osm_id"] == back["osm_id"]
    assert _get(server, "/nominatim/status").text == "OK"
    assert _get(server, "/nominatim/status", format="json").json()["status"] == 0
    box = _get(server, "/nominatim/search", q="Boulevard des Moulins", viewbox="0,0,1,1", bounded="1", format="json")
    assert box.json() == []


@pytest.mark.parametrize(
    "path,params",
    [
        ("/nominatim/search", {"format": "xml", "q": "x"}),
        ("/nominatim/search", {"q": "x", "street": "y"}),
        ("/nominatim/search", {}),
        ("/nominatim/reverse", {"lat": "x", "lon": "7.42"}),
        ("/nominatim/reverse", {"lon": "7"}),
        ("/nominatim/lookup", {"osm_ids": "X12"}),
        ("/nominatim/search", {"q": "x", "viewbox": "1,2"}),
    ],
)
def test_errors_in_nominatims_shape(server, path, params):
    r = _get(server, path, **params)
    assert r.status_code == 400 and set(r.json()) == {"error"} and r.json()["error"]["code"] == 400


def test_token_rules(server):
    assert requests.get(server.base + "/nominatim/search?q=Monaco", timeout=30).status_code == 401
    assert (
        requests.get(f"{server.base}/nominatim/search?q=Monaco&access_token={ADMIN_TOKEN}", timeout=30).status_code
        == 200
    )
