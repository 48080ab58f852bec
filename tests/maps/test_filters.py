"""CARTO filters -> SQL (lds.maps.filters) on the real DuckDB (carto_dw) and PostgreSQL/PostGIS, checked row by
row against the client's own local semantics (``@carto/api-client`` src/filters/FilterTypes.ts) re-stated here."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import pytest
from authfixtures import pg_database

from lds.errors import BadRequest
from lds.maps.filters import where_sql
from lds.maps.source import Binder
from lds.settings import Settings
from lds.warehouse import open_warehouse
from lds.warehouse.carto_dw import CartoDW

NAMES = ["Café Ñu", "cafe nu", "CAFÉ", "Bar (1)", "a.b*c", "x|y", None, "Zürich", "niño", "end$"]
ROWS = [
    (
        i,
        NAMES[i % len(NAMES)],
        None if i % 9 == 0 else i * 1.5,
        dt.datetime(2024, 1, 1) + dt.timedelta(days=i),
        7 + i / 100,
        43 + i / 100,
    )
    for i in range(40)
]
ROW_DICTS = [dict(zip(("id", "name", "v", "ts", "x", "y"), r, strict=True)) for r in ROWS]
EPOCH_MS = {r["id"]: (r["ts"] - dt.datetime(1970, 1, 1)).total_seconds() * 1000 for r in ROW_DICTS}


def _load(wh, point):
    values, params = [], []
    for r in ROWS:
        n = len(params)
        values.append(f"(${n + 1}, ${n + 2}, ${n + 3}, ${n + 4}, {point.format(x=f'${n + 5}', y=f'${n + 6}')})")
        params.extend(r)
    with wh.query("INSERT INTO t VALUES " + ", ".join(values), params, timeout_s=60):
        pass


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    wh = CartoDW(tmp_path_factory.mktemp("filters") / "carto_dw", threads=1)
    with wh.query("CREATE TABLE t (id INTEGER, name VARCHAR, v DOUBLE, ts TIMESTAMP, g GEOMETRY)", timeout_s=60):
        pass
    _load(wh, "ST_Point({x}, {y})")
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def pg():
    with pg_database("lds_filters_test", "CREATE EXTENSION postgis") as name:
        creds = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "sslmode": "disable", "database": name}
        wh = open_warehouse("postgres", creds, Settings.from_env(env={}, warehouse_pool_size=1))
        with wh.query(
            "CREATE TABLE t (id integer, name text, v double precision, ts timestamp, g geometry(Point, 4326))",
            timeout_s=60,
        ):
            pass
        _load(wh, "ST_SetSRID(ST_MakePoint({x}, {y}), 4326)")
        yield wh
        wh.close()


@pytest.fixture(params=["duckdb", "postgres"])
def wh(request):
    return request.param, request.getfixturevalue("duck" if request.param == "duckdb" else "pg")


def ids(wh, base=None, **kw):
    dialect, warehouse = wh
    bind = Binder(base)
    where = where_sql(bind, dialect=dialect, **kw) or "TRUE"
    extra = " AND id >= $1" if base is not None else ""
    with warehouse.query(f"SELECT id FROM t WHERE ({where}){extra} ORDER BY id", bind.params, timeout_s=30) as q:
        return [row[0] for row in q.rows()]


def _norm(text, keep):
    return text if keep else "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def client_search(value, values, params):
    """The client's filterStringSearch, in Python."""
    keep = params.get("keepSpecialCharacters")
    if params.get("useRegExp"):
        patterns = list(values)
    else:
        patterns = [
            ("^" if params.get("mustStart") else "")
            + re.escape(_norm(v, keep))
            + ("$" if params.get("mustEnd") else "")
            for v in values
        ]
    flags = 0 if params.get("caseSensitive") else re.IGNORECASE
    return re.search("|".join(patterns), _norm(str(value), keep), flags) is not None


def expect(pred):
    return [r["id"] for r in ROW_DICTS if pred(r)]


def test_in_between_closed_open_and_time(wh):
    assert ids(wh, filters={"id": {"in": {"values": [3, 5, 99]}}}) == [3, 5]
    assert ids(wh, filters={"name": {"in": {"values": ["CAFÉ", "x|y"]}}}) == expect(
        lambda r: r["name"] in ("CAFÉ", "x|y")
    )
    assert ids(wh, filters={"v": {"between": {"values": [[3, 9], [50, None]]}}}) == expect(
        lambda r: r["v"] is not None and (3 <= r["v"] <= 9 or r["v"] >= 50)
    )
    assert ids(wh, filters={"v": {"closed_open": {"values": [[3, 9]]}}}) == expect(
        lambda r: r["v"] is not None and 3 <= r["v"] < 9
    )
    assert ids(wh, filters={"v": {"between": {"values": [[None, None]]}}}) == expect(lambda r: r["v"] is not None)
    lo, hi = EPOCH_MS[5], EPOCH_MS[8]
    assert ids(wh, filters={"ts": {"time": {"values": [[lo, hi]]}}}) == [5, 6, 7, 8]
    assert ids(wh, filters={"id": {"in": {"values": []}}}) == []


def test_types_on_one_column_all_hold_and_columns_combine(wh):
    both = {"v": {"between": {"values": [[0, 30]]}, "closed_open": {"values": [[15, 100]]}}}
    assert ids(wh, filters=both) == expect(lambda r: r["v"] is not None and 15 <= r["v"] <= 30)
    two = {"id": {"in": {"values": [1, 2, 3]}}, "v": {"between": {"values": [[40, 45]]}}}
    assert ids(wh, filters=two) == []
    assert ids(wh, filters=two, logical_operator="or") == expect(
        lambda r: r["id"] in (1, 2, 3) or (r["v"] is not None and 40 <= r["v"] <= 45)
    )
    with pytest.raises(BadRequest, match="filtersLogicalOperator"):
        ids(wh, filters=two, logical_operator="xor")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"caseSensitive": True},
        {"keepSpecialCharacters": True},
        {"mustStart": True},
        {"mustEnd": True},
        {"mustStart": True, "mustEnd": True},
    ],
)
@pytest.mark.parametrize("values", [["cafe"], ["CAFÉ ñu"], ["(1)", "a.b*"], ["x|y"], ["Nino"], ["$"], ["u"]])
def test_string_search_matches_the_client(wh, values, params):
    got = ids(wh, filters={"name": {"stringSearch": {"values": values, "params": params}}})
    assert got == expect(lambda r: r["name"] is not None and client_search(r["name"], values, params))


def test_string_search_regexp(wh):
    params = {"useRegExp": True}
    got = ids(wh, filters={"name": {"stringSearch": {"values": ["^ca.e", "ch$"], "params": params}}})
    assert got == expect(lambda r: r["name"] is not None and client_search(r["name"], ["^ca.e", "ch$"], params))


def test_spatial_filters(wh):
    poly = {"type": "Polygon", "coordinates": [[[7.0, 43.0], [7.1, 43.0], [7.1, 43.1], [7.0, 43.1], [7.0, 43.0]]]}
    inside = expect(lambda r: r["x"] <= 7.1 and r["y"] <= 43.1)
    assert ids(wh, spatial_filters={"g": poly}) == inside
    multi = {
        "type": "MultiPolygon",
        "coordinates": [poly["coordinates"], [[[7.3, 43.3], [7.4, 43.3], [7.4, 43.4], [7.3, 43.4], [7.3, 43.3]]]],
    }
    assert ids(wh, spatial_filters={"g": multi}) == expect(lambda r: r["x"] <= 7.1 or 7.3 <= r["x"] <= 7.4)
    wrapped = {"type": "Polygon", "coordinates": [[[-190, -95], [200, -95], [200, 95], [-190, 95], [-190, -95]]]}
    assert len(ids(wh, spatial_filters={"g": wrapped})) == len(ROWS)  # a wrapped viewport: clipped to the world
    assert ids(wh, spatial_filters={"g": {"type": "Feature", "geometry": poly}}) == inside
    assert ids(wh, filters={"id": {"in": {"values": [1, 30]}}}, spatial_filters={"g": poly}) == [1]
    far = {"type": "Polygon", "coordinates": [[[190, 0], [200, 0], [200, 5], [190, 0]]]}
    assert ids(wh, spatial_filters={"g": far}) == []
    assert ids(wh, spatial_filters={"id": {"indexes": ["3", 4], "type": "quadbin"}}) == [3, 4]


def test_values_are_bound_after_the_callers_parameters(wh):
    filters = {"name": {"in": {"values": ["x'); DROP TABLE t; --"]}}, "id": {"in": {"values": [7, 17]}}}
    assert ids(wh, base=[10], filters={"id": {"in": {"values": [7, 17]}}}) == [17]
    assert ids(wh, base=[0], filters=filters, logical_operator="or") == [7, 17]
    assert ids(wh) == [r[0] for r in ROWS]  # the table is still there


def test_named_parameters_get_names_of_their_own():
    bind = Binder({"lds_1": "mine"})
    assert bind(5) == "$lds_2" and bind.params == {"lds_1": "mine", "lds_2": 5}
    bind = Binder([1, 2])
    assert bind("x") == "$3" and bind.params == [1, 2, "x"]


@pytest.mark.parametrize(
    ("filters", "spatial", "match"),
    [
        ({"id": {"near": {"values": [1]}}}, None, "unknown filter type"),
        ({"id": {"in": {"values": [[1]]}}}, None, "strings, numbers or booleans"),
        ({"id": {"in": {"values": "1,2"}}}, None, "must be an array"),
        ({"id": {"between": {"values": [[1, 2, 3]]}}}, None, "pair"),
        ({"id": {"between": {"values": [["a", 2]]}}}, None, "number"),
        ({"id": ["in"]}, None, "must be an object"),
        ({"id": {}}, None, "must be an object"),
        (["id"], None, "filters must be an object"),
        ({"a\x00b": {"in": {"values": [1]}}}, None, "not a valid column"),
        ({"id": {"stringSearch": {"values": [1]}}}, None, "must be a string"),
        ({"id": {"in": {"values": list(range(11))}}}, None, "filter_max_values"),
        (None, {"g": {"type": "Point", "coordinates": [1, 2]}}, "Polygon"),
        (None, {"g": {"type": "Polygon", "coordinates": [[[1, 2]]]}}, "valid GeoJSON"),
        (None, {"g": {"type": "Polygon", "coordinates": "x"}}, "valid GeoJSON"),
        (None, {"g": {"indexes": ["zz"], "type": "h3"}}, "h3 cell id"),
        (None, {"g": {"indexes": ["1"], "type": "s2"}}, "indexes"),
        (None, [1], "spatialFilters must be an object"),
    ],
)
def test_bad_filters_are_400(filters, spatial, match):
    with pytest.raises(BadRequest, match=match):
        where_sql(Binder(), dialect="duckdb", filters=filters, spatial_filters=spatial, max_values=10)


def test_polygon_filter_needs_geo_or_cells():
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    with pytest.raises(BadRequest, match="spatialDataType"):
        where_sql(Binder(), dialect="duckdb", spatial_filters={"h3": poly}, spatial_data_type="h3")
    where = where_sql(
        Binder(),
        dialect="postgres",
        spatial_filters={"h3": {"indexes": ["8a1fb46622dffff"], "type": "h3"}},
        spatial_data_type="h3",
    )
    assert where == '"h3" IN ($1)'
