"""Read each import format as a stream of Arrow record batches: attribute columns, then a WKB ``geom`` in EPSG:4326.

Well-kept readers do the parsing, a batch at a time (never the whole file in memory): GDAL through
``pyogrio.open_arrow`` for GeoJSON, Shapefile, GeoPackage and KML; ``pyarrow.parquet`` for GeoParquet
(its ``geo`` metadata names the geometry column and CRS); DuckDB's ``read_csv``/``read_parquet`` for
delimited text and plain Parquet, whose geometry :mod:`tables` finds. Geometries in another CRS are
reprojected with pyproj over whole coordinate arrays (shapely's vectorised transform). A reader's own
error becomes :class:`MalformedFile` with the reader's reason, which lands in the import's logs.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from lds.errors import BadRequest, LdsError
from lds.imports.budget import Budget
from lds.imports.detect import Detected
from lds.imports.source import GEOM, Source

_SUFFIXES = {"geojson": ".geojson", "gpkg": ".gpkg", "kml": ".kml", "kmz": ".kml"}
_WGS84_NAMES = {"EPSG:4326", "OGC:CRS84", "WGS 84", "CRS84"}


class MalformedFile(BadRequest):
    """The reader of the detected format could not read the file."""


@contextmanager
def open_source(
    found: Detected,
    staging: Path,
    *,
    batch_rows: int,
    budget: Budget | None = None,
    autoguessing: bool = True,
    duck_config: dict[str, Any] | None = None,
) -> Iterator[Source]:
    """The batches of ``found`` (see :class:`Source`); reader errors raise :class:`MalformedFile`."""
    budget = budget or Budget()
    with ExitStack() as stack:
        try:
            source = _open(found, staging, stack, batch_rows, budget, autoguessing, duck_config or {})
        except LdsError:
            raise
        except Exception as exc:  # noqa: BLE001 - any reader failure is the file's fault: its reason goes to the logs
            raise MalformedFile(f"the file could not be read as {found.format}: {_reason(exc)}") from None
        yield _guarded(source, found.format, budget)


def _open(
    found: Detected,
    staging: Path,
    stack: ExitStack,
    batch_rows: int,
    budget: Budget,
    autoguessing: bool,
    duck_config: dict[str, Any],
) -> Source:
    path = found.path
    if found.format in ("csv", "geojson", "kml") and found.encoding not in (None, "utf-8", "ascii", "utf-8-sig"):
        path = to_utf8(path, found.encoding, staging / "utf8.txt", budget)
        found.notes.append(f"text decoded from {found.encoding}")
    if found.format == "parquet" and _geo_metadata(path):
        found.format = "geoparquet"
        return _geoparquet(path, batch_rows)
    if found.format in ("csv", "parquet"):
        from lds.imports.tables import open_table

        return stack.enter_context(
            open_table(
                found.format,
                path,
                staging,
                delimiter=found.delimiter,
                batch_rows=batch_rows,
                autoguessing=autoguessing,
                duck_config=duck_config,
            )
        )
    suffix = _SUFFIXES.get(found.format)
    if suffix and path.suffix.lower() != suffix:  # GDAL warns about (and some drivers need) the usual extension
        named = staging / f"source{suffix}"
        named.unlink(missing_ok=True)
        named.symlink_to(path.resolve())
        path = named
    return stack.enter_context(_gdal(path, found.format, batch_rows))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


def _guarded(source: Source, fmt: str, budget: Budget) -> Source:
    """The source with its batches checked against the budget and reader errors made :class:`MalformedFile`."""
    inner = source.batches

    def batches() -> Iterator[pa.RecordBatch]:
        while True:
            budget.check()
            try:
                batch = next(inner)
            except StopIteration:
                return
            except LdsError:
                raise
            except Exception as exc:  # noqa: BLE001 - see open_source
                raise MalformedFile(f"the file could not be read as {fmt}: {_reason(exc)}") from None
            yield batch

    source.batches = batches()
    return source


def to_utf8(path: Path, encoding: str, dest: Path, budget: Budget) -> Path:
    """Re-encode a text file as UTF-8, a megabyte at a time (C codecs), so every reader sees UTF-8."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with open(path, "rb") as src, open(dest, "w", encoding="utf-8", newline="") as out:
        while chunk := src.read(1 << 20):
            out.write(decoder.decode(chunk))
            budget.check()
        out.write(decoder.decode(b"", final=True))
    return dest


# --- geometry ----------------------------------------------------------------------------------------------
def storage(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The plain binary array behind a geoarrow extension array."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.storage if isinstance(array, pa.ExtensionArray) else array


def is_wgs84(crs: Any) -> bool:
    if crs is None:
        return True
    if isinstance(crs, str) and crs.strip().upper() in _WGS84_NAMES:
        return True
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    return c.equals(CRS.from_epsg(4326), ignore_axis_order=True) or c.equals(CRS.from_user_input("OGC:CRS84"))


def reprojector(crs: Any) -> Callable[[pa.Array], pa.Array] | None:
    """A function reprojecting WKB arrays from ``crs`` to EPSG:4326 (lon, lat), or None if they are already."""
    if is_wgs84(crs):
        return None
    from pyproj import CRS, Transformer

    transformer = Transformer.from_crs(CRS.from_user_input(crs), CRS.from_epsg(4326), always_xy=True)

    def reproject(wkb: pa.Array) -> pa.Array:
        geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
        moved = shapely.transform(geoms, lambda xy: _xy(transformer, xy))
        return pa.array(shapely.to_wkb(moved), pa.binary())

    return reproject


def _xy(transformer: Any, xy: Any) -> Any:
    import numpy as np

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def crs_name(crs: Any) -> str:
    if isinstance(crs, dict):
        ident = crs.get("id") or {}
        return f"{ident.get('authority', '')}:{ident.get('code', '')}" if ident else str(crs.get("name", "custom"))
    return str(crs)[:80]


# --- GDAL (pyogrio) ---------------------------------------------------------------------------------------------
@contextmanager
def _gdal(path: Path, fmt: str, batch_rows: int) -> Iterator[Source]:
    import pyogrio

    layers = pyogrio.list_layers(path)
    if len(layers) == 0:
        raise MalformedFile(f"the {fmt} file has no layer")
    notes = []
    layer = str(layers[0][0])
    if len(layers) > 1:
        counts = [(str(name), pyogrio.read_info(path, layer=str(name)).get("features", 0)) for name, _ in layers]
        layer = next((name for name, n in counts if n), layer)
        notes.append(f"{len(layers)} layers ({', '.join(n for n, _ in counts[:10])}); imported {layer!r}")
    with pyogrio.open_arrow(path, layer=layer, batch_size=batch_rows, use_pyarrow=True) as (meta, reader):
        geom_name = meta.get("geometry_name") or "wkb_geometry"
        has_geom = meta.get("geometry_type") is not None and geom_name in reader.schema.names
        crs = meta.get("crs")
        if has_geom and crs is None:
            notes.append("the file names no CRS: coordinates taken as EPSG:4326")
        move = reprojector(crs) if has_geom else None
        if move is not None:
            notes.append(f"reprojected from {crs_name(crs)} to EPSG:4326")
        attrs = [f for f in reader.schema if f.name != geom_name]
        schema = pa.schema(attrs + ([pa.field(GEOM, pa.binary())] if has_geom else []))

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                columns = [batch.column(f.name) for f in attrs]
                if has_geom:
                    wkb = storage(batch.column(geom_name))
                    columns.append(move(wkb) if move is not None else wkb.cast(pa.binary()))
                yield pa.RecordBatch.from_arrays(columns, schema=schema)

        yield Source(schema, batches(), notes)


# --- GeoParquet (pyarrow) -----------------------------------------------------------------------------------------
def _geo_metadata(path: Path) -> dict | None:
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # noqa: BLE001 - not readable: the table reader reports why
        return None
    raw = meta.get(b"geo")
    if not raw:
        return None
    try:
        geo = json.loads(raw)
    except ValueError:
        return None
    return geo if isinstance(geo, dict) and isinstance(geo.get("columns"), dict) else None


def _geoparquet(path: Path, batch_rows: int) -> Source:
    geo = _geo_metadata(path) or {}
    pf = pq.ParquetFile(path)
    primary = geo.get("primary_column") or next(iter(geo["columns"]))
    notes = []
    columns = geo["columns"]
    for name, spec in columns.items():
        if str(spec.get("encoding", "WKB")).upper() != "WKB":
            raise MalformedFile(
                f"GeoParquet column {name!r} uses the {spec.get('encoding')!r} encoding; only WKB is imported"
            )
    spec = columns.get(primary, {})
    crs = spec.get("crs", "OGC:CRS84")  # GeoParquet: no crs key = OGC:CRS84; null = unknown (taken as 4326)
    move = reprojector(crs)
    if move is not None:
        notes.append(f"reprojected from {crs_name(crs)} to EPSG:4326")
    others = [n for n in columns if n != primary]
    if others:
        notes.append(f"other geometry columns kept as WKT text: {', '.join(others)}")
    attrs = [f for f in pf.schema_arrow if f.name != primary]
    fields = [pa.field(f.name, pa.string()) if f.name in others else f for f in attrs]
    schema = pa.schema(fields + [pa.field(GEOM, pa.binary())])

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in pf.iter_batches(batch_size=batch_rows):
            out = []
            for f in attrs:
                col = batch.column(f.name)
                if f.name in others:
                    col = pa.array(
                        shapely.to_wkt(shapely.from_wkb(storage(col).to_numpy(zero_copy_only=False))), pa.string()
                    )
                out.append(col)
            wkb = storage(batch.column(primary)).cast(pa.binary())
            out.append(move(wkb) if move is not None else wkb)
            yield pa.RecordBatch.from_arrays(out, schema=schema)

    return Source(schema, batches(), notes)
