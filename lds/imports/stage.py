"""Write an import source to one local Parquet file, a record batch at a time, before any destination is touched.

Staging first means a malformed row found late in a file fails the import before anything is written in
the warehouse, and the load itself is one bulk statement over a finished file. Column names are made
safe for every destination here (non-empty, at most 63 bytes, unique ignoring case, ``geom`` kept for the
geometry), and geocoding on import (:mod:`lds.imports.geocode`) fills ``geom`` batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lds.errors import BadRequest
from lds.imports.budget import Budget
from lds.imports.source import GEOM, Source

MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1

Geocoder = Callable[[list], tuple[pa.Array, pa.Array, pa.Array]]  # addresses -> (wkb, match type, confidence)


@dataclass
class Staged:
    """The staged Parquet file and what it holds."""

    path: Path
    rows: int
    schema: pa.Schema
    null_geoms: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def has_geom(self) -> bool:
        return GEOM in self.schema.names


def clean_names(names: list[str], reserved: tuple[str, ...] = (GEOM,)) -> list[str]:
    """Column names every destination accepts: trimmed, non-empty, <= 63 bytes, unique ignoring case."""
    taken = {r.lower() for r in reserved}
    out = []
    for i, raw in enumerate(names, 1):
        name = "".join(c for c in str(raw).strip() if c.isprintable()) or f"column_{i}"
        name = _cut(name)
        base, n = name, 1
        while name.lower() in taken:
            n += 1
            suffix = f"_{n}"
            name = _cut(base, MAX_NAME_BYTES - len(suffix)) + suffix
        taken.add(name.lower())
        out.append(name)
    return out


def _cut(name: str, limit: int = MAX_NAME_BYTES) -> str:
    return name.encode()[:limit].decode(errors="ignore")


def stage(
    source: Source,
    dest: Path,
    budget: Budget | None = None,
    *,
    geocoder: Geocoder | None = None,
    address_column: str | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> Staged:
    """Write ``source`` to ``dest`` (Parquet); with ``geocoder``, ``geom`` comes from ``address_column``."""
    budget = budget or Budget()
    attrs = [f for f in source.schema if f.name != GEOM]
    names = clean_names([f.name for f in attrs])
    fields = [pa.field(n, f.type) for n, f in zip(names, attrs, strict=True)]
    address_index = None
    if geocoder is not None:
        address_index = _address_index(attrs, names, address_column)
        fields += [pa.field("geocode_match_type", pa.string()), pa.field("geocode_confidence", pa.float64())]
    has_geom = GEOM in source.schema.names or geocoder is not None
    if has_geom:
        fields.append(pa.field(GEOM, pa.binary()))
    schema = pa.schema(fields)
    rows = null_geoms = 0
    with pq.ParquetWriter(dest, schema, compression="snappy") as writer:
        for batch in source.batches:
            columns = [batch.column(f.name) for f in attrs]
            if geocoder is not None:
                wkb, match, confidence = geocoder(columns[address_index].to_pylist())
                columns += [match, confidence, wkb]
            elif has_geom:
                columns.append(batch.column(GEOM))
            out = pa.Table.from_arrays(columns, names=schema.names)
            if out.schema != schema:
                out = out.cast(schema)
            writer.write_table(out)
            rows += batch.num_rows
            if has_geom:
                null_geoms += out.column(GEOM).null_count
            budget.check()
            log(f"read {rows} rows")
    notes = []
    if has_geom and null_geoms:
        notes.append(f"{null_geoms} of {rows} rows have no geometry (empty, unparsable or out of range)")
    return Staged(dest, rows, schema, null_geoms, notes)


def _address_index(attrs: list[pa.Field], names: list[str], address_column: str | None) -> int:
    for i, (f, n) in enumerate(zip(attrs, names, strict=True)):
        if address_column in (f.name, n):
            return i
    shown = ", ".join(n for n in names[:30])
    raise BadRequest(f"geocode.address_column {address_column!r} is not a column of the file (columns: {shown})")
