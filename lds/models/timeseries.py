"""The ``timeseries`` model: an aggregate per time step of a date/timestamp column, optionally per category.

Steps are computed in UTC, as the client's own grouping does (operations/groupByDate.ts): ``year``, ``month``,
``week`` (from Monday), ``day``, ``hour``, ``minute``, ``second``, each ``stepMultiplier`` units wide (counted
from 1970 for fixed-length steps, from year 0 for years and months). The warehouse groups rows by an integer
step number, so the SQL is the same in DuckDB and PostgreSQL whatever the column's type (DATE, TIMESTAMP,
TIMESTAMPTZ) and session time zone; the step numbers become ISO 8601 names here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lds.errors import BadRequest
from lds.models.context import ModelContext, int_param

_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_ORIGIN = {"week": 4 * 86400}  # 1970-01-05, a Monday
STEPS = ("year", "month", "week", "day", "hour", "minute", "second")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _utc(col: str, dialect: str) -> str:
    """The column as a naive UTC timestamp (year and month are read from it)."""
    epoch = f"EXTRACT(EPOCH FROM {col})"
    if dialect == "postgres":
        return f"(to_timestamp({epoch}) AT TIME ZONE 'UTC')"
    return f"make_timestamp(CAST({epoch} * 1000000 AS BIGINT))"


def step_sql(col: str, step: str, multiplier: int, dialect: str) -> str:
    """The step number of ``col``: an integer that :func:`step_name` turns back into the step's start."""
    if step in _SECONDS:
        width = _SECONDS[step] * multiplier
        return f"CAST(floor((EXTRACT(EPOCH FROM {col}) - {_ORIGIN.get(step, 0)}) / {width}) AS BIGINT)"
    utc = _utc(col, dialect)
    if step == "year":
        return f"CAST(floor(EXTRACT(YEAR FROM {utc}) / {multiplier}) AS BIGINT)"
    months = f"(EXTRACT(YEAR FROM {utc}) * 12 + EXTRACT(MONTH FROM {utc}) - 1)"
    return f"CAST(floor({months} / {multiplier}) AS BIGINT)"


def step_name(number: int, step: str, multiplier: int) -> str | None:
    """The ISO 8601 UTC start (``2024-03-01T00:00:00.000Z``) of step ``number``; None out of calendar range."""
    try:
        if step in _SECONDS:
            start = _EPOCH + dt.timedelta(seconds=_ORIGIN.get(step, 0) + number * _SECONDS[step] * multiplier)
        elif step == "year":
            start = dt.datetime(number * multiplier, 1, 1, tzinfo=dt.UTC)
        else:
            year, month = divmod(number * multiplier, 12)
            start = dt.datetime(year, month + 1, 1, tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        return None
    return start.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def timeseries(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """``{"rows": [{"name": step start, "value": v[, "category": c]}], "metadata": {"categories": [...]}}``,
    rows in time order; with ``splitByCategory`` one series per category: the ``splitByCategoryValues`` given,
    else the ``splitByCategoryLimit`` categories with the largest aggregate (every category without a limit)."""
    col = ctx.column(params.get("column"), "column")
    step = params.get("stepSize")
    if step not in STEPS:
        raise BadRequest(f"stepSize must be one of {', '.join(STEPS)}")
    multiplier = int_param(params.get("stepMultiplier"), "stepMultiplier", default=1, low=1, high=1_000_000)
    agg = ctx.aggregate(
        params.get("operation"),
        params.get("operationColumn") or params.get("column"),
        params.get("operationExp"),
        "operationColumn",
    )
    key = step_sql(col, step, multiplier, ctx.dialect)
    split = params.get("splitByCategory")
    conds = [f"{col} IS NOT NULL"]
    metadata: dict[str, Any] = {}
    bind = ctx.binder()
    if split not in (None, ""):
        cat = ctx.column(split, "splitByCategory")
        categories = _categories(ctx, cat, agg, params)
        metadata["categories"] = categories
        if not categories:
            return {"rows": [], "metadata": metadata}
        conds.append(f"{cat} IN ({', '.join(bind(c) for c in categories)})")
        sql = (
            f'SELECT {key} AS "step", {cat} AS "category", {agg} AS "value"\n{ctx.scope(bind, *conds)}\n'
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
    else:
        sql = f'SELECT {key} AS "step", {agg} AS "value"\n{ctx.scope(bind, *conds)}\nGROUP BY 1 ORDER BY 1'
    rows = []
    for row in ctx.rows(sql, bind):
        row["name"] = step_name(row.pop("step"), step, multiplier)
        rows.append(
            {"name": row["name"], "value": row["value"], **({"category": row["category"]} if "category" in row else {})}
        )
    return {"rows": rows, "metadata": metadata}


def _categories(ctx: ModelContext, cat: str, agg: str, params: dict[str, Any]) -> list[Any]:
    values = params.get("splitByCategoryValues")
    if values not in (None, []):
        if not isinstance(values, list) or any(isinstance(v, (list, dict)) for v in values):
            raise BadRequest("splitByCategoryValues must be an array of category values")
        if len(values) > ctx.max_values:
            raise BadRequest(f"splitByCategoryValues has more than {ctx.max_values} values")
        return list(dict.fromkeys(v for v in values if v is not None))
    limit = int_param(
        params.get("splitByCategoryLimit"), "splitByCategoryLimit", default=None, low=1, high=ctx.max_values
    )
    bind = ctx.binder()
    top = f"\nLIMIT {limit}" if limit else ""
    sql = (
        f'SELECT {cat} AS "category", {agg} AS "value"\n{ctx.scope(bind, f"{cat} IS NOT NULL")}\n'
        f"GROUP BY 1 ORDER BY 2 DESC NULLS LAST, 1 ASC{top}"
    )
    return [row["category"] for row in ctx.rows(sql, bind, max_rows=ctx.max_values)]
