"""Where ``carto_dw``'s DuckLake keeps its catalog, and how its writers are serialised.

By default the catalog is a SQLite file in ``LDS_STATE_DIR/carto_dw`` and writers take an exclusive
``flock`` on ``write.lock`` beside it (:class:`FileLock`): one machine. A deployment of several machines
(replicas behind a load balancer) shares one lake with ``LDS_CARTO_DW_CATALOG_URL`` (a PostgreSQL database
that holds DuckLake's catalog, through DuckDB's ``postgres_scanner`` extension) and
``LDS_CARTO_DW_DATA_PATH`` (a folder every machine mounts at the same path, holding the Parquet files):
:class:`SharedLake`.

Writers on a shared lake are serialised by a PostgreSQL advisory lock in the catalog database
(:class:`AdvisoryLock`), as the ``flock`` does on one machine. DuckLake alone resolves concurrent appends
(it retries a commit whose snapshot id was taken), but two updates of the same rows, or two ``CREATE TABLE``
of one name, fail at commit ("Transaction conflict"): seen in testing, so its optimistic commits are a
backstop, not the rule. The lock is a session lock: a writer that dies releases it with its connection.

The catalog's credentials never reach SQL users: the password travels in a temporary DuckDB secret
(``duckdb_secrets()`` shows it redacted), not in the ATTACH string ``duckdb_databases()`` shows, and error
texts are scrubbed. The ``postgres_scanner`` extension loaded for the catalog would otherwise let any
statement run SQL in the catalog database (``postgres_query``/``postgres_execute`` on the attached metadata
catalog) or connect to any PostgreSQL server (``postgres_scan`` ignores ``enable_external_access``), so
:meth:`SharedLake.check_statement` refuses every statement that names these functions, the metadata catalog,
or the dynamic-SQL functions (``query``, ``query_table``, ``json_execute_serialized_sql``) that could
assemble such a name from strings.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import duckdb
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from lds.errors import Unavailable
from lds.warehouse.duck_ext import load_extension, sql_string
from lds.warehouse.errors import ConnectionFailed, StatementTimeout, WarehouseError, scrub

if TYPE_CHECKING:
    from lds.warehouse.base import Query

METADATA = "__ducklake_metadata_carto_dw"  # DuckLake's name for the attached catalog database
_LOCK_KEY = "lds:carto_dw:write"  # hashed by PostgreSQL into the advisory lock's key
_REFUSED = re.compile(
    r"\b(postgres_\w+|read_postgres_binary|pg_clear_cache)|__ducklake_metadata"
    r"|\b(query|query_table|json_execute_serialized_sql)\b\s*\"?\s*\(",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"/\*.*?(\*/|$)|--[^\n]*", re.DOTALL)


class FileLock:
    """An exclusive lock on a file, across processes and threads (each holder opens its own descriptor).

    ``acquire`` polls, so a stopped ``query`` (cancel, timeout) stops the wait; subclasses change what is
    tried (:meth:`_try`) and released (:meth:`_release`)."""

    holder = "the write lock"

    def __init__(self, path: Path, query: Query | None = None, timeout_s: float | None = None):
        self.path, self.query, self.timeout_s = path, query, timeout_s
        self.fd: int | None = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        self._open()
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        delay = 0.005
        while True:
            try:
                if self._try():
                    return
            except BaseException:
                self._release()
                raise
            timed_out = deadline is not None and time.monotonic() > deadline
            if self.query is not None and self.query._stopped:
                timed_out = self.query._stopped == "timeout"
                if not timed_out:
                    self._release()
                    self.query._check_stopped()
            if timed_out:
                self._release()
                raise StatementTimeout(
                    f"the statement did not start: another write to carto_dw held {self.holder} "
                    f"for over {self.timeout_s:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def release(self) -> None:
        self._release()

    def _open(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def _try(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class AdvisoryLock(FileLock):
    """The shared lake's write lock: a PostgreSQL session advisory lock in the catalog database, held on a
    connection of its own for the statement's duration (released by PostgreSQL if the process dies)."""

    holder = "the shared lake's write lock (a PostgreSQL advisory lock)"

    def __init__(self, lake: SharedLake, query: Query | None = None, timeout_s: float | None = None):
        super().__init__(Path(), query, timeout_s)
        self.lake = lake
        self.con: psycopg.Connection[Any] | None = None

    def _open(self) -> None:
        self.con = self.lake.connect()

    def _try(self) -> bool:
        assert self.con is not None
        return bool(self.con.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [_LOCK_KEY]).fetchone()[0])

    def _release(self) -> None:
        if self.con is not None:
            con, self.con = self.con, None
            try:
                con.close()  # ends the session, so the lock with it
            except psycopg.Error:
                pass


class SharedLake:
    """A DuckLake whose catalog is the PostgreSQL database at ``url`` and whose files are in ``data_path``."""

    def __init__(self, url: str, data_path: str | Path):
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise Unavailable(f"carto_dw_catalog_url is not a PostgreSQL URL: {scrub(str(exc))}") from None
        self.password: str | None = params.pop("password", None)
        self.conninfo = make_conninfo(**params)  # without the password: DuckDB shows it in duckdb_databases()
        if "://" in str(data_path) and not str(data_path).startswith("file://"):
            raise Unavailable(
                f"carto_dw_data_path {str(data_path)!r}: only a folder every replica mounts at the "
                "same path is supported (object storage is not yet)"
            )
        self.data_path = Path(str(data_path).removeprefix("file://")).resolve()
        self._ready = False
        self._identity: str | None = None
        self._lock = threading.Lock()

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection to the catalog database (its failure scrubbed of the password)."""
        try:
            return psycopg.connect(self.conninfo, password=self.password, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConnectionFailed(f"the shared carto_dw catalog cannot be reached: {self.scrub(str(exc))}") from None

    def scrub(self, text: str) -> str:
        return scrub(text, self.password)

    def write_lock(self, query: Query | None = None, timeout_s: float | None = None) -> AdvisoryLock:
        return AdvisoryLock(self, query, timeout_s)

    def ensure(self, create: Any) -> None:
        """Run ``create`` (an ATTACH by a writer, which makes DuckLake's catalog tables if missing) once per
        process, under the write lock so two machines starting at once do not both create them."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                self.data_path.mkdir(parents=True, exist_ok=True)
                with self.write_lock():
                    create()
                self._ready = True

    def attach(self, con: duckdb.DuckDBPyConnection, catalog: str, write: bool) -> None:
        """Load the PostgreSQL extension and attach the lake as ``catalog`` (before external access is off)."""
        load_extension(con, "postgres_scanner")
        if self.password is not None:
            con.execute(
                f"CREATE TEMPORARY SECRET lds_carto_dw_catalog (TYPE postgres, PASSWORD {sql_string(self.password)})"
            )
        options = f"DATA_PATH {sql_string(str(self.data_path) + '/')}" + ("" if write else ", READ_ONLY")
        try:
            con.execute(f"ATTACH {sql_string('ducklake:postgres:' + self.conninfo)} AS {catalog} ({options})")
        except duckdb.Error as exc:
            raise ConnectionFailed(f"the shared carto_dw catalog cannot be attached: {self.scrub(str(exc))}") from None

    def identity(self) -> str:
        """Names this catalog for ``data_version`` (database and snapshot table oids): a catalog made afresh,
        whose snapshot ids restart at 0, never repeats an old version."""
        if self._identity is not None:
            return self._identity
        with self.connect() as con:
            db, table = con.execute(
                "SELECT (SELECT oid FROM pg_database WHERE datname = current_database()), "
                "to_regclass('ducklake_snapshot')::oid"
            ).fetchone()
        identity = f"pg{db:x}.{table or 0:x}"
        if table is not None:  # kept for the process once the lake exists
            self._identity = identity
        return identity

    @staticmethod
    def check_statement(sql: str) -> None:
        """Refuse statements that could reach the catalog database or another PostgreSQL server."""
        found = _REFUSED.search(sql) or _REFUSED.search(_COMMENT.sub(" ", sql))  # query/**/( as query(
        if found:
            name = found.group(0).rstrip('"( \t\r\n')
            raise WarehouseError(
                f"{name!r} is not allowed on carto_dw: its catalog database and other "
                "PostgreSQL servers are out of reach of SQL"
            )


def shared_lake(settings: Any) -> SharedLake | None:
    """The shared lake the settings name (``carto_dw_catalog_url``), or None for the per-machine default."""
    url = getattr(settings, "carto_dw_catalog_url", None)
    if not url:
        return None
    data_path = getattr(settings, "carto_dw_data_path", None)
    if not data_path:
        raise Unavailable(
            "carto_dw_catalog_url is set but carto_dw_data_path is not: a shared lake needs a folder "
            "every replica mounts at the same path for its data files"
        )
    return SharedLake(url, data_path)
