"""Warehouse values -> CARTO's schema type names and JSON-ready Python values.

CARTO's clients know the field types ``number, bigint, string, boolean, timestamp, geometry, object, unknown``
(carto_api.md §2.3); geometries travel in ``rows`` as GeoJSON strings. Conversions run per column over a
whole batch, so a column that needs none (numbers, strings) costs nothing and geometries are converted by
shapely's vectorised WKB reader in one call.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

CARTO_TYPES = ("number", "bigint", "string", "boolean", "timestamp", "geometry", "object", "unknown")

Converter = Callable[[Sequence[Any]], list[Any]]


@dataclass(frozen=True)
class Column:
    """One result or table column: its name, CARTO type and the warehouse's own type name."""

    name: str
    type: str
    native: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


def jsonable(value: Any) -> Any:
    """A nested warehouse value (struct, list, map) as plain JSON types."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (uuid.UUID, dt.timedelta)):
        return str(value)
    return str(value)


def geojson(values: Sequence[Any]) -> list[Any]:
    """WKB (bytes) or hex (E)WKB (PostGIS text output) values as GeoJSON strings; NULL stays None."""
    geoms = shapely.from_wkb(np.asarray(values, dtype=object), on_invalid="ignore")
    return shapely.to_geojson(geoms).tolist()


def _each(fn: Callable[[Any], Any]) -> Converter:
    return lambda values: [None if v is None else fn(v) for v in values]


def _parse_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else jsonable(value)


def _iso(value: Any) -> str:
    return value.isoformat()


TO_FLOAT = _each(float)
TO_STR = _each(str)
TO_ISO = _each(_iso)
TO_JSON = _each(jsonable)
FROM_JSON_TEXT = _each(_parse_json)
TO_HEX = _each(lambda v: bytes(v).hex())


def convert_rows(rows: list[tuple], converters: Sequence[Converter | None]) -> list[tuple]:
    """``rows`` with each column that has a converter converted, column-wise."""
    if not rows or not any(converters):
        return rows
    columns = list(zip(*rows))
    for i, conv in enumerate(converters):
        if conv is not None:
            columns[i] = conv(columns[i])
    return list(zip(*columns))
