"""The aggregate models: ``formula``, ``category``, ``histogram``, ``range``, ``scatterplot``, ``aggregations``.

Parameters and answers are those of ``@carto/api-client``'s ``WidgetRemoteSource`` (0.5.x): the widget reads
``rows`` (and ``metadata.others`` for categories), lower-casing the keys.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from lds.errors import BadRequest
from lds.models.context import OPERATIONS, ModelContext, int_param

SCATTER_LIMIT = 500  # the client's HARD_LIMIT (widget-remote-source.ts), when it sends none
_ORDER_BY = {  # the client's own sort orders (operations/groupBy.ts getSorter)
    "frequency_desc": '"value" DESC NULLS LAST, "name" ASC NULLS LAST',
    "frequency_asc": '"value" ASC NULLS LAST, "name" ASC NULLS LAST',
    "alphabetical_asc": '"name" ASC NULLS LAST, "value" DESC NULLS LAST',
    "alphabetical_desc": '"name" DESC NULLS LAST, "value" DESC NULLS LAST',
}


def formula(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """One aggregate over the filtered source: ``{"rows": [{"value": v}]}``."""
    bind = ctx.binder()
    agg = ctx.aggregate(params.get("operation"), params.get("column"), params.get("operationExp"))
    rows = ctx.rows(f'SELECT {agg} AS "value"\n{ctx.scope(bind)}', bind)
    return {"rows": rows, "metadata": {}}


def range_(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """The smallest and largest value of a column: ``{"rows": [{"min": a, "max": b}]}``."""
    bind = ctx.binder()
    col = ctx.column(params.get("column"), "column")
    rows = ctx.rows(f'SELECT MIN({col}) AS "min", MAX({col}) AS "max"\n{ctx.scope(bind)}', bind)
    return {"rows": rows, "metadata": {}}


def category(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """One aggregate per value of ``column``, in ``orderBy`` order; with ``othersThreshold`` N only the first N
    categories, and ``metadata.others`` the same aggregate over the rows of every other category."""
    col = ctx.column(params.get("column"), "column")
    order = params.get("orderBy") or "frequency_desc"
    if order not in _ORDER_BY:
        raise BadRequest(f"orderBy must be one of {', '.join(_ORDER_BY)}")
    threshold = int_param(params.get("othersThreshold"), "othersThreshold", default=0)
    operation = params.get("operation")
    agg = ctx.aggregate(
        operation, params.get("operationColumn") or params.get("column"), params.get("operationExp"), "operationColumn"
    )
    bind = ctx.binder()
    grouped = f'SELECT {col} AS "name", {agg} AS "value"\n{ctx.scope(bind)}\nGROUP BY 1'
    if not threshold:
        return {
            "rows": ctx.rows(f"SELECT * FROM (\n{grouped}\n) AS _lds_g ORDER BY {_ORDER_BY[order]}", bind),
            "metadata": {},
        }
    ranked = (
        f'SELECT "name", "value", COUNT(*) OVER () AS "_lds_n" FROM (\n{grouped}\n) AS _lds_g '
        f"ORDER BY {_ORDER_BY[order]} LIMIT {threshold}"
    )
    rows = ctx.rows(ranked, bind)
    total = rows[0].pop("_lds_n") if rows else 0
    for row in rows[1:]:
        row.pop("_lds_n", None)
    metadata: dict[str, Any] = {}
    if total > threshold:
        metadata["others"] = _others(ctx, col, agg, rows)
    return {"rows": rows, "metadata": metadata}


def _others(ctx: ModelContext, col: str, agg: str, shown: list[dict[str, Any]]) -> Any:
    """The aggregate over the rows whose category is not among ``shown`` (NULL is a category too)."""
    bind = ctx.binder()
    names = [row["name"] for row in shown]
    conds = []
    if any(n is None for n in names):
        conds.append(f"{col} IS NOT NULL")
    kept = [bind(n) for n in names if n is not None]
    if kept:
        conds.append(f"({col} IS NULL OR {col} NOT IN ({', '.join(kept)}))")
    rows = ctx.rows(f'SELECT {agg} AS "value"\n{ctx.scope(bind, *conds)}', bind)
    return rows[0]["value"] if rows else None


def histogram(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """The aggregate per bin of ``ticks`` (bin 0 below the first tick, bin i from tick i-1 up to tick i,
    bin N from the last tick up), empty bins left out: ``{"rows": [{"tick": i, "value": v}]}``."""
    col = ctx.column(params.get("column"), "column")
    ticks = params.get("ticks")
    if not isinstance(ticks, list) or not ticks:
        raise BadRequest("'ticks' must be a non-empty array of numbers in ascending order")
    if len(ticks) > ctx.max_values:
        raise BadRequest(f"'ticks' has more than {ctx.max_values} values (setting filter_max_values)")
    for t in ticks:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise BadRequest("'ticks' must be finite numbers")
    if any(b < a for a, b in itertools.pairwise(ticks)):
        raise BadRequest("'ticks' must be in ascending order")
    operation = params.get("operation") or "count"
    if operation == "custom":
        raise BadRequest("histogram operations are count, avg, min, max and sum")
    bind = ctx.binder()
    agg = ctx.aggregate(operation, params.get("column"))
    bins = " ".join(f"WHEN {col} < {bind(t)} THEN {i}" for i, t in enumerate(ticks))
    sql = (
        f'SELECT CASE {bins} ELSE {len(ticks)} END AS "tick", {agg} AS "value"\n'
        f"{ctx.scope(bind, f'{col} IS NOT NULL')}\nGROUP BY 1 ORDER BY 1"
    )
    return {"rows": ctx.rows(sql, bind), "metadata": {}}


def scatterplot(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """Up to ``limit`` (x, y) pairs of rows where both columns have values: ``{"rows": [{"x", "y"}]}``."""
    x = ctx.column(params.get("xAxisColumn"), "xAxisColumn")
    y = ctx.column(params.get("yAxisColumn"), "yAxisColumn")
    limit = int_param(params.get("limit"), "limit", default=SCATTER_LIMIT, low=1, high=ctx.max_rows or 2**31 - 1)
    bind = ctx.binder()
    sql = f'SELECT {x} AS "x", {y} AS "y"\n{ctx.scope(bind, f"{x} IS NOT NULL", f"{y} IS NOT NULL")}\nLIMIT {limit}'
    return {"rows": ctx.rows(sql, bind), "metadata": {}}


def aggregations(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """Several aggregates in one row: ``aggregations`` as ``[{column, operation, alias}]`` or an SQL select list
    (``"sum(pop) AS pop, avg(age) AS age"``)."""
    spec = params.get("aggregations")
    bind = ctx.binder()
    if isinstance(spec, str):
        select = ctx.expression(spec, "aggregations", many=True)
    elif isinstance(spec, list) and spec:
        if len(spec) > 1000:
            raise BadRequest("'aggregations' lists more than 1000 aggregates")
        parts = []
        for i, item in enumerate(spec):
            if not isinstance(item, dict):
                raise BadRequest(f"aggregations[{i}] must be an object {{column, operation, alias}}")
            operation = item.get("operation")
            if operation not in OPERATIONS or operation == "custom":
                raise BadRequest(f"aggregations[{i}].operation must be one of count, avg, min, max, sum")
            alias = item.get("alias") or f"{operation}_{item.get('column') or 'all'}"
            parts.append(
                f"{ctx.aggregate(operation, item.get('column'), what=f'aggregations[{i}].column')} "
                f"AS {ctx.column(alias, f'aggregations[{i}].alias')}"
            )
        select = ", ".join(parts)
    else:
        raise BadRequest("'aggregations' must be a non-empty array of {column, operation, alias} or an SQL list")
    return {"rows": ctx.rows(f"SELECT\n{select}\n{ctx.scope(bind)}", bind), "metadata": {}}
