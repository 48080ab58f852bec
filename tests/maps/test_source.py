"""Source names and bound values as hostile input meets them: table names, columns, placeholders, packing."""

from __future__ import annotations

import pytest

from lds.errors import BadRequest
from lds.maps.packing import pack, unpack
from lds.maps.source import Binder, parse_columns, quote_ident, table_sql


@pytest.mark.parametrize(
    "name,sql",
    [
        ("roads", '"roads"'),
        ("lds.Roads", '"lds"."roads"'),  # unquoted segments fold, as both engines fold them
        ('carto_dw.main."My Table"', '"carto_dw"."main"."My Table"'),
        ('"we""ird".t', '"we""ird"."t"'),
        ('"a.b".c', '"a.b"."c"'),
    ],
)
def test_table_names_are_quoted_segment_by_segment(name, sql):
    assert table_sql(name, "postgres") == sql


@pytest.mark.parametrize(
    "name",
    ["", "a;b", "a.b.c.d", "a..b", "t) UNION SELECT 1 --", '"open', '""', "a.", "x y", "t\x00", "a" * 2000],
)
def test_anything_else_is_refused(name):
    with pytest.raises(BadRequest):
        table_sql(name, "duckdb")


def test_columns_and_identifiers():
    assert parse_columns("a, b,a,,c") == ("a", "b", "c")
    assert parse_columns(["x"]) == ("x",) and parse_columns("") is None and parse_columns(None) is None
    assert quote_ident('x"; DROP TABLE t; --') == '"x""; DROP TABLE t; --"'
    for bad in ([1], {"a": 1}, "a,\x00"):
        with pytest.raises(BadRequest):
            parse_columns(bad)


def test_binder_continues_the_sources_own_parameters():
    positional = Binder([1, 2])
    assert positional("x") == "$3" and positional.params == [1, 2, "x"]
    named = Binder({"g": 1, "lds_1": "taken"})
    assert named("x") == "$lds_3" and named.params == {"g": 1, "lds_1": "taken", "lds_3": "x"}
    assert Binder().params is None


def test_packed_sources_round_trip_and_refuse_bombs():
    params = {"q": "SELECT 1 /* é */", "queryParameters": [1, "a"], "filters": {"c": {"in": {"values": [1]}}}}
    assert unpack(pack(params), max_bytes=10_000, max_depth=64) == params
    bomb = pack({"q": "x" * 100_000})
    assert len(bomb) < 1000
    with pytest.raises(BadRequest, match="more than"):
        unpack(bomb, max_bytes=10_000, max_depth=64)
