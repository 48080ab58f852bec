"""The Imports API of the core: validate and submit, look up, list, cancel, preview (no Flask here).

An import is a task job of kind ``import`` (:mod:`lds.imports.job`). Submission checks everything it can
before queueing: the body, the connection, the destination name, the caller's grant on it, the first
hop of the URL (scheme, ``file://`` root, address), and the installation's limit of active imports (429).
The job checks the URL again at every hop when it downloads.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

from lds.auth.grants import grants_cover
from lds.errors import BadRequest, Forbidden, TooManyRequests
from lds.imports.fetch import FetchPolicy, Refused, resolve_checked
from lds.imports.geocode import parse_geocode
from lds.imports.load import Destination, parse_destination
from lds.imports.pipeline import preview as run_preview
from lds.jobs.model import JobRecord
from lds.warehouse.base import Warehouse

KIND = "import"


def _bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be true or false")
    return value


def check_url(url: Any, settings: Any) -> str:
    """``url`` if its first hop may be fetched (scheme, file root, public address or allowed host)."""
    if not isinstance(url, str) or not url.strip() or len(url) > 8192 or "\x00" in url:
        raise BadRequest("'url' is required: the http(s) URL of the file to import")
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    policy = FetchPolicy.from_settings(settings)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if policy.file_root is None:
            raise Refused("file:// URLs are disabled (set LDS_IMPORT_FILE_ROOT to a folder to allow files under it)")
        return url
    if scheme not in ("http", "https"):
        raise Refused(f"unsupported URL scheme {parts.scheme!r}: use http or https")
    try:
        host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise BadRequest(f"invalid URL: {exc}") from None
    if not host:
        raise BadRequest("the URL has no host")
    resolve_checked(host.lower(), port, policy.allowed_hosts)
    return url


def warehouse_names(warehouse: Warehouse) -> tuple[str, str | None]:
    """(database name, default schema) of a connection's warehouse, as destinations name them."""
    config = getattr(warehouse, "config", None)
    if config is None:
        return "carto_dw", None
    return config.database, config.schema


def require_grant(principal: Any, connection: str, dest: Destination, given: str) -> None:
    """403 unless an API token's grants cover the destination, under any of its spellings."""
    if principal is None or principal.is_admin:
        return
    names = (given, f"{dest.schema}.{dest.table}", dest.name)
    if not any(grants_cover(principal.grants, connection, n) for n in names):
        raise Forbidden(f"Token has no grant for {dest.schema}.{dest.table} on connection '{connection}'")


class Imports:
    """Imports over a job service and the installation's connections."""

    def __init__(self, jobs: Any, connections: Any, settings: Any):
        self.jobs = jobs
        self.connections = connections
        self.settings = settings

    def submit(self, body: Any, principal: Any = None) -> JobRecord:
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object with 'connection', 'url' and 'destination'")
        connection = body.get("connection")
        if not isinstance(connection, str) or not connection.strip():
            raise BadRequest("'connection' is required: the name of the connection to import into")
        url = check_url(body.get("url"), self.settings)
        overwrite = _bool(body, "overwrite", False)
        autoguessing = _bool(body, "autoguessing", True)
        address_column = parse_geocode(body.get("geocode"))
        record, warehouse = self.connections.warehouse(connection)
        database, default_schema = warehouse_names(warehouse)
        dest = parse_destination(body.get("destination"), database, default_schema)
        require_grant(principal, record["name"], dest, body["destination"])
        limit = self.settings.import_max_active
        if self.jobs.active_count(KIND) >= limit:
            raise TooManyRequests(
                f"{limit} imports are already pending or running (LDS_IMPORT_MAX_ACTIVE); "
                "try again when one has finished",
                headers={"Retry-After": "10"},
            )
        params = {
            "connection": record["name"],
            "url": url,
            "destination": dest.name,
            "overwrite": overwrite,
            "autoguessing": autoguessing,
            "address_column": address_column,
            "quotas": dict(principal.quotas) if principal is not None else {},
        }
        owner = principal.id if principal is not None else None
        return self.jobs.submit_task(KIND, params, owner)

    def get(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        return status_document(self._record(job_id, owner))

    def list(self, owner: str | None = None) -> list[dict[str, Any]]:
        return [status_document(rec, logs=False) for rec in self.jobs.list(owner, KIND)]

    def cancel(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        self._record(job_id, owner)
        return status_document(self.jobs.cancel(job_id, owner))

    def preview(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object with 'url'")
        url = check_url(body.get("url"), self.settings)
        return run_preview(url, self.settings, autoguessing=_bool(body, "autoguessing", True))

    def _record(self, job_id: str, owner: str | None) -> JobRecord:
        rec = self.jobs.get(job_id, owner)
        if rec.kind != KIND:
            from lds.errors import NotFound

            raise NotFound(f"no import {job_id!r} (unknown, expired, or not yours)")
        return rec


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def status_document(rec: JobRecord, logs: bool = True) -> dict[str, Any]:
    """CARTO's import status: ``jobId``, ``status``, ``destination``, ``rowsImported``, ``schema``, ``logs``, error."""
    p, result = rec.params, rec.result or {}
    doc = {
        "jobId": rec.id,
        "id": rec.id,
        "status": rec.status,
        "connection": p.get("connection"),
        "url": p.get("url"),
        "destination": result.get("destination", p.get("destination")),
        "overwrite": p.get("overwrite"),
        "autoguessing": p.get("autoguessing"),
        "rowsImported": result.get("rowsImported"),
        "schema": result.get("schema"),
        "format": result.get("format"),
        "error": rec.error,
        "createdAt": _iso(rec.created_at),
        "startedAt": _iso(rec.started_at),
        "endedAt": _iso(rec.ended_at),
    }
    if p.get("address_column"):
        doc["geocode"] = {"address_column": p["address_column"]}
    if logs:
        doc["logs"] = list(rec.logs)
    return doc
