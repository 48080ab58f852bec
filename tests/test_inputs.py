"""Request text as the service accepts it: strict UTF-8 JSON of bounded depth, UTF-8 query strings,
storable strings (lds.inputs), each refusal a BadRequest saying what is wrong."""

import json

import pytest

from lds.errors import BadRequest
from lds.inputs import check_query_string, check_strings, decode_json

VALID = [
    b'{"origin": "7.4197,43.7311", "destination": "7.4270,43.7400", "mode": "car"}',
    b'{"addresses": ["Boulevard des Moulins 12", {"address": "Rue Grimaldi 5", "country": "MC"}], "limit": 1}',
    '{"address": "Straße 1, Zürich 😀", "pair": "\\ud83d\\ude00", "esc": "a\\"b\\\\c\\u00e9"}'.encode(),
    b'[1, -2.5, 1e3, true, false, null, "", [], {}]',
    b'{"a": 1, "a": 2}',  # the last duplicate wins, as in the standard library
    b"  \n\t{}  ",
    b"18446744073709551615",
]


@pytest.mark.parametrize("data", VALID)
def test_valid_json_decodes_as_the_standard_library_does(data):
    assert decode_json(data, 64) == json.loads(data)


def test_a_byte_order_mark_is_ignored():
    assert decode_json(b'\xef\xbb\xbf{"a": 1}', 64) == {"a": 1}


@pytest.mark.parametrize("depth,ok", [(1, True), (63, True), (64, True), (65, False), (1024, False), (1025, False),
                                      (100_000, False)])
def test_depth_is_bounded_without_recursion(depth, ok):
    for data in (b"[" * depth + b"]" * depth, b'{"a":' * (depth - 1) + b"[]" + b"}" * (depth - 1)):
        if ok:
            assert decode_json(data, 64) is not None
        else:
            with pytest.raises(BadRequest, match="nested more than 64 levels deep"):
                decode_json(data, 64)


def test_brackets_inside_strings_are_not_nesting():
    data = b'{"a": "' + b"[{" * 500 + b'", "b": [[1]]}'
    assert decode_json(data, 3)["b"] == [[1]]
    with pytest.raises(BadRequest):
        decode_json(data, 2)


def test_wide_documents_stay_shallow():
    data = json.dumps({"addresses": [{"address": f"Rue {i}", "country": "MC"} for i in range(20_000)]}).encode()
    assert len(decode_json(data, 3)["addresses"]) == 20_000
    with pytest.raises(BadRequest):
        decode_json(data, 2)


@pytest.mark.parametrize("data,message", [
    (b'{"a": "\\udcff"}', "lone surrogate"),
    (b'{"a": "\\ud800x"}', "lone surrogate"),
    (b'{"a": "\\ud800\\u0041"}', "lone surrogate"),
    (b'["\xed\xb3\xbf"]', "not valid UTF-8"),  # a surrogate encoded as bytes (CESU-8)
    (b'["caf\xe9"]', "not valid UTF-8 (byte 5)"),
    (b'["\xc3"]', "not valid UTF-8"),
    (b'{"a": NaN}', "not valid JSON"),
    (b'{"a": 1e400}', "not valid JSON"),
    (b'{"a": 1', "not valid JSON"),
    (b"", "not valid JSON"),
    ('{"a": 1}'.encode("utf-16"), "not valid UTF-8"),
])
def test_refusals_say_what_is_wrong(data, message):
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_json(data, 64)


@pytest.mark.parametrize("query", ["", "a=1", "origin=7.4197%2C43.7311&mode=car", "q=caf%C3%A9", "q=%F0%9F%98%80",
                                   "q=caf\xc3\xa9", "q=%25ED%25B3%25BF", "q=a+b"])
def test_utf8_query_strings_pass(query):
    check_query_string(query)


@pytest.mark.parametrize("query", ["q=%ED%B3%BF", "q=%ED%A0%80", "q=%FF", "q=caf%E9", "q=%C3", "q=%F0%9F%98",
                                   "q=caf\xe9", "%ED%B3%BF=1"])
def test_query_strings_that_are_not_utf8_are_refused(query):
    with pytest.raises(BadRequest, match="query string is not valid UTF-8"):
        check_query_string(query)


def test_check_strings_names_the_field():
    check_strings({"name": "Zürich 😀", "grants": [{"source": "a.b.*"}], "n": 1, "none": None})
    with pytest.raises(BadRequest, match=r"'grants\[1\].source' holds a lone surrogate"):
        check_strings({"grants": [{"source": "ok"}, {"source": "a\udcff"}]})
    with pytest.raises(BadRequest, match="a field name in 'token' holds a lone surrogate"):
        check_strings({"\ud800": 1}, "token")
    with pytest.raises(BadRequest, match="'name' holds a NUL character"):
        check_strings({"name": "a\x00b"})
