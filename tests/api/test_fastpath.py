"""The fast path below Flask answers GETs of the answer endpoints exactly as the Flask route does.

Two apps over the same core, one with ``fast_path`` on and one with it off, get the same requests in the same
order (good and bad parameters, aliases, odd query strings, every auth refusal, an exhausted quota, CORS);
each pair must agree on status, body bytes and the headers that matter.
"""

from __future__ import annotations

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, make_token
from test_error_shape import BAD_REQUESTS

from lds.app import create_app
from lds.services import SERVICES

HEADERS_THAT_MATTER = ("Content-Type", "Content-Length", "X-LDS-Cache", "X-LDS-Cache-Hits", "Retry-After",
                       "WWW-Authenticate", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Vary")
ROUTE = "/v3/lds/routing?origin=7.4197,43.7311&destination=7.4270,43.7400"
ORIGIN = "https://app.example.com"
FAST_PATHS = {s.path for s in SERVICES.values() if "GET" in s.methods}

# (url, who: the token that calls, extra headers)
REQUESTS = [
    (ROUTE, "full", {}),
    (ROUTE + "&mode=walk&waypoints=43.7350,7.4210", "full", {}),
    (ROUTE + "&mode=walk&mode=car", "full", {}),  # the first of repeated parameters wins
    (ROUTE + "&mode=CAR&client=carto&v=3&&=x&flag", "full", {}),  # unknown and blank parameters are ignored
    (ROUTE + "&waypoints=" + ";".join(["43.7311,7.4197"] * 26), "full", {}),
    ("/v3/lds/routing?origin=2.35,48.85&destination=7.4270,43.7400", "full", {}),  # 422 out of coverage
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=300&mode=walk", "full", {}),
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=300;600&range_type=distance&mode=walk", "full", {}),
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=300&range_type=distance&range=999999&mode=walk", "full", {}),
    ("/v3/lds/isolines/h3?origin=7.4197,43.7311&range=300,600&mode=walk&resolution=10", "full", {}),
    ("/v3/lds/geocoding/geocode?address=14+All%C3%A9e+Lazare+Sauvaigo&limit=1", "full", {}),
    ("/v3/lds/geocoding/geocode?q=Boulevard%20des%20Moulins&country=mc", "full", {}),
    ("/v3/lds/geocoding/geocode?address=Boulevard+des+Moulins&country=dk", "full", {}),  # no result: 200 entry
    ("/v3/lds/geocoding/geocode?address=" + "x" * 501, "full", {}),
    ("/v3/lds/geocoding/geocode?address=Monaco&limit=", "full", {}),
    ("/v3/lds/geocoding/geocode?address=caf%ED%B3%BF", "full", {}),  # a lone surrogate: not UTF-8
    ("/v3/lds/geocoding/geocode?address=caf%E9", "full", {}),  # Latin-1, not UTF-8
    ("/v3/lds/geocoding/reverse?lat=43.7330881&lon=7.418131", "full", {}),
    ("/v3/lds/geocoding/reverse?latitude=43.7330881&lng=7.418131&language=en-US", "full", {}),
    ("/v3/lds/geocoding/reverse?lat=48.85&lon=2.35", "full", {}),  # outside the data: 200 error entry
    *[(url, "full", {}) for method, url, body, _ in BAD_REQUESTS if method == "GET" and body is None],
    # who may call
    (ROUTE, "none", {}),
    (ROUTE, "bad", {}),
    (ROUTE, "sql", {}),
    (ROUTE, "referer", {"Referer": "https://evil.example.com/"}),
    (ROUTE, "referer", {"Referer": "https://good.example.com/page"}),
    (ROUTE + "&access_token={full}", "none", {}),
    (ROUTE, "admin", {}),
    ("/v3/lds/routing?origin=bad", "none", {}),  # the token is checked before the parameters
    # CORS on every answer, refusals included
    (ROUTE, "full", {"Origin": ORIGIN}),
    (ROUTE, "none", {"Origin": ORIGIN}),
    (ROUTE, "full", {"Origin": "https://other.example.com"}),
    # the quota: 2 routes, then 429 with Retry-After (invalid requests cost nothing)
    ("/v3/lds/routing?origin=x", "limited", {}),
    (ROUTE, "limited", {}),
    (ROUTE, "limited", {}),
    (ROUTE, "limited", {}),
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=300&mode=walk", "limited", {}),
]


def _app(lds_core, state_dir, **overrides):
    settings = auth_settings(lds_core.data.path, state_dir, cors_origins=ORIGIN, **overrides)
    app = create_app(settings, lds=lds_core)
    calls: list[int] = []
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: calls.append(1))  # first of Flask's hooks
    client = app.test_client()
    tokens = {
        "full": make_token(client),
        "limited": make_token(client, quotas={"routing": 2, "isolines": 0}),
        "sql": make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "c", "source": "*"}]),
        "referer": make_token(client, referers=["https://good.example.com"]),
        "admin": ADMIN_TOKEN, "bad": "not-a-token", "none": None,
    }
    calls.clear()  # making the tokens went through Flask
    return client, tokens, calls


def _send(client, tokens, url, who, extra):
    headers = dict(extra)
    if tokens[who]:
        headers["Authorization"] = f"Bearer {tokens[who]}"
    return client.get(url.format(full=tokens["full"]), headers=headers)


@pytest.mark.parametrize("cache", [False, True], ids=["cache-off", "cache-on"])
def test_fast_path_and_flask_answer_alike(lds_core, tmp_path, cache):
    fast, fast_tokens, fast_calls = _app(lds_core, tmp_path / "fast", cache_enabled=cache)
    slow, slow_tokens, slow_calls = _app(lds_core, tmp_path / "slow", cache_enabled=cache, fast_path=False)
    statuses = set()
    for _ in range(2 if cache else 1):  # with the cache on, the second round is answered from it (and the memo)
        for url, who, extra in REQUESTS:
            a = _send(fast, fast_tokens, url, who, extra)
            b = _send(slow, slow_tokens, url, who, extra)
            where = f"{who} GET {url[:120]}"
            assert (a.status_code, a.data) == (b.status_code, b.data), where
            for name in HEADERS_THAT_MATTER:
                assert a.headers.get(name) == b.headers.get(name), (where, name)
            assert a.headers["X-Request-ID"] and b.headers["X-Request-ID"]
            statuses.add(a.status_code)
    assert {200, 400, 401, 403, 422, 429} <= statuses
    rounds = 2 if cache else 1
    elsewhere = sum(url.split("?")[0] not in FAST_PATHS for url, _, _ in REQUESTS)  # 404/405 cases of test_error_shape
    assert len(fast_calls) == elsewhere * rounds and len(slow_calls) == len(REQUESTS) * rounds
    # the same quota was charged on both
    for who in ("full", "limited"):
        used_fast = fast.get("/v3/lds/stats", headers={"Authorization": f"Bearer {fast_tokens[who]}"}).get_json()
        used_slow = slow.get("/v3/lds/stats", headers={"Authorization": f"Bearer {slow_tokens[who]}"}).get_json()
        assert used_fast == used_slow and any(s["used_quota"] for s in used_fast)


def test_requests_the_fast_path_leaves_to_flask(lds_core, tmp_path):
    client, tokens, calls = _app(lds_core, tmp_path)
    auth = {"Authorization": f"Bearer {tokens['full']}"}
    assert client.post("/v3/lds/routing", json={"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"},
                       headers=auth).status_code == 200
    assert client.options("/v3/lds/routing", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
                          ).status_code == 204
    assert client.head(ROUTE, headers=auth).status_code == 200
    assert client.get(ROUTE, data=b'{"mode": "walk"}', headers=auth).status_code == 200  # a GET with a body
    assert client.get("/v3/lds/routing/", headers=auth).status_code == 404
    assert client.get("/v3/lds/geocoding/batch", headers=auth).status_code == 405
    assert len(calls) == 6
    assert client.get(ROUTE, headers=auth).status_code == 200 and len(calls) == 6


def test_the_fast_path_serves_every_declared_get():
    from lds.api.hotpath import get_routes

    routes = get_routes(SERVICES.values())
    assert set(routes) == FAST_PATHS
    assert "/v3/lds/geocoding/batch" not in routes and len(routes) == 5


@pytest.mark.parametrize("query", [
    "", "a=1", "a=1&a=2", "a", "a=", "=x", "&&a=1&&", "a=1=2", "a+b=c+d", "a%20b=c%2Bd", "q=All%C3%A9e",
    "q=%ED%B3%BF", "q=%E9", "q=%zz%4", "q=caf\xc3\xa9", "a=1;b=2", "%61=1&a=2", "access_token=x&a=%26",
])
def test_query_args_read_as_flask_reads_them(query):
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from lds.api.hotpath import query_args

    environ = EnvironBuilder(path="/").get_environ()
    environ["QUERY_STRING"] = query
    assert query_args(query) == Request(environ).args.to_dict()


def test_a_failing_core_is_a_500_envelope_and_costs_nothing(lds_core, tmp_path, monkeypatch, caplog):
    fast, fast_tokens, _ = _app(lds_core, tmp_path / "fast")
    slow, slow_tokens, _ = _app(lds_core, tmp_path / "slow", fast_path=False)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(lds_core, "route", broken)
    replies = []
    for client, tokens in ((fast, fast_tokens), (slow, slow_tokens)):
        caplog.clear()
        r = _send(client, tokens, ROUTE, "full", {})
        assert any(rec.message == "unhandled error" and rec.exc_info for rec in caplog.records)
        used = _send(client, tokens, "/v3/lds/stats", "full", {}).get_json()
        replies.append((r.status_code, r.data, r.headers["Content-Type"], used))
    assert replies[0] == replies[1]
    assert replies[0][:2] == (500, b'{"error":"Internal server error","status":500}\n')
    assert all(s["used_quota"] == 0 for s in replies[0][3])  # charged, then given back
