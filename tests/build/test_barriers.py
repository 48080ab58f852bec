"""Barrier nodes: a car may come up to a bollard and turn back, never drive through it (OSRM car.lua
process_node); whitelisted barriers, rising bollards and allowed access tags pass; walking passes."""

import pytest
from osmxml import write_osm

from lds.build.pipeline import build
from lds.build.profiles import car_node_blocked
from lds.core import LDS
from lds.settings import Settings


@pytest.mark.parametrize("tags,blocked", [
    ({"barrier": "bollard"}, True),
    ({"barrier": "block"}, True),
    ({"barrier": "gate"}, False),
    ({"barrier": "lift_gate"}, False),
    ({"barrier": "bollard", "bollard": "rising"}, False),
    ({"barrier": "bollard", "motor_vehicle": "yes"}, False),
    ({"barrier": "gate", "access": "no"}, True),
    ({"access": "no"}, True),
    ({"barrier": "gate", "access": "private"}, False),  # private keeps through traffic out; the way handles that
    ({"barrier": "height_restrictor", "maxheight": "2.0"}, True),
    ({"barrier": "height_restrictor", "maxheight": "3.2"}, False),
    ({"barrier": "kerb"}, True),
    ({"barrier": "kerb", "kerb": "lowered"}, False),
    ({"highway": "traffic_signals"}, False),
])
def test_which_nodes_stop_a_car(tags, blocked):
    assert car_node_blocked(tags) is blocked


def street_with_detour(path, barrier_tags):
    """A straight street A-B-C with ``barrier_tags`` on B, and a detour A-D-E-C about 2.4 times as long."""
    nodes = [
        (1, 43.7300, 7.4200, {}), (2, 43.7300, 7.4210, barrier_tags), (3, 43.7300, 7.4220, {}),
        (4, 43.7310, 7.4200, {}), (5, 43.7310, 7.4220, {}),
    ]
    ways = [
        (10, [1, 2, 3], {"highway": "residential", "name": "Rue Droite"}),
        (11, [1, 4, 5, 3], {"highway": "residential", "name": "Rue du Détour"}),
    ]
    return write_osm(path, nodes, ways)


def route_length(tmp_path, barrier_tags, mode):
    tmp_path.mkdir(parents=True, exist_ok=True)
    osm = street_with_detour(tmp_path / "street.osm", barrier_tags)
    out = tmp_path / "data"
    build(str(osm), out, skip_geocoder=True, quiet=True)
    core = LDS(Settings.from_env(env={}, data_dir=str(out), auth=False, cache_enabled=False,
                                 state_dir=str(tmp_path / "state")))
    return core.route((7.4202, 43.7300), (7.4218, 43.7300), (), mode)["distance"]


def test_a_bollard_sends_cars_around_and_lets_walkers_through(tmp_path):
    straight = 0.0016 * 80_500  # ~129 m along the street
    car = route_length(tmp_path / "car", {"barrier": "bollard"}, "car")
    assert car > 2 * straight  # back to A, round the detour to C
    walk = route_length(tmp_path / "walk", {"barrier": "bollard"}, "walk")
    assert walk == pytest.approx(straight, rel=0.05)


@pytest.mark.parametrize("tags", [{"barrier": "lift_gate"}, {"barrier": "bollard", "motor_vehicle": "yes"}, {}])
def test_passable_nodes_keep_the_street_open(tmp_path, tags):
    assert route_length(tmp_path, tags, "car") == pytest.approx(0.0016 * 80_500, rel=0.05)
