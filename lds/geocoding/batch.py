"""Batch geocoding: many queries, one ``{"error", "value"}`` entry each, in input order.

An item is a string or ``{"address": ..., "country": ..., "limit": ...}``; top-level ``country`` and
``limit`` are defaults. A bad or unmatched item gets its own error and never fails the batch. Repeated
queries in one batch are answered once (tables to geocode repeat addresses often).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lds.errors import LdsError

NO_RESULT = "No results found"

GeocodeFn = Callable[[str, "str | None", "int | None"], list[dict]]


def item_query(item: Any, country: str | None, limit: int | None) -> tuple[Any, Any, Any]:
    """(address, country, limit) of one batch item, item values over batch defaults (unchecked types)."""
    if isinstance(item, str):
        return item, country, limit
    if isinstance(item, dict):
        unknown = set(item) - {"address", "country", "limit"}
        if unknown:
            raise LdsError(f"unknown field(s) {', '.join(sorted(unknown))} (expected address, country, limit)")
        return item.get("address"), item.get("country", country), item.get("limit", limit)
    raise LdsError(f"an item must be a string or an object with 'address', got {type(item).__name__}")


def geocode_batch(geocode: GeocodeFn, items: list, country: Any = None, limit: Any = None) -> list[dict]:
    """Run ``geocode(address, country, limit)`` per item; errors stay in their entry."""
    out: list[dict] = []
    memo: dict[tuple, dict] = {}
    for item in items:
        try:
            address, c, lim = item_query(item, country, limit)
            key = (address, c, lim) if isinstance(address, str) and isinstance(c, (str, type(None))) and isinstance(lim, (int, type(None))) else None
            if key is not None and key in memo:
                out.append(memo[key])
                continue
            value = geocode(address, c, lim)
            entry = {"error": None, "value": value} if value else {"error": NO_RESULT, "value": []}
            if key is not None:
                memo[key] = entry
            out.append(entry)
        except LdsError as exc:
            out.append({"error": exc.message, "value": []})
    return out
