"""Delimited text and plain Parquet read by DuckDB, with their geometry found by column name and content.

DuckDB's ``read_csv`` sniffs quoting, header and column types (``sniff_csv``, once; the import first
samples ``CSV_SAMPLE_ROWS`` rows and, should a later value not fit a sniffed type, reads the file again with
types sniffed over all of it, see :func:`lds.imports.pipeline.run_import`); with
``autoguessing=false`` every column stays text, as CARTO does. The geometry is, in this order: a column
whose sampled values are all WKT, GeoJSON geometries, hex WKB or WKB blobs (names such as ``geom``,
``wkt`` or ``the_geom`` are tried first), else a latitude/longitude pair under its usual names. Values
that do not parse, or coordinates out of range, give a NULL ``geom`` rather than failing the import.
The DuckDB instance is private to the import (in memory, spill to the staging folder) and may read only
the file and the staging folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from lds.imports.source import GEOM, Source
from lds.warehouse.duck_ext import confine, load_extension, sql_string

LAT_NAMES = ("lat", "latitude", "y")
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
GEOM_NAMES = (
    "geom",
    "geometry",
    "the_geom",
    "wkt",
    "wkb",
    "geojson",
    "geo",
    "shape",
    "location",
    "the_geom_webmercator",
)
_SAMPLE = 20
_WKT = re.compile(
    r"^\s*(SRID=\d+;\s*)?(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON"
    r"|GEOMETRYCOLLECTION)\s*(Z|M|ZM)?\s*(\(|EMPTY)",
    re.IGNORECASE,
)
_HEX_WKB = re.compile(r"^(00|01)[0-9a-fA-F]{8,}$")
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
_GEOM_SQL = {
    "wkt": "ST_GeomFromText({})",
    "geojson": "ST_GeomFromGeoJSON({})",
    "hexwkb": "ST_GeomFromHEXWKB({})",
    "wkb": "ST_GeomFromWKB({})",
}


def q(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def open_table(
    fmt: str,
    path: Path,
    staging: Path,
    *,
    delimiter: str | None,
    batch_rows: int,
    autoguessing: bool,
    duck_config: dict[str, Any],
) -> Iterator[Source]:
    con = _connect(path, staging, duck_config)
    try:
        if fmt == "csv":
            relation = _sniffed_csv(con, path, delimiter, autoguessing, duck_config.get("csv_sample_rows", -1))
        else:
            relation = f"read_parquet({sql_string(str(path))})"
        columns = [(row[0], str(row[1])) for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        if not columns:
            raise ValueError("no columns")
        geometry, notes = find_geometry(con, relation, columns)
        select = [
            q(n)
            for n, _ in columns
            if geometry is None or geometry[0] != "column" or n != geometry[1]
            if n.lower() != GEOM
        ]
        renamed = [n for n, _ in columns if n.lower() == GEOM and (geometry is None or geometry[1] != n)]
        select += [f"{q(n)} AS {q(n + '_1')}" for n in renamed]
        if geometry is not None:
            select.append(f"ST_AsWKB({_geometry_sql(geometry)})::BLOB AS {GEOM}")
        else:
            notes.append("no geometry found (no WKT/WKB/GeoJSON column, no lat/lon columns): imported without geom")
        reader = con.execute(f"SELECT {', '.join(select)} FROM {relation}").to_arrow_reader(batch_rows)
        yield Source(reader.schema, iter(reader), notes, interrupt=con.interrupt)
    finally:
        con.close()


def _sniffed_csv(
    con: duckdb.DuckDBPyConnection, path: Path, delimiter: str | None, autoguessing: bool, sample_rows: int
) -> str:
    """A ``read_csv(...)`` with every option DuckDB's sniffer found over ``sample_rows`` rows (-1: the whole
    file) spelled out: later reads (geometry sampling, the import) then skip the sniffing pass."""
    options = f", header = true, sample_size = {int(sample_rows)}" + (
        ", all_varchar = true" if not autoguessing else ""
    )
    if delimiter:
        options += f", delim = {sql_string(delimiter)}"
    prompt = con.execute(f"SELECT Prompt FROM sniff_csv({sql_string(str(path))}{options})").fetchone()[0].strip()
    if not (prompt.startswith("FROM read_csv(") and prompt.endswith(");")):
        return f"read_csv({sql_string(str(path))}{options})"
    return prompt.removeprefix("FROM ").removesuffix(";")


def _connect(path: Path, staging: Path, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": config.get("threads", 2),
            "memory_limit": config.get("memory_limit", "1GB"),
        },
    )
    try:
        load_extension(con, "spatial")
        confine(
            con, str(staging / "duck_tmp"), [str(staging) + "/"], "SET enable_progress_bar = false", paths=[str(path)]
        )
    except BaseException:
        con.close()
        raise
    return con


def find_geometry(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[tuple[str, str]]
) -> tuple[tuple[str, ...] | None, list[str]]:
    """("column", name, kind) for a geometry column, ("latlon", lat, lon) for a coordinate pair, or None."""
    named = sorted(columns, key=lambda c: c[0].lower() not in GEOM_NAMES)
    for name, dtype in named:
        kind = "wkb" if dtype == "BLOB" else _text_kind(con, relation, name) if dtype == "VARCHAR" else None
        if kind is not None:
            return ("column", name, kind), [f"geometry from column {name!r} ({kind.upper()})"]
    lower = {n.lower(): n for n, _ in columns}
    types = dict(columns)
    lat = next((lower[n] for n in LAT_NAMES if n in lower), None)
    lon = next((lower[n] for n in LON_NAMES if n in lower), None)
    if lat is not None and lon is not None:
        notes = [f"point geometry from columns {lat!r} (latitude) and {lon!r} (longitude)"]
        if not (types[lat].startswith(_NUMERIC) and types[lon].startswith(_NUMERIC)):
            notes.append("coordinate columns are not all numeric: values that are not numbers give no geometry")
        return ("latlon", lat, lon), notes
    return None, []


def _text_kind(con: duckdb.DuckDBPyConnection, relation: str, name: str) -> str | None:
    rows = con.execute(
        f"SELECT {q(name)} FROM {relation} WHERE nullif(trim({q(name)}), '') IS NOT NULL LIMIT {_SAMPLE}"
    ).fetchall()
    values = [r[0].strip() for r in rows]
    if not values:
        return None
    if all(_WKT.match(v) for v in values):
        return "wkt"
    if all(v.startswith("{") and ('"coordinates"' in v or '"geometries"' in v) for v in values):
        return "geojson"
    if all(_HEX_WKB.match(v) and len(v) % 2 == 0 for v in values):
        return "hexwkb"
    return None


def _geometry_sql(geometry: tuple[str, ...]) -> str:
    if geometry[0] == "latlon":
        lat, lon = (f"TRY_CAST({q(c)} AS DOUBLE)" for c in geometry[1:])
        return f"CASE WHEN {lat} BETWEEN -90 AND 90 AND {lon} BETWEEN -180 AND 180 THEN ST_Point({lon}, {lat}) END"
    _, name, kind = geometry
    value = q(name) if kind == "wkb" else f"trim({q(name)})"
    if kind == "wkt":
        value = f"regexp_replace({value}, '^SRID=\\d+;\\s*', '')"
    return f"TRY({_GEOM_SQL[kind].format(value)})"
