"""GeoParquet 1.1 writing with pyarrow, and the DuckDB copy of the tables that ``carto_dw`` attaches.

Geometries are WKB (points made straight from numpy arrays, lines and polygons by shapely), in longitude and
latitude on WGS 84 (``crs`` is EPSG:4326's PROJJSON), each with a ``bbox`` covering column (GeoParquet 1.1's
struct of ``xmin, ymin, xmax, ymax``) so readers can skip row groups outside a window. Rows are written in
batches as they are made, so a large table is never held whole as Python objects.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

GEOPARQUET_VERSION = "1.1.0"
ROW_GROUP_ROWS = 100_000  # rows per Parquet row group (and per batch the tables module makes)
BBOX_TYPE = pa.struct([(k, pa.float64()) for k in ("xmin", "ymin", "xmax", "ymax")])
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])  # 21 bytes, packed


@cache
def _crs() -> dict:
    import pyproj

    return pyproj.CRS.from_epsg(4326).to_json_dict()


def row_slices(n: int) -> Iterator[slice]:
    """Consecutive row ranges of ``ROW_GROUP_ROWS``: the batches a table is made and written in."""
    for start in range(0, n, ROW_GROUP_ROWS):
        yield slice(start, min(n, start + ROW_GROUP_ROWS))


def point_wkb(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    """Little-endian WKB points from coordinate arrays, without a Python object per point."""
    n = len(lon)
    rec = np.empty(n, dtype=_WKB_POINT)
    rec["order"], rec["type"], rec["x"], rec["y"] = 1, 1, lon, lat
    offsets = np.arange(0, 21 * (n + 1), 21, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(rec.tobytes())])


def geometry_wkb(geoms: np.ndarray) -> pa.Array:
    """WKB of an array of shapely geometries (None stays null)."""
    return pa.array(shapely.to_wkb(geoms, byte_order=1), type=pa.binary())


def bbox_column(xmin, ymin, xmax, ymax, valid: np.ndarray | None = None) -> pa.StructArray:
    """The covering ``bbox`` struct column; rows where ``valid`` is False are null."""
    fields = [pa.array(np.asarray(a, dtype=np.float64)) for a in (xmin, ymin, xmax, ymax)]
    mask = None if valid is None else pa.array(~np.asarray(valid, dtype=bool))
    return pa.StructArray.from_arrays(fields, fields=list(BBOX_TYPE), mask=mask)


def geometry_bbox(geoms: np.ndarray) -> pa.StructArray:
    return bounds_bbox(shapely.bounds(geoms))


def bounds_bbox(bounds: np.ndarray) -> pa.StructArray:
    """The ``bbox`` column of geometries' bounds (rows of xmin, ymin, xmax, ymax; NaN for a null geometry)."""
    return bbox_column(*bounds.T, valid=~np.isnan(bounds[:, 0]))


def geo_metadata(columns: dict[str, list[str]], bbox: list[float] | None) -> dict:
    """The ``geo`` file metadata: ``columns`` maps each geometry column to its geometry types; the first is
    primary and carries the ``bbox`` covering column."""
    meta: dict = {"version": GEOPARQUET_VERSION, "primary_column": next(iter(columns)), "columns": {}}
    for i, (name, types) in enumerate(columns.items()):
        col: dict = {"encoding": "WKB", "geometry_types": types, "crs": _crs(), "edges": "planar"}
        if i == 0:
            if bbox is not None:
                col["bbox"] = [float(v) for v in bbox]
            col["covering"] = {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}}
        meta["columns"][name] = col
    return meta


def write_geoparquet(
    path: Path,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    geometry: dict[str, list[str]],
    bbox: list[float] | None,
) -> int:
    """Write ``batches`` (of ``schema``, with a ``bbox`` struct column) as one GeoParquet file; returns the row count.

    Each batch is encoded and compressed on a thread (Arrow's writer runs without the GIL) while the next is made:
    the writes were a fifth of the tables stage, which often ends a build alone."""
    meta = {**(schema.metadata or {}), b"geo": json.dumps(geo_metadata(geometry, bbox)).encode()}
    rows = 0
    with pq.ParquetWriter(path, schema.with_metadata(meta), compression="zstd") as writer, \
            ThreadPoolExecutor(1) as pool:
        pending = None
        for batch in batches:
            if batch.num_rows:
                if pending is not None:
                    pending.result()  # in order, one at a time: the file's row groups are the batches
                pending = pool.submit(writer.write_batch, batch, row_group_size=ROW_GROUP_ROWS)
                rows += batch.num_rows
        if pending is not None:
            pending.result()
    return rows


def coords_bbox(lon: np.ndarray, lat: np.ndarray) -> list[float] | None:
    if not len(lon):
        return None
    return [float(np.nanmin(lon)), float(np.nanmin(lat)), float(np.nanmax(lon)), float(np.nanmax(lat))]


def write_duckdb(db_path: Path, parquet: dict[str, Path], comments: dict[str, str], memory_mb: int = 1024) -> None:
    """Copy each GeoParquet file into a table of a new DuckDB file (geometry columns as GEOMETRY, the ``bbox``
    covering column left out: DuckDB keeps its own statistics), DuckDB using at most ``memory_mb`` MiB (it spills
    to a temporary dir beside the file past that; its default would be 80 % of the machine)."""
    from lds.warehouse.duck_ext import load_extensions, sql_string

    tmp = db_path.with_name(db_path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    spill = db_path.with_name(db_path.name + ".spill")
    con = duckdb.connect(str(tmp), config={"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                                           "memory_limit": f"{int(memory_mb)}MB", "temp_directory": str(spill)})
    try:
        load_extensions(con)
        for name, path in parquet.items():
            con.execute(
                f"CREATE TABLE main.{name} AS SELECT * EXCLUDE (bbox) FROM read_parquet({sql_string(str(path))})"
            )
            if comments.get(name):
                con.execute(f"COMMENT ON TABLE main.{name} IS {sql_string(comments[name])}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    tmp.rename(db_path)
