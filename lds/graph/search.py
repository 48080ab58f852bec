"""Bounded search from a snapped point: which nodes are reached within a budget, and at what cost.

This is the isolines' search: one C++ Dijkstra (``_search.bounded_dijkstra``) over a CSR copy of the
graph's edges, started from both ends of the snapped edge (the twin direction too, where the road
is two-way), stopped at the largest range so every range of a request shares one search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lds.graph._search import bounded_dijkstra, edges_in_box
from lds.graph.derived import derived
from lds.graph.scratch import cost_pool, get_cost, put_cost
from lds.memo import per_object

if TYPE_CHECKING:
    from lds.graph.snap import Snap

WEIGHTS = {"time": "edge_time", "distance": "edge_length"}
AT_NODE_M = 0.5  # a snapped point this close to an edge's end is on the road node there


def expand_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for every pair, vectorised."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    base = np.repeat(np.asarray(starts, dtype=np.int64) - (np.cumsum(counts) - counts), counts)
    return base + np.arange(total, dtype=np.int64)


BOX_BLOCK = 64  # edges per block of EdgeBoxes: a box query tests the blocks' bounds, then the edges of blocks it meets
BOX_GROUP = 64  # blocks per group: first the groups' bounds (a country's claiming roads are ~100k blocks)


def _morton(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Z-order keys of points (x, y in [0, 1]): interleaved 16-bit coordinates, so nearby points sort together."""
    def spread(v: np.ndarray) -> np.ndarray:
        v = (np.clip(v, 0.0, 1.0) * 65535).astype(np.uint64)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x55555555)

    return spread(x) | (spread(y) << np.uint64(1))


def edge_bounds(graph, edges: np.ndarray) -> np.ndarray:
    """(4, n) lon/lat bounds (lon min, lat min, lon max, lat max) of ``edges``' geometries, read from their own
    points only."""
    edges = np.asarray(edges, dtype=np.int64)
    if len(edges) == 0:
        return np.zeros((4, 0))
    off = np.asarray(graph.edge_geom_off, dtype=np.int64)
    counts = off[edges + 1] - off[edges]  # every edge has two points or more
    points = expand_ranges(off[edges], counts)
    first = np.cumsum(counts) - counts
    lon, lat = np.asarray(graph.geom_lon)[points], np.asarray(graph.geom_lat)[points]
    return np.stack([np.minimum.reduceat(lon, first), np.minimum.reduceat(lat, first),
                     np.maximum.reduceat(lon, first), np.maximum.reduceat(lat, first)])


def _run_bounds(bounds: np.ndarray, run: int) -> np.ndarray:
    """(4, runs) C-contiguous float64 union of each run of ``run`` columns of (4, n) ``bounds``."""
    starts = np.arange(0, bounds.shape[1], run)
    lo_lon, lo_lat, hi_lon, hi_lat = bounds
    return np.ascontiguousarray(np.stack([
        np.minimum.reduceat(lo_lon, starts), np.minimum.reduceat(lo_lat, starts),
        np.maximum.reduceat(hi_lon, starts), np.maximum.reduceat(hi_lat, starts)]), dtype=np.float64)


@dataclass(frozen=True)
class EdgeBoxes:
    """Some edges of a graph (``edges``, int32) with the lon/lat bounds of each one's geometry, stored in Z-order of
    their centres (:meth:`of`) so that blocks of :data:`BOX_BLOCK` neighbours have small bounds: which edges a box
    touches is a test of the blocks' bounds, then of the edges of the blocks it meets, not a scan of every edge of a
    country (the isolines ask it once per drawing)."""

    edges: np.ndarray
    bounds: np.ndarray  # (4, n): lon min, lat min, lon max, lat max

    @classmethod
    def of(cls, graph, edges: np.ndarray) -> EdgeBoxes:
        bounds = edge_bounds(graph, edges)
        if len(edges):
            cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
            span = max(float(np.ptp(cx)), float(np.ptp(cy)), 1e-9)
            order = np.argsort(_morton((cx - cx.min()) / span, (cy - cy.min()) / span), kind="stable")
            edges, bounds = np.asarray(edges)[order], np.ascontiguousarray(bounds[:, order])
        return cls(np.ascontiguousarray(edges, dtype=np.int32), bounds)

    def _blocks(self) -> np.ndarray:
        """(4, blocks) bounds of each run of BOX_BLOCK stored edges (their union), made on first use (one vectorised
        pass over the bounds, milliseconds for a country's edges)."""
        blocks = self.__dict__.get("_block_bounds")
        if blocks is None:
            blocks = _run_bounds(self.bounds, BOX_BLOCK)
            object.__setattr__(self, "_block_bounds", blocks)  # a cache; equal answers with or without it
        return blocks

    def _groups(self) -> np.ndarray:
        """(4, groups) bounds of each run of BOX_GROUP blocks, made on first use."""
        groups = self.__dict__.get("_group_bounds")
        if groups is None:
            groups = _run_bounds(self._blocks(), BOX_GROUP)
            object.__setattr__(self, "_group_bounds", groups)
        return groups

    def in_box(self, bbox: tuple[float, float, float, float], drawn: np.ndarray | None = None,
               edge_rev: np.ndarray | None = None, mark: np.ndarray | None = None) -> np.ndarray:
        """The edges whose bounds meet ``bbox`` (lon/lat), int32 in ascending id order: every one with a point in it,
        and a few more; with ``drawn`` (int32 edge ids), less those and their twins (``edge_rev``; ``mark``: a
        per-edge uint8 array of zeros, left so). One C scan of the groups, blocks and edges (lds.graph._search)."""
        if len(self.edges) == 0:
            return np.zeros(0, dtype=np.int32)
        return edges_in_box(self.edges, self.bounds, self._blocks(), self._groups(), BOX_BLOCK, BOX_GROUP, *bbox,
                            drawn, edge_rev, mark)


class SearchIndex:
    """Out-edges of every node in CSR order, with a contiguous weight array per range type (mapped from the data dir
    when the build derived them, else built here)."""

    def __init__(self, graph):
        src = np.asarray(graph.edge_src)
        n = graph.n_nodes
        self.n_nodes = n
        stored = derived(graph, "search")  # written by `lds build` (lds.build.derived): mapped, not built
        if stored is not None and len(stored["indptr"]) == n + 1:
            self.indptr, self.adj_edge, self.adj_dst = stored["indptr"], stored["adj_edge"], stored["adj_dst"]
            self.adj_weight = {kind: stored[f"adj_{kind}"] for kind in WEIGHTS}
        else:
            order = np.argsort(src, kind="stable").astype(np.int32)
            self.indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(np.bincount(src, minlength=n), out=self.indptr[1:])
            self.adj_edge = order
            self.adj_dst = np.ascontiguousarray(np.asarray(graph.edge_dst)[order], dtype=np.int32)
            self.adj_weight = {kind: np.ascontiguousarray(np.asarray(getattr(graph, name))[order], dtype=np.float32)
                               for kind, name in WEIGHTS.items()}
        self.edge_weight = {kind: np.asarray(getattr(graph, name), dtype=np.float32) for kind, name in WEIGHTS.items()}
        self.edge_src = src
        self.edge_dst = np.asarray(graph.edge_dst)
        self.edge_rev = np.ascontiguousarray(graph.edge_rev, dtype=np.int32)
        self.costs = cost_pool(n, graph.scratch_bytes)  # the searches' per-node costs, lent one per search

    def arrays(self) -> dict[str, np.ndarray]:
        """The derived arrays, by their names in :data:`lds.formats.DERIVED_ARRAYS` (what the build writes)."""
        return {"indptr": self.indptr, "adj_edge": self.adj_edge, "adj_dst": self.adj_dst,
                **{f"adj_{kind}": w for kind, w in self.adj_weight.items()}}

    def node_costs(self, nodes: np.ndarray, cost: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The cost of each node of ``at`` given the costs of ``nodes`` (a search's result): +inf where not among
        them."""
        with self.costs.lend() as scratch:
            put_cost(scratch, nodes, cost)
            try:
                return get_cost(scratch, at)
            finally:
                scratch[nodes] = 0


@per_object
def search_index(graph) -> SearchIndex:
    """The graph's :class:`SearchIndex`, built on first use (milliseconds per 100k edges)."""
    return SearchIndex(graph)


@dataclass(frozen=True)
class Reach:
    """Result of a bounded search: settled nodes with their cost, and the start on the snapped edge.

    ``starts`` lists the partial edges the search began on as (edge, fraction, cost at that fraction):
    the snapped edge from the snap's fraction, its twin from the mirrored fraction, and for a point on a road
    node the other edges out of that node from their start.
    """

    nodes: np.ndarray
    cost: np.ndarray
    starts: tuple[tuple[int, float, float], ...]
    limit: float
    weight: str


def node_at(snap: Snap, length: float, src: np.ndarray, dst: np.ndarray) -> int:
    """The road node a snapped point sits on (within ``AT_NODE_M`` of an end of its edge, ``length`` metres
    long), or -1: routes and isolines leave such a point by any edge out of that node."""
    if snap.fraction * length <= AT_NODE_M:
        return int(src[snap.edge])
    if (1.0 - snap.fraction) * length <= AT_NODE_M:
        return int(dst[snap.edge])
    return -1


def origin_starts(index: SearchIndex, snap: Snap) -> tuple[tuple[int, float, float], ...]:
    """The partial edges leaving the snapped point: its edge onwards, the twin edge backwards and, when the point
    sits on a road node (within ``AT_NODE_M``), every edge out of that node, as a route from it may leave: the
    snapper picks one of the edges meeting at a node, which must not decide the way out (a one-way street picked
    at a crossing would otherwise send every trip round its block first)."""
    starts = [(snap.edge, snap.fraction, 0.0)]
    twin = int(index.edge_rev[snap.edge])
    if twin >= 0:
        starts.append((twin, 1.0 - snap.fraction, 0.0))
    node = node_at(snap, float(index.edge_weight["distance"][snap.edge]), index.edge_src, index.edge_dst)
    if node >= 0:
        taken = {e for e, _, _ in starts}
        out = index.adj_edge[index.indptr[node]:index.indptr[node + 1]].tolist()
        starts += [(e, 0.0, 0.0) for e in out if e not in taken]
    return tuple(starts)


def bounded_search(graph, snap: Snap, limit: float, weight: str = "time") -> Reach:
    """Every node reachable from ``snap`` within ``limit`` seconds (``time``) or metres (``distance``)."""
    index = search_index(graph)
    edge_w = index.edge_weight[weight]
    starts = origin_starts(index, snap)
    seeds = np.array([index.edge_dst[e] for e, _, _ in starts], dtype=np.int32)
    seed_cost = np.array([(1.0 - f) * float(edge_w[e]) for e, f, _ in starts])
    with index.costs.lend() as dist:
        nodes, cost = bounded_dijkstra(index.indptr, index.adj_dst, index.adj_weight[weight], seeds, seed_cost,
                                       float(limit), dist)
    return Reach(nodes, cost, starts, float(limit), weight)
