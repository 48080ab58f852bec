"""Batch geocoding through the core facade: input order, per-item errors, item options and defaults."""

from __future__ import annotations

import pytest

from lds.errors import BadRequest


def test_entries_follow_input_order_and_bad_items_keep_their_own_error(lds_core):
    items = [
        "14 Allée Lazare Sauvaigo",
        {"address": "4 Avenue de la Madone", "limit": 2},
        "",
        {"address": "zzqx wvvq"},
        42,
        {"addr": "typo in the key"},
        {"address": "6 Quai Antoine 1er", "country": "France!"},
        {"address": "6 Quai Antoine 1er", "limit": 0},
        "6 quai antoine 1er",
    ]
    out = lds_core.geocode_batch(items, limit=1)
    assert len(out) == len(items)
    assert [set(e) for e in out] == [{"error", "value"}] * len(items)
    assert out[0]["error"] is None and out[0]["value"][0]["streetNumber"] == "14"
    assert out[1]["error"] is None and 1 <= len(out[1]["value"]) <= 2
    assert out[1]["value"][0]["streetName"] == "Avenue de la Madone"
    assert "missing" in out[2]["error"] and out[2]["value"] == []
    assert out[3]["error"] == "No results found" and out[3]["value"] == []
    assert "string or an object" in out[4]["error"]
    assert "unknown field" in out[5]["error"]
    assert "country" in out[6]["error"]
    assert "limit" in out[7]["error"]
    assert out[8]["value"][0]["streetName"] == "Quai Antoine 1er" and len(out[8]["value"]) == 1


def test_batch_defaults_apply_to_items_without_their_own(lds_core):
    out = lds_core.geocode_batch(["6 Quai Antoine 1er", {"address": "6 Quai Antoine 1er", "country": "MC"}], country="DK")
    assert out[0]["error"] == "No results found"  # restricted to Denmark by the batch default
    assert out[1]["error"] is None and out[1]["value"][0]["countryCode"] == "MC"


def test_single_calls_validate_like_items(lds_core):
    with pytest.raises(BadRequest):
        lds_core.geocode("   ")
    with pytest.raises(BadRequest):
        lds_core.geocode("Monaco", limit=10_000)
    with pytest.raises(BadRequest):
        lds_core.geocode("Monaco", country="MCO")
    with pytest.raises(BadRequest):
        lds_core.reverse(91, 7.4)
    with pytest.raises(BadRequest):
        lds_core.geocode_batch("not a list")
    assert lds_core.geocode("Monaco", country="mc", limit="2")


def test_repeated_items_are_answered_alike(lds_core):
    out = lds_core.geocode_batch(["14 Allée Lazare Sauvaigo"] * 50)
    assert all(e == out[0] for e in out) and out[0]["error"] is None
