"""Nested dissection order for the part of a contraction hierarchy that node priorities cannot finish.

On grid-like networks with turn costs, contraction by priority densifies while much of the graph is left (every
crossing has four ways in and three out at about equal cost, so witnesses are rare). Contracting what is left in
a nested dissection order instead (split the nodes in two by their position, contract each half recursively,
the separator between them last) keeps the fill-in to separator-sized cliques, as in customisable contraction
hierarchies and OSRM's partitioner: the whole graph contracts and no query falls back to Dijkstra.

Each cell is cut straight across, in one of four directions, wherever between 30 and 70 % of its nodes the
separator is smallest; every candidate cut of a direction is sized in one linear pass (:func:`_separator_sizes`),
so the search is exhaustive yet costs a sort per direction. On grids a straight cut is the best separator there
is; a flow-based cut (inertial flow, as OSRM's partitioner) would only pay where towns leave crooked gaps.

Cells wait on an explicit stack rather than in recursive calls, so a split cell's arcs are freed as soon as its
halves are cut out of them: a country's dissection holds about one copy of its arcs, not one per level.
"""

from __future__ import annotations

import numpy as np

LEAF_NODES = 8  # cells this small are contracted in any order (48: 7 % more arcs on a grid)
# A cell is cut with at least this share of its nodes on either side: balanced enough for a logarithmic depth,
# free enough to find the gaps between towns.
CUT_SHARE = 0.3
# Directions cut across (x, y and the diagonals): a town's gaps and a grid's streets do not all run north-south.
DIRECTIONS = ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, -1.0))


def _separator_sizes(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """For every cut ``k`` of ``n`` ranked nodes (ranks < k on the left), the size of its separator: the fewer of
    the left and right ends of the arcs crossing it (arcs as their ends' ranks ``lo`` < ``hi``).

    A node of rank r is a left end for the cuts in (r, its farthest neighbour's rank] and a right end for those
    in (its nearest neighbour's rank, r], so both counts come out of two difference arrays in linear time."""
    far = np.full(n, -1, dtype=np.int64)
    np.maximum.at(far, lo, hi)
    near = np.full(n, n, dtype=np.int64)
    np.minimum.at(near, hi, lo)
    ranks = np.arange(n)
    left = np.zeros(n + 2, dtype=np.int64)
    has = far > ranks
    np.add.at(left, ranks[has] + 1, 1)
    np.add.at(left, far[has] + 1, -1)
    right = np.zeros(n + 2, dtype=np.int64)
    has = near < ranks
    np.add.at(right, near[has] + 1, 1)
    np.add.at(right, ranks[has] + 1, -1)
    return np.minimum(np.cumsum(left)[: n + 1], np.cumsum(right)[: n + 1])


def _best_cut(
    ids: np.ndarray, at: np.ndarray, ah: np.ndarray, px: np.ndarray, py: np.ndarray, rank: np.ndarray
) -> tuple[np.ndarray, int]:
    """The cut of a cell with the smallest separator: ``(ids order along the direction, nodes left of it)``.

    Any cut between CUT_SHARE and 1 - CUT_SHARE of the nodes along one of DIRECTIONS is a candidate, except
    between nodes at the same position (the two directions of a road, a grid's column); the most balanced of
    the smallest wins."""
    n = len(ids)
    k = np.arange(n + 1)
    balance = np.abs(k - n / 2)
    allowed = (k >= CUT_SHARE * n) & (k <= (1 - CUT_SHARE) * n)
    best = None
    for dx, dy in DIRECTIONS:
        coord = np.round(dx * px[ids] + dy * py[ids], 2)
        order = np.argsort(coord, kind="stable")
        rank[ids[order]] = np.arange(n)
        rt, rh = rank[at], rank[ah]
        size = _separator_sizes(np.minimum(rt, rh), np.maximum(rt, rh), n)
        c = coord[order]
        gap = allowed.copy()
        gap[1:n] &= c[1:] != c[:-1]
        if not gap.any():
            gap = allowed
        cand = np.flatnonzero(gap)
        pick = cand[np.lexsort((balance[cand], size[cand]))[0]]
        key = (int(size[pick]), float(balance[pick]))
        if best is None or key < best[0]:
            best = (key, order, int(pick))
        del coord, order, rt, rh, size, c, gap, cand  # before the next direction's: one set at a time
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
    px, py = np.asarray(x)[nodes], np.asarray(y)[nodes]
    side = np.zeros(n, dtype=np.int8)
    rank = np.zeros(n, dtype=np.int64)
    placed = np.zeros(n, dtype=bool)
    out: list[np.ndarray] = []
    # (cell ids, arc tails, arc heads) to split, or a separator to place once both its halves are placed
    # int64 indices: numpy converts narrower ones on every gather, which doubled the time
    stack: list = [
        (
            np.arange(n, dtype=np.int64),
            np.searchsorted(nodes, tails).astype(np.int64),
            np.searchsorted(nodes, heads).astype(np.int64),
        )
    ]
    while stack:
        job = stack.pop()
        if not isinstance(job, tuple):
            out.append(job)
            continue
        ids, at, ah = job
        del job
        if len(ids) <= LEAF_NODES:
            out.append(ids)
            continue
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
        stack.append(sep)  # after both halves
        stack.append((right, at[ra], ah[ra]))
        stack.append((left, at[la], ah[la]))  # first
        del ids, at, ah, order, st, sh, cross, left_end, right_end, keep, in_left, la, ra
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
