"""SQL Model API ``/v3/sql/<connection>/model/<model>`` over HTTP with auth on, as ``@carto/api-client``'s widget
sources call it (GET with JSON-encoded objects, POST with a JSON body), on carto_dw and a real PostgreSQL/PostGIS:
figures equal to the same SQL run through the SQL API, grants as in SQL, and the error envelope."""

from __future__ import annotations

import json

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token, pg_database
from sqlfixtures import envelope, warehouse_app
from widgetsdata import DW_SETUP, PG_SETUP

ADMIN = bearer(ADMIN_TOKEN)


@pytest.fixture(scope="module")
def dbname():
    with pg_database("lds_models_api_test", *PG_SETUP) as name:
        yield name


@pytest.fixture(scope="module")
def models_app(lds_core, tmp_path_factory, dbname):
    settings = auth_settings(lds_core.data.path, tmp_path_factory.mktemp("modelsapi"), filter_max_values=50)
    with warehouse_app(lds_core, settings, dbname, DW_SETUP, schema="shop") as app:
        yield app


@pytest.fixture()
def client(models_app):
    return models_app.test_client()


CONNS = {"pg": "shop.sales", "carto_dw": "sales"}


def model_get(client, conn, model, params, headers=ADMIN, **source):
    """A GET as the client's executeModel builds it (objects JSON-encoded, unknown extras included)."""
    qs = {
        "type": "table",
        "client": "deck-gl-carto",
        "v": "3.4",
        "source": CONNS[conn],
        "params": json.dumps(params),
        "queryParameters": "",
        "filtersLogicalOperator": "and",
        "spatialDataType": "geo",
        "spatialDataColumn": "geom",
    }
    for key, value in source.items():
        qs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value
    return client.get(f"/v3/sql/{conn}/model/{model}", query_string=qs, headers=headers)


def sql_value(client, conn, q):
    r = client.post(f"/v3/sql/{conn}/query", json={"q": q}, headers=ADMIN)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["rows"]


def ok(r):
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
    return r.get_json()


@pytest.mark.parametrize("conn", ["pg", "carto_dw"])
def test_widgets_equal_the_same_sql(client, conn):
    table = CONNS[conn]
    out = ok(
        model_get(
            client,
            conn,
            "formula",
            {"column": "amount", "operation": "sum"},
            filters={"zone": {"in": {"values": ["north", "east"]}}},
        )
    )
    (expected,) = sql_value(client, conn, f"SELECT sum(amount) AS value FROM {table} WHERE zone IN ('north', 'east')")
    assert out["rows"] == [expected]
    out = ok(model_get(client, conn, "category", {"column": "zone", "operation": "avg", "operationColumn": "amount"}))
    expected = sql_value(client, conn, f"SELECT zone AS name, avg(amount) AS value FROM {table} GROUP BY 1")
    assert sorted(out["rows"], key=lambda r: r["name"]) == sorted(expected, key=lambda r: r["name"])
    out = ok(model_get(client, conn, "histogram", {"column": "amount", "ticks": [10, 20, 30], "operation": "count"}))
    expected = sql_value(
        client,
        conn,
        f"SELECT CASE WHEN amount < 10 THEN 0 WHEN amount < 20 THEN 1 WHEN amount < 30 "
        f"THEN 2 ELSE 3 END AS tick, count(*) AS value FROM {table} GROUP BY 1 ORDER BY 1",
    )
    assert out["rows"] == expected
    out = ok(model_get(client, conn, "timeseries", {"column": "ts", "stepSize": "month", "operation": "count"}))
    expected = sql_value(
        client, conn, f"SELECT count(*) AS n FROM {table} GROUP BY date_trunc('month', ts) ORDER BY min(ts)"
    )
    assert [r["value"] for r in out["rows"]] == [r["n"] for r in expected]
    assert out["rows"][0]["name"] == "2024-01-01T00:00:00.000Z"
    out = ok(model_get(client, conn, "range", {"column": "amount"}))
    assert out["rows"] == sql_value(client, conn, f"SELECT min(amount) AS min, max(amount) AS max FROM {table}")


@pytest.mark.parametrize("conn", ["pg", "carto_dw"])
def test_post_body_and_query_sources(client, conn):
    body = {
        "type": "query",
        "source": f"SELECT * FROM {CONNS[conn]} WHERE amount >= $1",
        "queryParameters": [20],
        "params": {"column": ["id", "zone"], "sortBy": "id", "sortDirection": "desc", "limit": 3},
        "filters": {"zone": {"stringSearch": {"values": ["OUT"]}}},
        "filtersLogicalOperator": "and",
        "spatialFilters": {
            "geom": {"type": "Polygon", "coordinates": [[[7, 43], [8, 43], [8, 43.7361], [7, 43.7361], [7, 43]]]}
        },
        "client": "c",
    }
    out = ok(client.post(f"/v3/sql/{conn}/model/table", json=body, headers=ADMIN))
    expected = sql_value(
        client,
        conn,
        f"SELECT id, zone FROM {CONNS[conn]} WHERE amount >= 20 AND zone = 'south' AND id <= 80 ORDER BY id DESC",
    )
    assert out == {"rows": expected[:3], "metadata": {"total": len(expected)}}


def test_tokens_need_sql_and_a_grant(client, dbname):
    good = bearer(
        make_token(
            client,
            allowed_apis=["sql"],
            grants=[
                {"connection_name": "pg", "source": f"{dbname}.shop.sales"},
                {"connection_name": "carto_dw", "source": "*"},
            ],
        )
    )
    assert ok(model_get(client, "pg", "formula", {"operation": "count"}, headers=good))["rows"] == [{"value": 120}]
    assert ok(model_get(client, "carto_dw", "formula", {"operation": "count"}, headers=good))["rows"] == [
        {"value": 120}
    ]
    envelope(model_get(client, "pg", "formula", {"operation": "count"}, headers=good, source="shop.secrets"), 403)
    envelope(
        model_get(
            client,
            "pg",
            "formula",
            {"operation": "count"},
            headers=good,
            type="query",
            source="SELECT * FROM shop.secrets",
        ),
        403,
    )
    envelope(
        model_get(client, "pg", "formula", {"operation": "custom", "operationExp": "max(pg_sleep(0))"}, headers=good),
        403,
    )
    maps_only = bearer(make_token(client, allowed_apis=["maps"], grants=[{"connection_name": "pg", "source": "*"}]))
    assert "sql" in envelope(model_get(client, "pg", "formula", {"operation": "count"}, headers=maps_only), 403)
    envelope(model_get(client, "pg", "formula", {"operation": "count"}, headers={}), 401)


@pytest.mark.parametrize(
    ("model", "params", "extra", "status"),
    [
        ("median", {}, {}, 400),
        ("formula", {"operation": "sum"}, {}, 400),
        ("formula", {"operation": "count"}, {"filters": "{not json"}, 400),
        ("formula", {"operation": "count"}, {"filters": {"zone": {"near": {"values": [1]}}}}, 400),
        ("formula", {"operation": "count"}, {"filters": {"id": {"in": {"values": list(range(51))}}}}, 400),
        ("formula", {"operation": "count"}, {"type": "tileset"}, 400),
        ("formula", {"operation": "count"}, {"source": ""}, 400),
        ("formula", {"operation": "count"}, {"source": "no_such_table"}, 400),
        ("formula", {"column": "nope", "operation": "sum"}, {}, 400),
        ("formula", {"operation": "custom", "operationExp": "1) AS value FROM shop.secrets --"}, {}, 400),
        ("formula", {"operation": "count"}, {"spatialFilters": {"geom": {"type": "Point"}}}, 400),
    ],
)
def test_bad_input_is_a_4xx_envelope(client, model, params, extra, status):
    envelope(model_get(client, "pg", model, params, **extra), status)


def test_unknown_connection_is_404(client):
    envelope(client.get("/v3/sql/nope/model/formula", query_string={"source": "t", "params": "{}"}, headers=ADMIN), 404)


def test_get_answers_revalidate_with_an_etag(client):
    sql_value(client, "carto_dw", "CREATE TABLE etag_t AS SELECT 1 AS id")
    args = {"type": "table", "source": "etag_t", "params": json.dumps({"operation": "count"})}
    first = client.get("/v3/sql/carto_dw/model/formula", query_string=args, headers=ADMIN)
    assert ok(first)["rows"] == [{"value": 1}] and first.headers["ETag"]
    again = client.get(
        "/v3/sql/carto_dw/model/formula", query_string=args, headers={**ADMIN, "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]
    sql_value(client, "carto_dw", "INSERT INTO etag_t VALUES (2)")
    changed = client.get(
        "/v3/sql/carto_dw/model/formula", query_string=args, headers={**ADMIN, "If-None-Match": first.headers["ETag"]}
    )
    assert ok(changed)["rows"] == [{"value": 2}] and changed.headers["ETag"] != first.headers["ETag"]
    other = client.get(
        "/v3/sql/carto_dw/model/formula",
        headers={**ADMIN, "If-None-Match": changed.headers["ETag"]},
        query_string={**args, "params": json.dumps({"operation": "max", "column": "id"})},
    )
    assert ok(other)["rows"] == [{"value": 2}]
