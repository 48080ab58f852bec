"""CARTO's own JavaScript client (@carto/api-client 0.5.34 under Node, tests/js/cells.mjs) against a live
`lds serve` for spatial-index sources: h3TableSource and quadbinTableSource (and the query twins) on carto_dw
and PostgreSQL through an API access token; each TileJSON's tile (named by a cell) decoded as deck.gl decodes
CARTO's binary spatial tile and compared with the aggregates computed in Python from the points; the widget
source's formula compared with SQL, with and without a polygon spatial filter."""

from __future__ import annotations

import json

import psycopg
import pytest
from authfixtures import *
from authfixtures import pg_database_url
from celldata import DW_SETUP, PG_SETUP, ROWS, expected, parent_of
from liveserver import live_warehouses, run_node, source_token
from shapely.geometry import Polygon, box

from lds.maps.cellindex import quadbin_to_tile
from lds.maps.tiles import lonlat_bounds

AREA = [[7.412, 43.728], [7.424, 43.727], [7.426, 43.738], [7.415, 43.741], [7.412, 43.728]]


@pytest.fixture(scope="module")
def live(monaco_dir, tmp_path_factory):
    yield from live_warehouses(monaco_dir, tmp_path_factory, "cells_js", PG_SETUP, DW_SETUP)


def test_carto_client_h3_and_quadbin_sources(live):
    base, dbname = live
    token = source_token(base, "public.cells")
    h3_tile = parent_of("h3", ROWS[0], 6)
    quadbin_tile = parent_of("quadbin", ROWS[0], 12)
    agg = "sum(pop) AS pop, count(*) AS n"
    polygon = {"type": "Polygon", "coordinates": [AREA]}
    common = {"aggregationExp": agg, "formulaColumn": "pop", "polygon": polygon}
    cases = [
        {
            "name": "h3_dw",
            "type": "h3",
            "connectionName": "carto_dw",
            "tableName": "cells",
            "column": "h3",
            "aggregationResLevel": 2,
            "tile": format(h3_tile, "x"),
            **common,
        },
        {
            "name": "quadbin_pg",
            "type": "quadbin",
            "connectionName": "pg",
            "tableName": "public.cells",
            "column": "quadbin",
            "aggregationResLevel": 3,
            "tile": format(quadbin_tile, "x"),
            **common,
        },
        {
            "name": "h3_pg_query",
            "type": "h3",
            "connectionName": "pg",
            "column": "h3int",
            "sqlQuery": "SELECT h3int, pop FROM public.cells WHERE pop > $1",
            "queryParameters": [0],
            "aggregationResLevel": 2,
            "tile": format(h3_tile, "x"),
            **common,
        },
        {
            "name": "quadbin_dw_query",
            "type": "quadbin",
            "connectionName": "carto_dw",
            "column": "quadbin",
            "sqlQuery": "SELECT quadbin, pop FROM cells",
            "aggregationResLevel": 3,
            "tile": format(quadbin_tile, "x"),
            **common,
        },
    ]
    out = run_node("cells.mjs", {"LDS_BASE": base, "LDS_TOKEN": token, "LDS_CASES": json.dumps(cases)})
    got = out["cases"]
    with psycopg.connect(pg_database_url(dbname)) as conn:
        total = conn.execute("SELECT sum(pop) FROM cells").fetchone()[0]
    area = Polygon(AREA)

    def quadbin_center_in(r) -> bool:
        w, s, e, n = lonlat_bounds(*quadbin_to_tile(r[5]))
        return area.contains(box(w, s, e, n).centroid)

    import h3

    in_area = {
        "h3": sum(1 for r in ROWS if area.contains(Polygon([(b, a) for a, b in h3.cell_to_boundary(r[3])]).centroid)),
        "quadbin": sum(1 for r in ROWS if quadbin_center_in(r)),
    }
    for c in cases:
        g = got[c["name"]]
        spatial_type, res = c["type"], (6 if c["type"] == "h3" else 12)
        want = expected(spatial_type, int(c["tile"], 16), res, res + c["aggregationResLevel"])
        assert {int(k, 16): (v["pop"], v["n"]) for k, v in g["cells"].items()} == want and len(want) > 3
        assert g["inTile"] and g["cellRes"] == [res + c["aggregationResLevel"]]
        assert "/{i}?" in g["tilesTemplate"] and g["contentType"] == "application/vnd.carto-spatial-tile"
        assert g["scheme"] == (0 if spatial_type == "h3" else 1)
        assert g["maxresolution"] == (9 if spatial_type == "h3" else 17) - c["aggregationResLevel"]
        assert g["tilestatsCount"] == len(ROWS) and g["fields"] == {"pop": "Number", "n": "Number"}
        assert g["formulaSum"] == total
        assert abs(g["formulaPolygonCount"] - in_area[spatial_type]) <= (2 if spatial_type == "h3" else 0)
        assert 0 < g["formulaPolygonCount"] < 500
