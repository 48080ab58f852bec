"""Whether an API access token may run a SQL text on a connection (the SQL API's grant check; no Flask).

A token may run
(a) the exact SQL text of one of its SQL grants on that connection: the texts are compared after
    :func:`normalise_sql` (whitespace outside literals, quoted names and comments collapsed, a trailing ``;``
    dropped, keywords and names compared exactly) *and* their token sequences must be equal, so a ``--``
    comment swallowing a grant's ``WHERE`` once the newline is gone can never pass; the grant's own text is
    what runs, its parameter values are bound by the driver; or
(b) one read-only statement (``SELECT``, ``WITH ... SELECT``, ``VALUES``, set operations of them) that
    calls only allow-listed functions and reads only tables covered by its table or wildcard grants on that
    connection. Every table is found wherever it hides (joins, subqueries in any clause, CTE bodies, set
    operations, lateral), CTE names count only where SQL makes them visible (a non-recursive CTE's own name in
    its body, a later CTE's name or a name in another subquery's ``WITH`` is a real table), and a name the
    engine could resolve in more than one place (search path, DuckDB's system catalog, catalog-vs-schema) is
    covered only when every place is.

Anything the parser (sqlglot, in the connection's dialect) cannot prove read-only and covered is refused with
:class:`~lds.errors.Forbidden` naming the first uncovered table or forbidden construct. The admin token is
decided by the caller, which skips this module. This is one of two walls: token queries also run in a
read-only transaction, and ``carto_dw`` runs with external access disabled.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from lds.auth.grants import is_sql, name_segments
from lds.errors import Forbidden

# sqlglot logs every statement it falls back to parsing as a Command, text included: hostile text stays out
logging.getLogger("sqlglot").setLevel(logging.ERROR)
log = logging.getLogger(__name__)

MAX_SQL_CHARS = 200_000  # default of setting sql_token_max_chars: longer texts are refused before parsing
MAX_NODES = 100_000  # syntax-tree nodes walked at most
PG_NAMEDATALEN = 63  # PostgreSQL truncates identifiers to 63 bytes

DIALECTS = {"carto_dw": "duckdb", "duckdb": "duckdb", "postgres": "postgres", "postgresql": "postgres"}

Name = tuple[str | None, str, str]  # (catalog, schema, table), normalised for the dialect

# --- what a read-only statement may contain --------------------------------------------------------------
_TOP_LEVEL = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
_FORBIDDEN_NODES = tuple(
    getattr(exp, n) for n in (
        "DML", "DDL", "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable",
        "Command", "Into", "Lock", "Set", "SetItem", "Pragma", "Copy", "Use", "Transaction", "Commit", "Rollback",
        "Attach", "Detach", "Install", "Export", "Describe", "Show", "Summarize", "Kill", "Execute", "Analyze",
        "Refresh", "Cache", "Uncache", "LoadData", "Comment", "Declare", "Grant", "Revoke", "Call", "Load",
    ) if isinstance(getattr(exp, n, None), type)
)
# typed sqlglot functions with an effect outside the statement (files, sequences)
_FORBIDDEN_FUNCS = tuple(
    getattr(exp, n) for n in ("ReadCSV", "ReadParquet", "ReadJSON", "NextValueFor", "ToFile")
    if isinstance(getattr(exp, n, None), type)
)
# functions sqlglot does not know, checked by name against the allow-list
_UNTYPED_FUNCS = tuple(
    getattr(exp, n) for n in ("Anonymous", "AnonymousAggFunc", "ParameterizedAgg")
    if isinstance(getattr(exp, n, None), type)
)
_TABLE_FUNC_NODES = tuple(
    getattr(exp, n) for n in ("GenerateSeries", "ExplodingGenerateSeries", "Unnest")
    if isinstance(getattr(exp, n, None), type)
)
_TABLE_FUNCS = {"generate_series", "range", "unnest", "generate_subscripts", "json_each", "jsonb_each",
                "json_each_text", "jsonb_each_text", "json_array_elements", "jsonb_array_elements",
                "json_array_elements_text", "jsonb_array_elements_text", "regexp_split_to_table"}

# Functions sqlglot does not know (parsed as Anonymous) that are pure: everything else unknown is refused,
# which is what keeps out pg_read_file, lo_import, dblink, pg_sleep, nextval, setval, set_config,
# query_to_xml, ts_stat, query/query_table, getenv, read_text, glob, st_read, json_execute_serialized_sql...
_PURE_FUNCS = frozenset(re.findall(r"\S+", """
abs ceil ceiling floor round trunc sign sqrt cbrt exp ln log log10 log2 power pow mod pi degrees radians
sin cos tan asin acos atan atan2 cot sinh cosh tanh asinh acosh atanh div gcd lcm factorial isnan isinf isfinite
greatest least coalesce nullif ifnull nvl length char_length character_length octet_length bit_length
lower upper initcap trim ltrim rtrim btrim lpad rpad left right substr substring replace reverse repeat
split_part strpos position instr contains starts_with ends_with prefix suffix concat concat_ws format printf
translate md5 sha1 sha256 hash to_hex unhex ascii chr unicode ord
regexp_replace regexp_matches regexp_match regexp_split_to_array regexp_like regexp_extract regexp_full_match
like_escape ilike_escape levenshtein damerau_levenshtein jaro_similarity jaro_winkler_similarity jaccard
to_char to_date to_timestamp to_number date_trunc date_part datepart extract age now today make_date
make_time make_timestamp make_timestamptz make_interval date_add date_sub date_diff datediff epoch epoch_ms
epoch_us strftime strptime try_strptime year month day hour minute second week dayofweek dayofyear
quarter isodow isoyear last_day monthname dayname justify_days justify_hours justify_interval timezone
array_length array_agg array_to_string string_agg string_to_array cardinality array_append array_prepend
array_cat array_position array_positions array_remove array_replace array_dims array_lower array_upper
list_value list_extract list_element list_contains list_has list_aggregate list_sort list_reverse_sort
list_distinct list_unique list_transform list_filter list_reduce list_slice list_concat list_position
list_zip len flatten struct_pack struct_extract struct_insert row map map_keys map_values map_extract
to_json to_jsonb json_agg jsonb_agg json_object_agg jsonb_object_agg row_to_json array_to_json
json_build_object json_build_array jsonb_build_object jsonb_build_array json_object json_array json_quote
json_extract json_extract_string json_extract_path json_extract_path_text jsonb_extract_path
jsonb_extract_path_text json_array_length jsonb_array_length json_typeof jsonb_typeof jsonb_pretty
jsonb_set jsonb_insert jsonb_strip_nulls json_strip_nulls json_keys json_valid json_type json_structure
json_transform json_merge_patch json_contains json_exists json_value
count sum avg min max stddev stddev_pop stddev_samp variance var_pop var_samp median mode quantile
quantile_cont quantile_disc percentile_cont percentile_disc bool_and bool_or every bit_and bit_or bit_xor
first last any_value arg_min arg_max argmin argmax min_by max_by corr covar_pop covar_samp regr_slope
regr_intercept regr_r2 histogram list approx_count_distinct approx_quantile product fsum favg kurtosis skewness
entropy count_if countif
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
typeof pg_typeof format_type to_regtype geometry geography box2d box3d postgis_version postgis_full_version
"""))
_PURE_PREFIXES = ("st_", "h3_")
# file readers/writers, out-db rasters, and PostGIS functions that read any table's statistics by name
_IMPURE_PREFIXES = ("st_read", "st_write", "st_addband", "st_setbandpath", "st_estimatedextent", "st_estimated_extent",
                    "st_findextent", "st_find_extent")

# DuckDB resolves these unqualified names (and main.<name>) in its system catalog
_DUCKDB_SYSTEM_PREFIXES = ("duckdb_", "pragma_", "sqlite_", "pg_")
_DUCKDB_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog")
_DUCKDB_CATALOGS = ("memory", "system", "temp")
# characters no plain table name needs: DuckDB reads a missing table whose name looks like a file or URL
_PATHLIKE = re.compile(r"[./\\:*?~%\[\]{}]")


@dataclass(frozen=True)
class Access:
    """A granted query: the text to run, why it is allowed, the tables it reads and functions it calls."""

    sql: str
    via: str  # "grant" (the text of a SQL grant) | "tables" (read-only, every table covered)
    tables: tuple[Name, ...] = ()
    functions: frozenset[str] = field(default_factory=frozenset)


def dialect_for(provider: str) -> str:
    """sqlglot's dialect for a connection provider (``carto_dw`` -> ``duckdb``, ``postgres``)."""
    try:
        return DIALECTS[provider]
    except KeyError:
        raise Forbidden(f"SQL checks are not available for provider {provider!r}") from None


def check_sql_access(sql: str, *, dialect: str, connection_name: str, grants: Iterable[Mapping[str, str]],
                     default_schema: str, default_catalog: str | None = None,
                     search_path: Collection[str] | None = None, catalogs: Collection[str] = (),
                     extra_functions: Collection[str] = (), max_chars: int = MAX_SQL_CHARS) -> Access:
    """Decide whether a token with ``grants`` may run ``sql`` through ``connection_name``; raise Forbidden if not.

    ``dialect`` is ``duckdb`` or ``postgres``; ``default_catalog`` the connection's database (``carto_dw``'s
    lake, PostgreSQL's database name); ``search_path`` the schemas an unqualified name is looked up in (the
    default schema alone unless given; PostgreSQL's ``pg_catalog`` is always added for ``pg_*`` names);
    ``catalogs`` other catalog names attached to a DuckDB connection; ``extra_functions`` function names this
    caller may use beyond the pure built-ins (e.g. ``lds_geocode`` for a token allowed the LDS API);
    ``max_chars`` the longest text checked (setting ``sql_token_max_chars``).
    """
    if dialect not in ("duckdb", "postgres"):
        raise Forbidden(f"SQL checks are not available for dialect {dialect!r}")
    if not isinstance(sql, str) or not sql.strip():
        raise Forbidden("the query is empty")
    if len(sql) > max_chars:
        raise Forbidden(f"queries of an API access token are limited to {max_chars} characters")
    mine = [g for g in grants if g.get("connection_name") == connection_name]
    if not mine:
        raise Forbidden(f"this token has no grant on connection {connection_name!r}")
    try:
        matched = _grant_text(sql, dialect, mine)
        if matched is not None:
            return Access(sql=matched, via="grant")
        checker = _Checker(dialect, default_schema, default_catalog, search_path, catalogs, extra_functions, mine,
                           connection_name)
        return checker.check(sql)
    except Forbidden:
        raise
    except RecursionError:
        raise Forbidden("the query is nested too deeply to be checked; only simpler read-only queries are "
                        "allowed for an API access token") from None
    except Exception as exc:  # noqa: BLE001 - whatever could not be checked is refused, never a 500
        log.warning("sql access check failed on a %s query: %s", dialect, type(exc).__name__)
        raise Forbidden("the query could not be checked as read-only; an API access token may run only single "
                        "read-only SELECT queries over granted tables") from None


# --- (a) the exact text of a SQL grant -------------------------------------------------------------------
def normalise_sql(sql: str) -> str:
    """Whitespace outside literals, quoted names and comments collapsed to one space; trailing ``;`` dropped.

    A ``--`` comment keeps its closing newline (else it would swallow what follows it); string literals
    (``'...'``, ``E'...'`` with backslash escapes, ``$tag$...$tag$``), quoted names and block comments are
    kept verbatim.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch.isspace():
            j = i
            while j < n and sql[j].isspace():
                j += 1
            out.append(" ")
            i = j
            continue
        if ch in "'\"`":
            escapes = ch == "'" and i > 0 and sql[i - 1] in "eE" and (i < 2 or not (sql[i - 2].isalnum()
                                                                               or sql[i - 2] == "_"))
            j = i + 1
            while j < n:
                if escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
            continue
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j + 1
            out.append(sql[i:j].rstrip("\r\n") + "\n")
            while j < n and sql[j].isspace():  # the newline already separates what follows
                j += 1
            i = j
            continue
        if sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(sql[i:j])
            i = j
            continue
        if ch == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if m and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
                end = sql.find(m.group(0), i + len(m.group(0)))
                j = n if end < 0 else end + len(m.group(0))
                out.append(sql[i:j])
                i = j
                continue
        out.append(ch)
        i += 1
    text = "".join(out).strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def _tokens(sql: str, dialect: str) -> list[tuple[str, str]] | None:
    try:
        return [(t.token_type.name, t.text) for t in sqlglot.tokenize(sql, read=dialect)
                if t.token_type.name != "SEMICOLON"]
    except (SqlglotError, RecursionError, ValueError):
        return None


def _grant_text(sql: str, dialect: str, grants: list[Mapping[str, str]]) -> str | None:
    """The source of the SQL grant whose text ``sql`` is, or None."""
    want = normalise_sql(sql)
    want_tokens: list[tuple[str, str]] | None | bool = False
    for grant in grants:
        source = grant.get("source") or ""
        if not is_sql(source) or normalise_sql(source) != want:
            continue
        if want_tokens is False:
            want_tokens = _tokens(sql, dialect)
        if want_tokens is not None and _tokens(source, dialect) == want_tokens:
            return source
        if want_tokens is None and source.strip() == sql.strip():  # untokenisable: only the very same text
            return source
    return None


# --- (b) a read-only query over granted tables -----------------------------------------------------------
class _Checker:
    def __init__(self, dialect: str, default_schema: str, default_catalog: str | None,
                 search_path: Collection[str] | None, catalogs: Collection[str], extra_functions: Collection[str],
                 grants: list[Mapping[str, str]], connection_name: str):
        self.dialect = dialect
        self.connection_name = connection_name
        self.catalog = self._grant_part(default_catalog) if default_catalog else None
        self.schema = self._grant_part(default_schema)
        self.search_path = [self._grant_part(s) for s in (search_path or [default_schema])]
        self.catalogs = {self._grant_part(c) for c in (*_DUCKDB_CATALOGS, *catalogs)}
        if self.catalog:
            self.catalogs.add(self.catalog)
        self.extra_functions = {f.lower() for f in extra_functions}
        self.everything = False
        self.tables: set[Name] = set()
        self.wildcards: set[tuple[str | None, str]] = set()
        for grant in grants:
            self._add_grant(grant.get("source") or "")
        self.read: list[Name] = []
        self.functions: set[str] = set()
        self.nodes = 0

    # names ---------------------------------------------------------------------------------------------
    def _grant_part(self, part: str) -> str:
        """A name as written in a grant or setting: a literal name (quotes optional); DuckDB ignores case."""
        return self._truncate(part.lower() if self.dialect == "duckdb" else part)

    def _ident(self, ident: exp.Expression) -> str:
        """An identifier of the query as the engine reads it: PostgreSQL folds unquoted names to lower case."""
        if not isinstance(ident, exp.Identifier):
            raise Forbidden(f"unsupported name in a table reference: {ident.sql(dialect=self.dialect)[:80]}")
        text = ident.this
        if self.dialect == "duckdb" or not ident.quoted:
            text = text.lower()
        return self._truncate(text)

    def _truncate(self, name: str) -> str:
        if self.dialect == "postgres":
            raw = name.encode("utf-8")
            if len(raw) > PG_NAMEDATALEN:
                return raw[:PG_NAMEDATALEN].decode("utf-8", "ignore")
        return name

    def _add_grant(self, source: str) -> None:
        source = source.strip()
        if source == "*":
            self.everything = True
            return
        if not source or is_sql(source):
            return
        segs = [self._grant_part(s) for s in name_segments(source)]
        if segs[-1] == "*":
            if len(segs) == 3:
                self.wildcards.add((segs[0], segs[1]))
            elif len(segs) == 2:  # not accepted by validate_grant; read as <schema>.* of the default catalog
                self.wildcards.add((self.catalog, segs[0]))
            return
        if len(segs) == 3:
            self.tables.add((segs[0], segs[1], segs[2]))
        elif len(segs) == 2:
            self.tables.add((self.catalog, segs[0], segs[1]))
        elif len(segs) == 1:
            self.tables.add((self.catalog, self.schema, segs[0]))

    def _covers(self, name: Name) -> bool:
        return self.everything or name in self.tables or (name[0], name[1]) in self.wildcards

    def _candidates(self, table: exp.Table) -> list[Name]:
        """Every (catalog, schema, table) the engine may resolve this reference to."""
        if not isinstance(table.this, exp.Identifier):
            raise Forbidden(f"unsupported table reference: {table.sql(dialect=self.dialect)[:80]}")
        name = self._ident(table.this)
        if not name or _PATHLIKE.search(name):
            raise Forbidden(f"table name {table.this.this!r} looks like a file or URL; only granted tables may "
                            "be read")
        db = self._ident(table.args["db"]) if table.args.get("db") else None
        cat = self._ident(table.args["catalog"]) if table.args.get("catalog") else None
        if cat is not None:
            return [(cat, db or self.schema, name)]
        if self.dialect == "postgres":
            if db is not None:
                return [(self.catalog, db, name)]
            found: list[Name] = [(self.catalog, s, name) for s in self.search_path]
            if name.startswith("pg_"):
                found.append((self.catalog, "pg_catalog", name))
            return found
        found = [(self.catalog, db or self.schema, name)]
        if db is not None and db in self.catalogs:
            found.append((db, "main", name))
        if db in _DUCKDB_SYSTEM_SCHEMAS:
            found.append(("system", db, name))
        if db in (None, "main") and name.startswith(_DUCKDB_SYSTEM_PREFIXES):
            found += [("system", "main", name), ("system", "pg_catalog", name)]
        return found

    # the walk ------------------------------------------------------------------------------------------
    def check(self, sql: str) -> Access:
        try:
            statements = [s for s in sqlglot.parse(sql, read=self.dialect) if s is not None]
        except SqlglotError as exc:
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise Forbidden(f"the query could not be checked as read-only ({reason}); an API access token may "
                            "run only single read-only SELECT queries over granted tables") from None
        if len(statements) != 1:
            raise Forbidden(f"the query has {len(statements)} statements; an API access token may run only one "
                            "read-only SELECT statement")
        root = statements[0]
        if not isinstance(root, _TOP_LEVEL):
            raise Forbidden(f"{_what(root, sql)} statements are not allowed for an API access token; only read-only "
                            "SELECT queries over granted tables")
        self._walk(root, frozenset())
        return Access(sql=sql, via="tables", tables=tuple(dict.fromkeys(self.read)),
                      functions=frozenset(self.functions))

    def _walk(self, root: exp.Expression, ctes: frozenset[str]) -> None:
        """Pre-order, in text order, with an explicit stack (long OR chains nest deeper than Python recurses)."""
        stack: list[tuple[exp.Expression, frozenset[str]]] = [(root, ctes)]
        while stack:
            node, ctes = stack.pop()
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise Forbidden("the query is too large to be checked for an API access token")
            if isinstance(node, _FORBIDDEN_NODES):
                raise Forbidden(f"{_what(node)} is not allowed in a query of an API access token (read-only "
                                "SELECT queries only)")
            todo: list[tuple[exp.Expression, frozenset[str]]] = []
            with_ = node.args.get("with_") or node.args.get("with")
            if isinstance(with_, exp.With):
                recursive = bool(with_.args.get("recursive"))
                visible = ctes
                for cte in with_.expressions:
                    cte_name = self._cte_name(cte)
                    # a non-recursive CTE sees only the CTEs before it: its own name there is a real table
                    todo += [(child, visible | {cte_name} if recursive and key == "this" else visible)
                             for key, child in _children(cte)]
                    visible = visible | {cte_name}
                todo += [(child, visible) for key, child in _children(node) if key not in ("with_", "with")]
            else:
                if isinstance(node, exp.Table):
                    self._table(node, ctes)
                elif isinstance(node, exp.Func):
                    self._function(node)
                elif isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
                    raise Forbidden(f"schema-qualified or method-style function calls are not allowed: "
                                    f"{node.sql(dialect=self.dialect)[:80]}")
                todo = [(child, ctes) for _, child in _children(node)]
            stack.extend(reversed(todo))

    def _cte_name(self, cte: exp.Expression) -> str:
        alias = cte.args.get("alias")
        ident = alias.this if isinstance(alias, exp.TableAlias) else None
        if not isinstance(ident, exp.Identifier):
            raise Forbidden("a CTE without a plain name is not allowed")
        return self._ident(ident)

    def _table(self, table: exp.Table, ctes: frozenset[str]) -> None:
        this = table.this
        if this is None and table.args.get("rows_from"):
            return  # ROWS FROM (f(), g()): each function is a Table of its own, walked by the caller
        if isinstance(this, (exp.Func, exp.Anonymous)) or not isinstance(this, exp.Identifier):
            if isinstance(this, _TABLE_FUNC_NODES):
                return  # its arguments are walked by the caller
            if isinstance(this, _UNTYPED_FUNCS) and this.name.lower() in _TABLE_FUNCS:
                self.functions.add(this.name.lower())
                return
            if isinstance(this, _UNTYPED_FUNCS):
                shown = this.name
            else:
                shown = this.sql(dialect=self.dialect)[:80] if isinstance(this, exp.Expression) else repr(this)
            raise Forbidden(f"table function {shown!r} is not allowed for an API access token; read granted "
                            "tables only")
        if not table.args.get("db") and not table.args.get("catalog") and self._ident(this) in ctes:
            return
        for name in self._candidates(table):
            if not self._covers(name):
                shown = ".".join(p for p in name if p)
                others = len(self._candidates(table)) > 1
                hint = " (an unqualified name may resolve there; qualify it with a granted schema)" if others else ""
                raise Forbidden(f"this token has no grant covering table {shown} on connection "
                                f"{self.connection_name!r}{hint}")
            self.read.append(name)

    def _function(self, func: exp.Func) -> None:
        if isinstance(func, _FORBIDDEN_FUNCS):
            raise Forbidden(f"function {_what(func)} is not allowed for an API access token")
        if isinstance(func, _UNTYPED_FUNCS):
            name = func.name.lower()
            if not name:
                raise Forbidden("an unnamed function call is not allowed for an API access token")
            if name in self.extra_functions or (
                    name in _PURE_FUNCS or name in _TABLE_FUNCS or (name.startswith(_PURE_PREFIXES) and not name.startswith(_IMPURE_PREFIXES))):
                self.functions.add(name)
                return
            raise Forbidden(f"function {name!r} is not allowed for an API access token (only side-effect free "
                            "built-in functions may be called)")
        self.functions.add(type(func).__name__.lower())


def _children(node: exp.Expression) -> list[tuple[str, exp.Expression]]:
    found: list[tuple[str, exp.Expression]] = []
    for key, value in node.args.items():
        if isinstance(value, exp.Expression):
            found.append((key, value))
        elif isinstance(value, list):
            found += [(key, item) for item in value if isinstance(item, exp.Expression)]
    return found


def _what(node: exp.Expression, sql: str = "") -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Into):
        return "SELECT INTO"
    if isinstance(node, exp.Lock):
        return "SELECT ... FOR UPDATE/SHARE"
    name = type(node).__name__
    return {"Create": "CREATE", "Drop": "DROP", "Alter": "ALTER", "Insert": "INSERT", "Update": "UPDATE",
            "Delete": "DELETE", "Merge": "MERGE", "Copy": "COPY", "Set": "SET", "Pragma": "PRAGMA",
            "Attach": "ATTACH", "Detach": "DETACH", "TruncateTable": "TRUNCATE", "Transaction": "BEGIN",
            }.get(name) or _first_word(sql) or name.upper()


def _first_word(sql: str) -> str:
    m = re.match(r"[A-Za-z_]+", re.sub(r"^(\s|--[^\n]*\n?|/\*.*?\*/)*", "", sql, flags=re.DOTALL))
    return m.group(0).upper() if m else ""
