"""Distance matrix: travel durations and distances from every origin to every destination of one mode.

The points are snapped as a route's are (:mod:`lds.routing`); the costs come from the bucket many-to-many
search on the contraction hierarchy (:func:`lds.graph._matrix.many_to_many`): one small upward search per
origin and per destination instead of one query per pair. Each cell follows the path a single route between
the two points takes (same start labels, same turn durations), so it reports that route's duration and
distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lds import params as v
from lds.errors import BadRequest, OutOfCoverage
from lds.formats import CH_BY_RANK
from lds.graph.arc_costs import ArcCosts, compute_arc_costs, stored_arc_costs
from lds.graph.snap import Snap
from lds.memo import per_object

LonLat = tuple[float, float]
ANNOTATIONS = ("duration", "distance")


def read_points(name: str, value: Any, most: int) -> list[LonLat]:
    """A list of (lon, lat) points: a JSON array of ``[lon, lat]`` pairs or ``"lon,lat;lon,lat"`` text; at least
    one, at most ``most`` (the API's and the core's check)."""
    if v.missing(value):
        raise BadRequest(f"missing parameter '{name}' (a list of [lon, lat] points)")
    if isinstance(value, str):
        value = [p for p in value.replace("|", ";").split(";") if p.strip()]
    out = v.lonlat_list(name, value, most=most)
    if not out:
        raise BadRequest(f"parameter '{name}' is empty")
    return out


def read_annotations(value: Any) -> tuple[str, ...]:
    """Which matrices to answer: ``duration`` and/or ``distance`` (a list or comma-separated text; default both)."""
    if v.missing(value):
        return ANNOTATIONS
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise BadRequest("parameter 'annotations' must be a list of: duration, distance")
    chosen = {v.choice("annotations", item if isinstance(item, str) else repr(item), ANNOTATIONS) for item in items}
    return tuple(a for a in ANNOTATIONS if a in chosen)


@per_object
def arc_costs(graph) -> ArcCosts:
    """The graph's :class:`ArcCosts`: the arrays written at build time (memory-mapped, shared by the workers), or,
    for data built before they were, computed on first use and kept with the graph."""
    return stored_arc_costs(graph.arrays) or compute_arc_costs(graph.router.views, graph.router.edge_based)


@dataclass(frozen=True)
class _Seeds:
    """Start (or end) labels of many snapped points, grouped per point (CSR), plus their edges for the direct
    same-edge case of node-based graphs."""

    off: np.ndarray
    node: np.ndarray
    w: np.ndarray
    dur: np.ndarray
    dist: np.ndarray
    edges: list[list[tuple[int, float]]]


def _seeds(graph, snaps: Sequence[Snap], source: bool) -> _Seeds:
    router = graph.router
    time, length = router.views["edge_time"], router.views["edge_length"]
    off, nodes, ws, durs, dists, edges = [0], [], [], [], [], []
    for snap in snaps:
        e_list, fracs, n_list, costs = router._ends(snap, source)
        for e, f, node, cost in zip(e_list, fracs, n_list, costs):
            if router.edge_based:  # the seed is the edge: a source pays the rest of it, a target gets it back
                share = (1.0 - f) if source else -(1.0 - f)
            else:  # a source from its edge's end node, a target from its edge's start node
                share = (1.0 - f) if source else f
            nodes.append(node)
            ws.append(cost)
            durs.append(share * float(time[e]))
            dists.append(share * float(length[e]))
        off.append(len(nodes))
        edges.append(list(zip(e_list, fracs)))
    return _Seeds(
        np.asarray(off, np.int64),
        np.asarray(nodes, np.int32),
        np.asarray(ws, np.float64),
        np.asarray(durs, np.float64),
        np.asarray(dists, np.float64),
        edges,
    )


def _direct(graph, src: _Seeds, tgt: _Seeds, w: np.ndarray, dur: np.ndarray, dist: np.ndarray) -> None:
    """Node-based graphs: a target ahead of its source on the same edge, which a search over nodes cannot see
    (the router checks the same)."""
    v = graph.router.views
    by_edge: dict[int, list[tuple[int, float]]] = {}
    for j, ends in enumerate(tgt.edges):
        for e, f in ends:
            by_edge.setdefault(e, []).append((j, f))
    for i, ends in enumerate(src.edges):
        for e, sf in ends:
            for j, tf in by_edge.get(e, ()):
                cost = (tf - sf) * float(v["ch_edge_w"][e])
                if tf >= sf and cost <= w[i, j]:
                    w[i, j] = cost
                    dur[i, j] = (tf - sf) * float(v["edge_time"][e])
                    dist[i, j] = (tf - sf) * float(v["edge_length"][e])


def snap_all(graph, points: Sequence[LonLat], radius_m: float, name: str) -> list[Snap]:
    """Snap every point, naming the offending one (``origins[3]``) when it is out of coverage."""
    out = []
    for i, (lon, lat) in enumerate(points):
        try:
            out.append(graph.snapper.snap(float(lon), float(lat), radius_m))
        except OutOfCoverage as exc:
            raise OutOfCoverage(f"{name}[{i}]: {exc.message}") from None
    return out


def matrix_costs(graph, origins: Sequence[Snap], destinations: Sequence[Snap]) -> tuple[np.ndarray, np.ndarray]:
    """Durations (s) and distances (m), (origins x destinations) float arrays with ``nan`` where unreachable."""
    from lds.graph._matrix import many_to_many

    router = graph.router
    g = router.views
    costs = arc_costs(graph)
    src, tgt = _seeds(graph, origins, True), _seeds(graph, destinations, False)
    if CH_BY_RANK in g:  # the hierarchy's own numbers (lds.formats.CH_BY_RANK)
        src, tgt = (replace(s, node=np.ascontiguousarray(g["ch_rank"][s.node], dtype=np.int32)) for s in (src, tgt))
    w, dur, dist = many_to_many(
        g["ch_fwd_off"],
        g["ch_fwd_head"],
        g["ch_fwd_w"],
        g["ch_bwd_off"],
        g["ch_bwd_tail"],
        g["ch_bwd_w"],
        costs.dur,
        costs.dist,
        g["ch_loop_w"],
        costs.loop_dur,
        costs.loop_dist,
        src.off,
        src.node,
        src.w,
        src.dur,
        src.dist,
        tgt.off,
        tgt.node,
        tgt.w,
        tgt.dur,
        tgt.dist,
    )
    if not router.edge_based:
        _direct(graph, src, tgt, w, dur, dist)
    unreachable = ~np.isfinite(w)
    dur[unreachable] = np.nan
    dist[unreachable] = np.nan
    return dur, dist


def _rows(values: np.ndarray) -> list[list[float | None]]:
    """Rounded to 0.1 as routes are; None where unreachable (only rows holding one are patched in Python)."""
    rows = np.round(values, 1).tolist()
    for i in np.flatnonzero(np.isnan(values).any(axis=1)).tolist():
        rows[i] = [None if x != x else x for x in rows[i]]  # noqa: PLR0124 - NaN is the one value unequal to itself
    return rows


def matrix(
    graph, origins: Sequence[LonLat], destinations: Sequence[LonLat], annotations: Sequence[str], settings
) -> dict:
    """The matrix answer's value: ``durations`` and/or ``distances`` as rows per origin (None: no route),
    plus where each point snapped."""
    radius = settings.snap_radius_m
    o_snaps = snap_all(graph, origins, radius, "origins")
    d_snaps = snap_all(graph, destinations, radius, "destinations")
    dur, dist = matrix_costs(graph, o_snaps, d_snaps)
    out: dict = {"mode": graph.mode}
    if "duration" in annotations:
        out["durations"] = _rows(dur)
    if "distance" in annotations:
        out["distances"] = _rows(dist)
    out["origins"] = [_where(graph, s) for s in o_snaps]
    out["destinations"] = [_where(graph, s) for s in d_snaps]
    return out


def _where(graph, snap: Snap) -> dict:
    return {
        "location": [round(snap.lon, 7), round(snap.lat, 7)],
        "snap_distance": round(snap.distance_m, 1),
        "name": graph.names[int(graph.edge_name[snap.edge])],
    }


def matrix_rows(
    graph, origins: Sequence[LonLat], destinations: Sequence[LonLat], annotations: Sequence[str], settings
) -> list[dict]:
    """A matrix job's chunk: one ``{"error", "value"}`` entry per origin, its value that origin's row(s); an origin
    far from the roads is an error entry, a destination far from them fails every entry."""
    radius = settings.snap_radius_m
    try:
        d_snaps = snap_all(graph, destinations, radius, "destinations")
    except OutOfCoverage as exc:
        return [{"error": exc.message, "value": None} for _ in origins]
    entries: list[dict] = [{"error": None, "value": None} for _ in origins]
    good, snaps = [], []
    for i, (lon, lat) in enumerate(origins):
        try:
            snaps.append(graph.snapper.snap(float(lon), float(lat), radius))
            good.append(i)
        except OutOfCoverage as exc:
            entries[i]["error"] = exc.message
    if snaps:
        dur, dist = matrix_costs(graph, snaps, d_snaps)
        rows = {
            "durations": _rows(dur) if "duration" in annotations else None,
            "distances": _rows(dist) if "distance" in annotations else None,
        }
        for k, i in enumerate(good):
            entries[i]["value"] = {name: values[k] for name, values in rows.items() if values is not None}
    return entries
