"""Referer restrictions (CARTO's ``referers`` field): which web pages may use a token.

An entry is either a URL with a scheme (``https://app.example.com/maps``: same scheme, host and port,
and the page path under that path) or a host pattern without one (``app.example.com``,
``localhost:3000``, ``*.example.com`` for any subdomain, optionally followed by a path). Hosts are
compared as parsed hosts, never as string prefixes, so ``example.com.evil.net`` matches nothing.
A host pattern matches http and https pages only. An empty list allows any referer, and a request
without Referer (or Origin) fails a non-empty list.

The Referer is parsed as a browser parses a URL (WHATWG URL Standard), not as :func:`urllib.parse.urlsplit`
does: tabs and newlines are dropped, ``\\`` is a ``/`` in http(s) URLs, any number of slashes may follow
the scheme, the host is percent-decoded and IDNA-encoded, and dot segments of the path are resolved. So
``https://evil.com\\@app.example.com/`` is a page on evil.com, as the browser that sent it thought.
A URL with user info (``user@host``) is refused outright: browsers never send one in Referer or Origin.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import unquote

from lds.errors import BadRequest

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "file": None}  # WHATWG special schemes
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_DROPPED = str.maketrans("", "", "\t\n\r")
_AUTHORITY_END = re.compile(r"[/?#]")
_PATH_END = re.compile(r"[?#]")
_FORBIDDEN_HOST = frozenset(" #%/:<>?@[\\]^|\x7f") | frozenset(chr(c) for c in range(0x20))
_DOT = {".", "%2e"}
_DOT_DOT = {"..", ".%2e", "%2e.", "%2e%2e"}


class Page(NamedTuple):
    scheme: str
    host: str
    port: int | None
    path: str


def parse_url(text: str) -> Page | None:
    """An absolute URL's scheme, host, port and path as a browser reads them, or None when it has none."""
    text = text.strip(_C0_AND_SPACE).translate(_DROPPED)
    match = _SCHEME.match(text)
    if match is None:
        return None
    scheme, rest = match.group(1).lower(), text[match.end():]
    if scheme in _DEFAULT_PORTS:
        rest = rest.replace("\\", "/").lstrip("/")  # special schemes: backslash is slash, any slashes skipped
    elif rest.startswith("//"):
        rest = rest[2:]
    else:
        return None
    end = _AUTHORITY_END.search(rest)
    authority, tail = (rest[:end.start()], rest[end.start():]) if end else (rest, "")
    if "@" in authority:
        return None
    host_port = _host_port(authority)
    if host_port is None:
        return None
    host, port = host_port
    return Page(scheme, host, _DEFAULT_PORTS.get(scheme) if port is None else port,
                _resolve_dots(_PATH_END.split(tail, 1)[0] or "/"))


def _host_port(authority: str) -> tuple[str, int | None] | None:
    if authority.startswith("["):
        close = authority.find("]")
        rest = authority[close + 1:]
        if close < 0 or (rest and not rest.startswith(":")):
            return None
        try:
            host = f"[{ipaddress.IPv6Address(authority[1:close]).compressed}]"
        except ValueError:
            return None
        port_text = rest[1:]
    else:
        host, _, port_text = authority.partition(":")
        host = _domain(host)
        if host is None:
            return None
    if not port_text:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        return None
    return host, int(port_text)


def _domain(text: str) -> str | None:
    """The host a browser would connect to: percent-decoded, lower-cased, IDNA for non-ASCII names."""
    try:
        host = unquote(text, errors="strict")
        host = host.lower() if host.isascii() else host.encode("idna").decode("ascii").lower()
    except (UnicodeError, ValueError):
        return None
    if not host or any(c in _FORBIDDEN_HOST for c in host):
        return None
    return host


def _resolve_dots(path: str) -> str:
    """``/a/b/../c`` -> ``/a/c`` (and the ``%2e`` spellings), as the browser resolves the page's path."""
    segments = path.split("/")[1:]
    out: list[str] = []
    for i, segment in enumerate(segments):
        low = segment.lower()
        last = i == len(segments) - 1
        if low in _DOT_DOT:
            if out:
                out.pop()
        elif low not in _DOT:
            out.append(segment)
            continue
        if last:
            out.append("")
    return "/" + "/".join(out)


def validate_referer(entry: object) -> str:
    if not isinstance(entry, str) or not entry.strip():
        raise BadRequest("each referer must be a non-empty string (a URL or a host such as '*.example.com')")
    entry = entry.strip()
    if "\\" in entry or " " in entry or not entry.isprintable() or len(entry) > 2000:  # isprintable: no \t, \n, \udcff
        raise BadRequest(f"invalid referer {entry[:200]!r}: no spaces, backslashes, control characters or lone surrogates")
    probe = entry if "://" in entry else "http://" + entry.replace("*.", "wildcard.", 1)
    if parse_url(probe) is None or ("*" in entry and not entry.split("://")[-1].startswith("*.")):
        raise BadRequest(f"invalid referer {entry[:200]!r}")
    return entry


def _path_under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def referer_matches(entry: str, referer: str) -> bool:
    page = parse_url(referer)
    if page is None:
        return False
    if "://" in entry:
        want = parse_url(entry)
        return want is not None and want[:3] == page[:3] and _path_under(page.path, want.path)
    if page.scheme not in ("http", "https"):  # a host pattern means web pages
        return False
    host_part, _, path_part = entry.partition("/")
    pattern, _, want_port = host_part.partition(":")
    if want_port and str(page.port) != want_port:
        return False
    wildcard = pattern.startswith("*.")
    pattern = _domain(pattern[2:] if wildcard else pattern)
    if pattern is None:
        return False
    return _host_matches(("*." if wildcard else "") + pattern, page.host) and _path_under(page.path, "/" + path_part)


def referer_allowed(entries: Iterable[str], referer: str | None) -> bool:
    entries = list(entries)
    if not entries:
        return True
    if not referer:
        return False
    return any(referer_matches(e, referer) for e in entries)
