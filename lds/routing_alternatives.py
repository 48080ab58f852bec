"""Alternative routes by the via-node method on the contraction hierarchy (Abraham et al., "Alternative Routes in
Road Networks"; what osrm-routed's CH ``alternatives`` runs).

Both upward searches of a query are run in full up to ``(1 + STRETCH)`` times the best route's weight; every
hierarchy node settled by both is a candidate via node ``v``, ordered by its upward cost ``d_f(v) + d_b(v)``. The
route through ``v`` (the shortest path to ``v``, then from ``v``; two hierarchy queries) is admissible when:

- **bounded stretch**: its weight is at most ``1 + STRETCH`` times the best route's;
- **limited sharing**: at most ``MAX_SHARING`` of its length runs on roads of a route already chosen;
- **local optimality** (the T-test): its stretch of ``T = ALPHA`` times the best weight around ``v`` is itself a
  shortest path, so it makes no pointless detour.

Alternatives are answered for two points only (as osrm-routed does); fewer, or none, where the graph has no
admissible one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lds.errors import BadRequest, NotFound
from lds.graph.router import LegPath
from lds.graph.snap import Snap
from lds.routing import LonLat, Route, build_leg, route, snap_points

STRETCH = 0.25  # an alternative weighs at most 1.25 times the best route
MAX_SHARING = 0.8  # at most 80 % of its length on roads of a route chosen before
ALPHA = 0.25  # the T-test's span around the via node, as a share of the best weight
MAX_CANDIDATES = 48  # via nodes tried (two hierarchy queries each), cheapest upward cost first
TOLERANCE_MS = 1.0  # integer millisecond weights: equal costs compare within this


def via_candidates(graph, s_nodes, s_costs, t_nodes, t_costs, best_ms: float) -> np.ndarray:
    """Hierarchy nodes settled by both full upward searches with ``d_f + d_b`` within the stretch bound, the
    cheapest first."""
    bound = (1.0 + STRETCH) * best_ms
    # the full upward searches, in the router's hierarchy query over its integer weights
    f_nodes, f_cost = graph.router.upward(True, s_nodes, s_costs, bound - min(0.0, min(t_costs)))
    b_nodes, b_cost = graph.router.upward(False, t_nodes, t_costs, bound - min(0.0, min(s_costs)))
    both, fi, bi = np.intersect1d(f_nodes, b_nodes, assume_unique=True, return_indices=True)
    total = f_cost[fi] + b_cost[bi]
    keep = total <= bound
    return both[keep][np.argsort(total[keep], kind="stable")]


def _locally_optimal(router, chain: np.ndarray, cost: np.ndarray, at: int, span_ms: float) -> bool:
    """The T-test: the path's stretch from ``span_ms`` before the via node to ``span_ms`` after it is a shortest
    path (the nodes just beyond the span, or the path's ends)."""
    before = np.flatnonzero(cost[at] - cost[: at + 1] >= span_ms)
    after = np.flatnonzero(cost[at:] - cost[at] >= span_ms)
    i = int(before[-1]) if len(before) else 0
    j = at + int(after[0]) if len(after) else len(chain) - 1
    if i == j:
        return True
    found = router.query([int(chain[i])], [0.0], [int(chain[j])], [0.0])
    return found is not None and found[0] >= cost[j] - cost[i] - TOLERANCE_MS


def alternative_paths(graph, a: Snap, b: Snap, count: int) -> list[LegPath]:
    """The best path from snap ``a`` to snap ``b`` and up to ``count`` admissible alternatives (LegPaths, best
    first); an empty list when there is no route."""
    router = graph.router
    best = router.leg(a, b)
    if best is None:
        return []
    chosen = [best]
    if count <= 0:
        return chosen
    length = np.asarray(router.views["edge_length"], np.float64)
    best_ms = best.weight_s * 1000.0
    (s_nodes, s_costs), (t_nodes, t_costs) = router.ends(a, True), router.ends(b, False)
    on_routes = [best.edges]
    lengths = [float(length[best.edges].sum())]
    seen: set[bytes] = {best.edges.tobytes()}
    best_set = set(best.edges.tolist())
    tried = 0
    for node in via_candidates(graph, s_nodes, s_costs, t_nodes, t_costs, best_ms):
        if len(chosen) > count or tried >= MAX_CANDIDATES:
            break
        if router.edge_based and int(node) in best_set:
            continue  # a via node on the best route gives the best route
        tried += 1
        found = router.via(a, b, int(node))
        if found is None:
            continue
        path, chain, cost, at = found
        key = path.edges.tobytes()
        if key in seen:
            continue
        seen.add(key)
        if path.weight_s * 1000.0 > (1.0 + STRETCH) * best_ms + TOLERANCE_MS:
            continue
        own = float(length[path.edges].sum())
        if own <= 0 or any(
            length[path.edges[np.isin(path.edges, kept)]].sum() > MAX_SHARING * min(own, total)
            for kept, total in zip(on_routes, lengths)
        ):
            continue
        if not _locally_optimal(router, chain, cost, at, ALPHA * best_ms):
            continue
        chosen.append(path)
        on_routes.append(path.edges)
        lengths.append(own)
    return chosen


def routes(graph, points: Sequence[LonLat], settings, count: int, snapping: dict | None = None) -> list[Route]:
    """The fastest route through ``points``, then up to ``count`` alternatives when there are two points (as
    osrm-routed, none for routes with waypoints); ``snapping`` holds per-point ``bearings``/``approaches``."""
    if count < 0:
        raise BadRequest("the number of alternatives must be at least 0")
    if len(points) != 2 or count == 0:
        return [route(graph, points, settings, snapping)]
    a, b = snap_points(graph, points, settings.snap_radius_m, snapping)
    paths = alternative_paths(graph, a.snap, b.snap, count)
    if not paths:
        raise NotFound(
            f"no {graph.mode} route from origin to destination: they lie on parts of the road network "
            f"that are not connected (one-way streets, restrictions or a gap in the data)"
        )
    return [Route(graph.mode, [a, b], [build_leg(graph, a, b, path, None)]) for path in paths]
