"""CARTO's own widget sources (@carto/api-client 0.5.34 under Node, tests/js/widgets.mjs) against a live `lds
serve` with an API access token: the widgetSource of vectorTableSource and vectorQuerySource on PostgreSQL/PostGIS
and carto_dw computes formulas (filters, OR, a spatial filter, a filter long enough for POST, a custom
expression), categories, a histogram, time series, a range, a table page, a scatter plot and aggregations, each
compared with the same figure computed directly in SQL; a token without the grant is refused through the client."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import psycopg
import pytest
import requests
from authfixtures import *
from authfixtures import ADMIN_TOKEN, bearer, pg_database_url
from liveserver import live_warehouses, run_node, source_token
from widgetsdata import DW_SETUP, PG_SETUP

ADMIN = bearer(ADMIN_TOKEN)
AREA_SQL = "ST_Y(geom) <= 43.7301"  # the polygon of widgets.mjs covers every x: only its northern edge cuts


@pytest.fixture(scope="module")
def live(monaco_dir, tmp_path_factory):
    yield from live_warehouses(monaco_dir, tmp_path_factory, "widgets_js", PG_SETUP, DW_SETUP)


class Direct:
    """The same figures straight from the warehouse: psycopg on PostgreSQL, the admin SQL API on carto_dw."""

    def __init__(self, base: str, dbname: str | None, table: str):
        self.base, self.dbname, self.table = base, dbname, table

    def rows(self, sql: str) -> list[dict]:
        sql = sql.replace("{t}", self.table)
        if self.dbname is None:
            r = requests.post(self.base + "/v3/sql/carto_dw/query", headers=ADMIN, json={"q": sql}, timeout=60)
            assert r.status_code == 200, r.text
            return r.json()["rows"]
        with psycopg.connect(pg_database_url(self.dbname)) as conn:
            cur = conn.execute(sql)
            names = [d.name for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def value(self, sql: str):
        (row,) = self.rows(sql)
        (value,) = row.values()
        return float(value) if value is not None and not isinstance(value, int) else value


def _month(ts) -> str:
    ts = dt.datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    return f"{ts.year:04d}-{ts.month:02d}-01T00:00:00.000Z"


def _fortnight(ts) -> str:
    ts = dt.datetime.fromisoformat(ts) if isinstance(ts, str) else ts
    origin = dt.datetime(1970, 1, 5)  # a Monday: weeks start on Mondays, in steps counted from it
    start = origin + dt.timedelta(days=(ts - origin).days // 14 * 14)
    return start.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def check_source(got: dict, sql: Direct) -> None:
    approx = pytest.approx
    assert got["sum"] == {"value": approx(sql.value("SELECT sum(amount) FROM {t}"))}
    assert got["countNorthEast"] == {"value": sql.value("SELECT count(*) FROM {t} WHERE zone IN ('north', 'east')")}
    assert got["countOr"] == {
        "value": sql.value("SELECT count(*) FROM {t} WHERE zone = 'north' OR amount BETWEEN 40 AND 49")
    }
    assert got["countInArea"] == {"value": sql.value(f"SELECT count(*) FROM {{t}} WHERE {AREA_SQL}")}
    assert 0 < got["countInArea"]["value"] < 120
    assert got["countManyIds"] == {"value": sql.value("SELECT count(*) FROM {t} WHERE id % 3 = 0")}
    assert got["custom"] == {"value": approx(sql.value("SELECT sum(amount) / count(*) FROM {t}"))}
    expected = sql.rows("SELECT zone AS name, sum(amount) AS value FROM {t} GROUP BY 1 ORDER BY 2 DESC, 1")
    assert got["categories"] == [{"name": r["name"], "value": approx(float(r["value"]))} for r in expected]
    counts = sql.rows("SELECT zone AS name, count(*) AS value FROM {t} GROUP BY 1 ORDER BY 1")
    assert got["categoriesTop2"] == [
        *counts[:2],
        {"name": "_carto_others", "value": sum(r["value"] for r in counts[2:])},
    ]
    bins = sql.rows(
        "SELECT CASE WHEN amount < 10 THEN 0 WHEN amount < 20 THEN 1 WHEN amount < 30 THEN 2 "
        "WHEN amount < 40 THEN 3 ELSE 4 END AS bin, count(*) AS n FROM {t} GROUP BY 1"
    )
    histogram = [0] * 5
    for r in bins:
        histogram[r["bin"]] = r["n"]
    assert got["histogram"] == histogram
    months = defaultdict(float)
    for r in sql.rows("SELECT ts, amount FROM {t}"):
        months[_month(r["ts"])] += float(r["amount"])
    assert got["timeSeries"]["rows"] == [{"name": k, "value": approx(months[k])} for k in sorted(months)]
    split = defaultdict(int)
    for r in sql.rows("SELECT ts, zone FROM {t} WHERE zone IN ('south', 'west')"):
        split[(_fortnight(r["ts"]), r["zone"])] += 1
    assert got["timeSeriesSplit"]["categories"] == ["south", "west"]
    assert {(r["name"], r["category"]): r["value"] for r in got["timeSeriesSplit"]["rows"]} == dict(split)
    (lo_hi,) = sql.rows("SELECT min(amount) AS min, max(amount) AS max FROM {t} WHERE zone = 'north'")
    assert got["range"] == {"min": approx(float(lo_hi["min"])), "max": approx(float(lo_hi["max"]))}
    page = sql.rows("SELECT id, zone, amount FROM {t} WHERE zone IN ('north', 'east') ORDER BY id DESC")
    assert got["table"]["totalCount"] == len(page)
    assert got["table"]["rows"] == [{**r, "amount": approx(float(r["amount"]))} for r in page[2:7]]
    pairs = {(r["id"], float(r["amount"])) for r in sql.rows("SELECT id, amount FROM {t}")}
    assert len(got["scatter"]) == 120 and {tuple(p) for p in got["scatter"]} == pairs
    assert got["aggregations"] == {
        "rows": [
            {"mean": approx(sql.value("SELECT avg(amount) FROM {t}")), "last": sql.value("SELECT max(id) FROM {t}")}
        ]
    }


def test_carto_widget_sources_on_pg_and_carto_dw(live):
    base, dbname = live
    good = source_token(base, "shop.sales")
    bad = source_token(base, "shop.secrets", None)
    sources = [
        {"name": "pg_table", "connectionName": "pg", "tableName": "shop.sales"},
        {
            "name": "pg_query",
            "connectionName": "pg",
            "sqlQuery": "SELECT * FROM shop.sales WHERE id <= $1",
            "queryParameters": [120],
        },
        {"name": "dw_table", "connectionName": "carto_dw", "tableName": "sales"},
        {
            "name": "dw_query",
            "connectionName": "carto_dw",
            "sqlQuery": "SELECT * FROM sales WHERE id >= $lo",
            "queryParameters": {"lo": 1},
        },
    ]
    out = run_node(
        "widgets.mjs",
        {"LDS_BASE": base, "LDS_TOKEN": good, "LDS_BAD_TOKEN": bad, "LDS_SOURCES": json.dumps(sources)},
        timeout_s=300,
    )
    got = out["sources"]
    assert {name: s["kind"] for name, s in got.items()} == {
        "pg_table": "WidgetTableSource",
        "pg_query": "WidgetQuerySource",
        "dw_table": "WidgetTableSource",
        "dw_query": "WidgetQuerySource",
    }
    for name in ("pg_table", "pg_query"):
        check_source(got[name], Direct(base, dbname, "shop.sales"))
    for name in ("dw_table", "dw_query"):
        check_source(got[name], Direct(base, None, "sales"))
    assert out["refused"]["refused"] and "Forbidden" in out["refused"]["message"]
