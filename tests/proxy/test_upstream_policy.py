"""The proxy's policy without a network: which API a path is, which token goes upstream, which headers pass."""

from __future__ import annotations

import pytest

from lds.api.proxy import without_access_token
from lds.proxy.headers import answer_headers, local_location, request_headers
from lds.proxy.upstream import Upstream, api_of
from lds.settings import Settings


@pytest.mark.parametrize(
    "path,api",
    [
        ("/v3/lds/routing", "lds"),
        ("/v3/lds", "lds"),
        ("/v3/ldsx", None),
        ("/v3/sql/c/query", "sql"),
        ("/v3/maps/c/table", "maps"),
        ("/v3/imports", "imports"),
        ("/v3/connections/x/resources", "connections"),
        ("/v3/tokens/t", "tokens"),
        ("/v3/workspace", None),
        ("/v3/sqlite", None),
    ],
)
def test_api_of(path, api):
    assert api_of(path) == api


def test_upstream_tokens_per_api_over_the_generic_one():
    settings = Settings.from_env(
        env={},
        upstream_api_url="https://carto.example.com/api/",
        upstream_apis=" SQL, maps ",
        upstream_token="generic",
        upstream_token_maps="for-maps",
    )
    up = Upstream.from_settings(settings)
    assert (up.origin, up.base_path, up.base_url) == (
        "https://carto.example.com",
        "/api",
        "https://carto.example.com/api",
    )
    assert up.apis == {"sql", "maps"} and up.forwards("sql") and not up.forwards("lds") and not up.forwards(None)
    assert [up.token_for(a) for a in ("maps", "sql", "lds", None)] == ["for-maps", "generic", "generic", "generic"]
    bare = Upstream.from_settings(Settings.from_env(env={}, upstream_api_url="http://127.0.0.1:9"))
    assert bare.token_for("sql") is None and bare.token_for(None) is None and not bare.apis
    assert Upstream.from_settings(Settings.from_env(env={})) is None


def test_request_headers_policy():
    incoming = [
        ("Host", "lds.example.com"),
        ("Authorization", "Bearer ours"),
        ("Cookie", "s=1"),
        ("Connection", "keep-alive, X-Private"),
        ("X-Private", "p"),
        ("Keep-Alive", "5"),
        ("TE", "trailers"),
        ("Proxy-Authorization", "Basic x"),
        ("Content-Length", "3"),
        ("Expect", "100-continue"),
        ("X-Forwarded-For", "198.51.100.1"),
        ("X-Forwarded-For", "10.0.0.1"),
        ("X-Forwarded-Host", "evil"),
        ("Content-Type", "application/json"),
        ("Accept", "a"),
        ("Accept", "b"),
        ("Transfer-Encoding", "chunked"),
    ]
    out = request_headers(
        incoming, authorization="Bearer up", client_addr="192.0.2.7", proto="https", host="lds.example.com"
    )
    assert out == {
        "Content-Type": "application/json",
        "Accept": "a, b",
        "Authorization": "Bearer up",
        "X-Forwarded-For": "198.51.100.1, 10.0.0.1, 192.0.2.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "lds.example.com",
    }
    assert "Authorization" not in request_headers(
        incoming, authorization=None, client_addr=None, proto="http", host=None
    )


def test_answer_headers_policy():
    upstream = [
        ("Content-Type", "text/csv"),
        ("Cache-Control", "max-age=60"),
        ("Set-Cookie", "a=1"),
        ("Connection", "close, X-Hop"),
        ("X-Hop", "1"),
        ("Transfer-Encoding", "chunked"),
        ("Server", "nginx"),
        ("Date", "x"),
        ("Access-Control-Allow-Origin", "*"),
        ("ETag", '"1"'),
        ("Location", "https://carto.example.com/api/v3/sql/job/1?a=b"),
        ("Vary", "Origin"),
    ]
    assert answer_headers(upstream, "https://carto.example.com/api") == [
        ("Content-Type", "text/csv"),
        ("Cache-Control", "max-age=60"),
        ("ETag", '"1"'),
        ("Location", "/v3/sql/job/1?a=b"),
        ("Vary", "Origin"),
    ]


@pytest.mark.parametrize(
    "location,local",
    [
        ("https://carto.example.com/api/v3/x", "/v3/x"),
        ("https://carto.example.com/apiv3/x", "https://carto.example.com/apiv3/x"),  # not under the base path
        ("https://carto.example.com.evil.org/api/v3/x", "https://carto.example.com.evil.org/api/v3/x"),
        ("/v3/relative", "/v3/relative"),
    ],
)
def test_local_location(location, local):
    assert local_location(location, "https://carto.example.com/api") == local


@pytest.mark.parametrize(
    "query,kept",
    [
        ("q=1&access_token=abc&x=2", "q=1&x=2"),
        ("access%5Ftoken=abc&access_token=d", ""),
        ("access_token", ""),
        ("q=access_token", "q=access_token"),
        ("q=1", "q=1"),
    ],
)
def test_without_access_token(query, kept):
    assert without_access_token(query) == kept
