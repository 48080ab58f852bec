"""SQL jobs over HTTP (``/v3/sql/<connection>/job``, ``/v3/sql/jobs``) with auth on and the local job runner,
against the embedded carto_dw and a throwaway PostgreSQL/PostGIS database: CREATE TABLE AS read back through
the query API, the warehouse's error text, cancel of a running statement (which really stops), owners, grants."""

from __future__ import annotations

import time

import psycopg
import pytest
from authfixtures import *
from authfixtures import auth_settings, bearer, make_token, pg_database, pg_database_url
from jobprocs import ADMIN, wait_sql_job
from sqlfixtures import warehouse_app


@pytest.fixture(scope="module")
def dbname():
    with pg_database(
        "lds_sqljobs_test",
        "CREATE EXTENSION postgis",
        "CREATE TABLE stores (id int, name text, geom geometry(Point, 4326))",
        "INSERT INTO stores VALUES (1, 'Casino', ST_SetSRID(ST_MakePoint(7.42, 43.73), 4326)), (2, 'Port', NULL)",
    ) as name:
        yield name


@pytest.fixture(scope="module")
def jobs_app(lds_core, tmp_path_factory, dbname):
    settings = auth_settings(
        lds_core.data.path,
        tmp_path_factory.mktemp("sqljobs"),
        sql_job_timeout_s=120.0,
        job_lease_s=3,
        sql_jobs_per_token=2,
    )
    with warehouse_app(lds_core, settings, dbname) as app:
        yield app


@pytest.fixture()
def client(jobs_app):
    return jobs_app.test_client()


def submit(client, conn, query, headers=ADMIN, params=None, status=202):
    body = {"query": query} if params is None else {"query": query, "queryParameters": params}
    r = client.post(f"/v3/sql/{conn}/job", json=body, headers=headers)
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    return r.get_json()


def rows(client, conn, q):
    r = client.post(f"/v3/sql/{conn}/query", json={"q": q}, headers=ADMIN)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["rows"]


def test_create_table_as_on_carto_dw_then_read_it(client):
    made = submit(
        client,
        "carto_dw",
        "CREATE OR REPLACE TABLE job_squares AS SELECT i, i * i AS sq, ST_Point(i, i) AS geom FROM range($n) t(i)",
        params={"n": 1000},
    )
    assert set(made) == {"jobId", "externalId", "status"} and made["status"] == "pending"
    doc = wait_sql_job(client, "carto_dw", made["jobId"])
    assert doc["status"] == "success" and doc["error"] is None, doc
    assert doc["result"]["affectedRows"] == 1000 and doc["connection"] == "carto_dw"
    assert any("done" in line for line in doc["logs"])
    counted = wait_sql_job(client, "carto_dw", submit(client, "carto_dw", 'SELECT 7 AS "Count"')["jobId"])
    assert counted["result"] == {"rowCount": 1, "affectedRows": None, "schema": [{"name": "Count", "type": "number"}]}
    assert rows(client, "carto_dw", "SELECT count(*) AS n, sum(sq) AS s FROM job_squares") == [
        {"n": 1000, "s": sum(i * i for i in range(1000))}
    ]


def test_create_table_as_on_postgres_then_read_it(client):
    made = submit(
        client,
        "pg",
        "CREATE TABLE job_copy AS SELECT id, upper(name) AS name, geom FROM stores WHERE id >= $1",
        params=[1],
    )
    doc = wait_sql_job(client, "pg", made["jobId"])
    assert doc["status"] == "success" and doc["result"]["affectedRows"] == 2, doc
    got = rows(client, "pg", "SELECT id, name, ST_AsText(geom) AS wkt FROM job_copy ORDER BY id")
    assert got == [{"id": 1, "name": "CASINO", "wkt": "POINT(7.42 43.73)"}, {"id": 2, "name": "PORT", "wkt": None}]
    select = wait_sql_job(client, "pg", submit(client, "pg", "SELECT id, name FROM stores")["jobId"])
    assert select["result"] == {
        "rowCount": 2,
        "affectedRows": None,
        "schema": [{"name": "id", "type": "number"}, {"name": "name", "type": "string"}],
    }


def test_sql_error_text_fails_the_job(client):
    for conn in ("pg", "carto_dw"):
        doc = wait_sql_job(client, conn, submit(client, conn, "SELECT * FROM no_such_table_here")["jobId"])
        assert doc["status"] == "failure" and "no_such_table_here" in doc["error"] and doc["result"] is None


def test_cancel_stops_the_statement_in_postgres(client, dbname):
    made = submit(client, "pg", "SELECT pg_sleep(300)")
    wait_sql_job(client, "pg", made["jobId"], statuses=("running",), logged="running on pg")
    with psycopg.connect(pg_database_url(dbname), autocommit=True) as conn:

        def sleeping():
            return conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'"
            ).fetchone()[0]

        deadline = time.time() + 20
        while sleeping() == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert sleeping() == 1
        r = client.delete(f"/v3/sql/pg/job/{made['jobId']}", headers=ADMIN)
        assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
        doc = wait_sql_job(client, "pg", made["jobId"], logged="cancelled in the warehouse", timeout=30)
        assert doc["status"] == "cancelled" and doc["error"] is None
        assert sleeping() == 0  # the backend no longer runs it
    assert client.delete(f"/v3/sql/pg/job/{made['jobId']}", headers=ADMIN).status_code == 409


def test_cancel_stops_a_long_duckdb_statement(client):
    made = submit(
        client, "carto_dw", "SELECT count(*) FROM range(1000000000) a, range(1000000000) b WHERE a.range + b.range = -1"
    )
    wait_sql_job(client, "carto_dw", made["jobId"], statuses=("running",), logged="running on carto_dw")
    time.sleep(0.5)  # into the statement
    assert client.delete(f"/v3/sql/carto_dw/job/{made['jobId']}", headers=ADMIN).get_json()["status"] == "cancelled"
    doc = wait_sql_job(client, "carto_dw", made["jobId"], logged="cancelled in the warehouse", timeout=30)
    assert doc["status"] == "cancelled" and doc["result"] is None
    assert rows(client, "carto_dw", "SELECT 1 AS one") == [{"one": 1}]


def test_jobs_belong_to_their_token_and_connection(client):
    token = make_token(
        client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": "carto_dw.main.*"}]
    )
    other = make_token(
        client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": "carto_dw.main.*"}]
    )
    mine = submit(client, "carto_dw", "SELECT 41 + 1 AS answer", headers=bearer(token))["jobId"]
    doc = wait_sql_job(client, "carto_dw", mine, headers=bearer(token))
    assert doc["status"] == "success" and doc["result"]["rowCount"] == 1
    for method in ("get", "delete"):
        r = getattr(client, method)(f"/v3/sql/carto_dw/job/{mine}", headers=bearer(other))
        assert r.status_code == 404 and r.get_json()["status"] == 404
    assert client.get(f"/v3/sql/pg/job/{mine}", headers=bearer(token)).status_code == 404  # not that connection
    listed = client.get("/v3/sql/jobs", headers=bearer(token)).get_json()
    assert [j["jobId"] for j in listed] == [mine]
    assert client.get("/v3/sql/jobs", headers=bearer(other)).get_json() == []
    assert mine in [j["jobId"] for j in client.get("/v3/sql/jobs", headers=ADMIN).get_json()]


def test_api_token_ddl_is_refused_and_reads_run_read_only(client):
    token = make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "pg", "source": "*"}])
    h = bearer(token)
    for query in (
        "CREATE TABLE evil AS SELECT 1",
        "DROP TABLE stores",
        "INSERT INTO stores VALUES (3, 'x', NULL)",
        "SELECT 1; DELETE FROM stores",
    ):
        r = client.post("/v3/sql/pg/job", json={"query": query}, headers=h)
        assert r.status_code == 403 and r.get_json()["status"] == 403, (query, r.get_json())
    assert client.get("/v3/sql/jobs", headers=h).get_json() == []  # nothing was queued
    no_sql = make_token(client, allowed_apis=["lds"])
    assert client.post("/v3/sql/pg/job", json={"query": "SELECT 1"}, headers=bearer(no_sql)).status_code == 403


def test_get_form_and_bad_requests(client):
    r = client.get(
        "/v3/sql/carto_dw/job", query_string={"query": "SELECT $1::int AS v", "queryParameters": "[5]"}, headers=ADMIN
    )
    assert r.status_code == 202 and r.headers["Location"].endswith(f"/v3/sql/carto_dw/job/{r.get_json()['jobId']}")
    done = wait_sql_job(client, "carto_dw", r.get_json()["jobId"])
    assert done["status"] == "success" and done["query"] == "SELECT $1::int AS v"
    for method in ("get", "delete"):  # a SQL job is not a batch job
        assert getattr(client, method)(f"/v3/lds/jobs/{done['jobId']}", headers=ADMIN).status_code == 404
    assert client.post("/v3/sql/carto_dw/job", json={"q": "SELECT 1"}, headers=ADMIN).status_code == 400
    assert client.post("/v3/sql/nope/job", json={"query": "SELECT 1"}, headers=ADMIN).status_code == 404
    r = client.post("/v3/sql/pg/job", json={"query": "SELECT $1", "queryParameters": {"a": 1}}, headers=ADMIN)
    assert r.status_code == 400 and "array" in r.get_json()["error"]
    assert client.get("/v3/sql/carto_dw/job/" + "0" * 32, headers=ADMIN).status_code == 404


def test_a_token_may_have_only_so_many_jobs_at_once(client):
    rows(client, "carto_dw", "CREATE OR REPLACE TABLE slow_src AS SELECT * FROM range(2000) t(i)")
    token = make_token(
        client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": "carto_dw.main.*"}]
    )
    h = bearer(token)
    slow = "SELECT count(*) AS n FROM slow_src a, slow_src b, slow_src c, slow_src d"
    first, second = (submit(client, "carto_dw", slow, headers=h)["jobId"] for _ in range(2))
    r = client.post("/v3/sql/carto_dw/job", json={"query": slow}, headers=h)
    assert r.status_code == 429 and r.headers["Retry-After"] and "sql_jobs_per_token" in r.get_json()["error"]
    assert submit(client, "carto_dw", "SELECT 1 AS one")["status"] == "pending"  # the admin token is exempt
    for job_id in (first, second):
        assert client.delete(f"/v3/sql/carto_dw/job/{job_id}", headers=h).get_json()["status"] == "cancelled"
    assert submit(client, "carto_dw", "SELECT 1 AS one", headers=h)["status"] == "pending"
