"""The ``table`` model: a sorted page of the filtered source and the number of rows it has."""

from __future__ import annotations

from typing import Any

from lds.errors import BadRequest
from lds.models.context import ModelContext, int_param

DEFAULT_LIMIT = 10  # the client's default page size (widget-remote-source.ts getTable)
_TOTAL = "_lds_total"


def table(ctx: ModelContext, params: dict[str, Any]) -> dict[str, Any]:
    """``limit`` rows from ``offset`` of the ``column`` list (every column when absent), ordered by ``sortBy``
    ``sortDirection``: ``{"rows": [...], "metadata": {"total": n}}``, ``total`` counting every filtered row."""
    columns = params.get("column", params.get("columns"))
    if isinstance(columns, str):
        columns = [columns]
    if columns in (None, []):
        select = "*"
    elif isinstance(columns, list) and len(columns) <= 1000:
        select = ", ".join(ctx.column(c, "column") for c in dict.fromkeys(columns) if isinstance(c, str)) or "*"
        if any(not isinstance(c, str) for c in columns):
            raise BadRequest("'column' must be an array of column names")
    else:
        raise BadRequest("'column' must be an array of at most 1000 column names")
    limit = int_param(params.get("limit"), "limit", default=DEFAULT_LIMIT, low=0, high=ctx.max_rows or 2**31 - 1)
    offset = int_param(params.get("offset"), "offset", default=0, high=2**62)
    order = ""
    if params.get("sortBy") not in (None, ""):
        direction = params.get("sortDirection") or "asc"
        if not isinstance(direction, str) or direction.lower() not in ("asc", "desc"):
            raise BadRequest("sortDirection must be 'asc' or 'desc'")
        order = f"\nORDER BY {ctx.column(params['sortBy'], 'sortBy')} {direction.upper()} NULLS LAST"
    bind = ctx.binder()
    scope = ctx.scope(bind)
    rows = ctx.rows(
        f'SELECT {select}, COUNT(*) OVER () AS "{_TOTAL}"\n{scope}{order}\nLIMIT {limit} OFFSET {offset}', bind
    )
    if rows:
        total = rows[0][_TOTAL]
    else:  # past the last page (or no rows): the window had nothing to count on
        bind = ctx.binder()
        total = ctx.rows(f'SELECT COUNT(*) AS "n"\n{ctx.scope(bind)}', bind)[0]["n"]
    for row in rows:
        row.pop(_TOTAL, None)
    return {"rows": rows, "metadata": {"total": total}}
