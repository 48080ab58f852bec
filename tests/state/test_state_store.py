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
HEAD = max(f.name.split("_")[0] for f in MIGRATIONS_DIR.joinpath("versions").glob("0*_*.py"))  # newest revision


def test_migrations_create_the_schema_and_are_idempotent(state_store):
    assert state_store.revision() == HEAD
    state_store.migrate()
    assert state_store.revision() == HEAD
    tables = set(inspect(state_store.engine).get_table_names())
    assert {"tokens", "quota_usage", "quota_leases", "alembic_version"} <= tables


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
    assert store.backend == "postgresql" and store.revision() == HEAD
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
        assert store.revision() == HEAD
        store.dispose()
    finally:
        drop_pg_database(name)


def test_a_store_of_the_first_schema_upgrades_with_its_tokens_and_counts(tmp_path):
    """0001 -> head: tokens keep working (no own rate limit: the setting's), quota counts stay."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from lds.auth.hashing import hash_token

    store = StateStore(f"sqlite:///{tmp_path / 'lds.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.write() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(text("INSERT INTO tokens (id, kind, name, token_hash, grants, allowed_apis, referers, quotas, "
                          "created_at, updated_at) VALUES ('t1', 'api', 'old', :h, '[]', '[\"lds\"]', '[]', '{}', "
                          "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"), {"h": hash_token("lds_old")})
        conn.execute(text("INSERT INTO quota_usage VALUES ('t1', 'routing', '2026-01', 42)"))
    assert store.revision() == "0001"
    store.migrate()
    assert store.revision() == HEAD
    principal = TokenStore(store).authenticate("lds_old")
    assert principal.id == "t1" and principal.rate_limit_per_s is None
    with store.read() as conn:
        assert conn.execute(text("SELECT used FROM quota_usage")).scalar() == 42
    store.dispose()
