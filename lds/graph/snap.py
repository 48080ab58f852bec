"""Snapping a point to the nearest routable edge of a mode's graph (not just the nearest node).

Candidate edges come from a KD-tree over points sampled along every edge on the unit sphere (so it
works for any extract, even one spanning continents); the exact distance and position along each
candidate polyline is then computed in a local metric projection around the query point.
Edges inside the largest strongly connected component win when one is within the radius, the way
OSRM prefers big components, so a point next to a private parking lot still gets a route.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from lds.errors import OutOfCoverage
from lds.geo import haversine_m, local_xy, to_unit_xyz

SAMPLE_SPACING_M = 10.0  # samples along edges; candidates are exact within this spacing
CANDIDATE_SAMPLES = 48


@dataclass(frozen=True)
class Snap:
    """A point on an edge: ``fraction`` of the edge's length from its source."""

    edge: int
    fraction: float
    lon: float
    lat: float
    distance_m: float
    query: tuple[float, float]


class Snapper:
    def __init__(self, graph):
        self.graph = graph
        g = graph
        n_edges = g.n_edges
        # One geometry per segment: twin edges share it.
        keep = np.flatnonzero((g.edge_rev < 0) | (np.arange(n_edges) < g.edge_rev))
        off = np.asarray(g.edge_geom_off)
        lon, lat = np.asarray(g.geom_lon), np.asarray(g.geom_lat)
        n_seg = off[keep + 1] - off[keep] - 1
        seg_a = np.repeat(off[keep], n_seg) + (np.arange(n_seg.sum()) - np.repeat(np.cumsum(n_seg) - n_seg, n_seg))
        seg_edge = np.repeat(keep, n_seg)
        seg_len = haversine_m(lon[seg_a], lat[seg_a], lon[seg_a + 1], lat[seg_a + 1])
        n_samples = np.maximum(1, np.ceil(seg_len / SAMPLE_SPACING_M).astype(np.int64))
        rep = np.repeat(np.arange(len(seg_a)), n_samples)
        t = (np.arange(len(rep)) - np.repeat(np.cumsum(n_samples) - n_samples, n_samples)) / n_samples[rep]
        a = seg_a[rep]
        s_lon = lon[a] + (lon[a + 1] - lon[a]) * t
        s_lat = lat[a] + (lat[a + 1] - lat[a]) * t
        # Close each edge with its last vertex too.
        last = off[keep + 1] - 1
        s_lon = np.concatenate([s_lon, lon[last]])
        s_lat = np.concatenate([s_lat, lat[last]])
        self.sample_edge = np.concatenate([seg_edge[rep], keep]).astype(np.int32)
        self.tree = cKDTree(to_unit_xyz(s_lon, s_lat))
        scc = np.asarray(g.node_scc)
        self.in_largest = (scc[g.edge_src] == g.largest_scc) & (scc[g.edge_dst] == g.largest_scc)

    def _project(self, edges: np.ndarray, lon: float, lat: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Distance (m), fraction along the edge, and snapped lon/lat for each candidate edge."""
        g = self.graph
        off = np.asarray(g.edge_geom_off)
        starts, ends = off[edges], off[edges + 1]
        counts = ends - starts - 1
        rep = np.repeat(np.arange(len(edges)), counts)
        a = np.repeat(starts, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        ax, ay = local_xy(g.geom_lon[a], g.geom_lat[a], lon, lat)
        bx, by = local_xy(g.geom_lon[a + 1], g.geom_lat[a + 1], lon, lat)
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        t = np.clip(np.where(seg2 > 0, -(ax * dx + ay * dy) / np.where(seg2 > 0, seg2, 1), 0.0), 0.0, 1.0)
        px, py = ax + t * dx, ay + t * dy
        dist = np.hypot(px, py)
        seg_len = np.sqrt(seg2)
        best_seg = np.full(len(edges), -1)
        order = np.lexsort((dist, rep))
        first = np.ones(len(order), bool)
        first[1:] = rep[order][1:] != rep[order][:-1]
        best_seg[rep[order][first]] = order[first]
        # Position along the edge: length before the best segment + t * its length.
        cum = np.cumsum(seg_len) - seg_len
        edge_start_cum = cum[np.cumsum(counts) - counts]
        total = np.add.reduceat(seg_len, np.cumsum(counts) - counts) if len(seg_len) else np.zeros(0)
        along = cum[best_seg] - edge_start_cum + t[best_seg] * seg_len[best_seg]
        fraction = np.where(total > 0, along / np.where(total > 0, total, 1), 0.0)
        i = best_seg
        s_lon = g.geom_lon[a[i]] + (g.geom_lon[a[i] + 1] - g.geom_lon[a[i]]) * t[i]
        s_lat = g.geom_lat[a[i]] + (g.geom_lat[a[i] + 1] - g.geom_lat[a[i]]) * t[i]
        return dist[i], np.clip(fraction, 0.0, 1.0), s_lon, s_lat

    def snap(self, lon: float, lat: float, radius_m: float) -> Snap:
        """The nearest edge within ``radius_m``, preferring the largest component; else OutOfCoverage."""
        xyz = to_unit_xyz([lon], [lat])[0]
        k = min(CANDIDATE_SAMPLES, len(self.sample_edge))
        for kk in (k, min(len(self.sample_edge), 16 * k)):
            _, idx = self.tree.query(xyz, k=kk)
            edges = np.unique(self.sample_edge[np.atleast_1d(idx)])
            dist, frac, s_lon, s_lat = self._project(edges, lon, lat)
            ok = dist <= radius_m
            if not ok.any():
                break
            big = ok & self.in_largest[edges]
            if big.any():
                ok = big
            elif kk == k and kk < len(self.sample_edge):
                continue  # look wider for an edge of the largest component before settling
            j = np.flatnonzero(ok)[np.argmin(dist[ok])]
            return Snap(int(edges[j]), float(frac[j]), float(s_lon[j]), float(s_lat[j]), float(dist[j]), (lon, lat))
        raise OutOfCoverage(
            f"point ({lon:.6f}, {lat:.6f}) is farther than {radius_m:g} m from any {self.graph.mode} road in the data"
        )
