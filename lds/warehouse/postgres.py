"""``postgres``: PostgreSQL/PostGIS over psycopg 3, one connection pool per connection.

Statements use psycopg's raw cursors, so placeholders are PostgreSQL's own ``$1, $2`` and every value is
bound by the server, never spliced into the text. Row-returning statements (SELECT, WITH, VALUES, TABLE)
run through a server-side cursor and are fetched a batch at a time; others run on a client cursor and
are committed when they succeed. Each statement runs in its own transaction with ``statement_timeout``
(the server's backstop to the client-side timer) and, when asked, ``READ ONLY``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.types.json
import psycopg_pool
from psycopg import sql as pgsql

from lds.errors import BadRequest, NotFound
from lds.warehouse.base import Params, Query, Warehouse, check_params, split_path
from lds.warehouse.errors import ConnectionFailed, StatementTimeout, WarehouseBusy, WarehouseError, scrub
from lds.warehouse.pg_types import pg_type

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_STREAMABLE = {"select", "with", "values", "table"}
_LEADING = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/|\()*", re.DOTALL)


@dataclass(frozen=True)
class PostgresConfig:
    """A connection's credentials, validated (CARTO's ``config.credentials`` of a ``postgres`` connection)."""

    host: str
    database: str
    username: str
    password: str | None = None
    port: int = 5432
    sslmode: str = "prefer"
    schema: str | None = None

    @classmethod
    def from_credentials(cls, creds: Any) -> PostgresConfig:
        if not isinstance(creds, Mapping):
            raise BadRequest("config.credentials must be an object")
        unknown = set(creds) - {"host", "port", "database", "username", "user", "password", "sslmode", "schema"}
        if unknown:
            raise BadRequest(f"unknown credentials field: {min(unknown)}")
        values: dict[str, Any] = {}
        for field in ("host", "database", "username"):
            value = creds.get(field, creds.get("user") if field == "username" else None)
            if not isinstance(value, str) or not value.strip() or len(value) > 255 or "\x00" in value:
                raise BadRequest(f"credentials.{field} is required and must be a non-empty string")
            values[field] = value.strip()
        port = creds.get("port", 5432)
        if isinstance(port, str) and port.isdigit():
            port = int(port)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise BadRequest("credentials.port must be an integer from 1 to 65535")
        values["port"] = port
        sslmode = creds.get("sslmode") or "prefer"
        if sslmode not in SSLMODES:
            raise BadRequest(f"credentials.sslmode must be one of {', '.join(SSLMODES)}")
        values["sslmode"] = sslmode
        for field in ("password", "schema"):
            value = creds.get(field)
            if value is not None and (not isinstance(value, str) or "\x00" in value or len(value) > 1024):
                raise BadRequest(f"credentials.{field} must be a string")
            values[field] = value or None
        return cls(**values)

    def connect_kwargs(self, connect_timeout_s: float) -> dict[str, Any]:
        kw: dict[str, Any] = {"host": self.host, "port": self.port, "dbname": self.database, "user": self.username,
                              "sslmode": self.sslmode, "connect_timeout": max(1, round(connect_timeout_s)),
                              "application_name": "lds"}
        if self.password is not None:
            kw["password"] = self.password
        return kw


class Postgres(Warehouse):
    """A PostgreSQL database; the pool opens lazily, on the first statement."""

    provider = "postgres"

    def __init__(self, config: PostgresConfig, *, pool_size: int = 4, connect_timeout_s: float = 10.0,
                 batch_rows: int = 5000):
        self.config = config
        self.pool_size = pool_size
        self.connect_timeout_s = connect_timeout_s
        self.batch_rows = batch_rows
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._types: dict[int, tuple[str | None, str | None]] = {}
        self._pid = os.getpid()

    def scrub(self, message: str) -> str:
        return scrub(message, self.config.password)

    # --- interface ---------------------------------------------------------------------------------
    def test(self) -> None:
        c = self.config
        where = f"{c.host}:{c.port}/{c.database}"
        try:
            with psycopg.connect(**c.connect_kwargs(self.connect_timeout_s), autocommit=True) as conn:
                conn.execute("SELECT 1")
                if c.schema is not None:
                    found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [c.schema]).fetchone()
                    if not found:
                        raise ConnectionFailed(f"PostgreSQL at {where}: schema {c.schema!r} does not exist")
        except psycopg.Error as exc:
            reason = self.scrub(str(exc).strip()) or type(exc).__name__
            raise ConnectionFailed(f"cannot connect to PostgreSQL at {where}: {reason}") from None

    def query(self, sql: str, params: Params = None, *, timeout_s: float | None = None,
              max_rows: int | None = None, read_only: bool = False) -> Query:
        params = check_params(params, named=False)
        return _PgQuery(self, sql, _bindable(params), timeout_s=timeout_s, max_rows=max_rows, read_only=read_only,
                        batch_rows=self.batch_rows)

    def resources(self, path: str = "") -> list[dict[str, str]]:
        parts = split_path(path)
        db = self.config.database
        if not parts:
            return [{"id": db, "name": db, "type": "database"}]
        if parts[0] != db:
            raise NotFound(f"no database {parts[0]!r} in this connection")
        if len(parts) == 1:
            sql = ("SELECT nspname, 'schema' FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                   "AND nspname <> 'information_schema' AND has_schema_privilege(oid, 'USAGE') ORDER BY 1")
            params: list[Any] = []
        elif len(parts) == 2:
            sql = ("SELECT c.relname, CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END "
                   "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1")
            params = [parts[1]]
        else:
            sql = ("SELECT a.attname, a.atttypid::int, t.typname::text, t.typcategory::text FROM pg_attribute a "
                   "JOIN pg_type t ON t.oid = a.atttypid JOIN pg_class c ON c.oid = a.attrelid "
                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")
            params = [parts[1], parts[2]]
        with self.query(sql, params, timeout_s=60, read_only=True) as q:
            rows = list(q.rows())
        prefix = ".".join(parts)
        if len(parts) == 3:
            if not rows:
                raise NotFound(f"no such table: {prefix}")
            return [{"id": f"{prefix}.{r[0]}", "name": r[0], "type": pg_type(r[1], r[2], r[3])[0]} for r in rows]
        if len(parts) == 2 and not rows:
            with self.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [parts[1]], timeout_s=60,
                            read_only=True) as q:
                if not list(q.rows()):
                    raise NotFound(f"no such schema: {prefix}")
        return [{"id": f"{prefix}.{name}", "name": name, "type": kind} for name, kind in rows]

    def data_version(self) -> str:
        """The xmax of a fresh snapshot: it moves when any transaction that wrote (took an xid) ends."""
        conn = self._getconn()
        try:
            row = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()
            conn.rollback()
        finally:
            self._putconn(conn)
        return row[0]

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    # --- pool ---------------------------------------------------------------------------------------
    def _getconn(self) -> psycopg.Connection:
        if self._pid != os.getpid():
            # a forked child: the parent's pool (its sockets, its threads) is not ours to use or close
            self._pid, self._pool, self._pool_lock = os.getpid(), None, threading.Lock()
        with self._pool_lock:
            if self._pool is None:
                self._pool = psycopg_pool.ConnectionPool(
                    kwargs=self.config.connect_kwargs(self.connect_timeout_s), min_size=1,
                    max_size=max(1, self.pool_size), open=False, name=f"lds-{self.config.database}")
                self._pool.open(wait=False)
            pool = self._pool
        try:
            return pool.getconn(timeout=self.connect_timeout_s)
        except psycopg_pool.PoolTimeout:
            self.test()  # raises ConnectionFailed with the driver's reason when the server is the problem
            raise WarehouseBusy(f"no connection to {self.config.database} became free within "
                                f"{self.connect_timeout_s:g} s", headers={"Retry-After": "1"}) from None

    def _putconn(self, conn: psycopg.Connection) -> None:
        pool = self._pool
        if pool is not None:
            pool.putconn(conn)
        else:
            conn.close()

    def _type_names(self, conn: psycopg.Connection, oids: list[int]) -> None:
        missing = [o for o in oids if o not in self._types]
        if missing:
            for oid, name, cat in conn.execute(
                    "SELECT oid::int, typname::text, typcategory::text FROM pg_type WHERE oid = ANY(%s)", [missing]):
                self._types[oid] = (name, cat)


def _bindable(params: Params) -> list[Any] | None:
    """JSON values as psycopg binds them: objects as jsonb; strings stay untyped so ``$1::int`` works."""
    if params is None:
        return None
    return [psycopg.types.json.Jsonb(v) if isinstance(v, dict) else v for v in params]


def _streamable(sql: str) -> bool:
    m = _LEADING.match(sql)
    word = re.match(r"[A-Za-z]+", sql[m.end():] if m else sql)
    return bool(word) and word.group(0).lower() in _STREAMABLE


class _PgQuery(Query):
    def __init__(self, wh: Postgres, sql: str, params: list[Any] | None, **kw: Any):
        super().__init__(sql, params, **kw)
        self._wh = wh
        self._conn: psycopg.Connection | None = None

    def _begin(self) -> None:
        """Open the statement's transaction in one round trip; the values are ours (a number, an identifier
        quoted by psycopg), composed with psycopg.sql, never the user's text."""
        conn = self._conn
        assert conn is not None
        parts = [pgsql.SQL("SET TRANSACTION READ ONLY")] if self.read_only else []
        parts.append(pgsql.SQL("SET LOCAL statement_timeout = {}").format(int((self.timeout_s or 0) * 1000)))
        # JIT compiles for hundreds of ms whenever PostGIS's cost estimates look large (a vector tile of 40,000
        # points: 365 ms of JIT for a 100 ms statement); no statement here runs long enough to repay it
        parts.append(pgsql.SQL("SET LOCAL jit = off"))
        if self._wh.config.schema:
            parts.append(pgsql.SQL("SET LOCAL search_path = {}, public").format(pgsql.Identifier(self._wh.config.schema)))
        conn.execute(pgsql.SQL("; ").join(parts))

    def _execute(self) -> None:
        conn = self._wh._getconn()
        with self._lock:  # published under the lock _stop interrupts under
            self._conn = conn
        self._check_stopped()
        self._begin()
        if _streamable(self.sql):
            self._cur = psycopg.RawServerCursor(self._conn, "lds_query")
            try:
                self._cur.execute(self.sql, self.params)
            except (psycopg.errors.FeatureNotSupported, psycopg.errors.SyntaxError):
                # e.g. a data-modifying WITH, which DECLARE CURSOR refuses: nothing ran, so run it plainly
                self._conn.rollback()
                self._check_stopped()
                self._begin()
                self._cur = psycopg.RawCursor(self._conn)
                self._cur.execute(self.sql, self.params)
        else:
            self._cur = psycopg.RawCursor(self._conn)
            self._cur.execute(self.sql, self.params)
        self._check_stopped()
        if not isinstance(self._cur, psycopg.ServerCursor):
            self._conn.commit()  # the statement's work is done and its rows are client-side: commit errors show here
        desc = self._cur.description or []
        self._wh._type_names(self._conn, [d.type_code for d in desc])
        columns = []
        for d in desc:
            name, cat = self._wh._types.get(d.type_code, (None, None))
            carto, conv = pg_type(d.type_code, name, cat)
            columns.append((d.name, carto, name or str(d.type_code), conv))
        self._describe(columns)

    def _interrupt(self) -> None:
        if self._conn is not None:
            self._conn.cancel_safe(timeout=5)

    def _close(self, ok: bool) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self._cur is not None and not self._cur.closed:
                try:
                    self._cur.close()
                except psycopg.Error:
                    pass
            if ok and not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
                conn.commit()
            elif not conn.closed:
                conn.rollback()
        except psycopg.Error:
            pass
        finally:
            self._cur = None
            self._wh._putconn(conn)

    def _driver_error(self, exc: Exception) -> WarehouseError | StatementTimeout:
        text = self._wh.scrub(str(exc).strip()) or type(exc).__name__
        if isinstance(exc, psycopg.errors.QueryCanceled) and "statement timeout" in text:
            return StatementTimeout(
                f"the statement ran longer than {self.timeout_s:g} s and was cancelled in the warehouse; "
                "run long work as a job (POST /v3/sql/{connection}/job)")
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            text = "this query may only read (read-only): " + text
        if isinstance(exc, psycopg.OperationalError) and self._conn is None:
            return ConnectionFailed(f"cannot reach PostgreSQL: {text}")
        return WarehouseError(text)
