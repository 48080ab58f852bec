"""OSRM's HTTP API v5 (``/route/v1``, ``/table/v1``, ``/nearest/v1``): requests parsed and answers shaped as
``osrm-routed`` does, from lds's own route, matrix and snapping answers.

Errors carry OSRM's codes (``InvalidUrl``, ``InvalidQuery``, ``InvalidValue``, ``NoRoute``, ``NoSegment``,
``TooBig``), all HTTP 400 as osrm-routed answers them. What is parsed but not applied is listed in
docs/dialects.md (``hints``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from lds.dialects import DialectError
from lds.errors import LdsError, NotFound, OutOfCoverage

PROFILES = {
    "driving": "car",
    "car": "car",
    "walking": "walk",
    "foot": "walk",
    "cycling": "bike",
    "bike": "bike",
    "bicycle": "bike",
}
OSRM_MODES = {"car": "driving", "walk": "walking", "bike": "cycling"}
WEIGHT_NAMES = {"car": "routability", "walk": "duration", "bike": "duration"}  # OSRM's bundled profiles
GEOMETRIES = ("polyline", "polyline6", "geojson")
OVERVIEWS = ("simplified", "full", "false")
ROUTE_ANNOTATIONS = ("duration", "distance", "speed", "weight")
SIMPLIFY_DEG = 1e-5  # overview=simplified: Douglas-Peucker tolerance (~1 m), OSRM's zoom-18 detail
_NUMBER = r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
_COORD = re.compile(rf"^\s*({_NUMBER})\s*,\s*({_NUMBER})\s*$")
_POLYLINE = re.compile(r"^(polyline6?)\((.+)\)$")


def error(code: str, message: str) -> DialectError:
    return DialectError(code, message, 400)


def body_of_error(exc: LdsError) -> dict[str, Any]:
    """OSRM's error body for any lds error: its own code, or the nearest OSRM code for core errors."""
    if isinstance(exc, DialectError):
        code = exc.code
    elif isinstance(exc, OutOfCoverage):
        code = "NoSegment"
    elif isinstance(exc, NotFound):
        code = "NoRoute"
    elif exc.status == 400:
        code = "InvalidValue"
    else:
        code = {401: "Unauthorized", 403: "Forbidden", 413: "TooBig", 429: "TooManyRequests"}.get(exc.status, "Error")
    return {"code": code, "message": exc.message}


def status_of_error(exc: LdsError) -> int:
    """osrm-routed answers every failed query with 400; auth, quota and load keep lds's status."""
    return 400 if exc.status in (400, 404, 413, 422) else exc.status


# --- request parsing -------------------------------------------------------------------------------------------
def profile(name: str, modes: Sequence[str]) -> str:
    mode = PROFILES.get(name.lower())
    if mode is None or mode not in modes:
        known = ", ".join(p for p, m in PROFILES.items() if m in modes)
        raise error("InvalidValue", f"Profile '{name[:40]}' is not known (one of: {known})")
    return mode


def decode_polyline(text: str, precision: int) -> list[tuple[float, float]]:
    """Google's encoded polyline (lat, lng pairs) as (lon, lat)."""
    values, shift, result, factor = [], 0, 0, 10.0**precision
    for ch in text:
        b = ord(ch) - 63
        if b < 0 or b > 63:
            raise error("InvalidQuery", "Query string malformed close to the coordinates")
        result |= (b & 0x1F) << shift
        shift += 5
        if b < 0x20:
            values.append(~(result >> 1) if result & 1 else result >> 1)
            shift = result = 0
    if shift or len(values) % 2:
        raise error("InvalidQuery", "Query string malformed close to the coordinates")
    lat = lon = 0
    out = []
    for i in range(0, len(values), 2):
        lat += values[i]
        lon += values[i + 1]
        out.append((lon / factor, lat / factor))
    return out


def coordinates(text: str, most: int) -> list[tuple[float, float]]:
    """``lon,lat;lon,lat...`` or ``polyline(...)``/``polyline6(...)`` -> (lon, lat) pairs, range-checked."""
    m = _POLYLINE.match(text)
    if m:
        points = decode_polyline(m.group(2), 6 if m.group(1) == "polyline6" else 5)
    else:
        points = []
        for part in text.split(";"):
            c = _COORD.match(part)
            if c is None:
                raise error(
                    "InvalidQuery",
                    f"Query string malformed close to position {len(';'.join(text.split(';')[: len(points)]))}",
                )
            points.append((float(c.group(1)), float(c.group(2))))
    for lon, lat in points:
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0) or math.isnan(lon) or math.isnan(lat):
            raise error("InvalidValue", "Invalid coordinate value.")
    if len(points) > most:
        raise error("TooBig", "Too many trace coordinates")
    return points


def boolean(args: dict[str, str], name: str, default: bool) -> bool:
    value = args.get(name)
    if value is None:
        return default
    if value in ("true", "false"):
        return value == "true"
    raise error("InvalidQuery", f"Query string malformed close to '{name}={value[:40]}'")


def choice(args: dict[str, str], name: str, options: Sequence[str], default: str) -> str:
    value = args.get(name, default)
    if value not in options:
        raise error("InvalidQuery", f"Query string malformed close to '{name}={value[:40]}'")
    return value


def per_point(args: dict[str, str], name: str, n: int, read) -> list[Any] | None:
    """A ``;``-separated list with one entry per coordinate (empty entries allowed), each checked by ``read``."""
    value = args.get(name)
    if value is None:
        return None
    parts = value.split(";")
    if len(parts) != n:
        raise error(
            "InvalidOptions", f"Number of elements in {name} size {len(parts)} does not match coordinate size {n}"
        )
    try:
        return [read(p) if p else None for p in parts]
    except (ValueError, TypeError):
        raise error("InvalidQuery", f"Query string malformed close to '{name}'") from None


def _radius(text: str) -> float:
    if text == "unlimited":
        return math.inf
    r = float(text)
    if not r >= 0 or math.isinf(r):
        raise ValueError(text)
    return r


def _bearing(text: str) -> tuple[int, int]:
    value, rng = (int(x) for x in text.split(","))
    if not (0 <= value <= 360 and 0 <= rng <= 180):
        raise ValueError(text)
    return value, rng


def _approach(text: str) -> str:
    if text not in ("curb", "unrestricted", "opposite"):
        raise ValueError(text)
    return text


def route_options(args: dict[str, str], n: int) -> dict[str, Any]:
    """The route service's options, checked as osrm-routed checks them."""
    if args.get("exclude"):
        raise error("InvalidValue", "Exclude flag combination is not supported.")
    alternatives = args.get("alternatives", "false")
    if alternatives not in ("true", "false") and not alternatives.isdigit():
        raise error("InvalidQuery", f"Query string malformed close to 'alternatives={alternatives[:40]}'")
    annotations = args.get("annotations", "false")
    if annotations in ("true", "false"):
        chosen = ROUTE_ANNOTATIONS if annotations == "true" else ()
    else:
        chosen = tuple(annotations.split(","))
        if not set(chosen) <= {*ROUTE_ANNOTATIONS, "nodes", "datasources"}:
            raise error("InvalidQuery", f"Query string malformed close to 'annotations={annotations[:40]}'")
    return {
        "alternatives": int(alternatives) if alternatives.isdigit() else int(alternatives == "true"),
        "bearings": per_point(args, "bearings", n, _bearing),
        "approaches": per_point(args, "approaches", n, _approach),
        "steps": boolean(args, "steps", False),
        "overview": choice(args, "overview", OVERVIEWS, "simplified"),
        "geometries": choice(args, "geometries", GEOMETRIES, "polyline"),
        "annotations": chosen,
        "continue_straight": boolean(args, "continue_straight", True)
        if args.get("continue_straight") != "default"
        else True,
        "radiuses": per_point(args, "radiuses", n, _radius),
    }


def indices(args: dict[str, str], name: str, n: int) -> list[int]:
    """``sources``/``destinations`` of a table: ``all`` or ``;``-separated coordinate indices."""
    value = args.get(name, "all")
    if value == "all":
        return list(range(n))
    try:
        out = [int(p) for p in value.split(";")]
    except ValueError:
        raise error("InvalidQuery", f"Query string malformed close to '{name}={value[:40]}'") from None
    if any(i < 0 or i >= n for i in out):
        raise error("InvalidOptions", f"{name} index out of bounds")
    return out


def table_annotations(args: dict[str, str]) -> tuple[str, ...]:
    value = args.get("annotations", "duration")
    chosen = tuple(value.split(","))
    if not chosen or not set(chosen) <= {"duration", "distance"}:
        raise error("InvalidQuery", f"Query string malformed close to 'annotations={value[:40]}'")
    return chosen


def _positive(args: dict[str, str], name: str) -> float | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not (x > 0 and math.isfinite(x)):
        raise error("InvalidValue", f"{name} must be > 0")
    return x


def table_options(args: dict[str, str]) -> dict[str, Any]:
    """``scale_factor`` (durations multiplied), ``fallback_speed`` (m/s, crow-fly estimates where no route) and
    ``fallback_coordinate`` (``input`` or ``snapped``), as osrm-routed checks them."""
    return {
        "scale_factor": _positive(args, "scale_factor"),
        "fallback_speed": _positive(args, "fallback_speed"),
        "fallback_coordinate": choice(args, "fallback_coordinate", ("input", "snapped"), "input"),
    }


# --- answers ---------------------------------------------------------------------------------------------------
def encode_polyline(coords: Sequence[Sequence[float]], precision: int = 5) -> str:
    """Google's encoded polyline of (lon, lat) coordinates (OSRM's ``polyline`` and ``polyline6``)."""
    if len(coords) == 0:
        return ""
    arr = np.rint(np.asarray(coords, dtype=np.float64)[:, ::-1] * 10.0**precision).astype(np.int64)
    deltas = np.diff(arr, axis=0, prepend=np.zeros((1, 2), np.int64)).ravel()
    out = []
    for d in deltas.tolist():
        v = ~(d << 1) if d < 0 else d << 1
        while v >= 0x20:
            out.append(chr((0x20 | (v & 0x1F)) + 63))
            v >>= 5
        out.append(chr(v + 63))
    return "".join(out)


def geometry(coords: Sequence[Sequence[float]], kind: str) -> Any:
    if kind == "geojson":
        return {"type": "LineString", "coordinates": [list(c) for c in coords]}
    return encode_polyline(coords, 6 if kind == "polyline6" else 5)


def _simplified(coords: np.ndarray) -> np.ndarray:
    if len(coords) < 3:
        return coords
    from shapely import LineString

    return np.asarray(LineString(coords).simplify(SIMPLIFY_DEG, preserve_topology=False).coords)


def _segment_m(coords: np.ndarray) -> np.ndarray:
    from lds.geo import haversine_m

    if len(coords) < 2:
        return np.zeros(0)
    return np.asarray(haversine_m(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1]), dtype=np.float64)


def _index_of(coords: np.ndarray, location: Sequence[float], start: int) -> int:
    """The first coordinate at or after ``start`` nearest to ``location`` (steps start on route vertices)."""
    rest = coords[start:]
    d = np.abs(rest[:, 0] - location[0]) + np.abs(rest[:, 1] - location[1])
    exact = np.flatnonzero(d < 1e-7)
    return start + int(exact[0] if len(exact) else np.argmin(d))


def _legs_coords(route: dict[str, Any]) -> list[np.ndarray]:
    """The route geometry cut into its legs (legs share their waypoint coordinate)."""
    coords = np.asarray(route["geom"]["coordinates"], dtype=np.float64)
    out, start = [], 0
    for k, leg in enumerate(route["legs"]):
        end = (
            len(coords) - 1 if k == len(route["legs"]) - 1 else _index_of(coords, leg["destination"]["location"], start)
        )
        out.append(coords[start : end + 1])
        start = end
    return out


def _step(step: dict[str, Any], coords: np.ndarray, mode: str, geometries: str) -> dict[str, Any]:
    maneuver = {
        "bearing_after": int(step["bearing_after"]),
        "bearing_before": int(step["bearing_before"]),
        "location": step["location"],
        "type": step["type"],
    }
    if "modifier" in step:
        maneuver["modifier"] = step["modifier"]
    if "exit" in step:
        maneuver["exit"] = step["exit"]
    duration = round(step["duration"], 1)
    return {
        "geometry": geometry(coords.tolist(), geometries),
        "maneuver": maneuver,
        "mode": OSRM_MODES[mode],
        "driving_side": "right",
        "name": step["name"],
        "intersections": [
            {"out": 0, "entry": [True], "bearings": [maneuver["bearing_after"]], "location": step["location"]}
        ],
        "weight": duration,
        "duration": duration,
        "distance": round(step["distance"], 1),
    }


def _leg(leg: dict[str, Any], coords: np.ndarray, mode: str, opts: dict[str, Any]) -> dict[str, Any]:
    steps = leg["steps"]
    starts = [0]
    for step in steps[1:-1]:
        starts.append(_index_of(coords, step["location"], starts[-1]))
    starts.append(len(coords) - 1)
    seg_m = _segment_m(coords)
    seg_s = np.zeros_like(seg_m)
    for k, step in enumerate(steps[:-1]):  # each step's duration spread over its segments by length
        a, b = starts[k], starts[k + 1]
        part = seg_m[a:b]
        total = float(part.sum())
        if total > 0:
            seg_s[a:b] = part * (step["duration"] / total)
    named = sorted((s for s in steps if s["name"]), key=lambda s: -s["distance"])
    summary = ", ".join(list(dict.fromkeys(s["name"] for s in named))[:2])
    duration = round(leg["duration"], 1)
    out: dict[str, Any] = {
        "steps": [],
        "summary": summary,
        "weight": duration,
        "duration": duration,
        "distance": round(leg["distance"], 1),
    }
    if opts["steps"]:
        bounds = [*starts[:-1], len(coords) - 1]
        out["steps"] = [
            _step(
                s,
                coords[bounds[k] : (bounds[k + 1] + 1 if k + 1 < len(bounds) else len(coords))]
                if s["type"] != "arrive"
                else coords[-1:].repeat(2, axis=0),
                mode,
                opts["geometries"],
            )
            for k, s in enumerate(steps)
        ]
    if opts["annotations"]:
        ann: dict[str, Any] = {}
        speeds = np.divide(seg_m, seg_s, out=np.zeros_like(seg_m), where=seg_s > 0)
        values = {
            "distance": np.round(seg_m, 1),
            "duration": np.round(seg_s, 1),
            "weight": np.round(seg_s, 1),
            "speed": np.round(speeds, 1),
        }
        for name in opts["annotations"]:
            if name in values:
                ann[name] = values[name].tolist()
        out["annotation"] = ann
    return out


def waypoint(location: Sequence[float], distance: float, name: str) -> dict[str, Any]:
    return {
        "hint": "",
        "distance": round(distance, 6),
        "name": name,
        "location": [round(location[0], 6), round(location[1], 6)],
    }


def route_body(
    route: dict[str, Any], opts: dict[str, Any], alternatives: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """OSRM's route answer from an lds route value (and its alternative routes, after it in ``routes``)."""
    radiuses = opts.get("radiuses")
    for i, w in enumerate(route["waypoints"]):
        if radiuses and radiuses[i] is not None and w["snap_distance"] > radiuses[i]:
            raise error("NoSegment", f"Could not find a matching segment for coordinate {i}")
    return {
        "code": "Ok",
        "routes": [_route(r, opts) for r in (route, *alternatives)],
        "waypoints": [waypoint(w["location"], w["snap_distance"], w["name"]) for w in route["waypoints"]],
    }


def _route(route: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
    mode = route["mode"]
    legs_coords = _legs_coords(route)
    legs = [_leg(leg, c, mode, opts) for leg, c in zip(route["legs"], legs_coords)]
    duration = round(route["duration"], 1)
    body: dict[str, Any] = {
        "legs": legs,
        "weight_name": WEIGHT_NAMES[mode],
        "weight": duration,
        "duration": duration,
        "distance": round(route["distance"], 1),
    }
    if opts["overview"] != "false":
        coords = np.asarray(route["geom"]["coordinates"], dtype=np.float64)
        if opts["overview"] == "simplified":
            coords = _simplified(coords)
        body = {"geometry": geometry(coords.tolist(), opts["geometries"]), **body}
    return body


def table_body(
    value: dict[str, Any], opts: dict[str, Any] | None = None, inputs: tuple[list, list] | None = None
) -> dict[str, Any]:
    """OSRM's table answer from an lds matrix value (rows per source; null where no route, or a crow-fly
    estimate at ``fallback_speed``; durations times ``scale_factor``)."""
    opts = opts or {}
    body: dict[str, Any] = {"code": "Ok"}
    if not opts.get("fallback_speed") and not opts.get("scale_factor"):  # the rows as they are (no copy)
        body.update({key: value[key] for key in ("durations", "distances") if key in value})
        return _table_points(body, value)
    durations = np.array(value.get("durations", []), dtype=float)
    distances = np.array(value.get("distances", []), dtype=float)
    speed = opts.get("fallback_speed")
    if speed and (np.isnan(durations).any() or np.isnan(distances).any()):
        if opts.get("fallback_coordinate") == "snapped" or inputs is None:
            src, dst = ([w["location"] for w in value[k]] for k in ("origins", "destinations"))
        else:
            src, dst = inputs
        from lds.geo import haversine_m

        a, b = np.asarray(src, dtype=float), np.asarray(dst, dtype=float)
        crow = haversine_m(a[:, None, 0], a[:, None, 1], b[None, :, 0], b[None, :, 1])
        if "durations" in value:
            durations = np.where(np.isnan(durations), crow / speed, durations)
        if "distances" in value:
            distances = np.where(np.isnan(distances), crow, distances)
    if opts.get("scale_factor"):
        durations = durations * opts["scale_factor"]
    for key, values in (("durations", durations), ("distances", distances)):
        if key in value:
            rows = np.round(values, 1).astype(object)
            rows[np.isnan(values)] = None
            body[key] = rows.tolist()
    return _table_points(body, value)


def _table_points(body: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    for key, points in (("sources", value["origins"]), ("destinations", value["destinations"])):
        body[key] = [waypoint(w["location"], w["snap_distance"], w["name"]) for w in points]
    return body


def nearest_body(graph: Any, lon: float, lat: float, radius_m: float, number: int = 1) -> dict[str, Any]:
    """OSRM's nearest answer: the point snapped onto the mode's roads (the ``number`` nearest roads, nearest
    first), each with the OSM nodes of its edge."""
    from lds.graph.snap_filters import nearest_roads

    snaps = (
        [graph.snapper.snap(lon, lat, radius_m)] if number == 1 else nearest_roads(graph, lon, lat, radius_m, number)
    )
    if not snaps:
        raise error("NoSegment", "Could not find a matching segments for coordinate 0")
    out = []
    for snap in snaps:
        e = snap.edge
        nodes = [int(graph.node_osm[graph.edge_src[e]]), int(graph.node_osm[graph.edge_dst[e]])]
        name = graph.names[int(graph.edge_name[e])]
        out.append({"nodes": nodes, **waypoint((snap.lon, snap.lat), snap.distance_m, name)})
    return {"code": "Ok", "waypoints": out}
