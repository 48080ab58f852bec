"""Validation of geocoding inputs, in the core so the API, CLI, batch items and jobs reject alike."""

from __future__ import annotations

import math
from typing import Any

from lds.errors import BadRequest
from lds.settings import Settings


def address(value: Any, max_chars: int) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadRequest("missing parameter 'address'")
    if not isinstance(value, str):
        raise BadRequest(f"'address' must be a string, got {type(value).__name__}")
    text = value.strip()
    if len(text) > max_chars:
        raise BadRequest(f"'address' is too long: {len(text)} characters (geocode_max_query_chars is {max_chars})")
    return text


def country(value: Any) -> str | None:
    """ISO 3166-1 alpha-2, any case; None or "" means no restriction."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value.strip()) != 2 or not value.strip().isalpha() or not value.strip().isascii():
        raise BadRequest(f"'country' must be an ISO 3166-1 alpha-2 code such as 'DK', got {value!r}")
    return value.strip().upper()


def limit(value: Any, settings: Settings) -> int:
    if value is None or value == "":
        return settings.geocode_default_limit
    if isinstance(value, bool):
        raise BadRequest(f"'limit' must be a whole number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"'limit' must be a whole number, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise BadRequest(f"'limit' must be a whole number, got {value!r}")
    n = int(number)
    if not 1 <= n <= settings.geocode_max_limit:
        raise BadRequest(f"'limit' must be between 1 and {settings.geocode_max_limit} (geocode_max_limit), got {n}")
    return n


def coordinate(name: str, value: Any, bound: float) -> float:
    if isinstance(value, bool):
        raise BadRequest(f"'{name}' must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"'{name}' must be a number, got {value!r}") from None
    if not math.isfinite(x) or not -bound <= x <= bound:
        raise BadRequest(f"'{name}' must be between {-bound:g} and {bound:g}, got {value!r}")
    return x
