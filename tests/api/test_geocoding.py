"""HTTP geocoding endpoints on Monaco: CARTO envelopes, parameter aliases, error shapes and limits."""

from __future__ import annotations

import pytest

from lds.app import create_app
from lds.core import LDS


def _ok(r):
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    body = r.get_json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"error", "value"}
    return body[0]


def test_geocode_get_and_post(client):
    entry = _ok(client.get("/v3/lds/geocoding/geocode", query_string={"address": "14 Allée Lazare Sauvaigo", "limit": 1}))
    assert entry["error"] is None and len(entry["value"]) == 1
    c = entry["value"][0]
    assert c["streetNumber"] == "14" and c["provider"] == "lds" and isinstance(c["latitude"], float)
    posted = _ok(client.post("/v3/lds/geocoding/geocode", json={"address": "14 Allée Lazare Sauvaigo", "limit": 1}))
    assert posted == entry


def test_geocode_default_and_country(client):
    entry = _ok(client.get("/v3/lds/geocoding/geocode?address=Boulevard%20des%20Moulins"))
    assert 1 <= len(entry["value"]) <= 5  # geocode_default_limit
    none = _ok(client.get("/v3/lds/geocoding/geocode?address=Boulevard%20des%20Moulins&country=dk"))
    assert none == {"error": "No results found", "value": []}


def test_reverse_aliases_and_language(client):
    a = _ok(client.get("/v3/lds/geocoding/reverse?lat=43.7330881&lon=7.418131"))
    b = _ok(client.get("/v3/lds/geocoding/reverse?latitude=43.7330881&lng=7.418131&language=en-US"))
    c = _ok(client.get("/v3/lds/geocoding/reverse?latitude=43.7330881&longitude=7.418131"))
    assert a["value"][0]["streetNumber"] == b["value"][0]["streetNumber"] == c["value"][0]["streetNumber"] == "14"
    assert a["value"][0]["distance"] == 0.0


def test_reverse_outside_the_data_is_an_error_entry(client):
    entry = _ok(client.get("/v3/lds/geocoding/reverse?lat=48.85&lon=2.35"))
    assert entry["value"] == [] and "outside the loaded data" in entry["error"]


def test_batch_order_and_per_item_errors(client):
    body = {"addresses": ["14 Allée Lazare Sauvaigo", {"address": ""}, {"address": "4 Avenue de la Madone", "limit": 1},
                          "qqqq zzzz wwww"], "limit": 1}
    r = client.post("/v3/lds/geocoding/batch", json=body)
    assert r.status_code == 200
    out = r.get_json()
    assert len(out) == 4
    assert out[0]["value"][0]["streetNumber"] == "14"
    assert out[1]["error"] and out[1]["value"] == []
    assert out[2]["value"][0]["streetName"] == "Avenue de la Madone"
    assert out[3] == {"error": "No results found", "value": []}


@pytest.mark.parametrize("body,status", [
    ({"addresses": []}, 400),
    ({"addresses": "14 Allée Lazare Sauvaigo"}, 400),
    ({"addresses": ["x"], "country": "Monaco"}, 400),
    ({"addresses": ["x"], "limit": -1}, 400),
    ({}, 400),
    ([], 400),
])
def test_batch_malformed_bodies(client, body, status):
    r = client.post("/v3/lds/geocoding/batch", json=body)
    assert r.status_code == status
    assert set(r.get_json()) == {"error", "status"}


@pytest.mark.parametrize("url", [
    "/v3/lds/geocoding/geocode?address=",
    "/v3/lds/geocoding/geocode?address=x&limit=1.5",
    "/v3/lds/geocoding/geocode?address=x&country=123",
    "/v3/lds/geocoding/reverse?lat=43.73",
    "/v3/lds/geocoding/reverse?lat=43.73&lon=181",
    "/v3/lds/geocoding/reverse?lat=nan&lon=7.4",
])
def test_bad_parameters(client, url):
    r = client.get(url)
    assert r.status_code == 400
    body = r.get_json()
    assert set(body) == {"error", "status"} and body["status"] == 400 and body["error"]


@pytest.fixture(scope="module")
def small_batch_client(lds_core):
    settings = lds_core.settings.replace(batch_max_sync=3, geocode_max_query_chars=40)
    core = LDS(settings)
    return create_app(settings, lds=core).test_client()


def test_batches_up_to_the_setting_are_answered_synchronously(small_batch_client):
    r = small_batch_client.post("/v3/lds/geocoding/batch", json={"addresses": ["a", "b", "c"]})
    assert r.status_code == 200 and len(r.get_json()) == 3
    # larger ones are not answered inline (the jobs layer takes them: 202 with a job id)
    r = small_batch_client.post("/v3/lds/geocoding/batch", json={"addresses": ["a", "b", "c", "d"]})
    assert r.status_code != 200 and r.status_code < 500


def test_overlong_address_is_400(small_batch_client):
    r = small_batch_client.get("/v3/lds/geocoding/geocode", query_string={"address": "x" * 41})
    assert r.status_code == 400 and "too long" in r.get_json()["error"]
    out = small_batch_client.post("/v3/lds/geocoding/batch", json={"addresses": ["x" * 41]}).get_json()
    assert "too long" in out[0]["error"]
