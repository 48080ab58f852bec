"""CORS: which browser origins may call the API, as response headers (no Flask: the hot path uses it too).

CARTO's clients are browser apps on their own origins; a browser lets them read an answer only when it
carries ``Access-Control-Allow-Origin`` for their origin, and asks first (a preflight ``OPTIONS``) before
any request with an ``Authorization`` header or a JSON body. Allowed origins are the setting
``cors_origins``: a comma-separated list (``https://app.example.com``), or ``*`` for any; unset = none,
and then no response carries a CORS header. Tokens travel in headers, never cookies, so credentials
are not allowed (``*`` is safe to answer).
"""

from __future__ import annotations

HeaderList = list[tuple[str, str]]

ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-ID"
EXPOSED_HEADERS = "Retry-After, X-Request-ID, X-LDS-Cache, Location, WWW-Authenticate"
ALL_METHODS = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
PREFLIGHT_MAX_AGE_S = 600  # browsers cap it (Chrome: 2 h, Firefox: 24 h); 10 min lets a config change spread


class CorsPolicy:
    """The configured origins and the headers each response gets."""

    def __init__(self, origins: str | None):
        entries = [_normalise(o) for o in (origins or "").split(",") if o.strip()]
        self.any = "*" in entries
        self.origins = frozenset(entries) - {"*"}
        self._headers = [("Access-Control-Expose-Headers", EXPOSED_HEADERS)]

    @property
    def enabled(self) -> bool:
        return self.any or bool(self.origins)

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and (self.any or _normalise(origin) in self.origins)

    def headers(self, origin: str | None) -> HeaderList:
        """Headers for an actual response (answers and errors alike) to a request from ``origin``."""
        if not self.enabled:
            return []
        if self.any:
            return [("Access-Control-Allow-Origin", "*"), *self._headers]
        if origin and _normalise(origin) in self.origins:
            return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin"), *self._headers]
        return [("Vary", "Origin")]  # the answer depends on Origin: shared caches must not mix them up

    def preflight_headers(self, origin: str | None, methods: tuple[str, ...] = ALL_METHODS) -> HeaderList:
        """Headers of the 204 answer to a preflight ``OPTIONS`` (none of the Allow-* ones for other origins)."""
        if not self.allows(origin):
            return [("Vary", "Origin")] if self.enabled else []
        return [
            ("Access-Control-Allow-Origin", "*" if self.any else origin or ""),
            ("Access-Control-Allow-Methods", ", ".join(methods)),
            ("Access-Control-Allow-Headers", ALLOWED_HEADERS),
            ("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE_S)),
            ("Vary", "Origin"),
        ]


def _normalise(origin: str) -> str:
    """``HTTPS://App.Example.com/`` -> ``https://app.example.com`` (origins compare case-insensitively)."""
    return origin.strip().rstrip("/").lower()


def is_preflight(method: str, origin: str | None, requested_method: str | None) -> bool:
    """A CORS preflight: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``."""
    return method == "OPTIONS" and bool(origin) and bool(requested_method)
