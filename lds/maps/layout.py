"""How a source's columns become tile features: the geometry in lon/lat and Web Mercator, the properties.

Learnt once per source and process (a ``LIMIT 0`` read, and on PostgreSQL the geometry's SRID from one row)
and kept in a small LRU keyed by the source's identity, so a tile costs one statement. Property values are
cast to what vector tiles can hold (numbers, strings, booleans): DuckDB's ``ST_AsMVT`` takes only VARCHAR,
FLOAT, DOUBLE, INTEGER, BIGINT and BOOLEAN; PostGIS would expand a jsonb's keys into properties of their own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from lds.errors import BadRequest
from lds.maps.source import ALIAS, Source, quote_ident

MERCATOR_SRID = 3857
LONLAT_SRID = 4326
LAYOUT_CACHE_ENTRIES = 256
# names of our own columns in tile statements; a source column of the same name is left out of the properties
RESERVED = ("__lds_g", "__lds_geom", "__lds_n", "__lds_total")

_DUCK_PLAIN = {"VARCHAR", "FLOAT", "DOUBLE", "INTEGER", "BIGINT", "BOOLEAN"}
_DUCK_TO_INT = {"TINYINT", "SMALLINT", "UTINYINT", "USMALLINT"}
_DUCK_TO_BIGINT = {"UINTEGER"}
_DUCK_TO_DOUBLE = {"UBIGINT", "HUGEINT", "UHUGEINT"}
_PG_PLAIN = {"int2", "int4", "int8", "float4", "float8", "text", "varchar", "bpchar", "bool", "name"}
_FIELD_TYPES = {"number": "Number", "bigint": "Number", "boolean": "Boolean"}


@dataclass(frozen=True)
class Prop:
    """One feature property: its name, the SQL that reads it from the source, its TileJSON field type."""

    name: str
    sql: str
    field_type: str  # "Number" | "String" | "Boolean"
    carto_type: str


@dataclass(frozen=True)
class Layout:
    """A source's tile layout: geometry expressions and properties."""

    geometry: str  # SQL: the source geometry as lon/lat geometry (what bbox tests and ST_Extent read)
    bbox_column: str  # SQL: the column the bbox test runs on (the raw column where the engine can use an index)
    srid: int  # the stored SRID (PostgreSQL; 4326 for carto_dw)
    props: tuple[Prop, ...]
    schema: tuple[tuple[str, str], ...]  # (name, CARTO type) of every source column

    def mercator(self, geometry_sql: str, dialect: str) -> str:
        """SQL: a lon/lat geometry in Web Mercator."""
        if dialect == "duckdb":
            return f"ST_Transform({geometry_sql}, 'EPSG:4326', 'EPSG:3857', always_xy := true)"
        return f"ST_Transform({geometry_sql}, {MERCATOR_SRID})"

    def bbox_test(self, dialect: str, w: float, s: float, e: float, n: float) -> str:
        """SQL: the source rows whose geometry's box meets the lon/lat box (index-friendly where it can be)."""
        env = f"ST_MakeEnvelope({w!r}, {s!r}, {e!r}, {n!r}" + (")" if dialect == "duckdb" else f", {LONLAT_SRID})")
        if dialect == "postgres" and self.srid not in (LONLAT_SRID, 0):
            env = f"ST_Transform({env}, {self.srid})"
        return f"{self.bbox_column} && {env}"


_cache: OrderedDict[str, Layout] = OrderedDict()
_lock = threading.Lock()


def layout_of(source: Source, version: str, *, timeout_s: float | None) -> Layout:
    """The source's layout (cached per process by :meth:`Source.identity` and the warehouse's data ``version``,
    so a table whose columns changed is learnt again)."""
    key = source.identity("layout", version)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    layout = _learn(source, timeout_s)
    with _lock:
        _cache[key] = layout
        while len(_cache) > LAYOUT_CACHE_ENTRIES:
            _cache.popitem(last=False)
    return layout


def _learn(source: Source, timeout_s: float | None) -> Layout:
    if source.spatial_type != "geo":
        raise BadRequest(
            f"spatialDataType {source.spatial_type!r} sources are tiles of aggregated cells named by one cell "
            "(/{i}, lds.maps.cells), not vector tiles of geometries"
        )
    columns = source.schema(timeout_s=timeout_s)
    by_name = {c.name: c for c in columns}
    geo = by_name.get(source.spatial_column)
    if geo is None:
        raise BadRequest(
            f"spatialDataColumn {source.spatial_column!r} is not a column of the source "
            f"(columns: {', '.join(c.name for c in columns[:20])})"
        )
    if geo.type != "geometry" and not (source.dialect == "duckdb" and geo.native.upper() in ("BLOB", "WKB_BLOB")):
        raise BadRequest(
            f"spatialDataColumn {source.spatial_column!r} is not a geometry column (its type is {geo.native})"
        )
    column = f"{quote_ident(ALIAS)}.{quote_ident(geo.name)}"
    srid = LONLAT_SRID
    if source.dialect == "duckdb":
        geometry = f"ST_GeomFromWKB({column})" if geo.native.upper() in ("BLOB", "WKB_BLOB") else column
        bbox_column = geometry
    else:
        if geo.native == "geography":
            column = f"{column}::geometry"
        srid = _pg_srid(source, column, timeout_s)
        bbox_column = column
        if srid == 0:
            geometry = bbox_column = f"ST_SetSRID({column}, {LONLAT_SRID})"
        elif srid != LONLAT_SRID:
            geometry = f"ST_Transform({column}, {LONLAT_SRID})"
        else:
            geometry = column
    wanted = source.columns
    if wanted is not None:
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise BadRequest(f"column {missing[0]!r} of 'columns' is not a column of the source")
    props = []
    for c in columns:
        if c.name == geo.name or c.name in RESERVED or c.type == "geometry":
            continue
        if wanted is not None and c.name not in wanted:
            continue
        props.append(_prop(source.dialect, c.name, c.type, c.native))
    return Layout(
        geometry=geometry,
        bbox_column=bbox_column,
        srid=srid,
        props=tuple(props),
        schema=tuple((c.name, c.type) for c in columns),
    )


def _prop(dialect: str, name: str, carto: str, native: str) -> Prop:
    ref = f"{quote_ident(ALIAS)}.{quote_ident(name)}"
    field = _FIELD_TYPES.get(carto, "String")
    if dialect == "duckdb":
        t = native.upper()
        if t in _DUCK_PLAIN:
            sql = ref
        elif t in _DUCK_TO_INT:
            sql = f"CAST({ref} AS INTEGER)"
        elif t in _DUCK_TO_BIGINT:
            sql = f"CAST({ref} AS BIGINT)"
        elif t in _DUCK_TO_DOUBLE or t.startswith("DECIMAL"):
            sql, field = f"CAST({ref} AS DOUBLE)", "Number"
        else:
            sql, field = f"CAST({ref} AS VARCHAR)", ("String" if carto != "boolean" else "Boolean")
    else:
        if native in _PG_PLAIN:
            sql = ref
        elif native == "numeric":
            sql, field = f"{ref}::float8", "Number"
        else:
            sql, field = f"{ref}::text", "String"
    return Prop(name=name, sql=sql, field_type=field, carto_type=carto)


def _pg_srid(source: Source, column: str, timeout_s: float | None) -> int:
    sql = f"SELECT ST_SRID({column}) FROM {source.from_sql()} WHERE {column} IS NOT NULL LIMIT 1"
    with source.run(sql, source.params, timeout_s=timeout_s) as q:
        rows = list(q.rows())
    return int(rows[0][0]) if rows and rows[0][0] is not None else LONLAT_SRID


def clear() -> None:
    """Forget every learnt layout (tests that change a table's columns in place)."""
    with _lock:
        _cache.clear()
