"""One import from URL to table, and the preview of one: the steps of :mod:`lds.imports` in order.

Everything happens in a staging folder of its own under ``state_dir/imports`` that is removed at the end,
whatever happened; folders left by a killed worker are swept on the next import (older than twice the
time budget).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from lds.errors import PayloadTooLarge
from lds.imports.archives import ArchiveLimits
from lds.imports.budget import Budget
from lds.imports.detect import Detected, detect
from lds.imports.fetch import Fetched, FetchPolicy, fetch, show_url
from lds.imports.load import Destination, load
from lds.imports.readers import MalformedFile, open_source
from lds.imports.source import GEOM
from lds.imports.stage import Geocoder, Staged, clean_names, stage
from lds.warehouse.base import Warehouse
from lds.warehouse.values import geojson

Log = Callable[[str], None]
CSV_SAMPLE_ROWS = 20_480  # DuckDB's default sniffing sample: types from these rows, a second full pass if wrong


@dataclass
class ImportRequest:
    """A validated import: where from, where to, how."""

    url: str
    destination: Destination
    overwrite: bool = False
    autoguessing: bool = True
    address_column: str | None = None
    notes: list[str] = field(default_factory=list)


def staging_root(settings: Any) -> Path:
    return Path(settings.state_dir) / "imports"


@contextmanager
def staging_dir(settings: Any, name: str) -> Any:
    root = staging_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    _sweep(root, 2 * float(settings.import_timeout_s or 3600))
    path = root / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _sweep(root: Path, age_s: float) -> None:
    cutoff = time.time() - age_s
    for old in root.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def duck_config(settings: Any) -> dict[str, Any]:
    return {"threads": settings.carto_dw_threads, "memory_limit": settings.carto_dw_memory_limit}


def _download(
    url: str,
    staging: Path,
    settings: Any,
    budget: Budget,
    log: Log,
    *,
    max_bytes: int | None = None,
    truncate: bool = False,
) -> tuple[Fetched, Detected]:
    log(f"downloading {show_url(url)}")
    fetched = fetch(
        url, staging / "download", FetchPolicy.from_settings(settings, max_bytes=max_bytes), budget, truncate=truncate
    )
    redirects = f" after {len(fetched.hops)} redirect(s)" if fetched.hops else ""
    log(f"downloaded {fetched.size} bytes{redirects}" + (" (cut at the preview limit)" if fetched.truncated else ""))
    found = detect(
        fetched.path,
        staging,
        ArchiveLimits.from_settings(settings),
        budget,
        fetched.content_type,
        truncated=fetched.truncated,
    )
    log(
        f"format: {found.format}"
        + (f", delimiter {found.delimiter!r}" if found.delimiter else "")
        + (f", encoding {found.encoding}" if found.encoding else "")
    )
    return fetched, found


def _stage(
    found: Detected,
    staging: Path,
    settings: Any,
    req: ImportRequest,
    budget: Budget,
    log: Log,
    on_cancel: Callable[[Callable[[], None]], None],
    geocoder: Geocoder | None,
    sample_rows: int,
) -> Staged:
    config = {**duck_config(settings), "csv_sample_rows": sample_rows}
    with open_source(
        found,
        staging,
        batch_rows=settings.import_batch_rows,
        budget=budget,
        autoguessing=req.autoguessing,
        duck_config=config,
    ) as source:
        on_cancel(source.interrupt)
        for note in found.notes + source.notes:
            log(note)
        return stage(
            source, staging / "staged.parquet", budget, geocoder=geocoder, address_column=req.address_column, log=log
        )


def run_import(
    job_id: str,
    req: ImportRequest,
    warehouse: Warehouse,
    settings: Any,
    *,
    budget: Budget,
    log: Log,
    on_cancel: Callable[[Callable[[], None]], None],
    geocoder: Geocoder | None = None,
) -> dict[str, Any]:
    """Download, read, stage and load ``req``; the job's result (``rowsImported``, ``schema``, ``destination``)."""
    with staging_dir(settings, job_id) as staging:
        _, found = _download(req.url, staging, settings, budget, log)
        sample = -1 if geocoder is not None else CSV_SAMPLE_ROWS  # geocoding charges per row: read once
        try:
            staged = _stage(found, staging, settings, req, budget, log, on_cancel, geocoder, sample)
        except MalformedFile:
            if found.format != "csv" or sample == -1:
                raise
            log(
                "a value did not fit the column types sniffed from the first rows: reading the file again with "
                "types sniffed over all of it"
            )
            staged = _stage(found, staging, settings, req, budget, log, on_cancel, geocoder, -1)
        for note in staged.notes:
            log(note)
        budget.check()
        dest = req.destination
        log(f"loading {staged.rows} rows into {dest.name}")
        left = None if budget.deadline is None else max(1.0, budget.deadline - time.monotonic())
        load(
            warehouse,
            staged,
            dest,
            overwrite=req.overwrite,
            import_id=job_id,
            budget=budget,
            on_cancel=on_cancel,
            lock_timeout_s=left,
        )  # committed: a cancel from now on comes too late to undo it
    schema = [{"name": f.name, "type": carto_type(f.type, f.name)} for f in staged.schema]
    log(f"imported {staged.rows} rows into {dest.name}")
    return {"rowsImported": staged.rows, "schema": schema, "destination": dest.name, "format": found.format}


def carto_type(t: pa.DataType, name: str = "") -> str:
    """CARTO's schema type name for an Arrow column type."""
    if name == GEOM:
        return "geometry"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int64(t) or pa.types.is_uint64(t):
        return "bigint"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_temporal(t):
        return "timestamp"
    if pa.types.is_nested(t):
        return "object"
    return "unknown"


def preview(url: str, settings: Any, *, autoguessing: bool = True, budget: Budget | None = None) -> dict[str, Any]:
    """The columns (CARTO types), a few rows and the reading notes of the file at ``url``; nothing is written."""
    budget = budget or Budget(settings.import_timeout_s)
    logs: list[str] = []
    name = f"preview-{time.monotonic_ns()}"
    with staging_dir(settings, name) as staging:
        fetched, found = _download(
            url, staging, settings, budget, logs.append, max_bytes=settings.import_preview_bytes, truncate=True
        )
        if fetched.truncated:
            if found.format != "csv":
                raise PayloadTooLarge(
                    f"a {found.format} file is previewed whole, and this one is larger than "
                    f"{settings.import_preview_bytes} bytes (LDS_IMPORT_PREVIEW_BYTES)"
                )
            _cut_last_line(found.path)
        rows_wanted = max(1, settings.import_preview_rows)
        with open_source(
            found,
            staging,
            batch_rows=rows_wanted,
            budget=budget,
            autoguessing=autoguessing,
            duck_config=duck_config(settings),
        ) as source:
            logs += found.notes + source.notes
            schema = source.schema
            first = next(source.batches, None)
        names = [n if n == GEOM else c for n, c in zip(schema.names, clean_names(schema.names), strict=True)]
        columns = [{"name": n, "type": carto_type(f.type, f.name)} for n, f in zip(names, schema, strict=True)]
        rows = []
        if first is not None:
            table = first.slice(0, rows_wanted)
            values = {n: table.column(i).to_pylist() for i, n in enumerate(names)}
            if GEOM in values:
                values[GEOM] = geojson(values[GEOM])
            rows = [{n: _jsonable(values[n][i]) for n in names} for i in range(table.num_rows)]
    return {"format": found.format, "columns": columns, "rows": rows, "truncated": fetched.truncated, "logs": logs}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _cut_last_line(path: Path) -> None:
    """Drop the partial last line of a text file cut at a byte limit."""
    with open(path, "rb+") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - (1 << 20)))
        tail = f.read()
        cut = tail.rfind(b"\n")
        if cut >= 0:
            f.truncate(size - len(tail) + cut + 1)
