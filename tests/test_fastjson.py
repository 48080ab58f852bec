"""orjson-backed JSON: the same documents as the standard library, numpy values included."""

import json

import numpy as np

from lds import fastjson


def test_same_document_as_the_standard_encoder():
    value = [{"error": None, "value": [{"name": "Allée Lazare Sauvaigo", "lat": 43.7311, "n": 3, "ok": True}]}]
    assert json.loads(fastjson.dumps(value)) == value
    assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_numpy_values_and_fallbacks():
    assert json.loads(fastjson.dumps({"x": np.float32(1.5), "a": np.arange(3), "i": np.int64(7)})) == {
        "x": 1.5, "a": [0, 1, 2], "i": 7}
    big = 2**70  # beyond orjson's 64-bit integers: the standard encoder takes over
    assert json.loads(fastjson.dumps({"big": big})) == {"big": big}
    assert fastjson.loads(b'{"a":[1,2]}') == {"a": [1, 2]}


def test_flask_responses_use_it(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.get_data().endswith(b"\n") and r.get_json()["status"] == "ok"


def test_a_lone_surrogate_is_escaped_not_an_error():
    """A str with no UTF-8 form (from a stored record or an error message) still encodes: as a JSON escape."""
    out = fastjson.dumps({"error": "bad \udcff", "text": "café"})
    assert out == b'{"error":"bad \\udcff","text":"caf\\u00e9"}'
    assert json.loads(out) == {"error": "bad \udcff", "text": "café"}


def test_numpy_arrays_are_written_natively_as_the_same_document():
    rings = np.round(np.array([[7.419713, 43.731124], [7.41, 43.7], [7.419713, 43.731124]]), 5)
    value = {"coordinates": [[rings, rings[1:]]], "strided": rings[::2, ::-1]}  # the last is not C-contiguous
    expected = {"coordinates": [[rings.tolist(), rings[1:].tolist()]], "strided": rings[::2, ::-1].tolist()}
    assert fastjson.dumps(value) == json.dumps(expected, separators=(",", ":")).encode()
    assert b"7.41971,43.73112" in fastjson.dumps(value)
