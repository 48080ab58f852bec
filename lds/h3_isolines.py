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
   within the off-road distance; a centre no road of the network has that near takes, as in the polygons, the cost
   of its nearest walked footway from a parked car (car, :mod:`lds.isoline_walk`) or of its nearest point of a road
   cut off from the network (a reached one's own, or that of the network road it snaps to); cells of cost <= r
   form range r, so the ranges nest.
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
from lds.graph.search import Reach, edge_bounds, expand_ranges, search_index
from lds.isoline_shape import along_edges
from lds.isolines import SNAP_DECIMALS, isoline_search

COST_DECIMALS = 1
SAMPLES_PER_EDGE_LENGTH = 4  # road samples per H3 cell edge: a road point's nearest sample is within 1/8 of an edge
MIN_SAMPLE_M = 2.0  # finest sample spacing, whatever isoline_cell_m (the polygons' raster cell, a floor) says
DEG_M = math.radians(1.0) * EARTH_RADIUS_M  # metres per degree of latitude


def h3_isolines(
    graph, origin: tuple[float, float], ranges: Sequence[float], range_type: str, resolution: int, settings: Any,
    walk=None,
) -> list[dict[str, Any]]:
    """One ``{"range", "range_type", "mode", "resolution", "cells", "location", "snap_distance"}`` per range (in the
    order given); ``cells`` lists ``{"h3": id, "cost": s or m}`` cheapest first, each range's a superset of every
    shorter one's. ``walk``: the walking graph, given for a car isoline, whose footways then serve the places no road
    is near as in the polygons (park and walk, :mod:`lds.isoline_walk`). Raises OutOfCoverage when the origin is
    farther than ``snap_radius_m`` from the mode's roads, BadRequest when the reach holds more than
    ``h3_isoline_max_cells`` cells at ``resolution``."""
    ranges, snap, reach = isoline_search(graph, origin, ranges, range_type, settings)
    offroad = max(0.0, settings.isoline_offroad_m)
    spacing = max(
        MIN_SAMPLE_M, settings.isoline_cell_m, h3.average_hexagon_edge_length(resolution, "m") / SAMPLES_PER_EDGE_LENGTH
    )
    lon, lat, cost, *cut = road_samples(graph, reach, spacing, offroad)
    fallbacks = []  # for the centres no network road is near: footways walked from a parked car, cut-off roads
    if walk is not None and graph.mode == "car" and settings.isoline_park_walk_m > 0 and np.isfinite(cost).any():
        walk_m = float(settings.isoline_park_walk_m)
        fallbacks.append(lambda box: footway_samples(graph, walk, reach, spacing, max(ranges), walk_m, box))
    fallbacks.append(_cutoff_samples(graph, reach, snap, lon, lat, cost, cut, spacing, offroad, settings))
    cells, centre_cost = cell_costs(lon, lat, cost, resolution, offroad, settings.h3_isoline_max_cells, fallbacks)
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


def road_samples(graph, reach: Reach, spacing: float, offroad: float) -> tuple[np.ndarray, ...]:
    """Points every ``spacing`` metres (or closer) along the roads that matter to the reach: lon, lat and the
    cost there (+inf where the largest range does not reach) of the network's roads (the roads a router snaps to),
    then of the reached roads cut off from it (a one-way street out of the extract), which serve only the places no
    network road is near, as in the polygons."""
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
    nearby = graph.snapper.edges_in(*_grown_box(box_lon, box_lat, 2 * offroad + spacing)).astype(np.int64)
    in_largest = graph.snapper.in_largest
    nearby = nearby[in_largest[nearby] | ((rev[nearby] >= 0) & in_largest[np.maximum(rev[nearby], 0)])]
    edges = np.unique(_canonical(np.concatenate([reached, nearby]), rev))
    lon, lat, edge, frac = along_edges(graph, edges, spacing)
    cost = _sample_costs(graph, index.edge_weight[reach.weight], node_cost, reach, rev, edge, frac)
    joined = in_largest[edge] | ((rev[edge] >= 0) & in_largest[np.maximum(rev[edge], 0)])
    cut = ~joined & np.isfinite(cost)
    return lon[joined], lat[joined], cost[joined], lon[cut], lat[cut], cost[cut], edge[cut]


def footway_samples(graph, walk, reach: Reach, spacing: float, limit: float, walk_m: float,
                    box: tuple[float, float, float, float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``spacing`` metres along the walking-only ways walked to within ``walk_m`` from a parked car
    (:mod:`lds.isoline_walk`), with the cost of the car there (+inf beyond the walk): lon, lat, cost; of the ways
    meeting ``box`` (lon/lat) when given. Unlike the polygons, the footways walked to from no reached road do not
    claim the places nearest them (sampling every footway around costs more than the few centres it would
    change)."""
    from lds.isoline_walk import foot_network, walked

    net = foot_network(graph, walk)
    weight = search_index(graph).edge_weight[reach.weight]
    rec_edge, rec_cost, rec_upto = walked(net, graph, reach, weight, limit, walk_m)
    edges = np.unique(rec_edge).astype(np.int64)
    if box is not None and len(edges):  # only the ways whose bounds meet the box
        lo_lon, lo_lat, hi_lon, hi_lat = edge_bounds(walk, edges)
        edges = edges[(hi_lon >= box[0]) & (lo_lon <= box[2]) & (hi_lat >= box[1]) & (lo_lat <= box[3])]
    f_lon, f_lat, edge, frac = along_edges(walk, edges, spacing)
    # An edge's records walk ever farther at an ever higher cost: a point's is the first record reaching it.
    order = np.lexsort((rec_upto, rec_edge))
    key = rec_edge[order] * 2.0 + rec_upto[order]
    rev = np.asarray(walk.edge_rev)
    f_cost = np.full(len(edge), np.inf)
    for e, f in ((edge, frac), (rev[edge], 1.0 - frac)):
        has = e >= 0
        at = np.searchsorted(key, e[has] * 2.0 + f[has] - 1e-12)
        hit = at < len(key)
        hit[hit] &= rec_edge[order][at[hit]] == e[has][hit]
        c = np.full(int(has.sum()), np.inf)
        c[hit] = rec_cost[order][at[hit]]
        f_cost[has] = np.minimum(f_cost[has], c)
    return f_lon, f_lat, f_cost


def _cutoff_samples(graph, reach: Reach, snap, lon, lat, cost, cut: list, spacing: float, offroad: float,
                    settings: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The points along roads cut off from the network that serve the places near them: at the cost of the network
    road each snaps to, else at their own where reached (:func:`lds.isoline_shape.cutoff_points`); with
    ``isoline_cutoff_m`` 0, the reached ones' samples (``cut``: lon, lat, cost, edge from :func:`road_samples`) at
    their own cost."""
    from lds.isoline_shape import Frame, cutoff_points

    cut_lon, cut_lat, cut_cost, _ = cut
    ok = np.isfinite(cost)
    if offroad <= 0 or settings.isoline_cutoff_m <= 0 or not ok.any():
        return cut_lon, cut_lat, cut_cost
    frame = Frame(snap.lon, snap.lat)
    xs = (np.concatenate([lon[ok], cut_lon]) - frame.lon0) * frame.kx  # the reached roads, cut off or not
    ys = (np.concatenate([lat[ok], cut_lat]) - frame.lat0) * frame.ky
    extent = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
    weight = search_index(graph).edge_weight[reach.weight]
    found = cutoff_points(graph, reach, weight, frame, extent, offroad, float(settings.isoline_cutoff_m), spacing)
    if found is None:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    x, y, c = found
    return frame.lon0 + x / frame.kx, frame.lat0 + y / frame.ky, c


def _grown_box(lon: np.ndarray, lat: np.ndarray, metres: float) -> tuple[float, float, float, float]:
    """The lon/lat box of the points grown by ``metres`` on every side (degrees of longitude at their mean
    latitude)."""
    dlat = metres / DEG_M
    dlon = dlat / max(0.01, math.cos(math.radians(float(np.mean(lat)))))
    return (float(lon.min()) - dlon, float(lat.min()) - dlat, float(lon.max()) + dlon, float(lat.max()) + dlat)


def _canonical(edges: np.ndarray, rev: np.ndarray) -> np.ndarray:
    """The lower id of each two-way pair, so a road is sampled once (the edge itself where one-way)."""
    twin = rev[edges]
    return np.where((twin >= 0) & (twin < edges), twin, edges)


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
    lon: np.ndarray, lat: np.ndarray, cost: np.ndarray, resolution: int, offroad: float, max_cells: int,
    fallbacks: Sequence = (),
) -> tuple[np.ndarray, np.ndarray]:
    """The reached H3 cells (uint64 ids) with the cost at each centre: the cost of the nearest road sample within
    ``offroad`` metres of it, where that sample is reached. A centre no road sample is that near takes, from each of
    ``fallbacks`` (lon, lat, cost samples: walked footways, cut-off roads; or a function making them for a lon/lat
    box, so that only those near such centres are made), the cost of its nearest sample within ``offroad`` (the
    least over them)."""
    ok = np.isfinite(cost)
    if not ok.any():
        return np.zeros(0, dtype=np.uint64), np.zeros(0)
    lat0 = float(np.mean(lat[ok]))
    w, s, e, n = _grown_box(lon[ok], lat[ok], offroad + 1.0)
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
    centre_cost = np.full(len(cells), np.inf)
    near = _near_centres(lon, lat, centres, offroad)
    found = np.zeros(len(cells), dtype=bool)
    if len(near):
        found, centre_cost = _nearest_costs(lon[near], lat[near], cost[near], centres, offroad)
    alone = np.flatnonzero(~found)
    for fallback in fallbacks:
        if len(alone) == 0:
            break
        if callable(fallback):  # made for the box of the centres no road serves, grown by the off-road distance
            fallback = fallback(_grown_box(centres[alone, 1], centres[alone, 0], 1.05 * (offroad + 1.0)))
        f_lon, f_lat, f_cost = fallback
        served = np.isfinite(f_cost)
        if not served.any():
            continue
        # Only the centres and samples near the served samples matter (a box test, before the tree).
        box = _grown_box(f_lon[served], f_lat[served], 2.0 * (offroad + 1.0))
        near_box = (f_lon >= box[0]) & (f_lat >= box[1]) & (f_lon <= box[2]) & (f_lat <= box[3])
        f_lon, f_lat, f_cost = f_lon[near_box], f_lat[near_box], f_cost[near_box]
        c_lat, c_lon = centres[alone, 0], centres[alone, 1]
        ask = alone[(c_lon >= box[0]) & (c_lat >= box[1]) & (c_lon <= box[2]) & (c_lat <= box[3])]
        if len(ask) == 0:
            continue
        use = _near_centres(f_lon, f_lat, centres[ask], offroad)
        if len(use) == 0:
            continue
        near, c = _nearest_costs(f_lon[use], f_lat[use], f_cost[use], centres[ask], offroad)
        centre_cost[ask[near]] = np.minimum(centre_cost[ask[near]], c[near])
    keep = np.isfinite(centre_cost)
    return np.asarray(cells)[keep], centre_cost[keep]


NEAREST_TIES = 8  # samples asked per centre: a road node is a sample of each road meeting there


def _nearest_costs(lon: np.ndarray, lat: np.ndarray, cost: np.ndarray, centres: np.ndarray,
                   offroad: float) -> tuple[np.ndarray, np.ndarray]:
    """Per centre (lat, lon rows), whether a sample is within ``offroad`` metres, and the cost of its nearest one
    (+inf for none): the least of the samples as near (the same point sampled on each road meeting there, say),
    so the answer does not depend on how the tree orders them."""
    k = min(NEAREST_TIES, len(lon))
    dist, nearest = cKDTree(ecef(lon, lat)).query(ecef(centres[:, 1], centres[:, 0]), k=k,
                                                  distance_upper_bound=offroad)
    dist, nearest = dist.reshape(len(centres), k), nearest.reshape(len(centres), k)
    found = np.isfinite(dist[:, 0])
    tied = dist == dist[:, :1]  # ascending: the first, and any as near
    padded = np.append(cost, np.inf)  # index len(cost): none within offroad
    return found, np.where(tied & found[:, None], padded[nearest], np.inf).min(axis=1)


def _near_centres(lon: np.ndarray, lat: np.ndarray, centres: np.ndarray, offroad: float) -> np.ndarray:
    """The samples (indices, ascending) that may be within ``offroad`` metres of one of ``centres`` (lat, lon rows):
    those in a grid square of side ``offroad`` (and a margin for the projection) next to a centre's. The others can
    be no centre's nearest within that distance, and a tree of a few centres' surroundings is several times
    cheaper to build than one of every sample around."""
    if len(lon) == 0 or len(centres) == 0:
        return np.zeros(0, dtype=np.int64)
    lat0 = float(np.mean(centres[:, 0]))
    side = 1.05 * offroad + 1.0  # metres: the equirectangular grid errs by well under 5 % within a reach
    ky = DEG_M / side
    kx = ky * math.cos(math.radians(lat0))
    lon_min, lat_min = float(centres[:, 1].min()), float(centres[:, 0].min())
    cx = np.floor((centres[:, 1] - lon_min) * kx).astype(np.int64) + 1
    cy = np.floor((centres[:, 0] - lat_min) * ky).astype(np.int64) + 1
    if (int(cx.max()) + 2) * (int(cy.max()) + 2) > 16 * (len(lon) + len(centres)):  # a tiny offroad: no gain
        return np.arange(len(lon))
    grid = np.zeros((int(cx.max()) + 2, int(cy.max()) + 2), dtype=bool)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            grid[cx + dx, cy + dy] = True
    sx = np.floor((lon - lon_min) * kx).astype(np.int64) + 1
    sy = np.floor((lat - lat_min) * ky).astype(np.int64) + 1
    inside = (sx >= 0) & (sy >= 0) & (sx < grid.shape[0]) & (sy < grid.shape[1])
    at = np.flatnonzero(inside)
    return at[grid[sx[at], sy[at]]]
