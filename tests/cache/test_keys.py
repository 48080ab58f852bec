"""Canonical cache keys: equal questions share a key, different questions and builds do not."""

from lds.cache.keys import cache_key, norm_code, norm_int, norm_number, norm_point, norm_text


def key(endpoint="route", version="v1", **params):
    return cache_key("lds:", version, endpoint, params)


def test_key_layout_names_prefix_version_and_endpoint():
    k = key("geocode", "abc123", address="x")
    assert k.startswith("lds:c:abc123:geocode:") and len(k.rsplit(":", 1)[1]) == 32


def test_parameter_order_does_not_matter():
    assert key(a=1, b=[1, 2], c="x") == key(c="x", b=[1, 2], a=1)


def test_coordinates_rounded_to_the_configured_decimals():
    near = norm_point((7.41970000004, 43.7311000001), 6)
    assert near == norm_point((7.4197, 43.7311), 6) == [7.4197, 43.7311]
    assert key(origin=near) == key(origin=norm_point(("7.4197", "43.7311"), 6))
    assert key(origin=norm_point((7.4197, 43.7311), 6)) != key(origin=norm_point((7.4198, 43.7311), 6))
    assert norm_number(-0.0000001, 6) == 0.0 and str(norm_number(-0.0000001, 6)) == "0.0"  # no "-0.0" key


def test_address_text_is_normalised():
    assert norm_text("  Boulevard   des MOULINS 12 ") == norm_text("boulevard des moulins 12")
    assert norm_text("Straße") == norm_text("STRASSE")  # case folding folds ß
    assert norm_text("Alle\u0301e") == norm_text("Allée")  # NFC: combining accent == precomposed
    assert norm_text("Allée") != norm_text("Allee")  # accents are kept: the geocoder decides about them


def test_codes_and_limits():
    assert norm_code(" fr ") == "FR" and norm_code("") is None and norm_code(None) is None
    assert norm_int("5") == 5 and norm_int(5.0) == 5 and norm_int(None) is None and norm_int("x") == "x"


def test_data_version_and_endpoint_separate_keys():
    assert key(version="v1", a=1) != key(version="v2", a=1)
    assert key("route", a=1) != key("isolines", a=1)


def test_waypoint_order_matters():
    assert key(waypoints=[[1.0, 2.0], [3.0, 4.0]]) != key(waypoints=[[3.0, 4.0], [1.0, 2.0]])
