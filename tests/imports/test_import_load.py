"""Pieces of the load step: destination names, the vectorised hex encoding COPY gets, column-name cleaning."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lds.errors import BadRequest
from lds.imports.load import hex_strings, parse_destination, pg_type
from lds.imports.stage import clean_names


def test_hex_strings_match_python_on_sliced_arrays_with_nulls():
    values = [b"\x00\x01\xff", None, b"", b"abc\x10", None, bytes(range(256))]
    array = pa.array(values, pa.binary())
    for arr in (array, array.slice(1, 4), array.slice(3)):
        expected = [None if v is None else v.hex() for v in arr.to_pylist()]
        assert hex_strings(arr).to_pylist() == expected
        assert hex_strings(arr, b"\\x").to_pylist() == [None if v is None else "\\x" + v for v in expected]


def test_destinations():
    assert parse_destination("shop.stores", "carto_dw").name == "carto_dw.shop.stores"
    assert parse_destination('carto_dw."My Schema"."T"', "carto_dw").schema == "My Schema"
    assert parse_destination("stores", "db", "public").name == "db.public.stores"
    for bad in ("", "stores", "a.b.c.d", "other.s.t", "s." + "x" * 64, "s.\x00t", None, 7):
        with pytest.raises(BadRequest):
            parse_destination(bad, "carto_dw")


def test_column_names_are_safe_for_every_destination():
    names = clean_names(["id", "", "ID", " name ", "geom", "x" * 80, "x" * 80, "tab\there"])
    assert names[:5] == ["id", "column_2", "ID_2", "name", "geom_2"]
    assert all(len(n.encode()) <= 63 for n in names) and len({n.lower() for n in names}) == len(names)
    assert names[-1] == "tabhere"


def test_postgres_types():
    assert pg_type(pa.int64()) == "bigint" and pg_type(pa.timestamp("ms", tz="UTC")) == "timestamptz"
    assert pg_type(pa.list_(pa.int32())) == "jsonb" and pg_type(pa.binary()) == "bytea"
    assert pg_type(pa.null()) == "text" and pg_type(pa.decimal128(10, 2)) == "numeric"
