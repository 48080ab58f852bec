"""SQL API ``/v3/sql/<connection>/query`` over HTTP with auth on, against the embedded carto_dw and the real
PostgreSQL/PostGIS on 127.0.0.1:5432 (a database of its own): types and geometry, bound parameters, grants,
read-only token queries, row cap, timeout, and the error envelope."""

from __future__ import annotations

import json
import time

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token, pg_database
from sqlfixtures import envelope, warehouse_app

ADMIN = bearer(ADMIN_TOKEN)
MAX_ROWS = 50
TIMEOUT_S = 3.0
EVIL = "x'); DROP TABLE shop.stores; --"


@pytest.fixture(scope="module")
def dbname():
    with pg_database(
        "lds_sqlapi_test",
        "CREATE EXTENSION postgis",
        "CREATE SCHEMA shop; CREATE TABLE shop.stores (id bigint, name text, size integer, "
        "score double precision, open boolean, since timestamp, tags jsonb, geom geometry(Point, 4326))",
        "INSERT INTO shop.stores VALUES (1, 'Casino', 3, 1.5, true, '2024-01-02 03:04:05', "
        "'{\"a\": 1}', ST_SetSRID(ST_MakePoint(7.42, 43.73), 4326)), "
        "(2, 'Port', NULL, NULL, false, NULL, NULL, NULL)",
        "CREATE TABLE shop.secrets (id int, secret text); INSERT INTO shop.secrets VALUES (1, 's3')",
    ) as name:
        yield name


@pytest.fixture(scope="module")
def sql_app(lds_core, tmp_path_factory, dbname):
    settings = auth_settings(lds_core.data.path, tmp_path_factory.mktemp("sqlapi"), sql_max_rows=MAX_ROWS,
                             sql_timeout_s=TIMEOUT_S, sql_batch_rows=7)
    places = ("CREATE OR REPLACE TABLE places AS SELECT * FROM (VALUES (1, 'Monaco', ST_Point(7.42, 43.73)), "
              "(2, 'Nice', ST_Point(7.26, 43.70))) t(id, name, geom)")
    hidden = "CREATE OR REPLACE TABLE hidden AS SELECT 42 AS answer"
    with warehouse_app(lds_core, settings, dbname, places, hidden, password="pw", schema="shop") as app:
        yield app


@pytest.fixture()
def client(sql_app):
    return sql_app.test_client()


def ok(r):
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
    payload = r.get_json()
    assert set(payload) == {"rows", "schema", "meta"}
    return payload


def test_admin_query_types_and_geometry_on_postgres(client):
    out = ok(client.get("/v3/sql/pg/query", query_string={"q": "SELECT * FROM stores ORDER BY id"}, headers=ADMIN))
    assert [(c["name"], c["type"]) for c in out["schema"]] == [
        ("id", "bigint"), ("name", "string"), ("size", "number"), ("score", "number"), ("open", "boolean"),
        ("since", "timestamp"), ("tags", "object"), ("geom", "geometry")]
    first, second = out["rows"]
    assert first["id"] == 1 and first["name"] == "Casino" and first["open"] is True and first["score"] == 1.5
    assert first["since"].startswith("2024-01-02T03:04:05") and first["tags"] == {"a": 1}
    assert json.loads(first["geom"]) == {"type": "Point", "coordinates": [7.42, 43.73]}
    assert second["geom"] is None and second["size"] is None
    assert out["meta"]["totalRows"] == 2


def test_admin_query_types_and_geometry_on_carto_dw(client):
    out = ok(client.post("/v3/sql/carto_dw/query", json={"q": "SELECT id, name, geom FROM places ORDER BY id"},
                         headers=ADMIN))
    assert [(c["name"], c["type"]) for c in out["schema"]] == [("id", "number"), ("name", "string"),
                                                               ("geom", "geometry")]
    assert [r["name"] for r in out["rows"]] == ["Monaco", "Nice"]
    assert json.loads(out["rows"][0]["geom"]) == {"type": "Point", "coordinates": [7.42, 43.73]}


def test_positional_parameters_on_both_drivers_are_bound(client):
    for conn, q in (("pg", "SELECT $1::text AS v, count(*) AS n FROM stores WHERE name = $2"),
                    ("carto_dw", "SELECT $1::text AS v, count(*) AS n FROM places WHERE name = $2")):
        name = "Casino" if conn == "pg" else "Monaco"
        out = ok(client.get(f"/v3/sql/{conn}/query", headers=ADMIN,
                            query_string={"q": q, "queryParameters": json.dumps([EVIL, name])}))
        assert out["rows"] == [{"v": EVIL, "n": 1}]
        out = ok(client.post(f"/v3/sql/{conn}/query", headers=ADMIN, json={"q": q, "queryParameters": [EVIL, EVIL]}))
        assert out["rows"] == [{"v": EVIL, "n": 0}]
        out = ok(client.post(f"/v3/sql/{conn}/query", headers=ADMIN,
                             data={"q": q, "queryParameters": json.dumps(["form", name])}))
        assert out["rows"] == [{"v": "form", "n": 1}]
    assert ok(client.get("/v3/sql/pg/query", query_string={"q": "SELECT count(*) AS n FROM stores"},
                         headers=ADMIN))["rows"] == [{"n": 2}]


def test_named_parameters_on_carto_dw_only(client):
    out = ok(client.post("/v3/sql/carto_dw/query", headers=ADMIN,
                         json={"q": "SELECT id FROM places WHERE name = $name", "queryParameters": {"name": "Nice"}}))
    assert out["rows"] == [{"id": 2}]
    assert "array" in envelope(client.post("/v3/sql/pg/query", headers=ADMIN,
                                           json={"q": "SELECT $1", "queryParameters": {"a": 1}}), 400)


def test_api_token_runs_granted_tables_read_only(client, dbname):
    token = make_token(client, allowed_apis=["sql"], grants=[
        {"connection_name": "pg", "source": f"{dbname}.shop.stores"},
        {"connection_name": "carto_dw", "source": "carto_dw.main.places"}])
    h = bearer(token)
    out = ok(client.get("/v3/sql/pg/query", query_string={"q": "SELECT name FROM shop.stores WHERE id = $1",
                                                          "queryParameters": "[1]"}, headers=h))
    assert out["rows"] == [{"name": "Casino"}]
    assert "public.stores" in envelope(client.get("/v3/sql/pg/query", query_string={"q": "SELECT * FROM stores"},
                                                  headers=h), 403)  # could also land in public: not covered
    assert ok(client.post("/v3/sql/carto_dw/query", json={"q": "SELECT count(*) AS n FROM places"},
                          headers=h))["rows"] == [{"n": 2}]
    for conn, q in (("pg", "SELECT * FROM shop.secrets"), ("pg", "SELECT * FROM shop.stores, shop.secrets"),
                    ("pg", "DELETE FROM shop.stores"), ("pg", "UPDATE shop.stores SET name = 'x'"),
                    ("pg", "SELECT 1; DELETE FROM shop.stores"), ("carto_dw", "SELECT * FROM hidden"),
                    ("carto_dw", "INSERT INTO places VALUES (3, 'x', NULL)"), ("carto_dw", "DROP TABLE places"),
                    ("carto_dw", "COPY places TO 'x.csv'")):
        envelope(client.post(f"/v3/sql/{conn}/query", json={"q": q}, headers=h), 403)
    assert ok(client.get("/v3/sql/pg/query", query_string={"q": "SELECT count(*) AS n FROM stores"},
                         headers=ADMIN))["rows"] == [{"n": 2}]
    envelope(client.post("/v3/sql/pg/query", json={"q": "SELECT 1"}, headers=bearer(make_token(client))), 403)


def test_api_token_grant_text_runs_read_only(client):
    """A SQL grant passes the text check; the read-only transaction is the second wall."""
    q = "WITH gone AS (DELETE FROM stores RETURNING id) SELECT count(*) FROM gone"
    token = make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "pg", "source": q}])
    assert "read-only" in envelope(client.post("/v3/sql/pg/query", json={"q": q}, headers=bearer(token)), 400)
    assert ok(client.get("/v3/sql/pg/query", query_string={"q": "SELECT count(*) AS n FROM stores"},
                         headers=ADMIN))["rows"] == [{"n": 2}]


def test_row_cap_is_all_or_nothing(client):
    out = ok(client.get("/v3/sql/pg/query", query_string={"q": f"SELECT * FROM generate_series(1, {MAX_ROWS})"},
                        headers=ADMIN))
    assert len(out["rows"]) == MAX_ROWS
    for conn in ("pg", "carto_dw"):
        error = envelope(client.get(f"/v3/sql/{conn}/query", headers=ADMIN,
                                    query_string={"q": f"SELECT * FROM generate_series(1, {MAX_ROWS + 1})"}), 400)
        assert "LIMIT" in error and "job" in error


def test_get_answers_carry_an_etag_that_moves_with_the_data(client):
    args = {"q": "SELECT count(*) AS n FROM places"}
    r = client.get("/v3/sql/carto_dw/query", query_string=args, headers=ADMIN)
    etag = r.headers["ETag"]
    assert ok(r)["rows"] == [{"n": 2}] and "no-cache" in r.headers["Cache-Control"]
    again = client.get("/v3/sql/carto_dw/query", query_string=args, headers={**ADMIN, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    other = client.get("/v3/sql/carto_dw/query", query_string={"q": "SELECT 1 AS n"}, headers=ADMIN)
    assert other.headers["ETag"] != etag
    ok(client.post("/v3/sql/carto_dw/query", json={"q": "CREATE OR REPLACE TABLE scratch AS SELECT 1 AS x"},
                   headers=ADMIN))
    r = client.get("/v3/sql/carto_dw/query", query_string=args, headers={**ADMIN, "If-None-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag
    assert "ETag" not in client.post("/v3/sql/carto_dw/query", json=args, headers=ADMIN).headers


def test_timeout_is_a_4xx_that_says_so(client):
    started = time.monotonic()
    error = envelope(client.get("/v3/sql/pg/query", query_string={"q": "SELECT pg_sleep(30)"}, headers=ADMIN), 400)
    assert "cancelled" in error and time.monotonic() - started < TIMEOUT_S + 10


def test_unknown_connection_sql_error_and_bad_input(client):
    envelope(client.get("/v3/sql/nope/query", query_string={"q": "SELECT 1"}, headers=ADMIN), 404)
    assert "no_such_table" in envelope(client.get("/v3/sql/pg/query", query_string={"q": "SELECT * FROM no_such_table"},
                                                  headers=ADMIN), 400)
    assert "no_such_table" in envelope(client.post("/v3/sql/carto_dw/query", json={"q": "SELECT * FROM no_such_table"},
                                                   headers=ADMIN), 400)
    envelope(client.get("/v3/sql/pg/query", headers=ADMIN), 400)
    envelope(client.get("/v3/sql/pg/query", query_string={"q": "SELECT 1", "queryParameters": "[1"}, headers=ADMIN), 400)
    envelope(client.get("/v3/sql/pg/query", query_string={"q": "SELECT 1", "queryParameters": "3"}, headers=ADMIN), 400)
    envelope(client.post("/v3/sql/pg/query", json=[1], headers=ADMIN), 400)
    envelope(client.post("/v3/sql/pg/query", json={"q": 5}, headers=ADMIN), 400)
    envelope(client.get("/v3/sql/pg/query", query_string={"q": "SELECT 1"}), 401)
    for raw in (b"q=SELECT%20%FF", b"q=SELECT%20%ED%B3%BF", b"queryParameters=%5B1%5D"):
        r = client.post("/v3/sql/pg/query", data=raw, content_type="application/x-www-form-urlencoded", headers=ADMIN)
        envelope(r, 400)
