"""JSON Schemas of the API: the shared components (the error envelope, LDS answers, job documents) and one schema
per answer-service parameter, with its range and default read from the Settings. No Flask here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lds.params import RANGE_TYPES

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_NULLABLE_TEXT: Schema = {"type": ["string", "null"]}
_TIME: Schema = {"type": ["string", "null"], "description": "ISO 8601 UTC time"}

COMPONENTS: dict[str, Schema] = {
    "Error": {
        "description": "The one error envelope of every error lds answers (lds.errors.error_body).",
        "type": "object",
        "required": ["error", "status"],
        "properties": {
            "error": {"type": "string", "description": "what is wrong, naming the parameter"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "the HTTP status, repeated"},
        },
    },
    "LdsEntry": {
        "description": "One entry of CARTO's LDS answer: a value, or an error entry (no match, out of coverage).",
        "type": "object",
        "required": ["error", "value"],
        "properties": {"error": _NULLABLE_TEXT, "value": {}},
    },
    "LdsAnswer": {
        "description": "CARTO's LDS success body: an array of entries (one per request, one per batch address).",
        "type": "array",
        "items": ref("LdsEntry"),
    },
    "JobAccepted": {
        "description": "A request queued as a job (202; its URL in the Location header).",
        "type": "object",
        "required": ["jobId", "status"],
        "properties": {"jobId": {"type": "string"}, "status": {"type": "string"}},
    },
    "JobProgress": {
        "type": "object",
        "properties": {"done": {"type": "integer", "minimum": 0}, "total": {"type": "integer", "minimum": 0}},
    },
    "Job": {
        "description": "A batch job (geocoding batch, matrix rows): status, progress, timings; its first page of "
        "results once it succeeded.",
        "type": "object",
        "required": ["jobId", "kind", "status"],
        "properties": {
            "jobId": {"type": "string"},
            "kind": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "running", "success", "failure", "cancelled"]},
            "progress": ref("JobProgress"),
            "createdAt": _TIME,
            "startedAt": _TIME,
            "endedAt": _TIME,
            "elapsedSeconds": {"type": "number"},
            "runSeconds": {"type": ["number", "null"]},
            "dataVersion": _NULLABLE_TEXT,
            "error": _NULLABLE_TEXT,
            "pages": {"type": "integer"},
            "results": {"type": "array"},
            "next": _NULLABLE_TEXT,
        },
    },
    "Geometry": {
        "description": "A GeoJSON geometry (WGS 84 lon/lat).",
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {"type": {"type": "string"}, "coordinates": {"type": "array"}},
    },
    "Route": {
        "type": "object",
        "required": ["distance", "duration", "mode", "geom"],
        "properties": {
            "distance": {"type": "number", "minimum": 0, "description": "metres"},
            "duration": {"type": "number", "minimum": 0, "description": "seconds"},
            "mode": {"type": "string"},
            "geom": ref("Geometry"),
            "legs": {"type": "array"},
            "steps": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Isoline": {
        "type": "object",
        "required": ["range", "range_type", "mode", "geom"],
        "properties": {
            "range": {"type": "number"},
            "range_type": {"type": "string", "enum": list(RANGE_TYPES)},
            "mode": {"type": "string"},
            "geom": ref("Geometry"),
        },
    },
    "H3Isoline": {
        "type": "object",
        "required": ["range", "range_type", "mode", "resolution", "cells"],
        "properties": {
            "range": {"type": "number"},
            "range_type": {"type": "string", "enum": list(RANGE_TYPES)},
            "mode": {"type": "string"},
            "resolution": {"type": "integer", "minimum": 0, "maximum": 15},
            "cells": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["h3", "cost"],
                    "properties": {
                        "h3": {"type": "string", "pattern": "^[0-9a-f]{15}$"},
                        "cost": {"type": "number", "minimum": 0, "description": "seconds or metres to its centre"},
                    },
                },
            },
        },
    },
    "Matrix": {
        "type": "object",
        "required": ["mode", "origins", "destinations"],
        "properties": {
            "mode": {"type": "string"},
            "durations": {"type": "array", "items": {"type": "array", "items": {"type": ["number", "null"]}}},
            "distances": {"type": "array", "items": {"type": "array", "items": {"type": ["number", "null"]}}},
            "origins": {"type": "array", "items": {"type": "object"}},
            "destinations": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Candidate": {
        "type": "object",
        "required": ["latitude", "longitude", "formattedAddress", "matchType", "matchConfidence", "provider"],
        "properties": {
            "latitude": {"type": "number", "minimum": -90, "maximum": 90},
            "longitude": {"type": "number", "minimum": -180, "maximum": 180},
            "formattedAddress": {"type": "string"},
            "matchType": {"type": "string"},
            "matchConfidence": {"type": "number", "minimum": 0, "maximum": 1},
            "provider": {"type": "string"},
        },
    },
    "Object": {"description": "A JSON object (see the operation's description).", "type": "object"},
    "ObjectList": {"description": "A JSON array of objects.", "type": "array", "items": {"type": "object"}},
}


# --- answer-service parameters, by request name (lds.services declarations); settings give ranges and defaults --
def _point(desc: str) -> Callable[[Any], Schema]:
    return lambda s: {"type": "string", "description": desc}


def _points(most_setting: str) -> Callable[[Any], Schema]:
    def schema(s: Any) -> Schema:
        pair = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
        return {
            "oneOf": [
                {"type": "array", "items": pair, "minItems": 1, "maxItems": getattr(s, most_setting)},
                {"type": "string", "description": "lon,lat;lon,lat"},
            ],
            "description": f"[[lon, lat], ...] or lon,lat;lon,lat; at most {most_setting} ({getattr(s, most_setting)})",
        }

    return schema


def _ranges(s: Any) -> Schema:
    high = max(s.max_isoline_time_s, s.max_isoline_distance_m)
    return {
        "oneOf": [
            {"type": "string", "description": "comma-separated numbers"},
            {
                "type": "array",
                "items": {"type": "number", "minimum": 1, "maximum": high},
                "minItems": 1,
                "maxItems": s.max_ranges,
            },
        ],
        "description": f"at most max_ranges ({s.max_ranges}) ranges, each 1 to max_isoline_time_s "
        f"({s.max_isoline_time_s}) seconds or max_isoline_distance_m ({s.max_isoline_distance_m}) "
        "metres",
    }


def _addresses(s: Any) -> Schema:
    text = {"type": "string", "minLength": 1, "maxLength": s.geocode_max_query_chars}
    item = {
        "oneOf": [
            text,
            {"type": "object", "required": ["address"], "properties": {"address": text, "country": {"type": "string"}}},
        ]
    }
    return {
        "type": "array",
        "items": item,
        "minItems": 1,
        "maxItems": s.job_max_items,
        "description": f"more than batch_max_sync ({s.batch_max_sync}) addresses become a job (202), up to "
        f"job_max_items ({s.job_max_items})",
    }


PARAM_SCHEMAS: dict[str, Callable[[Any], Schema]] = {
    "origin": _point("lon,lat"),
    "destination": _point("lon,lat"),
    "waypoints": lambda s: {
        "type": "string",
        "description": f"lat,lon;lat,lon (at most max_waypoints: {s.max_waypoints})",
    },
    "mode": lambda s: {"type": "string", "default": "car"},  # enum: the modes built, added by the document
    "range_type": lambda s: {"type": "string", "enum": list(RANGE_TYPES), "default": "time"},
    "range": _ranges,
    "address": lambda s: {"type": "string", "minLength": 1, "maxLength": s.geocode_max_query_chars},
    "country": lambda s: {"type": "string", "pattern": "^[A-Za-z]{2}$"},
    "limit": lambda s: {
        "type": "integer",
        "minimum": 1,
        "maximum": s.geocode_max_limit,
        "default": s.geocode_default_limit,
    },
    "lat": lambda s: {"type": "number", "minimum": -90, "maximum": 90},
    "lon": lambda s: {"type": "number", "minimum": -180, "maximum": 180},
    "language": lambda s: {"type": "string", "examples": ["en"]},
    "origins": _points("matrix_max_origins"),
    "destinations": _points("matrix_max_destinations"),
    "annotations": lambda s: {
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string", "enum": ["duration", "distance"]}}],
        "description": "duration and/or distance",
    },
    "async": lambda s: {"type": "boolean", "default": False},
    "addresses": _addresses,
    "resolution": lambda s: {
        "type": "integer",
        "minimum": 0,
        "maximum": s.h3_isoline_max_resolution,
        "default": min(s.h3_isoline_resolution, s.h3_isoline_max_resolution),
    },
}

REQUIRED = frozenset({"origin", "destination", "range", "address", "lat", "lon", "origins", "addresses"})
"""Parameters without which an answer service answers 400."""

SERVICE_SUMMARIES: dict[str, str] = {
    "routing": "A route between two points (and waypoints), with its steps",
    "matrix": "Travel times and distances between origins and destinations",
    "isolines": "Areas reachable within times or distances of a point",
    "geocode": "Candidates for an address",
    "reverse": "The address at a point",
    "batch": "Geocode many addresses at once (a job above batch_max_sync)",
    "isolines_h3": "The H3 cells reachable within times or distances of a point, with their cost",
}


def examples_in(bbox: tuple[float, float, float, float] | list[float] | None) -> dict[str, Any]:
    """Example values of the answer-service parameters inside the loaded extract (``bbox``: west, south, east,
    north), so that "Try it out" in /docs and the fuzz test's explicit cases get real answers, not 422s."""
    if not bbox:
        return {}
    west, south, east, north = bbox
    lon, lat = round((west + east) / 2, 6), round((south + north) / 2, 6)
    lon2, lat2 = round(west + (east - west) * 0.3, 6), round(south + (north - south) * 0.3, 6)
    return {
        "origin": f"{lon},{lat}",
        "destination": f"{lon2},{lat2}",
        "lat": lat,
        "lon": lon,
        "range": "300,600",
        "origins": [[lon, lat], [lon2, lat2]],
        "range_type": "time",
        "mode": "car",
    }


ANSWER_ITEMS: dict[str, str] = {
    "routing": "Route",
    "matrix": "Matrix",
    "isolines": "Isoline",
    "isolines_h3": "H3Isoline",
    "geocode": "Candidate",
    "reverse": "Candidate",
    "batch": "Candidate",
}
"""Per answer service, the component its entries' ``value`` arrays hold (an error entry's value is empty)."""


def answer_schema(item: str | None) -> Schema:
    """CARTO's LDS answer whose entries' values are arrays of ``item`` (any value when None)."""
    if item is None:
        return ref("LdsAnswer")
    value = {"type": "array", "items": ref(item)}
    entry = {"type": "object", "required": ["error", "value"], "properties": {"error": _NULLABLE_TEXT, "value": value}}
    return {"type": "array", "minItems": 1, "items": entry}
