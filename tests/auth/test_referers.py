"""Referer restrictions: parsed hosts, ports and paths, never string prefixes."""

import pytest

from lds.auth.referers import parse_url, referer_allowed, referer_matches, validate_referer
from lds.errors import BadRequest


@pytest.mark.parametrize("entry,referer,ok", [
    ("https://app.example.com", "https://app.example.com/maps/1", True),
    ("https://app.example.com", "http://app.example.com/", False),
    ("https://app.example.com", "https://app.example.com.evil.net/", False),
    ("https://app.example.com", "https://app.example.com:8443/", False),
    ("https://app.example.com/maps", "https://app.example.com/maps/1?x=1", True),
    ("https://app.example.com/maps", "https://app.example.com/mapsevil", False),
    ("https://app.example.com/maps", "https://app.example.com/", False),
    ("app.example.com", "https://app.example.com/x", True),
    ("app.example.com", "http://APP.example.com/x", True),
    ("app.example.com", "https://evilapp.example.com/", False),
    ("*.example.com", "https://a.example.com/", True),
    ("*.example.com", "https://b.a.example.com/", True),
    ("*.example.com", "https://example.com/", False),
    ("*.example.com", "https://notexample.com/", False),
    ("localhost:3000", "http://localhost:3000/", True),
    ("localhost:3000", "http://localhost:3001/", False),
    ("example.com/app", "https://example.com/app/page", True),
    ("example.com/app", "https://example.com/other", False),
    ("example.com", "not a url", False),
])
def test_referer_matching(entry, referer, ok):
    assert referer_matches(validate_referer(entry), referer) is ok


def test_empty_list_allows_anything_and_missing_referer_fails_a_list():
    assert referer_allowed([], None)
    assert referer_allowed([], "https://x.org/")
    assert not referer_allowed(["example.com"], None)
    assert not referer_allowed(["example.com"], "")
    assert referer_allowed(["other.org", "example.com"], "https://example.com/")


@pytest.mark.parametrize("entry", ["", "  ", 3, None, "exa*mple.com", "https://", "http://host:notaport/"])
def test_invalid_entries_are_refused(entry):
    with pytest.raises(BadRequest):
        validate_referer(entry)


# (referer a client sends, whether it may use a token limited to app.example.com / https://app.example.com/maps)
ATTACKER_REFERERS = [
    ("https://app.example.com/", True, False),
    ("HTTPS://APP.EXAMPLE.COM/maps/1", True, True),
    ("https://app.example.com:443/maps", True, True),
    ("https:app.example.com/maps/x", True, True),  # browsers read it as https://app.example.com/maps/x
    ("https:\\\\app.example.com\\maps\\x", True, True),  # backslashes are slashes in http(s) URLs
    ("https://app%2eexample.com/maps", True, True),  # the host is percent-decoded, as browsers do
    ("https://app.example.com\\@evil.com/", True, False),  # host app.example.com, path /@evil.com/
    ("https://evil.com\\@app.example.com/", False, False),  # the browser was on evil.com
    ("https://evil.com\\\\@app.example.com/maps", False, False),
    ("https:/\\evil.com\\@app.example.com/maps", False, False),
    (" https://evil.com\\@app.example.com/maps ", False, False),
    ("http://evil.com:80\\@app.example.com/maps", False, False),
    ("https://evil.com/\\@app.example.com/maps", False, False),
    ("https://evil.com#@app.example.com/maps", False, False),
    ("https://evil.com?@app.example.com/maps", False, False),
    ("https://app.example.com@evil.com/maps", False, False),  # user info: never sent by browsers, refused
    ("https://user:pass@app.example.com/maps", False, False),
    ("https://evil.com%2f@app.example.com/maps", False, False),
    ("https://evil.com\t@app.example.com/maps", False, False),  # tabs and newlines are dropped first
    ("https://evil.com\n\\@app.example.com/maps", False, False),
    ("https://evil.com\x00@app.example.com/maps", False, False),
    ("https://app.example.com.evil.com/maps", False, False),
    ("https://app.example.com%2eevil.com/maps", False, False),
    ("https://app.example.com%00.evil.com/maps", False, False),
    ("https://app.example.com/maps/../admin", True, False),  # dot segments resolved before the path check
    ("https://app.example.com/maps/%2e%2E/admin", True, False),
    ("https://app.example.com/maps/./x/..", True, True),
    ("javascript://app.example.com/%0aalert(1)", False, False),
    ("ftp://app.example.com/maps", False, False),
    ("https://[::1]/maps", False, False),
    ("https://app.example.com:99999/maps", False, False),
    ("null", False, False),
    ("", False, False),
]


@pytest.mark.parametrize("referer,host_ok,url_ok", ATTACKER_REFERERS)
def test_referers_are_parsed_as_a_browser_parses_them(referer, host_ok, url_ok):
    assert referer_allowed(["app.example.com"], referer) is host_ok
    assert referer_allowed(["https://app.example.com/maps"], referer) is url_ok


@pytest.mark.parametrize("entry", ["evil.com\\@app.example.com", "app.exa\tmple.com", "https://user@app.example.com",
                                   "app.example.com/\udcff", "app.example .com", "https://app.example.com:65536/"])
def test_ambiguous_entries_are_refused(entry):
    with pytest.raises(BadRequest):
        validate_referer(entry)


def test_parse_url_reads_what_a_browser_reads():
    assert parse_url("https://evil.com\\@app.example.com/a/./b/../c?q#f") == ("https", "evil.com", 443, "/@app.example.com/a/c")
    assert parse_url("http://[0:0::1]:8080\\x") == ("http", "[::1]", 8080, "/x")
    assert parse_url("https://bücher.example/") == ("https", "xn--bcher-kva.example", 443, "/")
    assert parse_url("capacitor://localhost") == ("capacitor", "localhost", None, "/")
