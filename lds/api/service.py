"""Liveness and status: what data is loaded and every setting with its value and help."""

from __future__ import annotations

from flask import Blueprint, jsonify

from lds import __version__
from lds.api.access import auth_status
from lds.api.context import current_lds

bp = Blueprint("service", __name__)


@bp.get("/health")
def health():
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/v3/lds/status")
def status():
    return jsonify({"version": __version__, **current_lds().status(), "auth": auth_status()})
