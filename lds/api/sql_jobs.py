"""SQL jobs over HTTP (CARTO §2.4): ``POST|GET /v3/sql/<connection>/job``, ``GET|DELETE .../job/<jobId>``,
``GET /v3/sql/jobs``. The work is in :mod:`lds.sql.jobs` on the job queue of :mod:`lds.api.jobs`.

Create takes ``query`` (CARTO's name; not ``q``) and ``queryParameters`` from a JSON or form body, or from the
query string (CARTO's GET form), and answers 202 ``{"jobId", "externalId", "status"}``. A job belongs to the
token that made it (others get 404; the admin token sees all) and to its connection (another connection's
path is a 404 too). An API token's job passes the synchronous query's grant check (403) and runs read-only.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, jsonify

from lds.api.access import current_access, current_principal
from lds.api.connections import current_connections
from lds.api.context import current_lds, current_settings
from lds.api.jobs import current_jobs, iso_time, link, owner_filter
from lds.api.sql import _inputs
from lds.errors import NotFound, TooManyRequests
from lds.jobs import JobRecord
from lds.sql import jobs as sql_jobs
from lds.warehouse import callers

bp = Blueprint("sql_jobs", __name__)


def job_document(rec: JobRecord) -> dict[str, Any]:
    """A SQL job as the API shows it: status, timings, error text, logs, and once it succeeded its result."""
    end = rec.ended_at if rec.ended_at is not None else time.time()
    return {
        "jobId": rec.id,
        "externalId": None,  # CARTO: the warehouse's own job id; the statement here runs under ours
        "status": rec.status,
        "connection": rec.params.get("connectionName"),
        "query": rec.params.get("query"),
        "createdAt": iso_time(rec.created_at),
        "startedAt": iso_time(rec.started_at),
        "endedAt": iso_time(rec.ended_at),
        "elapsedSeconds": round(end - rec.created_at, 3),
        "error": rec.error,
        "result": rec.result,
        "logs": rec.logs,
    }


def _job(connection: str, job_id: str) -> JobRecord:
    """The caller's SQL job ``job_id`` on ``connection`` (by id or name); 404 for anything else."""
    rec = current_jobs().get(job_id, owner_filter())
    if rec.kind != sql_jobs.KIND or connection not in (rec.params.get("connection"), rec.params.get("connectionName")):
        raise NotFound(f"no job {job_id!r} on connection {connection!r} (unknown, expired, or not yours)")
    return rec


@bp.route("/v3/sql/<connection>/job", methods=["GET", "POST"])
def create_sql_job(connection: str):
    settings = current_settings()
    sql, params = _inputs(settings.max_json_depth, key="query")
    record, _warehouse = current_connections().warehouse(connection)  # 404 for an unknown connection
    sql_jobs.use_connections(settings, current_connections())  # this process's local runner reuses its warehouses
    principal = current_principal()
    grants = None if principal is None or principal.is_admin else list(principal.grants)
    task = sql_jobs.job_params(
        record,
        sql,
        params,
        grants=grants,
        max_chars=settings.sql_token_max_chars,
        lds_calls=callers.for_caller(current_lds(), current_access(), principal),
        caller=callers.caller_of(principal),
    )
    jobs = current_jobs()
    limit = settings.sql_jobs_per_token
    if (
        limit
        and principal is not None
        and not principal.is_admin
        and jobs.active_count(sql_jobs.KIND, principal.id) >= limit
    ):
        raise TooManyRequests(
            f"this token already has {limit} SQL jobs pending or running (sql_jobs_per_token): wait for one to end",
            headers={"Retry-After": "5"},
        )
    rec = jobs.submit_task(sql_jobs.KIND, task, owner=principal.id if principal is not None else None)
    response = jsonify({"jobId": rec.id, "externalId": None, "status": rec.status})
    response.status_code = 202
    response.headers["Location"] = link("sql_jobs.sql_job", connection=record["name"], job_id=rec.id)
    return response


@bp.get("/v3/sql/<connection>/job/<job_id>")
def sql_job(connection: str, job_id: str):
    return jsonify(job_document(_job(connection, job_id)))


@bp.delete("/v3/sql/<connection>/job/<job_id>")
def cancel_sql_job(connection: str, job_id: str):
    """Cancel: the job ends ``cancelled`` at once; the process running it cancels the statement in the warehouse."""
    _job(connection, job_id)
    return jsonify(job_document(current_jobs().cancel(job_id, owner_filter())))


@bp.get("/v3/sql/jobs")
def list_sql_jobs():
    """The caller's SQL jobs still kept (``job_result_ttl_s``), newest first; the admin token's: everyone's."""
    return jsonify([job_document(rec) for rec in current_jobs().list(owner_filter(), sql_jobs.KIND)])
