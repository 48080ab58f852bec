"""H3 and quadbin sources against the real carto_dw (DuckDB) and PostgreSQL: the bit arithmetic of cell ids
checked against the `h3` package and the tile formula, tiles of aggregated cells compared with the same
aggregates computed in Python from the points, binary and JSON tiles, TileJSON, polygon spatial filters on
cells for the widgets, and hostile aggregation expressions."""

from __future__ import annotations

import json
import struct

import h3
import pytest
from authfixtures import pg_database
from celldata import DW_SETUP, H3_RES, PG_SETUP, QUADBIN_RES, ROWS, expected, parent_of, quadbin_of
from shapely.geometry import Polygon, box

from lds.errors import BadRequest
from lds.maps import cells
from lds.maps.cellindex import H3, QUADBIN, parse_cell, polygon_ranges, quadbin_from_tile, quadbin_to_tile
from lds.maps.filters import Binder, spatial_sql
from lds.maps.source import open_source
from lds.models import ModelContext, run_model
from lds.settings import Settings
from lds.warehouse import open_warehouse
from lds.warehouse.carto_dw import CartoDW

AGG = "sum(pop) AS pop, count(*) AS n"
# (spatialDataType, column, tile resolution, aggregationResLevel)
KINDS = [("h3", "h3", 6, 2), ("h3", "h3int", 6, 2), ("quadbin", "quadbin", 12, 3)]


@pytest.fixture(scope="module")
def dw(tmp_path_factory):
    wh = CartoDW(tmp_path_factory.mktemp("cells_state") / "carto_dw", threads=1, batch_rows=100)
    with wh.query(DW_SETUP, timeout_s=60):
        pass
    yield {"id": "dw", "name": "carto_dw", "provider_id": "carto_dw"}, wh
    wh.close()


@pytest.fixture(scope="module")
def pg():
    with pg_database("lds_cells_test", *PG_SETUP) as name:
        creds = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "sslmode": "disable", "database": name}
        wh = open_warehouse("postgres", creds, Settings.from_env(env={}, sql_batch_rows=100, warehouse_pool_size=2))
        yield {"id": "pg", "name": "pg", "provider_id": "postgres"}, wh
        wh.close()


@pytest.fixture(params=["carto_dw", "postgres"])
def warehouse(request):
    return request.getfixturevalue("dw" if request.param == "carto_dw" else "pg")


def source_of(warehouse, spatial_type, column, *, kind="table", text="cells"):
    record, wh = warehouse
    return open_source(record, wh, kind, text, spatial_column=column, spatial_type=spatial_type)


def tile_of(spatial_type: str, res: int) -> int:
    return parent_of(spatial_type, ROWS[0], res)


# -- the index arithmetic -------------------------------------------------------------------------------------


def test_quadbin_tiles_round_trip_as_deck_gl_numbers_them():
    for z, x, y, q in [
        (0, 0, 0, "480fffffffffffff"),
        (3, 1, 2, "48327fffffffffff"),
        (23, 1023, 2412, "4970000021df7d7f"),
    ]:
        assert format(quadbin_from_tile(z, x, y), "x") == q and quadbin_to_tile(int(q, 16)) == (z, x, y)


def test_parents_and_descendant_ranges_match_the_h3_package_and_the_tile_formula():
    for r in ROWS[::37]:
        for res in range(H3_RES + 1):
            assert H3.parent(r[4], res) == parent_of("h3", r, res)
        for res in range(QUADBIN_RES + 1):
            assert QUADBIN.parent(r[5], res) == parent_of("quadbin", r, res)
    tile = h3.cell_to_parent(ROWS[0][3], 6)
    lo, hi = H3.descendants(h3.str_to_int(tile), H3_RES)
    children = {h3.str_to_int(c) for c in h3.cell_to_children(tile, H3_RES)}
    assert all(lo <= c <= hi for c in children)
    for neighbour in h3.grid_disk(tile, 1):  # the neighbours' descendants are outside the range
        if neighbour != tile:
            assert not any(lo <= h3.str_to_int(c) <= hi for c in h3.cell_to_children(neighbour, H3_RES))


@pytest.mark.parametrize("text", ["", "xyz", "1" * 17, "-1", "8", "0" * 16, "ffffffffffffffff", "48ff"])
def test_tile_cell_ids_are_checked(text):
    for scheme in (H3, QUADBIN):
        with pytest.raises(BadRequest):
            parse_cell(scheme, text)


# -- tiles ----------------------------------------------------------------------------------------------------


def _decode_binary(body: bytes) -> dict[int, dict[str, float]]:
    """CARTO's spatial tile, decoded as deck.gl's reader does (protobuf by hand: varints, length-delimited)."""

    def fields(buf: bytes):
        i = 0
        while i < len(buf):
            key, i = _varint(buf, i)
            if key & 7 == 0:
                value, i = _varint(buf, i)
                yield key >> 3, value
            else:
                n, i = _varint(buf, i)
                yield key >> 3, buf[i : i + n]
                i += n

    tile = dict(fields(body))
    ids: list[int] = []
    numeric: dict[str, list[float]] = {}
    for number, value in fields(tile[2]):
        if number == 1:
            packed = dict(fields(value))[1]
            ids = list(struct.unpack(f"<{len(packed) // 8}Q", packed))
        elif number == 3:
            entry = dict(fields(value))
            packed = dict(fields(entry[2]))[1]
            numeric[entry[1].decode()] = list(struct.unpack(f"<{len(packed) // 8}d", packed))
    return {cell: {k: v[i] for k, v in numeric.items()} for i, cell in enumerate(ids)} | {-1: {"scheme": tile[1]}}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        shift += 7


def _tile(source, tile: int, level: int, fmt: str = "json", where=None):
    layout = cells.cell_layout(source, "v1", timeout_s=30)
    agg = cells.aggregation_sql(source, AGG, grants=None, max_chars=10_000)
    return cells.make_cell_tile(
        source, layout, tile, level=level, aggregation=agg, fmt=fmt, timeout_s=30, max_cells=100_000, where=where
    )


@pytest.mark.parametrize("spatial_type,column,res,level", KINDS)
def test_tiles_aggregate_the_cells_inside_them(warehouse, spatial_type, column, res, level):
    source = source_of(warehouse, spatial_type, column)
    tile = tile_of(spatial_type, res)
    want = expected(spatial_type, tile, res, res + level)
    got = _tile(source, tile, level)
    assert got.content_type == "application/json" and got.features == len(want) > 3
    width = 15 if spatial_type == "h3" else 16
    assert {int(c["id"], 16): (c["properties"]["pop"], c["properties"]["n"]) for c in json.loads(got.body)} == want
    assert all(len(c["id"]) == width for c in json.loads(got.body))
    binary = _tile(source, tile, level, "binary")
    assert binary.content_type == "application/vnd.carto-spatial-tile"
    decoded = _decode_binary(binary.body)
    assert decoded.pop(-1) == {"scheme": 0 if spatial_type == "h3" else 1}
    assert {c: (v["pop"], v["n"]) for c, v in decoded.items()} == want
    # a filter applies before grouping; a tile where no cell is, and one finer than the data
    kind_a = {"kind": {"in": {"values": ["a"]}}}
    from lds.maps.filters import filters_sql

    filtered = _tile(source, tile, level, where=lambda b: filters_sql(kind_a, b, dialect=source.dialect))
    want_a = expected(spatial_type, tile, res, res + level, keep=lambda r: r[2] == "a")
    assert {
        int(c["id"], 16): (c["properties"]["pop"], c["properties"]["n"]) for c in json.loads(filtered.body)
    } == want_a
    far = h3.str_to_int(h3.latlng_to_cell(-40.0, -70.0, res)) if spatial_type == "h3" else quadbin_of(-70, -40, res)
    assert _tile(source, far, level).features == 0
    finest = ROWS[0][4] if spatial_type == "h3" else ROWS[0][5]
    child = (
        h3.str_to_int(h3.cell_to_center_child(ROWS[0][3], H3_RES + 1))
        if spatial_type == "h3"
        else quadbin_from_tile(*_child(quadbin_to_tile(ROWS[0][5])))
    )
    one = json.loads(_tile(source, child, level).body)
    assert [int(c["id"], 16) for c in one] == [finest]


def _child(tile: tuple[int, int, int]) -> tuple[int, int, int]:
    z, x, y = tile
    return z + 1, 2 * x, 2 * y


@pytest.mark.parametrize("spatial_type,column,res,level", KINDS)
def test_tilejson_and_instantiation(warehouse, spatial_type, column, res, level):
    source = source_of(warehouse, spatial_type, column)
    layout = cells.cell_layout(source, "v1", timeout_s=30)
    assert layout.resolution == (H3_RES if spatial_type == "h3" else QUADBIN_RES)
    agg = cells.aggregation_sql(source, AGG, grants=None, max_chars=10_000)
    tj = cells.tilejson(
        source, layout, level=level, aggregation=agg, where=None, timeout_s=30, max_zoom=20, resolution=0.5
    )
    assert tj["maxresolution"] == layout.resolution - level and tj["minresolution"] == 0
    assert tj["tilestats"]["layers"][0]["count"] == len(ROWS)
    assert tj["vector_layers"][0]["fields"] == {"pop": "Number", "n": "Number"}
    w, s, e, n = tj["bounds"]
    assert all(w <= r[6] <= e and s <= r[7] <= n for r in ROWS)
    assert w > 7.0 and e < 13.0 and s > 43.0 and n < 56.0  # the two towns, not the world
    inst = cells.instantiation(source, layout, where=None, timeout_s=30)
    assert inst["nrows"] == len(ROWS) and column in [c["name"] for c in inst["schema"]]


def test_a_query_source_of_cells(dw):
    source = source_of(dw, "h3", "h3", kind="query", text="SELECT h3, pop FROM cells WHERE pop > 3")
    tile = tile_of("h3", 6)
    got = json.loads(_tile(source, tile, 2).body)
    want = expected("h3", tile, 6, 8, keep=lambda r: r[1] > 3)
    assert {int(c["id"], 16): (c["properties"]["pop"], c["properties"]["n"]) for c in got} == want


# -- widgets: polygon spatial filters on cells ----------------------------------------------------------------


def _cell_polygon(spatial_type: str, row: tuple) -> Polygon:
    if spatial_type == "h3":
        return Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(row[3])])
    import math

    z, x, y = quadbin_to_tile(row[5])
    n = 2**z

    def lat(py: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / n))))

    return box(x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y))


@pytest.mark.parametrize("spatial_type,column", [("h3", "h3"), ("h3", "h3int"), ("quadbin", "quadbin")])
@pytest.mark.parametrize("mode", ["intersects", "contains", "center"])
def test_polygon_spatial_filters_keep_the_cells_that_meet_the_polygon(warehouse, spatial_type, column, mode):
    area = Polygon([(7.412, 43.728), (7.424, 43.727), (7.426, 43.738), (7.415, 43.741)])
    source = source_of(warehouse, spatial_type, column)
    ctx = ModelContext(
        source,
        spatial_filters={column: {"type": "Polygon", "coordinates": [list(area.exterior.coords)]}},
        spatial_filters_mode=mode,
        timeout_s=30,
    )
    got = run_model("formula", ctx, {"column": "pop", "operation": "count"})["rows"][0]["value"]

    def keeps(r) -> bool:
        cell = _cell_polygon(spatial_type, r)
        if mode == "intersects":
            return cell.intersects(area)
        if mode == "contains":
            return area.contains(cell)
        return area.contains(cell.centroid)

    want = sum(1 for r in ROWS if keeps(r))
    assert 0 < want < 500
    if spatial_type == "h3" and mode != "center":  # H3's own covering works on great-circle edges
        assert abs(got - want) <= max(2, want // 20)
    else:
        assert got == want


def test_polygon_coverings_are_bounded():
    world = box(-170, -80, 170, 80)
    with pytest.raises(BadRequest, match="filter_max_values"):
        polygon_ranges(QUADBIN, world, 20, "intersects", 1000)
    with pytest.raises(BadRequest, match="filter_max_values"):
        polygon_ranges(H3, world, 12, "intersects", 1000)
    with pytest.raises(BadRequest, match="spatialFiltersMode"):
        polygon_ranges(H3, world, 2, "touches", 1000)
    with pytest.raises(BadRequest):  # cells without a way to read them: not an h3/quadbin source
        spatial_sql(
            {"g": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
            Binder(),
            dialect="duckdb",
            spatial_data_type="s2",
        )


# -- hostile input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "sum(pop) AS pop FROM cells; DROP TABLE cells; --",
        "(SELECT count(*) FROM cells) AS n",
        "sum(pop) AS p) FROM cells --",
        "pop /* x */ AS p, secret FROM other",
        "count(*) AS n UNION SELECT 1",
        "count(*) AS n\x00",
    ],
)
def test_hostile_aggregation_expressions_are_refused(dw, text):
    source = source_of(dw, "h3", "h3")
    with pytest.raises(BadRequest):
        cells.aggregation_sql(source, text, grants=None, max_chars=10_000)


def test_bad_parameters_and_columns(warehouse):
    for value in ("-1", "7", "x", "1.5"):
        with pytest.raises(BadRequest, match="aggregationResLevel"):
            cells.parse_res_level(value, "h3")
    assert cells.parse_res_level(None, "quadbin") == 6 and cells.parse_res_level("8", "quadbin") == 8
    with pytest.raises(BadRequest, match="formatTiles"):
        cells.parse_cell_format("mvt")
    for column, match in [("kind", "not a"), ("nope", "not a column"), ("quadbin", "not a h3 cell")]:
        source = source_of(warehouse, "h3", column)
        with pytest.raises(BadRequest, match=match):
            cells.cell_layout(source, "v1", timeout_s=30)


def test_a_tile_above_the_cell_cap_is_a_400(dw):
    source = source_of(dw, "h3", "h3")
    layout = cells.cell_layout(source, "v1", timeout_s=30)
    agg = cells.aggregation_sql(source, AGG, grants=None, max_chars=10_000)
    with pytest.raises(BadRequest, match="maps_tile_max_features"):
        cells.make_cell_tile(
            source, layout, tile_of("h3", 6), level=3, aggregation=agg, fmt="json", timeout_s=30, max_cells=3
        )


@pytest.mark.parametrize("spatial_type,column", [("h3", "h3"), ("quadbin", "quadbin")])
def test_large_polygons_are_clipped_to_the_data(warehouse, spatial_type, column):
    """A world viewport keeps every cell, one around a town keeps the town, without covering the world."""
    source = source_of(warehouse, spatial_type, column)
    counts = []
    for area in (box(-179, -85, 179, 85), box(0, 35, 10, 50)):
        ctx = ModelContext(
            source,
            spatial_filters={column: {"type": "Polygon", "coordinates": [list(area.exterior.coords)]}},
            timeout_s=30,
            max_values=1000,
        )
        counts.append(run_model("formula", ctx, {"column": "pop", "operation": "count"})["rows"][0]["value"])
    assert counts == [len(ROWS), 500]
