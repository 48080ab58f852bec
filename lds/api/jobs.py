"""Batch jobs over HTTP: ``GET|DELETE /v3/lds/jobs/<jobId>`` and paged results.

A job document: ``jobId``, ``kind``, ``status`` (pending|running|success|failure|cancelled),
``progress: {done, total}``, timings, and once it succeeded ``results`` (page 1 of the
``{error, value}`` entries in input order) and ``next`` (URL of page 2, or null). Each page,
``/v3/lds/jobs/<jobId>/results?page=N``, has the same ``results``/``next`` shape. Jobs belong to
the token that submitted them; other tokens get 404, the admin token sees all.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for

from lds import params as v
from lds.api.access import charge, current_principal, refund_to
from lds.api.params import request_params
from lds.auth.quota import period_of
from lds.errors import NotFound, PayloadTooLarge
from lds.jobs import JobRecord, JobService
from lds.jobs.kinds import get_kind
from lds.jobs.tasks import find_task
from lds.settings import Settings

bp = Blueprint("jobs", __name__)


def init_app(app: Flask, settings: Settings) -> None:
    """Attach the job service and its routes; batch endpoints may take bodies up to ``job_max_body_bytes``."""
    app.extensions["lds_jobs"] = JobService.create(settings, app.extensions["lds"])
    app.register_blueprint(bp)

    @app.before_request
    def _batch_body_limit() -> None:
        if request.path.endswith("/batch"):
            request.max_content_length = max(settings.max_body_bytes, settings.job_max_body_bytes)


def current_jobs() -> JobService:
    return current_app.extensions["lds_jobs"]


def owner_filter() -> str | None:
    """Whose jobs this caller may see: its own token's, or all (admin, or auth disabled)."""
    principal = current_principal()
    if principal is None or principal.is_admin:
        return None
    return principal.id


def iso_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def link(endpoint: str, **values: Any) -> str:
    """A URL the API hands out: under ``public_url`` when set, else relative; never from the Host header."""
    base = current_app.extensions["lds_settings"].public_url
    path = url_for(endpoint, **values)
    return base.rstrip("/") + path if base else path


def _next_url(rec: JobRecord, page: int, jobs: JobService) -> str | None:
    if page >= jobs.page_count(rec):
        return None
    return link("jobs.job_results", job_id=rec.id, page=page + 1)


def job_document(rec: JobRecord, jobs: JobService) -> dict[str, Any]:
    end = rec.ended_at if rec.ended_at is not None else time.time()
    doc: dict[str, Any] = {
        "jobId": rec.id,
        "kind": rec.kind,
        "status": rec.status,
        "progress": {"done": rec.done, "total": rec.total},
        "createdAt": iso_time(rec.created_at),
        "startedAt": iso_time(rec.started_at),
        "endedAt": iso_time(rec.ended_at),
        "elapsedSeconds": round(end - rec.created_at, 3),
        "runSeconds": round(end - rec.started_at, 3) if rec.started_at is not None else None,
        "dataVersion": rec.data_version,
        "error": rec.error,
    }
    if rec.status == "success":
        doc["pages"] = jobs.page_count(rec)
        doc["results"] = jobs.results_page(rec, 1)
        doc["next"] = _next_url(rec, 1, jobs)
    return doc


def accept_job(kind: str, items: list, params: dict[str, Any] | None = None) -> Response:
    """Queue ``items`` as a job of ``kind`` and answer 202 ``{"jobId", "status": "pending"}``.

    Blueprints call this after validating the request. It refuses jobs over ``job_max_items`` (413),
    then charges the kind's quota units per item, one by default (429 before any work when that would exceed
    the quota).
    """
    jobs = current_jobs()
    job_kind = get_kind(kind)
    if len(items) > jobs.settings.job_max_items:
        raise PayloadTooLarge(f"too many items for one job: {len(items)} (job_max_items is {jobs.settings.job_max_items})")
    charge(job_kind.service, job_kind.units(params, len(items)))
    principal = current_principal()
    lds = current_app.extensions["lds"]
    rec = jobs.submit(kind, items, params, owner=principal.id if principal is not None else None,
                                data_version=lds.data_version)
    response = jsonify({"jobId": rec.id, "status": rec.status})
    response.status_code = 202
    response.headers["Location"] = link("jobs.job", job_id=rec.id)
    return response


def _batch_job(jobs: JobService, job_id: str) -> JobRecord:
    """The caller's batch job ``job_id``; tasks (SQL jobs, imports) have their own routes and are 404 here."""
    rec = jobs.get(job_id, owner_filter())
    if find_task(rec.kind) is not None:
        raise NotFound(f"no job {job_id!r} (unknown, expired, or not yours)")
    return rec


@bp.get("/v3/lds/jobs/<job_id>")
def job(job_id: str):
    jobs = current_jobs()
    return jsonify(job_document(_batch_job(jobs, job_id), jobs))


@bp.get("/v3/lds/jobs/<job_id>/results")
def job_results(job_id: str):
    jobs = current_jobs()
    rec = _batch_job(jobs, job_id)
    page = v.integer("page", request_params().get("page") or 1, low=1)
    return jsonify({"jobId": rec.id, "page": page, "results": jobs.results_page(rec, page),
                    "next": _next_url(rec, page, jobs)})


@bp.delete("/v3/lds/jobs/<job_id>")
def cancel_job(job_id: str):
    """Cancel; the job's owner gets back the quota units of the entries not done (charged up front by accept_job)."""
    jobs = current_jobs()
    _batch_job(jobs, job_id)
    rec = jobs.cancel(job_id, owner_filter())
    kind = get_kind(rec.kind)
    refund_to(rec.owner, kind.service, kind.units(rec.params, rec.total - rec.done),
              period_of(datetime.fromtimestamp(rec.created_at, UTC)))
    return jsonify(job_document(rec, jobs))
