"""``carto_dw``: the embedded warehouse, DuckDB + spatial over a DuckLake in ``LDS_STATE_DIR/carto_dw``.

Why DuckLake: one DuckDB database file admits a single writing process, but every gunicorn worker and
job worker must read and write. A DuckLake keeps its catalog in SQLite (in WAL mode, so readers never
wait for a writer) and its data in Parquet files; any number of processes attach it, each reading the
latest committed snapshot at the start of each statement. SQLite admits one committing writer at a time
and DuckLake does not retry a locked catalog, so writing statements (``read_only=False``) are serialised
across processes by an exclusive lock on ``write.lock``; reads take no lock. The catalog can move to
PostgreSQL and the files to a shared folder when a deployment outgrows one machine
(:mod:`lds.warehouse.lake_catalog`: ``LDS_CARTO_DW_CATALOG_URL``, ``LDS_CARTO_DW_DATA_PATH``).

Each process opens two in-memory DuckDB instances on first use: a reader with the lake attached
``READ_ONLY`` (so read-only statements cannot write, whatever their text) and, for writes, a writer.
Both run with external access off (no reading /etc/passwd, no ATTACH of other files) except the lake's
own directory, with the configuration locked.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import duckdb

from lds.errors import LdsError, NotFound
from lds.warehouse import callers, lds_functions, lds_tables
from lds.warehouse.base import Params, Query, Warehouse, check_params, split_path
from lds.warehouse.duck_ext import confine, load_extensions, sql_string
from lds.warehouse.duck_types import duck_type
from lds.warehouse.errors import ConnectionFailed, WarehouseError
from lds.warehouse.lake_catalog import FileLock as _FileLock
from lds.warehouse.lake_catalog import SharedLake
from lds.warehouse.values import Converter

CATALOG = "carto_dw"  # the attached lake's name: tables are carto_dw.<schema>.<table>
# Statements that may change a cursor's session (default database, settings, attachments, open transaction):
# their cursor is not reused.
_CHANGES_SESSION = re.compile(
    r"\b(use|set|reset|attach|detach|begin|start|pragma|prepare"
    r"|create\s+(or\s+replace\s+)?(temp|temporary|macro|function))\b", re.IGNORECASE)
_HIDDEN_SCHEMAS = ("information_schema", "pg_catalog")


class CartoDW(Warehouse):
    """The embedded DuckDB/DuckLake warehouse rooted at ``root`` (created on first use)."""

    provider = "carto_dw"

    def __init__(self, root: str | Path, *, memory_limit: str = "1GB", threads: int = 2, batch_rows: int = 5000,
                 tables: Path | None = None, lake: SharedLake | None = None):
        self.root = Path(root).resolve()
        self.lake = lake  # a catalog and files shared by several machines; None = this machine's own
        self.tables_path = tables  # the LDS tables' DuckDB file (lds_tables.tables_file), attached as lds
        self.tables_attached = False
        self.catalog_path = self.root / "catalog.sqlite"
        self.data_path = lake.data_path if lake is not None else self.root / "data"
        self.lock_path = self.root / "write.lock"
        self.memory_limit = memory_limit
        self.threads = threads
        self.batch_rows = batch_rows
        self._dbs: dict[bool, duckdb.DuckDBPyConnection] = {}
        self._open_lock = threading.Lock()
        self._local = threading.local()  # per thread: a cursor per instance, already USE-ing carto_dw
        self._generation = 0
        self._pid = os.getpid()

    # --- interface ---------------------------------------------------------------------------------
    def test(self) -> None:
        try:
            with self.query("SELECT 1", timeout_s=30, read_only=True) as q:
                list(q.rows())
        except Exception as exc:  # noqa: BLE001 - any failure to open is the answer of test()
            raise ConnectionFailed(f"the embedded warehouse cannot be opened: {exc}") from None

    def query(self, sql: str, params: Params = None, *, timeout_s: float | None = None,
              max_rows: int | None = None, read_only: bool = False) -> Query:
        return _DuckQuery(self, sql, check_params(params, named=True), timeout_s=timeout_s, max_rows=max_rows,
                          read_only=read_only, batch_rows=self.batch_rows)

    def resources(self, path: str = "") -> list[dict[str, str]]:
        parts = split_path(path)
        self._database(write=False)  # opened, so tables_attached is known
        databases = (CATALOG, lds_tables.NAME) if self.tables_attached else (CATALOG,)  # the lake, the LDS tables
        if not parts:
            return [{"id": db, "name": db, "type": "database"} for db in databases]
        if parts[0] not in databases:
            raise NotFound(f"no database {parts[0]!r} in carto_dw")
        db = parts[0]
        if len(parts) == 1:
            sql = ("SELECT schema_name, 'schema' FROM duckdb_schemas() WHERE database_name = $db "
                   "AND (NOT internal OR schema_name = 'main') AND NOT list_contains($hidden, schema_name) "
                   "ORDER BY 1")
            params: dict[str, Any] = {"db": db, "hidden": list(_HIDDEN_SCHEMAS)}
        elif len(parts) == 2:
            sql = ("SELECT table_name, 'table' FROM duckdb_tables() WHERE database_name = $db AND schema_name = $s "
                   "UNION ALL SELECT view_name, 'view' FROM duckdb_views() WHERE database_name = $db "
                   "AND schema_name = $s AND NOT internal ORDER BY 1")
            params = {"db": db, "s": parts[1]}
        else:
            sql = ("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = $db "
                   "AND schema_name = $s AND table_name = $t ORDER BY column_index")
            params = {"db": db, "s": parts[1], "t": parts[2]}
        with self.query(sql, params, timeout_s=60, read_only=True) as q:
            rows = list(q.rows())
        if not rows and len(parts) > 1 and not self._exists(parts):
            raise NotFound(f"no such resource: {'.'.join(parts)}")
        prefix = ".".join(parts)
        if len(parts) == 3:
            return [{"id": f"{prefix}.{n}", "name": n, "type": duck_type(t)[0]} for n, t in rows]
        return [{"id": f"{prefix}.{n}", "name": n, "type": t} for n, t in rows]

    def data_version(self) -> str:
        """The lake's current snapshot id (every commit makes one), with the catalog's inode so a lake
        made afresh never repeats an old value."""
        with self.query(f"SELECT id FROM {CATALOG}.current_snapshot()", timeout_s=60, read_only=True) as q:
            snapshot = next(iter(q.rows()))[0]
        catalog = self.lake.identity() if self.lake is not None else f"{self.catalog_path.stat().st_ino:x}"
        return f"{catalog}-{snapshot}-{lds_tables.identity(self.tables_path)}"

    def maintain(self, keep_s: float = 3600.0, timeout_s: float = 600.0) -> dict[str, int]:
        """Compact the lake: merge the small Parquet files each insert writes, expire snapshots older than
        ``keep_s`` and delete the files only they used. Statements in other processes read the snapshot
        they started on, so ``keep_s`` must outlast the longest statement (jobs included)."""
        older = f"now() - to_seconds({float(keep_s)!r})"
        counts = {}
        for name, sql in (("merged", f"CALL ducklake_merge_adjacent_files('{CATALOG}')"),
                          ("expired", f"CALL ducklake_expire_snapshots('{CATALOG}', older_than => {older})"),
                          ("deleted", f"CALL ducklake_cleanup_old_files('{CATALOG}', older_than => {older})")):
            with self.query(sql, timeout_s=timeout_s) as q:
                counts[name] = sum(1 for _ in q.rows())
        return counts

    def write_lock(self, query: Query | None = None, timeout_s: float | None = None) -> _FileLock:
        """The lock every write to the lake holds (this machine's ``flock``, or the shared lake's)."""
        if self.lake is not None:
            return self.lake.write_lock(query, timeout_s)
        return _FileLock(self.lock_path, query, timeout_s)

    def close(self) -> None:
        with self._open_lock:
            self._generation += 1
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()

    # --- storage -----------------------------------------------------------------------------------
    def _exists(self, parts: list[str]) -> bool:
        sql = "SELECT 1 FROM duckdb_schemas() WHERE database_name = $db AND schema_name = $s"
        params: dict[str, Any] = {"db": parts[0], "s": parts[1]}
        if len(parts) == 3:
            sql = ("SELECT 1 FROM duckdb_tables() WHERE database_name = $db AND schema_name = $s AND table_name = $t "
                   "UNION ALL SELECT 1 FROM duckdb_views() WHERE database_name = $db AND schema_name = $s "
                   "AND view_name = $t")
            params["t"] = parts[2]
        with self.query(sql, params, timeout_s=60, read_only=True) as q:
            return bool(list(q.rows()))

    def _ensure_lake(self) -> None:
        """Create the lake once, under the write lock so concurrent first starts create it once.

        Python's own sqlite3 touches the catalog only here, before any DuckDB instance has it open: two
        SQLite libraries in one process do not see each other's POSIX locks, so a sqlite3 connection closed
        while DuckDB's is open drops DuckDB's locks, and another process's checkpoint then corrupts what
        DuckDB reads ("database disk image is malformed", seen in testing when data_version read the
        catalog with sqlite3). The ``ready`` marker says the lake exists without opening anything.
        """
        if self.lake is not None:
            self.lake.ensure(lambda: self._new_database(write=True).close())
            return
        ready = self.root / "ready"
        if ready.exists():
            return
        self.data_path.mkdir(parents=True, exist_ok=True)
        with _FileLock(self.lock_path):
            if ready.exists():
                return
            db = sqlite3.connect(self.catalog_path)  # new, or left by a creation that crashed: kept
            try:
                db.execute("PRAGMA journal_mode=WAL")  # persistent: readers never wait for the writer
            finally:
                db.close()
            self._new_database(write=True).close()  # DuckLake writes its catalog tables
            ready.touch()

    def _database(self, write: bool) -> duckdb.DuckDBPyConnection:
        db = self._dbs.get(write)
        if db is None:
            self._ensure_lake()
            with self._open_lock:
                db = self._dbs.get(write)
                if db is None:
                    db = self._dbs[write] = self._new_database(write)
        return db

    def _after_fork(self) -> None:
        """In a forked child (gunicorn's preloading parent opened us), forget the parent's DuckDB instances
        without touching them, and open fresh ones on demand."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._dbs = {}
            self._open_lock = threading.Lock()
            self._local = threading.local()
            self._generation += 1

    def _cursor(self, write: bool) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the reader or writer instance. Cursors are kept between statements
        because ``USE carto_dw`` costs as much as a small query (it reads the lake's catalog)."""
        self._after_fork()
        held = getattr(self._local, "w" if write else "r", None)
        if held is not None and held[0] == self._generation:
            return held[1]
        db = self._database(write)
        with self._open_lock:  # a DuckDB connection object is not thread-safe, its cursors are
            cur = db.cursor()
        cur.execute(f"USE {CATALOG}")
        slot = lds_functions.prepare_cursor(cur)
        setattr(self._local, "w" if write else "r", (self._generation, cur, slot))
        return cur

    def _slot(self, write: bool) -> str:
        """The LDS functions' slot of this thread's cursor (:mod:`lds.warehouse.lds_functions`)."""
        return getattr(self._local, "w" if write else "r")[2]

    def _drop_cursor(self, write: bool) -> None:
        held = getattr(self._local, "w" if write else "r", None)
        if held is not None:
            setattr(self._local, "w" if write else "r", None)
            callers.forget(held[2])
            held[1].close()

    def _new_database(self, write: bool) -> duckdb.DuckDBPyConnection:
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                  "threads": self.threads, "memory_limit": self.memory_limit}
        con = duckdb.connect(":memory:", config=config)
        try:
            load_extensions(con)
            lds_functions.register(con)
            if self.lake is not None:
                self.lake.attach(con, CATALOG, write)
            else:
                options = f"DATA_PATH {sql_string(str(self.data_path) + '/')}" + ("" if write else ", READ_ONLY")
                con.execute(f"ATTACH {sql_string('ducklake:sqlite:' + str(self.catalog_path))} AS {CATALOG} ({options})")
            self.tables_attached = lds_tables.attach(con, self.tables_path)
            allowed = {str(self.root) + "/", str(self.data_path) + "/"}
            confine(con, str(self.root / "tmp"), sorted(allowed), "SET TimeZone = 'UTC'")
        except BaseException:
            con.close()
            raise
        return con


def _typed(native: str) -> tuple[str, str, Converter | None]:
    carto, conv = duck_type(native)
    return carto, native, conv


class _DuckQuery(Query):
    def __init__(self, dw: CartoDW, sql: str, params: Params, **kw: Any):
        super().__init__(sql, params, **kw)
        self._dw = dw
        self._write_lock: _FileLock | None = None
        self._calls = callers.current_calls()  # who the LDS functions in this statement answer and charge
        self._slot: str | None = None
        self._binding: callers.Binding | None = None

    def _execute(self) -> None:
        lds_tables.check_statement(self.sql)
        if self._dw.lake is not None:
            self._dw.lake.check_statement(self.sql)
        self._dw._ensure_lake()
        if not self.read_only:
            self._write_lock = self._dw.write_lock(self, self.timeout_s)
            self._write_lock.acquire()
        cur = self._dw._cursor(write=not self.read_only)
        self._slot = self._dw._slot(write=not self.read_only)
        self._binding = callers.bind(self._slot, self._calls, self._check_stopped)
        with self._lock:  # published under the lock _stop interrupts under
            self._cur = cur
        self._check_stopped()
        if self.params is None:
            self._cur.execute(self.sql)
        else:
            self._cur.execute(self.sql, self.params)
        self._check_stopped()
        self._describe((name, *_typed(str(native))) for name, native, *_ in self._cur.description or ())

    def _interrupt(self) -> None:
        if self._cur is not None:
            self._cur.interrupt()

    def _close(self, ok: bool) -> None:
        try:  # DuckDB commits each statement itself
            if self._cur is not None and (not ok or _CHANGES_SESSION.search(self.sql)):
                self._dw._drop_cursor(write=not self.read_only)  # interrupted, failed or session changed
        finally:
            if self._slot is not None:
                callers.unbind(self._slot)
            with self._lock:
                self._cur = None
            if self._write_lock is not None:
                self._write_lock.release()
                self._write_lock = None

    def _driver_error(self, exc: Exception) -> LdsError:
        if self._binding is not None and self._binding.error is not None:
            return self._binding.error  # an LDS function's own error (429 quota, 403, 400), not DuckDB's wrapping
        text = lds_tables.explain(str(exc).strip() or type(exc).__name__, self._dw.tables_attached)
        if self._dw.lake is not None:
            text = self._dw.lake.scrub(text)
        if "read-only mode" in text and not text.startswith("the LDS tables"):
            text = "this query may only read (read-only): " + text
        return WarehouseError(text)
