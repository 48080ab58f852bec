"""Coordinates written as JSON text in C (lds._coords_json) and the isoline rings that use it: orjson's bytes."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from lds import fastjson
from lds.isoline_shape import COORD_DECIMALS, Ring, pairs_json

NUMPY = orjson.OPT_SERIALIZE_NUMPY


@pytest.mark.parametrize("decimals", range(16))
@pytest.mark.parametrize("spread", [1.0, 180.0, 1e6])
def test_rounded_values_are_written_as_orjson_writes_them(decimals, spread):
    xy = np.round(np.random.default_rng(decimals).normal(0, spread, (400, 2)), decimals)
    text = pairs_json(xy, decimals)
    assert np.array_equal(np.array(json.loads(text)), xy)  # the same numbers, always
    if decimals <= 9 or spread == 1.0:  # and orjson's bytes while k = x * 10**d stays well inside a double
        assert text == orjson.dumps(xy, option=NUMPY)


def test_edge_values():
    xy = np.array([[7.0, -0.0], [-7.41, 43.00001], [179.99999, -89.9], [0.00001, -0.00001], [-180.0, 90.0]])
    assert pairs_json(xy, 5) == orjson.dumps(xy, option=NUMPY) == (
        b"[[7.0,-0.0],[-7.41,43.00001],[179.99999,-89.9],[0.00001,-0.00001],[-180.0,90.0]]")
    odd = np.array([[1e300, np.nan], [0.1 + 0.2, -np.inf], [1.234567891, 5e-324]])  # not rounded: Python's repr
    assert json.loads(pairs_json(odd, 5).replace(b"null", b"0")) == [[1e300, 0], [0.1 + 0.2, 0], [1.234567891, 5e-324]]
    assert pairs_json(odd, 5).count(b"null") == 2
    assert pairs_json(np.zeros((0, 2)), 5) == b"[]"
    with pytest.raises(ValueError):
        pairs_json(np.zeros((3, 3)), 5)
    with pytest.raises(ValueError):
        pairs_json(xy, 16)


def test_rings_write_themselves_through_fastjson():
    xy = np.round(np.array([[7.4197131, 43.7311242], [7.42, 43.74], [7.41, 43.75], [7.4197131, 43.7311242]]),
                  COORD_DECIMALS).view(Ring)
    value = {"coordinates": [[xy, xy[1:]]], "first": xy[0]}
    expected = {"coordinates": [[xy.tolist(), xy[1:].tolist()]], "first": xy[0].tolist()}
    assert fastjson.dumps(value) == json.dumps(expected, separators=(",", ":")).encode()
    assert fastjson.dumps(xy[::2, ::-1]) == json.dumps(xy[::2, ::-1].tolist(), separators=(",", ":")).encode()
    # A value orjson cannot take (an integer beyond 64 bits) sends the whole document to the standard encoder:
    assert json.loads(fastjson.dumps({"big": 2**70, "ring": xy})) == {"big": 2**70, "ring": xy.tolist()}
