"""Proxy routes over Flask: every ``/v3`` route this installation does not serve goes to ``upstream_api_url``.

:func:`install_proxy` runs last in ``create_app`` (it sees every route): it takes the local routes of the APIs
listed in ``upstream_apis`` out of the URL map (and out of the fast path below Flask), then adds one catch-all
rule, ``/v3/<path:rest>``, that forwards whatever no local rule matches: method, path, query and body, with
the header policy of :mod:`lds.proxy.headers`, the answer streamed back unchanged (status, body, content type,
caching headers), redirects passed back, not followed. A path served here with another method stays a 405.

Who may call (:mod:`lds.proxy.upstream`): an API with an upstream token needs a token of this installation,
checked by the usual auth hook (the API's own, or the admin token for connections, tokens and other paths);
an API without one passes the caller's credentials upstream and skips the local check, but a token of this
installation (the admin token included) is refused with 403 rather than sent. The metrics, request log, CORS
and query-string hooks apply as everywhere; the local quota is not charged (the upstream counts its own).
"""

from __future__ import annotations

import logging
from urllib.parse import quote, unquote_plus

from flask import Flask, Request, Response, current_app, request
from werkzeug.exceptions import MethodNotAllowed, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as RoutingNotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from lds.api.access import pick_token
from lds.api.params import read_body
from lds.auth.tokens import UnknownToken
from lds.errors import BadRequest, Forbidden, LdsError, PayloadTooLarge, Unauthorized
from lds.proxy.client import UpstreamClient
from lds.proxy.headers import answer_headers, request_headers
from lds.proxy.upstream import Upstream, api_of
from lds.settings import Settings

log = logging.getLogger("lds.proxy")

ENDPOINT = "proxy.forward"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")  # OPTIONS: preflights are answered here (CORS)
_SAFE_PATH = "/:@!$&'()*+,;=-._~"  # RFC 3986 pchar (and /) that need no quoting


class Proxy:
    """The upstream, its client and the local routes, for the catch-all view and the auth hook."""

    def __init__(self, upstream: Upstream, client: UpstreamClient, settings: Settings, local: Map):
        self.upstream = upstream
        self.client = client
        self.settings = settings
        self.local = local  # the routes served here, any method: a path among them with another method is a 405

    def passes_caller_token(self, req: Request) -> bool:
        """Whether this request goes upstream with the caller's own credentials (the local auth hook skips it)."""
        return req.endpoint == ENDPOINT and self.upstream.token_for(api_of(req.path)) is None

    def forward(self) -> Response:
        path = request.path
        _check_path(path)
        try:
            self.local.bind("").match(path)
            raise MethodNotAllowed()
        except (RoutingNotFound, RequestRedirect):
            pass
        token = self.upstream.token_for(api_of(path))
        query = request.environ.get("QUERY_STRING", "")
        if not query.isascii():  # WSGI carries raw bytes as latin-1; they are UTF-8 (checked by a hook before)
            query = query.encode("latin-1").decode("utf-8", "replace")
        if token is not None:  # the caller proved itself with a token of ours: that one stays here
            authorization: str | None = f"Bearer {token}"
            query = without_access_token(query)
        else:
            authorization = request.headers.get("Authorization")
            self._refuse_our_tokens(authorization, request.args.get("access_token"))
        body = _read_body(self.settings.upstream_max_body_bytes)
        headers = request_headers(
            request.headers.items(),
            authorization=authorization,
            client_addr=request.remote_addr,
            proto=request.scheme,
            host=request.host,
        )
        answer = self.client.send(request.method, quote(path, safe=_SAFE_PATH), query, headers, body)
        if request.method == "HEAD" or answer.status in (204, 304):  # no body: werkzeug would never read it
            stream = iter((self.client.read(answer),))
        else:
            stream = self.client.stream(answer)
        response = Response(
            stream,
            status=answer.status,
            direct_passthrough=True,
            headers=answer_headers(answer.headers.iteritems(), self.upstream.base_url),
        )
        if "Content-Type" not in answer.headers:
            del response.headers["Content-Type"]  # werkzeug's default text/html: the upstream sent none
        return response

    def _refuse_our_tokens(self, authorization: str | None, query_token: str | None) -> None:
        """403 for a token of this installation: it would go upstream with the caller's credentials."""
        bearer = pick_token(authorization, None)
        access = current_app.extensions.get("lds_access")
        for token in (bearer, query_token):
            if not token:
                continue
            ours = token == self.settings.admin_token
            if not ours and access is not None:
                try:
                    access.authenticate(token)
                    ours = True
                except UnknownToken:
                    ours = False
                except Unauthorized:
                    ours = True  # revoked or expired: still one of ours
            if ours:
                api = api_of(request.path)
                setting = f"LDS_UPSTREAM_TOKEN_{api.upper()} or LDS_UPSTREAM_TOKEN" if api else "LDS_UPSTREAM_TOKEN"
                raise Forbidden(
                    "this is a token of this installation: it is never sent upstream, and no upstream "
                    f"token is configured for this API ({setting})"
                )


def without_access_token(query: str) -> str:
    """The raw query string without its ``access_token`` parameters (however their name is encoded)."""
    if "access" not in query and "%" not in query:
        return query
    return "&".join(p for p in query.split("&") if unquote_plus(p.partition("=")[0]) != "access_token")


def _check_path(path: str) -> None:
    """Refuse paths that could leave ``/v3`` upstream once normalised (dot segments) or break the request line."""
    if any(segment in (".", "..") for segment in path.split("/")):
        raise BadRequest("the path must not have '.' or '..' segments")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise BadRequest("the path must not have control characters")


def _read_body(limit: int) -> bytes | None:
    """The request body to forward (None without one), at most ``limit`` bytes (413 above)."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    length = request.content_length
    if not length and not chunked:
        return None
    too_large = PayloadTooLarge(f"Request body too large: at most {limit} bytes go upstream (upstream_max_body_bytes)")
    if length is not None and length > limit:
        raise too_large
    if chunked and not request.environ.get("wsgi.input_terminated"):
        raise LdsError("chunked request bodies are not supported by this server: send a Content-Length", 411)
    request.max_content_length = limit
    try:
        return read_body(chunked)
    except RequestEntityTooLarge:
        raise too_large from None


def _forward(rest: str = "") -> Response:
    return current_app.extensions["lds_proxy"].forward()


def _local_routes(app: Flask, upstream: Upstream) -> Map:
    """Rebuild the URL map without the routes of the APIs sent upstream; returns those kept, for any method."""
    old = app.url_map
    kept = [rule for rule in old.iter_rules() if not upstream.forwards(api_of(rule.rule))]
    new = app.url_map_class(
        [rule.empty() for rule in kept],
        default_subdomain=old.default_subdomain,
        strict_slashes=old.strict_slashes,
        merge_slashes=old.merge_slashes,
        redirect_defaults=old.redirect_defaults,
        host_matching=old.host_matching,
    )
    new.converters = old.converters
    app.url_map = new
    return Map([Rule(rule.rule, endpoint=rule.endpoint) for rule in kept], converters=old.converters)


def _narrow_fast_path(app: Flask, upstream: Upstream) -> None:
    """The fast path below Flask must not answer paths of an API sent upstream."""
    from lds.api.hotpath import FastPath

    wsgi = app.wsgi_app
    while wsgi is not None:
        if isinstance(wsgi, FastPath):
            wsgi.routes = {path: s for path, s in wsgi.routes.items() if not upstream.forwards(api_of(path))}
        wsgi = getattr(wsgi, "wsgi_app", None)


def install_proxy(app: Flask, settings: Settings) -> None:
    """With ``upstream_api_url`` set: forward what is not served here (call it after every route is registered)."""
    upstream = Upstream.from_settings(settings)
    if upstream is None:
        return
    local = _local_routes(app, upstream)
    _narrow_fast_path(app, upstream)
    app.add_url_rule("/v3/<path:rest>", ENDPOINT, _forward, methods=list(METHODS))
    app.extensions["lds_proxy"] = Proxy(upstream, UpstreamClient(upstream, settings), settings, local)
    if upstream.tokens and not settings.auth:
        log.warning("LDS_AUTH=disabled with an upstream token: anyone reaching this server uses that token upstream")
    log.info(
        "proxy routes to %s (also: %s)", upstream.base_url, ", ".join(sorted(upstream.apis)) or "nothing served here"
    )
