"""The metadata store: packaged migrations on SQLite and PostgreSQL, URL handling, secrets at rest."""

import multiprocessing
import secrets
from pathlib import Path

from authfixtures import *
from authfixtures import create_pg_database, drop_pg_database
from setuptools import find_packages
from sqlalchemy import inspect

from lds.auth.tokens import TokenStore
from lds.settings import Settings
from lds.state import StateStore
from lds.state.store import MIGRATIONS_DIR, normalise_url, state_url

REPO = Path(__file__).resolve().parents[2]


def test_migrations_create_the_schema_and_are_idempotent(state_store):
    assert state_store.revision() == "0001"
    state_store.migrate()
    assert state_store.revision() == "0001"
    tables = set(inspect(state_store.engine).get_table_names())
    assert {"tokens", "quota_usage", "alembic_version"} <= tables


def test_migrations_ship_inside_the_package():
    packages = find_packages(str(REPO), include=["lds*"])
    assert "lds.state.migrations" in packages and "lds.state.migrations.versions" in packages
    assert (MIGRATIONS_DIR / "env.py").is_file() and (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert any(MIGRATIONS_DIR.joinpath("versions").glob("0001_*.py"))
    assert "**/*.mako" in (REPO / "pyproject.toml").read_text()


def test_urls():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_file_lives_in_state_dir_by_default(tmp_path):
    settings = Settings.from_env(env={}, state_dir=str(tmp_path / "var"))
    store = StateStore.from_settings(settings)
    assert store.backend == "sqlite" and state_url(settings).endswith("var/lds.db")
    assert (tmp_path / "var" / "lds.db").is_file()
    store.dispose()


def test_database_url_selects_postgresql(pg_url):
    store = StateStore.from_settings(Settings.from_env(env={}, database_url=pg_url))
    assert store.backend == "postgresql" and store.revision() == "0001"
    assert "postgres" in store.describe()
    store.dispose()


def test_sqlite_files_never_contain_a_token_string(tmp_path):
    store = StateStore(f"sqlite:///{tmp_path / 'lds.db'}")
    store.migrate()
    tokens = TokenStore(store)
    created = [tokens.create({"allowed_apis": ["lds"], "name": f"t{i}"})[0] for i in range(20)]
    admin = tokens.ensure_admin(None)
    rotated = tokens.rotate_admin(None)
    tokens.revoke(created[0])
    store.dispose()
    files = list(tmp_path.glob("lds.db*"))
    blob = b"".join(f.read_bytes() for f in files)
    assert blob and b"t19" in blob  # the data is there...
    for token in [*created, admin, rotated]:
        assert token.encode() not in blob  # ...but no token string, in the database or its WAL


def _migrate(url):
    StateStore(url).migrate()
    return True


def test_concurrent_first_starts_on_postgresql_migrate_once():
    name = f"lds_auth_mig_{secrets.token_hex(4)}"
    url = create_pg_database(name)
    try:
        with multiprocessing.get_context("spawn").Pool(3) as pool:
            assert all(pool.map(_migrate, [url] * 3))
        store = StateStore(url)
        assert store.revision() == "0001"
        store.dispose()
    finally:
        drop_pg_database(name)
