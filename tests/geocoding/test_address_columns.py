"""The columnar address passes of the index build compute what the per-address Python loops they replace did:
Counter.most_common's tie-break (first seen), dict-of-lists grouping order, sorted() order of the written rows,
the string pool's order of first use. Checked on random columns against those loops; and the edge cases of the
columns on small extracts (no address at all, associatedStreet houses found by OSM id, building outlines)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import numpy as np
from geohelpers import geo_settings, write_osm

from lds.geocoding.address_fill import address_order, pooled
from lds.geocoding.build import build_index
from lds.geocoding.columns import FIELDS, Addresses, Strings, first_mode
from lds.geocoding.fill import rows_by_value
from lds.geocoding.housenumbers import main_number
from lds.geocoding.index import AddressIndex
from lds.geocoding.reverse import reverse
from lds.geocoding.search import geocode
from lds.geocoding.store import StringPool


def _row(strings: Strings, hn: str) -> list[int]:
    return [strings.id(hn)] + [-1] * (len(FIELDS) - 1)


def _random_ids(rng: random.Random, n: int, distinct: int) -> np.ndarray:
    return np.array([rng.randrange(-1, distinct) for _ in range(n)], dtype=np.int32)


def test_first_mode_is_counter_most_common_per_key():
    rng = random.Random(7)
    for _ in range(50):
        n, n_keys = rng.randrange(0, 300), rng.randrange(1, 12)
        keys = np.array([rng.randrange(n_keys) for _ in range(n)], dtype=np.int64)
        values = _random_ids(rng, n, rng.randrange(1, 6))
        got = first_mode(keys, values, n_keys)
        for k in range(n_keys):
            c = Counter(v for kk, v in zip(keys.tolist(), values.tolist()) if kk == k and v >= 0)
            assert got[k] == (c.most_common(1)[0][0] if c else -1)


def test_rows_by_value_is_a_dict_of_lists_filled_in_row_order():
    rng = random.Random(3)
    values = _random_ids(rng, 500, 20)
    rows = np.flatnonzero(values >= 0)
    expected: dict[int, list[int]] = defaultdict(list)
    for i in rows.tolist():
        expected[int(values[i])].append(i)
    got = rows_by_value(values, rows)
    assert [v for v, _ in got] == list(expected)
    assert all(r.tolist() == expected[v] for v, r in got)


def test_address_order_is_the_sorted_key_of_the_written_rows():
    rng = random.Random(11)
    strings = Strings()
    addresses = Addresses(strings)
    numbers = ["1", "2", "10", "2a", "2 A", "12-14", "x", "99999999999999999999999", "7", "007"]
    for _ in range(400):
        addresses.append("n", rng.randrange(10**6), 0.0, 0.0, _row(strings, rng.choice(numbers)))
    addresses.freeze()
    group = np.array([rng.randrange(-1, 8) for _ in range(len(addresses))], dtype=np.int64)
    big = np.iinfo(np.int64).max
    hn = [strings.text(int(i)) for i in addresses["hn"]]
    expected = sorted(range(len(hn)), key=lambda i: (group[i] if group[i] >= 0 else big, main_number(hn[i]), hn[i]))
    assert address_order(addresses, group).tolist() == expected


def test_pooled_adds_strings_in_order_of_first_use():
    rng = random.Random(5)
    strings = Strings()
    ids = np.array([strings.id(rng.choice(["a", "b", "c", "d", ""])) for _ in range(200)], dtype=np.int32)
    pool, expected_pool = StringPool(), StringPool()
    pool.add("x")
    expected_pool.add("x")
    expected = [expected_pool.add(strings.text(int(i))) for i in ids]
    assert pooled(ids, strings, pool).tolist() == expected
    assert pool.items == expected_pool.items


def test_row_of_finds_the_address_of_an_osm_object():
    strings = Strings()
    addresses = Addresses(strings)
    for osm_type, osm_id in [("n", 5), ("w", 5), ("n", 3), ("r", 9)]:
        addresses.append(osm_type, osm_id, 0.0, 0.0, _row(strings, "1"))
    addresses.freeze()
    assert addresses.row_of("n", np.array([3, 5, 4, 9])).tolist() == [2, 0, -1, -1]
    assert addresses.row_of("w", np.array([5])).tolist() == [1]


def test_an_extract_without_addresses_builds(tmp_path):
    nodes = [(1, 50.0, 10.0, {}), (2, 50.0, 10.002, {}), (3, 50.0005, 10.001, {"place": "village", "name": "Tomby"})]
    path = write_osm(tmp_path / "empty.osm", nodes, [(100, [1, 2], {"highway": "residential", "name": "Tomvej"})])
    counts = build_index(path, tmp_path / "geocoder", lambda step, message: None)
    assert counts["addresses"] == 0 and counts["interpolated"] == 0 and counts["streets"] == 1
    index = AddressIndex.load(tmp_path / "geocoder", geo_settings())
    assert geocode(index, "Tomvej", limit=1)[0]["streetName"] == "Tomvej"


def test_an_associated_street_names_its_building_house_and_keeps_its_outline(tmp_path):
    lat0, lon0 = 50.0, 10.0
    ring = [(10, 0.0001, 0.0001), (11, 0.0001, 0.0003), (12, 0.0003, 0.0003), (13, 0.0003, 0.0001)]
    nodes = [(1, lat0, lon0, {}), (2, lat0, lon0 + 0.002, {})]
    nodes += [(i, lat0 + a, lon0 + b, {}) for i, a, b in ring]
    nodes += [(20, lat0 - 0.0002, lon0 + 0.0015, {"addr:housenumber": "9"})]
    ways = [
        (100, [1, 2], {"highway": "residential"}),
        (101, [10, 11, 12, 13, 10], {"building": "house", "addr:housenumber": "4"}),
    ]
    relations = [
        (
            300,
            [("w", 100, "street"), ("w", 101, "house"), ("n", 20, "house")],
            {"type": "associatedStreet", "name": "Samvej"},
        ),
    ]
    path = write_osm(tmp_path / "assoc.osm", nodes, ways, relations)
    build_index(path, tmp_path / "geocoder", lambda step, message: None)
    index = AddressIndex.load(tmp_path / "geocoder", geo_settings())
    for number in ("4", "9"):
        hit = geocode(index, f"Samvej {number}", limit=1)[0]
        assert hit["streetName"] == "Samvej" and hit["streetNumber"] == number
    inside = reverse(index, lat0 + 0.0002, lon0 + 0.0002)[0]  # in the building: its address, at distance 0
    assert inside["streetNumber"] == "4" and inside["distance"] == 0
