"""The LDS tables through the SQL and Connections APIs (auth on, the session's Monaco build): the admin token
reads them and cannot change them, API tokens read them only as their grants on carto_dw allow."""

from __future__ import annotations

import json

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token
from sqlfixtures import warehouse_app

ADMIN = bearer(ADMIN_TOKEN)


@pytest.fixture(scope="module")
def lds_sql_app(lds_core, tmp_path_factory):
    settings = auth_settings(lds_core.data.path, tmp_path_factory.mktemp("ldssql"))
    with warehouse_app(lds_core, settings, None, "CREATE OR REPLACE TABLE secret AS SELECT 42 AS answer") as app:
        yield app


@pytest.fixture()
def client(lds_sql_app):
    return lds_sql_app.test_client()


def query(client, q, headers, params=None):
    body = {"q": q} if params is None else {"q": q, "queryParameters": params}
    return client.post("/v3/sql/carto_dw/query", json=body, headers=headers)


def rows(r):
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
    return r.get_json()["rows"]


def test_admin_reads_roads_and_addresses(client):
    out = rows(query(client, "SELECT highway, count(*) AS n FROM lds.roads GROUP BY 1 ORDER BY n DESC", ADMIN))
    assert {"footway", "primary", "residential"} <= {r["highway"] for r in out}
    r = client.get(
        "/v3/sql/carto_dw/query",
        headers=ADMIN,
        query_string={
            "q": "SELECT housenumber, street, geom FROM lds.addresses WHERE street = $1 AND housenumber = $2",
            "queryParameters": json.dumps(["Allée Lazare Sauvaigo", "14"]),
        },
    )
    (addr,) = rows(r)
    assert r.get_json()["schema"][-1] == {"name": "geom", "type": "geometry"}
    assert json.loads(addr["geom"])["type"] == "Point"


@pytest.mark.parametrize(
    "sql", ["DROP TABLE lds.roads", "DELETE FROM lds.addresses", "CREATE TABLE lds.mine AS SELECT 1 AS a", "DETACH lds"]
)
def test_admin_cannot_change_them(client, sql):
    r = query(client, sql, ADMIN)
    assert r.status_code == 400 and set(r.get_json()) == {"error", "status"}
    assert "read-only" in r.get_json()["error"] or "DETACH is not allowed" in r.get_json()["error"]
    assert rows(query(client, "SELECT count(*) AS n FROM lds.addresses", ADMIN)) == [{"n": 183}]


@pytest.mark.parametrize("source", ["lds.roads", "carto_dw.lds.roads"])
def test_a_table_grant_covers_that_table_only(client, source):
    token = bearer(make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": source}]))
    out = rows(query(client, "SELECT name FROM lds.roads WHERE name = $1 LIMIT 1", token, ["Rue Grimaldi"]))
    assert out == [{"name": "Rue Grimaldi"}]
    assert rows(query(client, "SELECT count(*) AS n FROM lds.roads WHERE car", token))[0]["n"] > 500
    for sql in (
        "SELECT * FROM lds.addresses",
        "SELECT * FROM lds.roads r JOIN lds.places p ON r.name = p.name",
        "SELECT * FROM secret",
        "DELETE FROM lds.roads",
        "DROP TABLE lds.roads",
        "SELECT * FROM lds.roads WHERE id IN (SELECT id FROM lds.streets)",
    ):
        r = query(client, sql, token)
        assert r.status_code == 403, (sql, r.get_json())


def test_a_wildcard_grant_covers_every_lds_table(client):
    token = bearer(
        make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": "carto_dw.lds.*"}])
    )
    for table in ("addresses", "streets", "places", "roads"):
        assert rows(query(client, f"SELECT count(*) AS n FROM lds.{table}", token))[0]["n"] > 0
    assert query(client, "SELECT * FROM secret", token).status_code == 403
    assert query(client, "UPDATE lds.roads SET name = 'x'", token).status_code == 403


def test_a_grant_on_the_three_part_name(client):
    token = bearer(
        make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": "lds.main.*"}])
    )
    assert rows(query(client, "SELECT count(*) AS n FROM lds.main.places", token))[0]["n"] == 15
    assert query(client, "SELECT count(*) AS n FROM secret", token).status_code == 403


def test_a_grant_on_another_connection_or_schema_does_not_cover_them(client):
    token = bearer(
        make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": "carto_dw.main.*"}])
    )
    assert rows(query(client, "SELECT answer FROM secret", token)) == [{"answer": 42}]
    assert query(client, "SELECT * FROM lds.roads", token).status_code == 403
    assert query(client, "SELECT * FROM lds.main.roads", token).status_code == 403


def test_resources_list_the_lds_tables(client):
    r = client.get("/v3/connections/carto_dw/resources", headers=ADMIN)
    assert r.status_code == 200 and {"id": "lds", "name": "lds", "type": "database"} in r.get_json()["children"]
    r = client.get("/v3/connections/carto_dw/resources/lds.main", headers=ADMIN)
    assert [c["id"] for c in r.get_json()["children"]] == [
        f"lds.main.{t}" for t in ("addresses", "places", "roads", "streets")
    ]
    r = client.get("/v3/connections/carto_dw/resources/lds.main.roads", headers=ADMIN)
    assert {"id": "lds.main.roads.geom", "name": "geom", "type": "geometry"} in r.get_json()["children"]
    assert client.get("/v3/connections/carto_dw/resources/lds.main.nope", headers=ADMIN).status_code == 404
