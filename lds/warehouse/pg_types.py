"""PostgreSQL type OIDs -> CARTO type names and value converters (PostGIS types are looked up by name)."""

from __future__ import annotations

from lds.warehouse import values as v

_BY_OID: dict[int, tuple[str, v.Converter | None]] = {
    21: ("number", None), 23: ("number", None), 26: ("number", None), 700: ("number", None),
    701: ("number", None), 1700: ("number", v.TO_FLOAT),
    20: ("bigint", None),
    25: ("string", None), 1043: ("string", None), 1042: ("string", None), 19: ("string", None),
    18: ("string", None), 2950: ("string", v.TO_STR), 1083: ("string", v.TO_ISO), 1186: ("string", v.TO_STR),
    16: ("boolean", None),
    1082: ("timestamp", v.TO_ISO), 1114: ("timestamp", v.TO_ISO), 1184: ("timestamp", v.TO_ISO),
    114: ("object", v.TO_JSON), 3802: ("object", v.TO_JSON),
    17: ("unknown", v.TO_HEX),
}
_BY_NAME: dict[str, tuple[str, v.Converter | None]] = {
    "geometry": ("geometry", v.geojson), "geography": ("geometry", v.geojson),
    "int2": _BY_OID[21], "int4": _BY_OID[23], "int8": _BY_OID[20], "float4": _BY_OID[700], "float8": _BY_OID[701],
    "numeric": _BY_OID[1700], "text": _BY_OID[25], "varchar": _BY_OID[1043], "bpchar": _BY_OID[1042],
    "bool": _BY_OID[16], "date": _BY_OID[1082], "timestamp": _BY_OID[1114], "timestamptz": _BY_OID[1184],
    "json": _BY_OID[114], "jsonb": _BY_OID[3802], "uuid": _BY_OID[2950], "name": _BY_OID[19],
}


def pg_type(oid: int, typname: str | None, category: str | None = None) -> tuple[str, v.Converter | None]:
    """The CARTO type of a column of type ``oid`` (``typname``/``typcategory`` from pg_type when known)."""
    if oid in _BY_OID:
        return _BY_OID[oid]
    if typname in _BY_NAME:
        return _BY_NAME[typname]
    if category in ("A", "C"):  # arrays and composite types: psycopg loads known element types as lists
        return "object", v.TO_JSON
    if category == "E":  # enums arrive as text
        return "string", None
    return "unknown", v.TO_JSON
