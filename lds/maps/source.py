"""A table or query source over a connection, with the caller's grants checked (Maps API and SQL Model API).

CARTO names a source by ``type`` (``table`` with a ``name``, ``query`` with ``q`` and ``queryParameters``)
plus ``spatialDataColumn``/``spatialDataType``/``columns``. :func:`open_source` checks it and returns a
:class:`Source` whose :meth:`Source.from_sql` is a ``FROM`` item to build statements on, and whose
:meth:`Source.binder` hands out placeholders for more bound values that continue the source's own
``queryParameters`` (positional ``$n`` after an array, named ``$lds_n`` beside an object).

Grants are the SQL API's (:func:`lds.sql.access.check_sql_access`): an API access token may map a table its
table or wildcard grants cover (checked as ``SELECT * FROM <table>``, so names resolve exactly as in SQL), or
a query that is the exact text of a SQL grant or a read-only query over granted tables. Only the checked
inner text is the caller's; the statements around it are ours, and token statements run read-only.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from lds.errors import BadRequest
from lds.sql.access import check_sql_access, dialect_for
from lds.sql.query import access_scope
from lds.warehouse import Column, Query, Warehouse

KINDS = ("table", "query")
SPATIAL_TYPES = ("geo", "h3", "quadbin")
DEFAULT_SPATIAL_COLUMN = "geom"
ALIAS = "_lds_src"  # the alias of the source in every statement built on it
MAX_NAME_CHARS = 1024
MAX_COLUMNS = 1000

_PLAIN_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_TRAILING = re.compile(r"[\s;]+$")


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted identifier (DuckDB and PostgreSQL alike); NUL refused."""
    if not isinstance(name, str) or not name or "\x00" in name or len(name) > MAX_NAME_CHARS:
        raise BadRequest(f"not a valid column or table name: {str(name)[:60]!r}")
    return '"' + name.replace('"', '""') + '"'


def table_sql(name: str, dialect: str) -> str:
    """A table name as CARTO clients send it (``db.schema.table``, ``schema.table``, ``table``; segments
    optionally double-quoted) as a safely quoted qualified name. Unquoted segments must be plain identifiers
    and are lower-cased, as both engines fold them; quoted ones are kept as written."""
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("'name' is required for a table source: the table's qualified name")
    if len(name) > MAX_NAME_CHARS or "\x00" in name:
        raise BadRequest(f"'name' must be a table name of at most {MAX_NAME_CHARS} characters")
    segments: list[str] = []
    i, text = 0, name.strip()
    while True:
        if text.startswith('"', i):
            j, value = i + 1, []
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise BadRequest(f"table name {name[:60]!r} has an unterminated quoted segment")
                value.append(text[j:k])
                if text.startswith('""', k):
                    value.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            segment = "".join(value)
            if not segment:
                raise BadRequest(f"table name {name[:60]!r} has an empty segment")
            segments.append(segment)
        else:
            m = _PLAIN_SEGMENT.match(text, i)
            if not m:
                raise BadRequest(
                    f'not a table name: {name[:60]!r} (segments are plain names or "quoted" names, joined by dots)'
                )
            segments.append(m.group(0).lower())
            i = m.end()
        if i == len(text):
            break
        if text[i] != ".":
            raise BadRequest(f"not a table name: {name[:60]!r} (segments are joined by dots)")
        i += 1
    if len(segments) > 3:
        raise BadRequest(f"table name {name[:60]!r} has more than three segments (database.schema.table)")
    return ".".join(quote_ident(s) for s in segments)


def parse_columns(value: Any) -> tuple[str, ...] | None:
    """``columns`` as sent (``"a,b"``, or a JSON array in a body) -> names; None means every column."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        names = [c.strip() for c in value.split(",")]
    elif isinstance(value, list) and all(isinstance(c, str) for c in value):
        names = [c.strip() for c in value]
    else:
        raise BadRequest("'columns' must be a comma-separated list of column names")
    names = [n for n in names if n]
    if len(names) > MAX_COLUMNS:
        raise BadRequest(f"'columns' lists more than {MAX_COLUMNS} columns")
    for n in names:
        quote_ident(n)
    return tuple(dict.fromkeys(names)) or None


class Binder:
    """Placeholders for values the driver binds, continuing a source's ``queryParameters``.

    Call it with a value to get its placeholder; :attr:`params` is what to pass to ``Warehouse.query``.
    Positional (``$1, $2``) unless the source's parameters are named (a DuckDB object), then ``$lds_1``...
    """

    def __init__(self, base: Any = None):
        self.named = isinstance(base, Mapping)
        self._named: dict[str, Any] = dict(base) if self.named else {}
        self._list: list[Any] = [] if self.named else list(base or [])

    def __call__(self, value: Any) -> str:
        if self.named:
            n = len(self._named) + 1
            while f"lds_{n}" in self._named:
                n += 1
            self._named[f"lds_{n}"] = value
            return f"$lds_{n}"
        self._list.append(value)
        return f"${len(self._list)}"

    @property
    def params(self) -> list[Any] | dict[str, Any] | None:
        if self.named:
            return self._named
        return self._list or None


@dataclass(frozen=True)
class Source:
    """A checked source: the relation to read, its bound values, and how its statements must run."""

    kind: str  # "table" | "query"
    connection: Mapping[str, Any]
    warehouse: Warehouse
    dialect: str  # "duckdb" | "postgres"
    relation: str  # table: the quoted qualified name; query: the SQL text to run (a matched grant's own text)
    params: Any = None  # the query's queryParameters (array or object), None for a table
    read_only: bool = False  # an API access token's source: every statement runs read-only
    spatial_column: str = DEFAULT_SPATIAL_COLUMN
    spatial_type: str = "geo"
    columns: tuple[str, ...] | None = None
    caller: Any = field(default=None, compare=False)  # (token id, grants) for cache keys; None for the admin

    def from_sql(self, alias: str = ALIAS) -> str:
        """The source as a ``FROM`` item named ``alias`` (a query as a subquery; a newline before the closing
        parenthesis, so a trailing ``--`` comment cannot swallow it)."""
        if self.kind == "table":
            return f"{self.relation} AS {quote_ident(alias)}"
        return f"(\n{self.relation}\n) AS {quote_ident(alias)}"

    def binder(self) -> Binder:
        """A fresh binder that starts after the source's own parameters."""
        return Binder(self.params)

    def run(self, sql: str, params: Any = None, *, timeout_s: float | None, max_rows: int | None = None) -> Query:
        """``sql`` (built on :meth:`from_sql`, values from :meth:`binder`) as a warehouse statement."""
        return self.warehouse.query(sql, params, timeout_s=timeout_s, max_rows=max_rows, read_only=self.read_only)

    def schema(self, *, timeout_s: float | None) -> list[Column]:
        """The source's columns (a ``LIMIT 0`` read: nothing is scanned)."""
        sql = f"SELECT * FROM {self.from_sql()} LIMIT 0"
        with self.run(sql, self.params, timeout_s=timeout_s) as q:
            for _ in q.batches():
                pass
            return list(q.schema)

    @property
    def geo_sql(self) -> str:
        """The spatial column, qualified by the source's alias."""
        return f"{quote_ident(ALIAS)}.{quote_ident(self.spatial_column)}"

    def identity(self, *extra: Any) -> str:
        """A short hash naming this source (connection, text, values, columns, spatial settings) plus ``extra``."""
        key = json.dumps(
            [
                self.connection.get("id"),
                self.connection.get("updated_at"),
                self.kind,
                self.relation,
                self.params,
                self.spatial_column,
                self.spatial_type,
                self.columns,
                *extra,
            ],
            ensure_ascii=True,
            default=str,
            sort_keys=True,
        )
        return hashlib.sha256(key.encode()).hexdigest()[:32]


_checks: OrderedDict[str, str] = OrderedDict()
_checks_lock = threading.Lock()
CHECK_CACHE_ENTRIES = 512


def _checked(
    sql: str,
    dialect: str,
    connection_name: str,
    grants: Collection[Mapping[str, str]],
    max_chars: int,
    scope: Mapping[str, Any],
) -> str:
    """:func:`check_sql_access`'s verdict, remembered per process for the same text, grants and scope (a map
    asks for many tiles of one source: the parse runs once). Refusals are not remembered: they raise."""
    key = hashlib.sha256(
        json.dumps(
            [sql, dialect, connection_name, list(grants), max_chars, scope], sort_keys=True, default=str
        ).encode()
    ).hexdigest()
    with _checks_lock:
        found = _checks.get(key)
        if found is not None:
            _checks.move_to_end(key)
            return found
    access = check_sql_access(
        sql, dialect=dialect, connection_name=connection_name, grants=grants, max_chars=max_chars, **scope
    )
    with _checks_lock:
        _checks[key] = access.sql
        while len(_checks) > CHECK_CACHE_ENTRIES:
            _checks.popitem(last=False)
    return access.sql


def open_source(
    connection: Mapping[str, Any],
    warehouse: Warehouse,
    kind: str,
    text: Any,
    *,
    params: Any = None,
    grants: Collection[Mapping[str, str]] | None = None,
    spatial_column: Any = None,
    spatial_type: Any = None,
    columns: Any = None,
    caller: Any = None,
    max_chars: int = 200_000,
) -> Source:
    """Check a source and the caller's right to read it; return it ready to build statements on.

    ``kind`` is ``table`` (``text`` the table name) or ``query`` (``text`` the SQL, ``params`` its decoded
    ``queryParameters``). ``grants`` None means the admin token (anything, read-write); otherwise the source
    must pass the SQL API's grant check (403 if not) and statements run read-only. ``max_chars`` is the
    setting ``sql_token_max_chars``.
    """
    if kind not in KINDS:
        raise BadRequest(f"source type must be one of {', '.join(KINDS)}, got {str(kind)[:40]!r}")
    dialect = dialect_for(str(connection.get("provider_id")))
    spatial_column = DEFAULT_SPATIAL_COLUMN if spatial_column in (None, "") else spatial_column
    if not isinstance(spatial_column, str):
        raise BadRequest("'spatialDataColumn' must be a column name")
    quote_ident(spatial_column)
    spatial_type = "geo" if spatial_type in (None, "") else spatial_type
    if spatial_type not in SPATIAL_TYPES:
        raise BadRequest(f"'spatialDataType' must be one of {', '.join(SPATIAL_TYPES)}, got {str(spatial_type)[:40]!r}")
    cols = parse_columns(columns)
    if kind == "table":
        if params not in (None, [], {}):
            raise BadRequest("queryParameters apply to query sources only")
        relation, params = table_sql(text, dialect), None
        checked = f"SELECT * FROM {relation}"
    else:
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("'q' is required for a query source: the SQL text")
        if "\x00" in text:
            raise BadRequest("'q' must not contain NUL characters")
        if params is not None and not isinstance(params, (list, dict)):
            raise BadRequest("queryParameters must be an array (positional $1, $2) or an object (named $name)")
        if isinstance(params, dict) and dialect == "postgres":
            raise BadRequest("queryParameters must be an array for this connection (positional $1, $2, ...)")
        relation = checked = text
    if grants is not None:
        relation_checked = _checked(
            checked, dialect, str(connection.get("name")), grants, max_chars, access_scope(connection)
        )
        if kind == "query":
            relation = relation_checked
    if kind == "query":
        relation = _TRAILING.sub("", relation)
        if not relation:
            raise BadRequest("'q' is empty")
    return Source(
        kind=kind,
        connection=connection,
        warehouse=warehouse,
        dialect=dialect,
        relation=relation,
        params=params or None,
        read_only=grants is not None,
        spatial_column=spatial_column,
        spatial_type=spatial_type,
        columns=cols,
        caller=caller,
    )
