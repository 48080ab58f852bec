"""What goes upstream and with which credentials, read once from the settings.

The credential rule: an API with an upstream token configured (``upstream_token_<api>``, else
``upstream_token``) is called upstream with that token, and the caller authenticates here with a token of
this installation, which is never sent on. An API without one passes the caller's own ``Authorization`` (or
``access_token``) through: then it must be an upstream token, and a token of this installation is refused
(the Flask side checks it). So no credential of ours ever leaves: not the admin token, not an API token,
not a cookie.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

# (path prefix, API name): the APIs a setting may send upstream, and whose upstream token a path uses
API_PREFIXES: tuple[tuple[str, str], ...] = (
    ("/v3/lds", "lds"),
    ("/v3/sql", "sql"),
    ("/v3/maps", "maps"),
    ("/v3/imports", "imports"),
    ("/v3/connections", "connections"),
    ("/v3/tokens", "tokens"),
)
API_NAMES: tuple[str, ...] = tuple(name for _, name in API_PREFIXES)


def api_of(path: str) -> str | None:
    """The API a ``/v3`` path belongs to (``/v3/sql/...`` -> ``sql``); None for any other path."""
    for prefix, name in API_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    return None


def split_base_url(url: str) -> tuple[str, str]:
    """``(origin, path prefix)`` of ``upstream_api_url``; ValueError for anything but a plain http(s) base URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"LDS_UPSTREAM_API_URL must be an http(s) URL such as https://gcp-us-east1.api.carto.com, got {url!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError("LDS_UPSTREAM_API_URL must not hold credentials: set LDS_UPSTREAM_TOKEN instead")
    if parts.query or parts.fragment:
        raise ValueError("LDS_UPSTREAM_API_URL must not have a query or fragment")
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


@dataclass(frozen=True)
class Upstream:
    """The upstream's address, the APIs sent there although served here, and the upstream tokens per API."""

    origin: str  # scheme://host[:port]
    base_path: str  # "" or a prefix such as /api (self-hosted CARTO)
    apis: frozenset[str] = frozenset()
    tokens: dict[str | None, str] = field(default_factory=dict)  # API name (None: any other path) -> token
    outside_extract: bool = False

    @classmethod
    def from_settings(cls, settings) -> Upstream | None:
        """None without ``upstream_api_url``; ValueError for a setting that cannot work (checked at start-up)."""
        if not settings.upstream_api_url:
            if settings.upstream_outside_extract or settings.upstream_apis.strip():
                raise ValueError("LDS_UPSTREAM_APIS and LDS_UPSTREAM_OUTSIDE_EXTRACT need LDS_UPSTREAM_API_URL")
            return None
        origin, base_path = split_base_url(settings.upstream_api_url)
        apis = frozenset(a.strip().lower() for a in settings.upstream_apis.split(",") if a.strip())
        unknown = apis - set(API_NAMES)
        if unknown:
            raise ValueError(
                f"LDS_UPSTREAM_APIS: unknown API(s) {', '.join(sorted(unknown))} (one of: {', '.join(API_NAMES)})"
            )
        tokens: dict[str | None, str] = {}
        for api in (None, *API_NAMES):
            token = getattr(settings, f"upstream_token_{api}") if api else None
            token = token or settings.upstream_token
            if token:
                tokens[api] = token
        upstream = cls(origin, base_path, apis, tokens, bool(settings.upstream_outside_extract))
        if upstream.outside_extract and "lds" in apis:
            raise ValueError(
                "LDS_UPSTREAM_OUTSIDE_EXTRACT is for a locally served LDS API: remove lds from LDS_UPSTREAM_APIS"
            )
        if upstream.outside_extract and upstream.token_for("lds") is None:
            raise ValueError(
                "LDS_UPSTREAM_OUTSIDE_EXTRACT needs LDS_UPSTREAM_TOKEN_LDS (or LDS_UPSTREAM_TOKEN): the "
                "callers' tokens belong to this installation and are never sent upstream"
            )
        return upstream

    @property
    def base_url(self) -> str:
        return self.origin + self.base_path

    def forwards(self, api: str | None) -> bool:
        """Whether an API served here is sent upstream instead (``upstream_apis``)."""
        return api is not None and api in self.apis

    def token_for(self, api: str | None) -> str | None:
        """The upstream token of ``api`` (None: the caller's own credentials pass through)."""
        return self.tokens.get(api)
