"""Geocoding endpoints: geocode (GET|POST), reverse (GET|POST) and synchronous batch (POST).

Each parses its parameters, charges the quota and calls the core; the answer is CARTO's LDS envelope
``[{"error": ..., "value": [candidates]}]``. No match (and, for reverse, a point outside the data) is an
error *entry* with HTTP 200, as the batch reports per item; malformed requests are 4xx errors.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from lds.api import params as p
from lds.api.access import charge
from lds.api.context import current_lds
from lds.api.envelope import lds_ok
from lds.errors import BadRequest, OutOfCoverage
from lds.geocoding import checks
from lds.geocoding.batch import NO_RESULT

bp = Blueprint("geocoding", __name__)


def _entry(value: list, error: str | None = None) -> list[dict]:
    return [{"error": error, "value": value}] if error else lds_ok(value)


@bp.route("/v3/lds/geocoding/geocode", methods=["GET", "POST"])
def geocode():
    args = p.request_params()
    lds = current_lds()
    address = checks.address(p.first(args, "address", "q", required=True), lds.settings.geocode_max_query_chars)
    country = checks.country(args.get("country"))
    limit = checks.limit(args.get("limit"), lds.settings)
    charge("geocoding")
    value = lds.geocode(address, country=country, limit=limit)
    return jsonify(_entry(value, None if value else NO_RESULT))


@bp.route("/v3/lds/geocoding/reverse", methods=["GET", "POST"])
def reverse():
    args = p.request_params()
    lds = current_lds()
    lat = p.latitude("lat", p.first(args, "lat", "latitude", required=True))
    lon = p.longitude("lon", p.first(args, "lon", "lng", "longitude", required=True))
    language = args.get("language")
    if language is not None and not isinstance(language, str):
        raise BadRequest("parameter 'language' must be a string such as 'en' or 'en-US'")
    charge("geocoding")
    try:
        value = lds.reverse(lat, lon, language=language or None)
    except OutOfCoverage as exc:
        return jsonify(_entry([], exc.message))
    return jsonify(_entry(value, None if value else NO_RESULT))


@bp.route("/v3/lds/geocoding/batch", methods=["POST"])
def batch():
    lds = current_lds()
    body = request.get_json(silent=True) if request.content_length else None
    if body is None:
        raise BadRequest('request body must be JSON: {"addresses": [...]}')
    if isinstance(body, list):  # a bare array of addresses is accepted too
        body = {"addresses": body}
    if not isinstance(body, dict):
        raise BadRequest('request body must be a JSON object: {"addresses": [...]}')
    items = body.get("addresses")
    if items is None:
        raise BadRequest("missing field 'addresses'")
    if not isinstance(items, list):
        raise BadRequest("'addresses' must be a JSON array of strings or {\"address\": ...} objects")
    if not items:
        raise BadRequest("'addresses' is empty")
    country = checks.country(body.get("country", request.args.get("country")))
    limit = body.get("limit", request.args.get("limit"))
    limit = checks.limit(limit, lds.settings) if limit not in (None, "") else None
    # issue 4: ?async=true, or more than batch_max_sync items, makes a job (202 {"jobId", "status"}); it charges too
    if p.boolean("async", request.args.get("async", body.get("async"))) or len(items) > lds.settings.batch_max_sync:
        from lds.api.jobs import accept_job

        return accept_job("geocode", items, {"country": country, "limit": limit})
    charge("geocoding", len(items))
    return jsonify(lds.geocode_batch(items, country=country, limit=limit))
