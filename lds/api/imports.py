"""Imports API (CARTO §6): ``POST /v3/imports`` (202 ``{jobId, status}``), ``GET /v3/imports[/<jobId>]``,
``POST /v3/imports/<jobId>/cancel`` and ``POST /v3/imports/preview``. The auth hook (lds.api.access) has
already required ``imports`` in the token's ``allowed_apis``; the work is in :mod:`lds.imports`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, current_app, jsonify

from lds.api.access import current_principal
from lds.api.connections import current_connections
from lds.api.context import lazy_extension
from lds.api.jobs import current_jobs
from lds.api.params import request_json, request_object

if TYPE_CHECKING:
    from lds.imports.service import Imports

bp = Blueprint("imports", __name__)


def current_imports() -> Imports:
    return lazy_extension(current_app, "lds_imports", _make_imports)


def _make_imports() -> Imports:
    import lds.imports.job  # noqa: F401 - registers the task kind in this process
    from lds.imports.service import Imports  # here: DuckDB and pyarrow stay out of gunicorn's master

    return Imports(current_jobs(), current_connections(), current_app.extensions["lds_settings"])


def _owner() -> str | None:
    """Whose imports the caller sees: its own token's, or all (admin, or auth disabled)."""
    principal = current_principal()
    return None if principal is None or principal.is_admin else principal.id


@bp.post("/v3/imports")
def create_import():
    body = request_object()
    rec = current_imports().submit(body, current_principal())
    return jsonify({"jobId": rec.id, "id": rec.id, "status": rec.status}), 202


@bp.get("/v3/imports")
def list_imports():
    return jsonify(current_imports().list(_owner()))


@bp.post("/v3/imports/preview")
def preview_import():
    body = request_object()
    return jsonify(current_imports().preview(body))


@bp.get("/v3/imports/<job_id>")
def get_import(job_id: str):
    return jsonify(current_imports().get(job_id, _owner()))


@bp.post("/v3/imports/<job_id>/cancel")
def cancel_import(job_id: str):
    request_json()  # no body is needed, but one that is sent must be sound JSON (the one error envelope)
    return jsonify(current_imports().cancel(job_id, _owner()))
