"""Point-to-point queries on the contraction hierarchy written by :mod:`lds.graph.prepare`.

A leg starts part-way along the snapped source edge and ends part-way along the snapped target edge; both
directions of a two-way road are tried at each end (partial costs by fraction), and the answer is the sequence
of road edges travelled with the cost of each turn between them.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import numpy as np

from lds.errors import Unavailable
from lds.formats import CH_BY_RANK, CH_FORMAT, RESTRICTED_ENTRY_PENALTY_S
from lds.graph._guidance import turn_durations_ms
from lds.graph.search import node_at
from lds.graph.snap import Snap


@dataclass(frozen=True)
class LegPath:
    """Road edges of one leg in travel order; the first is entered at ``first_frac`` of its length and the last
    left at ``last_frac``. ``turn_s[i]`` is the turn duration between ``edges[i]`` and ``edges[i + 1]``."""

    edges: np.ndarray
    first_frac: float
    last_frac: float
    weight_s: float
    turn_s: np.ndarray


LABEL_CHECK = 32  # queries between two looks at the labels' resident pages (mincore: ~10 us per 100 MB of labels)


def hierarchy_query(graph):
    """A hierarchy query (:class:`lds.graph._ch_query.CHQuery`) over a loaded graph's arrays: compacted by the build
    (:data:`lds.formats.CH_COMPACTED`) or, before its derived stage ran, the contraction's own (head and label per
    arc beside the first half; the unpacking codes are then made in this process); numbered by rank
    (:data:`lds.formats.CH_BY_RANK`) or, built before that, by the graph's own numbers."""
    from lds.graph._ch_query import CHQuery

    g = graph.arrays
    lists = [g[name] for name in ("ch_fwd_off", "ch_fwd_head", "ch_fwd_w", "ch_bwd_off", "ch_bwd_tail", "ch_bwd_w")]
    arcs = ("ch_arc_head", "ch_arc_label", "ch_arc_c1") if "ch_arc_label" in g else ("ch_arc_c1",)
    loops = ("ch_arc_c2", "ch_loop_w", "ch_loop_c1", "ch_loop_c2")
    maps = {"rank": g["ch_rank"], "node": g[CH_BY_RANK]} if CH_BY_RANK in g else {}
    return CHQuery(*lists, *(g[name] for name in arcs + loops), **maps)


def _cheapest(nodes: list[int], costs: list[float], node: int) -> int:
    """Index of the cheapest start label on ``node`` (the one the search kept when a node got several)."""
    return min((i for i, x in enumerate(nodes) if x == node), key=costs.__getitem__)


class Router:
    """The hierarchy of one mode's graph plus a query workspace (queries are serialised by a lock: each takes
    tens of microseconds and holds the GIL anyway)."""

    def __init__(self, graph):
        g = graph
        meta_file = g.path / "ch.json"
        meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
        if meta.get("format") != CH_FORMAT:
            raise Unavailable(f"the {g.mode} graph in {g.path} has no routing hierarchy of this lds version; "
                              "rebuild the data with `lds build`", 503)
        self.graph = g
        self.edge_based = meta["kind"] == "edge"
        # Plain ndarray views of the memory-mapped arrays: indexing a np.memmap goes through Python code.
        self.views = {name: np.asarray(array) for name, array in g.arrays.items()}
        self.edge_w = self.views["ch_edge_w"]
        self.rev = self.views["edge_rev"]
        self.src = self.views["edge_src"]
        self.dst = self.views["edge_dst"]
        self.flags = self.views["edge_flags"]
        self._query = hierarchy_query(g)
        self._lock = threading.Lock()
        self._since_check = 0
        self.released = 0  # times the labels went back to the system

    def _ends(self, snap: Snap, source: bool) -> tuple[list[int], list[float], list[int], list[float]]:
        """Directed edges at a snapped point with their fractions along each, and the search's start labels.

        Edge-based: the node is the edge itself; a source pays the rest of its edge, a target gets back the part
        of its edge it does not travel (a negative start). Node-based: a source starts at its edge's end node
        having paid the rest of the edge; a target is reached from its edge's start node plus the part travelled.
        A point on a road node may leave by any edge out of it and be reached by any edge into it, with no turn:
        which edge the snap picked among those meeting there must not matter.
        """
        e, f = snap.edge, snap.fraction
        edges, fracs = [e], [f]
        r = int(self.rev[e])
        if r >= 0:
            edges.append(r)
            fracs.append(1.0 - f)
        node = node_at(snap, float(self.views["edge_length"][snap.edge]), self.src, self.dst)
        if node >= 0:
            leave = source == self.edge_based  # edge-based sources and node-based targets leave the node
            off, adj = (self.views["turn_out_off"], self.views["turn_out_edges"]) if leave else \
                (self.views["turn_in_off"], self.views["turn_in_edges"])
            for k in range(int(off[node]), int(off[node + 1])):
                edges.append(int(adj[k]))
                fracs.append(0.0 if leave else 1.0)
        if snap.allowed is not None:  # bearings or approaches: only these directions of travel at the point
            kept = [(edge, frac) for edge, frac in zip(edges, fracs) if edge in snap.allowed]
            edges, fracs = [x[0] for x in kept], [x[1] for x in kept]
        nodes, costs = [], []
        for edge, frac in zip(edges, fracs):
            w = float(self.edge_w[edge])
            if self.edge_based:
                nodes.append(edge)
                costs.append((1.0 - frac) * w if source else -(1.0 - frac) * w)
            elif source:
                nodes.append(int(self.dst[edge]))
                costs.append((1.0 - frac) * w)
            else:
                nodes.append(int(self.src[edge]))
                costs.append(frac * w)
        return edges, fracs, nodes, costs

    def leg(self, a: Snap, b: Snap) -> LegPath | None:
        """Cheapest path from snapped point ``a`` to snapped point ``b``, or None when there is none."""
        s_edges, s_fracs, s_nodes, s_costs = self._ends(a, True)
        t_edges, t_fracs, t_nodes, t_costs = self._ends(b, False)
        direct = None
        if not self.edge_based:  # same edge, target ahead: the search (over nodes) cannot see this one
            for se, sf in zip(s_edges, s_fracs):
                for te, tf in zip(t_edges, t_fracs):
                    if se == te and tf >= sf:
                        cost = (tf - sf) * float(self.edge_w[se])
                        if direct is None or cost < direct[0]:
                            direct = (cost, se, sf, tf)
        found = self.query(s_nodes, s_costs, t_nodes, t_costs)
        if direct is not None and (found is None or direct[0] <= found[0]):
            cost, edge, sf, tf = direct
            return LegPath(np.array([edge], np.int32), sf, tf, cost / 1000.0, np.zeros(0))
        if found is None:
            return None
        return self._leg_path(found, s_edges, s_fracs, s_nodes, s_costs, t_edges, t_fracs, t_nodes, t_costs)

    def _bound_labels(self) -> None:
        """Every ``LABEL_CHECK`` queries, hand the query's label pages back to the system when they hold more than
        the graph's ``scratch_bytes``: queries spread over a country would otherwise leave a worker holding the
        labels of every area it ever searched (about 1 GB per worker at 20M OSM nodes). Called under the lock."""
        self._since_check += 1
        if self._since_check >= LABEL_CHECK:
            self._since_check = 0
            if self._query.resident_bytes() > self.graph.scratch_bytes:
                self._query.release()
                self.released += 1

    def query(self, s_nodes, s_costs, t_nodes, t_costs) -> tuple | None:
        """The hierarchy query between start labels: ``(weight_ms, first, last, labels, arc_w)`` or None."""
        with self._lock:
            self._bound_labels()
            return self._query.route(np.asarray(s_nodes, np.int32), np.asarray(s_costs, np.float64),
                                     np.asarray(t_nodes, np.int32), np.asarray(t_costs, np.float64))

    def upward(self, forward: bool, nodes, costs, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """The nodes the full upward search from ``nodes`` (at ``costs``, ms) settles within ``limit``, with their
        costs: forward from sources or backward from targets (the alternatives' via-node candidates)."""
        with self._lock:
            self._bound_labels()
            return self._query.upward(forward, np.asarray(nodes, np.int32), np.asarray(costs, np.float64), limit)

    def ends(self, snap: Snap, source: bool) -> tuple[list[int], list[float]]:
        """The hierarchy nodes a search from (``source``) or to a snapped point starts at, with their costs (ms)."""
        return self._ends(snap, source)[2:]

    def via(self, a: Snap, b: Snap, node: int) -> tuple[LegPath, np.ndarray, np.ndarray, int] | None:
        """Cheapest path from ``a`` to ``b`` through hierarchy node ``node`` (a road edge when edge-based, a
        road node otherwise): the two halves meet at the end of that edge, or at that node.

        Returns the path, the hierarchy nodes along it with their cost (ms) from the first, and the index of
        ``node`` among them; or None when either half has no route.
        """
        s_edges, s_fracs, s_nodes, s_costs = self._ends(a, True)
        t_edges, t_fracs, t_nodes, t_costs = self._ends(b, False)
        first = self.query(s_nodes, s_costs, [node], [0.0])
        second = self.query([node], [0.0], t_nodes, t_costs) if first is not None else None
        if second is None:
            return None
        labels = np.concatenate([first[3], second[3]]).astype(np.int32)
        arc_w = np.concatenate([first[4], second[4]])
        joined = (first[0] + second[0], first[1], second[2], labels, arc_w)
        path = self._leg_path(joined, s_edges, s_fracs, s_nodes, s_costs, t_edges, t_fracs, t_nodes, t_costs)
        chain = np.concatenate([[first[1]], labels if self.edge_based else self.dst[labels]]).astype(np.int32)
        cost = np.concatenate([[0.0], np.cumsum(arc_w, dtype=np.float64)])
        return path, chain, cost, len(first[3])

    def _leg_path(self, found, s_edges, s_fracs, s_nodes, s_costs, t_edges, t_fracs, t_nodes, t_costs) -> LegPath:
        weight, first, last, labels, arc_w = found
        if self.edge_based:
            edges = np.concatenate([[first], labels]).astype(np.int32)
            turn_ms = turn_durations_ms(edges, arc_w, self.edge_w, self.flags, RESTRICTED_ENTRY_PENALTY_S * 1000.0)
            first_frac = s_fracs[_cheapest(s_nodes, s_costs, first)]
            last_frac = t_fracs[_cheapest(t_nodes, t_costs, last)]
        else:
            i, j = _cheapest(s_nodes, s_costs, first), _cheapest(t_nodes, t_costs, last)
            edges = np.concatenate([[s_edges[i]], labels, [t_edges[j]]]).astype(np.int32)
            turn_ms = np.zeros(len(edges) - 1)
            first_frac, last_frac = s_fracs[i], t_fracs[j]
        return LegPath(edges, first_frac, last_frac, weight / 1000.0, np.maximum(turn_ms, 0) / 1000.0)
