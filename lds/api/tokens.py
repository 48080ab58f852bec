"""Tokens API (CARTO section 5): ``POST/GET /v3/tokens``, ``GET/PATCH/DELETE /v3/tokens/<token>``; admin only.

The path key is the token string, as in CARTO, or the token's public ``id`` (token strings are stored
hashed, so listings can only show ids). The token string itself is returned once, by ``POST``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from lds.api.access import current_access
from lds.api.params import request_object
from lds.auth.access import AccessControl
from lds.auth.tokens import principal_of
from lds.errors import Unavailable

bp = Blueprint("tokens", __name__)


def _access() -> AccessControl:
    access = current_access()
    if access is None:
        raise Unavailable("the Tokens API is off while authentication is disabled (LDS_AUTH=disabled)")
    return access


@bp.post("/v3/tokens")
def create_token():
    token, row = _access().tokens.create(request_object())
    return jsonify({"token": token, **row.fields()}), 201


@bp.get("/v3/tokens")
def list_tokens():
    return jsonify([row.fields() for row in _access().tokens.list()])


@bp.get("/v3/tokens/<path:token>")
def get_token(token: str):
    access = _access()
    row = access.tokens.get(token)
    return jsonify({**row.fields(), "stats": access.stats(principal_of(row))})


@bp.patch("/v3/tokens/<path:token>")
def update_token(token: str):
    return jsonify(_access().tokens.update(token, request_object()).fields())


@bp.delete("/v3/tokens/<path:token>")
def delete_token(token: str):
    _access().tokens.revoke(token)
    return "", 204
