"""H3 isolines: per range, the H3 cells whose centres a trip reaches, with the travel cost to each centre.

The search is the polygon isolines' (:func:`lds.graph.search.bounded_search`, one per request, stopped at the
largest range); only the drawing differs. A cell centre takes the cost of its nearest road within the
off-road distance (``isoline_offroad_m``), at the point of that road nearest the centre: the place where the
trip leaves the road. That is the rule the polygons draw (:mod:`lds.isoline_shape`), so a centre inside the
polygon of range r is, up to the polygon's raster and simplification, a cell of range r: a centre farther than
the off-road distance from every road is not reached, nor one nearer a road the trip does not reach within the
largest range. The off-road leg itself is not costed, as in the polygons (it is a catchment, not a walk).

Method (no Python loop over nodes or edges; one over the candidate cells, for their centres):

1. the roads around the reach (reached edges from the search's CSR rows, the others in the box from the
   snapping grid, a two-way road once) are sampled every few metres along their geometry; a sample's cost is
   the cheaper of its two directions (reached end's cost plus the edge's weight to that point), or of the
   partial edges the search started on, and +inf where it is not reached within the largest range;
2. the candidate cells are those with a centre in the reached samples' box grown by the off-road distance
   (``h3.polygon_to_cells``), at most ``h3_isoline_max_cells``;
3. a KD-tree of the samples (Earth-centred 3D, :func:`lds.geo.ecef`) gives each centre its nearest sample
   within the off-road distance; cells of cost <= r form range r, so the ranges nest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import h3
import numpy as np
from h3.api import numpy_int as h3n
from scipy.spatial import cKDTree

from lds.errors import BadRequest
from lds.geo import EARTH_RADIUS_M, ecef, haversine_m
from lds.graph.search import Reach, expand_ranges, search_index
from lds.isolines import SNAP_DECIMALS, isoline_search

COST_DECIMALS = 1
SAMPLES_PER_EDGE_LENGTH = 4  # road samples per H3 cell edge: a road point's nearest sample is within 1/8 of an edge
MIN_SAMPLE_M = 2.0  # finest sample spacing, whatever isoline_cell_m (the polygons' raster cell, a floor) says
DEG_M = math.radians(1.0) * EARTH_RADIUS_M  # metres per degree of latitude


def h3_isolines(
    graph, origin: tuple[float, float], ranges: Sequence[float], range_type: str, resolution: int, settings: Any
) -> list[dict[str, Any]]:
    """One ``{"range", "range_type", "mode", "resolution", "cells", "location", "snap_distance"}`` per range (in the
    order given); ``cells`` lists ``{"h3": id, "cost": s or m}`` cheapest first, each range's a superset of every
    shorter one's. Raises OutOfCoverage when the origin is farther than ``snap_radius_m`` from the mode's roads,
    BadRequest when the reach holds more than ``h3_isoline_max_cells`` cells at ``resolution``."""
    ranges, snap, reach = isoline_search(graph, origin, ranges, range_type, settings)
    offroad = max(0.0, settings.isoline_offroad_m)
    spacing = max(
        MIN_SAMPLE_M, settings.isoline_cell_m, h3.average_hexagon_edge_length(resolution, "m") / SAMPLES_PER_EDGE_LENGTH
    )
    lon, lat, cost = road_samples(graph, reach, spacing, offroad)
    cells, centre_cost = cell_costs(lon, lat, cost, resolution, offroad, settings.h3_isoline_max_cells)
    order = np.lexsort((cells, centre_cost))
    cells, centre_cost = cells[order], np.round(centre_cost[order], COST_DECIMALS)
    ids = [h3n.int_to_str(int(c)) for c in cells]  # per reached cell: the answer's own size
    location = [round(snap.lon, SNAP_DECIMALS), round(snap.lat, SNAP_DECIMALS)]
    out = []
    for r in ranges:
        n = int(np.searchsorted(centre_cost, r, side="right"))
        out.append(
            {
                "range": int(r) if r.is_integer() else r,
                "range_type": range_type,
                "mode": graph.mode,
                "resolution": resolution,
                "cells": [{"h3": i, "cost": c} for i, c in zip(ids[:n], centre_cost[:n].tolist(), strict=True)],
                "location": location,
                "snap_distance": round(snap.distance_m, 1),
            }
        )
    return out


def road_samples(graph, reach: Reach, spacing: float, offroad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``spacing`` metres (or closer) along the roads that matter to the reach: lon, lat and the
    cost there (+inf where the largest range does not reach)."""
    index = search_index(graph)
    rev = np.asarray(graph.edge_rev)
    node_cost = np.full(graph.n_nodes, np.inf)
    node_cost[reach.nodes] = reach.cost
    starts = np.array([e for e, _, _ in reach.starts], dtype=np.int64)
    out_rows = expand_ranges(index.indptr[reach.nodes], np.diff(index.indptr)[reach.nodes])
    reached = np.concatenate([index.adj_edge[out_rows].astype(np.int64), starts])
    lon_n, lat_n = np.asarray(graph.node_lon), np.asarray(graph.node_lat)
    ends = np.concatenate([np.asarray(graph.edge_src)[starts], np.asarray(graph.edge_dst)[starts]])
    box_lon = np.concatenate([lon_n[reach.nodes], lon_n[ends]])
    box_lat = np.concatenate([lat_n[reach.nodes], lat_n[ends]])
    # claims: every snapping road within twice the off-road distance of the reached area (one centre's reach
    # from the area's edge), plus a sample spacing for the grid's coarseness
    grow = 2 * offroad + spacing
    dlat = grow / DEG_M
    dlon = dlat / max(0.01, math.cos(math.radians(float(np.mean(box_lat)))))
    nearby = graph.snapper.edges_in(
        box_lon.min() - dlon, box_lat.min() - dlat, box_lon.max() + dlon, box_lat.max() + dlat
    ).astype(np.int64)
    in_largest = graph.snapper.in_largest
    nearby = nearby[in_largest[nearby] | ((rev[nearby] >= 0) & in_largest[np.maximum(rev[nearby], 0)])]
    edges = np.unique(_canonical(np.concatenate([reached, nearby]), rev))
    lon, lat, edge, frac = _along(graph, edges, spacing)
    cost = _sample_costs(graph, index.edge_weight[reach.weight], node_cost, reach, rev, edge, frac)
    return lon, lat, cost


def _canonical(edges: np.ndarray, rev: np.ndarray) -> np.ndarray:
    """The lower id of each two-way pair, so a road is sampled once (the edge itself where one-way)."""
    twin = rev[edges]
    return np.where((twin >= 0) & (twin < edges), twin, edges)


def _along(graph, edges: np.ndarray, spacing: float) -> tuple[np.ndarray, ...]:
    """Samples along ``edges``' geometries, every segment cut into pieces of at most ``spacing`` (both ends kept):
    lon, lat, the sample's edge and its fraction of the edge's length from the edge's start."""
    off = np.asarray(graph.edge_geom_off)
    glon, glat = np.asarray(graph.geom_lon, dtype=np.float64), np.asarray(graph.geom_lat, dtype=np.float64)
    nseg = (off[edges + 1] - off[edges] - 1).astype(np.int64)
    seg_a = expand_ranges(off[edges], nseg)
    seg_edge = np.repeat(np.arange(len(edges)), nseg)
    seg_len = haversine_m(glon[seg_a], glat[seg_a], glon[seg_a + 1], glat[seg_a + 1])
    cum = np.cumsum(seg_len)
    first_seg = np.cumsum(nseg) - nseg  # each edge's first segment in the concatenation
    before = cum - seg_len - np.repeat((cum - seg_len)[np.minimum(first_seg, max(len(cum) - 1, 0))], nseg)
    edge_len = np.bincount(seg_edge, weights=seg_len, minlength=len(edges))
    pieces = np.maximum(1, np.ceil(seg_len / spacing)).astype(np.int64)
    seg = np.repeat(np.arange(len(seg_a)), pieces + 1)
    t = expand_ranges(np.zeros(len(seg_a), dtype=np.int64), pieces + 1) / pieces[seg]
    a = seg_a[seg]
    lon = glon[a] + t * (glon[a + 1] - glon[a])
    lat = glat[a] + t * (glat[a + 1] - glat[a])
    length = edge_len[seg_edge[seg]]
    frac = np.divide(before[seg] + t * seg_len[seg], length, out=np.zeros(len(seg)), where=length > 0)
    return lon, lat, edges[seg_edge[seg]], np.clip(frac, 0.0, 1.0)


def _sample_costs(
    graph, weight: np.ndarray, node_cost: np.ndarray, reach: Reach, rev: np.ndarray, edge: np.ndarray, frac: np.ndarray
) -> np.ndarray:
    """Cost at each sample (``frac`` of the way along canonical ``edge``): the cheaper direction of the road,
    from its reached end or from the partial edges the search started on; +inf beyond the search's limit."""
    src = np.asarray(graph.edge_src)
    cost = node_cost[src[edge]] + frac * weight[edge]
    twin = rev[edge]
    has = twin >= 0
    back = np.full(len(edge), np.inf)
    back[has] = node_cost[src[twin[has]]] + (1.0 - frac[has]) * weight[twin[has]]
    cost = np.minimum(cost, back)
    for start, fraction, base in reach.starts:  # the partial edges the search started on, onwards
        on = edge == start
        along = frac
        if not on.any():
            on, along = twin == start, 1.0 - frac
        ahead = on & (along >= fraction)
        cost[ahead] = np.minimum(cost[ahead], base + (along[ahead] - fraction) * float(weight[start]))
    cost[cost > reach.limit] = np.inf
    return cost


def cell_costs(
    lon: np.ndarray, lat: np.ndarray, cost: np.ndarray, resolution: int, offroad: float, max_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    """The reached H3 cells (uint64 ids) with the cost at each centre: the cost of the nearest road sample within
    ``offroad`` metres of it, where that sample is reached."""
    ok = np.isfinite(cost)
    if not ok.any():
        return np.zeros(0, dtype=np.uint64), np.zeros(0)
    lat0 = float(np.mean(lat[ok]))
    dlat = (offroad + 1.0) / DEG_M
    dlon = dlat / max(0.01, math.cos(math.radians(lat0)))
    w, s, e, n = lon[ok].min() - dlon, lat[ok].min() - dlat, lon[ok].max() + dlon, lat[ok].max() + dlat
    area = haversine_m(w, lat0, e, lat0) * haversine_m(w, s, w, n)
    estimate = area / h3.average_hexagon_area(resolution, "m^2")
    if estimate > max_cells:
        raise BadRequest(
            f"the reach spans about {int(estimate)} H3 cells at resolution {resolution}, more than "
            f"{max_cells} (h3_isoline_max_cells): ask a coarser resolution or a shorter range"
        )
    cells = h3n.polygon_to_cells(h3.LatLngPoly([(s, w), (s, e), (n, e), (n, w)]), resolution)
    if len(cells) == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0)
    centres = np.array([h3n.cell_to_latlng(c) for c in cells])  # per cell: h3 has no vectorised centre
    tree = cKDTree(ecef(lon, lat))
    dist, nearest = tree.query(ecef(centres[:, 1], centres[:, 0]), k=1, distance_upper_bound=offroad)
    found = np.isfinite(dist)
    centre_cost = np.full(len(cells), np.inf)
    centre_cost[found] = cost[nearest[found]]
    keep = np.isfinite(centre_cost)
    return np.asarray(cells)[keep], centre_cost[keep]
