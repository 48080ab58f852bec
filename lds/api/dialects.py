"""The other dialects over HTTP (docs/dialects.md): OSRM's ``/route/v1``, ``/table/v1``, ``/nearest/v1``,
Nominatim's ``/nominatim/search|reverse|lookup|status`` (and at the root with ``nominatim_at_root``) and
Valhalla's ``/isochrone``, each enabled by the ``dialects`` setting.

Same rules as ``/v3/lds``: a token with ``lds`` allowed (header or ``access_token``; open with auth disabled),
the same quotas (routes and nearest 1 routing unit, tables one per cell, geocoding one per request, an
isochrone one isolines unit), per-token concurrency, heavy slots and the answer cache (the calls go through
the cached core). Errors are answered in each dialect's own shape.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request

from lds.api.access import authorize, charge, current_access, request_token
from lds.api.admission import current_admission, heavy_slot
from lds.api.context import current_lds
from lds.dialects import nominatim, osrm, valhalla
from lds.errors import LdsError
from lds.services import MATRIX
from lds.services.registry import is_heavy

DIALECTS = ("osrm", "nominatim", "valhalla")
_OSRM_PREFIXES = ("/route/v1/", "/table/v1/", "/nearest/v1/")


def _dialect_of(path: str) -> str:
    if path.startswith(_OSRM_PREFIXES):
        return "osrm"
    if path.startswith("/isochrone"):
        return "valhalla"
    return "nominatim"


def _authenticate() -> None:
    """The ``/v3/lds`` token rules (and per-token concurrency) for every dialect route."""
    access = current_access()
    if access is None or request.method == "OPTIONS":  # CORS preflights carry no token; Flask answers them
        return
    principal = authorize(
        access, "/v3/lds/", request_token(), request.headers.get("Referer") or request.headers.get("Origin")
    )
    g.lds_principal = principal
    if not principal.is_admin and "lds_admitted" not in g:
        g.lds_admitted = current_admission().token(principal.id)


def _error(exc: LdsError):
    dialect = _dialect_of(request.path)
    if dialect == "osrm":
        status, body = osrm.status_of_error(exc), osrm.body_of_error(exc)
    elif dialect == "valhalla":
        status, body = exc.status, valhalla.body_of_error(exc)
    else:
        status, body = exc.status, nominatim.body_of_error(exc)
    response = jsonify(body)
    response.status_code = status
    for key, value in exc.headers.items():
        response.headers[key] = value
    return response


def _args() -> dict[str, str]:
    """Query parameters (first value of each); the clients of these dialects send GETs."""
    return request.args.to_dict()


# --- OSRM ------------------------------------------------------------------------------------------------------
def _osrm_coords(coords: str, most: int) -> list[tuple[float, float]]:
    return osrm.coordinates(coords.removesuffix(".json"), most)


def osrm_route(profile: str, coords: str):
    lds = current_lds()
    mode = osrm.profile(profile, tuple(lds.graphs))
    points = _osrm_coords(coords, lds.settings.max_waypoints + 2)
    if len(points) < 2:
        raise osrm.error("InvalidOptions", "Number of coordinates needs to be at least two.")
    opts = osrm.route_options(_args(), len(points))
    most = lds.settings.max_alternatives
    if opts["alternatives"] > most:
        raise osrm.error("TooBig", f"Requested number of alternatives is higher than current maximum ({most})")
    charge("routing", 1)
    if opts["alternatives"] or opts["bearings"] or opts["approaches"]:  # computed each time: not in the cache
        snapping = {"bearings": opts["bearings"], "approaches": opts["approaches"]}
        first, *others = lds.route_alternatives(points, mode, opts["alternatives"], snapping)
        return jsonify(osrm.route_body(first, opts, others))
    return jsonify(osrm.route_body(lds.route(points[0], points[-1], points[1:-1], mode), opts))


def osrm_table(profile: str, coords: str):
    lds = current_lds()
    s = lds.settings
    mode = osrm.profile(profile, tuple(lds.graphs))
    points = _osrm_coords(coords, s.matrix_max_origins + s.matrix_max_destinations)
    args = _args()
    sources, destinations = osrm.indices(args, "sources", len(points)), osrm.indices(args, "destinations", len(points))
    if len(sources) > s.matrix_max_origins or len(destinations) > s.matrix_max_destinations:
        raise osrm.error("TooBig", "Too many table coordinates")
    opts = osrm.table_options(args)
    values = {
        "origins": [points[i] for i in sources],
        "destinations": [points[j] for j in destinations],
        "mode": mode,
        "annotations": osrm.table_annotations(args),
    }
    with heavy_slot(is_heavy(MATRIX, values, s)):
        charge(MATRIX.quota, MATRIX.units(values))
        return jsonify(osrm.table_body(lds.matrix(**values), opts, (values["origins"], values["destinations"])))


def osrm_nearest(profile: str, coords: str):
    lds = current_lds()
    mode = osrm.profile(profile, tuple(lds.graphs))
    points = _osrm_coords(coords, 1)
    number = _args().get("number", "1")
    if not number.isdigit() or int(number) < 1:
        raise osrm.error("InvalidQuery", f"Query string malformed close to 'number={number[:40]}'")
    if int(number) > lds.settings.max_nearest:
        raise osrm.error(
            "TooBig", f"Number of results {int(number)} is higher than current maximum ({lds.settings.max_nearest})"
        )
    charge("routing", 1)
    graph, (lon, lat) = lds.graph(mode), points[0]
    return jsonify(osrm.nearest_body(graph, lon, lat, lds.settings.snap_radius_m, int(number)))


# --- Nominatim ---------------------------------------------------------------------------------------------------
def nominatim_search():
    lds = current_lds()
    query = nominatim.search_query(_args(), lds.settings)
    charge("geocoding", 1)
    return jsonify(nominatim.render(nominatim.search(lds, query), query["format"], "search"))


def nominatim_reverse():
    query = nominatim.reverse_query(_args())
    charge("geocoding", 1)
    return jsonify(nominatim.render(nominatim.reverse(current_lds(), query), query["format"], "reverse"))


def nominatim_lookup():
    query = nominatim.lookup_query(_args())
    charge("geocoding", 1)
    return jsonify(nominatim.render(nominatim.lookup(current_lds(), query), query["format"], "lookup"))


def nominatim_status():
    if _args().get("format") == "json":
        return jsonify(nominatim.status(current_lds()))
    return Response("OK", mimetype="text/plain")


# --- Valhalla ----------------------------------------------------------------------------------------------------
def valhalla_isochrone():
    lds = current_lds()
    query = valhalla.isochrone_query(_valhalla_request(), lds)
    charge("isolines", 1)
    return jsonify(valhalla.isochrone(lds, query))


def _valhalla_request() -> Any:
    """Valhalla takes its JSON as ``?json=...`` or as the body."""
    from lds.api.params import request_json

    if "json" in request.args:
        return valhalla.parse_json(request.args["json"], current_lds().settings.max_json_depth)
    body = request_json(None) if request.method == "POST" else None
    return body if body is not None else {}


def install_dialects(app: Flask, settings: Any) -> None:
    """Register the enabled dialects' routes (``dialects`` setting) on ``app``."""
    enabled = {d.strip() for d in (settings.dialects or "").split(",") if d.strip()}
    unknown = enabled - set(DIALECTS)
    if unknown:
        raise ValueError(f"LDS_DIALECTS: unknown dialect(s) {sorted(unknown)} (known: {', '.join(DIALECTS)})")
    if not enabled:
        return
    bp = Blueprint("dialects", __name__)
    bp.before_request(_authenticate)
    bp.register_error_handler(LdsError, _error)
    if "osrm" in enabled:
        for service, view in (("route", osrm_route), ("table", osrm_table), ("nearest", osrm_nearest)):
            bp.add_url_rule(f"/{service}/v1/<profile>/<path:coords>", f"osrm_{service}", view, methods=["GET"])
    if "nominatim" in enabled:
        prefixes = ["/nominatim"] + ([""] if settings.nominatim_at_root else [])
        for prefix in prefixes:
            for name, view in (
                ("search", nominatim_search),
                ("reverse", nominatim_reverse),
                ("lookup", nominatim_lookup),
                ("status", nominatim_status),
            ):
                for suffix in ("", ".php"):  # Nominatim 3 clients still ask for /search.php
                    bp.add_url_rule(
                        f"{prefix}/{name}{suffix}",
                        f"nominatim{prefix.replace('/', '_')}_{name}{suffix.replace('.', '_')}",
                        view,
                        methods=["GET"],
                    )
    if "valhalla" in enabled:
        bp.add_url_rule("/isochrone", "valhalla_isochrone", valhalla_isochrone, methods=["GET", "POST"])
    app.register_blueprint(bp)
