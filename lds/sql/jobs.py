"""SQL jobs (CARTO §2.4, ``POST /v3/sql/{connection}/job``): one statement run as a task on the job queue.

For work longer than a synchronous query may take, typically ``CREATE TABLE ... AS SELECT`` or ``INSERT ...
SELECT``: the statement gets the job time budget (``sql_job_timeout_s``) and no row cap; rows it returns are
counted, not kept. The grant check is the synchronous query's (:func:`lds.sql.query.checked_statement`), made
when the job is submitted so a refusal is an immediate 403; an API token's job runs read-only. A cancel of the
job cancels the statement in the warehouse (:meth:`lds.warehouse.Query.cancel`). The result is the statement's
schema, the rows it returned and the rows it wrote, when the warehouse says. No Flask here.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Collection, Mapping
from typing import Any

from lds.connections import Connections
from lds.jobs.tasks import TaskContext, TaskKind, register_task
from lds.settings import Settings
from lds.sql.query import checked_statement
from lds.warehouse import QueryCancelled, StatementTimeout, callers
from lds.warehouse.base import check_params

KIND = "sql"
_WRITES = re.compile(r"\s*(insert|update|delete|create|merge)\b", re.IGNORECASE)

_lock = threading.Lock()
_connections: dict[tuple, Connections] = {}


def _key(settings: Settings) -> tuple:
    return os.getpid(), str(settings.state_dir), settings.database_url


def use_connections(settings: Settings, connections: Connections) -> None:
    """Let SQL jobs this process runs reuse ``connections`` (the app's: its open warehouses and pools)."""
    with _lock:
        _connections.setdefault(_key(settings), connections)


def connections_for(settings: Settings) -> Connections:
    """The connections of this process for ``settings`` (a worker's own, made on first use)."""
    key = _key(settings)
    with _lock:
        found = _connections.get(key)
        if found is None:
            from lds.state.store import StateStore

            found = _connections[key] = Connections(StateStore.from_settings(settings), settings)
    return found


def job_params(
    connection: Mapping[str, Any],
    sql: Any,
    params: Any,
    *,
    grants: Collection[Mapping[str, str]] | None,
    max_chars: int,
    lds_calls: callers.LdsCalls | None,
    caller: dict[str, Any] | None,
) -> dict:
    """The task params of a SQL job, checked as the synchronous query checks its text (403, 400 now, not later)."""
    statement, read_only = checked_statement(connection, sql, grants=grants, max_chars=max_chars, lds_calls=lds_calls)
    check_params(params, named=connection.get("provider_id") == "carto_dw")
    return {
        "connection": connection["id"],
        "connectionName": connection["name"],
        "query": sql,
        "statement": statement,
        "queryParameters": params,
        "readOnly": read_only,
        "caller": caller,
    }


def run_sql_job(ctx: TaskContext) -> dict[str, Any]:
    """Run the job's statement to its end: ``{"rowCount", "affectedRows", "schema"}``; warehouse errors fail the job."""
    p, settings = ctx.params, ctx.settings
    _record, warehouse = connections_for(settings).warehouse(p["connection"])
    with callers.calling(callers.for_job(ctx.lds, settings, p.get("caller"))):
        query = warehouse.query(
            p["statement"],
            p.get("queryParameters"),
            timeout_s=settings.sql_job_timeout_s,
            max_rows=None,
            read_only=bool(p.get("readOnly")),
        )
    ctx.on_cancel(query.cancel)
    ctx.log(f"running on {p['connectionName']} (time budget {settings.sql_job_timeout_s:g} s)")
    first: tuple | None = None
    try:
        with query:
            for batch in query.batches():
                if first is None and batch:
                    first = batch[0]
            schema = [{"name": c.name, "type": c.type} for c in query.schema]
            affected = query.affected_rows()
    except QueryCancelled:
        ctx.log("the statement was cancelled in the warehouse")
        raise
    except StatementTimeout:
        raise StatementTimeout(
            f"the statement ran longer than {settings.sql_job_timeout_s:g} s (sql_job_timeout_s) "
            "and was cancelled in the warehouse"
        ) from None
    counted = first is not None and query.rowcount == 1 and [c["name"] for c in schema] == ["Count"]
    if affected is None and counted and _WRITES.match(p["statement"]):
        affected = first[0]  # DuckDB answers CREATE TABLE AS, INSERT, UPDATE, DELETE with one Count row
    ctx.log(
        f"done: {query.rowcount} row(s) returned" + (f", {affected} row(s) written" if affected is not None else "")
    )
    return {"rowCount": query.rowcount, "affectedRows": affected, "schema": schema}


register_task(TaskKind(KIND, run_sql_job, on_worker_death="fail"))  # a statement half done is not run twice
