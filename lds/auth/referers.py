"""Referer restrictions (CARTO's ``referers`` field): which web pages may use a token.

An entry is either a URL with a scheme (``https://app.example.com/maps``: same scheme, host and port,
and the page path under that path) or a host pattern without one (``app.example.com``,
``localhost:3000``, ``*.example.com`` for any subdomain, optionally followed by a path). Hosts are
compared as parsed hosts, never as string prefixes, so ``example.com.evil.net`` matches nothing.
An empty list allows any referer, and a request without Referer (or Origin) fails a non-empty list.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from lds.errors import BadRequest

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _parse(url: str):
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    return parts.scheme.lower(), host, port or _DEFAULT_PORTS.get(parts.scheme.lower()), parts.path or "/"


def validate_referer(entry: object) -> str:
    if not isinstance(entry, str) or not entry.strip():
        raise BadRequest("each referer must be a non-empty string (a URL or a host such as '*.example.com')")
    entry = entry.strip()
    probe = entry if "://" in entry else "http://" + entry.replace("*.", "wildcard.", 1)
    if _parse(probe) is None or ("*" in entry and not entry.split("://")[-1].startswith("*.")):
        raise BadRequest(f"invalid referer {entry!r}")
    return entry


def _path_under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def referer_matches(entry: str, referer: str) -> bool:
    page = _parse(referer)
    if page is None:
        return False
    scheme, host, port, path = page
    if "://" in entry:
        want = _parse(entry)
        return want is not None and want[:3] == (scheme, host, port) and _path_under(path, want[3])
    host_part, _, path_part = entry.partition("/")
    pattern, _, want_port = host_part.lower().partition(":")
    if want_port and str(port) != want_port:
        return False
    return _host_matches(pattern, host) and _path_under(path, "/" + path_part)


def referer_allowed(entries: Iterable[str], referer: str | None) -> bool:
    entries = list(entries)
    if not entries:
        return True
    if not referer:
        return False
    return any(referer_matches(e, referer) for e in entries)
