"""The one set of input validators (no Flask): names in every message, the same value in any spelling."""

from __future__ import annotations

import numpy as np
import pytest

from lds import params as v
from lds.errors import BadRequest
from lds.settings import Settings

S = Settings.from_env(env={})


def refused(fn, *args, **kwargs) -> str:
    with pytest.raises(BadRequest) as info:
        fn(*args, **kwargs)
    return info.value.message


def test_text_json_and_python_spellings_mean_the_same():
    assert v.lonlat("origin", "7.42, 43.73") == v.lonlat("origin", [7.42, 43.73]) == v.lonlat("origin", np.array([7.42, 43.73]))
    assert v.latlon_list("waypoints", "43.7,7.4;43.8,7.5") == v.latlon_list("waypoints", [[43.7, 7.4], "43.8,7.5"]) \
        == [(7.4, 43.7), (7.5, 43.8)]
    assert v.isoline_ranges("300;600", "time", S) == v.isoline_ranges([300, 600.0], "time", S) == [300.0, 600.0]
    assert v.geocode_limit("3", S) == v.geocode_limit(3, S) == v.geocode_limit(3.0, S) == 3
    assert v.geocode_limit("", S) == v.geocode_limit(None, S) == S.geocode_default_limit
    assert v.country("country", " dk ") == "DK" and v.country("country", "") is None
    assert v.boolean("async", "yes") is v.boolean("async", True) is True


def test_messages_name_the_parameter_and_the_setting():
    assert refused(v.isoline_ranges, "99999", "time", S) == \
        "parameter 'range' must be between 1 and 3600 (max_isoline_time_s), got 99999"
    assert "max_isoline_distance_m" in refused(v.isoline_ranges, [60001], "distance", S)
    assert refused(v.geocode_limit, 51, S) == "parameter 'limit' must be between 1 and 50 (geocode_max_limit), got 51"
    assert refused(v.geocode_limit, 1.5, S) == "parameter 'limit' must be a whole number, got 1.5"
    assert refused(v.geocode_address, "x" * 501, S) == \
        "parameter 'address' is too long: 501 characters (geocode_max_query_chars is 500)"
    assert refused(v.geocode_address, "  ", S) == "missing parameter 'address'"
    assert refused(v.latlon_list, "waypoints", "1,2;3,4", most=1) == "too many waypoints: 2 (max_waypoints is 1)"
    assert refused(v.lonlat, "origin", "7.42") == "parameter 'origin' must be two comma-separated numbers, got 7.42"
    assert refused(v.lonlat, "origin", "7.42,95") == "parameter 'origin latitude' must be between -90 and 90, got 95"
    assert refused(v.choice, "mode", "boat", ("car", "walk")) == "parameter 'mode' must be one of: car, walk; got boat"
    assert refused(v.country, "country", "Monaco") == \
        "parameter 'country' must be an ISO 3166-1 alpha-2 code such as 'DK', got Monaco"


def test_booleans_nans_and_huge_values_are_refused_and_echoed_short():
    assert refused(v.number, "lat", True) == "parameter 'lat' must be a number, got True"
    assert refused(v.number, "lat", "nan") == "parameter 'lat' must be a finite number, got nan"
    assert refused(v.geocode_limit, "1e400", S).startswith("parameter 'limit' must be a finite number")
    message = refused(v.number, "lat", "x" * 10_000)
    assert len(message) < 120 and message.endswith("...")
    assert "must be a list" in refused(v.lonlat_list, "waypoints", "7.4,43.7", most=5)
    assert refused(v.integer, "page", 0, low=1) == "parameter 'page' must be at least 1, got 0"
