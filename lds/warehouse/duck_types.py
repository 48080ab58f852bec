"""DuckDB column types -> CARTO type names and the converter that makes their values JSON-ready."""

from __future__ import annotations

from lds.warehouse import values as v

_NUMBER = {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER", "FLOAT", "DOUBLE"}
_BIGINT = {"BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT"}
_TIMESTAMP = {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}


def duck_type(native: str) -> tuple[str, v.Converter | None]:
    """The CARTO type of a DuckDB type name (as ``cursor.description`` or ``duckdb_columns()`` spell it)."""
    t = native.upper()
    if t in _NUMBER:
        return "number", None
    if t.startswith("DECIMAL"):
        return "number", v.TO_FLOAT
    if t in _BIGINT:
        return "bigint", None
    if t == "VARCHAR":
        return "string", None
    if t == "UUID" or t.startswith("ENUM"):
        return "string", v.TO_STR
    if t == "BOOLEAN":
        return "boolean", None
    if t in _TIMESTAMP:
        return "timestamp", v.TO_ISO
    if t == "GEOMETRY_TYPE":  # the ENUM ST_GeometryType returns, not a geometry
        return "string", v.TO_STR
    if t.startswith("GEOMETRY") or t == "WKB_BLOB":
        return "geometry", v.geojson
    if t == "JSON":
        return "object", v.FROM_JSON_TEXT
    if t.startswith(("STRUCT", "MAP", "UNION")) or t.endswith("]") or t in ("POINT_2D", "BOX_2D", "LINESTRING_2D"):
        return "object", v.TO_JSON
    if t == "BLOB":
        return "unknown", v.TO_HEX
    return "unknown", v.TO_JSON
