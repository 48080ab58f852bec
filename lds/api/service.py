"""Liveness and status: what data is loaded and every setting with its value and help.

Filesystem paths (the data directory, the extract's path, path settings) are the admin token's business
only: other tokens get the same document without them (secrets are never shown to anyone).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from lds import __version__
from lds.api.access import auth_status, current_principal
from lds.api.context import current_lds
from lds.settings import SETTINGS

bp = Blueprint("service", __name__)
HIDDEN = "(hidden: admin only)"
_PATH_SETTINGS = frozenset(s.name for s in SETTINGS if s.path)


@bp.after_app_request
def data_version_header(response):
    """Every answer says which data version made it (one per worker process: lds.server swaps whole workers)."""
    response.headers["X-LDS-Data-Version"] = current_lds().data_version
    return response


@bp.get("/health")
def health():
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/v3/lds/status")
def status():
    doc = {"version": __version__, **current_lds().status(), "auth": auth_status()}
    principal = current_principal()  # None when auth is disabled (local development): everything shown
    return jsonify(doc if principal is None or principal.is_admin else without_paths(doc))


def without_paths(doc: dict[str, Any]) -> dict[str, Any]:
    """The status document minus every filesystem path."""
    out = {key: value for key, value in doc.items() if key != "data_dir"}
    if isinstance(out.get("source"), dict):
        out["source"] = {key: value for key, value in out["source"].items() if key != "path"}
    out["settings"] = [{**row, "value": HIDDEN} if row["name"] in _PATH_SETTINGS and row["value"] is not None else row
                       for row in out.get("settings", ())]
    return out
