"""A ``sales`` table with the same 200 rows (salesdata.py) in carto_dw (DuckDB) and in PostgreSQL/PostGIS (a
database of its own whose session time zone is not UTC), and a factory of model contexts over it."""

from __future__ import annotations

import pytest
from authfixtures import pg_database, pg_database_url
from salesdata import ROWS

from lds.maps.source import open_source
from lds.models import ModelContext
from lds.settings import Settings
from lds.warehouse import open_warehouse
from lds.warehouse.carto_dw import CartoDW


def _insert(wh, point_sql: str) -> None:
    values, params = [], []
    for r in ROWS:
        n = len(params)
        values.append(
            f"(${n + 1}, ${n + 2}, ${n + 3}, ${n + 4}, ${n + 5}, ${n + 6}, "
            + point_sql.format(x=f"${n + 7}", y=f"${n + 8}")
            + ")"
        )
        params.extend(r)
    with wh.query("INSERT INTO sales VALUES " + ", ".join(values), params, timeout_s=60):
        pass


@pytest.fixture(scope="session")
def sales_dw(tmp_path_factory):
    wh = CartoDW(tmp_path_factory.mktemp("models_state") / "carto_dw", threads=1, batch_rows=50)
    with wh.query(
        "CREATE TABLE sales (id INTEGER, city VARCHAR, amount DOUBLE, qty INTEGER, ts TIMESTAMP, "
        "tz TIMESTAMPTZ, geom GEOMETRY)",
        timeout_s=60,
    ):
        pass
    _insert(wh, "ST_Point({x}, {y})")
    yield {"id": "dw", "name": "carto_dw", "provider_id": "carto_dw"}, wh
    wh.close()


@pytest.fixture(scope="session")
def sales_pg():
    with pg_database("lds_models_test", "CREATE EXTENSION postgis") as name:
        import psycopg

        with psycopg.connect(pg_database_url(name), autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} SET timezone = 'Asia/Tokyo'")
        creds = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "sslmode": "disable", "database": name}
        wh = open_warehouse("postgres", creds, Settings.from_env(env={}, sql_batch_rows=50, warehouse_pool_size=2))
        with wh.query(
            "CREATE TABLE sales (id integer, city text, amount double precision, qty integer, "
            "ts timestamp, tz timestamptz, geom geometry(Point, 4326))",
            timeout_s=60,
        ):
            pass
        _insert(wh, "ST_SetSRID(ST_MakePoint({x}, {y}), 4326)")
        yield (
            {
                "id": "pg",
                "name": "pg",
                "provider_id": "postgres",
                "config": {"credentials": {"database": name, "schema": "public"}},
            },
            wh,
        )
        wh.close()


@pytest.fixture(params=["carto_dw", "postgres"])
def sales(request):
    """(connection record, warehouse) of the sales table, once per warehouse."""
    return request.getfixturevalue("sales_dw" if request.param == "carto_dw" else "sales_pg")


@pytest.fixture()
def make_ctx(sales):
    """A factory of model contexts over the sales source (``kw``: filters, spatial_filters, limits...)."""

    def make(*, kind="table", text="sales", params=None, grants=None, **kw) -> ModelContext:
        record, wh = sales
        source = open_source(record, wh, kind, text, params=params, grants=grants)
        kw.setdefault("timeout_s", 30)
        kw.setdefault("max_rows", 10_000)
        return ModelContext(source, grants=grants, **kw)

    make.dialect = "postgres" if sales[0]["provider_id"] == "postgres" else "duckdb"
    return make
