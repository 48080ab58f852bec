"""The representative point of the ways the address index reads (osmread.way_points): computed for a chunk of ways
at once, each must be what GEOS gives for that way alone: a valid building's centroid, its point on surface when
the centroid falls outside (an L or U shape), the middle of the line for open, self-crossing or flat rings, and a
lone point as itself."""

from __future__ import annotations

import numpy as np
import shapely

from lds.geocoding.osmread import way_points


def _one(pts: list[tuple[float, float]], closed: bool) -> tuple[float, float]:
    """The point of one way, by scalar GEOS calls."""
    if len(pts) == 1:
        return pts[0]
    if closed and len(pts) >= 4:
        poly = shapely.Polygon(pts)
        if poly.is_valid and poly.area > 0:
            c = poly.centroid
            if not poly.contains(c):
                c = poly.point_on_surface()
            return c.x, c.y
    p = shapely.LineString(pts).interpolate(0.5, normalized=True)
    return p.x, p.y


def _ways(rng: np.random.Generator) -> tuple[list[list[tuple[float, float]]], list[bool]]:
    ways, closed = [], []
    for k in range(600):
        x, y = rng.uniform(7.4, 7.45), rng.uniform(43.7, 43.75)
        w, h = rng.uniform(1e-5, 5e-4, 2)
        kind = k % 6
        if kind == 0:  # a house
            ring = [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)]
        elif kind == 1:  # a U whose centroid lies in the courtyard
            ring = [(x, y), (x + 3 * w, y), (x + 3 * w, y + 3 * h), (x + 2 * w, y + 3 * h), (x + 2 * w, y + h),
                    (x + w, y + h), (x + w, y + 3 * h), (x, y + 3 * h), (x, y)]
        elif kind == 2:  # a bow tie: not a valid polygon
            ring = [(x, y), (x + w, y + h), (x + w, y), (x, y + h), (x, y)]
        elif kind == 3:  # flat: three points on a line, closed
            ring = [(x, y), (x + w, y), (x + 2 * w, y), (x, y)]
        elif kind == 4:  # an open line of a few vertices
            ring = [(x + i * w, y + (i % 2) * h) for i in range(int(rng.integers(2, 7)))]
        else:  # a lone point (the rest of the way outside a cut extract)
            ring = [(x, y)]
        ways.append(ring)
        closed.append(kind in (0, 1, 2, 3) and rng.random() < 0.9)  # some rings lost a node: read as lines
    return ways, closed


def test_way_points_are_each_way_s_own_point() -> None:
    ways, closed = _ways(np.random.default_rng(5))
    got = way_points(ways, np.array(closed))
    want = np.array([_one(w, c) for w, c in zip(ways, closed)])
    assert np.array_equal(got, want)  # bit for bit: the same GEOS operations
    # every case was drawn: a U's point on surface differs from its centroid, a bow tie's point is its line's middle
    u = next(k for k in range(1, 600, 6) if closed[k])
    assert tuple(got[u]) != (shapely.Polygon(ways[u]).centroid.x, shapely.Polygon(ways[u]).centroid.y)
    assert shapely.Polygon(ways[u]).contains(shapely.Point(got[u]))
