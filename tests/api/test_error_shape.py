"""One error envelope everywhere: every endpoint, fed bad input, answers a 4xx
``{"error": "<message>", "status": <code>}`` — never a 500, never HTML, never a traceback.

Hostile bytes (deep JSON, lone surrogates, invalid UTF-8, a wrong Content-Type, bodies over the limit,
chunked or not, query strings that are not UTF-8) are sent to every /v3 route that reads them, with auth on,
and cost no quota."""

import io
import re

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer

# (method, url, json body or None, expected status) — at least one case for every route in the app.
BAD_REQUESTS = [
    ("GET", "/v3/lds/routing", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=abc&destination=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42&destination=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42,143.73&destination=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=nan,43.73&destination=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42,43.73&destination=7.43,43.74&mode=plane", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42,43.73&destination=7.43,43.74&waypoints=43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=2.35,48.85&destination=7.43,43.74", None, 422),
    ("POST", "/v3/lds/routing", [1, 2], 400),
    ("POST", "/v3/lds/routing/matrix", {}, 400),
    ("POST", "/v3/lds/routing/matrix", {"origins": []}, 400),
    ("POST", "/v3/lds/routing/matrix", {"origins": [[7.42, 43.73]], "annotations": ["speed"]}, 400),
    ("POST", "/v3/lds/routing/matrix", {"origins": [[7.42, 143.73]]}, 400),
    ("POST", "/v3/lds/routing/matrix", {"origins": "abc"}, 400),
    ("POST", "/v3/lds/routing/matrix", {"origins": [[2.35, 48.85]], "destinations": [[7.42, 43.73]]}, 422),
    ("POST", "/v3/lds/routing", "not json", 400),
    ("GET", "/v3/lds/isolines", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=abc", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=-5", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=1,2,3,4,5,6,7,8,9,10", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=300&range_type=weight", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=999999", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=300&mode=boat", None, 400),
    ("GET", "/v3/lds/isolines?origin=2.35,48.85&range=300", None, 422),
    ("GET", "/v3/lds/isolines/h3", None, 400),
    ("GET", "/v3/lds/isolines/h3?origin=7.42,43.73&range=300&resolution=16", None, 400),
    ("GET", "/v3/lds/isolines/h3?origin=7.42,43.73&range=300&resolution=9.5", None, 400),
    ("GET", "/v3/lds/isolines/h3?origin=7.42,43.73&range=300&resolution=-1", None, 400),
    ("GET", "/v3/lds/isolines/h3?origin=7.42,43.73&range=300,x", None, 400),
    ("GET", "/v3/lds/isolines/h3?origin=2.35,48.85&range=300", None, 422),
    ("POST", "/v3/lds/isolines/h3", {"origin": [7.42, 43.73], "range": [300], "resolution": True}, 400),
    ("GET", "/v3/lds/geocoding/geocode", None, 400),
    ("GET", "/v3/lds/geocoding/geocode?address=Monaco&limit=zero", None, 400),
    ("GET", "/v3/lds/geocoding/geocode?address=Monaco&limit=100000", None, 400),
    ("GET", "/v3/lds/geocoding/geocode?address=Monaco&country=Monaco!", None, 400),
    ("GET", "/v3/lds/geocoding/reverse", None, 400),
    ("GET", "/v3/lds/geocoding/reverse?lat=95&lon=7.42", None, 400),
    ("GET", "/v3/lds/geocoding/reverse?lat=43.73&lon=east", None, 400),
    ("POST", "/v3/lds/geocoding/batch", None, 400),
    ("POST", "/v3/lds/geocoding/batch", {"addresses": "Monaco"}, 400),
    ("POST", "/v3/lds/geocoding/batch", {"nothing": []}, 400),
    ("POST", "/v3/lds/geocoding/batch", "not json", 400),
    ("GET", "/v3/lds/geocoding/batch", None, 405),
    ("GET", "/v3/lds/nope", None, 404),
    ("GET", "/v3/lds/jobs/does-not-exist", None, 404),
    ("DELETE", "/v3/lds/jobs/does-not-exist", None, 404),
    # auth is off in this client: the Tokens API says so (bad bodies with auth on: tests/api/test_tokens.py)
    ("POST", "/v3/tokens", "not json", 503),
    ("GET", "/v3/tokens/nope", None, 503),
    ("PUT", "/v3/tokens", None, 405),
    ("POST", "/v3/connections", "not json", 400),
    ("POST", "/v3/connections", {"name": "x y", "provider_id": "postgres", "config": {"credentials": {}}}, 400),
    ("GET", "/v3/connections/nope", None, 404),
    ("PATCH", "/v3/connections/nope", [1, 2], 400),
    ("PATCH", "/v3/connections/carto_dw", {"name": "other"}, 403),
    ("DELETE", "/v3/connections/nope?force=maybe", None, 400),
    ("GET", "/v3/connections/nope/resources", None, 404),
    ("GET", "/v3/connections/carto_dw/resources/nope.a.b", None, 404),
    ("GET", "/v3/sql/carto_dw/query", None, 400),
    ("GET", "/v3/sql/nope/query?q=SELECT%201", None, 404),
    ("POST", "/v3/sql/carto_dw/query", [1, 2], 400),
    ("GET", "/v3/sql/carto_dw/query?q=SELECT%201&queryParameters=%5B1", None, 400),
    ("GET", "/v3/sql/carto_dw/query?q=SELECT%201&format=xml", None, 400),
    ("POST", "/v3/sql/carto_dw/query", {"q": "SELECT 1", "format": "csv", "filename": "../x"}, 400),
    ("POST", "/v3/sql/carto_dw/job", [1, 2], 400),
    ("POST", "/v3/sql/carto_dw/job", {"q": "SELECT 1"}, 400),
    ("GET", "/v3/sql/nope/job?query=SELECT%201", None, 404),
    ("GET", "/v3/sql/carto_dw/job/nope", None, 404),
    ("DELETE", "/v3/sql/carto_dw/job/nope", None, 404),
    ("POST", "/v3/sql/jobs", None, 405),
    ("GET", "/v3/sql/carto_dw/model/formula", None, 400),
    ("GET", "/v3/sql/carto_dw/model/formula?source=t&params=%7B", None, 400),
    ("POST", "/v3/sql/carto_dw/model/median", {"source": "t", "params": {}}, 400),
    ("POST", "/v3/sql/carto_dw/model/formula", [1, 2], 400),
    ("GET", "/v3/maps/carto_dw/table", None, 400),
    ("GET", "/v3/maps/carto_dw/query?q=SELECT%201&queryParameters=%5B1", None, 400),
    ("POST", "/v3/maps/carto_dw/query", [1, 2], 400),
    ("GET", "/v3/maps/carto_dw/tileset?name=t", None, 404),
    ("GET", "/v3/maps/carto_dw/table/99/0/0?name=t", None, 400),
    ("GET", "/v3/maps/carto_dw/table/0/0/0?name=t&formatTiles=binary", None, 400),
    ("GET", "/v3/maps/carto_dw/table/0/0/0?name=a;b", None, 400),
    ("GET", "/v3/maps/carto_dw/table?src=not-packed", None, 400),
    ("GET", "/v3/maps/carto_dw/table/zz?name=t&spatialDataType=h3&spatialDataColumn=h3", None, 400),
    ("GET", "/v3/maps/carto_dw/table/8a1fb46622dffff?name=t&formatTiles=mvt&spatialDataType=h3", None, 400),
    ("GET", "/v3/maps/carto_dw/table?name=t&spatialDataType=quadbin&aggregationResLevel=99", None, 400),
    ("POST", "/v3/imports", "not json", 400),
    ("POST", "/v3/imports", {"connection": "carto_dw", "url": "http://127.0.0.1/x.csv", "destination": "a.b"}, 400),
    ("PUT", "/v3/imports", None, 405),
    ("GET", "/v3/imports/nope", None, 404),
    ("POST", "/v3/imports/nope/cancel", None, 404),
    ("POST", "/v3/imports/preview", [1, 2], 400),
    ("POST", "/v3/lds/stats", None, 405),
    ("POST", "/v3/lds/status", None, 405),
]


def _send(client, method, url, body):
    if body is None:
        return client.open(url, method=method)
    if isinstance(body, str):
        return client.open(url, method=method, data=body, content_type="application/json")
    return client.open(url, method=method, json=body)


@pytest.mark.parametrize("method,url,body,status", BAD_REQUESTS)
def test_bad_input_gets_the_envelope(client, method, url, body, status):
    r = _send(client, method, url, body)
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.is_json, r.get_data(as_text=True)[:300]
    payload = r.get_json()
    assert set(payload) == {"error", "status"} and payload["status"] == status
    assert isinstance(payload["error"], str) and payload["error"].strip()
    assert "Traceback" not in payload["error"]


def test_every_route_has_a_bad_input_case(app):
    covered = {url.split("?")[0] for _, url, _, _ in BAD_REQUESTS}
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/v3")}
    uncovered = []
    for rule in rules:
        prefix = rule.split("<")[0]
        if rule in covered or any(c.startswith(prefix) and "<" in rule for c in covered):
            continue
        uncovered.append(rule)
    assert not uncovered, f"add bad-input cases for: {sorted(uncovered)}"


# --- hostile bytes, over every /v3 route, with auth on: a 4xx in the envelope and nothing charged -----------

BODY_LIMIT = 64 * 1024
DEEP = b'{"addresses": ' + b"[" * 65 + b'"x"' + b"]" * 65 + b', "address": "x", "name": "x"}'
SURROGATE_ESCAPES = rb'{"address": "\udcff", "addresses": ["\udcff"], "name": "\udcff", "origin": "\ud800", "lat": 1}'
BAD_BODIES = {  # name -> (body bytes, Content-Type, expected status)
    "nested 65 deep": (DEEP, "application/json", 400),
    "nested 5000 deep": (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    "lone surrogate escape": (SURROGATE_ESCAPES, "application/json", 400),
    "lone surrogate bytes": (b'{"address": "\xed\xb3\xbf", "addresses": ["\xed\xb3\xbf"], "name": "\xed\xb3\xbf"}',
                             "application/json", 400),
    "invalid utf-8": (b'{"address": "caf\xe9", "addresses": ["\xff"], "name": "\xc3"}', "application/json", 400),
    "not json": (b'{"address": ', "application/json", 400),
    "text/plain": (b'{"address": "Monaco", "addresses": ["Monaco"]}', "text/plain", 415),
    "form": (b"address=Monaco&addresses=Monaco", "application/x-www-form-urlencoded", 415),
    "over the body limit": (b'{"addresses": ["' + b"x" * (4 * BODY_LIMIT) + b'"]}', "application/json", 413),
}
BAD_QUERIES = {
    "lone surrogate": "address=%ED%B3%BF&origin=%ED%A0%80&lat=%ED%B3%BF",
    "invalid utf-8": "address=caf%E9&x=%FF",
    "cut character": "address=%C3",
}


@pytest.fixture(scope="module")
def hostile_app(lds_core, tmp_path_factory):
    from lds.app import create_app

    settings = auth_settings(lds_core.data.path, tmp_path_factory.mktemp("hostile"), max_body_bytes=BODY_LIMIT,
                             job_max_body_bytes=2 * BODY_LIMIT)
    return create_app(settings, lds=lds_core)


@pytest.fixture(scope="module")
def hostile_token(hostile_app):
    r = hostile_app.test_client().post("/v3/tokens", json={"allowed_apis": ["lds"]}, headers=bearer(ADMIN_TOKEN))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["token"]


def _routes(app, methods):
    """(method, path) of every /v3 route taking one of ``methods``; path variables filled with a dummy."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/v3"):
            path = re.sub(r"<[^>]+>", "nope", rule.rule)
            out.extend((m, path) for m in sorted(rule.methods & methods))
    return sorted(out)


def _headers_for(path, token):
    return bearer(token if path.startswith("/v3/lds/") else ADMIN_TOKEN)


def _used(client, token):
    return client.get("/v3/lds/stats", headers=bearer(token)).get_json()


def _assert_envelope(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    payload = r.get_json()
    assert set(payload) == {"error", "status"} and payload["status"] == status, payload
    assert isinstance(payload["error"], str) and payload["error"].strip() and "Traceback" not in payload["error"]
    return payload["error"]


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_hostile_bodies_on_every_route_that_reads_one(hostile_app, hostile_token, case):
    body, content_type, status = BAD_BODIES[case]
    client = hostile_app.test_client()
    before = _used(client, hostile_token)
    routes = _routes(hostile_app, {"POST", "PUT", "PATCH"})
    assert len(routes) >= 7  # geocode, reverse, batch, routing, isolines, tokens (create, update)
    for method, path in routes:
        headers = {**_headers_for(path, hostile_token), "Content-Type": content_type}
        r = client.open(path, method=method, data=body, headers=headers)
        if status == 413 and path.endswith("/batch"):
            assert len(body) > 2 * BODY_LIMIT  # batches may be larger, up to job_max_body_bytes
        # the SQL API reads form bodies (QGIS posts q=...): this one has no 'q'
        _assert_envelope(r, 400 if case == "form" and path.startswith("/v3/sql/") else status)
    assert _used(client, hostile_token) == before  # nothing charged


def test_hostile_chunked_body_over_the_limit_is_413(hostile_app, hostile_token):
    """A chunked body (no Content-Length; the server sets wsgi.input_terminated) is read, up to the limit."""
    client = hostile_app.test_client()
    body = b'{"addresses": ["' + b"x" * (4 * BODY_LIMIT) + b'"]}'
    for method, path in _routes(hostile_app, {"POST", "PUT", "PATCH"}):
        r = client.open(path, method=method, input_stream=io.BytesIO(body),
                        headers={**_headers_for(path, hostile_token), "Transfer-Encoding": "chunked",
                                 "Content-Type": "application/json"},
                        environ_overrides={"wsgi.input_terminated": True})
        _assert_envelope(r, 413)


@pytest.mark.parametrize("case", sorted(BAD_QUERIES))
def test_hostile_query_strings_on_every_route(hostile_app, hostile_token, case):
    client = hostile_app.test_client()
    before = _used(client, hostile_token)
    routes = _routes(hostile_app, {"GET", "POST", "PUT", "PATCH", "DELETE"})
    for method, path in routes:
        r = client.open(path, method=method, query_string=BAD_QUERIES[case],
                        headers=_headers_for(path, hostile_token))
        assert "UTF-8" in _assert_envelope(r, 400), (method, path)
    assert _used(client, hostile_token) == before


# --- the proxy's catch-all route (/v3/<path:rest>, only with upstream_api_url; tests/proxy has the rest) -------
PROXY_BAD_REQUESTS = [  # (method, url, body bytes, status): refused here, or the upstream (down) a 502
    ("GET", "/v3/a/%2e%2e/%2e%2e/admin", None, 400),
    ("GET", "/v3/workspace?q=caf%E9", None, 400),
    ("POST", "/v3/workspace", b"x" * (BODY_LIMIT + 1), 413),
    ("POST", "/v3/workspace", b'{"address": "\\udcff"}', 502),  # bodies are the upstream's to judge
    ("GET", "/v3/lds/geocoding/batch", None, 405),  # served here with POST only
    ("DELETE", "/v3/workspace/x", None, 502),
]


@pytest.mark.parametrize("method,url,body,status", PROXY_BAD_REQUESTS)
def test_the_proxy_route_answers_bad_input_in_the_envelope(lds_core, tmp_path, method, url, body, status):
    import socket

    from lds.app import create_app

    with socket.create_server(("127.0.0.1", 0)) as sock:
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed below: nothing listens there
    settings = auth_settings(lds_core.data.path, tmp_path, upstream_api_url=down, upstream_max_body_bytes=BODY_LIMIT)
    r = create_app(settings, lds=lds_core).test_client().open(url, method=method, data=body, headers=bearer("carto"))
    _assert_envelope(r, status)
