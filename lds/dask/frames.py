"""dask.dataframe API: the answer columns appended to every partition, lazily, row order and index kept.

``geocode_dataframe(ddf, "address", data_dir=...)`` returns a new dask DataFrame; computing it on a
``distributed`` cluster answers each partition in a worker from that worker's core (load it ahead with
:func:`lds.dask.register_core`). Columns the answer would add must not exist yet: pass ``prefix`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dask.dataframe as dd
import pandas as pd

from lds import params as v
from lds.dask import partitions as parts
from lds.dask.worker import resolve_data_dir
from lds.dataset import MODES
from lds.errors import BadRequest


def _meta(ddf: dd.DataFrame, columns: dict[str, Any], prefix: str, inputs: list[str]) -> pd.DataFrame:
    """The result's empty frame, after checking that ``inputs`` exist and the new columns do not."""
    missing = [c for c in inputs if c not in ddf.columns]
    if missing:
        raise BadRequest(
            f"no column {', '.join(map(repr, missing))} in the table (columns: {', '.join(map(str, ddf.columns))})"
        )
    taken = [prefix + c for c in columns if prefix + c in ddf.columns]
    if taken:
        raise BadRequest(f"the table already has column(s) {', '.join(taken)}: choose a prefix for the answer columns")
    meta = ddf._meta.copy()
    for name, dtype in columns.items():
        meta[prefix + name] = pd.Series([], dtype=dtype, index=meta.index)
    return meta


def _answered(
    ddf: dd.DataFrame,
    fn: Callable,
    columns: dict[str, Any],
    inputs: Sequence[str],
    data_dir: str | Path | None,
    args: tuple,
    prefix: str,
) -> dd.DataFrame:
    """``fn(partition, data_dir, *args, prefix)`` over every partition of ``ddf`` (checked first)."""
    meta = _meta(ddf, columns, prefix, list(inputs))
    return ddf.map_partitions(fn, resolve_data_dir(data_dir), *args, prefix, meta=meta, align_dataframes=False)


def geocode_dataframe(
    ddf: dd.DataFrame,
    address_column: str,
    *,
    data_dir: str | Path | None = None,
    country_column: str | None = None,
    country: str | None = None,
    prefix: str = "",
) -> dd.DataFrame:
    """``ddf`` with latitude, longitude, geom (WKB point), formatted_address, match_type, match_confidence and
    error: the best candidate of each row's address, as the batch geocoding endpoint answers it."""
    code = v.country("country", country)
    inputs = [address_column] + ([country_column] if country_column else [])
    args = (address_column, country_column, code)
    return _answered(ddf, parts.geocode_partition, parts.GEOCODE_COLUMNS, inputs, data_dir, args, prefix)


def reverse_dataframe(
    ddf: dd.DataFrame,
    lat_column: str,
    lon_column: str,
    *,
    data_dir: str | Path | None = None,
    language: str | None = None,
    prefix: str = "",
) -> dd.DataFrame:
    """``ddf`` with the nearest address of each row's coordinate: formatted_address, its parts, match_type,
    match_confidence, distance (m), geom (the address point) and error."""
    args = (lat_column, lon_column, v.language("language", language))
    return _answered(ddf, parts.reverse_partition, parts.REVERSE_COLUMNS, args[:2], data_dir, args, prefix)


def route_dataframe(
    ddf: dd.DataFrame,
    origin_column: str,
    destination_column: str,
    *,
    data_dir: str | Path | None = None,
    mode: str = "car",
    prefix: str = "",
) -> dd.DataFrame:
    """``ddf`` with distance (m), duration (s), geom (WKB LineString) and error of the fastest route between each
    row's origin and destination ('lon,lat' text, [lon, lat] pairs or WKB points)."""
    args = (origin_column, destination_column, v.choice("mode", mode, MODES))
    return _answered(ddf, parts.route_partition, parts.ROUTE_COLUMNS, args[:2], data_dir, args, prefix)
