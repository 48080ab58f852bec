"""Geocoding on import: ``geom`` from an address column, through the core's batch geocoder (best candidate).

Each record batch is charged to the caller's geocoding quota first (one unit per row, as a batch request
would be), then geocoded with :meth:`lds.core.LDS.geocode_batch` (repeated addresses answered once); the
match type and confidence land in ``geocode_match_type`` and ``geocode_confidence``. Empty addresses and
addresses without a match get a NULL ``geom``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from lds.errors import BadRequest
from lds.imports.stage import Geocoder


def parse_geocode(value: Any) -> str | None:
    """The address column of a request's ``geocode`` option (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"address_column"}:
        raise BadRequest('\'geocode\' must be an object {"address_column": "<column with the addresses>"}')
    column = value.get("address_column")
    if not isinstance(column, str) or not column.strip() or len(column) > 255:
        raise BadRequest("geocode.address_column must name a column of the file")
    return column


def make_geocoder(lds: Any, charge: Callable[[int], None], country: str | None = None) -> Geocoder:
    """A :data:`~lds.imports.stage.Geocoder` over the loaded core ``lds``, charging ``charge(rows)`` per batch."""
    if getattr(lds, "geocoder", None) is None:
        raise BadRequest("geocoding on import needs the address index, and this installation has none")

    def geocode(values: list) -> tuple[pa.Array, pa.Array, pa.Array]:
        charge(len(values))
        items = [v.strip() if isinstance(v, str) and v.strip() else None for v in values]
        wanted = [i for i, v in enumerate(items) if v is not None]
        entries = lds.geocode_batch([items[i] for i in wanted], country=country, limit=1) if wanted else []
        match: list[str | None] = [None] * len(items)
        confidence: list[float | None] = [None] * len(items)
        found, lon, lat = [], [], []
        for i, entry in zip(wanted, entries, strict=True):
            if entry.get("error") is None and entry.get("value"):
                best = entry["value"][0]
                found.append(i)
                lon.append(best["longitude"])
                lat.append(best["latitude"])
                match[i], confidence[i] = best.get("matchType"), best.get("matchConfidence")
        geoms = np.full(len(items), None, dtype=object)
        if found:
            geoms[found] = shapely.points(lon, lat)
        wkb = shapely.to_wkb(geoms)
        return (pa.array(wkb, pa.binary()), pa.array(match, pa.string()), pa.array(confidence, pa.float64()))

    return geocode
