"""CARTO's own JavaScript client (@carto/api-client 0.5.34 under Node, tests/js/maps.mjs) against a live
`lds serve`: vectorTableSource and vectorQuerySource on PostgreSQL/PostGIS and carto_dw through an API
access token, each TileJSON's tile decoded with @mapbox/vector-tile and compared with the same figures
computed directly in SQL (psycopg on PostgreSQL, the admin SQL API on carto_dw); query() for the SQL API;
a token without the grant refused through the client."""

from __future__ import annotations

import json

import psycopg
import pytest
import requests
from authfixtures import *
from authfixtures import ADMIN_TOKEN, bearer, pg_database_url
from liveserver import live_warehouses, run_node, source_token
from mapsdata import DW_SETUP, PG_SETUP

ADMIN = bearer(ADMIN_TOKEN)
MONACO_Z14 = [14, 8528, 5975]  # holds the first points of both tables


@pytest.fixture(scope="module")
def live(monaco_dir, tmp_path_factory):
    yield from live_warehouses(monaco_dir, tmp_path_factory, "maps_js", PG_SETUP, DW_SETUP)


def dw_rows(base: str, q: str) -> list[dict]:
    r = requests.post(base + "/v3/sql/carto_dw/query", headers=ADMIN, json={"q": q}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def test_carto_client_maps_pg_and_carto_dw_sources(live):
    base, dbname = live
    good = source_token(base, "geo.places")
    bad = source_token(base, "geo.zones", None)
    cafe = {"kind": {"in": {"values": ["cafe"]}}}
    cases = [
        {"name": "pg_table", "connectionName": "pg", "tableName": "geo.places", "tile": MONACO_Z14},
        {
            "name": "pg_table_filtered",
            "connectionName": "pg",
            "tableName": "geo.places",
            "columns": ["id", "kind"],
            "filters": cafe,
            "tile": MONACO_Z14,
        },
        {
            "name": "pg_query",
            "connectionName": "pg",
            "tile": MONACO_Z14,
            "sqlQuery": "SELECT id, name, geom FROM geo.places WHERE id < $1",
            "queryParameters": [40],
        },
        {  # longer than the client's 7,000-character URL limit: instantiated by POST, tiles by packed URLs
            "name": "pg_query_long",
            "connectionName": "pg",
            "tile": MONACO_Z14,
            "sqlQuery": "SELECT id, name, geom FROM geo.places WHERE id < $1 /* " + "long " * 1600 + "*/",
            "queryParameters": [40],
        },
        {"name": "dw_table", "connectionName": "carto_dw", "tableName": "spots", "tile": MONACO_Z14},
        {
            "name": "dw_query",
            "connectionName": "carto_dw",
            "tile": MONACO_Z14,
            "sqlQuery": "SELECT * FROM spots WHERE grp = $g",
            "queryParameters": {"g": 2},
        },
    ]
    out = run_node(
        "maps.mjs", {"LDS_BASE": base, "LDS_TOKEN": good, "LDS_BAD_TOKEN": bad, "LDS_CASES": json.dumps(cases)}
    )
    got = out["cases"]
    # the same figures straight from the warehouses: ids of the features inside tile 14/8528/5975 (+ buffer)
    z, x, y = MONACO_Z14
    in_tile = f"ST_Intersects(geom, ST_Transform(ST_TileEnvelope({z}, {x}, {y}, margin => 1.0 / 16), 4326))"
    with psycopg.connect(pg_database_url(dbname)) as conn:

        def ids(where: str) -> list[int]:
            return [r[0] for r in conn.execute(f"SELECT id FROM geo.places WHERE {in_tile} AND {where} ORDER BY id")]

        assert got["pg_table"]["ids"] == ids("TRUE") and got["pg_table"]["count"] > 0
        assert got["pg_table_filtered"]["ids"] == ids("kind = 'cafe'")
        assert got["pg_query"]["ids"] == ids("id < 40") and got["pg_query"]["count"] > 0
        assert got["pg_query_long"]["ids"] == got["pg_query"]["ids"]
        total, cafes = conn.execute("SELECT count(*), count(*) FILTER (WHERE kind = 'cafe') FROM geo.places").fetchone()
        first = got["pg_table"]["firstProperties"]
        row = conn.execute(
            "SELECT name, kind, pop::float8, since::text FROM geo.places WHERE id = %s", [first["id"]]
        ).fetchone()
        lon, lat = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM geo.places WHERE id = %s", [first["id"]]).fetchone()
    assert got["pg_table"]["tilestatsCount"] == total and got["pg_table_filtered"]["tilestatsCount"] == cafes
    assert (first["name"], first["kind"], first["pop"]) == row[:3] and first["since"].startswith(row[3][:10])
    assert got["pg_table"]["firstCoordinates"] == pytest.approx([lon, lat], abs=1e-4)  # a 512-grid z14 cell
    assert got["pg_table"]["propertyNames"] == ["id", "kind", "name", "pop", "since"]
    assert got["pg_table_filtered"]["propertyNames"] == ["id", "kind"]
    assert got["pg_query"]["propertyNames"] == ["id", "name"]
    dw_in_tile = (
        f"ST_Intersects(geom, ST_Transform(ST_TileEnvelope({z}, {x}, {y}), 'EPSG:3857', 'EPSG:4326', "
        "always_xy := true))"
    )
    dw_all = [r["id"] for r in dw_rows(base, f"SELECT id FROM spots WHERE {dw_in_tile} ORDER BY id")]
    # the buffer may add a neighbour row: every feature inside the tile proper is there, nothing far outside
    assert set(dw_all) <= set(got["dw_table"]["ids"]) and got["dw_table"]["count"] > 0
    assert got["dw_table"]["tilestatsCount"] == dw_rows(base, "SELECT count(*) AS n FROM spots")[0]["n"]
    dw_grp = [r["id"] for r in dw_rows(base, f"SELECT id FROM spots WHERE grp = 2 AND {dw_in_tile} ORDER BY id")]
    assert set(dw_grp) <= set(got["dw_query"]["ids"]) and all(i % 4 == 2 for i in got["dw_query"]["ids"])
    for case in got.values():
        assert case["formatTiles"] == "mvt" and case["contentType"] == "application/vnd.mapbox-vector-tile"
        assert case["geometryTypes"] == ["Point"] and case["extent"] == 512 and case["hasWidgetSource"]
        assert "geom" in case["schema"]
    assert out["query"]["rows"] == [{"n": cafes}]
    assert out["refusedTable"]["refused"] and out["refusedTable"]["status"] == 403
    assert "geo.places" in out["refusedTable"]["message"]
    assert out["refusedQuery"]["refused"] and out["refusedQuery"]["status"] == 403
