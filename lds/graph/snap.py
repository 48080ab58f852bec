"""Snapping a point to the nearest routable edge of a mode's graph (not just the nearest node).

Edge segments are bucketed in a sparse lon/lat grid (cells of about ``CELL_M`` metres, only non-empty ones
stored, so any extract works, even one spanning continents); a query scans rings of cells around the point in
compiled code and projects onto each segment in a local metric frame, exactly. Edges inside the largest strongly
connected component win when one is within the radius, the way OSRM prefers big components, so a point next to a
private parking lot still gets a route. For the car that component is taken on the turn-expanded graph, so turn
restrictions that cut an edge off (as OSRM's components do) count too.

The grid is written at build time (``snap_*.npy``, see :func:`build_grid`) and memory-mapped; a graph without
it gets one built on first use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lds.errors import OutOfCoverage
from lds.geo import haversine_m

CELL_M = 100.0  # grid cell size (latitude direction); a few segments per cell in a city

@dataclass(frozen=True)
class Snap:
    """A point on an edge: ``fraction`` of the edge's length from its source."""

    edge: int
    fraction: float
    lon: float
    lat: float
    distance_m: float
    query: tuple[float, float]
    allowed: tuple[int, ...] | None = None  # directed edges a route may leave or reach it by (None: both ways)


# Segments per chunk of the grid's build: its per-piece temporaries (~200 bytes a piece) stay ~200 MB however large
# the graph (all at once they were 1.4 GB of the 5M-node country's walking graph, most of its hierarchy stage's peak).
GRID_CHUNK_SEGMENTS = 1 << 20


def build_grid(arrays, in_largest: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The snapping grid of a graph's arrays: one entry per (cell, segment) for every segment of one edge of each
    twin pair, long segments cut into cell-sized pieces so each touches at most four cells."""
    rev = np.asarray(arrays["edge_rev"])
    n_edges = len(rev)
    keep = np.flatnonzero((rev < 0) | (np.arange(n_edges) < rev))
    off = np.asarray(arrays["edge_geom_off"])
    lon, lat = np.asarray(arrays["geom_lon"]), np.asarray(arrays["geom_lat"])
    n_seg = off[keep + 1] - off[keep] - 1
    first = np.cumsum(n_seg) - n_seg
    seg_a = np.repeat(off[keep] - first, n_seg) + np.arange(n_seg.sum())
    seg_edge = np.repeat(keep, n_seg).astype(np.int32)
    seg_len = np.empty(len(seg_a), dtype=np.float64)
    for lo in range(0, len(seg_a), GRID_CHUNK_SEGMENTS):
        a = seg_a[lo:lo + GRID_CHUNK_SEGMENTS]
        seg_len[lo:lo + len(a)] = haversine_m(lon[a], lat[a], lon[a + 1], lat[a + 1])
    start = np.cumsum(seg_len)
    start -= seg_len  # each segment's distance from the first segment's start, then from its edge's start
    has = n_seg > 0
    start -= np.repeat(start[first[has]], n_seg[has])
    seg_off = start.astype(np.float32)
    del start
    edge_len = np.zeros(n_edges, dtype=np.float64)
    np.add.at(edge_len, seg_edge, seg_len)

    mid_lat = float(np.median(lat)) if len(lat) else 0.0
    dlat = math.degrees(CELL_M / 6_371_008.8)
    dlon = dlat / max(math.cos(math.radians(mid_lat)), 0.01)
    keys, segs = [np.zeros(0, np.int64)], [np.zeros(0, np.int32)]
    for lo in range(0, len(seg_a), GRID_CHUNK_SEGMENTS):
        k, s = _cells(lon, lat, seg_a[lo:lo + GRID_CHUNK_SEGMENTS], dlon, dlat)
        keys.append(k)
        segs.append(s + np.int32(lo))
    keys, segs = np.concatenate(keys), np.concatenate(segs)
    # segments come in increasing order, so a stable sort by cell leaves each cell's segments in order, and a
    # segment's repeats in a cell (its pieces there) side by side
    order = np.argsort(keys, kind="stable")
    keys, segs = keys[order], segs[order]
    del order
    fresh = np.ones(len(keys), dtype=bool)
    fresh[1:] = (keys[1:] != keys[:-1]) | (segs[1:] != segs[:-1])
    keys, segs = keys[fresh], segs[fresh]
    del fresh
    cell_keys, starts = np.unique(keys, return_index=True)
    if in_largest is None:
        scc = np.asarray(arrays["node_scc"])
        big = int(np.asarray(arrays["largest_scc"])[0])
        src, dst = np.asarray(arrays["edge_src"]), np.asarray(arrays["edge_dst"])
        in_largest = (scc[src] == big) & (scc[dst] == big)
    in_largest = np.asarray(in_largest, dtype=bool).copy()
    twin = keep[rev[keep] >= 0]
    in_largest[twin] |= in_largest[rev[twin]]  # a road is in when either direction is
    return {
        "snap_grid": np.array([dlon, dlat], dtype=np.float64),
        "snap_cell_keys": cell_keys.astype(np.int64),
        "snap_cell_off": np.append(starts, len(keys)).astype(np.int64),
        "snap_cell_seg": segs,
        "snap_seg_edge": seg_edge,
        "snap_seg_a": seg_a.astype(np.int64),
        "snap_seg_off": seg_off,
        "snap_seg_len": seg_len.astype(np.float32),
        "snap_edge_len": edge_len.astype(np.float32),
        "snap_in_largest": in_largest.astype(np.uint8),
    }


def _cells(lon: np.ndarray, lat: np.ndarray, seg_a: np.ndarray, dlon: float, dlat: float) -> tuple[np.ndarray, ...]:
    """The cells (keys) the segments starting at geometry points ``seg_a`` touch, and each one's segment (index in
    ``seg_a``), segment by segment in order: each segment cut into pieces of at most a cell, each piece's bounding
    box corners' cells (a corner repeating another's cell left out)."""
    lon0, lat0, lon1, lat1 = lon[seg_a], lat[seg_a], lon[seg_a + 1], lat[seg_a + 1]
    span = np.maximum(np.abs(lon1 - lon0) / dlon, np.abs(lat1 - lat0) / dlat)
    pieces = np.maximum(1, np.ceil(span)).astype(np.int64)
    rep = np.repeat(np.arange(len(seg_a)), pieces)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    t0, t1 = k / pieces[rep], (k + 1) / pieces[rep]
    px0, px1 = lon0[rep] + (lon1 - lon0)[rep] * t0, lon0[rep] + (lon1 - lon0)[rep] * t1
    py0, py1 = lat0[rep] + (lat1 - lat0)[rep] * t0, lat0[rep] + (lat1 - lat0)[rep] * t1
    ix0 = np.floor((np.minimum(px0, px1) + 180.0) / dlon).astype(np.int64)
    ix1 = np.floor((np.maximum(px0, px1) + 180.0) / dlon).astype(np.int64)
    iy0 = np.floor((np.minimum(py0, py1) + 90.0) / dlat).astype(np.int64)
    iy1 = np.floor((np.maximum(py0, py1) + 90.0) / dlat).astype(np.int64)
    corners = np.stack([(ix0 << 32) | iy0, (ix1 << 32) | iy0, (ix0 << 32) | iy1, (ix1 << 32) | iy1], axis=1)
    wide, tall = ix1 != ix0, iy1 != iy0
    distinct = np.stack([np.ones(len(rep), dtype=bool), wide, tall, wide & tall], axis=1)
    return corners[distinct], np.repeat(rep.astype(np.int32), 4)[distinct.ravel()]


class Snapper:
    """Nearest-edge queries on one graph (thread-safe: queries share nothing mutable)."""

    def __init__(self, graph):
        self.graph = graph
        arrays = graph.arrays
        grid = {k: arrays[k] for k in arrays if k.startswith("snap_")}
        if "snap_cell_keys" not in grid:
            grid = build_grid(arrays)
        self._dlon, self._dlat = (float(x) for x in grid["snap_grid"])
        self._args = tuple(np.ascontiguousarray(grid[k]) for k in (
            "snap_cell_keys", "snap_cell_off", "snap_cell_seg", "snap_seg_edge", "snap_seg_a", "snap_seg_off",
            "snap_seg_len", "snap_edge_len", "snap_in_largest"))
        self._geom = (np.ascontiguousarray(graph.geom_lon, dtype=np.float64),
                      np.ascontiguousarray(graph.geom_lat, dtype=np.float64))
        self.in_largest = np.asarray(grid["snap_in_largest"]).astype(bool)

    def edges_in(self, lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> np.ndarray:
        """Every edge with a segment in the grid cells the box touches (one edge of each twin pair, each once): a
        superset of the roads in the box."""
        from lds.graph.search import expand_ranges

        keys, cell_off, cell_seg, seg_edge = self._args[:4]
        ix = np.arange(math.floor((lon_min + 180.0) / self._dlon), math.floor((lon_max + 180.0) / self._dlon) + 1,
                       dtype=np.int64)
        iy0, iy1 = math.floor((lat_min + 90.0) / self._dlat), math.floor((lat_max + 90.0) / self._dlat)
        lo = np.searchsorted(keys, (ix << 32) | iy0)
        hi = np.searchsorted(keys, (ix << 32) | iy1, side="right")
        cells = expand_ranges(lo, hi - lo)
        return np.unique(seg_edge[cell_seg[expand_ranges(cell_off[cells], cell_off[cells + 1] - cell_off[cells])]])

    def snap_many_to_network(self, lon: np.ndarray, lat: np.ndarray, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
        """For many points, where :meth:`snap` puts each when that is the largest component: ``(edge, fraction)``
        arrays, edge -1 where no edge of it is within ``radius_m`` (one call for a region's points)."""
        from lds.graph._snap import nearest_on_network

        return nearest_on_network(np.ascontiguousarray(lon, dtype=np.float64),
                                  np.ascontiguousarray(lat, dtype=np.float64), float(radius_m), self._dlon,
                                  self._dlat, *self._args, *self._geom)

    def snap(self, lon: float, lat: float, radius_m: float) -> Snap:
        """The nearest edge within ``radius_m``, preferring the largest component; else OutOfCoverage."""
        from lds.graph._snap import nearest

        best, big = nearest(lon, lat, radius_m, self._dlon, self._dlat, *self._args, *self._geom)
        hit = big if big is not None else best
        if hit is None:
            raise OutOfCoverage(f"point ({lon:.6f}, {lat:.6f}) is farther than {radius_m:g} m from any "
                                f"{self.graph.mode} road in the data")
        e, frac, s_lon, s_lat, dist = hit
        return Snap(int(e), float(frac), float(s_lon), float(s_lat), float(dist), (lon, lat))
