"""Nested dissection order for the part of a contraction hierarchy that node priorities cannot finish.

On grid-like networks with turn costs, contraction by priority densifies while much of the graph is left (every
crossing has four ways in and three out at about equal cost, so witnesses are rare). Contracting what is left in
a nested dissection order instead (split the nodes in two by their position, contract each half recursively,
the separator between them last) keeps the fill-in to separator-sized cliques, as in customisable contraction
hierarchies and OSRM's partitioner: the whole graph contracts and no query falls back to Dijkstra.

Each cell is cut straight across, in one of twelve directions, wherever between 30 and 70 % of its nodes the
separator is smallest; every candidate cut of a direction is sized in one linear pass over the cell's arcs
(``_dissection.separator_sizes``: the fewer distinct ends of the crossing arcs on one side) and the nodes are
sorted along each direction once, each cell keeping its share of those orders as it splits, so the search is
exhaustive yet linear per level. The best cut of each direction is then sized as it will be cut: each connected
part of its crossing arcs (a road, a crossing) gives up its own side with fewer ends, which is never more than
the smaller side overall and much less where crossings lean both ways (edge-based graphs: three ways into a
crossing on one side, one way out on the other). On grids a straight cut is the best separator there is; a
flow-based cut (inertial flow, as OSRM's partitioner) would only pay where towns leave crooked gaps.

Against four directions and one side per cut (with minimum degree within cells, lds.graph.prepare), the synthetic
countries' car hierarchies got 15 % fewer arcs in the same contraction time (CPU): 1M nodes 18.5M -> 15.7M arcs,
5M nodes 92.2M -> 78.5M, queries settling 10 and 5 % fewer nodes.

Cells are ranges of arrays split in place and wait on an explicit stack (C++, lds.graph._dissection): a
country's dissection holds one copy of its arcs and a few node-sized arrays. In numpy (a dozen array passes per
cell) it took a third of the car hierarchy's build; the order is the same.
"""

from __future__ import annotations

import math

import numpy as np

LEAF_NODES = 8  # cells this small are not cut (48: 7 % more arcs on a grid; 2 to 16: the same with minimum degree)
# A cell is cut with at least this share of its nodes on either side: balanced enough for a logarithmic depth,
# free enough to find the gaps between towns.
CUT_SHARE = 0.3
# Directions cut across, evenly spaced over the half circle: a town's gaps and a grid's streets do not all run
# north-south. Each direction costs a pass over a cell's arcs per level and holds a node-sized int32 order: on the
# 5M-node synthetic country 8/12/16 directions gave 80.0/78.5/77.6M car arcs for 155/162/185 s of CPU (16 on a
# busier machine; 4 directions and one side per cut: 92.2M, 163 s).
N_DIRECTIONS = 12
DIRECTIONS = tuple(
    (math.cos(k * math.pi / N_DIRECTIONS), math.sin(k * math.pi / N_DIRECTIONS)) for k in range(N_DIRECTIONS)
)
# Each connected part of a cut's crossing arcs gives up its smaller side (False: the smaller side of the whole cut).
PER_PART = True


def nested_dissection(
    nodes: np.ndarray, tails: np.ndarray, heads: np.ndarray, x: np.ndarray, y: np.ndarray, cells: bool = False,
    consume: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Order ``nodes`` (ascending ids) so that every separator comes after both sides it separates.

    ``tails``/``heads`` are the arcs between them, ``x``/``y`` positions in metres indexed by node id. Each cell
    is cut where its separator is smallest (see the module's description); the separator holds, for each
    connected part of the crossing arcs, its ends on the side where it has fewer, which cuts every arc between
    the two halves. The work is done in C++ (:mod:`lds.graph._dissection`). With ``cells`` it also returns, per
    position of the order, the number of its leaf or separator (runs of equal numbers: nodes whose order among
    themselves is free). With ``consume`` the arcs' arrays, when int32 and contiguous, are the work arrays the
    cells' arcs are kept in, overwritten (the 5M-node country's car has ~40M arcs left to order: 0.3 GB not copied)."""
    from lds.graph import _dissection

    nodes = np.asarray(nodes)
    if len(nodes) == 0:
        return (nodes, np.zeros(0, dtype=np.int64)) if cells else nodes
    cell = np.empty(len(nodes), dtype=np.int64) if cells else None
    work = [np.require(a, dtype=np.int32, requirements=["C", "W"]) for a in (tails, heads)]
    if not consume:
        work = [w.copy() if w is a else w for w, a in zip(work, (tails, heads))]
    pos = _dissection.order(
        np.ascontiguousarray(nodes, dtype=np.int32),
        *work,
        np.ascontiguousarray(np.asarray(x, dtype=np.float64)[nodes]),
        np.ascontiguousarray(np.asarray(y, dtype=np.float64)[nodes]),
        LEAF_NODES,
        CUT_SHARE,
        np.array(DIRECTIONS, dtype=np.float64),
        cell,
        PER_PART,
    )
    return (nodes[pos], cell) if cells else nodes[pos]


def positions(arrays: dict[str, np.ndarray], edge_based: bool) -> tuple[np.ndarray, np.ndarray]:
    """Metres east and north of each hierarchy node: a road node, or for the car the middle of a road edge."""
    lon = np.asarray(arrays["node_lon"], dtype=np.float64)
    lat = np.asarray(arrays["node_lat"], dtype=np.float64)
    scale = np.cos(np.radians(np.mean(lat) if len(lat) else 0.0))
    if edge_based:
        src, dst = np.asarray(arrays["edge_src"]), np.asarray(arrays["edge_dst"])
        lon, lat = (lon[src] + lon[dst]) / 2, (lat[src] + lat[dst]) / 2
    return lon * scale * 111_320.0, lat * 111_320.0
