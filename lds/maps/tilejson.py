"""The two answers before tiles: the instantiation (``nrows``, ``size``, ``schema``) and the TileJSON
(bounds, center, ``vector_layers``, ``tilestats``), both computed in the warehouse over the filtered source.

URLs are not made here: they depend on where the service is reached, so the HTTP layer adds them to these
host-free answers (which is also what makes them safe to cache). ``cache_buster`` is the integer CARTO's
clients read from the data URL's ``cache`` parameter: it changes whenever the warehouse's data does.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

from lds.maps.layout import Layout
from lds.maps.source import Binder, Source, quote_ident
from lds.maps.tiles import LAYER, MAX_LAT

MAX_CATEGORY_COLUMNS = 20  # string/boolean attributes given categories in tilestats
TOP_CATEGORIES = 10
GEOMETRY_TYPES = (("POINT", "Point"), ("LINE", "LineString"), ("POLYGON", "Polygon"))

Where = Callable[[Binder], str | None] | None


def cache_buster(source: Source, version: str, *extra: Any) -> int:
    """A 48-bit integer naming the source's current data (JSON numbers stay exact below 2**53)."""
    return int(hashlib.sha256(source.identity("cache", version, *extra).encode()).hexdigest()[:12], 16)


def _from_where(source: Source, where: Where) -> tuple[str, Any]:
    bind = source.binder()
    condition = where(bind) if where is not None else None
    return f"FROM {source.from_sql()}" + (f" WHERE {condition}" if condition else ""), bind.params


def _one_row(source: Source, sql: str, params: Any, timeout_s: float | None) -> tuple:
    with source.run(sql, params, timeout_s=timeout_s) as q:
        rows = list(q.rows())
    return rows[0] if rows else ()


def instantiation(source: Source, layout: Layout, *, where: Where, timeout_s: float | None) -> dict[str, Any]:
    """``nrows`` (after filters), ``size`` (an estimate of the bytes those rows hold) and the ``schema``."""
    tail, params = _from_where(source, where)
    geom = layout.geometry
    if source.dialect == "duckdb":
        size = f"coalesce(sum(octet_length(ST_AsWKB({geom}))), 0) + count(*) * {8 * len(layout.props)}"
    else:
        size = f"coalesce(sum(pg_column_size({quote_ident('_lds_src')}.*)), 0)"
    nrows, nbytes = _one_row(source, f"SELECT count(*), {size} {tail}", params, timeout_s)
    return {
        "nrows": int(nrows or 0),
        "size": int(nbytes or 0),
        "schema": [{"name": n, "type": t} for n, t in layout.schema],
    }


def _geometry_type(native: str | None) -> str | None:
    text = (native or "").upper()
    for key, name in GEOMETRY_TYPES:
        if key in text:
            return name
    return None


def tilejson(
    source: Source, layout: Layout, *, where: Where, timeout_s: float | None, max_zoom: int, resolution: float
) -> dict[str, Any]:
    """The TileJSON without its ``tiles`` URLs: bounds and center of the filtered rows, fields and tilestats."""
    tail, params = _from_where(source, where)
    g = layout.geometry
    gtype = f"any_value(ST_GeometryType({g}))" if source.dialect == "duckdb" else f"min(GeometryType({g}))"
    numeric = [p for p in layout.props if p.field_type == "Number"]
    aggs = [
        f"count({g})",
        f"min(ST_XMin({g}))",
        f"min(ST_YMin({g}))",
        f"max(ST_XMax({g}))",
        f"max(ST_YMax({g}))",
        gtype,
    ]
    for p in numeric:
        aggs += [f"min({p.sql})", f"max({p.sql})", f"sum({p.sql})"]
    row = _one_row(source, f"SELECT {', '.join(aggs)} {tail}", params, timeout_s)
    count, xmin, ymin, xmax, ymax, native_type = row[:6]
    stats = {p.name: row[6 + 3 * i : 9 + 3 * i] for i, p in enumerate(numeric)}
    if count:
        bounds = [
            max(-180.0, float(xmin)),
            max(-MAX_LAT, float(ymin)),
            min(180.0, float(xmax)),
            min(MAX_LAT, float(ymax)),
        ]
    else:
        bounds = [-180.0, -MAX_LAT, 180.0, MAX_LAT]
    center = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, _fit_zoom(bounds, max_zoom)]
    attributes = []
    categorical = 0
    for p in layout.props:
        attr: dict[str, Any] = {"attribute": p.name, "type": p.field_type}
        if p.name in stats:
            lo, hi, total = stats[p.name]
            attr.update({"min": _num(lo), "max": _num(hi), "sum": _num(total)})
        elif categorical < MAX_CATEGORY_COLUMNS:
            categorical += 1
            attr["categories"] = _categories(source, p.sql, where, timeout_s)
        attributes.append(attr)
    geometry = _geometry_type(native_type)
    layer: dict[str, Any] = {
        "id": LAYER,
        "minzoom": 0,
        "maxzoom": max_zoom,
        "fields": {p.name: p.field_type for p in layout.props},
    }
    if geometry:
        layer["geometry_type"] = geometry
    stats_layer: dict[str, Any] = {
        "layer": LAYER,
        "count": int(count or 0),
        "attributeCount": len(attributes),
        "attributes": attributes,
    }
    if geometry:
        stats_layer["geometry"] = geometry
    return {
        **tilejson_head(max_zoom),
        "bounds": bounds,
        "center": center,
        "vector_layers": [layer],
        "tilestats": {"layerCount": 1, "layers": [stats_layer]},
        "minresolution": 0,
        "maxresolution": max_zoom,
        "properties_tiles": [],
        "tileResolution": resolution,
    }


def tilejson_head(max_zoom: int) -> dict[str, Any]:
    """The members every TileJSON of a Maps API source (vector or spatial-index, one layer) starts with."""
    return {
        "tilejson": "2.2.0",
        "version": "1.0.0",
        "scheme": "xyz",
        "name": LAYER,
        "description": "",
        "attribution": "",
        "minzoom": 0,
        "maxzoom": max_zoom,
    }


def _categories(source: Source, column_sql: str, where: Where, timeout_s: float | None) -> list[dict[str, Any]]:
    tail, params = _from_where(source, where)
    sql = f"SELECT {column_sql} AS v, count(*) AS n {tail} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP_CATEGORIES}"
    with source.run(sql, params, timeout_s=timeout_s) as q:
        return [{"category": v, "frequency": int(n)} for v, n in q.rows() if v is not None]


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None  # JSON has no NaN or infinities


def _fit_zoom(bounds: list[float], max_zoom: int) -> int:
    """The zoom at which the bounds fit about one 512-pixel view (for ``center``)."""
    span = max(bounds[2] - bounds[0], (bounds[3] - bounds[1]) * 2, 1e-9)
    return max(0, min(max_zoom, math.floor(math.log2(360.0 / span))))
