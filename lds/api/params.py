"""Request parameter parsing shared by every blueprint: one function per kind of value.

Each raises :class:`lds.errors.BadRequest` with a message naming the parameter, so clients learn
exactly what to fix. GET query parameters and a JSON POST body are treated alike (CARTO clients switch
to POST with the same fields when a URL grows long).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from flask import request

from lds.errors import BadRequest

_PAIR_SEPARATORS = re.compile(r"[;|]")


def request_params() -> dict[str, Any]:
    """Query parameters merged with a JSON object body (body wins); unknown keys are ignored later."""
    params: dict[str, Any] = request.args.to_dict()  # first value of each key
    if request.method in ("POST", "PUT", "PATCH") and request.content_length:
        body = request.get_json(silent=True)
        if body is None:
            raise BadRequest("request body is not valid JSON")
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        params.update(body)
    return params


def first(params: dict[str, Any], *names: str, required: bool = False) -> Any:
    """The value of the first of ``names`` present (aliases such as lat/latitude)."""
    for name in names:
        value = params.get(name)
        if value is not None and value != "":
            return value
    if required:
        raise BadRequest(f"missing parameter '{names[0]}'")
    return None


def number(name: str, value: Any, *, low: float | None = None, high: float | None = None) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"parameter '{name}' must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise BadRequest(f"parameter '{name}' must be a finite number")
    if low is not None and x < low or high is not None and x > high:
        raise BadRequest(f"parameter '{name}' must be between {low} and {high}, got {value}")
    return x


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    x = number(name, value, low=low, high=high)
    if x != int(x):
        raise BadRequest(f"parameter '{name}' must be a whole number, got {value!r}")
    return int(x)


def latitude(name: str, value: Any) -> float:
    return number(name, value, low=-90, high=90)


def longitude(name: str, value: Any) -> float:
    return number(name, value, low=-180, high=180)


def _pair(name: str, value: Any) -> tuple[Any, Any]:
    if isinstance(value, (list, tuple)):
        parts = list(value)
    elif isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    else:
        raise BadRequest(f"parameter '{name}' must be two comma-separated numbers")
    if len(parts) != 2:
        raise BadRequest(f"parameter '{name}' must be two comma-separated numbers, got {value!r}")
    return parts[0], parts[1]


def lonlat(name: str, value: Any) -> tuple[float, float]:
    """A ``"lon,lat"`` point (CARTO's order for origin/destination)."""
    if value is None or value == "":
        raise BadRequest(f"missing parameter '{name}' (expected 'lon,lat')")
    lon, lat = _pair(name, value)
    return longitude(f"{name} longitude", lon), latitude(f"{name} latitude", lat)


def latlon_list(name: str, value: Any, *, most: int | None = None) -> list[tuple[float, float]]:
    """``"lat,lon;lat,lon"`` (or ``|``-separated, or a JSON list of pairs), returned as (lon, lat).

    ``most`` refuses longer lists here, before the quota is charged (the core checks it again).
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items: Iterable[Any] = [p for p in _PAIR_SEPARATORS.split(value) if p.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise BadRequest(f"parameter '{name}' must be 'lat,lon' pairs separated by ';' or '|'")
    items = list(items)
    if most is not None and len(items) > most:
        raise BadRequest(f"too many {name}: {len(items)} (max_{name} is {most})")
    points = []
    for i, item in enumerate(items):
        lat, lon = _pair(f"{name}[{i}]", item)
        points.append((longitude(f"{name}[{i}] longitude", lon), latitude(f"{name}[{i}] latitude", lat)))
    return points


def choice(name: str, value: Any, options: Iterable[str], default: str | None = None) -> str:
    options = tuple(options)
    if value is None or value == "":
        if default is None:
            raise BadRequest(f"missing parameter '{name}' (one of: {', '.join(options)})")
        return default
    text = str(value).strip().lower()
    if text not in options:
        raise BadRequest(f"parameter '{name}' must be one of: {', '.join(options)}; got {value!r}")
    return text


def number_list(name: str, value: Any, *, low: float, high: float, most: int) -> list[float]:
    """``"300,600"`` or a JSON list; each value checked, at most ``most`` of them."""
    if value is None or value == "":
        raise BadRequest(f"missing parameter '{name}'")
    items = value if isinstance(value, list) else [p for p in str(value).replace(";", ",").split(",") if p.strip()]
    if not items:
        raise BadRequest(f"missing parameter '{name}'")
    if len(items) > most:
        raise BadRequest(f"too many values in '{name}': {len(items)} (max {most})")
    return [number(name, v, low=low, high=high) for v in items]


def boolean(name: str, value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise BadRequest(f"parameter '{name}' must be true or false, got {value!r}")
