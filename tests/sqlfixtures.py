"""Set-up shared by the API tests on warehouses: a PostgreSQL connection added through the Connections API, and an
app with auth on over the session's core whose ``pg`` connection and carto_dw tables are ready, closed afterwards;
the checks of an answer's status and of the error envelope."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from authfixtures import ADMIN_TOKEN, bearer

ADMIN = bearer(ADMIN_TOKEN)


def add_pg_connection(client: Any, name: str, dbname: str, **credentials: Any) -> None:
    """Register the local PostgreSQL database ``dbname`` as the connection ``name`` (extra ``credentials``, e.g.
    ``schema``, go into the connection's credentials)."""
    creds = {"host": "127.0.0.1", "port": 5432, "database": dbname, "username": "postgres", "sslmode": "disable"}
    body = {
        "name": name,
        "provider_id": "postgres",
        "config": {"type": "password", "credentials": {**creds, **credentials}},
    }
    r = client.post("/v3/connections", headers=ADMIN, json=body)
    assert r.status_code == 201, r.get_json()


def dw_query(client: Any, q: str) -> None:
    """Run ``q`` on carto_dw as the admin; it must succeed."""
    r = client.post("/v3/sql/carto_dw/query", headers=ADMIN, json={"q": q})
    assert r.status_code == 200, r.get_json()


@contextmanager
def warehouse_app(
    lds_core: Any, settings: Any, dbname: str | None = None, *dw_setup: str, **credentials: Any
) -> Iterator[Any]:
    """The app on ``settings`` over ``lds_core``: ``dbname`` (if any) registered as the connection ``pg``, the
    ``dw_setup`` statements run on carto_dw; its job runner stopped and connections closed afterwards."""
    from lds.api.connections import connections_of
    from lds.app import create_app

    app = create_app(settings, lds=lds_core)
    try:
        client = app.test_client()
        if dbname is not None:
            add_pg_connection(client, "pg", dbname, **credentials)
        for q in dw_setup:
            dw_query(client, q)
        yield app
    finally:
        runner = app.extensions["lds_jobs"].runner
        if hasattr(runner, "stop"):  # the local runner's threads; an RQ queue has none here
            runner.stop()
        connections_of(app).close()


def status_is(r: Any, status: int = 200) -> Any:
    """``r`` once its status is ``status`` (else the start of its body in the failure)."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:400])
    return r


def envelope(r: Any, status: int) -> str:
    """The message of an error answer in the one envelope, ``{"error": ..., "status": status}``."""
    payload = status_is(r, status).get_json()
    assert set(payload) == {"error", "status"} and payload["status"] == status
    return payload["error"]
