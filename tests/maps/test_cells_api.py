"""H3 and quadbin sources over HTTP with auth on (carto_dw and a PostgreSQL database of its own): instantiation,
TileJSON with a ``{i}`` template, binary and JSON tiles compared with aggregates computed in Python, empty
tiles, ETags, grants (tables and the functions of ``aggregationExp``), widgets with polygon spatial filters,
and bad input in the error envelope."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token, pg_database
from celldata import DW_SETUP, PG_SETUP, ROWS, expected, parent_of
from sqlfixtures import envelope, warehouse_app
from sqlfixtures import status_is as ok
from test_cells import _decode_binary

ADMIN = bearer(ADMIN_TOKEN)
AGG = "sum(pop) AS pop, count(*) AS n"


@pytest.fixture(scope="module")
def cells_app(lds_core, tmp_path_factory):
    settings = auth_settings(lds_core.data.path, tmp_path_factory.mktemp("cells_api"))
    with pg_database("lds_cells_api", *PG_SETUP) as dbname, warehouse_app(lds_core, settings, dbname, DW_SETUP) as app:
        yield app


@pytest.fixture()
def client(cells_app):
    return cells_app.test_client()


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


@pytest.mark.parametrize("conn", ["carto_dw", "pg"])
@pytest.mark.parametrize("spatial_type,column,res,level", [("h3", "h3", 6, 2), ("quadbin", "quadbin", 12, 3)])
def test_the_three_steps_of_a_cell_source(client, conn, spatial_type, column, res, level):
    params = {
        "name": "cells",
        "spatialDataType": spatial_type,
        "spatialDataColumn": column,
        "aggregationExp": AGG,
        "aggregationResLevel": str(level),
        "client": "deck-gl-carto",
    }
    inst = ok(client.get(f"/v3/maps/{conn}/table", query_string=params, headers=ADMIN)).get_json()
    assert (
        inst["nrows"] == len(ROWS)
        and {"name": column, "type": "string" if column == "h3" else "bigint"} in (inst["schema"])
    )
    tj = ok(client.get(local(inst["tilejson"]["url"][0]), headers=ADMIN)).get_json()
    template = tj["tiles"][0]
    assert "/{i}?" in template and "formatTiles=binary" in template
    assert tj["maxresolution"] == (9 if spatial_type == "h3" else 17) - level
    tile = parent_of(spatial_type, ROWS[0], res)
    url = local(template.replace("{i}", format(tile, "x")))
    r = ok(client.get(url, headers=ADMIN))
    assert r.content_type == "application/vnd.carto-spatial-tile" and r.headers["ETag"]
    got = _decode_binary(r.data)
    got.pop(-1)
    want = expected(spatial_type, tile, res, res + level)
    assert {c: (v["pop"], v["n"]) for c, v in got.items()} == want and int(r.headers["X-LDS-Features"]) == len(want)
    assert ok(client.get(url, headers={**ADMIN, "If-None-Match": r.headers["ETag"]}), 304)
    as_json = ok(client.get(url.replace("formatTiles=binary", "formatTiles=json"), headers=ADMIN)).get_json()
    assert {int(c["id"], 16): (c["properties"]["pop"], c["properties"]["n"]) for c in as_json} == want
    empty_tile = format(_far_cell(spatial_type, res), "x")
    ok(client.get(local(template.replace("{i}", empty_tile)), headers=ADMIN), 204)


def _far_cell(spatial_type: str, res: int) -> int:
    import h3
    from celldata import quadbin_of

    return h3.str_to_int(h3.latlng_to_cell(-40.0, -70.0, res)) if spatial_type == "h3" else quadbin_of(-70, -40, res)


def test_grants_cover_the_table_and_the_aggregation(client):
    token = make_token(
        client, allowed_apis=["maps", "sql"], grants=[{"connection_name": "carto_dw", "source": "carto_dw.main.cells"}]
    )
    other = make_token(
        client, allowed_apis=["maps", "sql"], grants=[{"connection_name": "carto_dw", "source": "carto_dw.main.nope"}]
    )
    params = {"name": "cells", "spatialDataType": "h3", "spatialDataColumn": "h3", "aggregationExp": AGG}
    ok(client.get("/v3/maps/carto_dw/table", query_string=params, headers=bearer(token)))
    envelope(client.get("/v3/maps/carto_dw/table", query_string=params, headers=bearer(other)), 403)
    sneaky = {**params, "aggregationExp": "max(getenv('HOME')) AS home"}
    envelope(client.get("/v3/maps/carto_dw/table", query_string=sneaky, headers=bearer(token)), 403)


@pytest.mark.parametrize(
    "extra,status,match",
    [
        ({"aggregationExp": "count(*) AS n FROM cells; DROP TABLE cells"}, 400, "aggregationExp"),
        ({"aggregationExp": "(SELECT 1) AS n"}, 400, "aggregationExp"),
        ({"aggregationResLevel": "12"}, 400, "aggregationResLevel"),
        ({"spatialDataColumn": "kind"}, 400, "not a h3 cell"),
        ({"spatialDataColumn": "missing"}, 400, "not a column"),
        ({"aggregationExp": "pop AS p"}, 400, "pop"),  # not an aggregate: the warehouse's own 400
    ],
)
def test_bad_cell_sources_are_400s(client, extra, status, match):
    params = {"name": "cells", "spatialDataType": "h3", "spatialDataColumn": "h3", "format": "tilejson", **extra}
    assert match in envelope(client.get("/v3/maps/carto_dw/table", query_string=params, headers=ADMIN), status)


def test_bad_tiles_are_400s(client):
    base = "/v3/maps/carto_dw/table/{}?name=cells&spatialDataType={}&spatialDataColumn={}"
    assert "not a valid h3 cell" in envelope(client.get(base.format("8" * 15, "h3", "h3"), headers=ADMIN), 400)
    assert "hexadecimal" in envelope(client.get(base.format("g1", "quadbin", "quadbin"), headers=ADMIN), 400)
    geo = "/v3/maps/carto_dw/table/480fffffffffffff?name=cells"
    assert "h3 or quadbin" in envelope(client.get(geo, headers=ADMIN), 400)


def test_widgets_filter_cells_by_a_polygon(client):
    polygon = {"type": "Polygon", "coordinates": [[[7.41, 43.725], [7.42, 43.725], [7.42, 43.735], [7.41, 43.725]]]}
    import json

    counts = {}
    for mode in ("intersects", "center", "contains"):
        args = {
            "type": "table",
            "source": "cells",
            "spatialDataType": "quadbin",
            "spatialDataColumn": "quadbin",
            "spatialFiltersMode": mode,
            "spatialFilters": json.dumps({"quadbin": polygon}),
            "params": json.dumps({"column": "pop", "operation": "count"}),
        }
        r = ok(client.get("/v3/sql/carto_dw/model/formula", query_string=args, headers=ADMIN))
        counts[mode] = r.get_json()["rows"][0]["value"]
    assert counts["intersects"] >= counts["center"] >= counts["contains"] and counts["intersects"] > 0
    args["spatialFiltersMode"] = "touches"
    assert "spatialFiltersMode" in envelope(
        client.get("/v3/sql/carto_dw/model/formula", query_string=args, headers=ADMIN), 400
    )
