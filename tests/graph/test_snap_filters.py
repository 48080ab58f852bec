"""Snapping under OSRM's conditions (lds/graph/snap_filters.py) on the real Monaco build: bearings pick the road and
direction of travel, approaches=curb departs and arrives with the point on the right, several nearest roads."""

from __future__ import annotations

import numpy as np
import pytest

from lds.errors import NotFound, OutOfCoverage
from lds.geo import haversine_m
from lds.graph.snap_filters import candidates, nearest_roads, snap_with
from lds.routing import route

RNG = np.random.default_rng(15)
POINTS = [(float(x), float(y)) for x, y in zip(RNG.uniform(7.415, 7.435, 60), RNG.uniform(43.728, 43.748, 60))]
DEST = (7.4216, 43.7370)


def _diff(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def _bearing(a, b) -> float:
    """Initial bearing from lon/lat ``a`` to ``b`` in a local flat frame (degrees from north)."""
    kx = np.cos(np.radians(a[1]))
    return float(np.degrees(np.arctan2((b[0] - a[0]) * kx, b[1] - a[1])) % 360)


def test_candidates_start_with_the_plain_snap_and_nearest_lists_several_roads(lds_core):
    graph = lds_core.graph("car")
    for lon, lat in POINTS[:10]:
        plain = graph.snapper.snap(lon, lat, 500)
        c = candidates(graph, lon, lat, 500)
        big = np.flatnonzero(graph.snapper.in_largest[c["edge"]])
        assert c["distance"][big[0]] == pytest.approx(plain.distance_m, abs=0.05)  # both prefer the big component
        assert (c["lon"][big[0]], c["lat"][big[0]]) == pytest.approx((plain.lon, plain.lat), abs=1e-6)  # ties: a node
        assert np.all(np.diff(c["distance"]) >= 0)
        roads = nearest_roads(graph, lon, lat, 500, 4)
        assert len(roads) == 4 and len({s.edge for s in roads}) == 4
        assert roads[0].distance_m <= plain.distance_m + 0.05
        assert [s.distance_m for s in roads] == sorted(s.distance_m for s in roads)


def _right_of(a, b, p) -> bool:
    """Whether ``p`` lies right of the direction ``a`` -> ``b`` (lon/lat, local flat frame)."""
    kx = np.cos(np.radians(a[1]))
    return (b[0] - a[0]) * kx * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) * kx < 0


def _mid_segments(graph, n: int):
    """Midpoints of ``n`` long road segments with the segment's bearing and whether the road is two-way."""
    v = graph.router.views
    off, lon, lat = v["edge_geom_off"], v["geom_lon"], v["geom_lat"]
    out = []
    for e in RNG.permutation(len(off) - 1):
        a = int(off[e])
        p, q = (float(lon[a]), float(lat[a])), (float(lon[a + 1]), float(lat[a + 1]))
        in_big = graph.snapper.in_largest[min(int(e), int(graph.router.rev[e]) if graph.router.rev[e] >= 0 else int(e))]
        if haversine_m(*p, *q) > 40 and in_big:
            out.append(((p[0] + q[0]) / 2, (p[1] + q[1]) / 2, _bearing(p, q), int(e), graph.router.rev[e] >= 0))
        if len(out) == n:
            return out
    return out


def test_a_bearing_sets_the_direction_of_departure(lds_core):
    graph, s = lds_core.graph("car"), lds_core.settings
    checked = 0
    for lon, lat, heading, edge, two_way in _mid_segments(graph, 40):
        for want in (heading, (heading + 180) % 360):
            try:
                r = route(graph, [(lon, lat), DEST], s, {"bearings": [(round(want), 20), None], "approaches": None})
            except (OutOfCoverage, NotFound):
                continue  # no road near this point goes that way, or that way is a dead end (restrictions)
            if r.waypoints[0].snap.distance_m > 1:
                continue  # the road there goes the other way only: snapped onto another road
            line = r.coordinates()
            ahead = next(c for c in line[1:] if np.abs(c - line[0]).max() > 1e-7)  # the first segment travelled
            assert _diff(_bearing(line[0], ahead), want) <= 21, (lon, lat, want, line[0], ahead)
            checked += want == heading or two_way
    assert checked >= 30


def test_no_road_in_the_bearing_is_out_of_coverage(lds_core):
    graph = lds_core.graph("car")
    lon, lat = POINTS[0]
    with pytest.raises(OutOfCoverage):
        snap_with(graph, lon, lat, 1.0, (0, 10))


@pytest.mark.parametrize("approach,side", [("curb", "right"), ("opposite", "left")])
def test_curb_departs_and_arrives_on_the_driving_side(lds_core, approach, side):
    """Points 6 m beside two-way roads, on either side: curb leaves and reaches them with the point on the right."""
    graph, s = lds_core.graph("car"), lds_core.settings
    checked = 0
    for lon, lat, heading, _, two_way in _mid_segments(graph, 60):
        if not two_way:
            continue
        for offset in (90, -90):  # right of the segment's direction, then left
            b = np.radians(heading + offset)
            p = (lon + 6 * np.sin(b) / (111_195 * np.cos(np.radians(lat))), lat + 6 * np.cos(b) / 111_195)
            try:
                out = route(graph, [p, DEST], s, {"bearings": None, "approaches": [approach, None]})
                back = route(graph, [DEST, p], s, {"bearings": None, "approaches": [None, approach]})
            except NotFound:
                continue  # that direction is a dead end (restrictions)
            if abs(out.waypoints[0].snap.distance_m - 6) > 0.5:
                continue  # another road is nearer
            line = out.coordinates()
            ahead = next(c for c in line[1:] if np.abs(c - line[0]).max() > 1e-7)  # the first segment travelled
            assert _right_of(line[0], ahead, p) == (side == "right"), (p, line[:3])
            line = back.coordinates()
            behind = next(c for c in line[-2::-1] if np.abs(c - line[-1]).max() > 1e-7)  # the last one travelled
            assert _right_of(behind, line[-1], p) == (side == "right"), (p, line[-3:])
            checked += 1
    assert checked >= 10
