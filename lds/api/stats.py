"""``GET /v3/lds/stats``: the caller's quota usage this month, in CARTO's shape."""

from __future__ import annotations

from flask import Blueprint, jsonify

from lds.api.access import current_access, current_principal

bp = Blueprint("stats", __name__)


@bp.get("/v3/lds/stats")
def stats():
    """``[{"service", "provider": "lds", "monthly_quota", "used_quota"}]``; empty when auth is off (nothing is counted)."""
    access, principal = current_access(), current_principal()
    if access is None or principal is None:
        return jsonify([])
    return jsonify(access.stats(principal))
