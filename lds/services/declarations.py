"""The five answer services of CARTO's LDS API, each declared once (see :mod:`lds.services.registry`)."""

from __future__ import annotations

from typing import Any

from lds import params as v
from lds import routing_matrix as rm
from lds.admission import batch_heavy, isolines_heavy, over_sync_chars
from lds.cache.keys import norm_code, norm_int, norm_number, norm_point, norm_points, norm_text
from lds.errors import BadRequest, OutOfCoverage
from lds.services.registry import Job, Param, Service, candidates, lds_ok


# --- readers: (raw value or None, lds, values read so far) -> clean value ------------------------------------
def _point(name: str):
    return lambda raw, lds, got: v.lonlat(name, raw)


def _coordinate(name: str, check):
    def read(raw: Any, lds: Any, got: dict) -> float:
        if v.missing(raw):
            raise BadRequest(f"missing parameter '{name}'")
        return check(name, raw)
    return read


def _mode(raw: Any, lds: Any, got: dict) -> str:
    return v.choice("mode", raw, lds.graphs, default="car")


def _batch_items(raw: Any, lds: Any, got: dict) -> list:
    if raw is None:
        raise BadRequest("missing field 'addresses'")
    if not isinstance(raw, list):
        raise BadRequest("'addresses' must be a JSON array of strings or {\"address\": ...} objects")
    if not raw:
        raise BadRequest("'addresses' is empty")
    return raw


def _country(raw: Any, lds: Any, got: dict) -> str | None:
    return v.country("country", raw)


def _limit(raw: Any, lds: Any, got: dict) -> int:
    return v.geocode_limit(raw, lds.settings)


# --- cache key params: the same question always maps to the same key (lds.cache.keys) --------------------------
def _route_key(kw: dict[str, Any], settings: Any) -> dict[str, Any]:
    d = settings.cache_coord_decimals
    return {"origin": norm_point(kw["origin"], d), "destination": norm_point(kw["destination"], d),
            "waypoints": norm_points(kw["waypoints"], d), "mode": kw["mode"]}


def _isolines_key(kw: dict[str, Any], settings: Any) -> dict[str, Any]:
    return {"origin": norm_point(kw["origin"], settings.cache_coord_decimals),
            "ranges": [norm_number(r, 3) for r in kw["ranges"]], "range_type": kw["range_type"], "mode": kw["mode"]}


def _matrix_key(kw: dict[str, Any], settings: Any) -> dict[str, Any]:
    d = settings.cache_coord_decimals
    destinations = kw["destinations"]
    return {"origins": norm_points(kw["origins"], d),
            "destinations": None if destinations is None else norm_points(destinations, d), "mode": kw["mode"],
            "annotations": list(kw["annotations"])}


def _matrix_cells(kw: dict[str, Any]) -> int:
    """Cells of a matrix (all to all without destinations): its routing units, each cell a route's answer, as
    matrix APIs bill elements."""
    n = len(kw["origins"])
    return n * (n if kw["destinations"] is None else len(kw["destinations"]))


def geocode_key(kw: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Also the key of each batch item, so a batch and single geocodes share answers."""
    limit = kw.get("limit")
    if v.missing(limit):
        limit = settings.geocode_default_limit  # what the core uses, so both spellings share a key
    return {"address": norm_text(kw["address"]), "country": norm_code(kw.get("country")), "limit": norm_int(limit)}


def _reverse_key(kw: dict[str, Any], settings: Any) -> dict[str, Any]:
    d = settings.cache_coord_decimals
    return {"lat": norm_number(kw["lat"], d), "lon": norm_number(kw["lon"], d), "language": norm_code(kw.get("language"))}


ORIGIN = Param("origin", ("origin",), _point("origin"), "lon,lat", cli="positional")
MODE = Param("mode", ("mode",), _mode, "travel mode: car, walk or bike (default car)")
COUNTRY = Param("country", ("country",), _country, "ISO 3166-1 alpha-2 code restricting the results")

ROUTING = Service(
    name="routing", path="/v3/lds/routing", methods=("GET", "POST"), quota="routing", core="route", cache="route",
    params=(
        ORIGIN,
        Param("destination", ("destination",), _point("destination"), "lon,lat", cli="positional"),
        Param("waypoints", ("waypoints",),
              lambda raw, lds, got: v.latlon_list("waypoints", raw, most=lds.settings.max_waypoints),
              "intermediate points: lat,lon;lat,lon"),
        MODE,
    ),
    format=lambda value: lds_ok([value]), cache_key=_route_key, cli="route",
    help="print a route as the API returns it",
)

def _matrix_destinations(raw: Any, lds: Any, got: dict) -> list:
    """The destinations, or the origins themselves (all to all), within ``matrix_max_destinations``."""
    most = lds.settings.matrix_max_destinations
    if v.missing(raw):
        if len(got["origins"]) > most:
            raise BadRequest(f"an all-to-all matrix has at most {most} points (matrix_max_destinations): send "
                             "'destinations' (a job takes more origins)")
        return got["origins"]
    return rm.read_points("destinations", raw, most)


MATRIX = Service(
    name="matrix", path="/v3/lds/routing/matrix", methods=("POST",), quota="routing", core="matrix", cache="matrix",
    params=(
        Param("origins", ("origins",), lambda raw, lds, got: rm.read_points("origins", raw, lds.settings.job_max_items),
              "[[lon, lat], ...] or lon,lat;lon,lat"),
        Param("destinations", ("destinations",), _matrix_destinations, "[[lon, lat], ...] (default: the origins)"),
        MODE,
        Param("annotations", ("annotations",), lambda raw, lds, got: rm.read_annotations(raw),
              "duration and/or distance (default both)"),
        Param("async", ("async",), lambda raw, lds, got: v.boolean("async", raw), cli="", to_core=False),
    ),
    format=lambda value: lds_ok([value]), cache_key=_matrix_key, units=_matrix_cells,
    heavy=lambda kw, settings: _matrix_cells(kw) > settings.heavy_matrix_cells,
    # more origins than matrix_max_origins (or ?async=true): a job of rows, one per origin, each charged per cell
    job=Job(kind="matrix", items="origins", flag="async", sync_max_setting="matrix_max_origins", core="matrix_rows",
            units_per_item=lambda params: len(params["destinations"])),
)

ISOLINES = Service(
    name="isolines", path="/v3/lds/isolines", methods=("GET", "POST"), quota="isolines", core="isolines",
    cache="isolines",
    params=(
        ORIGIN,
        MODE,
        Param("range_type", ("range_type",), lambda raw, lds, got: v.range_type(raw), "time (s) or distance (m)"),
        Param("ranges", ("range",), lambda raw, lds, got: v.isoline_ranges(raw, got["range_type"], lds.settings),
              "seconds or metres, comma-separated"),
    ),
    format=lds_ok, cache_key=_isolines_key, heavy=isolines_heavy, cli="isoline", help="print isolines as the API returns them",
)

def _isolines_h3_key(kw: dict[str, Any], settings: Any) -> dict[str, Any]:
    return {**_isolines_key(kw, settings), "resolution": kw["resolution"]}


ISOLINES_H3 = Service(
    name="isolines_h3", path="/v3/lds/isolines/h3", methods=("GET", "POST"), quota="isolines", core="isolines_h3",
    cache="isolines_h3",
    params=(
        *ISOLINES.params,
        Param("resolution", ("resolution",), lambda raw, lds, got: v.h3_resolution(raw, lds.settings),
              "H3 resolution, 0 to h3_isoline_max_resolution (default h3_isoline_resolution)"),
    ),
    format=lds_ok, cache_key=_isolines_h3_key, heavy=isolines_heavy, cli="isoline-h3",
    help="print H3 isolines (the cells reached within each range) as the API returns them",
)

GEOCODE = Service(
    name="geocode", path="/v3/lds/geocoding/geocode", methods=("GET", "POST"), quota="geocoding", core="geocode",
    cache="geocode",
    params=(
        Param("address", ("address", "q"), lambda raw, lds, got: v.geocode_address(raw, lds.settings),
              "free-form address text", cli="positional"),
        COUNTRY,
        Param("limit", ("limit",), _limit, "most candidates (default geocode_default_limit)"),
    ),
    format=candidates, cache_key=geocode_key, cli="geocode", help="print geocoding candidates as the API returns them",
)

REVERSE = Service(
    name="reverse", path="/v3/lds/geocoding/reverse", methods=("GET", "POST"), quota="geocoding", core="reverse",
    cache="reverse",
    params=(
        Param("lat", ("lat", "latitude"), _coordinate("lat", v.latitude), "latitude", cli="positional"),
        Param("lon", ("lon", "lng", "longitude"), _coordinate("lon", v.longitude), "longitude", cli="positional"),
        Param("language", ("language",), lambda raw, lds, got: v.language("language", raw),
              "result language, e.g. en or en-US"),
    ),
    format=candidates, cache_key=_reverse_key, entry_errors=(OutOfCoverage,), cli="reverse",
    help="print the reverse geocoding answer as the API returns it",
)

BATCH = Service(
    name="batch", path="/v3/lds/geocoding/batch", methods=("POST",), quota="geocoding", core="geocode_batch",
    cache="geocode",
    params=(
        Param("items", ("addresses",), _batch_items, cli=""),
        Param("country", ("country",), _country, cli=""),
        Param("limit", ("limit",), lambda raw, lds, got: None if v.missing(raw) else _limit(raw, lds, got), cli=""),
        Param("async", ("async",), lambda raw, lds, got: v.boolean("async", raw), cli="", to_core=False),
    ),
    format=lambda entries: entries, units=lambda kw: len(kw["items"]),
    job=Job(kind="geocode", items="items", flag="async", sync_max_setting="batch_max_sync", sync_too_big=over_sync_chars),
    heavy=batch_heavy, body_list="addresses",
)

SERVICES: dict[str, Service] = {s.name: s for s in (ROUTING, MATRIX, ISOLINES, ISOLINES_H3, GEOCODE, REVERSE, BATCH)}
