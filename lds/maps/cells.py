"""Maps of H3 and quadbin sources (``spatialDataType`` ``h3``/``quadbin``): tiles of aggregated cells.

What ``@carto/api-client``'s ``h3TableSource``/``quadbinTableSource`` (and their query twins) ask for, and
deck.gl's ``H3TileLayer``/``QuadbinTileLayer`` read: a TileJSON whose template names a tile by one cell
(``.../{i}``, the cell's hex id), ``minresolution``/``maxresolution`` in the index's resolutions; and per
tile the source's cells inside that tile cell, grouped to the tile's resolution plus ``aggregationResLevel``
(never finer than the data), each group's values computed by ``aggregationExp`` (an SQL select list over the
source's columns, checked as the widgets' ``operationExp``). One statement per tile in the warehouse, on the
cell ids as BIGINTs (:mod:`lds.maps.cellindex`): ``BETWEEN`` picks the tile's cells, ``&``/``|`` groups them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from lds.errors import BadRequest
from lds.maps import cellpbf
from lds.maps.cellindex import SCHEMES, Scheme, cell_bounds, footprint, is_cell
from lds.maps.expressions import check_expression
from lds.maps.source import ALIAS, Binder, Source, quote_ident
from lds.maps.tilejson import _fit_zoom, tilejson_head
from lds.maps.tiles import LAYER, MAX_LAT, Tile
from lds.warehouse.errors import RowLimitExceeded

DEFAULT_RES_LEVEL = {"h3": 4, "quadbin": 6}  # @carto/api-client's DEFAULT_AGGREGATION_RES_LEVEL_*
MAX_RES_LEVEL = {"h3": 6, "quadbin": 8}  # at most 7**6 (117,649) or 4**8 (65,536) cells per tile
DEFAULT_AGGREGATION = "count(*) AS count"
FORMATS = ("binary", "json")
BOUNDS_CELLS = 20_000  # distinct coarse cells read to compute a TileJSON's bounds
BOUNDS_RES = {"h3": (7, 3), "quadbin": (14, 8)}  # resolution for bounds, and a coarser one for wide data
LAYOUT_CACHE_ENTRIES = 256
_DUCK_INTS = {"BIGINT", "INTEGER", "UBIGINT", "HUGEINT", "UINTEGER", "UHUGEINT", "SMALLINT", "TINYINT"}
_PG_INTS = {"int8", "int4", "int2", "numeric"}

Where = Callable[[Binder], str | None] | None


@dataclass(frozen=True)
class CellLayout:
    """A cell source's spatial column read as BIGINT cell ids, and the resolution of its cells."""

    scheme: Scheme
    cell: str  # SQL: the cell id as BIGINT (NULL for a string that is not hexadecimal, on DuckDB)
    resolution: int  # of the source's first cell; -1 for a source without cells
    schema: tuple[tuple[str, str], ...]

    def max_resolution(self, level: int) -> int:
        """The finest tile resolution worth asking: finer tiles would group nothing."""
        return max(0, self.resolution - level)


_cache: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


def _remembered(key: str, make: Callable[[], Any]) -> Any:
    """``make()``, kept per process under ``key`` (an LRU of :data:`LAYOUT_CACHE_ENTRIES`)."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = make()
    with _lock:
        _cache[key] = value
        while len(_cache) > LAYOUT_CACHE_ENTRIES:
            _cache.popitem(last=False)
    return value


def cell_layout(source: Source, version: str, *, timeout_s: float | None) -> CellLayout:
    """The source's cell layout, learnt once per process, source and data version (two small reads)."""
    return _remembered(source.identity("cells", version), lambda: _learn(source, timeout_s))


def data_extent(source: Source, layout: CellLayout, version: str, *, timeout_s: float | None) -> BaseGeometry | None:
    """Where the source's cells are: the union of their coarse parents, holding every cell whole (None without
    cells), once per data version. A polygon filter is clipped to it before it is covered with cells, so a
    viewport around all the data costs nothing and one around part of it only that part."""
    if layout.resolution < 0:
        return None

    def make() -> BaseGeometry:
        found = _coarse_cells(source, layout, None, timeout_s)
        return box(-180.0, -90.0, 180.0, 90.0) if found is None else footprint(layout.scheme, found)

    return _remembered(source.identity("cells-extent", version), make)


def cell_sql(source: Source, native: str) -> str:
    """SQL reading the source's spatial column (an integer, or a hexadecimal string) as a BIGINT cell id."""
    col = f"{quote_ident(ALIAS)}.{quote_ident(source.spatial_column)}"
    if source.dialect == "duckdb":
        if native.upper() in _DUCK_INTS:
            return f"CAST({col} AS BIGINT)"
        return f"TRY_CAST('0x' || CAST({col} AS VARCHAR) AS BIGINT)"
    if native in _PG_INTS:
        return f"CAST({col} AS bigint)"
    return f"CAST(CAST('x' || lpad(CAST({col} AS text), 16, '0') AS bit(64)) AS bigint)"


def _learn(source: Source, timeout_s: float | None) -> CellLayout:
    scheme = SCHEMES.get(source.spatial_type)
    if scheme is None:
        raise BadRequest(f"spatialDataType {source.spatial_type!r} is not a cell index (h3 or quadbin)")
    columns = source.schema(timeout_s=timeout_s)
    found = next((c for c in columns if c.name == source.spatial_column), None)
    if found is None:
        raise BadRequest(
            f"spatialDataColumn {source.spatial_column!r} is not a column of the source "
            f"(columns: {', '.join(c.name for c in columns[:20])})"
        )
    if found.type not in ("number", "bigint", "string"):
        raise BadRequest(
            f"spatialDataColumn {source.spatial_column!r} must hold {scheme.name} cell ids (integers or "
            f"hexadecimal strings); its type is {found.native}"
        )
    cell = cell_sql(source, found.native)
    sql = f"SELECT {cell} FROM {source.from_sql()} WHERE {cell} IS NOT NULL LIMIT 1"
    with source.run(sql, source.params, timeout_s=timeout_s) as q:
        rows = list(q.rows())
    resolution = -1
    if rows:
        first = int(rows[0][0])
        if not is_cell(scheme, first):
            raise BadRequest(
                f"spatialDataColumn {source.spatial_column!r} holds {first:x}, which is not a {scheme.name} cell"
            )
        resolution = scheme.resolution(first)
    return CellLayout(scheme, cell, resolution, tuple((c.name, c.type) for c in columns))


def parse_res_level(value: Any, spatial_type: str) -> int:
    """``aggregationResLevel``: how many resolutions finer than its tile a cell of a tile is (the client's
    default when absent)."""
    if value is None or value == "":
        return DEFAULT_RES_LEVEL[spatial_type]
    try:
        level = int(str(value))
    except ValueError:
        level = -1
    if not 0 <= level <= MAX_RES_LEVEL[spatial_type]:
        raise BadRequest(
            f"aggregationResLevel must be an integer from 0 to {MAX_RES_LEVEL[spatial_type]} for {spatial_type} "
            f"sources, got {str(value)[:20]!r}"
        )
    return level


def parse_cell_format(value: Any) -> str:
    """``formatTiles`` of a cell tile: ``binary`` (CARTO's spatial tile, what deck.gl reads; the default) or
    ``json`` (``[{"id": hex, "properties": {...}}]``)."""
    if value is None or value == "":
        return "binary"
    if value not in FORMATS:
        raise BadRequest(f"formatTiles of a {'/'.join(SCHEMES)} source must be binary or json, got {str(value)[:20]!r}")
    return value


def aggregation_sql(source: Source, text: Any, *, grants: Collection[Mapping[str, str]] | None, max_chars: int) -> str:
    """``aggregationExp`` checked as a select list over the source's columns (:func:`check_expression`)."""
    if text is None or text == "":
        text = DEFAULT_AGGREGATION
    return check_expression(text, "aggregationExp", source=source, many=True, grants=grants, max_chars=max_chars)


def _int(value: int) -> str:
    return f"CAST({value} AS BIGINT)"


def tile_sql(layout: CellLayout, source: Source, tile: int, level: int, aggregation: str, where: str | None) -> str:
    """One tile's statement: ``(cell, aggregates...)`` per group of the tile's cells."""
    scheme, res = layout.scheme, layout.resolution
    own = scheme.resolution(tile)
    target = min(own + level, res)
    if own <= res:
        lo, hi = scheme.descendants(tile, res)
        cond = f"{layout.cell} BETWEEN {_int(lo)} AND {_int(hi)}"
    else:  # a tile finer than the data: the one cell it lies in
        cond = f"{layout.cell} = {_int(scheme.parent(tile, res))}"
    keep, add = scheme.parent_masks(target)
    group = f"(({layout.cell} & {_int(keep)}) | {_int(add)})"
    conds = " AND ".join([cond] + ([f"({where})"] if where else []))
    return f'SELECT {group} AS "__lds_cell", {aggregation} FROM {source.from_sql()} WHERE {conds} GROUP BY 1'


def make_cell_tile(
    source: Source,
    layout: CellLayout,
    tile: int,
    *,
    level: int,
    aggregation: str,
    fmt: str,
    timeout_s: float | None,
    max_cells: int,
    where: Where = None,
) -> Tile:
    """One tile of aggregated cells, encoded as ``fmt``; an empty tile for a source without cells."""
    if layout.resolution < 0:
        return Tile(b"", cellpbf.content_type(fmt), 0, 0, 0)
    bind = source.binder()
    condition = where(bind) if where is not None else None
    sql = tile_sql(layout, source, tile, level, aggregation, condition)
    try:
        with source.run(sql, bind.params, timeout_s=timeout_s, max_rows=max_cells) as q:
            rows = [row for batch in q.batches() for row in batch]
            names = [c.name for c in q.schema][1:]
    except RowLimitExceeded:
        raise BadRequest(
            f"the tile holds more than {max_cells} cells (setting maps_tile_max_features): "
            "use a smaller aggregationResLevel"
        ) from None
    if not rows:
        return Tile(b"", cellpbf.content_type(fmt), 0, 0, 0)
    body = cellpbf.encode(layout.scheme.name, names, rows, fmt)
    return Tile(body, cellpbf.content_type(fmt), len(rows), len(rows), len(rows))


def _one_row(source: Source, sql: str, params: Any, timeout_s: float | None) -> tuple:
    with source.run(sql, params, timeout_s=timeout_s) as q:
        rows = list(q.rows())
    return rows[0] if rows else ()


def _from_where(source: Source, where: Where, *conds: str) -> tuple[str, Any]:
    bind = source.binder()
    condition = where(bind) if where is not None else None
    parts = [c for c in (condition, *conds) if c]
    return f"FROM {source.from_sql()}" + (
        " WHERE " + " AND ".join(f"({p})" for p in parts) if parts else ""
    ), bind.params


def instantiation(source: Source, layout: CellLayout, *, where: Where, timeout_s: float | None) -> dict[str, Any]:
    """``nrows`` after the filters, ``size`` (an estimate: 8 bytes per column and row) and the ``schema``."""
    tail, params = _from_where(source, where)
    (nrows,) = _one_row(source, f"SELECT count(*) {tail}", params, timeout_s) or (0,)
    return {
        "nrows": int(nrows or 0),
        "size": int(nrows or 0) * 8 * max(1, len(layout.schema)),
        "schema": [{"name": n, "type": t} for n, t in layout.schema],
    }


def _coarse_cells(source: Source, layout: CellLayout, where: Where, timeout_s: float | None) -> list[int] | None:
    """The distinct parents of the filtered cells at a coarse resolution (at most :data:`BOUNDS_CELLS`, through
    the index library in Python, never one per row); None when even the coarser one has more (data world-wide)."""
    fine, coarse = BOUNDS_RES[layout.scheme.name]
    for res in (min(fine, layout.resolution), min(coarse, layout.resolution)):
        keep, add = layout.scheme.parent_masks(res)
        tail, params = _from_where(source, where, f"{layout.cell} IS NOT NULL")
        sql = f"SELECT DISTINCT (({layout.cell} & {_int(keep)}) | {_int(add)}) {tail} LIMIT {BOUNDS_CELLS + 1}"
        with source.run(sql, params, timeout_s=timeout_s) as q:
            cells = [int(r[0]) for r in q.rows()]
        if len(cells) <= BOUNDS_CELLS:
            return cells
    return None


def _bounds(source: Source, layout: CellLayout, where: Where, timeout_s: float | None) -> list[float]:
    """The bounds of the filtered cells (the world for none, or for data all over it)."""
    found = None
    if layout.resolution >= 0:
        found = cell_bounds(layout.scheme, _coarse_cells(source, layout, where, timeout_s) or [])
    if found is None:
        return [-180.0, -MAX_LAT, 180.0, MAX_LAT]
    w, s, e, n = found
    return [max(-180.0, w), max(-MAX_LAT, s), min(180.0, e), min(MAX_LAT, n)]


def _field_type(native: str) -> str:
    text = native.upper()
    if text in ("BOOLEAN", "BOOL"):
        return "Boolean"
    numeric = ("INT", "FLOAT", "DOUBLE", "DECIMAL", "NUMERIC", "REAL")
    return "Number" if any(k in text for k in numeric) else "String"


def tilejson(
    source: Source,
    layout: CellLayout,
    *,
    level: int,
    aggregation: str,
    where: Where,
    timeout_s: float | None,
    max_zoom: int,
    resolution: float,
) -> dict[str, Any]:
    """The TileJSON of a cell source without its ``tiles`` URL: bounds, resolutions, the aggregates' fields."""
    tail, params = _from_where(source, where)
    (count,) = _one_row(source, f"SELECT count(*) {tail}", params, timeout_s) or (0,)
    probe = f'SELECT {layout.cell} AS "__lds_cell", {aggregation} {tail} GROUP BY 1 LIMIT 0'
    with source.run(probe, params, timeout_s=timeout_s) as q:
        for _ in q.batches():
            pass
        fields = {c.name: _field_type(c.native) for c in q.schema[1:]}
    bounds = _bounds(source, layout, where, timeout_s)
    zoom = _fit_zoom(bounds, max_zoom)
    attributes = [{"attribute": name, "type": kind} for name, kind in fields.items()]
    return {
        **tilejson_head(max_zoom),
        "minresolution": 0,
        "maxresolution": layout.max_resolution(level),
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, zoom],
        "vector_layers": [{"id": LAYER, "minzoom": 0, "maxzoom": max_zoom, "fields": fields}],
        "tilestats": {
            "layerCount": 1,
            "layers": [
                {"layer": LAYER, "count": int(count or 0), "attributeCount": len(attributes), "attributes": attributes}
            ],
        },
        "properties_tiles": [],
        "tileResolution": resolution,
        "spatialIndex": layout.scheme.name,
        "dataResolution": layout.resolution,
        "aggregationResLevel": level,
    }
