"""Connections API (CARTO §4): ``/v3/connections[/<id or name>]`` CRUD and ``.../resources[/<path>]``
browsing; admin token only (lds.api.access: every /v3 path outside the API prefixes is). The work is in
:mod:`lds.connections`; this blueprint parses the request and shapes the answer."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from lds import params as v
from lds.api.context import lazy_extension
from lds.api.params import request_object
from lds.connections import Connections

bp = Blueprint("connections", __name__)


def current_connections() -> Connections:
    """The app's connections, made on first use (after gunicorn forks: nothing opened in the parent)."""
    return connections_of(current_app)


def connections_of(app: Flask) -> Connections:
    def make() -> Connections:
        from lds.state.store import StateStore

        settings = app.extensions["lds_settings"]
        access = app.extensions.get("lds_access")
        return Connections(access.store if access is not None else StateStore.from_settings(settings), settings)

    return lazy_extension(app, "lds_connections", make)


def _force() -> bool:
    return v.boolean("force", request.args.get("force"))


@bp.post("/v3/connections")
def create_connection():
    body = request_object()
    return jsonify(current_connections().create(body)), 201


@bp.get("/v3/connections")
def list_connections():
    return jsonify(current_connections().list())


@bp.get("/v3/connections/<ref>")
def get_connection(ref: str):
    return jsonify(current_connections().get(ref))


@bp.patch("/v3/connections/<ref>")
def update_connection(ref: str):
    body, force = request_object(), _force()
    return jsonify(current_connections().update(ref, body, force=force))


@bp.delete("/v3/connections/<ref>")
def delete_connection(ref: str):
    force = _force()
    current_connections().delete(ref, force=force)
    return "", 204


@bp.get("/v3/connections/<ref>/resources")
@bp.get("/v3/connections/<ref>/resources/<path:path>")
def connection_resources(ref: str, path: str = ""):
    return jsonify({"children": current_connections().resources(ref, path)})
