"""What every model needs: the checked source, its filters as a WHERE clause, limits, and the way to run.

The statements are ours; the client supplies only values (always bound), column names (always quoted) and,
for ``custom`` operations and string ``aggregations``, SQL expressions, which :func:`check_expression`
proves are expressions over the source's columns and nothing more before they are spliced in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from lds.errors import BadRequest
from lds.maps.expressions import check_expression
from lds.maps.filters import DEFAULT_MAX_VALUES, where_sql
from lds.maps.source import Binder, Source, quote_ident

OPERATIONS = ("count", "avg", "min", "max", "sum", "custom")


@dataclass
class ModelContext:
    """One request's source and filters, with the limits its statements run under."""

    source: Source
    filters: Any = None
    logical_operator: Any = "and"
    spatial_filters: Any = None
    timeout_s: float | None = None
    max_rows: int | None = None
    max_values: int = DEFAULT_MAX_VALUES
    grants: Collection[Mapping[str, str]] | None = None  # None: the admin token
    max_chars: int = 200_000
    spatial_filters_mode: Any = None  # h3/quadbin sources: intersects (default), contains, center

    @property
    def dialect(self) -> str:
        return self.source.dialect

    def binder(self) -> Binder:
        """A fresh binder for one statement (it starts after the source's own ``queryParameters``)."""
        return self.source.binder()

    def scope(self, bind: Binder, *conditions: str) -> str:
        """``FROM <source> [WHERE <filters> AND <conditions>]`` for one statement, values bound through ``bind``."""
        where = where_sql(
            bind,
            dialect=self.dialect,
            filters=self.filters,
            logical_operator=self.logical_operator,
            spatial_filters=self.spatial_filters,
            spatial_data_type=self.source.spatial_type,
            max_values=self.max_values,
            cells=self._cells,
            spatial_filters_mode=self.spatial_filters_mode,
        )
        conds = [c for c in (where, *conditions) if c]
        text = f"FROM {self.source.from_sql()}"
        if conds:
            text += "\nWHERE " + " AND ".join(f"({c})" for c in conds)
        return text

    def _cells(self) -> tuple[str, int, Any]:
        """An h3/quadbin source's cell ids as SQL, its cells' resolution and extent (polygon spatial filters)."""
        from lds.maps.cells import cell_layout, data_extent  # lds.maps.cells checks expressions with this module

        version = self.source.warehouse.data_version()
        layout = cell_layout(self.source, version, timeout_s=self.timeout_s)
        return layout.cell, layout.resolution, data_extent(self.source, layout, version, timeout_s=self.timeout_s)

    def rows(self, sql: str, bind: Binder, *, max_rows: int | None = None) -> list[dict[str, Any]]:
        """The statement's rows as dicts (JSON-ready values), at most ``max_rows`` (the setting by default)."""
        limit = self.max_rows if max_rows is None else max_rows
        with self.source.run(sql, bind.params, timeout_s=self.timeout_s, max_rows=limit) as query:
            out: list[dict[str, Any]] = []
            for batch in query.batches():
                names = [c.name for c in query.schema]
                out.extend(dict(zip(names, row, strict=False)) for row in batch)
            return out

    def column(self, name: Any, what: str) -> str:
        """A column the client named, quoted; 400 when it is missing or not a name."""
        if not isinstance(name, str) or not name:
            raise BadRequest(f"'{what}' is required: a column name")
        return quote_ident(name)

    def aggregate(self, operation: Any, column: Any, expression: Any = None, what: str = "column") -> str:
        """``operation`` over ``column`` as an SQL aggregate (``count`` counts rows, as the client's own does)."""
        op = "count" if operation in (None, "") else operation
        if op not in OPERATIONS:
            raise BadRequest(f"operation must be one of {', '.join(OPERATIONS)}, got {str(op)[:40]!r}")
        if op == "count":
            return "COUNT(*)"
        if op == "custom":
            return "(\n" + self.expression(expression, "operationExp") + "\n)"
        if column in (None, "", "*"):
            raise BadRequest(f"operation {op!r} needs '{what}': a column name")
        return f"{op.upper()}({self.column(column, what)})"

    def expression(self, text: Any, what: str, *, many: bool = False) -> str:
        """A client's SQL expression (``many``: a select list), checked; see :func:`check_expression`."""
        return check_expression(text, what, source=self.source, many=many, grants=self.grants, max_chars=self.max_chars)


def int_param(value: Any, what: str, *, default: int | None = None, low: int = 0, high: int = 2**31 - 1) -> int | None:
    """An integer parameter within [low, high] (integral floats accepted, as JSON has one number type)."""
    if value is None or value == "":
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"'{what}' must be an integer from {low} to {high}")
    return value


