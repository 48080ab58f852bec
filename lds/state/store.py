"""Opening the metadata store and bringing its schema up to date with the packaged Alembic migrations.

SQLite in ``settings.state_dir`` by default (zero setup, one machine); PostgreSQL when
``settings.database_url`` is set (several machines). Both get real transactions: SQLite is driven
with explicit ``BEGIN`` (the SQLAlchemy recipe) so DDL and read-modify-write are atomic there too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from lds.settings import Settings

log = logging.getLogger("lds.state")

SQLITE_FILE = "lds.db"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_LOCK_ID = 0x6C6473  # "lds": serialises concurrent first starts on one PostgreSQL


def normalise_url(url: str) -> str:
    """``postgresql://`` means the psycopg 3 driver here (SQLAlchemy would otherwise look for psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def state_url(settings: Settings) -> str:
    if settings.database_url:
        return normalise_url(settings.database_url)
    directory = Path(settings.state_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / SQLITE_FILE}"


class StateStore:
    """One engine + session factory over the metadata database."""

    def __init__(self, url: str, busy_timeout_s: float = 30.0):
        self.url = normalise_url(url)
        if self.url.startswith("sqlite"):
            self.engine = create_engine(self.url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})
            _sqlite_transactions(self.engine)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings, migrate: bool = True) -> StateStore:
        store = cls(state_url(settings))
        if migrate:
            store.migrate()
        return store

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A Core connection in a write transaction (SQLite: ``BEGIN IMMEDIATE``, so writers queue, never deadlock)."""
        with self.engine.execution_options(sqlite_immediate=True).begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A Core connection for one-statement reads (SQLite: no BEGIN round trip; the statement is atomic)."""
        with self.engine.connect().execution_options(sqlite_no_begin=True) as conn:
            yield conn

    def migrate(self) -> None:
        """Upgrade the schema to the newest packaged migration (idempotent, safe on concurrent starts)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        with self.write() as conn:
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        """Close pooled connections (before a fork: children must open their own)."""
        self.engine.dispose()

    def describe(self) -> str:
        """The URL without password, for status output."""
        return self.engine.url.render_as_string(hide_password=True)


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, emit BEGIN, so every transaction (DDL included) is real."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: no corruption on crash, no fsync per commit
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        options = conn.get_execution_options()
        if not options.get("sqlite_no_begin"):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("sqlite_immediate") else "BEGIN")
