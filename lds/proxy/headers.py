"""The header policy of forwarded requests and of the answers passed back (RFC 9110 §7.6.1 for hop-by-hop).

Sent upstream: the caller's end-to-end headers, minus hop-by-hop ones (and any the ``Connection`` header
names), ``Host`` (the upstream's own), ``Content-Length`` (recomputed), ``Expect``, cookies (ours), and the
caller's ``Authorization`` unless :mod:`lds.proxy.upstream` lets it through; plus ``X-Forwarded-For`` (the
caller's address appended to what a proxy in front of us sent), ``X-Forwarded-Proto`` and
``X-Forwarded-Host`` (as the caller reached us).

Passed back: the upstream's headers (content type, length and encoding, caching headers, ``Location``,
``Retry-After``...) minus hop-by-hop ones, ``Set-Cookie`` (a cookie of the upstream's domain means nothing on
ours), ``Server`` and ``Date`` (our server writes its own) and ``Access-Control-*`` (our CORS policy
answers for this origin). A ``Location`` under the upstream's base URL becomes a path here, so a redirect
brings the client back through this installation instead of sending it, and its token, elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_SENT = HOP_BY_HOP | {
    "host",
    "content-length",
    "expect",
    "cookie",
    "authorization",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
}
_NOT_RETURNED = HOP_BY_HOP | {"set-cookie", "server", "date"}


def _connection_tokens(headers: list[tuple[str, str]]) -> set[str]:
    """Header names the ``Connection`` header declares hop-by-hop."""
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    }


def request_headers(
    incoming: Iterable[tuple[str, str]],
    *,
    authorization: str | None,
    client_addr: str | None,
    proto: str,
    host: str | None,
) -> dict[str, str]:
    """The headers to send upstream for a caller's request (``authorization``: what goes upstream, or None)."""
    pairs = list(incoming)
    drop = _NOT_SENT | _connection_tokens(pairs)
    out: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        if key in drop:
            continue
        out[name] = f"{out[name]}, {value}" if name in out else value
    if authorization:
        out["Authorization"] = authorization
    chain = [value for name, value in pairs if name.lower() == "x-forwarded-for"]
    if client_addr:
        chain.append(client_addr)
    if chain:
        out["X-Forwarded-For"] = ", ".join(chain)
    out["X-Forwarded-Proto"] = proto
    if host:
        out["X-Forwarded-Host"] = host
    return out


def answer_headers(upstream: Iterable[tuple[str, str]], base_url: str) -> list[tuple[str, str]]:
    """The upstream answer's headers to pass back to the caller."""
    pairs = list(upstream)
    drop = _NOT_RETURNED | _connection_tokens(pairs)
    out = []
    for name, value in pairs:
        key = name.lower()
        if key in drop or key.startswith("access-control-"):
            continue
        if key == "location":
            value = local_location(value, base_url)
        out.append((name, value))
    return out


def local_location(location: str, base_url: str) -> str:
    """A redirect target under the upstream's base URL as a path here; any other target unchanged."""
    if location.startswith(base_url + "/"):
        return location[len(base_url) :]
    return location
