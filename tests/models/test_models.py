"""Every model of the SQL Model API over the same ``sales`` rows in carto_dw and PostgreSQL, checked against
the rows themselves (salesdata.py) computed in Python the way ``@carto/api-client`` computes widgets locally."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict

import pytest
from salesdata import RECORDS

from lds.errors import BadRequest, Forbidden
from lds.models import run_model

POLY = {"type": "Polygon", "coordinates": [[[7.0, 43.0], [7.5, 43.0], [7.5, 43.3], [7.0, 43.3], [7.0, 43.0]]]}


def rows_of(make_ctx, model, params, **kw):
    return run_model(model, make_ctx(**kw), params)


def close(a, b):
    return a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9))


@pytest.mark.parametrize("operation", ["count", "sum", "avg", "min", "max"])
def test_formula_matches_the_rows(make_ctx, operation):
    out = rows_of(make_ctx, "formula", {"column": "amount" if operation != "count" else "*", "operation": operation})
    amounts = [r["amount"] for r in RECORDS]
    expected = {
        "count": len(amounts),
        "sum": sum(amounts),
        "avg": sum(amounts) / len(amounts),
        "min": min(amounts),
        "max": max(amounts),
    }[operation]
    assert out["rows"] == [{"value": pytest.approx(expected)}]


def test_formula_skips_nulls_and_counts_rows(make_ctx):
    qty = [r["qty"] for r in RECORDS if r["qty"] is not None]
    assert rows_of(make_ctx, "formula", {"column": "qty", "operation": "avg"})["rows"][0]["value"] == pytest.approx(
        sum(qty) / len(qty)
    )
    assert rows_of(make_ctx, "formula", {"column": "qty", "operation": "count"})["rows"][0]["value"] == 200
    empty = rows_of(
        make_ctx, "formula", {"column": "qty", "operation": "sum"}, filters={"city": {"in": {"values": ["Atlantis"]}}}
    )
    assert empty["rows"] == [{"value": None}]


def test_formula_with_filters_and_spatial_filter(make_ctx):
    filters = {"city": {"in": {"values": ["Nice", "Paris"]}}, "amount": {"between": {"values": [[20, 60]]}}}
    inside = [r for r in RECORDS if r["city"] in ("Nice", "Paris") and 20 <= r["amount"] <= 60]
    out = rows_of(make_ctx, "formula", {"column": "amount", "operation": "sum"}, filters=filters)
    assert out["rows"][0]["value"] == pytest.approx(sum(r["amount"] for r in inside))
    out = rows_of(make_ctx, "formula", {"operation": "count"}, filters=filters, logical_operator="or")
    either = [r for r in RECORDS if r["city"] in ("Nice", "Paris") or 20 <= r["amount"] <= 60]
    assert out["rows"][0]["value"] == len(either)
    out = rows_of(make_ctx, "formula", {"operation": "count"}, spatial_filters={"geom": POLY})
    assert out["rows"][0]["value"] == sum(1 for r in RECORDS if r["lon"] <= 7.5 and r["lat"] <= 43.3)


def _categories(op="count", column="amount"):
    groups = defaultdict(list)
    for r in RECORDS:
        groups[r["city"]].append(r[column])
    fn = {"count": len, "sum": sum, "max": max, "avg": lambda v: sum(v) / len(v)}[op]
    return {k: fn(v) for k, v in groups.items()}


def test_category_orders_like_the_client(make_ctx):
    expected = _categories()
    out = rows_of(make_ctx, "category", {"column": "city", "operation": "count"})
    assert {r["name"]: r["value"] for r in out["rows"]} == expected
    values = [r["value"] for r in out["rows"]]
    assert values == sorted(values, reverse=True)
    out = rows_of(
        make_ctx,
        "category",
        {"column": "city", "operation": "sum", "operationColumn": "amount", "orderBy": "alphabetical_asc"},
    )
    names = [r["name"] for r in out["rows"]]
    assert names[:-1] == sorted(n for n in expected if n is not None) and names[-1] is None
    assert {r["name"]: r["value"] for r in out["rows"]} == pytest.approx(_categories("sum"))


def test_category_others_threshold(make_ctx):
    out = rows_of(
        make_ctx, "category", {"column": "city", "operation": "sum", "operationColumn": "amount", "othersThreshold": 2}
    )
    sums = _categories("sum")
    ranked = sorted(sums.items(), key=lambda kv: (-kv[1], str(kv[0])))
    assert [(r["name"], r["value"]) for r in out["rows"]] == [(k, pytest.approx(v)) for k, v in ranked[:2]]
    assert out["metadata"]["others"] == pytest.approx(sum(v for _, v in ranked[2:]))
    out = rows_of(
        make_ctx,
        "category",
        {
            "column": "city",
            "operation": "max",
            "operationColumn": "amount",
            "othersThreshold": 5,
            "orderBy": "frequency_asc",
        },
    )
    maxes = sorted(_categories("max").items(), key=lambda kv: (kv[1], str(kv[0])))
    assert out["metadata"]["others"] == pytest.approx(max(v for _, v in maxes[5:]))  # 6 categories, NULL one of them
    assert rows_of(make_ctx, "category", {"column": "city", "othersThreshold": 10})["metadata"] == {}


def test_histogram_bins_like_the_client(make_ctx):
    ticks = [10, 25.5, 50, 90]
    for op, column in (("count", "amount"), ("sum", "amount"), ("avg", "qty")):
        out = rows_of(make_ctx, "histogram", {"column": column, "ticks": ticks, "operation": op})
        bins = defaultdict(list)
        for r in RECORDS:
            v = r[column]
            if v is not None:
                bins[sum(1 for t in ticks if t <= v)].append(v)
        fn = {"count": len, "sum": sum, "avg": lambda v: sum(v) / len(v)}[op]
        assert [(r["tick"], r["value"]) for r in out["rows"]] == [(k, pytest.approx(fn(bins[k]))) for k in sorted(bins)]
    with pytest.raises(BadRequest, match="ascending"):
        rows_of(make_ctx, "histogram", {"column": "amount", "ticks": [3, 1]})
    with pytest.raises(BadRequest, match="ticks"):
        rows_of(make_ctx, "histogram", {"column": "amount", "ticks": [1, 2, 3]}, max_values=2)


def test_range_and_scatterplot(make_ctx):
    out = rows_of(make_ctx, "range", {"column": "amount"}, filters={"qty": {"closed_open": {"values": [[2, 4]]}}})
    kept = [r["amount"] for r in RECORDS if r["qty"] is not None and 2 <= r["qty"] < 4]
    assert out["rows"] == [{"min": min(kept), "max": max(kept)}]
    out = rows_of(make_ctx, "range", {"column": "city"})
    assert out["rows"] == [{"min": "Madrid", "max": "Paris"}]
    out = rows_of(make_ctx, "scatterplot", {"xAxisColumn": "amount", "yAxisColumn": "qty"})
    pairs = Counter((r["amount"], r["qty"]) for r in RECORDS if r["qty"] is not None)
    assert len(out["rows"]) == sum(pairs.values()) and Counter((r["x"], r["y"]) for r in out["rows"]) == pairs
    assert (
        len(rows_of(make_ctx, "scatterplot", {"xAxisColumn": "amount", "yAxisColumn": "qty", "limit": 7})["rows"]) == 7
    )


def test_table_pages_sorts_and_counts(make_ctx):
    filters = {"city": {"in": {"values": ["Monaco"]}}}
    monaco = sorted((r for r in RECORDS if r["city"] == "Monaco"), key=lambda r: -r["id"])
    out = rows_of(
        make_ctx,
        "table",
        {"column": ["id", "city", "geom"], "sortBy": "id", "sortDirection": "desc", "limit": 5, "offset": 3},
        filters=filters,
    )
    assert out["metadata"] == {"total": len(monaco)}
    assert [r["id"] for r in out["rows"]] == [r["id"] for r in monaco[3:8]]
    assert set(out["rows"][0]) == {"id", "city", "geom"} and '"Point"' in out["rows"][0]["geom"]
    past = rows_of(make_ctx, "table", {"column": ["id"], "limit": 5, "offset": 1000}, filters=filters)
    assert past == {"rows": [], "metadata": {"total": len(monaco)}}
    every = rows_of(make_ctx, "table", {"sortBy": "amount"})
    assert len(every["rows"]) == 10 and "amount" in every["rows"][0] and every["metadata"]["total"] == 200
    with pytest.raises(BadRequest, match="sortDirection"):
        rows_of(make_ctx, "table", {"sortBy": "id", "sortDirection": "sideways"})


def _step(ts: dt.datetime, step: str, k: int) -> str:
    if step == "month":
        n = (ts.year * 12 + ts.month - 1) // k * k
        start = dt.datetime(n // 12, n % 12 + 1, 1)
    elif step == "year":
        start = dt.datetime(ts.year // k * k, 1, 1)
    else:
        width = {"week": 7 * 86400, "day": 86400, "hour": 3600}[step] * k
        origin = dt.datetime(1970, 1, 5) if step == "week" else dt.datetime(1970, 1, 1)
        start = origin + dt.timedelta(seconds=(ts - origin).total_seconds() // width * width)
    return start.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.mark.parametrize(
    ("column", "step", "k"),
    [
        ("ts", "month", 1),
        ("tz", "month", 2),
        ("tz", "week", 1),
        ("ts", "day", 3),
        ("tz", "year", 1),
        ("ts", "hour", 12),
    ],
)
def test_timeseries_steps_in_utc(make_ctx, column, step, k):
    out = rows_of(
        make_ctx,
        "timeseries",
        {"column": column, "stepSize": step, "stepMultiplier": k, "operation": "sum", "operationColumn": "amount"},
    )
    expected = defaultdict(float)
    for r in RECORDS:
        expected[_step(r["ts"], step, k)] += r["amount"]
    assert [r["name"] for r in out["rows"]] == sorted(expected)
    assert {r["name"]: r["value"] for r in out["rows"]} == pytest.approx(dict(expected))


def test_timeseries_split_by_category(make_ctx):
    out = rows_of(
        make_ctx,
        "timeseries",
        {
            "column": "ts",
            "stepSize": "month",
            "operation": "count",
            "splitByCategory": "city",
            "splitByCategoryLimit": 2,
        },
    )
    top = sorted(_categories("count").items(), key=lambda kv: (-kv[1], str(kv[0])))
    top = [k for k, _ in top if k is not None][:2]
    assert out["metadata"]["categories"] == top
    expected = Counter((_step(r["ts"], "month", 1), r["city"]) for r in RECORDS if r["city"] in top)
    assert Counter({(r["name"], r["category"]): r["value"] for r in out["rows"]}) == expected
    out = rows_of(
        make_ctx,
        "timeseries",
        {
            "column": "ts",
            "stepSize": "year",
            "operation": "count",
            "splitByCategory": "city",
            "splitByCategoryValues": ["Nice", "Atlantis"],
        },
    )
    assert out["metadata"]["categories"] == ["Nice", "Atlantis"]
    nice = sum(r["city"] == "Nice" for r in RECORDS)
    assert out["rows"] == [{"name": "2024-01-01T00:00:00.000Z", "value": nice, "category": "Nice"}]


def test_aggregations_list_and_sql(make_ctx):
    amounts = [r["amount"] for r in RECORDS]
    out = rows_of(
        make_ctx,
        "aggregations",
        {
            "aggregations": [
                {"column": "amount", "operation": "avg", "alias": "mean"},
                {"column": "*", "operation": "count", "alias": "n"},
                {"column": "qty", "operation": "max", "alias": "Top qty"},
            ]
        },
    )
    assert out["rows"] == [{"mean": pytest.approx(sum(amounts) / 200), "n": 200, "Top qty": 6}]
    out = rows_of(make_ctx, "aggregations", {"aggregations": "sum(amount) AS s, count(*) AS n"})
    assert out["rows"] == [{"s": pytest.approx(sum(amounts)), "n": 200}]


def test_query_source_with_parameters_and_filters(make_ctx):
    out = run_model(
        "formula",
        make_ctx(
            kind="query",
            text="SELECT * FROM sales WHERE amount > $1",
            params=[50],
            filters={"city": {"in": {"values": ["Nice"]}}},
        ),
        {"operation": "count"},
    )
    assert out["rows"][0]["value"] == sum(1 for r in RECORDS if r["amount"] > 50 and r["city"] == "Nice")
    if make_ctx.dialect == "duckdb":  # named parameters: only carto_dw binds them
        ctx = make_ctx(
            kind="query",
            text="SELECT * FROM sales WHERE amount > $lo;",
            params={"lo": 50},
            filters={"qty": {"in": {"values": [1, 2]}}},
        )
        out = run_model("formula", ctx, {"operation": "count"})
        assert out["rows"][0]["value"] == sum(1 for r in RECORDS if r["amount"] > 50 and r["qty"] in (1, 2))


HOSTILE = [
    "1) AS value FROM sales --",
    "(SELECT max(amount) FROM sales)",
    "sum(amount) FROM sales UNION SELECT 1",
    "sum(amount)) AS value FROM sales; DROP TABLE sales; --",
    "amount /*",
    "'unterminated",
    "count(*) FROM sales JOIN sales s2 ON true",
    "x FROM read_csv('/etc/passwd')",
    "'\\' ) AS value FROM sales UNION SELECT ( 1 -- '",  # a string the engines could end elsewhere
    "count(*) FILTER (WHERE id IN (SELECT id FROM sales))",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_custom_expressions_cannot_escape(make_ctx, expression):
    with pytest.raises(BadRequest):
        rows_of(make_ctx, "formula", {"operation": "custom", "operationExp": expression})
    with pytest.raises(BadRequest):
        rows_of(make_ctx, "aggregations", {"aggregations": expression})
    assert rows_of(make_ctx, "formula", {"operation": "count"})["rows"][0]["value"] == 200


def test_custom_expressions_for_tokens_call_only_allowed_functions(make_ctx, sales):
    record = sales[0]
    grants = [{"connection_name": record["name"], "source": "sales" if make_ctx.dialect == "postgres" else "*"}]
    mean = "sum(amount) / count(*) -- a comment ends at the line's end, not past the expression"
    out = rows_of(make_ctx, "formula", {"operation": "custom", "operationExp": mean}, grants=grants)
    assert out["rows"][0]["value"] == pytest.approx(sum(r["amount"] for r in RECORDS) / 200)
    with pytest.raises(Forbidden):
        rows_of(
            make_ctx, "formula", {"operation": "custom", "operationExp": "max(pg_sleep(0)) + count(*)"}, grants=grants
        )
    with pytest.raises(Forbidden):
        rows_of(
            make_ctx,
            "formula",
            {"operation": "count"},
            grants=[{"connection_name": record["name"], "source": "other_table"}],
        )


def test_bad_parameters_are_400(make_ctx):
    for model, params in (
        ("formula", {"operation": "median", "column": "amount"}),
        ("formula", {"operation": "sum"}),
        ("category", {"column": "city", "orderBy": "random"}),
        ("category", {"column": "city", "othersThreshold": -1}),
        ("histogram", {"column": "amount"}),
        ("timeseries", {"column": "ts", "stepSize": "fortnight"}),
        ("timeseries", {"column": "ts", "stepSize": "day", "stepMultiplier": 0}),
        ("aggregations", {"aggregations": [{"column": "amount", "operation": "custom"}]}),
        ("table", {"column": [1, 2]}),
        ("pick", {}),
        ("formula", {"operation": "count", "featureIds": ["abc"], "geometryType": "points"}),
    ):
        with pytest.raises(BadRequest):
            rows_of(make_ctx, model, params)
    with pytest.raises(BadRequest):
        run_model("formula", make_ctx(), ["not", "an", "object"])
