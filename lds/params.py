"""Validators of every input the services take, shared by the HTTP layer, the CLI, batch items and the core.

One function per kind of value; each returns the clean value or raises :class:`lds.errors.BadRequest` with a
message naming the parameter (``parameter 'range' must be between 1 and 3600 (max_isoline_time_s), got
99999``), so clients learn exactly what to fix and every caller words a refusal alike. Values come as
query-string text, JSON values or Python values from an embedding program: all are accepted when they mean
the same thing (``"300,600"``, ``[300, 600]``). No Flask here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from lds.errors import BadRequest

_PAIR_SEPARATORS = re.compile(r"[;|]")
_SHOWN_CHARS = 60  # a refused value is echoed back at most this long


def _shown(value: Any) -> str:
    """A refused value as a client sent it, cut short (text unquoted: the API and the core word it alike)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _limit_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def missing(value: Any) -> bool:
    """Absent, or given empty (``?limit=``): both mean "use the default"."""
    return value is None or (type(value) is str and not value)


def first(params: dict[str, Any], *names: str, required: bool = False) -> Any:
    """The value of the first of ``names`` present (aliases such as lat/latitude)."""
    for name in names:
        value = params.get(name)
        if not missing(value):
            return value
    if required:
        raise BadRequest(f"missing parameter '{names[0]}'")
    return None


def number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
           setting: str | None = None) -> float:
    """A finite number within [low, high]; ``setting`` names the limit a client may ask an operator about."""
    if isinstance(value, bool):
        raise BadRequest(f"parameter '{name}' must be a number, got {_shown(value)}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"parameter '{name}' must be a number, got {_shown(value)}") from None
    if not math.isfinite(x):
        raise BadRequest(f"parameter '{name}' must be a finite number, got {_shown(value)}")
    if (low is not None and x < low) or (high is not None and x > high):
        if low is None or high is None:
            bound = f"at least {_limit_text(low)}" if high is None else f"at most {_limit_text(high)}"
        else:
            bound = f"between {_limit_text(low)} and {_limit_text(high)}"
        where = f" ({setting})" if setting else ""
        raise BadRequest(f"parameter '{name}' must be {bound}{where}, got {_limit_text(x)}")
    return x


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None,
            setting: str | None = None) -> int:
    x = number(name, value, low=low, high=high, setting=setting)
    if x != int(x):
        raise BadRequest(f"parameter '{name}' must be a whole number, got {_shown(value)}")
    return int(x)


def latitude(name: str, value: Any) -> float:
    return number(name, value, low=-90, high=90)


def longitude(name: str, value: Any) -> float:
    return number(name, value, low=-180, high=180)


def _pair(name: str, value: Any) -> tuple[Any, Any]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, (list, tuple)) or (hasattr(value, "__iter__") and not isinstance(value, (bytes, dict))):
        parts = list(value)  # a JSON array, a tuple, a numpy row
    else:
        raise BadRequest(f"parameter '{name}' must be two comma-separated numbers")
    if len(parts) != 2:
        raise BadRequest(f"parameter '{name}' must be two comma-separated numbers, got {_shown(value)}")
    return parts[0], parts[1]


def lonlat(name: str, value: Any) -> tuple[float, float]:
    """A ``"lon,lat"`` point (CARTO's order for origin/destination), or a (lon, lat) pair."""
    if type(value) is tuple and len(value) == 2:  # already checked (the API's own output, on its way to the core)
        lon, lat = value
        if type(lon) is float and type(lat) is float and -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0:
            return value
    if missing(value):
        raise BadRequest(f"missing parameter '{name}' (expected 'lon,lat')")
    lon, lat = _pair(name, value)
    return longitude(f"{name} longitude", lon), latitude(f"{name} latitude", lat)


def too_many(name: str, count: int, most: int) -> BadRequest:
    return BadRequest(f"too many {name}: {count} (max_{name} is {most})")


def latlon_list(name: str, value: Any, *, most: int | None = None) -> list[tuple[float, float]]:
    """``"lat,lon;lat,lon"`` (or ``|``-separated, or a JSON list of [lat, lon] pairs), returned as (lon, lat)."""
    if missing(value):
        return []
    if isinstance(value, str):
        items: list[Any] = [p for p in _PAIR_SEPARATORS.split(value) if p.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise BadRequest(f"parameter '{name}' must be 'lat,lon' pairs separated by ';' or '|'")
    if most is not None and len(items) > most:
        raise too_many(name, len(items), most)
    points = []
    for i, item in enumerate(items):
        lat, lon = _pair(f"{name}[{i}]", item)
        points.append((longitude(f"{name}[{i}] longitude", lon), latitude(f"{name}[{i}] latitude", lat)))
    return points


def lonlat_list(name: str, points: Iterable[Any], *, most: int) -> list[tuple[float, float]]:
    """(lon, lat) pairs as an embedding program passes them (any iterable), at most ``most`` of them."""
    if isinstance(points, (str, bytes, dict)):
        raise BadRequest(f"parameter '{name}' must be a list of (lon, lat) pairs")
    try:
        items = list(points)
    except TypeError:
        raise BadRequest(f"parameter '{name}' must be a list of (lon, lat) pairs") from None
    if len(items) > most:
        raise too_many(name, len(items), most)
    return [lonlat(f"{name}[{i}]", p) for i, p in enumerate(items)]


def choice(name: str, value: Any, options: Iterable[str], default: str | None = None) -> str:
    options = tuple(options)
    if missing(value):
        if default is None:
            raise BadRequest(f"missing parameter '{name}' (one of: {', '.join(options)})")
        return default
    text = str(value).strip().lower()
    if text not in options:
        raise BadRequest(f"parameter '{name}' must be one of: {', '.join(options)}; got {_shown(value)}")
    return text


def number_list(name: str, value: Any, *, low: float, high: float, most: int, setting: str | None = None) -> list[float]:
    """``"300,600"`` or a list; each value checked, at most ``most`` of them."""
    if missing(value):
        raise BadRequest(f"missing parameter '{name}'")
    if isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [p for p in str(value).replace(";", ",").split(",") if p.strip()]
    if not items:
        raise BadRequest(f"missing parameter '{name}'")
    if len(items) > most:
        raise BadRequest(f"too many values in '{name}': {len(items)} (max {most})")
    return [number(name, v, low=low, high=high, setting=setting) for v in items]


def boolean(name: str, value: Any, default: bool = False) -> bool:
    if missing(value):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise BadRequest(f"parameter '{name}' must be true or false, got {_shown(value)}")


def text(name: str, value: Any, *, max_chars: int, setting: str) -> str:
    """Required free text, trimmed, at most ``max_chars`` characters."""
    if missing(value) or (isinstance(value, str) and not value.strip()):
        raise BadRequest(f"missing parameter '{name}'")
    if not isinstance(value, str):
        raise BadRequest(f"parameter '{name}' must be a string, got {type(value).__name__}")
    stripped = value.strip()
    if len(stripped) > max_chars:
        raise BadRequest(f"parameter '{name}' is too long: {len(stripped)} characters ({setting} is {max_chars})")
    return stripped


def country(name: str, value: Any) -> str | None:
    """ISO 3166-1 alpha-2, any case; absent or empty means no restriction."""
    if missing(value):
        return None
    code = value.strip() if isinstance(value, str) else ""
    if len(code) != 2 or not code.isalpha() or not code.isascii():
        raise BadRequest(f"parameter '{name}' must be an ISO 3166-1 alpha-2 code such as 'DK', got {_shown(value)}")
    return code.upper()


def language(name: str, value: Any) -> str | None:
    """A language tag such as ``en`` or ``en-US``; absent or empty means the data's own names."""
    if missing(value):
        return None
    if not isinstance(value, str):
        raise BadRequest(f"parameter '{name}' must be a string such as 'en' or 'en-US'")
    return value


# --- the limits of each service, read from Settings (the registry's sanitisers and the core use these) ----------
def geocode_address(value: Any, settings: Any) -> str:
    return text("address", value, max_chars=settings.geocode_max_query_chars, setting="geocode_max_query_chars")


def geocode_limit(value: Any, settings: Any) -> int:
    if missing(value):
        return settings.geocode_default_limit
    return integer("limit", value, low=1, high=settings.geocode_max_limit, setting="geocode_max_limit")


def isoline_ranges(value: Any, range_type: str, settings: Any) -> list[float]:
    if range_type == "time":
        high, setting = settings.max_isoline_time_s, "max_isoline_time_s"
    else:
        high, setting = settings.max_isoline_distance_m, "max_isoline_distance_m"
    return number_list("range", value, low=1, high=high, most=settings.max_ranges, setting=setting)


def h3_resolution(value: Any, settings: Any) -> int:
    """An H3 resolution from 0 to ``h3_isoline_max_resolution`` (default ``h3_isoline_resolution``)."""
    if missing(value):
        return min(settings.h3_isoline_resolution, settings.h3_isoline_max_resolution)
    return integer("resolution", value, low=0, high=settings.h3_isoline_max_resolution,
                   setting="h3_isoline_max_resolution")


RANGE_TYPES = ("time", "distance")


def range_type(value: Any) -> str:
    return choice("range_type", value, RANGE_TYPES, default="time")
