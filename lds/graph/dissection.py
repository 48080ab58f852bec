"""Nested dissection order for the part of a contraction hierarchy that node priorities cannot finish.

On grid-like networks with turn costs, contraction by priority densifies while much of the graph is left (every
crossing has four ways in and three out at about equal cost, so witnesses are rare). Contracting what is left in
a nested dissection order instead (split the nodes in two by their position, contract each half recursively,
the separator between them last) keeps the fill-in to separator-sized cliques, as in customisable contraction
hierarchies and OSRM's partitioner: the whole graph contracts and no query falls back to Dijkstra.
"""

from __future__ import annotations

import sys

import numpy as np

LEAF_NODES = 48  # cells this small are contracted in any order
# Where a cell may be cut, as quantiles of its nodes along x or y: balanced enough for a logarithmic depth, free
# enough to find the gaps between towns.
CUT_QUANTILES = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def _best_cut(
    ids: np.ndarray, at: np.ndarray, ah: np.ndarray, px: np.ndarray, py: np.ndarray, rank: np.ndarray
) -> tuple[np.ndarray, int]:
    """The cut of a cell crossing the fewest separator nodes: ``(ids order along the axis, nodes left of it)``."""
    best = None
    for coord in (px[ids], py[ids]):
        order = np.argsort(coord, kind="stable")
        rank[ids[order]] = np.arange(len(ids))
        rt, rh = rank[at], rank[ah]
        lo, hi = np.minimum(rt, rh), np.maximum(rt, rh)
        for q in CUT_QUANTILES:
            k = int(len(ids) * q)
            cross = (lo < k) & (hi >= k)
            cost = min(
                len(np.unique(np.where(rt[cross] < k, at[cross], ah[cross]))),
                len(np.unique(np.where(rt[cross] < k, ah[cross], at[cross]))),
            )
            key = (cost, abs(q - 0.5))
            if best is None or key < best[0]:
                best = (key, order, k)
    return best[1], best[2]


def nested_dissection(
    nodes: np.ndarray, tails: np.ndarray, heads: np.ndarray, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Order ``nodes`` (ascending ids) so that every separator comes after both sides it separates.

    ``tails``/``heads`` are the arcs between them, ``x``/``y`` positions in metres indexed by node id. Each cell
    is split across x or y at the quantile (of CUT_QUANTILES) that crosses the fewest arcs, so cuts fall between
    towns rather than through them; the separator is the smaller set of crossing arcs' endpoints on one side,
    which cuts every arc between the two halves."""
    n = len(nodes)
    if n == 0:
        return nodes
    t = np.searchsorted(nodes, tails).astype(np.int64)
    h = np.searchsorted(nodes, heads).astype(np.int64)
    px, py = np.asarray(x)[nodes], np.asarray(y)[nodes]
    side = np.zeros(n, dtype=np.int8)
    rank = np.zeros(n, dtype=np.int64)
    placed = np.zeros(n, dtype=bool)
    out: list[np.ndarray] = []
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))

    def cell(ids: np.ndarray, at: np.ndarray, ah: np.ndarray) -> None:
        if len(ids) <= LEAF_NODES:
            out.append(ids)
            return
        order, half = _best_cut(ids, at, ah, px, py, rank)
        side[ids[order[:half]]] = 0
        side[ids[order[half:]]] = 1
        st, sh = side[at], side[ah]
        cross = st != sh
        left_end = np.where(st[cross] == 0, at[cross], ah[cross])
        right_end = np.where(st[cross] == 0, ah[cross], at[cross])
        sep_l, sep_r = np.unique(left_end), np.unique(right_end)
        sep = sep_l if len(sep_l) <= len(sep_r) else sep_r
        placed[sep] = True
        keep = ~cross & ~placed[at] & ~placed[ah]
        in_left = side[at] == 0
        ids_free = ids[~placed[ids]]
        left, right = ids_free[side[ids_free] == 0], ids_free[side[ids_free] == 1]
        la, ra = keep & in_left, keep & ~in_left
        cell(left, at[la], ah[la])
        cell(right, at[ra], ah[ra])
        out.append(sep)

    try:
        cell(np.arange(n, dtype=np.int64), t, h)
    finally:
        sys.setrecursionlimit(limit)
    order = np.concatenate(out)
    assert len(order) == n
    return nodes[order]


def positions(arrays: dict[str, np.ndarray], edge_based: bool) -> tuple[np.ndarray, np.ndarray]:
    """Metres east and north of each hierarchy node: a road node, or for the car the middle of a road edge."""
    lon = np.asarray(arrays["node_lon"], dtype=np.float64)
    lat = np.asarray(arrays["node_lat"], dtype=np.float64)
    scale = np.cos(np.radians(np.mean(lat) if len(lat) else 0.0))
    if edge_based:
        src, dst = np.asarray(arrays["edge_src"]), np.asarray(arrays["edge_dst"])
        lon, lat = (lon[src] + lon[dst]) / 2, (lat[src] + lat[dst]) / 2
    return lon * scale * 111_320.0, lat * 111_320.0
