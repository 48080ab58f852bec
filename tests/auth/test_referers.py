"""Referer restrictions: parsed hosts, ports and paths, never string prefixes."""

import pytest

from lds.auth.referers import referer_allowed, referer_matches, validate_referer
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
