"""Proxy routes against a real CARTO-like upstream on 127.0.0.1: what it receives, what the caller gets back.

Every API is forwarded (those this installation does not serve, and those ``upstream_apis`` sends upstream),
with method, path, query and body unchanged, the header policy applied, no credential of ours leaving, the
answer streamed back unchanged; and the upstream's failures are 502/504 in the one envelope.
"""

from __future__ import annotations

import gzip
import http.client
import io
import json
import threading

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token
from cartoupstream import STREAM_LINES, carto_upstream, closed_port_url, garbage_server, keepalive_server
from werkzeug.serving import make_server

from lds.app import create_app

CARTO_TOKEN = "carto-api-token-eyJhbGciOi"  # a token of the upstream, unknown here


@pytest.fixture(scope="module")
def upstream():
    with carto_upstream() as up:
        yield up


def _app(lds_core, tmp_path, upstream_url, **overrides):
    return create_app(
        auth_settings(lds_core.data.path, tmp_path, upstream_api_url=upstream_url, **overrides), lds=lds_core
    )


@pytest.fixture(scope="module")
def passthrough(lds_core, tmp_path_factory, upstream):
    """No upstream token: callers' own (upstream) tokens pass; sql, maps, imports, connections, tokens go upstream."""
    app = _app(
        lds_core,
        tmp_path_factory.mktemp("passthrough"),
        upstream.base_url,
        upstream_apis="sql,maps,imports,connections,tokens",
        upstream_max_answer_bytes=100_000,
    )
    return app.test_client()


def _envelope(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_json()
    assert set(body) == {"error", "status"} and body["status"] == status and body["error"].strip()
    return body["error"]


# (method, path with query, JSON body or raw bytes or None)
FORWARDED = [
    ("GET", "/v3/sql/carto_dw/query?q=SELECT%201&client=deck-gl-carto&v=3.4", None),
    ("POST", "/v3/sql/carto_dw/query?client=x", {"q": "SELECT 2", "queryParameters": [1, "a"]}),
    ("GET", "/v3/maps/carto_dw/query?q=SELECT%20*%20FROM%20t&formatTiles=mvt", None),
    ("POST", "/v3/imports", {"connection": "carto_dw", "url": "https://example.com/a.csv", "destination": "a.b"}),
    ("GET", "/v3/imports/job-1", None),
    ("GET", "/v3/connections", None),
    ("PATCH", "/v3/connections/pg", {"name": "other"}),
    ("DELETE", "/v3/tokens/abc?force=true", None),
    ("POST", "/v3/tokens", {"grants": [], "allowed_apis": ["lds"]}),
    ("GET", "/v3/lds/geocoding/autocomplete?q=Gran%20V%C3%ADa&limit=5", None),  # lds, not served here
    ("GET", "/v3/workspace/maps?page=2&tag-mapId=x%20y", None),  # no API this installation knows
    ("PUT", "/v3/workspace/files/a%20b.bin", b"\x00\xffbinary\r\n"),
]


@pytest.mark.parametrize("method,url,body", FORWARDED, ids=[f"{m} {u.split('?')[0]}" for m, u, _ in FORWARDED])
def test_each_api_goes_upstream_as_sent(passthrough, upstream, method, url, body):
    headers = {
        **bearer(CARTO_TOKEN),
        "Cookie": "session=ours",
        "X-Custom": "kept",
        "Connection": "X-Hop",
        "X-Hop": "dropped",
        "X-Forwarded-For": "203.0.113.9",
        "Accept": "application/json",
    }
    sent = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    if body is not None:
        headers["Content-Type"] = "application/x-thing" if isinstance(body, bytes) else "application/json"
    r = passthrough.open(url, method=method, data=sent, headers=headers)
    got = upstream.last()
    path, _, query = url.partition("?")
    assert (got.method, got.path, got.query) == (method, path.replace("%20", " "), query)
    assert got.body == sent and got.headers.get("content-type") == headers.get("Content-Type")
    assert got.headers["authorization"] == f"Bearer {CARTO_TOKEN}"
    assert got.headers["x-custom"] == "kept" and got.headers["accept"] == "application/json"
    assert "cookie" not in got.headers and "x-hop" not in got.headers
    assert got.headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert got.headers["x-forwarded-proto"] == "http" and got.headers["x-forwarded-host"] == "localhost"
    assert got.headers["host"] == upstream.base_url.removeprefix("http://")
    sql = path.startswith("/v3/sql/")
    assert r.status_code == (201 if method == "POST" and not sql else 200)
    if sql:
        assert r.get_json()["rows"] == [{"q": "SELECT 1" if method == "GET" else "SELECT 2"}]
        assert r.headers["Cache-Control"] == "max-age=60"
    else:
        assert r.get_json() == {"echo": True, "method": method, "path": got.path}
    assert r.headers["Content-Type"] == "application/json" and r.headers["X-Request-ID"]


def test_raw_utf8_in_the_query_arrives_as_utf8(passthrough, upstream):
    raw = b"q=caf\xc3\xa9&r=%C3%A9".decode("latin-1")  # as a WSGI server passes raw bytes
    r = passthrough.get("/v3/workspace", environ_overrides={"QUERY_STRING": raw}, headers=bearer(CARTO_TOKEN))
    assert r.status_code == 200 and upstream.last().query == "q=caf%C3%A9&r=%C3%A9"


def test_the_pool_keeps_connections_alive(lds_core, tmp_path):
    with keepalive_server() as (url, ports):
        client = _app(lds_core, tmp_path, url).test_client()
        for _ in range(3):
            assert client.get("/v3/workspace/x", headers=bearer(CARTO_TOKEN)).get_json() == {"kept": True}
    assert len(ports) == 3 and len(set(ports)) == 1


def _local_token(client, **body) -> str:
    """A token of this installation, made in its store (its Tokens API is sent upstream in these apps)."""
    tokens = client.application.extensions["lds_access"].tokens
    return tokens.create({"allowed_apis": ["lds"], **body})[0]


def test_tokens_of_this_installation_never_go_upstream(passthrough, upstream):
    token = _local_token(passthrough)
    before = len(upstream.received)
    for headers, url in [
        (bearer(ADMIN_TOKEN), "/v3/connections"),
        (bearer(token), "/v3/sql/carto_dw/query?q=1"),
        ({}, f"/v3/maps/x?access_token={token}"),
        ({}, f"/v3/workspace?access_token={ADMIN_TOKEN}"),
        (bearer(CARTO_TOKEN), f"/v3/workspace?access_token={token}"),
    ]:
        message = _envelope(passthrough.get(url, headers=headers), 403)
        assert "never sent upstream" in message
    assert len(upstream.received) == before
    r = passthrough.get("/v3/workspace")  # no token at all: the upstream decides
    assert r.status_code == 200 and "authorization" not in upstream.last().headers


def test_upstream_tokens_replace_the_callers(lds_core, tmp_path, upstream):
    app = _app(
        lds_core,
        tmp_path,
        upstream.base_url,
        upstream_apis="sql",
        upstream_token="up-generic",
        upstream_token_sql="up-sql",
    )
    client = app.test_client()
    sql = make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": "*"}])
    lds = make_token(client)
    r = client.get(f"/v3/sql/carto_dw/query?access_token={sql}&q=SELECT%203&access%5Ftoken={sql}")
    assert r.status_code == 200, r.get_json()
    got = upstream.last()
    assert got.headers["authorization"] == "Bearer up-sql" and got.query == "q=SELECT%203"
    assert client.get("/v3/workspace", headers=bearer(ADMIN_TOKEN)).status_code == 200
    assert upstream.last().headers["authorization"] == "Bearer up-generic"
    assert client.get("/v3/lds/geocoding/autocomplete?x=1", headers=bearer(lds)).status_code == 200
    assert upstream.last().headers["authorization"] == "Bearer up-generic"
    before = len(upstream.received)
    _envelope(client.get("/v3/sql/carto_dw/query?q=1"), 401)  # callers need a token of this installation
    _envelope(client.get("/v3/workspace", headers=bearer(lds)), 403)  # other paths: the admin token
    _envelope(client.get("/v3/sql/carto_dw/query?q=1", headers=bearer(CARTO_TOKEN)), 401)
    assert len(upstream.received) == before


def test_answers_stream_back_unchanged(passthrough, upstream):
    r = passthrough.get("/v3/test/stream", headers=bearer(CARTO_TOKEN))
    expected = b"id,name\n" + b"".join(f"{i},row {i}\n".encode() for i in range(STREAM_LINES))
    assert (r.status_code, r.data) == (200, expected)
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Cache-Control"] == "max-age=300, public" and r.headers["ETag"] == '"v1"'
    assert r.headers["Last-Modified"] == "Sun, 06 Dec 2026 10:00:00 GMT" and r.headers["Vary"] == "Accept"
    r = passthrough.get("/v3/test/gzip", headers={**bearer(CARTO_TOKEN), "Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and gzip.decompress(r.data) == b'{"zipped": true}'
    assert upstream.last().headers["accept-encoding"] == "gzip"
    r = passthrough.get("/v3/test/odd-headers", headers=bearer(CARTO_TOKEN))
    assert r.get_json() == {"odd": True} and r.headers["X-Upstream"] == "kept"
    for name in ("Set-Cookie", "Access-Control-Allow-Origin", "Keep-Alive", "X-Secret"):
        assert name not in r.headers
    r = passthrough.get("/v3/test/nocontenttype", headers=bearer(CARTO_TOKEN))
    assert r.data == b"raw" and "Content-Type" not in r.headers and r.headers["X-Kind"] == "raw"
    pool = passthrough.application.extensions["lds_proxy"].client.pool()
    r = passthrough.head("/v3/test/stream", headers=bearer(CARTO_TOKEN))
    assert r.status_code == 200 and r.data == b"" and upstream.last().method == "HEAD"
    assert pool.num_requests and pool.pool.qsize() == pool.pool.maxsize  # every connection back in the pool


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
def test_upstream_errors_pass_back_unchanged(passthrough, status):
    r = passthrough.get(f"/v3/test/status/{status}", headers=bearer(CARTO_TOKEN))
    assert r.status_code == status and r.get_json() == {"error": f"upstream says {status}", "status": status}
    assert r.headers["Retry-After"] == "7"


def test_redirects_are_passed_back_not_followed(passthrough, upstream):
    before = len(upstream.received)
    r = passthrough.get("/v3/test/redirect?to=UPSTREAM/v3/test/target%3Fa%3D1", headers=bearer(CARTO_TOKEN))
    assert r.status_code == 302 and r.headers["Location"] == "/v3/test/target?a=1"  # back through us
    r = passthrough.get("/v3/test/redirect?status=307&to=https://storage.example.com/x", headers=bearer(CARTO_TOKEN))
    assert r.status_code == 307 and r.headers["Location"] == "https://storage.example.com/x"
    assert len(upstream.received) == before + 2


def test_an_upstream_that_is_down_is_a_502(lds_core, tmp_path):
    client = _app(lds_core, tmp_path, closed_port_url()).test_client()
    assert "could not be reached" in _envelope(client.get("/v3/workspace", headers=bearer(CARTO_TOKEN)), 502)


def test_an_upstream_that_hangs_is_a_504(lds_core, tmp_path, upstream):
    client = _app(lds_core, tmp_path, upstream.base_url, upstream_timeout_s=0.3).test_client()
    assert "in time" in _envelope(client.get("/v3/test/hang", headers=bearer(CARTO_TOKEN)), 504)


def test_an_upstream_answering_garbage_is_a_502(lds_core, tmp_path):
    with garbage_server() as url:
        client = _app(lds_core, tmp_path, url).test_client()
        assert "not HTTP" in _envelope(client.post("/v3/workspace", json={"a": 1}, headers=bearer(CARTO_TOKEN)), 502)


def test_oversized_answers(passthrough):
    message = _envelope(passthrough.get("/v3/test/big?n=100001", headers=bearer(CARTO_TOKEN)), 502)
    assert "too large" in message and "100001" in message
    assert len(passthrough.get("/v3/test/big?n=100000", headers=bearer(CARTO_TOKEN)).data) == 100_000
    r = passthrough.get("/v3/test/bigstream?n=200000", headers=bearer(CARTO_TOKEN), buffered=False)
    assert r.status_code == 200  # the status left before the size was known: the answer is cut
    from lds.proxy.client import AnswerCut

    with pytest.raises(AnswerCut):
        r.get_data()


def test_a_cut_stream_reaches_a_real_client_incomplete(lds_core, tmp_path, upstream):
    """Over real HTTP the cut answer's chunked body has no end: the client sees it incomplete, not short."""
    app = _app(lds_core, tmp_path, upstream.base_url, upstream_max_answer_bytes=100_000)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        conn.request("GET", "/v3/test/bigstream?n=200000", headers=bearer(CARTO_TOKEN))
        answer = conn.getresponse()
        assert answer.status == 200
        with pytest.raises(http.client.IncompleteRead):
            answer.read()
    finally:
        server.shutdown()
        server.server_close()


def test_requests_refused_before_going_upstream(passthrough, upstream):
    before = len(upstream.received)
    assert _envelope(passthrough.get("/v3/a/%2e%2e/%2e%2e/admin", headers=bearer(CARTO_TOKEN)), 400)
    assert _envelope(passthrough.get("/v3/a/./b", headers=bearer(CARTO_TOKEN)), 400)
    assert "UTF-8" in _envelope(passthrough.get("/v3/workspace?q=caf%E9", headers=bearer(CARTO_TOKEN)), 400)
    too_big = b"x" * (16 * 1024 * 1024 + 1)
    assert "upstream_max_body_bytes" in _envelope(
        passthrough.post("/v3/workspace", data=too_big, headers=bearer(CARTO_TOKEN)), 413
    )
    assert len(upstream.received) == before


def test_chunked_bodies_are_read_up_to_the_limit(lds_core, tmp_path, upstream):
    client = _app(lds_core, tmp_path, upstream.base_url, upstream_max_body_bytes=1000).test_client()

    def chunked(body: bytes):
        headers = {**bearer(CARTO_TOKEN), "Transfer-Encoding": "chunked", "Content-Type": "text/csv"}
        return client.post(
            "/v3/workspace/upload",
            input_stream=io.BytesIO(body),
            headers=headers,
            environ_overrides={"wsgi.input_terminated": True},
        )

    assert chunked(b"a,b\n" * 250).status_code == 201  # 1000 bytes: at the limit
    got = upstream.last()
    assert got.body == b"a,b\n" * 250 and got.headers["content-length"] == "1000"
    assert "transfer-encoding" not in got.headers
    before = len(upstream.received)
    assert "upstream_max_body_bytes" in _envelope(chunked(b"a,b\n" * 251), 413)
    assert len(upstream.received) == before


def test_a_path_served_here_with_another_method_is_a_405(passthrough, upstream):
    before = len(upstream.received)
    r = passthrough.get("/v3/lds/geocoding/batch", headers=bearer(CARTO_TOKEN))
    _envelope(r, 405)
    assert len(upstream.received) == before


def test_the_lds_api_sent_upstream_bypasses_the_fast_path(lds_core, tmp_path, upstream):
    client = _app(lds_core, tmp_path, upstream.base_url, upstream_apis="lds", upstream_token_lds="up-lds").test_client()
    token = make_token(client)
    r = client.get("/v3/lds/routing?origin=7.4197,43.7311&destination=7.4270,43.7400", headers=bearer(token))
    assert r.status_code == 200 and r.get_json()[0]["value"][0]["provider"] == "upstream"
    got = upstream.last()
    assert got.path == "/v3/lds/routing" and got.headers["authorization"] == "Bearer up-lds"
    assert client.get("/v3/lds/stats", headers=bearer(token)).status_code == 200  # forwarded too (echo)
    assert upstream.last().path == "/v3/lds/stats"
    assert client.get("/health").status_code == 200  # not under /v3: always here


def test_without_an_upstream_nothing_is_forwarded(client):
    assert client.get("/v3/workspace").status_code == 404
    assert "lds_proxy" not in client.application.extensions
