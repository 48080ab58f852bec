"""Park and walk: the places a car isoline reaches on foot from a reached road.

A car catchment holds the places whose nearest road (within ``isoline_offroad_m``) is reached. Some places have no
road that near: the houses on stepped lanes, the squares and courtyards served by footways. A driver parks on a
reached road and walks there; so a car isoline also covers the places served by the walking-only ways (footways,
paths, steps, pedestrian streets: the walking graph's ways the car graph does not have) within
``isoline_park_walk_m`` of walking from a reached road, at that road's cost (the walk, like the off-road distance,
is not costed: it is a catchment, not a trip). The roads keep priority: a place within the off-road distance of a
road belongs to that road, reached or not.

Which footways are walked depends on the reached roads' costs alone (the seeds run cheapest first,
:func:`lds._isoline_raster.park_walk`), so a range's area is the same whatever larger range the search ran to.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

from lds._isoline_raster import park_walk
from lds.graph.scratch import ScratchPool
from lds.graph.search import EdgeBoxes, Reach, expand_ranges, search_index


@dataclass(frozen=True)
class FootNetwork:
    """The walking-only ways of a walking graph (CSR by start node) and where they meet a car graph's roads: seed
    ``k`` is walking node ``seed_node[k]`` at fraction ``seed_frac[k]`` of car edge ``seed_edge[k]``."""

    walk: object
    indptr: np.ndarray
    adj_edge: np.ndarray
    adj_dst: np.ndarray
    adj_len: np.ndarray
    seed_node: np.ndarray
    seed_edge: np.ndarray
    seed_frac: np.ndarray
    seed_src: np.ndarray  # the car node each seed's edge leaves
    geometry: tuple  # the walking graph's edge_geom_off, geom_lon, geom_lat, edge_rev as catchment_field takes them
    ways: EdgeBoxes  # the walking-only edges, one per two-way way
    _pools: dict = field(default_factory=dict, repr=False, compare=False)  # name -> ScratchPool, made on first use
    _by_src: list = field(default_factory=list, repr=False, compare=False)  # (indptr, seeds) once made

    def seeds_by_src(self, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
        """The seeds grouped by the car node their edge leaves (CSR: node ``u``'s are
        ``seeds[indptr[u]:indptr[u + 1]]``, ascending), so a search's seeds are gathered from its settled nodes
        rather than found among every seed of the graph."""
        if not self._by_src:
            with _LOCK:
                if not self._by_src:
                    src = np.asarray(self.seed_src, dtype=np.int64)
                    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
                    np.cumsum(np.bincount(src, minlength=n_nodes), out=indptr[1:])
                    self._by_src.append((indptr, np.argsort(src, kind="stable")))
        return self._by_src[0]

    def pool(self, name: str, n: int, dtype) -> ScratchPool:
        """The walking graph's scratch arrays ``name`` (``n`` zeros each, lent one per search: lds.graph.scratch)."""
        pool = self._pools.get(name)
        if pool is None:
            with _LOCK:
                pool = self._pools.setdefault(name, ScratchPool(n, dtype, self.walk.scratch_bytes))
        return pool

    def heads(self):
        """A per-edge array of zeros lent for one field's records (``head`` of :func:`foot_field_args`)."""
        return self.pool("head", self.walk.n_edges, np.int32).lend()


_NETWORKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # car graph -> FootNetwork
_LOCK = threading.Lock()
SEED_GATHER_SHARE = 8  # a search settling under 1/8 of the car graph's nodes gathers its seeds instead of a scan


def foot_network(car, walk) -> FootNetwork:
    """The :class:`FootNetwork` of ``walk`` against ``car``, built on first use and kept with the car graph; its
    arrays are mapped from the car graph's dir when the build derived them there (lds.graph.derived, ``foot``)."""
    from lds.graph.derived import derived

    net = _NETWORKS.get(car)
    if net is None or net.walk is not walk:
        with _LOCK:
            net = _NETWORKS.get(car)
            if net is None or net.walk is not walk:
                a = derived(car, "foot")
                if a is None or len(a["indptr"]) != walk.n_nodes + 1:
                    net = _build(car, walk)
                else:  # derived from this build's walking graph: the same arrays _build makes
                    geometry = (np.ascontiguousarray(walk.edge_geom_off, dtype=np.int64),
                                np.ascontiguousarray(walk.geom_lon, dtype=np.float64),
                                np.ascontiguousarray(walk.geom_lat, dtype=np.float64),
                                np.ascontiguousarray(walk.edge_rev, dtype=np.int32))
                    net = FootNetwork(walk, a["indptr"], a["adj_edge"], a["adj_dst"], a["adj_len"], a["seed_node"],
                                      a["seed_edge"], a["seed_frac"], a["seed_src"], geometry,
                                      EdgeBoxes(a["ways_edges"], a["ways_bounds"]))
                _NETWORKS[car] = net
    return net


def _edge_fractions(graph) -> tuple[np.ndarray, np.ndarray]:
    """Per geometry point of ``graph``: its edge and its arc-length fraction along it."""
    off = np.asarray(graph.edge_geom_off, dtype=np.int64)
    lon, lat = np.asarray(graph.geom_lon), np.asarray(graph.geom_lat)
    edge = np.repeat(np.arange(len(off) - 1), np.diff(off))
    step = np.zeros(len(lon))
    step[1:] = np.hypot(np.diff(lon) * np.cos(np.radians(lat[1:])), np.diff(lat))
    step[off[:-1]] = 0.0  # no step across two edges
    cum = np.cumsum(step)
    along = cum - cum[off[:-1]][edge]
    total = np.maximum((cum[off[1:] - 1] - cum[off[:-1]])[edge], 1e-300)
    return edge, np.clip(along / total, 0.0, 1.0)


def _build(car, walk) -> FootNetwork:
    foot = ~np.isin(np.asarray(walk.edge_way), np.unique(np.asarray(car.edge_way)))
    ids = np.flatnonzero(foot).astype(np.int32)
    src = np.asarray(walk.edge_src)[ids]
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(walk.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=walk.n_nodes), out=indptr[1:])
    adj_edge = np.ascontiguousarray(ids[order])
    # Seeds: the nodes of walking-only ways that are points of a car road (the same OSM node).
    foot_nodes = np.unique(np.concatenate([src, np.asarray(walk.edge_dst)[ids]]))
    foot_osm = np.asarray(walk.node_osm)[foot_nodes]
    by_osm = np.argsort(foot_osm, kind="stable")
    car_osm = np.asarray(car.geom_osm)
    points = np.flatnonzero(np.isin(car_osm, foot_osm))
    node = foot_nodes[by_osm[np.searchsorted(foot_osm, car_osm[points], sorter=by_osm)]]
    edge, frac = _edge_fractions(car)
    geometry = (np.ascontiguousarray(walk.edge_geom_off, dtype=np.int64),
                np.ascontiguousarray(walk.geom_lon, dtype=np.float64),
                np.ascontiguousarray(walk.geom_lat, dtype=np.float64), np.ascontiguousarray(walk.edge_rev, dtype=np.int32))
    rev = np.asarray(walk.edge_rev)
    return FootNetwork(walk, indptr, adj_edge,
                       np.ascontiguousarray(np.asarray(walk.edge_dst)[adj_edge], dtype=np.int32),
                       np.ascontiguousarray(np.asarray(walk.edge_length)[adj_edge], dtype=np.float64),
                       node.astype(np.int32), edge[points].astype(np.int32), frac[points],
                       np.asarray(car.edge_src)[edge[points]], geometry,
                       EdgeBoxes.of(walk, ids[(rev[ids] < 0) | (ids < rev[ids])]))


def seed_costs(net: FootNetwork, car, reach: Reach, edge_w: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """The seeds a car reaches within ``limit``: walking nodes and their cost, cheapest first (a node listed again
    at a higher cost is not walked from again: :func:`park_walk`)."""
    seed_src, seed_edge, seed_frac, seed_node = net.seed_src, net.seed_edge, net.seed_frac, net.seed_node
    if len(reach.nodes) * SEED_GATHER_SHARE < car.n_nodes:
        # A search settling a small part of the graph: only the seeds on the settled nodes' edges and on the edges
        # it started on may be reached (the same seeds, in the same order, as a scan of them all).
        indptr, by_src = net.seeds_by_src(car.n_nodes)
        nodes = np.concatenate([np.asarray(reach.nodes, dtype=np.int64),
                                np.asarray(car.edge_src)[[int(e) for e, _, _ in reach.starts]].astype(np.int64)])
        seeds = np.unique(by_src[expand_ranges(indptr[nodes], indptr[nodes + 1] - indptr[nodes])])
        seed_src, seed_edge, seed_frac, seed_node = seed_src[seeds], seed_edge[seeds], seed_frac[seeds], seed_node[seeds]
    cost = search_index(car).node_costs(reach.nodes, reach.cost, seed_src) + seed_frac * edge_w[seed_edge]
    for e, f0, c0 in reach.starts:
        on = np.flatnonzero(seed_edge == e)
        on = on[seed_frac[on] >= f0]
        cost[on] = np.minimum(cost[on], c0 + (seed_frac[on] - f0) * float(edge_w[e]))
    keep = np.flatnonzero(cost <= limit + limit * 1e-9 + 1e-9)
    order = keep[np.argsort(cost[keep], kind="stable")]
    return np.ascontiguousarray(seed_node[order]), np.ascontiguousarray(cost[order])


def walked(net: FootNetwork, car, reach: Reach, edge_w: np.ndarray, limit: float, walk_m: float) -> tuple:
    """The footways walked within ``walk_m`` from the roads reached within ``limit``: :func:`park_walk`'s records
    ``(edge, cost, upto)``, cost ascending. Those of a lower limit are the ones costing at most it (the seeds run
    cheapest first), so one call serves every range of a request."""
    nodes, cost = seed_costs(net, car, reach, edge_w, limit)
    with net.pool("left", net.walk.n_nodes, np.uint64).lend() as left, \
            net.pool("along", net.walk.n_edges, np.uint64).lend() as along:
        return park_walk(nodes, cost, net.indptr, net.adj_edge, net.adj_dst, net.adj_len, float(walk_m), left, along)


def foot_field_args(net: FootNetwork, records: tuple, limit: float, bbox: tuple[float, float, float, float],
                    head: np.ndarray) -> tuple:
    """The ``foot`` argument of :func:`lds._isoline_raster.catchment_field`: the walking graph's geometry, the
    ``records`` (:func:`walked`) costing at most ``limit``, and the walking-only ways in ``bbox`` (lon/lat), which
    claim the places nearest them; ``head``: a per-edge array of zeros lent by :meth:`FootNetwork.heads`."""
    edge, cost, upto = records
    n = int(np.searchsorted(cost, limit + limit * 1e-9 + 1e-9, side="right"))
    return (*net.geometry, edge[:n], cost[:n], upto[:n], head, net.ways.in_box(bbox))
