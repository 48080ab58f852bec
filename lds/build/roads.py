"""Road graph of one travel mode from the ways read by :mod:`lds.build.osm`, osmnx-style:
graph nodes are way ends and nodes shared by two or more usable ways, every edge keeps its full
geometry, and each direction a mode may travel is its own edge.

A node the mode may not pass (a bollard for cars: ``profiles.NODE_BLOCKED``) cuts its ways and becomes
one dead-end node per segment that reaches it, so routes can come up to it and turn back, never cross it
(OSRM's barrier semantics). Those copies have negative ``node_osm`` ids.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from lds.build.osm import Roads
from lds.build.profiles import PROFILES, Usage, highway_class
from lds.formats import FLAG_BRIDGE, FLAG_RESTRICTED, FLAG_ROUNDABOUT, FLAG_TOLL, FLAG_TUNNEL
from lds.geo import haversine_m

SIGNAL_PENALTY_S = 2.0  # OSRM car.lua traffic_signal_penalty


@dataclass
class ModeGraph:
    mode: str
    arrays: dict[str, np.ndarray]
    names: list[str]
    usages: dict[int, Usage] = field(default_factory=dict)  # way index -> how this mode may use it (lds.build.tables)


def _valid_runs(valid: np.ndarray, a: int, b: int) -> list[tuple[int, int]]:
    """Index ranges [s, e) of consecutive located nodes of one way (way split at missing refs)."""
    v = valid[a:b]
    if v.all():
        return [(a, b)] if b - a >= 2 else []
    edges = np.diff(np.concatenate(([0], v.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(a + s, a + e) for s, e in zip(starts, ends) if e - s >= 2]


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for every pair, vectorised."""
    total = int(counts.sum())
    base = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return base + np.arange(total)


def _via_at_way_ends(roads: Roads, ways: np.ndarray, via: np.ndarray) -> np.ndarray:
    """Whether each via node is the first or last node of its way: otherwise the turn it names is ambiguous
    and, as in OSRM, the restriction is dropped (a way must be split at a restriction's via node)."""
    order = np.argsort(roads.way_ids)
    pos = np.searchsorted(roads.way_ids, ways, sorter=order)
    found = pos < len(order)
    i = order[np.minimum(pos, len(order) - 1)]
    found &= roads.way_ids[i] == ways
    first, last = roads.refs[roads.offsets[i]], roads.refs[roads.offsets[i + 1] - 1]
    return found & ((first == via) | (last == via))


def cumulative_length(roads: Roads) -> np.ndarray:
    """Metres along the vertex arrays up to each vertex: ``cum[e] - cum[s]`` is the length of vertices s..e of
    one way (steps across way ends and missing nodes count too, but never inside a run)."""
    lon0, lat0 = np.nan_to_num(roads.lon), np.nan_to_num(roads.lat)
    step = np.zeros(len(lon0))
    step[:-1] = haversine_m(lon0[:-1], lat0[:-1], lon0[1:], lat0[1:])
    return np.concatenate(([0.0], np.cumsum(step)))


def build_mode_graph(roads: Roads, mode: str, progress=None) -> ModeGraph:
    usage_of = PROFILES[mode]
    valid = np.isfinite(roads.lon)
    runs: list[tuple[int, int, int]] = []  # (way index, start, end)
    usages = {}
    for i, tags in enumerate(roads.tags):
        usage = usage_of(tags)
        if usage is None or not (usage.forward or usage.backward):
            continue
        usages[i] = usage
        for s, e in _valid_runs(valid, int(roads.offsets[i]), int(roads.offsets[i + 1])):
            runs.append((i, s, e))
    if not runs:
        raise ValueError(f"no {mode} roads in this extract")
    run_starts = np.array([r[1] for r in runs], dtype=np.int64)
    run_ends = np.array([r[2] for r in runs], dtype=np.int64)
    used = roads.refs[_ranges(run_starts, run_ends - run_starts)]
    uniq, counts = np.unique(used, return_counts=True)
    node_refs = np.union1d(uniq[counts >= 2], np.concatenate([roads.refs[run_starts], roads.refs[run_ends - 1]]))
    blocked = roads.blocked.get(mode, np.empty(0, dtype=np.int64))
    blocked = blocked[np.isin(blocked, uniq)]
    node_refs = np.union1d(node_refs, blocked)
    is_node = np.isin(roads.refs, node_refs)

    # Cut runs at graph nodes; a segment that closes on itself is split at its middle vertex.
    seg_way, seg_s, seg_e = [], [], []
    extra_nodes = []
    for way, s, e in runs:
        cuts = (np.flatnonzero(is_node[s:e]) + s).tolist()
        for a, b in itertools.pairwise(cuts):
            if roads.refs[a] == roads.refs[b]:
                if b - a < 2:
                    continue
                m = (a + b) // 2
                extra_nodes.append(roads.refs[m])
                seg_way += [way, way]
                seg_s += [a, m]
                seg_e += [m, b]
            else:
                seg_way.append(way)
                seg_s.append(a)
                seg_e.append(b)
    if extra_nodes:
        node_refs = np.union1d(node_refs, np.asarray(extra_nodes, dtype=np.int64))
    seg_way_a = np.asarray(seg_way, dtype=np.int64)
    seg_s_a = np.asarray(seg_s, dtype=np.int64)
    seg_e_a = np.asarray(seg_e, dtype=np.int64)
    # Node ids of each segment's ends; at a blocked node every segment gets a dead end of its own.
    seg_first, seg_last = roads.refs[seg_s_a], roads.refs[seg_e_a]
    if len(blocked):
        k = np.arange(len(seg_s_a), dtype=np.int64)
        seg_first = np.where(np.isin(seg_first, blocked), -(2 * k + 1), seg_first)
        seg_last = np.where(np.isin(seg_last, blocked), -(2 * k + 2), seg_last)
        copies = np.concatenate([seg_first[seg_first < 0], seg_last[seg_last < 0]])
        node_refs = np.union1d(np.setdiff1d(node_refs, blocked), copies)

    # Per-vertex prefix sums give segment lengths and signal counts without a Python loop.
    cum = cumulative_length(roads)
    length = cum[seg_e_a] - cum[seg_s_a]
    sig = np.isin(roads.refs, roads.signals).astype(np.int64)
    sig_cum = np.concatenate(([0], np.cumsum(sig)))
    sig_fwd = sig_cum[seg_e_a + 1] - sig_cum[seg_s_a + 1]
    sig_bwd = sig_cum[seg_e_a] - sig_cum[seg_s_a]

    fwd_ok = np.array([usages[w].forward for w in seg_way], dtype=bool)
    bwd_ok = np.array([usages[w].backward for w in seg_way], dtype=bool)
    spd_f = np.array([usages[w].speed_fwd for w in seg_way]) / 3.6
    spd_b = np.array([usages[w].speed_bwd for w in seg_way]) / 3.6
    pen_f = np.array([usages[w].penalty_fwd for w in seg_way])
    pen_b = np.array([usages[w].penalty_bwd for w in seg_way])
    restr_f = np.array([usages[w].restricted_fwd for w in seg_way], dtype=bool)
    restr_b = np.array([usages[w].restricted_bwd for w in seg_way], dtype=bool)
    penalty = SIGNAL_PENALTY_S if mode == "car" else 0.0

    f_idx, b_idx = np.flatnonzero(fwd_ok), np.flatnonzero(bwd_ok)
    nf = len(f_idx)
    seg_of_edge = np.concatenate([f_idx, b_idx])
    forward = np.concatenate([np.ones(nf, bool), np.zeros(len(b_idx), bool)])
    start_v = np.where(forward, seg_s_a[seg_of_edge], seg_e_a[seg_of_edge])
    end_v = np.where(forward, seg_e_a[seg_of_edge], seg_s_a[seg_of_edge])
    src = np.searchsorted(node_refs, np.where(forward, seg_first[seg_of_edge], seg_last[seg_of_edge])).astype(np.int32)
    dst = np.searchsorted(node_refs, np.where(forward, seg_last[seg_of_edge], seg_first[seg_of_edge])).astype(np.int32)
    edge_len = length[seg_of_edge]
    edge_signals = np.where(forward, sig_fwd[seg_of_edge], sig_bwd[seg_of_edge])
    edge_speed = np.where(forward, spd_f[seg_of_edge], spd_b[seg_of_edge])
    edge_time = edge_len / edge_speed + penalty * edge_signals
    # The routing weight (OSRM's routability): duration with the speed scaled by the way's penalty.
    edge_penalty = np.where(forward, pen_f[seg_of_edge], pen_b[seg_of_edge])
    edge_weight = edge_len / (edge_speed * edge_penalty) + penalty * edge_signals
    edge_restricted = np.where(forward, restr_f[seg_of_edge], restr_b[seg_of_edge])
    # Twin (reverse) edge of the same segment, or -1.
    pos_in_b = np.full(len(seg_s_a), -1, dtype=np.int64)
    pos_in_b[b_idx] = np.arange(len(b_idx)) + nf
    pos_in_f = np.full(len(seg_s_a), -1, dtype=np.int64)
    pos_in_f[f_idx] = np.arange(nf)
    rev = np.where(forward, pos_in_b[seg_of_edge], pos_in_f[seg_of_edge]).astype(np.int32)

    # Geometry: vertex indices of each edge in travel order.
    n_vert = seg_e_a[seg_of_edge] - seg_s_a[seg_of_edge] + 1
    geom_off = np.concatenate(([0], np.cumsum(n_vert))).astype(np.int64)
    pos = _ranges(np.zeros(len(n_vert), dtype=np.int64), n_vert)  # 0..n-1 within each edge
    edge_rep = np.repeat(np.arange(len(n_vert)), n_vert)
    vert = np.where(forward[edge_rep], start_v[edge_rep] + pos, start_v[edge_rep] - pos)

    names: list[str] = [""]
    name_index: dict[str, int] = {"": 0}
    way_name = np.zeros(len(roads.tags), dtype=np.int32)
    way_class = np.zeros(len(roads.tags), dtype=np.int8)
    way_flags = np.zeros(len(roads.tags), dtype=np.uint8)
    for w in usages:
        tags = roads.tags[w]
        label = tags.get("name") or tags.get("ref") or ""
        if label not in name_index:
            name_index[label] = len(names)
            names.append(label)
        way_name[w] = name_index[label]
        way_class[w] = highway_class(tags)
        flags = 0
        if tags.get("junction") in ("roundabout", "circular"):
            flags |= FLAG_ROUNDABOUT
        if tags.get("toll") == "yes":
            flags |= FLAG_TOLL
        if tags.get("tunnel") not in (None, "no"):
            flags |= FLAG_TUNNEL
        if tags.get("bridge") not in (None, "no"):
            flags |= FLAG_BRIDGE
        way_flags[w] = flags
    edge_way_idx = seg_way_a[seg_of_edge]

    n = len(node_refs)
    labels = connected_components(coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)).tocsr(),
                                  directed=True, connection="strong")[1]
    sizes = np.bincount(labels)
    first_vertex = np.empty(n, dtype=np.int64)
    first_vertex[np.concatenate([src, dst])] = np.concatenate([start_v, end_v])
    arrays = {
        "node_osm": node_refs.astype(np.int64),
        "node_lon": roads.lon[first_vertex],
        "node_lat": roads.lat[first_vertex],
        "node_scc": labels.astype(np.int32),
        "edge_src": src,
        "edge_dst": dst,
        "edge_length": edge_len.astype(np.float32),
        "edge_time": edge_time.astype(np.float32),
        "edge_rev": rev,
        "edge_way": roads.way_ids[edge_way_idx],
        "edge_name": way_name[edge_way_idx],
        "edge_class": way_class[edge_way_idx],
        "edge_flags": way_flags[edge_way_idx] | np.where(edge_restricted, FLAG_RESTRICTED, 0).astype(np.uint8),
        "edge_weight": edge_weight.astype(np.float32),
        "edge_geom_off": geom_off,
        "geom_lon": roads.lon[vert],
        "geom_lat": roads.lat[vert],
        "geom_osm": roads.refs[vert],
    }
    if mode == "car" and roads.restrictions:
        r = np.array([(f, v, t, k.startswith("only_")) for f, v, t, k in roads.restrictions], dtype=np.int64)
        via = np.searchsorted(node_refs, r[:, 1])
        ok = (via < n) & (node_refs[np.minimum(via, n - 1)] == r[:, 1])
        ok &= _via_at_way_ends(roads, r[:, 0], r[:, 1]) & _via_at_way_ends(roads, r[:, 2], r[:, 1])
        arrays.update({
            "restr_from_way": r[ok, 0], "restr_via_node": via[ok].astype(np.int32),
            "restr_to_way": r[ok, 2], "restr_only": r[ok, 3].astype(bool),
        })
    arrays["largest_scc"] = np.array([int(np.argmax(sizes))], dtype=np.int32)
    return ModeGraph(mode, arrays, names, usages)


def write_graph(graph: ModeGraph, out: Path) -> dict:
    """Write one .npy per array (memory-mappable) plus ``graph.json``; return counts for meta.json."""
    out.mkdir(parents=True, exist_ok=True)
    for name, array in graph.arrays.items():
        np.save(out / f"{name}.npy", np.ascontiguousarray(array))
    labels = graph.arrays["node_scc"]
    largest = int(graph.arrays["largest_scc"][0])
    counts = {
        "nodes": len(graph.arrays["node_osm"]),
        "edges": len(graph.arrays["edge_src"]),
        "largest_scc_nodes": int((labels == largest).sum()),
        "length_km": round(float(graph.arrays["edge_length"].sum()) / 1000, 1),
        "turn_restrictions": len(graph.arrays.get("restr_via_node", ())),
        "barrier_dead_ends": int((graph.arrays["node_osm"] < 0).sum()),
    }
    (out / "graph.json").write_text(json.dumps({"mode": graph.mode, "names": graph.names, "counts": counts},
                                               ensure_ascii=False))
    return counts
