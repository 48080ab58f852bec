"""The answer columns of one pandas partition, from this worker's core: geocode, reverse, route.

Each function keeps the partition's rows, index and columns and appends its own columns (named with an
optional prefix). A bad row (empty address, coordinate out of range or out of the data, no match) gets its
message in ``error`` and nulls elsewhere; it never fails the partition. Geocoding goes through
:meth:`lds.core.LDS.geocode_batch` (the batch endpoint's code: repeated addresses answered once).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from lds.build.geoparquet import point_wkb
from lds.dask.worker import core_for
from lds.errors import LdsError

TEXT = pd.ArrowDtype(pa.string())
WKB = pd.ArrowDtype(pa.binary())
FLOAT = np.dtype("float64")

GEOCODE_COLUMNS: dict[str, Any] = {
    "latitude": FLOAT,
    "longitude": FLOAT,
    "geom": WKB,
    "formatted_address": TEXT,
    "match_type": TEXT,
    "match_confidence": FLOAT,
    "error": TEXT,
}
REVERSE_COLUMNS: dict[str, Any] = {
    "formatted_address": TEXT,
    "street_name": TEXT,
    "street_number": TEXT,
    "postal_code": TEXT,
    "city": TEXT,
    "country_code": TEXT,
    "match_type": TEXT,
    "match_confidence": FLOAT,
    "distance": FLOAT,
    "geom": WKB,
    "error": TEXT,
}
ROUTE_COLUMNS: dict[str, Any] = {"distance": FLOAT, "duration": FLOAT, "geom": WKB, "error": TEXT}
GEOMETRY_TYPES = {"geocode": ["Point"], "reverse": ["Point"], "route": ["LineString"]}

# candidate key -> output column, shared by geocode and reverse
_CANDIDATE_TEXT = {
    "formattedAddress": "formatted_address",
    "streetName": "street_name",
    "streetNumber": "street_number",
    "postalCode": "postal_code",
    "city": "city",
    "countryCode": "country_code",
    "matchType": "match_type",
}


def _text(value: Any) -> str:
    """A cell as the text to geocode: nulls become '' (answered "missing parameter 'address'")."""
    if isinstance(value, str):
        return value
    missing = pd.isna(value)  # an array for list cells, which are text like any other value
    return "" if isinstance(missing, (bool, np.bool_)) and missing else str(value)


def _points(lon: list[float], lat: list[float]) -> pa.Array:
    """WKB points, null where the coordinate is NaN (no answer)."""
    x, y = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    return pc.if_else(pa.array(~np.isnan(x)), point_wkb(x, y), pa.nulls(len(x), pa.binary()))


def _append(pdf: pd.DataFrame, columns: dict[str, Any], values: dict[str, Any], prefix: str) -> pd.DataFrame:
    """``pdf`` with ``values`` appended as ``columns`` (in that order and with those dtypes), index kept."""
    out = pdf.copy(deep=False)
    for name, dtype in columns.items():
        data = values[name]
        if isinstance(dtype, pd.ArrowDtype):
            array = data if isinstance(data, pa.Array) else pa.array(data, dtype.pyarrow_dtype)
            out[prefix + name] = pd.Series(pd.arrays.ArrowExtensionArray(array), index=pdf.index)
        else:
            out[prefix + name] = pd.Series(np.asarray(data, dtype=dtype), index=pdf.index)
    return out


def geocode_partition(
    pdf: pd.DataFrame,
    data_dir: str,
    address_column: str,
    country_column: str | None = None,
    country: str | None = None,
    prefix: str = "",
) -> pd.DataFrame:
    """The best candidate of every row's address (per-row country from ``country_column``, else ``country``)."""
    texts = [_text(a) for a in pdf[address_column].tolist()]
    items: list[Any] = texts
    if country_column is not None:
        codes = [c if isinstance(c, str) and c else None for c in pdf[country_column].tolist()]
        items = [{"address": t, "country": c} if c is not None else t for t, c in zip(texts, codes, strict=True)]
    entries = core_for(data_dir).geocode_batch(items, country=country, limit=1) if items else []
    n = len(entries)
    values: dict[str, list] = {name: [None] * n for name in GEOCODE_COLUMNS}
    for name in ("latitude", "longitude", "match_confidence"):
        values[name] = [np.nan] * n
    for i, entry in enumerate(entries):
        if entry["error"] is not None:
            values["error"][i] = entry["error"]
            continue
        best = entry["value"][0]
        values["latitude"][i], values["longitude"][i] = best["latitude"], best["longitude"]
        values["formatted_address"][i], values["match_type"][i] = best.get("formattedAddress"), best.get("matchType")
        values["match_confidence"][i] = best.get("matchConfidence", np.nan)
    values["geom"] = _points(values["longitude"], values["latitude"])
    return _append(pdf, GEOCODE_COLUMNS, values, prefix)


def reverse_partition(
    pdf: pd.DataFrame, data_dir: str, lat_column: str, lon_column: str, language: str | None = None, prefix: str = ""
) -> pd.DataFrame:
    """The nearest address (else street, else place) of every row's coordinate."""
    core = core_for(data_dir)
    n = len(pdf)
    values: dict[str, list] = {name: [None] * n for name in REVERSE_COLUMNS}
    lat, lon = [np.nan] * n, [np.nan] * n
    values["match_confidence"], values["distance"] = [np.nan] * n, [np.nan] * n
    for i, (y, x) in enumerate(zip(pdf[lat_column].tolist(), pdf[lon_column].tolist(), strict=True)):
        try:
            found = core.reverse(y, x, language)
        except LdsError as exc:
            values["error"][i] = exc.message
            continue
        if not found:
            values["error"][i] = "No results found"
            continue
        best = found[0]
        for key, name in _CANDIDATE_TEXT.items():
            values[name][i] = best.get(key)
        values["match_confidence"][i], values["distance"][i] = best.get("matchConfidence"), best.get("distance")
        lat[i], lon[i] = best["latitude"], best["longitude"]
    values["geom"] = _points(lon, lat)
    return _append(pdf, REVERSE_COLUMNS, values, prefix)


def lonlat_value(value: Any) -> Any:
    """A routing cell as the core reads it: 'lon,lat' text as is, a WKB point or [lon, lat] as a pair."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            point = shapely.from_wkb(bytes(value))
        except shapely.errors.GEOSException:
            raise LdsError("not a WKB point") from None
        if point is None or point.geom_type != "Point" or point.is_empty:
            raise LdsError("not a WKB point")
        return float(point.x), float(point.y)
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(value) if len(value) == 2 else value
    return value


def route_partition(
    pdf: pd.DataFrame, data_dir: str, origin_column: str, destination_column: str, mode: str = "car", prefix: str = ""
) -> pd.DataFrame:
    """The fastest route of every row, origin to destination: metres, seconds and the line."""
    core = core_for(data_dir)
    n = len(pdf)
    values: dict[str, list] = {"distance": [np.nan] * n, "duration": [np.nan] * n, "error": [None] * n}
    lines = np.full(n, None, dtype=object)
    pairs = zip(pdf[origin_column].tolist(), pdf[destination_column].tolist(), strict=True)
    for i, (origin, destination) in enumerate(pairs):
        try:
            route = core.route(lonlat_value(origin), lonlat_value(destination), mode=mode)
        except LdsError as exc:
            values["error"][i] = exc.message
            continue
        values["distance"][i], values["duration"][i] = route["distance"], route["duration"]
        lines[i] = shapely.linestrings(route["geom"]["coordinates"])
    values["geom"] = pa.array(shapely.to_wkb(lines, byte_order=1), pa.binary())
    return _append(pdf, ROUTE_COLUMNS, values, prefix)
