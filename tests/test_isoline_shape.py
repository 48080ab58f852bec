"""Drawing isolines on synthetic roads: catchment areas (filled blocks, holes, nearest road), partial edges, holes,
one-sided simplification, GeoJSON."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from lds._isoline_raster import park_walk
from shapely.geometry import shape

from lds.geo import EARTH_RADIUS_M
from lds.isoline_shape import (
    COORD_DECIMALS,
    CostField,
    Frame,
    Rings,
    Workspace,
    _covering,
    _nested,
    as_multipolygon,
    catchment_field,
    reached_extent,
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


def block_roads(side_m: float, x0: float = 0.0):
    return [(x0, 0), (x0 + side_m, 0), (x0 + side_m, side_m), (x0, side_m), (x0, 0)]


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


# --- catchment areas (the isolines the API draws) ---------------------------------------------------------------


def catchment(items, weights, geometry, limit, claims=(), cell=10.0, offroad_m=80.0, levels=None, cut_off=(),
              foot=None, walk_m=0.0, cut=None):
    """Polygons (metres) of ``catchment_field`` at each level (default: ``limit``), unsimplified, every hole kept;
    the edges ``cut_off`` are not of the network (no router snaps to them); ``foot``: the field's park-and-walk
    argument, footways walked up to ``walk_m``; ``cut``: points (x, y, cost) of roads cut off from the network with
    the cost of the network road each snaps to (the grid spans those served within ``limit``, as the API's does)."""
    edge, f0, c0, cb, wb = (np.asarray(v, dtype=t) for v, t in zip(
        zip(*items, strict=True), (np.int32, float, float, float, float), strict=True))
    weights = np.asarray(weights, dtype=np.float32)
    xmin, ymin, xmax, ymax = reached_extent(edge, f0, c0, cb, wb, weights, *geometry, LON0, LAT0, float(limit), cell)
    if cut is not None:
        cut = tuple(np.asarray(v, dtype=float) for v in cut)
        served = cut[2] <= limit
        if served.any():
            xmin, xmax = min(xmin, cut[0][served].min()), max(xmax, cut[0][served].max())
            ymin, ymax = min(ymin, cut[1][served].min()), max(ymax, cut[1][served].max())
    pad = 2 * int(offroad_m // cell) + int(walk_m // cell) + 3
    jx0, jy0 = int(np.floor(xmin / cell)) - pad, int(np.floor(ymin / cell)) - pad
    nx, ny = int(np.ceil(xmax / cell)) + pad - jx0 + 1, int(np.ceil(ymax / cell)) + pad - jy0 + 1
    no_twins = np.full(len(geometry[0]) - 1, -1, dtype=np.int32)
    snaps = np.ones(len(no_twins), dtype=np.uint8)
    snaps[list(cut_off)] = 0
    z, lo, hi = catchment_field(edge, f0, c0, cb, wb, weights, *geometry, no_twins, snaps,
                                np.asarray(claims, dtype=np.int32), LON0, LAT0, float(limit), cell, offroad_m, jx0, jy0,
                                nx, ny, None, foot, cut)
    f = CostField(z, jx0 * cell, jy0 * cell, cell, lo, hi)
    return f, [shapely.union_all(Rings.from_traced(*t, 0.0).polygons()) for t in traced_levels(f, levels or [limit])]


def traced_levels(f: CostField, levels) -> list:
    """The rings of the field's cells at each level, contoured half-way between cells as the API does."""
    return trace_levels(f.z, f.x0, f.y0, f.cell, np.asarray(levels, dtype=float), *f.extents(), None, True)


def test_a_reached_road_cut_off_from_the_network_serves_what_no_network_road_does():
    """A one-way street with no way out (one leaving the extract, say) is still driven to: the places along it that
    no road of the network has within the off-road distance are inside once it is reached, whatever larger range
    the search ran to; a place nearer a network road than that is judged by that road alone."""
    # Road 0 (network) reached at cost 0..2; road 1 (cut off) 200 m north, entered at cost 5 and 15 at its end;
    # road 2 (network, unreached: a claim) runs 40 m south of road 1's far half.
    geometry = roads([(0, 0), (200, 0)], [(0, 200), (400, 200)], [(200, 160), (400, 160)])
    items = [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 5.0, np.inf, 0.0)]
    for limit in (12, 24):
        _, (area,) = catchment(items, [2.0, 10.0], geometry, limit, claims=[2], cut_off=[1], levels=[12])
        assert area.contains(shapely.Point(100, 20))  # by road 0
        assert area.contains(shapely.Point(60, 230))  # 30 m from road 1 where it is reached at 6.5
        assert not area.contains(shapely.Point(380, 230))  # road 1 reached there only at 14.5
        assert not area.contains(shapely.Point(260, 150))  # nearer road 2 (unreached) than the off-road distance


def test_a_road_cut_off_from_the_network_serves_its_places_from_the_road_it_snaps_to():
    """Driveways the data leaves unjoined (an estate 150 m off a reached street, no road of the network within the
    off-road distance of its houses): a router snaps them to the street, so the places by them are inside at the
    street's cost there, whatever larger range the search ran to, and outside a range below it; a place nearer a
    network road than the off-road distance is still judged by that road alone."""
    # Road 0 (network) reached at cost 0..2; road 1 (network, unreached: a claim) 40 m north of the driveway's east
    # end. The driveway runs 150 m north of road 0, from x 0 to 200: its points every 40 m snap to road 0.
    geometry = roads([(0, 0), (200, 0)], [(160, 190), (400, 190)])
    items = [(0, 0.0, 0.0, np.inf, 0.0)]
    xs = np.arange(0.0, 201.0, 40.0)

    def area(cost, limit, level=None):
        cut = (xs, np.full(len(xs), 150.0), np.full(len(xs), cost))
        return catchment(items, [2.0, 2.0], geometry, limit, claims=[1], cut=cut, levels=[level or limit])[1][0]

    served = area(1.0, limit=12)
    assert served.contains(shapely.Point(60, 200))  # 50 m from the driveway, 200 m from road 0
    assert served.contains(shapely.Point(100, 40))  # by road 0 itself
    assert not served.contains(shapely.Point(60, 280))  # beyond the off-road distance from the driveway
    assert not served.contains(shapely.Point(190, 170))  # nearer the unreached road 1 than the off-road distance
    assert not area(1.0, limit=12, level=0.5).contains(shapely.Point(60, 200))  # the street's cost there is above
    assert area(1.0, limit=300, level=12).equals(served)
    assert not area(np.inf, limit=12).contains(shapely.Point(60, 200))  # snaps to no reached road


def test_park_and_walk_covers_the_places_a_footway_off_a_reached_street_serves():
    """Stepped lanes: a street reached at cost 10 (road 0, 400 m east) and an unreached one 400 m north of it
    (road 1, a claim); a footway climbs from the first street's middle to the second. Walked 120 m from the parked
    car, the footway serves the places beside it that no road has within the off-road distance; the places by its
    unwalked rest, by a footway walked from no reached road, and those nearer a road are judged as before."""
    geometry = roads([(0, 0), (400, 0)], [(0, 400), (400, 400)])
    footways = roads([(200, 0), (200, 400)], [(300, 400), (300, 300)])  # footway 1: off the unreached street
    no_twins = np.full(2, -1, dtype=np.int32)
    # Footway CSR by start node: node 0 at (200, 0) on road 0, node 1 at (200, 400), node 2 at (300, 400).
    indptr = np.array([0, 1, 1, 2], dtype=np.int64)
    adj_edge, adj_dst = np.array([0, 1], dtype=np.int32), np.array([1, 2], dtype=np.int32)
    adj_len = np.array([400.0, 100.0])

    def walked_area(seed_cost, limit, walk_m=120.0, level=None):
        rec = park_walk(np.array([0], dtype=np.int32), np.array([seed_cost]), indptr, adj_edge, adj_dst, adj_len,
                        walk_m, np.zeros(3, np.uint64), np.zeros(2, np.uint64))  # scratch arrays of zeros
        foot = (*footways, no_twins, *rec, np.zeros(2, dtype=np.int32), np.array([0, 1], dtype=np.int32))
        return catchment([(0, 0.0, 0.0, np.inf, 0.0)], [20.0], geometry, limit, claims=[1], foot=foot,
                         walk_m=walk_m, levels=[level or limit])[1][0]

    area = walked_area(10.0, limit=30)
    assert area.contains(shapely.Point(230, 100))  # 100 m from the street, 30 m from the walked footway
    assert area.contains(shapely.Point(150, 40))  # by the street itself
    assert not area.contains(shapely.Point(230, 200))  # by the footway beyond 120 m of walking
    assert not area.contains(shapely.Point(320, 330))  # by footway 1, walked from no reached road
    assert not area.contains(shapely.Point(200, 330))  # nearer the unreached street than the off-road distance
    assert not walked_area(10.0, limit=30, walk_m=0.0).contains(shapely.Point(230, 100))  # park and walk off
    # The seed's cost is the place's: outside a level below it, and the same cells whatever the limit above it.
    assert not walked_area(40.0, limit=60, level=30).contains(shapely.Point(230, 100))
    assert walked_area(40.0, limit=60, level=45).contains(shapely.Point(230, 100))
    assert walked_area(10.0, limit=300, level=30).equals(walked_area(10.0, limit=30))


def test_a_block_between_reached_streets_is_inside_a_wide_empty_area_is_not():
    """A 120 m block whose streets are reached is filled; the middle of a 600 m square (a lake, a park without
    paths) lies farther than the off-road distance from every road and stays out, as a hole."""
    geometry = roads(block_roads(120), block_roads(600, x0=300))
    _, (area,) = catchment([(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 0.0, np.inf, 0.0)], [1.0, 1.0], geometry, limit=10)
    assert area.is_valid
    assert area.contains(shapely.Point(60, 60))  # the block's middle, 60 m from its streets
    assert not area.contains(shapely.Point(600, 300))  # the lake's middle, 300 m from any road
    assert area.contains(shapely.Point(360, 300))  # 60 m off the lake's shore road
    assert sum(len(p.interiors) for p in getattr(area, "geoms", [area])) == 1  # the lake is a hole
    assert not area.contains(shapely.Point(-100, 60))  # beyond the off-road distance outside the blocks


def test_a_place_nearer_an_unreached_road_belongs_to_it():
    """Two parallel streets 100 m apart, only the first reached: the places nearer the second stay out."""
    geometry = roads([(0, 0), (500, 0)], [(0, 100), (500, 100)])
    _, (area,) = catchment([(0, 0.0, 0.0, np.inf, 0.0)], [50.0], geometry, limit=100, claims=[1])
    assert area.contains(shapely.Point(250, 40)) and area.contains(shapely.Point(250, -70))
    assert not area.contains(shapely.Point(250, 60))  # 40 m from the unreached street, 60 m from the reached one
    _, (unclaimed,) = catchment([(0, 0.0, 0.0, np.inf, 0.0)], [50.0], geometry, limit=100)
    assert unclaimed.contains(shapely.Point(250, 60))  # without the second street, the first one serves it


def test_partial_edge_ends_where_the_budget_does_in_the_catchment():
    """The places beside the unreached rest of a road belong to that rest: the area ends across the road where
    the budget does, and reaches the off-road distance around the reached part."""
    geometry = roads([(0, 0), (1000, 0)])  # 100 s end to end
    _, (area,) = catchment([(0, 0.0, 0.0, np.inf, 0.0)], [100.0], geometry, limit=50, offroad_m=50.0)
    minx, miny, maxx, maxy = area.bounds
    assert maxx == pytest.approx(500, abs=10) and minx == pytest.approx(-50, abs=10)
    assert maxy == pytest.approx(50, abs=6) and miny == pytest.approx(-50, abs=6)


def test_catchment_field_below_the_search_limit_does_not_depend_on_it():
    """The field sampled at fixed positions: every level up to the smaller limit is the same cells either way."""
    geometry = roads([(0, 0), (3000, 0)], [(1500, -1500), (1500, 1500)], block_roads(900, x0=200))
    items = [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 30.0, np.inf, 0.0), (2, 0.0, 0.0, np.inf, 0.0)]
    weights = [300.0, 300.0, 360.0]
    _, small = catchment(items, weights, geometry, limit=120, levels=[60, 120])
    _, large = catchment(items, weights, geometry, limit=300, levels=[60, 120, 300])
    for a, b in zip(small, large[:2], strict=True):
        assert a.equals(b)
    assert large[2].area > large[1].area > large[0].area > 0
    assert large[1].covers(large[0]) and large[2].covers(large[1])


def test_edge_entered_from_both_ends_leaves_the_unreached_middle_out():
    geometry = roads([(0, 0), (1000, 0)])
    _, (area,) = catchment([(0, 0.0, 0.0, 0.0, 100.0)], [100.0], geometry, limit=30)
    assert len(getattr(area, "geoms", [area])) == 2
    assert not area.contains(shapely.Point(500, 0)) and not area.contains(shapely.Point(500, 40))
    assert area.contains(shapely.Point(950, 0)) and area.contains(shapely.Point(50, 0))


def test_start_part_way_along_an_edge():
    geometry = roads([(0, 0), (1000, 0)])
    _, (area,) = catchment([(0, 0.5, 0.0, np.inf, 0.0)], [100.0], geometry, limit=20)
    minx, _, maxx, _ = area.bounds
    assert minx == pytest.approx(500, abs=10) and maxx == pytest.approx(700, abs=10)


def test_large_unreached_areas_stay_holes_small_ones_are_filled():
    """A 300 m block keeps a 140 m hole (farther than 80 m from its streets), filled under the resolution; a
    600 m one keeps its hole."""
    geometry = roads(block_roads(600), block_roads(300, x0=800))
    items = [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 0.0, np.inf, 0.0)]
    f, (area,) = catchment(items, [1.0, 1.0], geometry, limit=10)
    assert sum(len(p.interiors) for p in getattr(area, "geoms", [area])) == 2
    (level,) = traced_levels(f, [10.0])
    polys = Rings.from_traced(*level, min_hole_m2=200.0**2).polygons()
    kept = [shapely.Polygon(h) for p in polys for h in shapely.get_parts(shapely.get_interior_ring(p, 0))
            if shapely.get_num_interior_rings(p)]
    assert len(kept) == 1 and shapely.area(kept[0]) == pytest.approx((600 - 160) ** 2, rel=0.1)


def test_geojson_straight_from_traced_rings_matches_shapely_path():
    geometry = roads(block_roads(600), [(0, 300), (900, 300)])
    items = [(0, 0.0, 0.0, np.inf, 0.0), (1, 0.0, 0.0, np.inf, 0.0)]
    f, _ = catchment(items, [1.0, 1.0], geometry, limit=10, offroad_m=40.0)
    (level,) = traced_levels(f, [10.0])
    rings = Rings.from_traced(*level, 100.0**2, 10.0, 1)
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
        weights = np.asarray(weights, dtype=np.float32)
        xmin, ymin, xmax, ymax = reached_extent(edge, f0, c0, cb, wb, weights, *geometry, LON0, LAT0, float(limit), 10.0)
        jx0, jy0 = int(xmin // 10) - 30, int(ymin // 10) - 30
        nx, ny = int(xmax // 10) + 30 - jx0, int(ymax // 10) + 30 - jy0
        no_twins = np.full(len(geometry[0]) - 1, -1, dtype=np.int32)
        z, lo, hi = catchment_field(edge, f0, c0, cb, wb, weights, *geometry, no_twins, np.ones(len(no_twins), np.uint8),
                                    np.zeros(0, dtype=np.int32), LON0, LAT0, float(limit), 10.0, 80.0, jx0, jy0, nx, ny,
                                    workspace)
        traced = trace_levels(z, jx0 * 10.0, jy0 * 10.0, 10.0, np.array([limit / 2, limit]), lo, hi, workspace, True)
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


def test_a_shorter_range_sticking_out_is_united_into_the_longer_one():
    frame = Frame(LON0, LAT0)
    outer = to_geojson(shapely.MultiPolygon([shapely.box(0, 0, 500, 500)]), frame)
    inside = to_geojson(shapely.MultiPolygon([shapely.box(100, 100, 300, 300)]), frame)
    sticking = to_geojson(shapely.MultiPolygon([shapely.box(400, 100, 520, 300)]), frame)
    assert _nested(outer, inside) is outer  # covered: the longer range's polygon as drawn
    united = shape(_nested(outer, sticking))
    assert united.is_valid and united.covers(shape(sticking)) and united.covers(shape(outer))
    assert united.area == pytest.approx(shape(outer).area + shape(sticking).difference(shape(outer)).area, rel=1e-6)



def blob_field(seed: int) -> np.ndarray:
    """A cost field growing outwards from the middle, unevenly, with a few unreached lakes: nested lobed areas with
    holes, as a catchment's ranges are."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:90, 0:110].astype(float)
    angle, r = np.arctan2(yy - 45, xx - 55), np.hypot(yy - 45, xx - 55)
    z = r * (1 + 0.35 * np.sin(rng.integers(2, 7) * angle + rng.uniform(0, 6)) + 0.15 * np.sin(rng.integers(7, 13) * angle))
    z += rng.uniform(0, 2.5, z.shape)
    for _ in range(6):
        ly, lx, radius = rng.uniform(15, 75), rng.uniform(15, 95), rng.uniform(2, 6)
        z[np.hypot(yy - ly, xx - lx) < radius] = np.inf
    z[:2, :] = z[-2:, :] = z[:, :2] = z[:, -2:] = np.inf
    return z.astype(np.float32)


def test_a_longer_range_covers_the_shorter_ones_simplification_without_a_union():
    """On one grid, each range simplified outwards alone, the longer one grown by the pockets the shorter ones'
    simplification added (no polygon union) is valid and is their union, as GEOS computes it."""
    levels, cell, tested, stuck_out = [12.0, 20.0, 28.0], 10.0, 0, 0
    for seed in range(30):
        z = blob_field(seed)
        lo, hi = np.zeros(z.shape[0], dtype=np.int32), np.full(z.shape[0], z.shape[1] - 1, dtype=np.int32)
        traced = trace_levels(z, 0.0, 0.0, cell, np.array(levels), lo, hi, None, True)
        shapes = [Rings.from_traced(*t, 300.0, 2 * cell, 1, k < len(levels) - 1) for k, t in enumerate(traced)]
        if not all(as_multipolygon(s).is_valid for s in shapes):
            continue  # simplified into itself: drawn the general way (_valid_level)
        tested += 1
        for k in range(1, len(levels)):
            grown = _covering(shapes[k], shapes[:k], [cell] * (k + 1))
            union = shapely.union_all([as_multipolygon(s) for s in shapes[:k + 1]])
            result = as_multipolygon(grown)
            stuck_out += not as_multipolygon(shapes[k]).buffer(1e-6).covers(as_multipolygon(shapes[k - 1]))
            assert result.is_valid
            assert result.buffer(1e-6).covers(union) and union.buffer(1e-6).covers(result)
            assert result.area == pytest.approx(union.area, rel=1e-9)
        assert _covering(shapes[2], shapes[:2], [cell, cell, 2 * cell]) is None  # another grid: the general way
    assert tested >= 20 and stuck_out >= 20  # the shorter range's simplification does stick out, and is covered


# --- the field's C parts against plain references ------------------------------------------------------------------


def _field(items, weights, geometry, limit, claims, cell, offroad_m, jx0, jy0, nx, ny):
    edge, f0, c0, cb, wb = (np.asarray(v, dtype=t) for v, t in zip(
        zip(*items, strict=True), (np.int32, float, float, float, float), strict=True))
    no_twins = np.full(len(geometry[0]) - 1, -1, dtype=np.int32)
    return catchment_field(edge, f0, c0, cb, wb, np.asarray(weights, dtype=np.float32), *geometry, no_twins,
                           np.ones(len(no_twins), np.uint8), np.asarray(claims, dtype=np.int32), LON0, LAT0,
                           float(limit), cell, offroad_m, jx0, jy0, nx, ny)


@pytest.mark.parametrize("cell", [10.0, 20.0, 40.0])
@pytest.mark.parametrize("seed", range(3))
def test_the_field_of_a_cell_does_not_depend_on_the_grid_around_it(seed, cell):
    """Scattered roads far apart (the transform runs only in the tiles near a road): each cell of a grid takes the
    same value as on a larger grid placed otherwise around the same roads (the tiles cut elsewhere), the empty
    country between the roads included; and as when the items come in another order."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(12):  # short streets and long country roads, anywhere in 6 km (well inside the grids)
        x, y = rng.uniform(0, 6000, 2)
        n = int(rng.integers(2, 6))
        step = rng.uniform(20, 400)
        pts = np.clip(np.cumsum(np.vstack([[x, y], rng.normal(0, step, (n - 1, 2))]), axis=0), 300, 5700)
        lines.append([tuple(p) for p in pts])
    geometry = roads(*lines)
    weights = rng.uniform(10, 300, len(lines))
    items = [(k, 0.0, float(rng.uniform(0, 200)), np.inf, 0.0) for k in range(8)]
    claims = list(range(8, 12))
    offroad_m, limit = 80.0, 400.0
    jx0, jy0 = int(-800 // cell), int(-800 // cell)
    nx = ny = int(8000 // cell)
    z, lo, hi = _field(items, weights, geometry, limit, claims, cell, offroad_m, jx0, jy0, nx, ny)
    for dx, dy in ((-7, -3), (-13, -29), (-1, -16)):
        z2, _, _ = _field(items, weights, geometry, limit, claims, cell, offroad_m, jx0 + dx, jy0 + dy,
                          nx - 2 * dx, ny - 2 * dy)
        inner = z2[-dy:-dy + ny, -dx:-dx + nx]
        assert np.array_equal(inner[1:-1, 1:-1], z[1:-1, 1:-1])
    shuffled = [items[k] for k in rng.permutation(len(items))]
    z3, lo3, hi3 = _field(shuffled, weights, geometry, limit, claims, cell, offroad_m, jx0, jy0, nx, ny)
    assert np.array_equal(z3, z) and np.array_equal(lo3, lo) and np.array_equal(hi3, hi)
    for i in range(ny):  # each row's finite cells lie between its first and last
        finite = np.flatnonzero(np.isfinite(z[i]))
        assert (lo[i], hi[i]) == ((finite[0], finite[-1]) if len(finite) else (nx, -1))


def test_level_extents_are_the_boxes_of_the_nodes_within_each_level():
    from lds._isoline_raster import level_extents

    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(7.3, 7.5, 1000), rng.uniform(43.6, 43.8, 1000)
    nodes = rng.choice(1000, 300, replace=False).astype(np.int32)
    cost = rng.uniform(0, 100, 300)
    levels = np.array([5.0, 30.0, 30.0, 99.0, 200.0])
    got = level_extents(nodes, cost, lon, lat, LON0, LAT0, KX, KY, levels)
    for (w, h), level in zip(got, levels, strict=True):
        within = nodes[cost <= level]
        x, y = (lon[within] - LON0) * KX, (lat[within] - LAT0) * KY
        assert w == max(float(x.max()), 0.0) - min(float(x.min()), 0.0)
        assert h == max(float(y.max()), 0.0) - min(float(y.min()), 0.0)
    assert level_extents(nodes, cost, lon, lat, LON0, LAT0, KX, KY, np.array([-1.0])) == [(0.0, 0.0)]
