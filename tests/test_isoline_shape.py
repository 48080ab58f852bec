"""Drawing isolines on synthetic roads: partial edges, corridor width, holes, one-sided simplification, GeoJSON."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from lds.geo import EARTH_RADIUS_M
from lds.isoline_shape import (
    COORD_DECIMALS,
    CostField,
    Frame,
    Workspace,
    as_multipolygon,
    contour_polygons,
    nested_geojson,
    nested_shapes,
    rasterize,
    simplify_rings,
    to_geojson,
    trace_levels,
    trace_rings,
)

LON0, LAT0 = 7.42, 43.73
KX = np.radians(1.0) * EARTH_RADIUS_M * np.cos(np.radians(LAT0))
KY = np.radians(1.0) * EARTH_RADIUS_M


def roads(*polylines_m):
    """Edge arrays for polylines given in metres east/north of (LON0, LAT0)."""
    lon, lat, off = [], [], [0]
    for line in polylines_m:
        xy = np.asarray(line, dtype=float)
        lon.extend(LON0 + xy[:, 0] / KX)
        lat.extend(LAT0 + xy[:, 1] / KY)
        off.append(len(lon))
    return np.asarray(off, dtype=np.int64), np.asarray(lon), np.asarray(lat)


def field(items, weights, geometry, limit, cell=10.0, buffer_m=20.0, max_cells=1_000_000) -> CostField:
    edge, f0, c0, cb, wb = (np.asarray(v, dtype=t) for v, t in zip(
        zip(*items, strict=True), (np.int32, float, float, float, float), strict=True))
    z, x0, y0, used, row_lo, row_hi = rasterize(edge, f0, c0, cb, wb, np.asarray(weights, dtype=np.float32), *geometry,
                                LON0, LAT0, float(limit), cell, buffer_m, max_cells)
    return CostField(z, x0, y0, used, row_lo, row_hi)


def test_partial_edge_is_cut_at_the_remaining_budget():
    geometry = roads([(0, 0), (1000, 0)])  # 1 km east, 100 s end to end
    f = field([(0, 0.0, 0.0, np.inf, 0.0)], [100.0], geometry, limit=50)
    for level, reach_m in ((50, 500), (25, 250)):
        poly = shapely.union_all(contour_polygons(f, level, 0.0))
        minx, miny, maxx, maxy = poly.bounds
        assert maxx == pytest.approx(reach_m + 20, abs=10)  # cut where the budget ends (+ the corridor's cap)
        assert minx == pytest.approx(-20, abs=10)  # the corridor's half-width behind the start
        assert maxy == pytest.approx(20, abs=6) and miny == pytest.approx(-20, abs=6)


def test_edge_entered_from_both_ends_leaves_the_unreached_middle_out():
    geometry = roads([(0, 0), (1000, 0)])
    f = field([(0, 0.0, 0.0, 0.0, 100.0)], [100.0], geometry, limit=30)
    polys = contour_polygons(f, 30, 0.0)
    assert len(polys) == 2
    assert not shapely.union_all(polys).contains(shapely.Point(500, 0))
    assert shapely.union_all(polys).contains(shapely.Point(950, 0))


def test_start_part_way_along_an_edge():
    geometry = roads([(0, 0), (1000, 0)])
    f = field([(0, 0.5, 0.0, np.inf, 0.0)], [100.0], geometry, limit=20)
    minx, _, maxx, _ = shapely.union_all(contour_polygons(f, 20, 0.0)).bounds
    assert minx == pytest.approx(500 - 20, abs=10) and maxx == pytest.approx(700 + 20, abs=10)


def block_roads(side_m: float, x0: float = 0.0):
    return [(x0, 0), (x0 + side_m, 0), (x0 + side_m, side_m), (x0, side_m), (x0, 0)]


def test_large_unreached_areas_stay_holes_small_ones_are_filled():
    geometry = roads(block_roads(600), block_roads(100, x0=800))
    items = [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 0.0, np.inf, 0.0)]
    f = field(items, [1.0, 1.0], geometry, limit=10)
    polys = contour_polygons(f, 10, min_hole_m2=200.0**2)
    holes = shapely.get_num_interior_rings(polys)
    assert sorted(holes.tolist()) == [0, 1]
    kept = shapely.get_interior_ring(polys[np.argmax(holes)], 0)
    assert shapely.area(shapely.Polygon(kept)) == pytest.approx((600 - 40) ** 2, rel=0.1)
    every_hole = contour_polygons(f, 10, min_hole_m2=0.0)
    assert sorted(shapely.get_num_interior_rings(every_hole).tolist()) == [1, 1]


def test_grid_is_coarsened_to_max_cells():
    geometry = roads([(0, 0), (20_000, 20_000)])
    f = field([(0, 0.0, 0.0, np.inf, 0.0)], [100.0], geometry, limit=100, max_cells=10_000)
    assert f.z.size <= 11_000
    assert f.cell > 100


def test_trace_rings_orientation_and_area():
    z = np.full((12, 12), np.inf, dtype=np.float32)
    z[2:10, 2:10] = 1.0
    z[5:7, 5:7] = np.inf  # a hole
    xy, off, areas = trace_rings(z, 0.0, 0.0, 1.0, 5.0)
    assert sorted(np.sign(areas).tolist()) == [-1.0, 1.0]
    # Crossings into empty cells sit half-way: an 8 x 8 block of cells spans 8 units, the hole 2 - 0.5 chamfers.
    assert areas.max() == pytest.approx(64 - 4 * 0.125)
    assert -areas.min() == pytest.approx(4 - 4 * 0.125)
    for k in range(len(areas)):
        ring = xy[off[k]:off[k + 1]]
        assert (ring[0] == ring[-1]).all()


def wobbly_ring(n=400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 500 + 60 * np.sin(5 * t) + rng.normal(0, 4, n)
    xy = np.column_stack([r * np.cos(t), r * np.sin(t)])
    return np.vstack([xy, xy[:1]])


@pytest.mark.parametrize("seed", range(5))
def test_one_sided_simplification(seed):
    ring = wobbly_ring(seed=seed)
    original = shapely.Polygon(ring)
    off = np.array([0, len(ring)], dtype=np.int64)
    grown, _ = simplify_rings(ring, off, 10.0, 1)
    shrunk, _ = simplify_rings(ring, off, 10.0, -1)
    plain, _ = simplify_rings(ring, off, 10.0, 0)
    for simplified in (grown, shrunk, plain):
        assert 4 <= len(simplified) < len(ring) / 2
        assert shapely.hausdorff_distance(shapely.Polygon(simplified), original) <= 10.0 + 1e-9
    assert shapely.Polygon(grown).buffer(1e-7).covers(original)
    assert original.buffer(1e-7).covers(shapely.Polygon(shrunk))


def test_nested_shapes_contain_each_other_and_keep_request_order():
    geometry = roads([(0, 0), (3000, 0)], [(1500, -1500), (1500, 1500)], block_roads(900, x0=200))
    items = [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 30.0, np.inf, 0.0), (2, 0.0, 0.0, np.inf, 0.0)]
    f = field(items, [300.0, 300.0, 360.0], geometry, limit=300)
    ranges = [300, 60, 180, 120]
    shapes = [as_multipolygon(s) for s in nested_shapes(f, ranges, 200.0**2, 10.0)]
    by_range = dict(zip(ranges, shapes, strict=True))
    assert all(s.is_valid and not s.is_empty for s in shapes)
    for small, large in ((60, 120), (120, 180), (180, 300)):
        assert by_range[large].buffer(1e-6).covers(by_range[small])  # exact up to the union's float noding
        assert by_range[large].area > by_range[small].area


def test_geojson_orientation_rounding_and_validity():
    shell = [(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)]  # counter-clockwise
    hole = [(10, 10), (20, 10), (20, 20), (10, 20), (10, 10)]  # counter-clockwise: must be flipped
    mp = shapely.MultiPolygon([shapely.Polygon(shell[::-1], [hole])])
    out = to_geojson(mp, Frame(LON0, LAT0))
    assert out["type"] == "MultiPolygon"
    geom = shape(out)
    assert geom.is_valid
    polygon = geom.geoms[0]
    assert polygon.exterior.is_ccw and not polygon.interiors[0].is_ccw
    ring = out["coordinates"][0][0]
    assert isinstance(ring, np.ndarray) and ring.shape[1] == 2 and ring.flags.c_contiguous  # no object per point
    for x, y in ring.tolist():
        assert round(x, COORD_DECIMALS) == x and round(y, COORD_DECIMALS) == y
    assert ring[0].tolist() == ring[-1].tolist()
    assert to_geojson(shapely.MultiPolygon(), Frame(LON0, LAT0)) == {"type": "MultiPolygon", "coordinates": []}


def test_geojson_straight_from_traced_rings_matches_shapely_path():
    geometry = roads(block_roads(600), [(0, 300), (900, 300)])
    f = field([(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 0.0, np.inf, 0.0)], [1.0, 1.0], geometry, limit=10)
    (rings,) = nested_shapes(f, [10], 100.0**2, 10.0)
    direct = shape(to_geojson(rings, Frame(LON0, LAT0)))
    via_shapely = shape(to_geojson(as_multipolygon(rings), Frame(LON0, LAT0)))
    assert direct.is_valid and direct.equals(via_shapely)
    assert all(p.exterior.is_ccw and not any(h.is_ccw for h in p.interiors) for p in direct.geoms)
    assert sum(len(p.interiors) for p in direct.geoms) == 2


def test_workspace_buffers_give_the_same_drawing_as_fresh_arrays():
    """Reused per-thread buffers (left dirty by a larger drawing in between) change nothing."""
    small = roads(block_roads(300), [(0, 150), (500, 150)])
    large = roads([(0, 0), (3000, 0)], [(1500, -1500), (1500, 1500)], block_roads(900, x0=200))
    work = Workspace()

    def draw(geometry, items, weights, limit, workspace):
        edge, f0, c0, cb, wb = (np.asarray(v, dtype=t) for v, t in zip(
            zip(*items, strict=True), (np.int32, float, float, float, float), strict=True))
        z, x0, y0, cell, lo, hi = rasterize(edge, f0, c0, cb, wb, np.asarray(weights, dtype=np.float32), *geometry,
                                            LON0, LAT0, float(limit), 10.0, 20.0, 1_000_000, workspace)
        traced = trace_levels(z, x0, y0, cell, np.array([limit / 2, limit]), lo, hi, workspace)
        return z.copy(), traced

    small_args = (small, [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 5.0, np.inf, 0.0)], [100.0, 50.0], 60)
    large_args = (large, [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 30.0, np.inf, 0.0), (2, 0.0, 0.0, np.inf, 0.0)],
                  [300.0, 300.0, 360.0], 300)
    fresh = draw(*small_args, None)
    draw(*large_args, work)
    reused = draw(*small_args, work)
    assert np.array_equal(fresh[0], reused[0])
    for (xy_a, off_a, area_a), (xy_b, off_b, area_b) in zip(fresh[1], reused[1], strict=True):
        assert np.array_equal(xy_a, xy_b) and np.array_equal(off_a, off_b) and np.array_equal(area_a, area_b)
    assert (work.buffer("seen", np.uint8, 10) == 0).all()  # left clean for the next drawing


def test_tracing_refuses_a_grid_whose_border_is_inside():
    z = np.full((6, 6), np.inf, dtype=np.float32)
    z[2:4, 2:4] = 1.0
    assert len(trace_rings(z, 0.0, 0.0, 1.0, 5.0)[1]) == 2  # one ring
    z[0, 3] = 1.0  # a ring there would run off the grid
    with pytest.raises(ValueError, match="border"):
        trace_rings(z, 0.0, 0.0, 1.0, 5.0)


def test_rings_closer_than_the_rounding_stay_valid():
    """A hole a few centimetres from its shell: rounding to COORD_DECIMALS would make them cross; the output is
    snapped to the grid by GEOS instead, and stays valid."""
    shell = [(0, 0), (200, 0), (200, 200), (0, 200), (0, 0)]
    hole = [(0.03, 50.0), (100, 50.02), (100, 150), (0.03, 150), (0.03, 50.0)][::-1]  # clockwise
    mp = shapely.MultiPolygon([shapely.Polygon(shell, [hole])])
    assert mp.is_valid
    out = to_geojson(mp, Frame(LON0, LAT0))
    geom = shape(out)
    assert geom.is_valid and geom.area > 0
    for rings in out["coordinates"]:
        for ring in rings:
            assert np.array_equal(ring, np.round(ring, COORD_DECIMALS))


def test_geojson_of_two_ranges_matches_the_shapes_drawn_in_metres():
    geometry = roads([(0, 0), (3000, 0)], [(1500, -1500), (1500, 1500)], block_roads(900, x0=200))
    items = [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 30.0, np.inf, 0.0), (2, 0.0, 0.0, np.inf, 0.0)]
    f = field(items, [300.0, 300.0, 360.0], geometry, limit=300)
    frame = Frame(LON0, LAT0)
    ranges = [300, 120]
    direct = nested_geojson(f, ranges, 200.0**2, 10.0, frame)
    via_shapes = [to_geojson(s, frame) for s in nested_shapes(f, ranges, 200.0**2, 10.0)]
    for a, b in zip(direct, via_shapes, strict=True):
        assert shape(a).is_valid and shape(a).equals(shape(b))
    assert shape(direct[0]).buffer(10.0 ** -COORD_DECIMALS).covers(shape(direct[1]))
