"""The C++ validity check of flat polygon rings (lds._polygon_check) against GEOS: never more lenient."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import shapely

from lds.isoline_shape import _oriented_rings, polygon_problems  # lds._polygon_check's, as the drawing uses it


def flat(*polygons):
    """``(xy, ring_off, poly_off)`` of polygons given as lists of rings (closed point lists), as written."""
    points, ring_off, poly_off = [], [0], [0]
    for rings in polygons:
        for ring in rings:
            points.extend(ring)
            ring_off.append(len(points))
        poly_off.append(len(ring_off) - 1)
    return (np.asarray(points, dtype=float).reshape(-1, 2), np.asarray(ring_off, dtype=np.int64),
            np.asarray(poly_off, dtype=np.int64))


def geos_valid(xy, ring_off, poly_off) -> tuple[np.ndarray, bool]:
    polygons = shapely.from_ragged_array(shapely.GeometryType.POLYGON, xy, (ring_off, poly_off))
    return shapely.is_valid(polygons), bool(shapely.multipolygons(polygons).is_valid)


def square(x0, y0, side, ccw=True):
    ring = [(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side), (x0, y0)]
    return ring if ccw else ring[::-1]


SHELL = square(0, 0, 10)
CASES = {
    "plain square": ([SHELL],),
    "square with a hole": ([SHELL, square(2, 2, 3, ccw=False)],),
    "two holes": ([SHELL, square(1, 1, 2, ccw=False), square(5, 5, 2, ccw=False)],),
    "two separate polygons": ([SHELL], [square(20, 0, 5)]),
    "island in a hole": ([SHELL, square(2, 2, 6, ccw=False)], [square(4, 4, 2)]),
    "bow tie": ([[(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)]],),
    "clockwise shell": ([square(0, 0, 10, ccw=False)],),
    "counter-clockwise hole": ([SHELL, square(2, 2, 3)],),
    "hole outside the shell": ([SHELL, square(20, 20, 3, ccw=False)],),
    "hole crossing the shell": ([SHELL, square(8, 2, 4, ccw=False)],),
    "hole inside a hole": ([SHELL, square(1, 1, 8, ccw=False), square(3, 3, 2, ccw=False)],),
    "hole touching the shell at a point": ([SHELL, [(10, 5), (8, 4), (8, 6), (10, 5)]],),
    "holes sharing an edge": ([SHELL, square(1, 1, 3, ccw=False), square(4, 1, 3, ccw=False)],),
    "spike": ([[(0, 0), (10, 0), (10, 10), (5, 10), (5, 15), (5, 10), (0, 10), (0, 0)]],),
    "two points": ([[(0, 0), (1, 1), (0, 0)]],),
    "collinear ring": ([[(0, 0), (5, 0), (10, 0), (0, 0)]],),
    "overlapping polygons": ([SHELL], [square(5, 5, 10)]),
    "polygon inside another": ([SHELL], [square(2, 2, 3)]),
    "polygons sharing an edge": ([SHELL], [square(10, 0, 10)]),
    "repeated points": ([[(0, 0), (10, 0), (10, 0), (10, 10), (0, 10), (0, 10), (0, 0)]],),
}


@pytest.mark.parametrize("name", list(CASES))
def test_never_more_lenient_than_geos(name):
    xy, ring_off, poly_off = flat(*CASES[name])
    bad, overlap = polygon_problems(xy, ring_off, poly_off)
    each_valid, whole_valid = geos_valid(xy, ring_off, poly_off)
    orientation_ok = all(  # GEOS accepts either orientation; the check wants shells ccw, holes cw
        (shapely.LinearRing(xy[a:b]).is_ccw == (k == poly_off[np.searchsorted(poly_off, k, side="right") - 1]))
        for k, (a, b) in enumerate(pairwise(ring_off)) if b - a >= 4)
    for p in range(len(poly_off) - 1):
        if not bad[p]:
            assert each_valid[p], f"{name}: polygon {p} passed but GEOS finds it invalid"
    if not bad.any() and not overlap:
        assert whole_valid, f"{name}: passed but GEOS finds the MultiPolygon invalid"
    if each_valid.all() and whole_valid and orientation_ok and "touching" not in name:
        assert not bad.any() and not overlap, f"{name}: flagged though valid"


def test_the_usual_cases_are_told_apart():
    assert not polygon_problems(*flat(*CASES["square with a hole"]))[0].any()
    assert not polygon_problems(*flat(*CASES["island in a hole"]))[1]
    for name in ("bow tie", "hole outside the shell", "hole inside a hole", "spike", "clockwise shell"):
        assert polygon_problems(*flat(*CASES[name]))[0].all(), name
    for name in ("overlapping polygons", "polygon inside another", "polygons sharing an edge"):
        assert polygon_problems(*flat(*CASES[name]))[1], name


def wobbly_polygon(rng, n_holes: int, noise: float):
    """A noisy disc with noisy holes: valid or not depending on the noise."""
    def ring(cx, cy, r, n, ccw):
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        rr = r * (1 + rng.normal(0, noise, n))
        pts = np.column_stack([cx + rr * np.cos(t), cy + rr * np.sin(t)])
        pts = pts if ccw else pts[::-1]
        return np.vstack([pts, pts[:1]]).tolist()
    rings = [ring(0, 0, 100, 200, True)]
    for _ in range(n_holes):
        a, d = rng.uniform(0, 2 * np.pi), rng.uniform(0, 85)
        rings.append(ring(d * np.cos(a), d * np.sin(a), rng.uniform(2, 15), 30, False))
    return rings


@pytest.mark.parametrize("seed", range(40))
def test_random_polygons_agree_with_geos(seed):
    rng = np.random.default_rng(seed)
    polygons = [wobbly_polygon(rng, int(rng.integers(0, 8)), rng.choice([0.0, 0.01, 0.05, 0.2]))]
    if seed % 3 == 0:  # a second polygon, apart or overlapping
        polygons.append([[(x + rng.choice([150, 300]), y) for x, y in r] for r in wobbly_polygon(rng, 1, 0.01)])
    xy, ring_off, poly_off = flat(*polygons)
    bad, overlap = polygon_problems(xy, ring_off, poly_off)
    each_valid, whole_valid = geos_valid(xy, ring_off, poly_off)
    assert not (~bad & ~each_valid).any()  # never passes an invalid polygon
    if not bad.any() and not overlap:
        assert whole_valid
    if each_valid.all() and whole_valid:  # and valid ones pass (no touching at points here)
        assert not bad.any() and not overlap


def test_real_isoline_rings_agree_with_geos(lds_core):
    from lds.isolines import isolines

    checked = 0
    for origin in [(7.4197, 43.7311), (7.4270, 43.7400), (7.4160, 43.7290)]:
        for mode, ranges in (("car", [300, 600]), ("walk", [600])):
            for iso in isolines(lds_core.graph(mode), origin, ranges, "time", lds_core.settings):
                geom = shapely.geometry.shape(iso.geom)
                xy, ring_off, poly_off = _oriented_rings(geom)
                bad, overlap = polygon_problems(xy, ring_off, poly_off)
                assert geom.is_valid and not bad.any() and not overlap
                checked += 1
    assert checked == 9


def test_empty_input():
    bad, overlap = polygon_problems(np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
    assert len(bad) == 0 and not overlap


@pytest.mark.parametrize("ring_off, poly_off", [([0, 3], [0, 1]), ([0, 5], [0, 2]), ([1, 5], [0, 1]),
                                                ([0, 5, 4, 5], [0, 3]), ([0, 5], [0, 0, 1])])
def test_offsets_that_do_not_fit_are_refused(ring_off, poly_off):
    xy = np.asarray(square(0, 0, 1), dtype=float)
    with pytest.raises(ValueError):
        polygon_problems(xy, np.asarray(ring_off, dtype=np.int64), np.asarray(poly_off, dtype=np.int64))
