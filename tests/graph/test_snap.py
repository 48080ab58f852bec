"""Snapping: the nearest point on the nearest edge (not node), within a radius, preferring the largest strongly
connected component."""

from __future__ import annotations

import numpy as np
import pytest

from lds.errors import OutOfCoverage
from lds.geo import haversine_m, local_xy


def _segments(g):
    off = np.asarray(g.edge_geom_off)
    n = np.diff(off) - 1
    a = np.repeat(off[:-1], n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    return np.repeat(np.arange(g.n_edges), n), a


def _brute(g, lon, lat):
    """Distance (m) from a point to every edge, by projecting on every geometry segment."""
    edge, a = _segments(g)
    ax, ay = local_xy(g.geom_lon[a], g.geom_lat[a], lon, lat)
    bx, by = local_xy(g.geom_lon[a + 1], g.geom_lat[a + 1], lon, lat)
    dx, dy = bx - ax, by - ay
    t = np.clip(-(ax * dx + ay * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1)
    d = np.hypot(ax + t * dx, ay + t * dy)
    out = np.full(g.n_edges, np.inf)
    np.minimum.at(out, edge, d)
    return out


def _in_largest(g, e):
    scc = np.asarray(g.node_scc)
    return scc[g.edge_src[e]] == g.largest_scc and scc[g.edge_dst[e]] == g.largest_scc


def test_snaps_to_the_nearest_edge_not_node(car):
    edge, a = _segments(car)
    seg = haversine_m(car.geom_lon[a], car.geom_lat[a], car.geom_lon[a + 1], car.geom_lat[a + 1])
    found = 0
    for j in np.flatnonzero(seg > 80):
        e, i = int(edge[j]), a[j]
        if not _in_largest(car, e):
            continue
        lon, lat = car.geom_lon[i:i + 2], car.geom_lat[i:i + 2]
        mid_lon, mid_lat = (lon[0] + lon[1]) / 2, (lat[0] + lat[1]) / 2
        dx, dy = local_xy(lon[1], lat[1], lon[0], lat[0])
        norm = np.hypot(dx, dy)
        for side in (1, -1):  # 12 m to either side of the middle of a long straight piece
            k = side * 12.0 / 111_195.0
            p = (mid_lon - dy / norm * k / np.cos(np.radians(mid_lat)), mid_lat + dx / norm * k)
            brute = _brute(car, *p)
            nodes = haversine_m(car.node_lon, car.node_lat, *p)
            if int(np.argmin(brute)) not in (e, int(car.edge_rev[e])) or nodes.min() < 30:
                continue
            snap = car.snapper.snap(*p, 500)
            assert snap.edge in (e, int(car.edge_rev[e]))
            assert snap.distance_m == pytest.approx(brute.min(), abs=0.5)
            assert snap.distance_m < 12.5 < nodes.min()
            assert 0 < snap.fraction < 1
            found += 1
    assert found >= 3


def test_matches_brute_force_and_fraction_locates_the_point(car, walk):
    rng = np.random.default_rng(11)
    for g in (car, walk):
        lon0, lat0 = np.asarray(g.node_lon), np.asarray(g.node_lat)
        for i in rng.integers(len(lon0), size=40):
            p = (lon0[i] + rng.normal(0, 3e-4), lat0[i] + rng.normal(0, 3e-4))
            snap = g.snapper.snap(*p, 2000)
            brute = _brute(g, *p)
            best = int(np.argmin(brute))
            if _in_largest(g, best):  # then nothing can beat the nearest edge
                assert snap.distance_m == pytest.approx(brute[best], abs=1.0)
            assert snap.distance_m == pytest.approx(brute[snap.edge], abs=0.01)
            # the fraction is the snapped point's position along the edge's geometry
            lon, lat = g.edge_coords(snap.edge)
            x, y = local_xy(lon, lat, snap.lon, snap.lat)
            seg = np.hypot(np.diff(x), np.diff(y))
            cum = np.concatenate([[0], np.cumsum(seg)])
            at = snap.fraction * cum[-1]
            j = min(np.searchsorted(cum, at, side="right") - 1, len(seg) - 1)
            t = (at - cum[j]) / seg[j] if seg[j] > 0 else 0
            assert np.hypot(x[j] + t * (x[j + 1] - x[j]), y[j] + t * (y[j + 1] - y[j])) < 0.5


def test_radius_and_out_of_coverage(car):
    sea = (7.4300, 43.7150)  # the Mediterranean, kilometres off Monaco's roads
    with pytest.raises(OutOfCoverage) as err:
        car.snapper.snap(*sea, 500)
    assert "500 m" in err.value.message and err.value.status == 422
    far = car.snapper.snap(*sea, 50_000)
    assert 500 < far.distance_m < 50_000
    near = car.snapper.snap(float(car.node_lon[0]), float(car.node_lat[0]), 1.0)
    assert near.distance_m < 1.0


def test_prefers_the_largest_component(car):
    scc = np.asarray(car.node_scc)
    small = np.flatnonzero((scc[car.edge_src] != car.largest_scc) & (scc[car.edge_dst] != car.largest_scc))
    tried = 0
    for e in small:
        lon, lat = car.edge_coords(e)
        p = (float(lon[len(lon) // 2]), float(lat[len(lat) // 2]))  # a vertex of the small edge
        brute = _brute(car, *p)
        big = [i for i in np.argsort(brute)[:50] if _in_largest(car, i)]
        if not big or not 5 < brute[big[0]] < 150:
            continue
        tried += 1
        chosen = car.snapper.snap(*p, 300)
        assert _in_largest(car, chosen.edge)
        assert chosen.distance_m == pytest.approx(brute[big[0]], abs=1.0)
        own = car.snapper.snap(*p, brute[big[0]] / 2)  # the big component is out of reach: take what is there
        assert not _in_largest(car, own.edge) and own.distance_m < 1.0
        if tried >= 5:
            break
    assert tried >= 1


def test_grid_is_built_when_the_data_has_none(tmp_path):
    """Graphs written without the build-time snapping grid still snap (the grid is made on first use)."""
    from lds.build.roads import write_graph
    from lds.graph.store import RoadGraph
    from lds.graph.synthetic import grid_graph

    write_graph(grid_graph(5, 5, spacing_m=100), tmp_path / "g")
    g = RoadGraph.load(tmp_path / "g", "car")
    lon, lat = float(g.node_lon[12]), float(g.node_lat[12])  # the centre crossing
    snap = g.snapper.snap(lon + 0.0002, lat, 100)  # ~15 m east, on the row street
    assert snap.distance_m < 0.5 and g.edge_way[snap.edge] == 3  # way 3 = Row 2
    with pytest.raises(OutOfCoverage):
        g.snapper.snap(lon, lat + 0.05, 100)
