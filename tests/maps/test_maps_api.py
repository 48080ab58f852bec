"""Maps API over HTTP with auth on, against the real PostgreSQL/PostGIS on 127.0.0.1:5432 (a database of its
own) and the embedded carto_dw, with the answer cache in the real Redis (a key prefix of its own):
instantiation, TileJSON, MVT and GeoJSON tiles compared with SQL, filters, the feature cap, empty tiles,
ETags, the cache, grants, and bad input."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qs, urlsplit

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, REDIS_URL, auth_settings, bearer, make_token, pg_database
from mapsdata import DW_SETUP, PG_SETUP
from mvt_decode import decode
from sqlfixtures import envelope, warehouse_app
from sqlfixtures import status_is as ok

ADMIN = bearer(ADMIN_TOKEN)
CAP = 150


@pytest.fixture(scope="module")
def dbname():
    with pg_database("lds_maps_test", *PG_SETUP) as name:
        yield name


@pytest.fixture(scope="module")
def maps_app(lds_core, tmp_path_factory, dbname, redis_prefix):
    settings = auth_settings(
        lds_core.data.path,
        tmp_path_factory.mktemp("maps"),
        maps_tile_max_features=CAP,
        cache_enabled=True,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix + "maps:",
        cache_local_front_entries=0,
    )
    with warehouse_app(lds_core, settings, dbname, DW_SETUP) as app:
        yield app


@pytest.fixture()
def client(maps_app):
    return maps_app.test_client()


def sql(client, conn, q, params=None):
    body = {"q": q} if params is None else {"q": q, "queryParameters": params}
    return ok(client.post(f"/v3/sql/{conn}/query", json=body, headers=ADMIN)).get_json()["rows"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def tilejson_of(client, conn, kind, headers=ADMIN, **params):
    inst = ok(client.get(f"/v3/maps/{conn}/{kind}", query_string=params, headers=headers)).get_json()
    data_url = inst["tilejson"]["url"][0]
    tj = ok(client.get(path_of(data_url), headers=headers)).get_json()
    return inst, data_url, tj


def tile(client, template: str, z: int, x: int, y: int, headers=ADMIN):
    url = template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
    return client.get(path_of(url), headers=headers)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def features(r) -> list[dict]:
    ok(r)
    assert r.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    layers = decode(r.data)
    assert list(layers) == ["default"]
    return layers["default"]["features"]


def test_table_source_instantiation_tilejson_and_tile_on_postgres(client):
    inst, data_url, tj = tilejson_of(client, "pg", "table", name="geo.places")
    assert inst["nrows"] == 400 and inst["size"] > 0
    assert {"name": "geom", "type": "geometry"} in inst["schema"]
    assert {"name": "pop", "type": "number"} in inst["schema"]
    q = parse_qs(urlsplit(data_url).query)
    assert q["format"] == ["tilejson"] and int(q["cache"][0]) > 0 and q["name"] == ["geo.places"]
    assert urlsplit(data_url).scheme == "http"  # absolute: the client parses it with new URL()
    template = tj["tiles"][0]
    assert "/v3/maps/pg/table/{z}/{x}/{y}?" in template and "formatTiles=mvt" in template
    w, s, e, n = tj["bounds"]
    assert w == pytest.approx(7.40) and s == pytest.approx(43.72) and e == pytest.approx(7.438)
    assert n == pytest.approx(43.739)
    layer = tj["vector_layers"][0]
    assert layer["id"] == "default" and layer["fields"] == {
        "id": "Number",
        "name": "String",
        "kind": "String",
        "pop": "Number",
        "since": "String",
    }
    stats = tj["tilestats"]["layers"][0]
    assert stats["count"] == 400 and stats["geometry"] == "Point"
    attrs = {a["attribute"]: a for a in stats["attributes"]}
    assert attrs["pop"]["min"] == 0 and attrs["pop"]["max"] == pytest.approx(598.5)
    assert {c["category"] for c in attrs["kind"]["categories"]} == {"shop", "cafe", "bank"}
    assert tj["tileResolution"] == 0.5 and tj["maxzoom"] == 20
    # zoom 10: every point in one tile, thinned to the cap
    x, y = 533, 373  # the z10 tile holding Monaco
    r = tile(client, template, 10, x, y)
    feats = features(r)
    assert len(feats) <= CAP and int(r.headers["X-LDS-Features"]) == len(feats)
    assert float(r.headers["X-LDS-Dropped-Fraction"]) == pytest.approx(1 - len(feats) / 400, abs=1e-6)
    assert {f["type"] for f in feats} == {1}
    assert set(feats[0]["properties"]) == {"id", "name", "kind", "pop", "since"}


def test_tile_features_match_sql_under_the_cap(client):
    _, _, tj = tilejson_of(
        client,
        "pg",
        "table",
        name="geo.places",
        columns="id,kind",
        filters=json.dumps({"kind": {"in": {"values": ["cafe"]}}}),
    )
    r = tile(client, tj["tiles"][0], 10, 533, 373)
    feats = features(r)
    expected = sql(client, "pg", "SELECT id FROM geo.places WHERE kind = 'cafe' ORDER BY id")
    assert sorted(f["properties"]["id"] for f in feats) == [row["id"] for row in expected]
    assert {f["properties"]["kind"] for f in feats} == {"cafe"} and set(feats[0]["properties"]) == {"id", "kind"}
    assert r.headers["X-LDS-Dropped-Fraction"] == "0"


def test_query_source_with_parameters_and_polygons_with_feature_bbox(client):
    inst, _, tj = tilejson_of(
        client, "pg", "query", q="SELECT * FROM geo.places WHERE id < $1", queryParameters=json.dumps([25])
    )
    assert inst["nrows"] == 25
    feats = features(tile(client, tj["tiles"][0], *tile_of(7.401, 43.7205, 14)))
    assert 0 < len(feats) <= 25 and all(f["properties"]["id"] < 25 for f in feats)
    _, _, tj = tilejson_of(client, "pg", "table", name="geo.zones", featureBbox="true")
    assert tj["tilestats"]["layers"][0]["geometry"] == "Polygon"
    feats = features(tile(client, tj["tiles"][0], 10, 533, 373))
    assert len(feats) == 3 and {f["type"] for f in feats} == {3}
    bbox = min(f["properties"]["_carto_bbox"] for f in feats)
    assert [float(v) for v in bbox.split(",")] == pytest.approx([7.40, 43.72, 7.405, 43.725])


def test_carto_dw_table_and_query_sources(client):
    inst, _, tj = tilejson_of(client, "carto_dw", "table", name="spots")
    assert inst["nrows"] == 100 and tj["tilestats"]["layers"][0]["count"] == 100
    feats = features(tile(client, tj["tiles"][0], 10, 533, 373))
    assert sorted(f["properties"]["id"] for f in feats) == list(range(100))
    assert set(feats[0]["properties"]) == {"id", "name", "grp"}
    inst, _, tj = tilejson_of(
        client,
        "carto_dw",
        "query",
        q="SELECT * FROM spots WHERE grp = $g",
        queryParameters=json.dumps({"g": 1}),
        filters=json.dumps({"id": {"between": {"values": [[0, 49]]}}}),
    )
    expected = sql(client, "carto_dw", "SELECT count(*) AS n FROM spots WHERE grp = 1 AND id BETWEEN 0 AND 49")
    assert inst["nrows"] == expected[0]["n"] == 13
    feats = features(tile(client, tj["tiles"][0], 10, 533, 373))
    assert len(feats) == 13 and {f["properties"]["grp"] for f in feats} == {1}
    inst, _, tj = tilejson_of(client, "carto_dw", "query", q="SELECT s.*, r.range AS k FROM spots s, range(3) r")
    r = tile(client, tj["tiles"][0], 10, 533, 373)
    feats = features(r)  # 300 rows, a cap of 150: every second one
    assert inst["nrows"] == 300 and len(feats) == CAP and r.headers["X-LDS-Dropped-Fraction"] == "0.5"


def test_geojson_tiles_and_empty_tiles(client):
    _, _, tj = tilejson_of(client, "carto_dw", "table", name="spots")
    template = tj["tiles"][0].replace("formatTiles=mvt", "formatTiles=geojson")
    r = ok(tile(client, template, 10, 533, 373))
    assert r.headers["Content-Type"].startswith("application/geo+json")
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 100
    assert fc["features"][0]["geometry"]["type"] == "Point"
    empty = tile(client, tj["tiles"][0], 10, 0, 0)
    assert empty.status_code == 204 and empty.data == b"" and empty.headers["X-LDS-Features"] == "0"


def test_etag_revalidation_cache_hits_and_the_cache_value_moves_with_the_data(client):
    _, data_url, tj = tilejson_of(client, "carto_dw", "table", name="spots")
    first = tile(client, tj["tiles"][0], 11, 1066, 746)
    assert first.status_code in (200, 204) and first.headers["ETag"]
    again = tile(client, tj["tiles"][0], 11, 1066, 746)
    assert again.headers.get("X-LDS-Cache") == "hit" and again.data == first.data
    url = tj["tiles"][0].replace("{z}", "11").replace("{x}", "1066").replace("{y}", "746")
    r = client.get(path_of(url), headers={**ADMIN, "If-None-Match": first.headers["ETag"]})
    assert r.status_code == 304 and "max-age" in r.headers["Cache-Control"]
    sql(client, "carto_dw", "INSERT INTO spots VALUES (1000, 'new', 0, ST_Point(7.41, 43.73))")
    try:
        _, data_url2, _ = tilejson_of(client, "carto_dw", "table", name="spots")
        cache = parse_qs(urlsplit(data_url).query)["cache"]
        assert parse_qs(urlsplit(data_url2).query)["cache"] != cache
        r = client.get(path_of(url), headers={**ADMIN, "If-None-Match": first.headers["ETag"]})
        assert r.status_code == 200
    finally:
        sql(client, "carto_dw", "DELETE FROM spots WHERE id = 1000")


def test_long_sources_travel_packed_in_short_urls(client):
    q = "SELECT id, kind, geom FROM geo.places WHERE id < $1 /* " + "padding " * 1200 + "*/"
    r = ok(client.post("/v3/maps/pg/query", json={"q": q, "queryParameters": [30]}, headers=ADMIN))
    data_url = r.get_json()["tilejson"]["url"][0]
    assert len(data_url) < 1000 and "src=" in data_url and "padding" not in data_url
    tj = ok(client.get(path_of(data_url), headers=ADMIN)).get_json()
    assert len(tj["tiles"][0]) < 1000 and tj["tilestats"]["layers"][0]["count"] == 30
    feats = features(tile(client, tj["tiles"][0], 10, 533, 373))
    assert sorted(f["properties"]["id"] for f in feats) == list(range(30))
    for src in ("!!", "eNpTykjNyclXAgAJUgJZ", "A" * 40):  # not base64url; "hello" packed (not an object); garbage
        envelope(client.get("/v3/maps/pg/query", query_string={"src": src}, headers=ADMIN), 400)


def test_grants_for_api_tokens(client, dbname):
    token = bearer(
        make_token(
            client,
            allowed_apis=["maps"],
            grants=[
                {"connection_name": "pg", "source": "geo.places"},
                {"connection_name": "carto_dw", "source": "carto_dw.main.*"},
            ],
        )
    )
    inst, _, tj = tilejson_of(client, "pg", "table", headers=token, name="geo.places")
    assert inst["nrows"] == 400 and features(tile(client, tj["tiles"][0], 10, 533, 373, headers=token))
    inst, _, _ = tilejson_of(client, "pg", "query", headers=token, q="SELECT id, geom FROM geo.places WHERE id < 3")
    assert inst["nrows"] == 3
    assert tilejson_of(client, "carto_dw", "table", headers=token, name="spots")[0]["nrows"] == 100
    assert "geo.secret" in envelope(
        client.get("/v3/maps/pg/table", query_string={"name": "geo.secret"}, headers=token), 403
    )
    envelope(client.get("/v3/maps/pg/query", query_string={"q": "SELECT * FROM geo.secret"}, headers=token), 403)
    envelope(
        client.get(
            "/v3/maps/pg/query", headers=token, query_string={"q": "SELECT * FROM geo.places; DROP TABLE geo.places"}
        ),
        403,
    )
    envelope(client.get("/v3/maps/pg/table/0/0/0", query_string={"name": "geo.secret"}, headers=token), 403)
    no_maps = bearer(make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "pg", "source": "*"}]))
    assert "maps" in envelope(
        client.get("/v3/maps/pg/table", query_string={"name": "geo.places"}, headers=no_maps), 403
    )
    granted_sql = "SELECT id, geom FROM geo.secret"
    exact = bearer(make_token(client, allowed_apis=["maps"], grants=[{"connection_name": "pg", "source": granted_sql}]))
    assert tilejson_of(client, "pg", "query", headers=exact, q=granted_sql)[0]["nrows"] == 1
    envelope(client.get("/v3/maps/pg/table", query_string={"name": "geo.secret"}, headers=exact), 403)


def test_bad_input_is_a_400_envelope(client):
    base = "/v3/maps/pg/table"
    for params, word in (
        ({}, "name"),
        ({"name": "geo.places; DROP TABLE x"}, "table name"),
        ({"name": "geo.places", "spatialDataColumn": "name"}, "geometry"),
        ({"name": "geo.places", "spatialDataColumn": "nope"}, "nope"),
        ({"name": "geo.places", "spatialDataType": "h3"}, "h3"),
        ({"name": "geo.places", "spatialDataType": "raster"}, "spatialDataType"),
        ({"name": "geo.places", "tileResolution": "3"}, "tileResolution"),
        ({"name": "geo.places", "columns": "id,missing"}, "missing"),
        ({"name": "geo.places", "filters": "{not json"}, "filters"),
        ({"name": "geo.places", "filters": json.dumps({"kind": {"near": {"values": [1]}}})}, "near"),
        ({"name": "geo.places", "geo_column": "geom"}, "geo_column"),
        ({"name": "geo.places", "format": "ndjson"}, "format"),
    ):
        assert word in envelope(client.get(base, query_string=params, headers=ADMIN), 400), params
    assert "zoom" in envelope(client.get(base + "/25/0/0", query_string={"name": "geo.places"}, headers=ADMIN), 400)
    assert "does not exist" in envelope(
        client.get(base + "/1/2/0", query_string={"name": "geo.places"}, headers=ADMIN), 400
    )
    envelope(client.get(base + "/a/0/0", query_string={"name": "geo.places"}, headers=ADMIN), 400)
    assert "binary" in envelope(
        client.get(base + "/0/0/0", query_string={"name": "geo.places", "formatTiles": "binary"}, headers=ADMIN), 400
    )
    envelope(client.get("/v3/maps/pg/tileset", query_string={"name": "x"}, headers=ADMIN), 404)
    envelope(client.get("/v3/maps/nope/table", query_string={"name": "x"}, headers=ADMIN), 404)
    envelope(client.get("/v3/maps/pg/table", query_string={"name": "geo.missing"}, headers=ADMIN), 400)
    r = client.post(base, json={"name": "geo.places", "filters": {"kind": {"in": {"values": ["shop"]}}}}, headers=ADMIN)
    assert ok(r).get_json()["nrows"] == 134


def test_lds_roads_of_carto_dw_are_mappable(client):
    n = sql(client, "carto_dw", "SELECT count(*) AS n FROM lds.roads")[0]["n"]
    assert n > 100
    inst, _, tj = tilejson_of(client, "carto_dw", "table", name="lds.roads")
    assert inst["nrows"] == n and tj["tilestats"]["layers"][0]["geometry"] == "LineString"
    w, s, e, nn = tj["bounds"]
    assert 7.3 < w < e < 7.5 and 43.6 < s < nn < 43.8
    r = tile(client, tj["tiles"][0], *tile_of((w + e) / 2, (s + nn) / 2, 13))
    feats = features(r)
    assert feats and {f["type"] for f in feats} == {2} and int(r.headers["X-LDS-Features"]) == len(feats)
