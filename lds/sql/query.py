"""Run one synchronous SQL API query (``/v3/sql/{connection}/query``) without Flask, so jobs can call it too.

The answer is all-or-nothing: rows are serialised batch by batch into JSON fragments as the warehouse streams
them (only the batch in hand is held as Python values), and nothing is sent until the last batch arrived, so
a statement that passes the row cap or the timeout half way answers with one clear 4xx, never a cut body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lds.errors import BadRequest
from lds.sql.access import check_sql_access, dialect_for
from lds.sql.formats import finite, writer_for
from lds.warehouse import Warehouse, callers


@dataclass
class SqlAnswer:
    """A finished query: its CARTO schema, ``meta`` and the rows as JSON fragments (one per batch)."""

    schema: list[dict[str, str]]
    meta: dict[str, Any]
    row_parts: list[str] = field(default_factory=list)
    writer: Any = None  # the lds.sql.formats writer of a format other than json

    def chunks(self) -> Iterator[str]:
        """The body of a ``geojson`` or ``csv`` answer, part by part; each part is released once handed out."""
        yield self.writer.head()
        parts = self.row_parts
        parts.reverse()
        while parts:
            yield parts.pop()
        yield self.writer.tail(self.meta)

    def to_json(self) -> str:
        """The SQL API body ``{"rows": [...], "schema": [...], "meta": {...}}``."""
        rows = ",".join(p for p in self.row_parts if p)
        return (f'{{"rows":[{rows}],"schema":{json.dumps(self.schema, ensure_ascii=False)},'
                f'"meta":{json.dumps(self.meta, ensure_ascii=False)}}}')


def access_scope(connection: Mapping[str, Any]) -> dict[str, Any]:
    """Where an unqualified name lands on ``connection``: the keyword arguments of ``check_sql_access``."""
    provider = connection.get("provider_id")
    if provider == "carto_dw":
        return {"default_catalog": "carto_dw", "default_schema": "main"}
    credentials = (connection.get("config") or {}).get("credentials") or {}
    schema = credentials.get("schema") or "public"
    return {"default_catalog": credentials.get("database"), "default_schema": schema,
            "search_path": list(dict.fromkeys([schema, "public"]))}


def answer_etag(connection: Mapping[str, Any], warehouse: Warehouse, caller: Any, sql: str, params: Any) -> str:
    """A strong ETag for a GET answer: same text, values and caller (id, grants) over the same warehouse data version."""
    key = json.dumps([connection.get("id"), connection.get("updated_at"), warehouse.data_version(), caller, sql,
                      params], ensure_ascii=True, default=str, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:32]  # unquoted, as werkzeug's set_etag takes it


def parse_parameters(value: Any, *, encoded: bool, max_depth: int = 64) -> Any:
    """``queryParameters`` as a JSON value: decoded from its string form on GET (``encoded``), as given in a body."""
    if value is None or (encoded and isinstance(value, str) and not value.strip()):
        return None
    if encoded:
        if not isinstance(value, str):
            raise BadRequest("queryParameters must be a JSON-encoded array or object")
        from lds import inputs

        value = inputs.decode_json(value.encode("utf-8"), max_depth)
    if value is not None and not isinstance(value, (list, dict)):
        raise BadRequest("queryParameters must be an array (positional $1, $2) or an object (named $name)")
    return value


def _rows_json(names: list[str], batch: list[tuple]) -> str:
    """One batch as the inside of a JSON array of row objects (NaN and infinities, which JSON lacks, as null)."""
    rows = [dict(zip(names, row, strict=False)) for row in batch]
    try:
        return json.dumps(rows, ensure_ascii=False, allow_nan=False, default=str)[1:-1]
    except ValueError:
        rows = finite(rows)
        return json.dumps(rows, ensure_ascii=False, allow_nan=False, default=str)[1:-1]


def checked_statement(connection: Mapping[str, Any], sql: Any, *, grants: Collection[Mapping[str, str]] | None,
                      max_chars: int = 200_000, extra_functions: Collection[str] = (),
                      lds_calls: callers.LdsCalls | None = None) -> tuple[str, bool]:
    """``(statement to run, read_only)`` for ``sql`` on ``connection``: what the synchronous query and SQL jobs run.

    ``grants`` None means the admin token: anything, read-write. Otherwise the text must pass
    :func:`check_sql_access` with those grants (Forbidden, 403, if not) and is to run read-only.
    """
    extra_functions = (*extra_functions, *callers.allowed_names(lds_calls, str(connection.get("provider_id"))))
    if not isinstance(sql, str) or not sql.strip():
        raise BadRequest("'q' is required: the SQL text to run")
    if grants is None:
        return sql, False
    access = check_sql_access(sql, dialect=dialect_for(str(connection.get("provider_id"))),
                              connection_name=str(connection.get("name")), grants=grants,
                              max_chars=max_chars, extra_functions=extra_functions, **access_scope(connection))
    return access.sql, True


def run_query(connection: Mapping[str, Any], warehouse: Warehouse, sql: Any, params: Any, *,
              timeout_s: float | None, max_rows: int | None, grants: Collection[Mapping[str, str]] | None,
              max_chars: int = 200_000, extra_functions: Collection[str] = (),
              lds_calls: callers.LdsCalls | None = None, fmt: str = "json",
              geometry_format: str = "wkt") -> SqlAnswer:
    """Run ``sql`` with ``params`` bound on ``warehouse`` (the one behind ``connection``).

    ``fmt`` ``geojson`` or ``csv`` (:mod:`lds.sql.formats`, ``geometry_format`` for csv) makes the answer's
    :meth:`SqlAnswer.chunks` that body instead of the JSON of :meth:`SqlAnswer.to_json`.

    ``grants`` None means the admin token: anything runs, read-write. Otherwise the text must pass
    :func:`check_sql_access` with those grants (Forbidden, 403, if not) and runs in a read-only transaction.
    Raises the warehouse layer's 4xx errors (SQL error, timeout, row cap). ``lds_calls``: who the LDS
    functions in SQL (carto_dw only) answer and charge; a caller allowed them may also name them past the checker.
    """
    sql, read_only = checked_statement(connection, sql, grants=grants, max_chars=max_chars,
                                       extra_functions=extra_functions, lds_calls=lds_calls)
    parts: list[str] = []
    with callers.calling(lds_calls):
        query = warehouse.query(sql, params, timeout_s=timeout_s, max_rows=max_rows, read_only=read_only)
    writer = None
    with query:
        names = [c.name for c in query.schema]
        if fmt != "json":
            writer = writer_for(fmt, query.schema, geometry_format)
        for batch in query.batches():
            parts.append(_rows_json(names, batch) if writer is None else writer.batch(batch))
        schema = [{"name": c.name, "type": c.type} for c in query.schema]
        count = query.rowcount
    return SqlAnswer(schema=schema, meta={"cacheHit": False, "totalRows": count}, row_parts=parts, writer=writer)
