"""Tables in and out: CSV/Parquet/GeoParquet read as dask DataFrames (local paths or any fsspec URL), and the
answered frame written as one GeoParquet file in row order.

Partitions are computed on the cluster all at once and written as they arrive, in input order (a partition
finished early waits in its worker's memory for the ones before it). A worker that dies mid-run loses nothing:
the scheduler runs its partitions again elsewhere (``retries`` covers exceptions such as a flaky store).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import dask.dataframe as dd
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from lds.build.geoparquet import geo_metadata
from lds.errors import BadRequest

PARTITION_ROWS = 20_000  # rows per task: the unit of progress, retry and memory per worker (lds.dask.command too)
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")
RETRIES = 3
SAMPLE_BYTES = 1 << 20
MIN_BLOCK_BYTES = 1 << 10


@dataclass
class Progress:
    """What a progress callback is told after each written partition."""

    partitions_done: int
    partitions: int
    rows_done: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows_done / self.seconds if self.seconds > 0 else 0.0


def read_table(url: str, text_columns: list[str], partition_rows: int = PARTITION_ROWS) -> dd.DataFrame:
    """A CSV (header row; ``text_columns`` read as text) or (Geo)Parquet file, directory or glob, in partitions of
    about ``partition_rows`` rows, row order kept."""
    name = url.lower().rstrip("/")
    try:
        if name.endswith(CSV_SUFFIXES):
            gz = name.endswith(".gz")  # a compressed file is one partition, split below
            ddf = dd.read_csv(
                url,
                sep="\t" if ".tsv" in name else ",",
                dtype={c: "string" for c in text_columns},
                blocksize=None if gz else _csv_blocksize(url, partition_rows),
                compression="gzip" if gz else None,
                dtype_backend="pyarrow",  # nullable types: an int column with blanks in a later block stays int
            )
            if not gz:
                return ddf
        elif name.endswith(PARQUET_SUFFIXES) or "." not in name.rsplit("/", 1)[-1]:
            ddf = dd.read_parquet(url)
        else:
            raise BadRequest(f"{url}: expected a .csv, .tsv, .parquet or .geoparquet table (or a Parquet directory)")
        wanted = max(1, -(-len(ddf) // partition_rows))
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise BadRequest(f"cannot read {url}: {exc}") from None
    if wanted != ddf.npartitions:
        ddf = ddf.repartition(npartitions=wanted)
    return ddf


def _csv_blocksize(url: str, partition_rows: int) -> int:
    """Bytes per partition for about ``partition_rows`` rows, from the mean line length of the file's first MB."""
    with fsspec.open(url, "rb") as f:
        sample = f.read(SAMPLE_BYTES)
    lines = max(1, sample.count(b"\n"))
    return max(MIN_BLOCK_BYTES, partition_rows * len(sample) // lines)


def input_geo_columns(url: str) -> dict:
    """The ``columns`` of a GeoParquet file's ``geo`` metadata (kept in the output's), {} for anything else."""
    if not url.lower().endswith(PARQUET_SUFFIXES):
        return {}
    try:
        with fsspec.open(url, "rb") as f:
            raw = (pq.read_schema(f).metadata or {}).get(b"geo")
        return dict(json.loads(raw).get("columns") or {}) if raw else {}
    except (OSError, ValueError, pa.ArrowException):
        return {}


def _geo(primary: str, types: list[str], inherited: dict) -> bytes:
    meta = geo_metadata({primary: types}, None)
    meta["columns"][primary].pop("covering", None)  # no bbox column: the rows are written as they come
    meta["columns"] = {**{k: c for k, c in inherited.items() if k != primary}, **meta["columns"]}
    for col in meta["columns"].values():
        col.pop("covering", None)  # the input's bbox covering column is kept as data, but not trusted as covering
        col.pop("bbox", None)
    return json.dumps(meta).encode()


def _stable(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    """``table`` cast to the file's schema (the first partition's, null-typed columns made text)."""
    if schema is None:
        return table
    return table if table.schema.equals(schema) else table.select(schema.names).cast(schema)


def write_geoparquet(
    client,
    ddf: dd.DataFrame,
    url: str,
    geometry: str,
    geometry_types: list[str],
    inherited_geo: dict | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> int:
    """Compute ``ddf`` on ``client`` and write it to ``url`` as one GeoParquet file, partitions in order; returns rows."""
    futures = client.compute(ddf.to_delayed(), retries=RETRIES)
    fs, path = fsspec.core.url_to_fs(url)
    try:
        with fs.open(path, "wb") as f:
            return _write_in_order(futures, f, _geo(geometry, geometry_types, inherited_geo or {}), on_progress)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.rm(path)  # no half-written file left behind
        raise
    finally:
        client.cancel(futures)


def _write_in_order(futures: list, f, geo: bytes, on_progress: Callable[[Progress], None] | None) -> int:
    t0, rows, writer, schema = time.perf_counter(), 0, None, None
    try:
        for i, future in enumerate(futures):
            part = future.result()
            future.release()
            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                fields = [pa.field(fl.name, pa.string()) if pa.types.is_null(fl.type) else fl for fl in table.schema]
                schema = pa.schema(fields, metadata={b"geo": geo})
                writer = pq.ParquetWriter(f, schema, compression="zstd")
            writer.write_table(_stable(table, schema))
            rows += table.num_rows
            if on_progress is not None:
                on_progress(Progress(i + 1, len(futures), rows, time.perf_counter() - t0))
    finally:
        if writer is not None:
            writer.close()
    return rows
