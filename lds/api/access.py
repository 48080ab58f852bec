"""The auth hook in front of every ``/v3`` route, and what blueprints call: ``charge``, ``require_source``.

Which token a path needs: ``/v3/lds/...`` an API access token with ``lds`` in ``allowed_apis`` (likewise
``/v3/sql``, ``/v3/maps``, ``/v3/imports``); every other ``/v3`` path (tokens, connections, ...) the admin
token, which passes everywhere. ``/v3/lds/status`` needs a token too: it shows the data directory and
every setting, which is no business of anonymous callers; ``/health`` stays open for probes.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, request

from lds.auth.access import AccessControl
from lds.auth.redact import install_log_redaction
from lds.auth.referers import referer_allowed
from lds.auth.tokens import Principal
from lds.errors import Forbidden, Unauthorized
from lds.settings import Settings

log = logging.getLogger("lds.auth")

API_PREFIXES = (("/v3/lds/", "lds"), ("/v3/sql/", "sql"), ("/v3/maps/", "maps"), ("/v3/imports", "imports"))
AUTH_DISABLED_WARNING = "LDS_AUTH=disabled: every /v3 route is open, without quotas or rate limits (local development only)"


def install_access(app: Flask, settings: Settings) -> None:
    """Open the state store, set up the admin token and protect ``/v3``; or warn loudly when auth is off."""
    install_log_redaction()
    if not settings.auth:
        log.warning(AUTH_DISABLED_WARNING)
        app.extensions["lds_access"] = None
        return
    access = AccessControl.from_settings(settings)
    access.ensure_admin()
    access.import_redis_counts()  # quota counters of an older version that kept them in Redis
    access.before_fork()  # gunicorn forks after this: every worker opens its own connections
    app.extensions["lds_access"] = access
    app.before_request(_authenticate)
    app.after_request(_refund_failed)
    app.teardown_request(_refund_unanswered)


def current_access() -> AccessControl | None:
    """The app's access control, or None when auth is disabled."""
    return current_app.extensions.get("lds_access")


def current_principal() -> Principal | None:
    """The token behind this request (None when auth is disabled)."""
    return g.get("lds_principal")


def required_api(path: str) -> str | None:
    """The API name a path belongs to; None means admin only."""
    for prefix, api in API_PREFIXES:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return api
    return None


def request_token() -> str | None:
    return pick_token(request.headers.get("Authorization"), request.args.get("access_token"))


def pick_token(authorization: str | None, query_token: str | None) -> str | None:
    """``Authorization: Bearer <token>`` wins over ``?access_token=`` (no Flask: the hot path uses it too)."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return query_token or None


def _is_automatic_preflight() -> bool:
    """CORS preflights carry no credentials; let through only those Flask answers itself (no view runs)."""
    rule = request.url_rule
    return request.method == "OPTIONS" and (rule is None or bool(getattr(rule, "provide_automatic_options", False)))


def _authenticate() -> None:
    if not (request.path == "/v3" or request.path.startswith("/v3/")) or _is_automatic_preflight():
        return
    proxy = current_app.extensions.get("lds_proxy")
    if proxy is not None and proxy.passes_caller_token(request):  # the caller's upstream token: judged upstream
        return
    g.lds_principal = authorize(current_app.extensions["lds_access"], request.path, request_token(),
                                request.headers.get("Referer") or request.headers.get("Origin"))


def authorize(access: AccessControl, path: str, token: str | None, referer: str | None) -> Principal:
    """Who may call ``path`` with ``token``: the principal, or Unauthorized/Forbidden/TooManyRequests.

    No Flask here: the Flask hook and the hot path below Flask (lds.api.hotpath) both call it.
    """
    if not token:
        raise Unauthorized("Token not defined", headers={"WWW-Authenticate": 'Bearer realm="lds"'})
    principal = access.authenticate(token)
    access.check_rate(principal)
    if principal.is_admin:
        return principal
    api = required_api(path)
    if api is None:
        raise Forbidden("This endpoint requires the admin token")
    if api not in principal.allowed_apis:
        raise Forbidden(f"Token not allowed to use the {api} API")
    if not referer_allowed(principal.referers, referer):
        raise Forbidden("Referer not allowed for this token")
    return principal


def charge(service: str, units: int = 1) -> None:
    """Count ``units`` against the caller's monthly ``service`` quota; 429 when it would go over (no-op without auth).

    Blueprints call this once, after parameters validate and before any work (a batch: its item count).
    If the answer then fails with a 5xx, the units are given back (:func:`_refund_failed`).
    """
    access, principal = current_access(), current_principal()
    if access is not None and principal is not None:
        period = access.charge(principal, service, units)
        g.setdefault("lds_charges", []).append((service, units, period))


def refund_to(token_id: str | None, service: str, units: int, period: str) -> None:
    """Give ``units`` back to a token's quota of ``period`` (a cancelled job's undone entries); no-op without auth."""
    access = current_access()
    if access is not None and token_id is not None and units > 0:
        access.refund(token_id, service, units, period)


def _refund(access: AccessControl) -> None:
    principal = current_principal()
    for service, units, period in g.pop("lds_charges", ()):
        access.refund(principal, service, units, period)


def _refund_failed(response: Response) -> Response:
    """A request that failed with a 5xx (server fault, or a store it needs down) is not charged."""
    if response.status_code >= 500 and "lds_charges" in g:
        _refund(current_app.extensions["lds_access"])
    return response


def _refund_unanswered(exc: BaseException | None) -> None:
    """An exception no handler turned into a response (client gone mid-answer...): not charged either."""
    if exc is not None and "lds_charges" in g:
        _refund(current_app.extensions["lds_access"])


def require_source(connection_name: str, source: str) -> None:
    """403 unless the caller's grants cover ``source`` (table name or SQL text) on ``connection_name``."""
    if current_access() is None:
        return
    principal = current_principal()
    if principal is None:
        raise Unauthorized("Token not defined")
    AccessControl.require_source(principal, connection_name, source)


def auth_status() -> dict[str, Any]:
    """The ``auth`` entry of ``/v3/lds/status``."""
    access = current_access()
    if access is None:
        return {"enabled": False, "warning": AUTH_DISABLED_WARNING}
    return access.status()
