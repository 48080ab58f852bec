"""Other bodies of a SQL API query (``format=geojson|csv``), written batch by batch as the rows stream in.

* ``geojson``: a FeatureCollection. The geometry column (the one named ``geom`` if it is a geometry, else the
  first geometry column) becomes each feature's ``geometry``, its GeoJSON text spliced in as it came from the
  warehouse (never parsed again); the other columns are the ``properties``. Without a geometry column every
  feature's geometry is null.
* ``csv``: a header row of column names, then one line per row (RFC 4180 quoting). Geometries as WKT (default,
  ``geometryFormat=wkt``, converted by shapely's vectorised reader and writer per batch) or as GeoJSON text
  (``geometryFormat=geojson``); objects as JSON text; NULL as an empty field.

A writer turns one batch into one text part; the parts are sent in order after a head and before a tail, so
the answer is never held twice (no join). No Flask here.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import shapely

from lds.errors import BadRequest

CONTENT_TYPES = {"json": "application/json", "geojson": "application/geo+json", "csv": "text/csv; charset=utf-8"}
GEOMETRY_FORMATS = ("wkt", "geojson")
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_format(fmt: Any, geometry_format: Any = None) -> tuple[str, str]:
    """``(format, geometryFormat)`` checked: ``json`` (default), ``geojson`` or ``csv``; ``wkt`` or ``geojson``."""
    fmt = "json" if fmt in (None, "") else fmt
    if not isinstance(fmt, str) or fmt not in CONTENT_TYPES:
        raise BadRequest(f"format must be one of {', '.join(CONTENT_TYPES)}, got {str(fmt)[:50]!r}")
    geometry_format = "wkt" if geometry_format in (None, "") else geometry_format
    if not isinstance(geometry_format, str) or geometry_format not in GEOMETRY_FORMATS:
        raise BadRequest(
            f"geometryFormat must be one of {', '.join(GEOMETRY_FORMATS)}, got {str(geometry_format)[:50]!r}"
        )
    return fmt, geometry_format


def attachment_name(filename: Any, fmt: str) -> str | None:
    """A download name for ``Content-Disposition`` (letters, digits, ``._-``), the format's extension added."""
    if filename in (None, ""):
        return None
    if not isinstance(filename, str) or not _FILENAME.match(filename):
        raise BadRequest("filename must be 1 to 100 letters, digits, '.', '_' or '-'")
    ext = "." + fmt
    return filename if filename.endswith(ext) else filename + ext


def finite(value: Any) -> Any:
    """NaN and infinities (which JSON lacks) as null, nested values included."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """``value`` as compact JSON text, NaN and infinities as null."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))
    except ValueError:
        return json.dumps(finite(value), ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))


def geometry_column(schema: Sequence[Any]) -> int | None:
    """Index of the column a GeoJSON feature takes its geometry from: ``geom`` if a geometry, else the first one."""
    geometries = [i for i, c in enumerate(schema) if c.type == "geometry"]
    named = [i for i in geometries if schema[i].name == "geom"]
    return (named or geometries or [None])[0]


class GeoJSONWriter:
    """A FeatureCollection, one part per batch."""

    def __init__(self, schema: Sequence[Any]):
        self.geom = geometry_column(schema)
        self.names = [c.name for i, c in enumerate(schema) if i != self.geom]
        self._first = True

    def head(self) -> str:
        return '{"type":"FeatureCollection","features":['

    def batch(self, rows: list[tuple]) -> str:
        if not rows:
            return ""
        g, names = self.geom, self.names
        geometries, features = [], []
        for row in rows:
            values = list(row)
            geometry = values.pop(g) if g is not None else None
            geometries.append(geometry)
            features.append(
                {
                    "type": "Feature",
                    "geometry": None if geometry is None else orjson.Fragment(geometry),
                    "properties": dict(zip(names, values, strict=True)),
                }
            )
        try:  # one orjson call per batch, the geometries' GeoJSON text spliced in as it is (NaN -> null)
            text = orjson.dumps(features, default=str).decode()[1:-1]
        except TypeError:  # an integer beyond 64 bits: the standard encoder
            for f, geometry in zip(features, geometries, strict=True):
                f["geometry"] = None if geometry is None else json.loads(geometry)
            text = json_text(features)[1:-1]
        if not self._first:
            text = "," + text
        self._first = False
        return text

    def tail(self, meta: dict[str, Any]) -> str:
        return "]}"


class CsvWriter:
    """A header row, then the rows; one part per batch."""

    def __init__(self, schema: Sequence[Any], geometry_format: str = "wkt"):
        self.names = [c.name for c in schema]
        self.geoms = [i for i, c in enumerate(schema) if c.type == "geometry"] if geometry_format == "wkt" else []
        self.objects = [i for i, c in enumerate(schema) if c.type in ("object", "unknown")]
        self.booleans = [i for i, c in enumerate(schema) if c.type == "boolean"]
        self.numbers = [i for i, c in enumerate(schema) if c.type == "number"]

    def _text(self, rows: list[Any]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(rows)
        return out.getvalue()

    def head(self) -> str:
        return self._text([self.names])

    def batch(self, rows: list[tuple]) -> str:
        if not rows:
            return ""
        columns = [list(c) for c in zip(*rows, strict=True)]
        for i in self.geoms:  # GeoJSON text -> WKT, the whole column in one vectorised call each way
            geoms = shapely.from_geojson(np.asarray(columns[i], dtype=object), on_invalid="ignore")
            columns[i] = shapely.to_wkt(geoms, rounding_precision=-1).tolist()
        for i in self.objects:
            columns[i] = [v if v is None or isinstance(v, str) else json_text(v) for v in columns[i]]
        for i in self.booleans:
            columns[i] = [None if v is None else ("true" if v else "false") for v in columns[i]]
        for i in self.numbers:  # NaN and infinities, which a CSV reader would take for text: empty
            columns[i] = [None if isinstance(v, float) and not math.isfinite(v) else v for v in columns[i]]
        return self._text(zip(*columns, strict=True))

    def tail(self, meta: dict[str, Any]) -> str:
        return ""


def writer_for(fmt: str, schema: Sequence[Any], geometry_format: str = "wkt") -> GeoJSONWriter | CsvWriter:
    if fmt == "geojson":
        return GeoJSONWriter(schema)
    if fmt == "csv":
        return CsvWriter(schema, geometry_format)
    raise BadRequest(f"no writer for format {fmt!r}")
