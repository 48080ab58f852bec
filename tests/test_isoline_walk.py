"""Park and walk on real Monaco data: a car isoline also holds the places served by footways, paths and steps walked
from a reached road (houses on stepped lanes), and no place farther from every road than that walk allows."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import shape

from lds.isoline_walk import foot_network
from lds.isolines import isolines

ORIGIN = (7.4197, 43.7311)  # Monaco-Ville: 10 minutes' drive reaches most of the principality
MARGIN_M = 30.0  # raster cells (10-20 m), simplification (10 m) and the chamfer's 6 %


def footway_points(lds_core, step_m: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step_m`` along the walking-only ways (lon, lat) and each one's distance to the nearest car road
    a router snaps to (metres)."""
    car, walk = lds_core.graph("car"), lds_core.graph("walk")
    net = foot_network(car, walk)
    points = []
    for e in net.ways.edges.tolist():
        lon, lat = walk.edge_coords(e)
        n = max(2, int(float(walk.edge_length[e]) // step_m) + 1)
        t = np.linspace(0.0, 1.0, n)
        along = np.linspace(0.0, 1.0, len(lon))
        points.append(np.column_stack([np.interp(t, along, lon), np.interp(t, along, lat)]))
    points = np.concatenate(points)
    distance = np.array([car.snapper.snap(x, y, 5000.0).distance_m for x, y in points.tolist()])
    return points, distance


def car_areas(lds_core, walk_m: float, ranges=(600,)) -> list:
    """Car areas with park and walk up to ``walk_m`` alone: the roads cut off from the network (whose places a router
    sends to the network, ``isoline_cutoff_m``) left out, so the distances here, to the network, tell what is served."""
    settings = lds_core.settings.replace(isoline_park_walk_m=walk_m, isoline_cutoff_m=0.0)
    found = isolines(lds_core.graph("car"), ORIGIN, list(ranges), "time", settings, lds_core.graph("walk"))
    return [shape(iso.geom) for iso in found]


def test_places_served_only_by_a_footway_off_a_reached_street_are_inside(lds_core):
    points, distance = footway_points(lds_core)
    offroad = lds_core.settings.isoline_offroad_m
    (walked,), (driven,) = car_areas(lds_core, 120.0), car_areas(lds_core, 0.0)
    assert walked.is_valid and walked.area > driven.area
    in_walked = shapely.contains_xy(walked, points[:, 0], points[:, 1])
    in_driven = shapely.contains_xy(driven, points[:, 0], points[:, 1])
    far = distance > offroad + 15.0  # no car road serves these by the off-road distance (cells and chamfer aside)
    assert far.sum() >= 50 and (in_walked & far & ~in_driven).sum() >= 5
    # Park and walk only adds: what the roads serve stays in (up to the simplification's margin).
    near_edge = shapely.dwithin(walked.boundary, shapely.points(points), 1e-4)
    assert not (in_driven & ~in_walked & ~near_edge).any()


def test_places_beyond_the_walk_from_every_road_stay_out(lds_core):
    points, distance = footway_points(lds_core)
    offroad = lds_core.settings.isoline_offroad_m
    walk_m = 40.0
    (area,) = car_areas(lds_core, walk_m)
    too_far = distance > walk_m + offroad + MARGIN_M  # beyond any walk from a road, plus the off-road distance
    assert too_far.sum() >= 5
    assert not shapely.contains_xy(area, points[too_far, 0], points[too_far, 1]).any()


def test_park_and_walk_areas_nest_and_do_not_depend_on_the_other_ranges(lds_core):
    short, long_ = car_areas(lds_core, 120.0, (180, 600))
    (alone,) = car_areas(lds_core, 120.0, (180,))
    assert alone.equals(short)
    assert long_.buffer(1e-5).covers(short)


def test_a_small_search_gathers_the_same_seeds_as_a_scan_of_them_all(lds_core, monkeypatch):
    """seed_costs gathers a small search's seeds from its settled nodes (per node, a CSR of the seeds): the same
    seeds and costs, in the same order, as the scan of every seed of the graph."""
    import lds.isoline_walk as walk_module
    from lds.graph.search import search_index
    from lds.isolines import isoline_search

    car = lds_core.graph("car")
    net = foot_network(car, lds_core.graph("walk"))
    for origin, limit in ((ORIGIN, 60.0), ((7.4246, 43.7384), 120.0), (ORIGIN, 600.0)):
        _, _, reach = isoline_search(car, origin, [limit], "time", lds_core.settings)
        weight = search_index(car).edge_weight[reach.weight]
        monkeypatch.setattr(walk_module, "SEED_GATHER_SHARE", 10**9)  # always gathered
        gathered = walk_module.seed_costs(net, car, reach, weight, limit)
        monkeypatch.setattr(walk_module, "SEED_GATHER_SHARE", 0)  # always scanned
        scanned = walk_module.seed_costs(net, car, reach, weight, limit)
        assert len(scanned[0]) > 0
        np.testing.assert_array_equal(gathered[0], scanned[0])
        np.testing.assert_array_equal(gathered[1], scanned[1])
