"""Valhalla's ``/isochrone``: its JSON request read and its GeoJSON FeatureCollection answered from lds's isolines.

``contours`` take ``time`` in minutes or ``distance`` in km (several at once, one range type per request as
lds draws them); ``polygons`` answers (Multi)Polygons instead of contour lines, ``denoise`` drops parts smaller
than that share of the largest one, ``generalize`` simplifies by that many metres. Features come largest
contour first, as Valhalla orders them. No Flask here.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from lds import params as v
from lds.dialects import DialectError
from lds.errors import BadRequest, LdsError

COSTINGS = {"auto": "car", "pedestrian": "walk", "bicycle": "bike"}
DEFAULT_COLORS = ("bf4040", "bfaa40", "40bf40", "40bfbf", "4040bf")  # Valhalla's palette, one per contour
_STATUS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    503: "Service Unavailable",
}
M_PER_DEG = 111_320.0


def error(message: str, code: int = 100) -> DialectError:
    return DialectError(str(code), message, 400)


def body_of_error(exc: LdsError) -> dict[str, Any]:
    """Valhalla's error body: ``error_code`` (its own numbers: 1xx request, 1xx-4xx per service), ``error``,
    ``status_code`` and ``status``."""
    code = (
        int(exc.code)
        if isinstance(exc, DialectError) and exc.code.isdigit()
        else 171
        if exc.status == 422
        else 442
        if exc.status == 404
        else 100
        if exc.status == 400
        else exc.status
    )
    return {
        "error_code": code,
        "error": exc.message,
        "status_code": exc.status,
        "status": _STATUS.get(exc.status, "Error"),
    }


def parse_json(text: str, max_depth: int) -> Any:
    """The ``json`` query parameter, read as strictly as request bodies (lone surrogates, depth)."""
    from lds.inputs import decode_json

    try:
        return decode_json(text.encode("utf-8", "surrogatepass"), max_depth)
    except BadRequest as exc:
        raise error(f"Failed to parse json request: {exc.message}", 100) from None


def isochrone_query(body: Any, lds: Any) -> dict[str, Any]:
    """The checked request: origin, mode, range type, ranges (s or m), and the shape options."""
    if not isinstance(body, dict):
        raise error("Failed to parse json request", 100)
    locations = body.get("locations")
    if not isinstance(locations, list) or not locations:
        raise error("Insufficiently specified required parameter 'locations'", 110)
    if len(locations) > 1:
        raise error("Exceeded max locations: 1", 150)
    loc = locations[0]
    if not isinstance(loc, dict):
        raise error("Failed to parse location", 130)
    try:
        origin = (v.longitude("lon", loc.get("lon")), v.latitude("lat", loc.get("lat")))
    except BadRequest as exc:
        raise error(f"Failed to parse location: {exc.message}", 130) from None
    costing = body.get("costing")
    if costing not in COSTINGS or COSTINGS[costing] not in lds.graphs:
        raise error(
            f"No costing method found for '{str(costing)[:40]}' (one of: "
            f"{', '.join(c for c, m in COSTINGS.items() if m in lds.graphs)})",
            125,
        )
    contours = body.get("contours")
    if not isinstance(contours, list) or not contours:
        raise error("Insufficiently specified required parameter 'contours'", 113)
    kinds = {k for c in contours if isinstance(c, dict) for k in ("time", "distance") if k in c}
    if len(kinds) != 1 or not all(isinstance(c, dict) for c in contours):
        raise error("Every contour needs one 'time' (minutes) or 'distance' (km), the same for all", 111)
    kind = kinds.pop()
    scale = 60.0 if kind == "time" else 1000.0
    values = []
    for c in contours:
        x = c.get(kind)
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
            raise error(f"Contour {kind} must be a positive number", 111)
        values.append(float(x))
    ranges = v.isoline_ranges([x * scale for x in values], kind, lds.settings)
    denoise = body.get("denoise", 1.0)
    generalize = body.get("generalize", 0.0)
    for name, x in (("denoise", denoise), ("generalize", generalize)):
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
            raise error(f"Parameter '{name}' must be a number >= 0", 100)
    if denoise > 1:
        raise error("Parameter 'denoise' must be between 0 and 1", 100)
    colors = [
        c.get("color") if isinstance(c.get("color"), str) else DEFAULT_COLORS[i % len(DEFAULT_COLORS)]
        for i, c in enumerate(contours)
    ]
    return {
        "origin": origin,
        "mode": COSTINGS[costing],
        "kind": kind,
        "ranges": ranges,
        "values": values,
        "colors": colors,
        "polygons": bool(body.get("polygons", False)),
        "denoise": float(denoise),
        "generalize": float(generalize),
        "id": body.get("id"),
    }


def _shape(polygons: list[list[np.ndarray]], query: dict[str, Any]) -> dict[str, Any]:
    """The contour's geometry: denoised, generalised, as (Multi)Polygon or contour line(s)."""
    from shapely import MultiPolygon, Polygon

    parts = [Polygon(rings[0], rings[1:]) for rings in polygons if len(rings[0]) >= 4]
    if parts:
        biggest = max(p.area for p in parts)
        parts = [p for p in parts if p.area >= query["denoise"] * biggest]
        parts.sort(key=lambda p: -p.area)
    if query["generalize"] > 0:
        tol = query["generalize"] / M_PER_DEG
        parts = [q for q in (p.simplify(tol, preserve_topology=True) for p in parts) if not q.is_empty]
    if query["polygons"]:
        if len(parts) == 1:
            return json.loads(json.dumps(Polygon(parts[0]).__geo_interface__))
        return json.loads(json.dumps(MultiPolygon(parts).__geo_interface__))
    lines = [[list(c) for c in p.exterior.coords] for p in parts]
    if len(lines) == 1:
        return {"type": "LineString", "coordinates": lines[0]}
    return {"type": "MultiLineString", "coordinates": lines}


def isochrone(lds: Any, query: dict[str, Any]) -> dict[str, Any]:
    """Valhalla's isochrone FeatureCollection, one feature per contour, largest first."""
    found = lds.isolines(query["origin"], query["ranges"], query["kind"], query["mode"])
    features = []
    for iso, value, color in zip(found, query["values"], query["colors"]):
        polygons = [[np.asarray(ring, dtype=np.float64) for ring in poly] for poly in iso["geom"]["coordinates"]]
        fill = f"#{color}"
        features.append(
            {
                "type": "Feature",
                "geometry": _shape(polygons, query),
                "properties": {
                    "fill-opacity": 0.33,
                    "fillColor": fill,
                    "opacity": 0.33,
                    "fill": fill,
                    "fillOpacity": 0.33,
                    "color": fill,
                    "contour": value,
                    "metric": query["kind"],
                },
            }
        )
    features.sort(key=lambda f: -f["properties"]["contour"])
    out: dict[str, Any] = {"features": features, "type": "FeatureCollection"}
    if query["id"] is not None:
        out["id"] = query["id"]
    return out
