"""SQL expressions a caller writes into a source's query (widgets' ``operationExp``, cells' ``aggregationExp``),
checked so that nothing but an expression over the source's own columns can get in."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from lds.errors import BadRequest
from lds.maps.source import ALIAS, Source, quote_ident
from lds.sql.access import check_sql_access
from lds.sql.query import access_scope

_SELECT_ARGS = frozenset(("expressions", "from", "from_"))  # all a checked SELECT may have: projections, FROM


def check_expression(
    text: Any,
    what: str,
    *,
    source: Source,
    many: bool = False,
    grants: Collection[Mapping[str, str]] | None = None,
    max_chars: int = 200_000,
) -> str:
    """``text``, an SQL expression (``many``: a select list) over the source's columns only, as SQL to splice.

    The statement it is meant for (``SELECT (<text>) AS value FROM <source>``, the source stood in for by its
    alias) must parse as one plain SELECT of that one source: no subquery, table, join or clause can hide in
    the text, and comments or quotes cannot reach past it. What is returned is the parsed expression written
    back by sqlglot, so what runs is what was checked, whatever the parser and the warehouse might disagree on.
    For an API access token (``grants``) every function it calls must also be one the SQL API allows.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadRequest(f"'{what}' is required: an SQL expression")
    if len(text) > 10_000 or "\x00" in text:
        raise BadRequest(f"'{what}' must be an SQL expression of at most 10000 characters")
    head = f"SELECT\n{text}\n" if many else f"SELECT (\n{text}\n) AS value"
    statement = f"{head} FROM {quote_ident(ALIAS)}"
    try:
        parsed = [s for s in sqlglot.parse(statement, read=source.dialect) if s is not None]
    except (SqlglotError, RecursionError, ValueError):
        raise BadRequest(f"'{what}' is not a valid SQL expression") from None
    root = parsed[0] if len(parsed) == 1 else None
    if (
        not isinstance(root, exp.Select)
        or any(v for k, v in root.args.items() if k not in _SELECT_ARGS)
        or not _only_alias(root)
    ):
        raise BadRequest(f"'{what}' must be an SQL expression over the source's columns")
    for projection in root.expressions:
        if projection.find(exp.Select, exp.Subquery, exp.Table, exp.Query) is not None:
            raise BadRequest(f"'{what}' must not contain subqueries or tables")
    if many:
        sql = ", ".join(p.sql(dialect=source.dialect) for p in root.expressions)
    else:
        (alias,) = root.expressions  # value AS (<text>): the parentheses hold exactly the expression
        sql = alias.this.this.sql(dialect=source.dialect)
    if grants is not None:
        check_sql_access(
            f"SELECT {sql}",
            dialect=source.dialect,
            connection_name=str(source.connection.get("name")),
            grants=grants,
            max_chars=max_chars,
            **access_scope(source.connection),
        )
    return sql


def _only_alias(root: exp.Select) -> bool:
    """Whether the statement reads exactly the one stand-in table (the source's alias), nothing else."""
    from_ = root.args.get("from_") or root.args.get("from")
    tables = list(root.find_all(exp.Table))
    return (
        isinstance(from_, exp.From)
        and len(tables) == 1
        and isinstance(from_.this, exp.Table)
        and from_.this is tables[0]
        and tables[0].name == ALIAS
        and not tables[0].args.get("db")
        and not tables[0].args.get("catalog")
        and not from_.args.get("expressions")
    )
