"""The index build: counts on the real extracts, locality fill-in from areas and place nodes, street
inference, interpolation, relation polygons (a small synthetic extract covers what the real ones lack)."""

from __future__ import annotations

import math

import osmium
import pytest
from geohelpers import geo_settings, write_osm

from lds.formats import FLAG_INFERRED, FLAG_INTERPOLATED
from lds.geocoding.build import build_index
from lds.geocoding.index import AddressIndex
from lds.geocoding.reverse import reverse
from lds.geocoding.search import geocode


def _addresses_without(pbf, key: str) -> list[tuple[float, float, dict]]:
    out = []
    for o in osmium.FileProcessor(str(pbf), osmium.osm.NODE).with_filter(osmium.filter.KeyFilter("addr:housenumber")):
        tags = dict(o.tags)
        if key not in tags:
            out.append((o.location.lat, o.location.lon, tags))
    return out


def test_monaco_counts(monaco_index):
    c = monaco_index.counts
    assert c["addresses"] == 183
    assert c["streets"] > 200 and c["pois"] > 400 and c["places"] >= 11
    assert c["areas"] >= 7  # the Monaco quarters and the municipality, assembled from relations
    assert monaco_index.summary()["addresses"] == 183


def test_copenhagen_tolerates_missing_node_refs(copenhagen_index):
    c = copenhagen_index.build_counts
    assert c["missing_node_refs"] > 1000  # of the ways the index reads (3,750 in all the extract's ways)
    assert c["addresses"] == 35124
    assert c["streets"] > 1000 and c["postcodes"] > 300


def test_city_filled_from_the_enclosing_admin_boundary(monaco_index, monaco_pbf):
    missing = _addresses_without(monaco_pbf, "addr:city")
    assert len(missing) > 20
    for lat, lon, tags in missing[:30]:
        r = reverse(monaco_index, lat, lon)[0]
        assert r["distance"] < 1.0
        assert r["city"] == "Monaco", (tags, r)
        assert r["countryCode"] == "MC" and r["country"] == "Monaco"


def test_city_filled_from_tagged_neighbours_or_place_nodes_without_polygons(copenhagen_index, copenhagen_pbf):
    c = copenhagen_index.build_counts
    assert c["areas"] == 0  # the 2011 cut has no closed boundary
    assert c["filled"]["city_street"] > 100  # a tagged city on the same street beats the nearest place node
    tagged = {t["addr:city"] for _, _, t in _addresses_without(copenhagen_pbf, "no such key") if "addr:city" in t}
    missing = _addresses_without(copenhagen_pbf, "addr:city")
    assert missing
    for lat, lon, _ in missing[:40]:
        r = reverse(copenhagen_index, lat, lon)[0]
        assert r["city"] in tagged | {"København", "Frederiksberg"}, r
        assert r["countryCode"] == "DK" and r["country"] == "Danmark"


def test_city_filled_from_the_nearest_place_node(synthetic_index):
    r = reverse(synthetic_index, 50.05, 10.0)[0]  # Fjernvej 2, outside every polygon, 300 m from Fjernby
    assert r["streetName"] == "Fjernvej" and r["city"] == "Fjernby"
    assert r["countryCode"] == "LU"  # from the nearest address that knows its country


def test_streetless_numbers_take_the_nearest_named_street(monaco_index, monaco_pbf):
    flags = monaco_index.addr_flags
    assert int((flags & FLAG_INFERRED).astype(bool).sum()) == monaco_index.counts["streets_inferred"] > 0
    streetless = [(lat, lon, t) for lat, lon, t in _addresses_without(monaco_pbf, "addr:street") if "addr:place" not in t]
    found = 0
    for lat, lon, tags in streetless:
        r = reverse(monaco_index, lat, lon)[0]
        if r["distance"] < 1.0 and r["streetNumber"] == tags["addr:housenumber"] and r["streetName"]:
            found += 1
    assert found >= 1


@pytest.fixture(scope="module")
def synthetic_index(tmp_path_factory) -> AddressIndex:
    """Testvej (two nodes 143 m apart) with numbers 1 and 11 joined by an odd interpolation line, a
    street-less "7b", a postcode boundary, a municipality, a country, and a quarter assembled from two
    relation member ways."""
    d = tmp_path_factory.mktemp("synthetic")
    lat0, lon0 = 50.0, 10.0
    nodes = [
        (1, lat0, lon0, {}), (2, lat0, lon0 + 0.002, {}),
        (10, lat0 + 0.0001, lon0, {"addr:housenumber": "1", "addr:street": "Testvej"}),
        (11, lat0 + 0.0001, lon0 + 0.002, {"addr:housenumber": "11", "addr:street": "Testvej"}),
        (12, lat0 + 0.0002, lon0 + 0.001, {"addr:housenumber": "7b"}),
        (13, lat0 + 0.0005, lon0 + 0.001, {"place": "town", "name": "Testby", "name:en": "Test Town"}),
        (14, lat0 - 0.0003, lon0 + 0.0015, {"amenity": "cafe", "name": "Café Kringle"}),
        (50, lat0 + 0.05, lon0 - 0.001, {}), (51, lat0 + 0.05, lon0 + 0.001, {}),
        (52, lat0 + 0.05, lon0, {"addr:housenumber": "2", "addr:street": "Fjernvej"}),
        (53, lat0 + 0.0527, lon0, {"place": "village", "name": "Fjernby"}),
    ]
    square = [(20, -0.001, -0.001), (21, -0.001, 0.003), (22, 0.001, 0.003), (23, 0.001, -0.001)]
    nodes += [(i, lat0 + a, lon0 + b, {}) for i, a, b in square]
    big = [(30, -0.01, -0.01), (31, -0.01, 0.01), (32, 0.01, 0.01), (33, 0.01, -0.01)]
    nodes += [(i, lat0 + a, lon0 + b, {}) for i, a, b in big]
    south = [(40, -0.002, -0.002), (41, -0.002, 0.004), (42, 0.00015, 0.004), (43, 0.00015, -0.002)]
    nodes += [(i, lat0 + a, lon0 + b, {}) for i, a, b in south]
    ways = [
        (100, [1, 2], {"highway": "residential", "name": "Testvej"}),
        (102, [50, 51], {"highway": "residential", "name": "Fjernvej"}),
        (101, [10, 11], {"addr:interpolation": "odd"}),
        (200, [20, 21, 22, 23, 20], {"boundary": "postal_code", "postal_code": "12345"}),
        (201, [20, 21, 22, 23, 20], {"boundary": "administrative", "admin_level": "8", "name": "Testby"}),
        (202, [30, 31, 32, 33, 30], {"boundary": "administrative", "admin_level": "2", "name": "Lëtzebuerg",
                                     "name:en": "Luxembourg", "ISO3166-1:alpha2": "LU"}),
        (203, [40, 41, 42], {}), (204, [42, 43, 40], {}),
    ]
    relations = [(300, [("w", 203, "outer"), ("w", 204, "outer")],
                  {"type": "boundary", "boundary": "administrative", "admin_level": "10", "name": "Sydkvarter"})]
    path = write_osm(d / "synthetic.osm", nodes, ways, relations)
    out = d / "geocoder"
    counts = build_index(path, out, lambda step, message: None)
    index = AddressIndex.load(out, geo_settings())
    index.build_counts = counts
    return index


def test_interpolation_places_the_implied_numbers_along_the_line(synthetic_index):
    assert synthetic_index.build_counts["interpolated"] == 4  # 3, 5, 7, 9
    r = geocode(synthetic_index, "Testvej 5", limit=1)[0]
    assert r["matchType"] == "interpolated" and r["streetNumber"] == "5"
    assert r["latitude"] == pytest.approx(50.0001, abs=1e-6)
    assert r["longitude"] == pytest.approx(10.0008, abs=1e-6)  # 40 % of the way from 1 to 11
    assert int((synthetic_index.addr_flags & FLAG_INTERPOLATED).astype(bool).sum()) == 4


def test_interpolation_skips_numbers_that_exist(copenhagen_index):
    # Haydnsvej 9-25 is an odd interpolation way over numbers the Danish import already has.
    assert copenhagen_index.build_counts["interpolated"] == 0
    r = geocode(copenhagen_index, "Haydnsvej 15", limit=1)[0]
    assert r["matchType"] == "address"


def test_synthetic_fill_in_from_postal_admin_and_country_areas(synthetic_index):
    r = reverse(synthetic_index, 50.0001, 10.0)[0]
    assert r["streetName"] == "Testvej" and r["streetNumber"] == "1"
    assert r["postalCode"] == "12345"  # boundary=postal_code
    assert r["city"] == "Testby"  # admin_level 8
    assert r["countryCode"] == "LU" and r["country"] == "Lëtzebuerg"
    assert reverse(synthetic_index, 50.0001, 10.0, language="en")[0]["country"] == "Luxembourg"


def test_synthetic_relation_polygon_names_the_quarter(synthetic_index):
    # The quarter (two member ways) is in each address's locality words: naming it explains the word.
    with_quarter = geocode(synthetic_index, "Testvej 1, Sydkvarter", limit=1)[0]
    with_other = geocode(synthetic_index, "Testvej 1, Nordkvarter", limit=1)[0]
    assert with_quarter["streetNumber"] == "1"
    assert with_quarter["matchConfidence"] == pytest.approx(1.0)
    assert with_other["matchConfidence"] < with_quarter["matchConfidence"]


def test_synthetic_streetless_number_is_found_on_the_inferred_street(synthetic_index):
    assert synthetic_index.build_counts["streets_inferred"] == 1
    r = geocode(synthetic_index, "7b Testvej", limit=1)[0]
    assert r["matchType"] == "address" and r["streetNumber"] == "7b"
    assert math.isclose(r["latitude"], 50.0002, abs_tol=1e-6)


def test_places_and_pois_are_searchable_in_every_tagged_language(synthetic_index):
    assert geocode(synthetic_index, "Test Town", limit=1)[0]["matchType"] == "place"
    cafe = geocode(synthetic_index, "cafe kringle", limit=1)[0]
    assert cafe["matchType"] == "poi" and cafe["city"] == "Testby" and cafe["postalCode"] == "12345"
