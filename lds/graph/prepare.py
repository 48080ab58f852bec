"""Build-time preprocessing for point-to-point routing: a contraction hierarchy over compact arrays.

For the car the hierarchy is built over the **edge-based** graph: its nodes are the directed road edges and its
arcs the turns allowed between them, weighted ``turn cost + weight of the edge turned onto``. That is what
carries OSRM's car.lua semantics (turn penalty by angle, U-turns only where OSRM allows them, ``no_*``/``only_*``
restrictions at via nodes, access-restricted roads only at the ends). Walking and cycling have free turns, so
their hierarchy is over the plain node graph (arcs = road edges), a third the size and much faster to contract.
Everything is written as ``ch_*.npy``/``turn_*.npy`` beside the road arrays and memory-mapped at load.

Arrays written (N = hierarchy nodes: road edges for the car, road nodes otherwise; arcs numbered forward
lists first):

- ``ch_edge_w`` (edges) int32: routing weight of each road edge in ms (OSRM routability for the car: duration
  with the speed scaled by the way's penalty).
- ``ch_fwd_off`` (N+1) int64, ``ch_fwd_head``/``ch_fwd_w``: arcs to higher-ranked nodes, by tail.
- ``ch_bwd_off`` (N+1) int64, ``ch_bwd_tail``/``ch_bwd_w``: arcs from higher-ranked nodes, by head.
- ``ch_arc_head``/``ch_arc_label``/``ch_arc_c1``/``ch_arc_c2``: every arc's head node, its road edge (original
  arcs) and, for shortcuts, its two halves (else -1). The build's derived stage compacts them
  (:data:`lds.formats.CH_COMPACTED`: ``ch_arc_c1`` then holds ``~edge`` for an original arc; no head or label).
- ``ch_loop_w``/``ch_loop_c1``/``ch_loop_c2`` (N): cheapest cycle back to a node through lower ones
  (a car route whose target lies behind its source on the same one-way edge needs it).
- ``ch_rank`` (N): contraction order, the number of each graph node in the hierarchy, whose nodes are numbered by
  rank (the lists, loops and arcs' heads and tails above); ``ch_node`` (N): the graph node of each
  (:data:`lds.formats.CH_BY_RANK`).
- ``ch_arc_dur``/``ch_arc_dist`` (arcs), ``ch_loop_dur``/``ch_loop_dist`` (N) float32: seconds and metres of every
  arc and loop, for the distance matrix (:mod:`lds.graph.arc_costs`).
- ``turn_bearing_start``/``turn_bearing_end`` (edges) float32: headings leaving/arriving, for angles and steps.
- ``turn_node_out`` (road nodes) uint8: out-degree of each road node (roundabout exits, step rules).
- ``turn_out_off``/``turn_out_edges``, ``turn_in_off``/``turn_in_edges``: edges out of / into each road node.
- ``snap_*``: the snapping grid (:func:`lds.graph.snap.build_grid`); for the car its largest component is the
  turn-expanded graph's.
"""

from __future__ import annotations

import ctypes
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from lds.formats import CH_FORMAT, RESTRICTED_ENTRY_PENALTY_S
from lds.graph.arc_costs import write_arc_costs
from lds.graph.dissection import nested_dissection, positions
from lds.graph.snap import build_grid

# OSRM car.lua turn model (process_turn) and guidance lookahead.
CAR_TURN_PENALTY_S = 7.5  # turn_penalty: the sigmoid's maximum
CAR_TURN_BIAS = 1.075  # turn_bias: right turns cheaper than left ones (right-hand traffic)
CAR_UTURN_PENALTY_S = 20.0  # properties.u_turn_penalty
BEARING_LOOKAHEAD_M = 10.0  # OSRM's coordinate extractor looks ~10 m along a road for its perceived bearing
# Witness searches stop after this many settled nodes: fewer = faster build, a few more shortcuts.
WITNESS_SETTLE_LIMIT = 50
# Every node's first priority comes from searches of at most this many settled nodes (each is evaluated again, in
# full, when the node comes up, and its neighbours' after each contraction): on the 5M-node synthetic country's car
# graph the priority part 18.8 / 18.2 -> 13.7 / 12.6 s for 0.016 % more arcs (2,000 random queries settling the same
# 848 nodes on average), on the 20M-node country's 74.0 -> 64.6 s of a 569 -> 533 s hierarchy for 0.025 % more arcs.
FIRST_PRIORITY_SETTLE_LIMIT = 5
# Contraction by node priority stops once the cheapest node left has more than CORE_DEGREE arcs, or more than
# CORE_SOFT_DEGREE while over CORE_SOFT_SHARE of the nodes are still left (the hierarchy is densifying: grid-like
# networks with turn costs). With NESTED_DISSECTION the nodes left are then contracted in a nested dissection
# order (lds.graph.dissection), so the whole graph contracts; without it they stay a core searched by plain
# bidirectional Dijkstra. Real networks only get dense at the top: Monaco, Heidelberg and Copenhagen contract by
# priority alone (Copenhagen gets dense with 40 % left: dissecting it there doubled query times). A 100x100
# street grid (car, jittered speeds; scripts/bench_grid_ch.py) used to leave half its nodes as a core (4.8 s
# build, 3.7 ms per query); switching to dissection once the cheapest node has over 10 arcs contracts it fully in
# 8.3 s with 0.44 ms queries (a later switch, at 30 arcs, was slower to build and query: a greedy order's core
# dissects badly); 300x300: 51 s / 71 ms -> 332 s / 5.8 ms. On the 20k-node synthetic country
# (scripts/synth_country.py) car queries went 1.56 -> 0.23 ms, walk 0.46 -> 0.09 ms. Cuts at any gap in four
# directions, 8-node leaves and the DISSECTION_* witness limits then took the 300x300 grid from 344 to 71 s CPU,
# 17.7M to 15.1M arcs and 2.3 to 0.96 GB peak, queries 2161 -> 2040 settled nodes (p50 6.0 -> 4.3 ms); the
# 230k-node country's car from 35 to 14 s CPU and 4.8M to 4.0M arcs, queries 842 -> 531 settled (0.70 -> 0.37 ms).
CORE_DEGREE = 100
CORE_SOFT_DEGREE = 10
CORE_SOFT_SHARE = 0.50
NESTED_DISSECTION = True
# Witness searches in the dissection-ordered part stop after DISSECTION_SETTLE_LIMIT settled nodes or once
# they have relaxed DISSECTION_RELAX_LIMIT arcs: its nodes have up to hundreds of arcs, so a settled node can
# cost that many, and the order already keeps the shortcuts few. A budget in arcs lets sparse nodes search
# farther than dense ones: on the 300x300 grid (20, 100) against a plain 5 settled cut the contraction by a
# third for the same arcs; on the synthetic country it gave fewer arcs than 5 settled in the same time. Wider
# searches do not pay: on the 200k-node country (100, 1000) cut 8 % of the arcs for 2.5x the contraction's CPU,
# (2000, 200000) 16 % for 11x; searches limited to 2 or 3 hops found fewer witnesses for the same time.
DISSECTION_SETTLE_LIMIT = 20
DISSECTION_RELAX_LIMIT = 100
# Within each leaf and separator of the dissection (whose order among themselves is free), contract first the node
# whose ins x outs, less the arcs it removes, is smallest (the minimum degree rule): 3 % fewer arcs on the
# 200k-node country for the same time.
DISSECTION_MIN_DEGREE = True
# Modes with turn costs get the edge-based hierarchy; the others the node-based one.
EDGE_BASED_MODES = frozenset({"car"})

Progress = Callable[[str, str], None]


def _csr(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable").astype(np.int32)
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=off[1:])
    return off, order


def _restrictions(arrays: dict[str, np.ndarray], n_nodes: int) -> tuple[np.ndarray, ...]:
    """Turn restrictions grouped by via node: (offsets, from_way, to_way, only)."""
    if "restr_via_node" not in arrays or len(arrays["restr_via_node"]) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(n_nodes + 1, dtype=np.int64), empty, empty, np.zeros(0, dtype=np.uint8)
    via = np.asarray(arrays["restr_via_node"], dtype=np.int64)
    off, order = _csr(via, n_nodes)
    return (off, np.ascontiguousarray(arrays["restr_from_way"][order], dtype=np.int64),
            np.ascontiguousarray(arrays["restr_to_way"][order], dtype=np.int64),
            np.asarray(arrays["restr_only"][order], dtype=np.uint8))


def edge_basics(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What every hierarchy needs per edge: routing weight in ms, headings at both ends, node out-degrees."""
    from lds.graph import _turns

    b_start, b_end = _turns.edge_bearings(np.ascontiguousarray(arrays["edge_geom_off"], dtype=np.int64),
                                       np.ascontiguousarray(arrays["geom_lon"], dtype=np.float64),
                                       np.ascontiguousarray(arrays["geom_lat"], dtype=np.float64),
                                       BEARING_LOOKAHEAD_M)
    weight = arrays["edge_weight"] if "edge_weight" in arrays else arrays["edge_time"]
    out_deg = np.bincount(np.asarray(arrays["edge_src"]), minlength=len(arrays["node_osm"]))
    return {
        "edge_w": np.rint(np.asarray(weight, dtype=np.float64) * 1000.0).astype(np.int32),
        "bearing_start": b_start, "bearing_end": b_end, "node_out": np.minimum(out_deg, 255).astype(np.uint8),
    }


def turn_graph(arrays: dict[str, np.ndarray], mode: str) -> dict[str, np.ndarray]:
    """The edge-based graph of a mode: arcs (from_edge, to_edge), their weights and turn costs in ms (plus the
    :func:`edge_basics`). Turn costs, U-turn rules and restrictions apply to the car only."""
    from lds.graph import _turns

    basics = edge_basics(arrays)
    src = np.ascontiguousarray(arrays["edge_src"], dtype=np.int32)
    dst = np.ascontiguousarray(arrays["edge_dst"], dtype=np.int32)
    rev = np.ascontiguousarray(arrays["edge_rev"], dtype=np.int32)
    n_nodes = len(arrays["node_osm"])
    out_off, out_edges = _csr(src, n_nodes)
    in_off, in_edges = _csr(dst, n_nodes)
    car = mode in EDGE_BASED_MODES
    r_off, r_from, r_to, r_only = _restrictions(arrays if car else {}, n_nodes)
    barrier = np.zeros(n_nodes, dtype=np.uint8)
    if "node_barrier" in arrays:
        barrier = np.ascontiguousarray(arrays["node_barrier"], dtype=np.uint8)
    flags = np.ascontiguousarray(arrays["edge_flags"], dtype=np.uint8)
    t_from, t_to, t_cost = _turns.expand_turns(
        n_nodes, src, dst, rev, np.ascontiguousarray(arrays["edge_way"], dtype=np.int64), flags,
        basics["bearing_start"], basics["bearing_end"], out_off, out_edges, in_off, in_edges, r_off, r_from, r_to,
        r_only, barrier, car, CAR_TURN_PENALTY_S, CAR_TURN_BIAS, CAR_UTURN_PENALTY_S, RESTRICTED_ENTRY_PENALTY_S)
    edge_w = basics["edge_w"]
    return {
        **basics, "from": t_from, "to": t_to, "turn_ms": t_cost,
        "arc_w": (t_cost.astype(np.int64) + edge_w[t_to]).clip(max=2**31 - 2).astype(np.int32),
    }


def _largest_component(tg: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Edges in the largest strongly connected component of the turn-expanded graph: what a car can both
    reach and leave once restrictions and U-turn rules are applied (OSRM takes its components there too)."""
    arcs = coo_matrix((np.ones(len(tg["from"]), dtype=np.int8), (tg["from"], tg["to"])), shape=(n, n)).tocsr()
    labels = connected_components(arcs, directed=True, connection="strong")[1]
    return labels == np.argmax(np.bincount(labels))


def _release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing): the contractor's
    small vectors leave hundreds of MB free but resident in the heap, which would count in the stage's peak
    beside the arc costs that follow."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _save(graph_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as ``.npy`` files, each dropped from the dict once written (so freed if nothing else
    holds it)."""
    for name in list(arrays):
        np.save(graph_dir / f"{name}.npy", np.ascontiguousarray(arrays.pop(name)))


def prepare_routing(graph_dir: str | Path, mode: str, progress: Progress | None = None) -> dict[str, Any]:
    """Write the routing hierarchy of the graph in ``graph_dir``; return its counts (also in ``ch.json``).

    The contraction's arcs dominate the memory (a country's car graph gets ~20 per node), so everything else is
    written before it starts (the snapping grid, the turn tables) and the hierarchy's arrays are written one at a
    time after it; the arc costs then read the written files."""
    from lds.graph import _ch

    graph_dir = Path(graph_dir)
    t0 = time.perf_counter()
    arrays = {p.stem: np.load(p, mmap_mode="r") for p in graph_dir.glob("*.npy")
              if not p.stem.startswith(("ch_", "turn_", "snap_"))}
    edge_based = mode in EDGE_BASED_MODES
    tg = turn_graph(arrays, mode) if edge_based else edge_basics(arrays)
    if edge_based:  # an original arc of the edge-based graph stands for the edge it turns onto
        n = len(tg["edge_w"])
        arcs = {"tail": tg["from"], "head": tg["to"], "weight": tg["arc_w"], "label": tg["to"]}
    else:
        n = len(arrays["node_osm"])
        arcs = {"tail": np.ascontiguousarray(arrays["edge_src"], dtype=np.int32),
                "head": np.ascontiguousarray(arrays["edge_dst"], dtype=np.int32), "weight": tg["edge_w"],
                "label": np.arange(len(arrays["edge_src"]), dtype=np.int32)}
    n_turns = len(tg["from"]) if edge_based else None
    t1 = time.perf_counter()
    _save(graph_dir, build_grid(arrays, _largest_component(tg, n) if edge_based else None))
    # Edges out of and into every road node, for points snapped onto a node.
    n_nodes = len(arrays["node_osm"])
    turn = {"ch_edge_w": tg["edge_w"], "turn_bearing_start": tg["bearing_start"],
            "turn_bearing_end": tg["bearing_end"], "turn_node_out": tg["node_out"]}
    turn["turn_out_off"], turn["turn_out_edges"] = _csr(np.asarray(arrays["edge_src"]), n_nodes)
    turn["turn_in_off"], turn["turn_in_edges"] = _csr(np.asarray(arrays["edge_dst"]), n_nodes)
    _save(graph_dir, turn)
    del tg

    def report(done: int, total: int) -> None:
        if progress:
            progress(f"{mode} ch", f"{done}/{total} contracted")

    core_order = None
    if NESTED_DISSECTION:
        x, y = positions(arrays, edge_based)

        def core_order(nodes: np.ndarray, tails: np.ndarray, heads: np.ndarray) -> Any:  # order, or (order, cells)
            if progress:
                progress(f"{mode} ch", f"{len(nodes)} nodes left dense: nested dissection order")
            return nested_dissection(nodes, tails, heads, x, y, cells=DISSECTION_MIN_DEGREE, consume=True)

    del arrays  # unmapped: the geometry's pages read above leave the stage's memory
    t_contract = time.perf_counter()

    def sink(name: str, array: np.ndarray) -> None:
        _save(graph_dir, {f"ch_{name}": array})

    ch = _ch.contract(n, arcs, WITNESS_SETTLE_LIMIT, True, report, 100_000, CORE_DEGREE,
                      CORE_SOFT_DEGREE, CORE_SOFT_SHARE, core_order, DISSECTION_SETTLE_LIMIT, DISSECTION_RELAX_LIMIT,
                      sink, graph_dir,  # the arcs spilled beside the graph (on the build's disk, not in a tmpfs)
                      FIRST_PRIORITY_SETTLE_LIMIT)
    del core_order
    t2 = time.perf_counter()
    stats = {
        "format": CH_FORMAT, "mode": mode, "kind": "edge" if edge_based else "node", "nodes": n,
        "turns": n_turns, "shortcuts": ch["_shortcuts"], "arcs": ch["_arcs"], "core_nodes": int(ch["core_size"][0]),
        "dissection_nodes": int(ch["ordered_nodes"][0]), "turn_seconds": round(t1 - t0, 3),
        "contract_seconds": round(t2 - t_contract, 3),
        "restricted_entry_penalty_s": RESTRICTED_ENTRY_PENALTY_S, "turn_costs": edge_based,
    }
    _save(graph_dir, {f"ch_{k}": ch.pop(k) for k in list(ch) if not k.startswith("_")})  # what sink left
    del ch
    _release_free_memory()
    t3 = time.perf_counter()
    write_arc_costs(graph_dir, edge_based)
    stats["arc_costs_seconds"] = round(time.perf_counter() - t3, 3)
    (graph_dir / "ch.json").write_text(json.dumps(stats))
    if progress:
        progress(f"{mode} ch", f"{stats['kind']}-based, {n} nodes, {stats['arcs']} arcs ({stats['shortcuts']} "
                               f"shortcuts) in {t2 - t0:.1f} s")
    return stats
