"""The postgres warehouse driver against the real PostgreSQL/PostGIS on 127.0.0.1:5432 (a database of its
own, created with PostGIS and dropped afterwards)."""

from __future__ import annotations

import json
import secrets
import threading

import psycopg
import pytest
from authfixtures import PG_ADMIN_URL, pg_database

from lds.errors import BadRequest, NotFound
from lds.settings import Settings
from lds.warehouse import (
    CARTO_TYPES,
    ConnectionFailed,
    QueryCancelled,
    RowLimitExceeded,
    StatementTimeout,
    WarehouseError,
    open_warehouse,
)
from lds.warehouse.errors import scrub
from lds.warehouse.postgres import Postgres, PostgresConfig

CREDS = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "sslmode": "disable"}


@pytest.fixture(scope="module")
def dbname():
    with pg_database("lds_wh_test", "CREATE EXTENSION postgis") as name:
        yield name


@pytest.fixture(scope="module")
def pg(dbname):
    wh = open_warehouse("postgres", {**CREDS, "database": dbname},
                        Settings.from_env(env={}, sql_batch_rows=100, warehouse_pool_size=3))
    yield wh
    wh.close()


def run(wh, sql, params=None, **kw):
    with wh.query(sql, params, timeout_s=kw.pop("timeout_s", 30), **kw) as q:
        return q.schema, list(q.rows())


def test_connection_test_passes_and_config_is_validated(pg):
    pg.test()
    for bad, match in (({"host": "h"}, "database"), ({**CREDS, "database": "d", "port": 70000}, "port"),
                       ({**CREDS, "database": "d", "sslmode": "sometimes"}, "sslmode"),
                       ({**CREDS, "database": "d", "extra": 1}, "unknown"), ("text", "object")):
        with pytest.raises(BadRequest, match=match):
            PostgresConfig.from_credentials(bad)


@pytest.mark.parametrize("creds, reason", [
    ({"port": 1}, "Connection refused"),
    ({"database": "lds_no_such_db"}, "does not exist"),
    ({"username": "lds_no_such_role"}, "does not exist"),
    ({"schema": "no_such_schema"}, "schema 'no_such_schema' does not exist"),
])
def test_failed_connections_give_the_driver_reason_without_the_password(dbname, creds, reason):
    password = "s3cret-" + secrets.token_hex(8)
    wh = Postgres(PostgresConfig.from_credentials({**CREDS, "database": dbname, "password": password, **creds}),
                  connect_timeout_s=1)
    with pytest.raises(ConnectionFailed, match=reason) as err:
        wh.test()
    assert err.value.status == 400 and password not in err.value.message
    if "schema" not in creds:
        with pytest.raises(ConnectionFailed, match=reason):  # a statement over a pool that cannot connect too
            run(wh, "SELECT 1")
    wh.close()


def test_scrub_removes_passwords_from_any_message():
    assert scrub("auth failed for pw hunter2 (password=hunter2 host=x)", "hunter2") == \
        "auth failed for pw *** (password=*** host=x)"
    assert scrub("dsn: password='a b' user=u") == "dsn: password=*** user=u"


def test_every_type_maps_to_a_carto_type_and_json_ready_value(pg):
    schema, rows = run(pg, """SELECT 1::int4 AS i, 2::int2 AS sm, 2.5::float8 AS f, 1.25::numeric AS n,
        9007199254740993::int8 AS big, 'héllo'::text AS s, 'v'::varchar AS vc, true AS b,
        '2024-05-01 10:20:30'::timestamp AS ts, '2024-05-01 10:20:30+02'::timestamptz AS tz,
        '2024-05-01'::date AS day, '{"x": [1]}'::jsonb AS j, '{"y": 2}'::json AS js, ARRAY[1, 2] AS arr,
        '00000000-0000-0000-0000-000000000001'::uuid AS u, '\\x0102'::bytea AS raw,
        ST_SetSRID(ST_MakePoint(7.42, 43.73), 4326) AS g, ST_MakePoint(1, 2)::geography AS gg""", read_only=True)
    types = {c.name: c.type for c in schema}
    assert types == {"i": "number", "sm": "number", "f": "number", "n": "number", "big": "bigint", "s": "string",
                     "vc": "string", "b": "boolean", "ts": "timestamp", "tz": "timestamp", "day": "timestamp",
                     "j": "object", "js": "object", "arr": "object", "u": "string", "raw": "unknown",
                     "g": "geometry", "gg": "geometry"}
    assert set(types.values()) <= set(CARTO_TYPES)
    row = dict(zip([c.name for c in schema], rows[0]))
    assert row["n"] == 1.25 and row["big"] == 9007199254740993 and row["s"] == "héllo" and row["b"] is True
    assert row["ts"] == "2024-05-01T10:20:30" and row["day"] == "2024-05-01" and row["tz"].startswith("2024-05-01T")
    assert row["j"] == {"x": [1]} and row["js"] == {"y": 2} and row["arr"] == [1, 2] and row["raw"] == "0102"
    assert json.loads(row["g"]) == {"type": "Point", "coordinates": [7.42, 43.73]}
    assert json.loads(row["gg"]) == {"type": "Point", "coordinates": [1.0, 2.0]}
    json.dumps(rows)


def test_geometries_of_every_kind_and_null(pg):
    _, rows = run(pg, """SELECT id, ST_GeomFromText(wkt, 4326) FROM (VALUES
        (1, 'LINESTRING(0 0, 1 1)'), (2, 'POLYGON((0 0, 1 0, 1 1, 0 0))'),
        (3, 'MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))'), (4, NULL)) AS t(id, wkt)
        ORDER BY id""", read_only=True)
    assert [json.loads(g)["type"] if g else None for _, g in rows] == ["LineString", "Polygon", "MultiPolygon", None]


def test_positional_parameters_are_bound_never_spliced(pg):
    run(pg, "CREATE TABLE people (name text, age int)")
    run(pg, "INSERT INTO people VALUES ($1, $2), ($3, $4)", ["ana", 31, "bob", 42])
    attack = "x'); DROP TABLE people; --"
    assert run(pg, "SELECT $1::text", [attack], read_only=True)[1] == [(attack,)]
    assert run(pg, "SELECT name FROM people WHERE name = $1", ["ana' OR '1'='1"], read_only=True)[1] == []
    assert run(pg, "SELECT name FROM people WHERE age > $1::int", ["35"], read_only=True)[1] == [("bob",)]
    assert run(pg, "SELECT $1::jsonb ->> 'k'", [{"k": "v"}], read_only=True)[1] == [("v",)]
    assert run(pg, "SELECT name FROM people WHERE name LIKE 'a%'", read_only=True)[1] == [("ana",)]
    assert run(pg, "SELECT count(*) FROM people", read_only=True)[1] == [(2,)]
    with pytest.raises(BadRequest, match="array"):
        pg.query("SELECT $1", {"a": 1})


def test_errors_roll_back_and_read_only_refuses_writes(pg):
    run(pg, "CREATE TABLE ledger (i int)")
    with pytest.raises(WarehouseError, match="read-only"):
        run(pg, "INSERT INTO ledger VALUES (1)", read_only=True)
    with pytest.raises(WarehouseError, match="division by zero"):
        run(pg, "INSERT INTO ledger SELECT 1 / (i - i) FROM generate_series(1, 2) i")
    with pytest.raises(WarehouseError, match="no_such_table"):
        run(pg, "SELECT * FROM no_such_table")
    run(pg, "WITH x AS (INSERT INTO ledger VALUES (7) RETURNING i) SELECT i FROM x")  # data-modifying WITH
    assert run(pg, "SELECT array_agg(i) FROM ledger", read_only=True)[1] == [([7],)]


def test_timeout_cancels_the_statement_in_the_server(pg, dbname):
    with pytest.raises(StatementTimeout, match="longer than 0.5 s") as err:
        run(pg, "SELECT pg_sleep(30)", timeout_s=0.5, read_only=True)
    assert 400 <= err.value.status < 500 and "job" in err.value.message
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        sleeping = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                                 "AND query LIKE 'SELECT pg_sleep(30)%%'", [dbname]).fetchone()[0]
    assert sleeping == 0
    assert run(pg, "SELECT 1")[1] == [(1,)]  # the pooled connection is usable again


def test_row_cap_points_to_limit_and_jobs(pg):
    with pytest.raises(RowLimitExceeded, match="LIMIT.*job"):
        run(pg, "SELECT generate_series(1, 1000)", max_rows=250, read_only=True)
    assert len(run(pg, "SELECT generate_series(1, 250)", max_rows=250)[1]) == 250


def test_rows_stream_in_batches_from_a_server_cursor(pg):
    with pg.query("SELECT generate_series(1, 1050) AS n", timeout_s=30, read_only=True) as q:
        sizes = [len(b) for b in q.batches()]
        assert q.schema[0].type == "number"
    assert sizes == [100] * 10 + [50]


def test_cancel_from_another_thread(pg):
    q = pg.query("SELECT pg_sleep(30)", timeout_s=60)
    threading.Timer(0.3, q.cancel).start()
    with pytest.raises(QueryCancelled), q:
        list(q.rows())
    assert run(pg, "SELECT 2")[1] == [(2,)]


def test_resources_browse_databases_schemas_tables_columns(pg, dbname):
    run(pg, "CREATE SCHEMA shop")
    run(pg, "CREATE TABLE shop.stores (id bigint, name text, geom geometry(Point, 4326), opened timestamptz)")
    run(pg, "CREATE VIEW shop.named AS SELECT name FROM shop.stores")
    assert pg.resources("") == [{"id": dbname, "name": dbname, "type": "database"}]
    schemas = pg.resources(dbname)
    assert {"id": f"{dbname}.shop", "name": "shop", "type": "schema"} in schemas
    assert not any(s["name"].startswith("pg_") or s["name"] == "information_schema" for s in schemas)
    assert pg.resources(f"{dbname}.shop") == [
        {"id": f"{dbname}.shop.named", "name": "named", "type": "view"},
        {"id": f"{dbname}.shop.stores", "name": "stores", "type": "table"}]
    assert pg.resources(f"{dbname}.shop.stores") == [
        {"id": f"{dbname}.shop.stores.id", "name": "id", "type": "bigint"},
        {"id": f"{dbname}.shop.stores.name", "name": "name", "type": "string"},
        {"id": f"{dbname}.shop.stores.geom", "name": "geom", "type": "geometry"},
        {"id": f"{dbname}.shop.stores.opened", "name": "opened", "type": "timestamp"}]
    for missing in ("other", f"{dbname}.nope", f"{dbname}.shop.nope"):
        with pytest.raises(NotFound):
            pg.resources(missing)


def test_default_schema_sets_the_search_path(pg, dbname):
    run(pg, "CREATE SCHEMA \"Sales Q1\"")
    run(pg, "CREATE TABLE \"Sales Q1\".deals (v int)")
    run(pg, "INSERT INTO \"Sales Q1\".deals VALUES (5)")
    wh = Postgres(PostgresConfig.from_credentials({**CREDS, "database": dbname, "schema": "Sales Q1"}))
    try:
        wh.test()
        assert run(wh, "SELECT v FROM deals", read_only=True)[1] == [(5,)]
        assert run(wh, "SELECT ST_AsText(ST_MakePoint(1, 2))")[1] == [("POINT(1 2)",)]  # public still on the path
    finally:
        wh.close()


def test_data_version_changes_after_a_write_only(pg):
    run(pg, "CREATE TABLE ev (i int)")
    before = pg.data_version()
    run(pg, "SELECT count(*) FROM ev", read_only=True)
    assert pg.data_version() == before
    run(pg, "INSERT INTO ev VALUES (1)")
    assert pg.data_version() != before
