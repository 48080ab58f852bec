"""The synthetic country (scripts/synth_country.py) at a small size: the file holds what a national network has,
`lds build` builds it, and routes and geocodes on it are right."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path

import pytest
from test_router import assert_costs_equal_plain_dijkstra

REPO = Path(__file__).resolve().parents[2]


def _synth():
    spec = importlib.util.spec_from_file_location("synth_country", REPO / "scripts" / "synth_country.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["synth_country"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def country(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "country.osm.pbf"
    _synth().write(out, 20_000, seed=3, progress=False)
    return out


@pytest.fixture(scope="module")
def country_core(country: Path, tmp_path_factory):
    from lds.build.pipeline import build
    from lds.core import LDS
    from lds.settings import Settings

    data = tmp_path_factory.mktemp("synth-data") / "country"
    build(str(country), data, quiet=True)
    state = tmp_path_factory.mktemp("synth-state")
    return LDS(Settings.from_env(env={}, data_dir=str(data), auth=False, cache_enabled=False, state_dir=str(state)))


def _features(path: Path) -> tuple[Counter, list[dict]]:
    import osmium

    seen: Counter = Counter()
    addresses = []
    for obj in osmium.FileProcessor(str(path)):
        tags = dict(obj.tags)
        for key in (
            "highway",
            "junction",
            "route",
            "barrier",
            "bridge",
            "tunnel",
            "restriction",
            "place",
            "amenity",
            "addr:interpolation",
            "admin_level",
            "oneway",
            "maxspeed",
        ):
            if key in tags:
                seen[f"{key}={tags[key]}" if key in ("highway", "junction", "route", "admin_level") else key] += 1
        if obj.is_node() and "addr:housenumber" in tags and "addr:interpolation" not in tags:
            addresses.append({**tags, "lon": obj.location.lon, "lat": obj.location.lat})
    return seen, addresses


def test_same_seed_same_file_other_seed_other_file(country: Path, tmp_path: Path):
    synth = _synth()
    again, other = tmp_path / "again.osm.pbf", tmp_path / "other.osm.pbf"
    synth.write(again, 20_000, seed=3, progress=False)
    synth.write(other, 20_000, seed=4, progress=False)
    assert again.read_bytes() == country.read_bytes()
    assert other.read_bytes() != country.read_bytes()


def test_the_file_has_a_national_network(country: Path):
    seen, addresses = _features(country)
    for feature in (
        "highway=motorway",
        "highway=motorway_link",
        "highway=motorway_junction",
        "highway=trunk",
        "highway=primary",
        "highway=secondary",
        "highway=tertiary",
        "highway=residential",
        "highway=service",
        "highway=footway",
        "junction=roundabout",
        "oneway",
        "maxspeed",
        "bridge",
        "tunnel",
        "barrier",
        "restriction",
        "place",
        "amenity",
        "addr:interpolation",
        "admin_level=2",
        "admin_level=4",
        "admin_level=8",
    ):
        assert seen[feature] > 0, feature
    assert len(addresses) > 5000
    assert all(a.get("addr:postcode") and a.get("addr:city") and a.get("addr:street") for a in addresses)


def test_build_routes_exactly(country_core):
    for mode in ("car", "walk"):
        g = country_core.graph(mode)
        assert assert_costs_equal_plain_dijkstra(g, seed=5, n_points=120) > 40


def test_route_between_towns_and_geocode(country: Path, country_core):
    _, addresses = _features(country)
    a, b = addresses[10], addresses[-10]
    r = country_core.route((a["lon"], a["lat"]), (b["lon"], b["lat"]), mode="car")
    crow = math.dist((a["lon"] * 64_000, a["lat"] * 111_000), (b["lon"] * 64_000, b["lat"] * 111_000))
    assert r["distance"] > crow * 0.95 and r["duration"] > 0
    hit = country_core.geocode(f"{a['addr:street']} {a['addr:housenumber']}, {a['addr:city']}", limit=1)[0]
    assert hit["streetName"] == a["addr:street"] and hit["streetNumber"] == a["addr:housenumber"]
    assert hit["city"] == a["addr:city"] and hit["postalCode"] == a["addr:postcode"]
    assert math.dist((hit["longitude"], hit["latitude"]), (a["lon"], a["lat"])) < 1e-4


def test_addresses_on_building_outlines_are_found_inside_them(tmp_path: Path):
    """``--buildings``: a share of the addresses drawn as house outlines carrying them (the rest of the country
    drawn the same); the address index keeps each outline, and a point inside a house reverse-geocodes to it."""
    import osmium
    import shapely

    from lds.geocoding.build import build_index
    from lds.geocoding.buildings import building_address
    from lds.geocoding.index import AddressIndex

    path = tmp_path / "houses.osm.pbf"
    _synth().write(path, 20_000, seed=3, progress=False, buildings=0.5)
    houses = {}
    for way in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if way.is_way() and "building" in way.tags:
            ring = [(n.lon, n.lat) for n in way.nodes]
            houses[way.id] = (dict(way.tags), shapely.Polygon(ring))
    address_nodes = sum("addr:housenumber" in n.tags for n in osmium.FileProcessor(str(path), osmium.osm.NODE))
    assert len(houses) > 1000 and address_nodes > 1000  # about half and half
    assert all(poly.is_valid and 60 < poly.area * 111_320**2 * math.cos(math.radians(50)) < 100
               for _, poly in houses.values())  # 10 x 8 m
    counts = build_index(path, tmp_path / "geocoder", lambda step, message: None)
    index = AddressIndex.load(tmp_path / "geocoder")
    assert counts["addresses"] >= len(houses) + address_nodes
    for tags, poly in list(houses.values())[::50]:
        inside = poly.centroid
        row = building_address(index, inside.y, inside.x)
        assert row is not None
        assert index.string(index.addr_hn[row]) == tags["addr:housenumber"]
        assert shapely.Point(float(index.addr_lon[row]), float(index.addr_lat[row])).within(poly)
