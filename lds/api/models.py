"""SQL Model API: ``GET|POST /v3/sql/<connection>/model/<model>``, the figures of CARTO's widgets.

``@carto/api-client``'s widget sources (``WidgetTableSource``, ``WidgetQuerySource``: the ``widgetSource`` of
``vectorTableSource(...)`` and friends) call it with ``type`` (``table``/``query``), ``source`` (table name or
SQL), ``params`` (the model's, JSON), ``queryParameters``, ``filters``, ``filtersLogicalOperator``,
``spatialFilters``, ``spatialDataType`` and ``spatialDataColumn``: in the query string (objects JSON-encoded)
or, for long ones, as a JSON POST body (a form body, as the SQL API takes, works too). The path is under ``/v3/sql``, so an API access token needs ``sql`` in
``allowed_apis`` (lds.api.access), and its grants must cover the source exactly as for the SQL API.
The work is in :mod:`lds.models`.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from lds import fastjson
from lds.api.access import current_principal
from lds.api.connections import current_connections
from lds.api.etag import REVALIDATE, conditional_get
from lds.api.params import request_params
from lds.errors import BadRequest
from lds.maps.filters import decode_json_param
from lds.maps.source import open_source
from lds.models import ModelContext, run_model
from lds.sql.query import answer_etag

bp = Blueprint("models", __name__)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@bp.route("/v3/sql/<connection>/model/<model>", methods=["GET", "POST"])
def sql_model(connection: str, model: str):
    settings = current_app.extensions["lds_settings"]
    if request.method == "POST" and request.mimetype in _FORM_TYPES:  # as the SQL API: objects JSON-encoded
        args = {**request.args.to_dict(), **request.form.to_dict()}
    else:
        args = request_params()
    depth = settings.max_json_depth

    def decoded(name: str):
        return decode_json_param(args.get(name), name, encoded=True, max_depth=depth)

    params, query_params = decoded("params"), decoded("queryParameters")
    filters, spatial_filters = decoded("filters"), decoded("spatialFilters")
    source_text = args.get("source")
    if not isinstance(source_text, str) or not source_text.strip():
        raise BadRequest("'source' is required: the table name or SQL query of the widget's source")
    record, warehouse = current_connections().warehouse(connection)
    principal = current_principal()
    grants = None if principal is None or principal.is_admin else list(principal.grants)
    caller = [principal.id, grants] if principal is not None else None
    source = open_source(
        record,
        warehouse,
        args.get("type") or "table",
        source_text,
        params=query_params,
        grants=grants,
        spatial_column=args.get("spatialDataColumn"),
        spatial_type=args.get("spatialDataType"),
        caller=caller,
        max_chars=settings.sql_token_max_chars,
    )
    ctx = ModelContext(
        source,
        filters=filters,
        logical_operator=args.get("filtersLogicalOperator") or "and",
        spatial_filters=spatial_filters,
        timeout_s=settings.sql_timeout_s,
        max_rows=settings.sql_max_rows,
        max_values=settings.filter_max_values,
        grants=grants,
        max_chars=settings.sql_token_max_chars,
        spatial_filters_mode=args.get("spatialFiltersMode"),
    )
    etag, unchanged = conditional_get(
        lambda: answer_etag(record, warehouse, caller, f"model:{model}", sorted(args.items()))
    )
    if unchanged is not None:
        return unchanged
    answer = run_model(model, ctx, params)
    response = Response(fastjson.dumps(answer), mimetype="application/json", headers={"Cache-Control": REVALIDATE})
    if etag is not None:
        response.set_etag(etag)
    return response
