"""Outside the extract -> upstream: Monaco answers locally, the rest of the world comes from a real CARTO-like
upstream on 127.0.0.1, for every LDS service, through Flask and the fast path alike.
"""

from __future__ import annotations

import json

import pytest
from authfixtures import *
from authfixtures import auth_settings, bearer, make_token
from cartoupstream import NOWHERE, carto_upstream, closed_port_url

from lds.app import create_app

HEADERS_THAT_MATTER = (
    "Content-Type",
    "Content-Length",
    "X-LDS-Cache",
    "X-LDS-Cache-Hits",
    "Retry-After",
)  # test_fastpath's
MONACO_ROUTE = "/v3/lds/routing?origin=7.4197,43.7311&destination=7.4270,43.7400"
PARIS_ROUTE = "/v3/lds/routing?origin=2.35,48.85&destination=7.4270,43.7400&waypoints=48.5,2.25;45.1,5.5&mode=walk"
PARIS_ISOLINES = "/v3/lds/isolines?origin=2.35,48.85&range=300,600.5&mode=walk"
SEVILLA = "/v3/lds/geocoding/geocode?address=Calle+Ebro+1+Sevilla&country=ES&limit=1"
MONACO_ADDRESS = "14 Allée Lazare Sauvaigo"
PARIS_REVERSE = "/v3/lds/geocoding/reverse?lat=48.85&lon=2.35&language=fr"
MONACO_REVERSE = "/v3/lds/geocoding/reverse?lat=43.7330881&lon=7.418131"


@pytest.fixture(scope="module")
def upstream():
    with carto_upstream() as up:
        yield up


def _client(lds_core, tmp_path, url, **overrides):
    settings = auth_settings(
        lds_core.data.path,
        tmp_path,
        upstream_api_url=url,
        upstream_outside_extract=True,
        upstream_token_lds="up-lds",
        **overrides,
    )
    client = create_app(settings, lds=lds_core).test_client()
    return client, make_token(client)


@pytest.fixture(scope="module")
def fallback(lds_core, tmp_path_factory, upstream):
    return _client(lds_core, tmp_path_factory.mktemp("fallback"), upstream.base_url)


def _sent(upstream, before):
    """The requests the upstream received since ``before``."""
    return upstream.received[before:]


def _no_credential_of_ours(got, token):
    assert got.headers["authorization"] == "Bearer up-lds"
    assert token not in got.query and token not in json.dumps(got.headers) and token.encode() not in got.body


def test_a_route_outside_the_extract_comes_from_upstream(fallback, upstream):
    client, token = fallback
    before = len(upstream.received)
    r = client.get(PARIS_ROUTE, headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    route = r.get_json()[0]["value"][0]
    assert route["provider"] == "upstream" and route["geom"]["coordinates"] == [
        [2.35, 48.85],
        [2.25, 48.5],
        [5.5, 45.1],
        [7.427, 43.74],
    ]
    [got] = _sent(upstream, before)
    assert (got.method, got.path) == ("GET", "/v3/lds/routing")
    assert got.query == "origin=2.35%2C48.85&destination=7.427%2C43.74&mode=walk&waypoints=48.5%2C2.25%3B45.1%2C5.5"
    _no_credential_of_ours(got, token)
    r = client.get(MONACO_ROUTE, headers=bearer(token))  # inside: answered here
    assert r.status_code == 200 and "provider" not in r.get_json()[0]["value"][0]
    assert len(upstream.received) == before + 1


def test_isolines_outside_the_extract_come_from_upstream(fallback, upstream):
    client, token = fallback
    before = len(upstream.received)
    r = client.get(PARIS_ISOLINES, headers=bearer(token))
    assert r.status_code == 200
    assert [(v["range"], v["mode"], v["provider"]) for v in r.get_json()[0]["value"]] == [
        (300, "walk", "upstream"),
        (600.5, "walk", "upstream"),
    ]
    [got] = _sent(upstream, before)
    assert got.path == "/v3/lds/isolines"
    assert got.query == "origin=2.35%2C48.85&range=300%2C600.5&range_type=time&mode=walk"
    _no_credential_of_ours(got, token)


def test_geocoding_what_the_extract_lacks_comes_from_upstream(fallback, upstream):
    client, token = fallback
    before = len(upstream.received)
    r = client.get(SEVILLA, headers=bearer(token))
    assert r.get_json() == [
        {
            "error": None,
            "value": [
                {
                    "latitude": 40.4168,
                    "longitude": -3.7038,
                    "formattedAddress": "upstream Calle Ebro 1 Sevilla",
                    "matchType": "address",
                    "provider": "upstream",
                }
            ],
        }
    ]
    [got] = _sent(upstream, before)
    assert got.path == "/v3/lds/geocoding/geocode" and got.query == "address=Calle+Ebro+1+Sevilla&country=ES&limit=1"
    _no_credential_of_ours(got, token)
    r = client.get(f"/v3/lds/geocoding/geocode?address={MONACO_ADDRESS}&limit=1", headers=bearer(token))
    assert r.get_json()[0]["value"][0]["provider"] == "lds" and len(upstream.received) == before + 1
    r = client.get(f"/v3/lds/geocoding/geocode?address={NOWHERE}", headers=bearer(token))  # found nowhere
    assert (r.status_code, r.get_json()) == (200, [{"error": "No results found", "value": []}])
    assert len(upstream.received) == before + 2


def test_reverse_outside_the_extract_comes_from_upstream(fallback, upstream):
    client, token = fallback
    before = len(upstream.received)
    r = client.get(PARIS_REVERSE, headers=bearer(token))
    assert r.get_json()[0]["value"] == [
        {"latitude": 48.85, "longitude": 2.35, "formattedAddress": "upstream 48.85,2.35", "provider": "upstream"}
    ]
    [got] = _sent(upstream, before)
    assert got.path == "/v3/lds/geocoding/reverse" and got.query == "lat=48.85&lon=2.35&language=fr"
    _no_credential_of_ours(got, token)
    assert client.get(MONACO_REVERSE, headers=bearer(token)).get_json()[0]["value"][0]["provider"] == "lds"
    assert len(upstream.received) == before + 1


def test_a_batch_is_split_and_keeps_its_order(fallback, upstream):
    client, token = fallback
    items = [
        MONACO_ADDRESS,
        "Qwxz Zyxw 9",
        {"address": "Gran Via 1", "country": "ES"},
        "Boulevard des Moulins 12",
        NOWHERE,
        "",
        {"address": "Plaza Mayor 3", "limit": 2},
        42,
    ]
    before = len(upstream.received)
    r = client.post("/v3/lds/geocoding/batch", json={"addresses": items, "limit": 1}, headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    entries = r.get_json()
    assert len(entries) == len(items)
    [got] = _sent(upstream, before)
    assert (got.method, got.path) == ("POST", "/v3/lds/geocoding/batch")
    assert json.loads(got.body) == {
        "addresses": [
            "Qwxz Zyxw 9",
            {"address": "Gran Via 1", "country": "ES"},
            NOWHERE,
            {"address": "Plaza Mayor 3", "limit": 2},
        ],
        "limit": 1,
    }
    _no_credential_of_ours(got, token)
    providers = [e["value"][0]["provider"] if e["value"] else e["error"] for e in entries]
    assert providers[:5] == ["lds", "upstream", "upstream", "lds", "No results found"]
    assert providers[6] == "upstream" and entries[6]["value"][0]["formattedAddress"] == "upstream Plaza Mayor 3"
    assert entries[1]["value"][0]["formattedAddress"] == "upstream Qwxz Zyxw 9"
    assert entries[5]["error"] and entries[7]["error"]  # bad items keep their local error
    used = {s["service"]: s["used_quota"] for s in client.get("/v3/lds/stats", headers=bearer(token)).get_json()}
    assert used["geocoding"] >= len(items)
    before = len(upstream.received)
    local = client.post("/v3/lds/geocoding/batch", json={"addresses": [MONACO_ADDRESS]}, headers=bearer(token))
    assert local.get_json()[0]["value"][0]["provider"] == "lds" and len(upstream.received) == before


@pytest.mark.parametrize("cache", [False, True], ids=["cache-off", "cache-on"])
def test_the_fast_path_and_flask_answer_alike(lds_core, tmp_path, upstream, cache):
    fast, fast_token = _client(lds_core, tmp_path / "fast", upstream.base_url, cache_enabled=cache)
    slow, slow_token = _client(lds_core, tmp_path / "slow", upstream.base_url, cache_enabled=cache, fast_path=False)
    urls = [
        PARIS_ROUTE,
        MONACO_ROUTE,
        PARIS_ISOLINES,
        SEVILLA,
        f"/v3/lds/geocoding/geocode?address={NOWHERE}",
        f"/v3/lds/geocoding/geocode?address={MONACO_ADDRESS}",
        PARIS_REVERSE,
        MONACO_REVERSE,
    ]
    for _ in range(2):  # with the cache on, the second round: local answers cached, upstream answers asked again
        for url in urls:
            before = len(upstream.received)
            a = fast.get(url, headers=bearer(fast_token))
            between = len(upstream.received)
            b = slow.get(url, headers=bearer(slow_token))
            assert (a.status_code, a.data) == (b.status_code, b.data), url
            assert between - before == len(upstream.received) - between, url  # the same went upstream
            for name in HEADERS_THAT_MATTER:
                assert a.headers.get(name) == b.headers.get(name), (url, name)
    for client, token in ((fast, fast_token), (slow, slow_token)):
        used = {s["service"]: s["used_quota"] for s in client.get("/v3/lds/stats", headers=bearer(token)).get_json()}
        assert used == {"geocoding": 10, "isolines": 2, "routing": 4}


def test_upstream_failures_are_502_504_and_cost_nothing(lds_core, tmp_path, upstream):
    cases = [
        (closed_port_url(), {}, 502, "could not be reached"),
        (upstream.base_url + "/status/401", {}, 502, "refused this installation's upstream token"),
        (upstream.base_url + "/status/500", {}, 502, "upstream API failed (500"),
        (upstream.base_url + "/hang", {"upstream_timeout_s": 0.3}, 504, "in time"),
    ]
    for i, (url, overrides, status, words) in enumerate(cases):
        client, token = _client(lds_core, tmp_path / str(i), url, **overrides)
        for path in (PARIS_ROUTE, PARIS_REVERSE):
            r = client.get(path, headers=bearer(token))
            assert r.status_code == status and words in r.get_json()["error"], (url, r.get_json())
        r = client.post(
            "/v3/lds/geocoding/batch", json={"addresses": [MONACO_ADDRESS, "Qwxz Zyxw 9"]}, headers=bearer(token)
        )
        assert r.status_code == status
        used = client.get("/v3/lds/stats", headers=bearer(token)).get_json()
        assert all(s["used_quota"] == 0 for s in used)  # charged, then given back with the 5xx


def test_upstream_client_errors_keep_their_status(lds_core, tmp_path, upstream):
    client, token = _client(lds_core, tmp_path, upstream.base_url + "/status/429")
    r = client.get(PARIS_ISOLINES, headers=bearer(token))
    assert (r.status_code, r.headers["Retry-After"]) == (429, "7") and r.get_json()[
        "error"
    ] == "upstream: upstream says 429"
    client, token = _client(lds_core, tmp_path / "422", upstream.base_url + "/status/422")
    r = client.get(PARIS_ROUTE, headers=bearer(token))
    assert r.status_code == 422 and r.get_json() == {"error": "upstream: upstream says 422", "status": 422}


@pytest.mark.parametrize(
    "overrides,words",
    [
        ({"upstream_token_lds": None}, "LDS_UPSTREAM_TOKEN_LDS"),
        ({"upstream_apis": "lds"}, "remove lds"),
        ({"upstream_api_url": None}, "need LDS_UPSTREAM_API_URL"),
        ({"upstream_api_url": "ftp://carto.example.com"}, "http(s) URL"),
        ({"upstream_api_url": "https://user:pw@carto.example.com"}, "credentials"),
        ({"upstream_apis": "sql,nope"}, "unknown API"),
    ],
)
def test_settings_that_cannot_work_stop_the_start(lds_core, tmp_path, overrides, words):
    values = {
        "upstream_api_url": "https://carto.example.com",
        "upstream_outside_extract": True,
        "upstream_token_lds": "up-lds",
        **overrides,
    }
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        create_app(auth_settings(lds_core.data.path, tmp_path, **values), lds=lds_core)
