"""SQL API (CARTO §2): ``GET|POST /v3/sql/<connection>/query``, synchronous. The auth hook (lds.api.access)
has already required ``sql`` in the token's ``allowed_apis``; the work is in :func:`lds.sql.query.run_query`.

``q`` and ``queryParameters`` come from the query string (``queryParameters`` JSON-encoded) or a POST body,
JSON (``queryParameters`` a JSON value) or form-encoded as the QGIS plugin sends it (JSON-encoded there too).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from lds.api.access import current_access, current_principal
from lds.api.connections import current_connections
from lds.api.context import current_lds
from lds.api.etag import REVALIDATE, conditional_get
from lds.api.params import request_json
from lds.errors import BadRequest
from lds.sql.formats import CONTENT_TYPES, attachment_name, check_format
from lds.sql.query import answer_etag, parse_parameters, run_query
from lds.warehouse import callers

bp = Blueprint("sql", __name__)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _inputs(max_depth: int, key: str = "q", options: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """(SQL text, queryParameters) of the request, from the query string merged with the body (body wins);
    the text under ``key``: ``q`` for queries, ``query`` for jobs (CARTO's names). Each key of ``options``
    present in the request gets its value there (the rest keep theirs)."""
    options = {} if options is None else options
    source: Any = request.args
    q, params, encoded = request.args.get(key), request.args.get("queryParameters"), True
    if request.method == "POST":
        if request.mimetype in _FORM_TYPES:
            source = form = request.form
            q = form.get(key, q)
            params = form.get("queryParameters", params)
        else:
            body = request_json()
            if body is not None:
                if not isinstance(body, dict):
                    raise BadRequest(f"request body must be a JSON object with '{key}' and 'queryParameters'")
                source = body
                q = body.get(key, q)
                if "queryParameters" in body:
                    params, encoded = body["queryParameters"], False
    for name in options:
        options[name] = source.get(name, request.args.get(name, options[name]))
    if not isinstance(q, str) or not q.strip():
        raise BadRequest(f"'{key}' is required: the SQL text to run")
    return q, parse_parameters(params, encoded=encoded, max_depth=max_depth)


@bp.route("/v3/sql/<connection>/query", methods=["GET", "POST"])
def sql_query(connection: str):
    settings = current_app.extensions["lds_settings"]
    options: dict[str, Any] = {"format": None, "geometryFormat": None, "filename": None}
    q, params = _inputs(settings.max_json_depth, options=options)
    fmt, geometry_format = check_format(options["format"], options["geometryFormat"])
    filename = attachment_name(options["filename"], fmt)
    record, warehouse = current_connections().warehouse(connection)
    principal = current_principal()
    grants = None if principal is None or principal.is_admin else list(principal.grants)
    caller = [principal.id, grants] if principal is not None else None  # a changed grant changes the ETag
    # the LDS data version too: the LDS functions' answers change when the data is rebuilt
    etag, unchanged = conditional_get(lambda: answer_etag(
        record, warehouse, [caller, current_lds().data_version], [q, fmt, geometry_format], params))
    if unchanged is not None:
        return unchanged
    answer = run_query(record, warehouse, q, params, timeout_s=settings.sql_timeout_s,
                       max_rows=settings.sql_max_rows, grants=grants, max_chars=settings.sql_token_max_chars,
                       lds_calls=callers.for_caller(current_lds(), current_access(), principal),
                       fmt=fmt, geometry_format=geometry_format)
    if fmt == "json":
        response = Response(answer.to_json(), mimetype="application/json")
    else:  # streamed part by part from the one buffered copy (all-or-nothing: the query has ended)
        response = Response(answer.chunks(), content_type=CONTENT_TYPES[fmt])
        if filename is not None:
            response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'

    if etag is not None:
        response.set_etag(etag)
        response.headers["Cache-Control"] = REVALIDATE
    return response
