"""CORS over HTTP with auth on: preflights answered without a token, every answer (errors, 401, 429 too)
readable by the allowed origins only; nothing changes while LDS_CORS_ORIGINS is unset."""

import re

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token

ORIGIN = "https://app.example.com"
ROUTE = {"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"}


def cors_app(lds_core, tmp_path, origins, **overrides):
    from lds.app import create_app

    return create_app(auth_settings(lds_core.data.path, tmp_path, cors_origins=origins, **overrides), lds=lds_core)


@pytest.fixture()
def cors_client(lds_core, tmp_path):
    return cors_app(lds_core, tmp_path, f"{ORIGIN}, http://localhost:3000").test_client()


def v3_paths(client):
    app = client.application
    return sorted({re.sub(r"<[^>]+>", "x", r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/v3")})


def test_preflight_on_every_v3_route_is_204_without_a_token(cors_client):
    for path in [*v3_paths(cors_client), "/v3/lds/no-such-thing"]:
        r = cors_client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "authorization, content-type"})
        assert r.status_code == 204, (path, r.status_code, r.get_data())
        assert r.headers["Access-Control-Allow-Origin"] == ORIGIN and r.get_data() == b""
        allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"authorization", "content-type"} <= allowed
        assert "OPTIONS" in r.headers["Access-Control-Allow-Methods"] and int(r.headers["Access-Control-Max-Age"]) > 0
    methods = cors_client.options("/v3/lds/geocoding/batch", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"}).headers["Access-Control-Allow-Methods"]
    assert "POST" in methods and "GET" not in methods  # the route's own methods


def test_preflight_from_another_origin_gets_no_allowance(cors_client):
    r = cors_client.options("/v3/lds/routing", headers={"Origin": "https://evil.example",
                                                        "Access-Control-Request-Method": "GET"})
    assert r.status_code == 204 and "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Methods" not in r.headers and r.headers["Vary"] == "Origin"


def test_answers_and_errors_carry_the_origin(cors_client):
    token = make_token(cors_client, quotas={"routing": 1})
    answers = [
        cors_client.get("/v3/lds/routing", query_string=ROUTE, headers={**bearer(token), "Origin": ORIGIN}),  # 200
        cors_client.get("/v3/lds/routing", query_string=ROUTE, headers={**bearer(token), "Origin": ORIGIN}),  # 429
        cors_client.get("/v3/lds/routing", headers={"Origin": ORIGIN}),  # 401
        cors_client.get("/v3/lds/routing", query_string={"origin": "x"}, headers={**bearer(token), "Origin": ORIGIN}),
        cors_client.get("/v3/tokens", headers={**bearer(token), "Origin": ORIGIN}),  # 403
        cors_client.get("/v3/lds/nope", headers={**bearer(token), "Origin": ORIGIN}),  # 404
    ]
    assert [r.status_code for r in answers] == [200, 429, 401, 400, 403, 404]
    for r in answers:
        assert r.headers["Access-Control-Allow-Origin"] == ORIGIN and "Origin" in r.headers["Vary"]
        assert "Retry-After" in r.headers["Access-Control-Expose-Headers"]
    other = cors_client.get("/v3/lds/routing", query_string=ROUTE, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers and other.headers["Vary"] == "Origin"
    admin = cors_client.get("/v3/lds/stats", headers={**bearer(ADMIN_TOKEN), "Origin": "http://localhost:3000"})
    assert admin.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_star_allows_every_origin(lds_core, tmp_path):
    client = cors_app(lds_core, tmp_path, "*").test_client()
    r = client.get("/v3/lds/routing", headers={"Origin": "https://anyone.example"})
    assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == "*"


def test_replayed_answers_get_the_callers_origin(lds_core, tmp_path):
    """The hot path below Flask replays memoised answers: CORS headers are the caller's, not the first one's."""
    client = cors_app(lds_core, tmp_path, f"{ORIGIN}, http://localhost:3000", cache_enabled=True).test_client()
    token = make_token(client)
    first = client.get("/v3/lds/routing", query_string=ROUTE, headers={**bearer(token), "Origin": ORIGIN})
    for origin in ("http://localhost:3000", "https://evil.example", ORIGIN):
        r = client.get("/v3/lds/routing", query_string=ROUTE, headers={**bearer(token), "Origin": origin})
        assert r.status_code == 200 and r.get_data() == first.get_data()
        assert r.headers.get("Access-Control-Allow-Origin") == (None if "evil" in origin else origin)
        assert r.headers.getlist("Vary") == ["Origin"]


def test_without_cors_origins_nothing_changes(auth_client):
    r = auth_client.get("/v3/lds/routing", headers={"Origin": ORIGIN})
    assert r.status_code == 401 and not [h for h, _ in r.headers.items() if h.lower().startswith("access-control")]
    assert "Vary" not in r.headers
    preflight = auth_client.options("/v3/lds/routing", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
