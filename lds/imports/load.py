"""Land a staged Parquet file in the destination table, all or nothing.

``carto_dw``: under the lake's write lock, one ``CREATE [OR REPLACE] TABLE ... AS SELECT`` over the
Parquet file registered as an Arrow dataset (DuckDB scans it in batches; no file access is opened to the
warehouse), geometries from WKB to ``GEOMETRY``. DuckLake commits the statement as one snapshot, so a
failure or a killed worker leaves no table (only unreferenced data files, which maintenance deletes).

PostgreSQL: one transaction on a connection of its own: ``CREATE SCHEMA IF NOT EXISTS``, a staging table,
``COPY ... FROM STDIN`` in CSV (each record batch written by Arrow's C++ CSV writer, geometries as hex
WKB that PostGIS parses), then (``overwrite``) ``DROP`` of the old table and ``ALTER TABLE ... RENAME``
to the destination, and commit. Readers keep seeing the old table until that commit; a failure, a
cancel (the statement is cancelled in the server) or a dead worker (the server rolls back) leaves none.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from lds.auth.grants import name_segments
from lds.errors import BadRequest, Conflict
from lds.imports.budget import Budget
from lds.imports.source import GEOM
from lds.imports.stage import Staged
from lds.warehouse.base import Warehouse

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_HEX_PAIRS = np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 15]], axis=1)  # byte -> 2 hex digits


@dataclass(frozen=True)
class Destination:
    """A table of a connection: ``database`` (the connection's), ``schema`` and ``table``."""

    database: str
    schema: str
    table: str

    @property
    def name(self) -> str:
        return f"{self.database}.{self.schema}.{self.table}"


def parse_destination(text: Any, database: str, default_schema: str | None = None) -> Destination:
    """``schema.table`` or ``database.schema.table`` (``database`` must be the connection's), or ``table``
    when the connection has a default schema."""
    if not isinstance(text, str) or not text.strip() or len(text) > 500:
        raise BadRequest("'destination' is required: schema.table, or database.schema.table")
    parts = name_segments(text)
    if len(parts) == 1 and default_schema:
        parts = [default_schema, *parts]
    if len(parts) == 3:
        if parts[0] != database:
            raise BadRequest(f"destination {text!r}: the connection's database is {database!r}")
        parts = parts[1:]
    if len(parts) != 2:
        raise BadRequest(f"destination {text!r} must be schema.table or {database}.schema.table")
    for part in parts:
        if not part or len(part.encode()) > 63 or any(not c.isprintable() for c in part):
            raise BadRequest(f"destination {text!r}: each name must be 1 to 63 bytes of printable characters")
    return Destination(database, parts[0], parts[1])


def load(
    warehouse: Warehouse,
    staged: Staged,
    dest: Destination,
    *,
    overwrite: bool,
    import_id: str,
    budget: Budget | None = None,
    on_cancel: Any = None,
    lock_timeout_s: float | None = None,
) -> None:
    """Create ``dest`` from ``staged`` in ``warehouse`` (see the module doc); Conflict if it exists and not ``overwrite``.

    ``on_cancel(fn)`` registers ``fn`` to be called from another thread when the import is cancelled.
    """
    budget = budget or Budget()
    if warehouse.provider == "carto_dw":
        _load_duck(warehouse, staged, dest, overwrite, import_id, budget, on_cancel, lock_timeout_s)
    elif warehouse.provider == "postgres":
        _load_postgres(warehouse, staged, dest, overwrite, import_id, budget, on_cancel)
    else:
        raise BadRequest(f"imports into {warehouse.provider} connections are not supported")


def _exists_message(dest: Destination) -> Conflict:
    return Conflict(f'the table {dest.schema}.{dest.table} already exists; set "overwrite": true to replace it')


# --- carto_dw --------------------------------------------------------------------------------------------------
def _load_duck(
    dw: Any,
    staged: Staged,
    dest: Destination,
    overwrite: bool,
    import_id: str,
    budget: Budget,
    on_cancel: Any,
    lock_timeout_s: float | None,
) -> None:
    from lds.warehouse.carto_dw import CATALOG

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    dw._ensure_lake()
    view = f"lds_import_{import_id}_{secrets.token_hex(4)}"
    select = ", ".join(f"ST_GeomFromWKB({q(n)}) AS {q(n)}" if n == GEOM else q(n) for n in staged.schema.names)
    with dw.write_lock(timeout_s=lock_timeout_s):  # this machine's, or a shared lake's across machines
        cur = dw._cursor(write=True)
        if on_cancel is not None:
            on_cancel(cur.interrupt)
        ok = False
        try:
            exists = cur.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = $1 AND schema_name = $2 "
                "AND table_name = $3",
                [CATALOG, dest.schema, dest.table],
            ).fetchone()[0]
            if exists and not overwrite:
                raise _exists_message(dest)
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {q(dest.schema)}")
            cur.register(view, ds.dataset(str(staged.path), format="parquet"))
            budget.check()  # a cancel from now on interrupts the statement (the callback above)
            try:
                verb = "CREATE OR REPLACE TABLE" if overwrite else "CREATE TABLE"
                cur.execute(f"{verb} {q(dest.schema)}.{q(dest.table)} AS SELECT {select} FROM {q(view)}")
            finally:
                cur.unregister(view)
            ok = True
        except duckdb.Error as exc:
            budget.check()  # interrupted by a cancel: say so
            raise BadRequest(f"carto_dw refused the import: {str(exc).strip()[:500]}") from None
        finally:
            if not ok:
                dw._drop_cursor(write=True)  # interrupted or failed: its session may be in any state


# --- PostgreSQL ----------------------------------------------------------------------------------------------------
def pg_type(t: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type (text for anything without a natural match)."""
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "real"
    if pa.types.is_float64(t):
        return "double precision"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytea"
    if pa.types.is_nested(t):
        return "jsonb"
    return "text"


def hex_strings(array: pa.Array, prefix: bytes = b"") -> pa.Array:
    """Binary values as hex text (``prefix`` before each), vectorised: a 256-entry lookup over the value bytes."""
    array = array.cast(pa.binary())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets = np.frombuffer(array.buffers()[1], np.int32)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], np.uint8) if array.buffers()[2] is not None else np.zeros(0, np.uint8)
    body = data[offsets[0] : offsets[-1]]
    hexed = _HEX_PAIRS[body].reshape(-1)
    lengths = np.diff(offsets) * 2 + len(prefix)
    if prefix:
        out = np.empty(int(lengths.sum()), np.uint8)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        for i, byte in enumerate(prefix):
            out[starts + i] = byte
        mask = np.ones(len(out), bool)
        for i in range(len(prefix)):
            mask[starts + i] = False
        out[mask] = hexed
        hexed = out
    new_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    validity = pc.is_valid(array).buffers()[1] if array.null_count else None  # re-based to offset 0, as the rest
    return pa.Array.from_buffers(
        pa.string(), len(array), [validity, pa.py_buffer(new_offsets), pa.py_buffer(hexed)], null_count=array.null_count
    )


def _csv_ready(batch: pa.RecordBatch) -> pa.Table:
    """The batch with every column in a form COPY ... (FORMAT csv) reads back exactly."""
    columns = []
    for f, col in zip(batch.schema, batch.columns, strict=True):
        t = f.type
        if f.name == GEOM:
            col = hex_strings(col)
        elif pg_type(t) == "bytea":
            col = hex_strings(col, b"\\x")
        elif pa.types.is_nested(t):
            import json

            col = pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()], pa.string())
        elif pg_type(t) == "text" and not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            try:
                col = pc.cast(col, pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                col = pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())
        elif pa.types.is_string_view(t) or pa.types.is_large_string(t):
            col = pc.cast(col, pa.string())
        columns.append(col)
    return pa.Table.from_arrays(columns, names=batch.schema.names)


def _load_postgres(
    pg: Any, staged: Staged, dest: Destination, overwrite: bool, import_id: str, budget: Budget, on_cancel: Any
) -> None:
    import psycopg
    from psycopg import sql

    target = sql.Identifier(dest.schema, dest.table)
    temp_name = f"lds_import_{import_id}"[:63]
    staging = sql.Identifier(dest.schema, temp_name)
    columns = [
        sql.SQL("{} {}").format(
            sql.Identifier(f.name), sql.SQL("geometry(Geometry, 4326)" if f.name == GEOM else pg_type(f.type))
        )
        for f in staged.schema
    ]
    names = sql.SQL(", ").join(sql.Identifier(n) for n in staged.schema.names)
    options = pacsv.WriteOptions(include_header=False, batch_size=8192)
    try:
        conn = psycopg.connect(**pg.config.connect_kwargs(pg.connect_timeout_s))
    except psycopg.Error as exc:
        raise BadRequest(f"cannot connect to PostgreSQL: {pg.scrub(str(exc).strip())}") from None
    if on_cancel is not None:
        on_cancel(lambda: conn.cancel_safe(timeout=5))
    try:
        with conn.transaction():
            if staged.has_geom and conn.execute("SELECT to_regtype('geometry')").fetchone()[0] is None:
                raise BadRequest("PostGIS is not installed in this database (CREATE EXTENSION postgis)")
            if conn.execute("SELECT to_regclass(%s)", [target.as_string(conn)]).fetchone()[0] and not overwrite:
                raise _exists_message(dest)
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(dest.schema)))
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(staging, sql.SQL(", ").join(columns)))
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(staging, names)
            with conn.cursor().copy(copy_sql) as copy:
                for batch in pq.ParquetFile(staged.path).iter_batches(batch_size=65536):
                    buf = io.BytesIO()
                    pacsv.write_csv(_csv_ready(batch), buf, options)
                    copy.write(buf.getbuffer())
                    budget.check()
            if overwrite:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging, sql.Identifier(dest.table)))
    except psycopg.errors.DuplicateTable:
        raise _exists_message(dest) from None
    except psycopg.Error as exc:
        budget.check()  # a cancel or timeout that interrupted the statement is reported as such
        raise BadRequest(f"PostgreSQL refused the import: {pg.scrub(str(exc).strip())}") from None
    finally:
        conn.close()
