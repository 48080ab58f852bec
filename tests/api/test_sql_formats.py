"""``format=geojson`` and ``format=csv`` of the SQL query API, over every CARTO type, on carto_dw and on a
throwaway PostgreSQL/PostGIS database: the bodies parse back to the values of the JSON answer."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import shapely
from authfixtures import *
from authfixtures import auth_settings, bearer, make_token, pg_database
from jobprocs import ADMIN, add_pg_connection

TRICKY = 'a "quoted", comma\nnew line é 😀'
PG_SELECT = "SELECT * FROM things ORDER BY id"
DW_SELECT = (
    "SELECT id, big, x, name, ok, seen, obj, geom, ST_Point(1, 2) AS other_geom FROM (VALUES "
    "(1, 9007199254740993::BIGINT, 1.5::DOUBLE, 'Casino', true, TIMESTAMP '2024-01-02 03:04:05', "
    "{'a': 1, 'b': [1, 2]}, ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))')), "
    "(2, NULL, 'NaN'::DOUBLE, $1, false, NULL, NULL, NULL)) t(id, big, x, name, ok, seen, obj, geom) ORDER BY id"
)


@pytest.fixture(scope="module")
def dbname():
    with pg_database(
        "lds_sqlformats_test",
        "CREATE EXTENSION postgis",
        "CREATE TABLE things (id int, big bigint, x double precision, name text, ok boolean, seen timestamp, "
        "obj jsonb, geom geometry(Geometry, 4326))",
        "INSERT INTO things VALUES (1, 9007199254740993, 1.5, 'Casino', true, '2024-01-02 03:04:05', "
        "'{\"a\": 1, \"b\": [1, 2]}', ST_GeomFromText('POINT(7.42 43.73)', 4326)), "
        f"(2, NULL, 'NaN', $${TRICKY}$$, false, NULL, NULL, NULL)",
    ) as name:
        yield name


@pytest.fixture(scope="module")
def app(lds_core, tmp_path_factory, dbname):
    from lds.api.connections import connections_of
    from lds.app import create_app

    app = create_app(
        auth_settings(lds_core.data.path, tmp_path_factory.mktemp("sqlformats"), sql_max_rows=5, sql_batch_rows=1),
        lds=lds_core,
    )
    add_pg_connection(app.test_client(), "pg", dbname)
    yield app
    connections_of(app).close()


@pytest.fixture()
def client(app):
    return app.test_client()


CASES = [("pg", PG_SELECT, None), ("carto_dw", DW_SELECT, [TRICKY])]


def fetch(client, conn, q, params, **options):
    body = {"q": q, **options}
    if params is not None:
        body["queryParameters"] = params
    r = client.post(f"/v3/sql/{conn}/query", json=body, headers=ADMIN)
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
    return r


@pytest.mark.parametrize(("conn", "q", "params"), CASES)
def test_geojson_feature_collection(client, conn, q, params):
    plain = fetch(client, conn, q, params).get_json()
    r = fetch(client, conn, q, params, format="geojson")
    assert r.content_type == "application/geo+json" and r.is_streamed
    fc = json.loads(r.get_data(as_text=True))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    for feature, row in zip(fc["features"], plain["rows"], strict=True):
        assert feature["type"] == "Feature"
        geom = row.pop("geom")
        assert feature["geometry"] == (json.loads(geom) if geom is not None else None)
        assert feature["properties"] == row  # every other column, same values as the JSON rows
    assert fc["features"][1]["properties"]["name"] == TRICKY and fc["features"][1]["properties"]["x"] is None
    assert fc["features"][0]["properties"]["big"] == 9007199254740993


@pytest.mark.parametrize(("conn", "q", "params"), CASES)
@pytest.mark.parametrize("geometry_format", ["wkt", "geojson"])
def test_csv_with_header_and_geometry_as_text(client, conn, q, params, geometry_format):
    plain = fetch(client, conn, q, params).get_json()
    r = fetch(client, conn, q, params, format="csv", geometryFormat=geometry_format, filename="things")
    assert r.content_type == "text/csv; charset=utf-8" and r.is_streamed
    assert r.headers["Content-Disposition"] == 'attachment; filename="things.csv"'
    header, *lines = list(csv.reader(io.StringIO(r.get_data(as_text=True), newline="")))
    assert header == [c["name"] for c in plain["schema"]] and len(lines) == 2
    types = {c["name"]: c["type"] for c in plain["schema"]}
    for line, row in zip(lines, plain["rows"], strict=True):
        for name, text in zip(header, line, strict=True):
            value = row[name]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                assert text == "", (name, text)
            elif types[name] == "geometry":
                want = shapely.from_geojson(value)
                got = shapely.from_wkt(text) if geometry_format == "wkt" else shapely.from_geojson(text)
                assert got.equals(want), (name, text)
            elif types[name] == "boolean":
                assert text == ("true" if value else "false")
            elif types[name] == "object":
                assert json.loads(text) == value
            elif types[name] in ("number", "bigint"):
                assert (int(text) if types[name] == "bigint" else float(text)) == value
            else:
                assert text == str(value) or text.startswith(value[:19])
    assert lines[1][header.index("name")] == TRICKY


def test_geojson_without_geometry_and_empty_results(client):
    fc = json.loads(fetch(client, "carto_dw", "SELECT 1 AS a", None, format="geojson").get_data(as_text=True))
    assert fc["features"] == [{"type": "Feature", "geometry": None, "properties": {"a": 1}}]
    fc = json.loads(
        fetch(client, "carto_dw", "SELECT 1 AS a WHERE false", None, format="geojson").get_data(as_text=True)
    )
    assert fc == {"type": "FeatureCollection", "features": []}
    text = fetch(client, "carto_dw", "SELECT 1 AS a, 'x' AS b WHERE false", None, format="csv").get_data(as_text=True)
    assert text == "a,b\r\n"


def test_formats_keep_the_limits_and_the_etag(client):
    r = client.post("/v3/sql/carto_dw/query", json={"q": "SELECT * FROM range(10)", "format": "csv"}, headers=ADMIN)
    assert r.status_code == 400 and r.content_type == "application/json" and "more than 5 rows" in r.get_json()["error"]
    qs = {"q": "SELECT 1 AS a", "format": "csv"}
    first = client.get("/v3/sql/carto_dw/query", query_string=qs, headers=ADMIN)
    assert first.status_code == 200 and first.headers["ETag"]
    assert (
        client.get(
            "/v3/sql/carto_dw/query",
            query_string={**qs, "format": "geojson"},
            headers={**ADMIN, "If-None-Match": first.headers["ETag"]},
        ).status_code
        == 200
    )  # another body
    assert (
        client.get(
            "/v3/sql/carto_dw/query", query_string=qs, headers={**ADMIN, "If-None-Match": first.headers["ETag"]}
        ).status_code
        == 304
    )
    form = client.post("/v3/sql/carto_dw/query", data={"q": "SELECT 2 AS b", "format": "csv"}, headers=ADMIN)
    assert form.get_data(as_text=True) == "b\r\n2\r\n"


def test_api_token_formats_pass_the_same_grant_check(client, dbname):
    token = make_token(
        client, allowed_apis=["sql"], grants=[{"connection_name": "pg", "source": f"{dbname}.public.things"}]
    )
    r = client.get(
        "/v3/sql/pg/query",
        query_string={"q": "SELECT id FROM public.things ORDER BY id", "format": "csv"},
        headers=bearer(token),
    )
    assert r.get_data(as_text=True) == "id\r\n1\r\n2\r\n"
    r = client.get(
        "/v3/sql/pg/query", query_string={"q": "DROP TABLE public.things", "format": "csv"}, headers=bearer(token)
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    "options",
    [
        {"format": "xml"},
        {"format": ["csv"]},
        {"format": {"a": 1}},
        {"format": "csv", "geometryFormat": "wkb"},
        {"format": "csv", "filename": "../x"},
        {"format": "csv", "filename": 7},
    ],
)
def test_bad_format_options_are_400(client, options):
    r = client.post("/v3/sql/carto_dw/query", json={"q": "SELECT 1", **options}, headers=ADMIN)
    assert r.status_code == 400 and r.get_json()["status"] == 400, r.get_data(as_text=True)[:200]


def test_geojson_of_integers_beyond_64_bits(client):
    q = "SELECT 170141183460469231731687303715884105727::HUGEINT AS h, ST_Point(1, 2) AS geom"
    plain = fetch(client, "carto_dw", q, None).get_json()["rows"][0]
    fc = json.loads(fetch(client, "carto_dw", q, None, format="geojson").get_data(as_text=True))
    assert fc["features"] == [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.0, 2.0]}, "properties": {"h": plain["h"]}}
    ]
