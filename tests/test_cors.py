"""CORS headers as data (lds.cors): allowed origins from LDS_CORS_ORIGINS, none by default, `*` explicit."""

from lds.cors import CorsPolicy, is_preflight


def test_no_origins_configured_means_no_headers():
    policy = CorsPolicy(None)
    assert not policy.enabled
    assert policy.headers("https://app.example.com") == []
    assert policy.preflight_headers("https://app.example.com") == []
    assert CorsPolicy(" , ").enabled is False


def test_listed_origins_are_echoed_with_vary():
    policy = CorsPolicy("https://app.example.com, http://localhost:3000/")
    headers = dict(policy.headers("https://app.example.com"))
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com" and headers["Vary"] == "Origin"
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]
    assert dict(policy.headers("http://localhost:3000"))["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert dict(policy.headers("HTTPS://APP.EXAMPLE.COM"))["Access-Control-Allow-Origin"] == "HTTPS://APP.EXAMPLE.COM"
    for other in ("https://evil.com", "https://app.example.com.evil.com", "null", None, ""):
        assert policy.headers(other) == [("Vary", "Origin")]


def test_star_allows_any_origin():
    policy = CorsPolicy("*")
    assert dict(policy.headers("https://anything.example"))["Access-Control-Allow-Origin"] == "*"
    assert dict(policy.headers(None))["Access-Control-Allow-Origin"] == "*"


def test_preflight_headers():
    policy = CorsPolicy("https://app.example.com")
    headers = dict(policy.preflight_headers("https://app.example.com", ("GET", "POST", "OPTIONS")))
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Allow-Methods"] == "GET, POST, OPTIONS"
    assert {"Authorization", "Content-Type"} <= {h.strip() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert policy.preflight_headers("https://evil.com") == [("Vary", "Origin")]
    assert is_preflight("OPTIONS", "https://a.example", "POST")
    assert not is_preflight("OPTIONS", None, "POST") and not is_preflight("OPTIONS", "https://a.example", None)
    assert not is_preflight("GET", "https://a.example", "POST")
