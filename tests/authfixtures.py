"""Fixtures for auth and state-store tests on the real services: a throwaway PostgreSQL database per
session, a Redis key prefix per session (keys deleted at the end), and apps with auth ENABLED.

Test modules star-import it (``from authfixtures import *``); ``test_settings`` comes from isolated_settings
(``from conftest import`` would get whichever of the several conftest modules pytest imported last).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = [
    "ADMIN_TOKEN", "REDIS_URL", "admin_headers", "auth_app", "auth_client", "auth_settings", "bearer", "make_token",
    "pg_url", "redis_prefix", "state_store",
]

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_TOKEN = "test-admin-" + secrets.token_urlsafe(32)


def _pg_admin():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


def create_pg_database(name: str) -> str:
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_database_url(name)


def drop_pg_database(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def pg_database(prefix: str, *setup: str) -> Iterator[str]:
    """A PostgreSQL database of its own (``<prefix>_<random>``), set up by the ``setup`` statements and dropped
    afterwards; yields its name."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    url = create_pg_database(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for sql in setup:
                conn.execute(sql)
        yield name
    finally:
        drop_pg_database(name)


def pg_database_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database of its own for this test session, dropped afterwards."""
    with pg_database("lds_auth_test") as name:
        yield pg_database_url(name)


@pytest.fixture(scope="session")
def redis_prefix():
    """A key prefix of its own in the real Redis; every key under it is deleted afterwards."""
    import redis

    prefix = f"ldstest:{secrets.token_hex(4)}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


def _clean(store) -> None:
    from sqlalchemy import text

    with store.write() as conn:
        conn.execute(text("DELETE FROM quota_usage"))
        conn.execute(text("DELETE FROM tokens"))


@pytest.fixture(params=["sqlite", "postgresql"])
def state_store(request, tmp_path: Path):
    """A migrated, empty metadata store on each backend."""
    from lds.state import StateStore

    if request.param == "sqlite":
        store = StateStore(f"sqlite:///{tmp_path / 'lds.db'}")
    else:
        store = StateStore(request.getfixturevalue("pg_url"))
    store.migrate()
    _clean(store)
    yield store
    store.dispose()


def auth_settings(data_dir: Path, state_dir: Path, **overrides):
    """Settings with auth ENABLED, isolated from the developer's environment."""
    from lds.settings import Settings

    values = {
        "data_dir": str(data_dir), "cache_enabled": False, "auth": True, "state_dir": str(state_dir),
        "admin_token": ADMIN_TOKEN, "rate_limit_per_s": 0, **overrides,
    }
    return Settings.from_env(env={}, **values)


@pytest.fixture()
def auth_app(lds_core, tmp_path: Path):
    """The app over the session's Monaco core with auth on (SQLite state in tmp_path, no Redis, no rate limit)."""
    from lds.app import create_app

    return create_app(auth_settings(lds_core.data.path, tmp_path), lds=lds_core)


@pytest.fixture()
def auth_client(auth_app):
    return auth_app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def admin_headers() -> dict[str, str]:
    return bearer(ADMIN_TOKEN)


def make_token(client, **body) -> str:
    """Create an API access token through the Tokens API; returns the token string."""
    body.setdefault("allowed_apis", ["lds"])
    r = client.post("/v3/tokens", json=body, headers=bearer(ADMIN_TOKEN))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["token"]
