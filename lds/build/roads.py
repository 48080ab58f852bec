"""Road graph of one travel mode from the ways read by :mod:`lds.build.osm`, osmnx-style:
graph nodes are way ends and nodes shared by two or more usable ways, every edge keeps its full
geometry, and each direction a mode may travel is its own edge.

A node the mode may not pass (a bollard for cars: ``profiles.NODE_BLOCKED``) cuts its ways and becomes
one dead-end node per segment that reaches it, so routes can come up to it and turn back, never cross it
(OSRM's barrier semantics). Those copies have negative ``node_osm`` ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from lds.build.osm import Roads
from lds.build.profiles import PROFILES, UNREAD_BY_PROFILES, Usage, highway_class
from lds.formats import FLAG_BRIDGE, FLAG_RESTRICTED, FLAG_ROUNDABOUT, FLAG_TOLL, FLAG_TUNNEL
from lds.geo import haversine_m

_UNSEEN = object()
SIGNAL_PENALTY_S = 2.0  # OSRM car.lua traffic_signal_penalty
_USAGE_TYPES = {"forward": bool, "backward": bool, "restricted_fwd": bool, "restricted_bwd": bool,
                "speed_fwd": np.float64, "speed_bwd": np.float64, "penalty_fwd": np.float64, "penalty_bwd": np.float64}


@dataclass
class ModeGraph:
    mode: str
    arrays: dict[str, np.ndarray]
    names: list[str]
    usages: dict[int, Usage] = field(default_factory=dict)  # way index -> how this mode may use it (lds.build.tables)


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


def usage_columns(n_ways: int, usages: Mapping[int, Usage], keys: Iterable[str]) -> dict[str, np.ndarray]:
    """Per way (index into ``Roads``), the :class:`Usage` attributes ``keys`` as arrays (False / NaN for ways the
    mode may not use): one array per attribute instead of an object per way, segment or edge."""
    idx = np.fromiter(usages.keys(), dtype=np.int64, count=len(usages))
    out = {}
    for key in keys:
        kind = _USAGE_TYPES[key]
        col = np.zeros(n_ways, bool) if kind is bool else np.full(n_ways, np.nan)
        col[idx] = np.fromiter((getattr(u, key) for u in usages.values()), dtype=kind, count=len(idx))
        out[key] = col
    return out


def located_runs(roads: Roads, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ranges [s, e) of the runs of two or more consecutive located nodes of the ``usable`` ways (a way is
    split where its nodes are missing), in vertex order."""
    way_of = np.repeat(np.arange(len(roads.way_ids), dtype=np.int32), np.diff(roads.offsets))
    keep = usable[way_of] & np.isfinite(roads.lon)
    same_way = way_of[1:] == way_of[:-1]
    del way_of
    prev_kept = np.concatenate(([False], keep[:-1] & same_way))
    next_kept = np.concatenate((keep[1:] & same_way, [False]))
    starts, ends = np.flatnonzero(keep & ~prev_kept), np.flatnonzero(keep & ~next_kept) + 1
    long = ends - starts >= 2
    return starts[long], ends[long]


def build_mode_graph(roads: Roads, mode: str, progress=None) -> ModeGraph:
    """The graph of ``mode``, vectorised over the vertex arrays: Python work is per way (its profile), never per
    node, segment or edge."""
    usage_of = PROFILES[mode]
    usages = {}
    usage_by_tags: dict[tuple, Usage | None] = {}  # one evaluation (and one Usage) per set of the tags profiles read
    for i, tags in enumerate(roads.tags):
        key = tuple(item for item in tags.items() if item[0] not in UNREAD_BY_PROFILES)
        usage = usage_by_tags.get(key, _UNSEEN)
        if usage is _UNSEEN:
            usage = usage_by_tags[key] = usage_of(tags)
        if usage is not None and (usage.forward or usage.backward):
            usages[i] = usage
    usable = np.zeros(len(roads.way_ids), bool)
    usable[list(usages)] = True
    run_starts, run_ends = located_runs(roads, usable)
    if not len(run_starts):
        raise ValueError(f"no {mode} roads in this extract")
    used = roads.refs[_ranges(run_starts, run_ends - run_starts)]
    uniq, counts = np.unique(used, return_counts=True)
    del used
    node_refs = np.union1d(uniq[counts >= 2], np.concatenate([roads.refs[run_starts], roads.refs[run_ends - 1]]))
    blocked = roads.blocked.get(mode, np.empty(0, dtype=np.int64))
    blocked = blocked[np.isin(blocked, uniq)]
    del uniq, counts
    node_refs = np.union1d(node_refs, blocked)

    # Cut runs at graph nodes; a segment that closes on itself is split at its middle vertex.
    mark = np.zeros(len(roads.refs) + 1, dtype=np.int8)
    mark[run_starts] += 1
    mark[run_ends] -= 1
    cuts = np.flatnonzero((np.cumsum(mark[:-1]) > 0) & np.isin(roads.refs, node_refs))
    del mark
    a, b = cuts[:-1], cuts[1:]
    run_of = np.searchsorted(run_starts, cuts, side="right")
    inside = run_of[:-1] == run_of[1:]
    a, b = a[inside], b[inside]
    closed = roads.refs[a] == roads.refs[b]
    split = closed & (b - a >= 2)
    mid = (a + b) // 2
    if split.any():
        node_refs = np.union1d(node_refs, roads.refs[mid[split]])
    seg_s_a = np.concatenate([a[~closed], a[split], mid[split]])
    seg_e_a = np.concatenate([b[~closed], mid[split], b[split]])
    order = np.argsort(seg_s_a, kind="stable")
    seg_s_a, seg_e_a = seg_s_a[order], seg_e_a[order]
    seg_way_a = np.searchsorted(roads.offsets, seg_s_a, side="right") - 1
    del a, b, closed, split, mid, order, cuts, run_of, inside
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

    col = usage_columns(len(roads.way_ids), usages, ("forward", "backward", "speed_fwd", "speed_bwd", "penalty_fwd",
                                                      "penalty_bwd", "restricted_fwd", "restricted_bwd"))
    fwd_ok, bwd_ok = col["forward"][seg_way_a], col["backward"][seg_way_a]
    spd_f, spd_b = col["speed_fwd"][seg_way_a] / 3.6, col["speed_bwd"][seg_way_a] / 3.6
    pen_f, pen_b = col["penalty_fwd"][seg_way_a], col["penalty_bwd"][seg_way_a]
    restr_f, restr_b = col["restricted_fwd"][seg_way_a], col["restricted_bwd"][seg_way_a]
    penalty = SIGNAL_PENALTY_S if mode == "car" else 0.0
    del col, cum, sig, sig_cum

    f_idx, b_idx = np.flatnonzero(fwd_ok), np.flatnonzero(bwd_ok)
    del fwd_ok, bwd_ok
    nf = len(f_idx)
    seg_of_edge = np.concatenate([f_idx, b_idx])
    forward = np.concatenate([np.ones(nf, bool), np.zeros(len(b_idx), bool)])
    start_v = np.where(forward, seg_s_a[seg_of_edge], seg_e_a[seg_of_edge])
    end_v = np.where(forward, seg_e_a[seg_of_edge], seg_s_a[seg_of_edge])
    src = np.searchsorted(node_refs, np.where(forward, seg_first[seg_of_edge], seg_last[seg_of_edge])).astype(np.int32)
    dst = np.searchsorted(node_refs, np.where(forward, seg_last[seg_of_edge], seg_first[seg_of_edge])).astype(np.int32)
    del seg_first, seg_last
    edge_len = length[seg_of_edge]
    edge_signals = np.where(forward, sig_fwd[seg_of_edge], sig_bwd[seg_of_edge])
    edge_speed = np.where(forward, spd_f[seg_of_edge], spd_b[seg_of_edge])
    edge_time = (edge_len / edge_speed + penalty * edge_signals).astype(np.float32)
    # The routing weight (OSRM's routability): duration with the speed scaled by the way's penalty.
    edge_penalty = np.where(forward, pen_f[seg_of_edge], pen_b[seg_of_edge])
    edge_weight = (edge_len / (edge_speed * edge_penalty) + penalty * edge_signals).astype(np.float32)
    edge_restricted = np.where(forward, restr_f[seg_of_edge], restr_b[seg_of_edge])
    edge_len = edge_len.astype(np.float32)
    # intermediates go once read: kept to the end, they were ~0.7 GB of a 5M-node country's graph stage (1.9 GB)
    del length, sig_fwd, sig_bwd, spd_f, spd_b, pen_f, pen_b, restr_f, restr_b, edge_signals, edge_speed, edge_penalty
    # Twin (reverse) edge of the same segment, or -1.
    pos_in_b = np.full(len(seg_s_a), -1, dtype=np.int64)
    pos_in_b[b_idx] = np.arange(len(b_idx)) + nf
    pos_in_f = np.full(len(seg_s_a), -1, dtype=np.int64)
    pos_in_f[f_idx] = np.arange(nf)
    rev = np.where(forward, pos_in_b[seg_of_edge], pos_in_f[seg_of_edge]).astype(np.int32)
    del pos_in_b, pos_in_f

    # Geometry: vertex indices of each edge in travel order (vertex i of edge e is start_v[e] + step[e] *
    # (i - geom_off[e]), with three vertex-sized arrays at a time).
    n_vert = seg_e_a[seg_of_edge] - seg_s_a[seg_of_edge] + 1
    del seg_s_a, seg_e_a
    geom_off = np.concatenate(([0], np.cumsum(n_vert))).astype(np.int64)
    step = np.where(forward, 1, -1).astype(np.int64)
    del forward
    vert = np.repeat(start_v - step * geom_off[:-1], n_vert)
    along = np.arange(geom_off[-1], dtype=np.int64)
    along *= np.repeat(step, n_vert)
    vert += along
    del along, step, n_vert

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
        "edge_length": edge_len,
        "edge_time": edge_time,
        "edge_rev": rev,
        "edge_way": roads.way_ids[edge_way_idx],
        "edge_name": way_name[edge_way_idx],
        "edge_class": way_class[edge_way_idx],
        "edge_flags": way_flags[edge_way_idx] | np.where(edge_restricted, FLAG_RESTRICTED, 0).astype(np.uint8),
        "edge_weight": edge_weight,
        "edge_geom_off": geom_off,
        "geom_lon": roads.lon[vert],
        "geom_lat": roads.lat[vert],
    }
    if mode == "car":  # the OSM node of each geometry point: only the car's is read (park and walk's foot network)
        arrays["geom_osm"] = roads.refs[vert]
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
