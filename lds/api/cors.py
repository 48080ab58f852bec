"""CORS over Flask: preflights answered before auth, and every response (errors too) told who may read it.

The policy itself is :class:`lds.cors.CorsPolicy`; the hot path below Flask adds the same headers.
"""

from __future__ import annotations

from flask import Flask, Response, request

from lds.cors import ALL_METHODS, CorsPolicy, is_preflight
from lds.settings import Settings


def install_cors(app: Flask, settings: Settings) -> None:
    """Register the hooks when ``cors_origins`` names any origin (before the auth hook: preflights carry no token)."""
    policy = CorsPolicy(settings.cors_origins)
    app.extensions["lds_cors"] = policy
    if not policy.enabled:
        return

    @app.before_request
    def _preflight() -> Response | None:
        origin = request.headers.get("Origin")
        if not is_preflight(request.method, origin, request.headers.get("Access-Control-Request-Method")):
            return None
        rule = request.url_rule
        methods = tuple(m for m in ALL_METHODS if rule is None or m in (rule.methods or ()) or m == "OPTIONS")
        response = Response(status=204)
        response.headers.extend(policy.preflight_headers(origin, methods))
        return response

    @app.after_request
    def _allow_origin(response: Response) -> Response:
        if "Access-Control-Allow-Origin" in response.headers or "Access-Control-Max-Age" in response.headers:
            return response  # a preflight answer: complete already
        for name, value in policy.headers(request.headers.get("Origin")):
            if name == "Vary":
                response.vary.add(value)
            else:
                response.headers[name] = value
        return response
