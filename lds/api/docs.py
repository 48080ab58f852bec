"""``GET /openapi.json`` (the OpenAPI 3.1 document of every route this app serves, made by :mod:`lds.openapi`)
and ``GET /docs`` (Swagger UI, its assets from the installed ``flask-swagger-ui`` wheel: no network needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, jsonify, send_from_directory

from lds import __version__
from lds.errors import NotFound
from lds.openapi import Route, document

bp = Blueprint("docs", __name__)

NOT_API = frozenset({"static"})
"""Endpoints that are files, not operations (Flask's own static route)."""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lds API</title>
<link rel="stylesheet" href="docs/swagger-ui.css"><link rel="icon" href="docs/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script><script src="docs/swagger-ui-standalone-preset.js"></script>
<script src="docs/lds-init.js"></script></body></html>
"""
# a file of its own, not an inline script: the page works under a Content-Security-Policy without 'unsafe-inline'
_INIT = """window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: true, presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"});
"""


def assets_dir() -> Path:
    """Swagger UI's dist folder, as shipped in the ``flask-swagger-ui`` wheel (only its files are used)."""
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise NotFound("the API documentation assets are not installed (pip install flask-swagger-ui)")
    return Path(next(iter(spec.submodule_search_locations))) / "dist"


def served_routes(app: Flask) -> list[Route]:
    """Every rule of ``app`` with its methods (HEAD and OPTIONS aside), the non-API endpoints left out."""
    return [
        Route(rule.rule, tuple(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})))
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in NOT_API
    ]


def openapi_document(app: Flask) -> dict:
    """The document, made once per app (its routes and settings are fixed once it serves)."""
    doc = app.extensions.get("lds_openapi")
    if doc is None:
        settings = app.extensions["lds_settings"]
        lds = app.extensions.get("lds")
        modes = getattr(lds, "graphs", None)
        doc = document(served_routes(app), settings, version=__version__, modes=list(modes or ()), bbox=_bbox(lds))
        if settings.public_url:
            doc["servers"] = [{"url": settings.public_url}]
        app.extensions["lds_openapi"] = doc
    return doc


def _bbox(lds) -> list[float] | None:
    """The loaded extract's bbox (west, south, east, north), for examples inside it; None when unknown."""
    try:
        return lds.status().get("bbox")
    except Exception:  # noqa: BLE001 - the document does without examples rather than fail
        return None


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(openapi_document(current_app))


@bp.get("/docs")
def docs_page():
    return Response(_PAGE, mimetype="text/html")


@bp.get("/docs/<path:filename>")
def docs_asset(filename: str):
    if filename == "lds-init.js":
        return Response(_INIT, mimetype="text/javascript")
    return send_from_directory(assets_dir(), filename, max_age=86400)
