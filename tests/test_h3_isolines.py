"""H3 isolines on real Monaco data: the same places as the polygon isolines of the same origin, nested across
ranges, costs bounded by geometry, limits enforced."""

from __future__ import annotations

import h3
import numpy as np
import pytest
import shapely

from lds.errors import BadRequest, OutOfCoverage
from lds.geo import haversine_m
from lds.h3_isolines import h3_isolines

CASINO = (7.4246, 43.7384)
FONTVIEILLE = (7.417, 43.731)
SEA = (7.50, 43.70)


def _polygon(geom: dict) -> shapely.MultiPolygon:
    rings = [[np.asarray(r).tolist() for r in poly] for poly in geom["coordinates"]]
    return shapely.geometry.shape({"type": "MultiPolygon", "coordinates": rings})


def _centres_inside(geom: dict, resolution: int) -> set[str]:
    """The cells of ``resolution`` whose centres the polygon contains (candidates: a box around it)."""
    shape = _polygon(geom)
    w, s, e, n = shape.buffer(0.003).bounds
    cells = h3.polygon_to_cells(h3.LatLngPoly([(s, w), (s, e), (n, e), (n, w)]), resolution)
    lat_lon = np.array([h3.cell_to_latlng(c) for c in cells])
    inside = shapely.contains_xy(shape, lat_lon[:, 1], lat_lon[:, 0])
    return {c for c, ok in zip(cells, inside, strict=True) if ok}


@pytest.mark.parametrize(
    ("origin", "mode", "range_type", "ranges", "resolution"),
    [
        (CASINO, "car", "time", [120, 300], 10),
        (CASINO, "walk", "distance", [500, 1000], 11),
        (FONTVIEILLE, "bike", "time", [200], 11),
    ],
)
def test_cells_agree_with_the_polygon_isolines(lds_core, origin, mode, range_type, ranges, resolution):
    """Both follow one rule (a place takes its nearest road's cost within the off-road distance); the polygon is
    drawn on a raster and simplified, so cells at its border may differ, the rest agree."""
    polygons = lds_core.isolines(origin, ranges, range_type, mode)
    answers = lds_core.isolines_h3(origin, ranges, range_type, mode, resolution)
    for poly, answer in zip(polygons, answers, strict=True):
        cells = {c["h3"] for c in answer["cells"]}
        inside = _centres_inside(poly["geom"], resolution)
        assert len(cells) > 30
        agreement = len(cells & inside) / len(cells | inside)
        assert agreement >= 0.8, (answer["range"], len(cells), len(inside), agreement)
        assert answer["location"] == poly["location"] and answer["snap_distance"] == poly["snap_distance"]


@pytest.mark.parametrize("range_type", ["time", "distance"])
def test_ranges_nest_and_each_is_the_cells_within_it(lds_core, range_type):
    ranges = [150, 400, 900] if range_type == "time" else [300, 800, 1500]
    answers = lds_core.isolines_h3(FONTVIEILLE, ranges, range_type, "walk", 10)
    largest = {c["h3"]: c["cost"] for c in answers[-1]["cells"]}
    previous: dict[str, float] = {}
    for r, answer in zip(ranges, answers, strict=True):
        assert answer["range"] == r and answer["range_type"] == range_type and answer["mode"] == "walk"
        assert answer["resolution"] == 10
        got = {c["h3"]: c["cost"] for c in answer["cells"]}
        assert len(got) == len(answer["cells"])  # no cell twice
        assert got == {k: c for k, c in largest.items() if c <= r}  # one search serves every range
        assert previous.items() <= got.items()
        costs = [c["cost"] for c in answer["cells"]]
        assert costs == sorted(costs)
        previous = got
    alone = lds_core.isolines_h3(FONTVIEILLE, ranges[:1], range_type, "walk", 10)[0]
    assert alone["cells"] == answers[0]["cells"]  # the same whatever else the request asks


def test_cells_are_valid_and_distances_respect_geometry(lds_core):
    """A centre reached within d metres of road lies at most d plus the off-road distance from the origin."""
    answer = lds_core.isolines_h3(CASINO, [1200], "distance", "walk", 11)[0]
    offroad = lds_core.settings.isoline_offroad_m
    ids = [c["h3"] for c in answer["cells"]]
    assert all(h3.is_valid_cell(i) and h3.get_resolution(i) == 11 for i in ids)
    centres = np.array([h3.cell_to_latlng(i) for i in ids])
    straight = haversine_m(answer["location"][0], answer["location"][1], centres[:, 1], centres[:, 0])
    cost = np.array([c["cost"] for c in answer["cells"]])
    assert np.all(cost <= 1200) and np.all(cost >= 0)
    assert np.all(straight <= cost + offroad + 1.0)
    assert h3.latlng_to_cell(answer["location"][1], answer["location"][0], 11) in ids[:10]  # the origin's cell is cheap


def test_resolution_changes_the_grid_not_the_area(lds_core):
    coarse, fine = (lds_core.isolines_h3(CASINO, [300], "time", "car", res)[0] for res in (9, 11))
    area = [sum(h3.cell_area(c["h3"], "m^2") for c in a["cells"]) for a in (coarse, fine)]
    assert len(fine["cells"]) > 20 * len(coarse["cells"])
    assert 0.5 < area[0] / area[1] < 2.0


def test_limits_and_coverage(lds_core):
    with pytest.raises(OutOfCoverage):
        lds_core.isolines_h3(SEA, [300], "time", "car", 9)
    with pytest.raises(BadRequest, match="h3_isoline_max_resolution"):
        lds_core.isolines_h3(CASINO, [300], "time", "car", lds_core.settings.h3_isoline_max_resolution + 1)
    with pytest.raises(BadRequest, match="whole number"):
        lds_core.isolines_h3(CASINO, [300], "time", "car", 9.5)
    assert (
        lds_core.isolines_h3(CASINO, [300], "time", "car")[0]["resolution"] == lds_core.settings.h3_isoline_resolution
    )
    small = lds_core.settings.replace(h3_isoline_max_cells=50)
    with pytest.raises(BadRequest, match="h3_isoline_max_cells"):
        h3_isolines(lds_core.graph("car"), CASINO, [600], "time", 11, small)


MONACO_VILLE = (7.4197, 43.7311)  # 10 minutes' drive reaches most of the principality


def _cell_set(answer: dict) -> set[str]:
    return {c["h3"] for c in answer["cells"]}


def test_car_cells_follow_the_polygons_park_and_walk(lds_core):
    """Given the walking graph, a car's cells also hold the centres only a footway walked from a reached road serves
    (houses on stepped lanes), as the polygons do: more cells than without, each lying in the polygon, none lost."""
    car, walk, settings = lds_core.graph("car"), lds_core.graph("walk"), lds_core.settings
    (walked,) = h3_isolines(car, MONACO_VILLE, [600], "time", 11, settings, walk)
    (driven,) = h3_isolines(car, MONACO_VILLE, [600], "time", 11, settings)
    extra = _cell_set(walked) - _cell_set(driven)
    assert _cell_set(driven) <= _cell_set(walked) and len(extra) >= 5
    (polygon,) = lds_core.isolines(MONACO_VILLE, [600], "time", "car")
    assert len(extra & _centres_inside(polygon["geom"], 11)) >= 0.8 * len(extra)
    (off,) = h3_isolines(car, MONACO_VILLE, [600], "time", 11, settings.replace(isoline_park_walk_m=0.0), walk)
    assert _cell_set(off) == _cell_set(driven)


def test_cells_by_roads_cut_off_from_the_network_follow_the_polygons(lds_core):
    """Driveways the data leaves unjoined to the network serve the places near them from the network road they snap
    to (``isoline_cutoff_m``), in the cells as in the polygons: the cells this adds lie in the polygon."""
    car, settings = lds_core.graph("car"), lds_core.settings
    (joined,) = h3_isolines(car, MONACO_VILLE, [600], "time", 11, settings)
    (alone,) = h3_isolines(car, MONACO_VILLE, [600], "time", 11, settings.replace(isoline_cutoff_m=0.0))
    extra = _cell_set(joined) - _cell_set(alone)
    assert _cell_set(alone) <= _cell_set(joined) and len(extra) >= 5
    (polygon,) = lds_core.isolines(MONACO_VILLE, [600], "time", "car")
    assert len(extra & _centres_inside(polygon["geom"], 11)) >= 0.8 * len(extra)


def test_a_centre_takes_the_least_cost_of_its_nearest_samples_and_far_samples_are_left_out():
    """Cell centres and road samples (random, about Monaco): the samples kept for the tree hold every one within
    the off-road distance of a centre, and a centre's cost is that of its nearest sample, the least of the samples
    as near (a road node is a sample of every road meeting there, at different costs)."""
    from lds.h3_isolines import _near_centres, _nearest_costs

    rng = np.random.default_rng(5)
    lon, lat = 7.40 + 0.04 * rng.random(3000), 43.72 + 0.03 * rng.random(3000)
    centres = np.column_stack([43.72 + 0.03 * rng.random(200), 7.40 + 0.04 * rng.random(200)])
    offroad = 80.0
    kept = set(_near_centres(lon, lat, centres, offroad).tolist())
    near = haversine_m(lon[None, :], lat[None, :], centres[:, 1:2], centres[:, 0:1]) <= offroad - 0.5
    assert set(np.flatnonzero(near.any(axis=0)).tolist()) <= kept
    assert len(kept) < len(lon)  # the others are left out
    # Each sample twice, the copy dearer: the least cost wins whatever the tree's order.
    cost = rng.random(3000) * 600
    lon2, lat2, cost2 = np.r_[lon, lon], np.r_[lat, lat], np.r_[cost + 50.0, cost]
    found, got = _nearest_costs(lon2, lat2, cost2, centres, offroad)
    found1, want = _nearest_costs(lon, lat, cost, centres, offroad)
    np.testing.assert_array_equal(found, found1)
    np.testing.assert_array_equal(got, want)
    assert found.any() and not found.all()
    nearest = np.argmin(
        np.where(near, haversine_m(lon[None, :], lat[None, :], centres[:, 1:2], centres[:, 0:1]), np.inf), axis=1
    )
    sure = near.any(axis=1)
    np.testing.assert_allclose(want[sure], cost[nearest[sure]])
