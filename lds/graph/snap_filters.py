"""Snapping with conditions, as OSRM applies them: ``bearings`` (the direction of travel on the snapped road within
a tolerance), ``approaches`` (``curb``: arrive and depart with the point on the driving side) and several nearest
roads (``nearest?number=N``).

The plain nearest-edge query (:class:`lds.graph.snap.Snapper`) is compiled and answers one edge; conditions need
every road near the point, so these take the grid's candidate edges within the radius and project onto all their
segments at once in numpy. A condition narrows the directions of travel a route may use at the point
(``Snap.allowed``); a road neither of whose directions passes is skipped for the next nearest.
"""

from __future__ import annotations

import math

import numpy as np

from lds.errors import BadRequest, OutOfCoverage
from lds.graph.search import expand_ranges
from lds.graph.snap import Snap

EARTH_R = 6_371_008.8
DRIVING_SIDE = "right"  # lds's graphs are built with right-hand traffic (OSRM's default)


APPROACHES = (None, "unrestricted", "curb", "opposite")


def check_snapping(snapping: dict | None, n: int) -> None:
    """BadRequest unless ``snapping`` holds ``bearings`` ((degrees 0-360, tolerance 0-180) or None) and
    ``approaches`` (one of APPROACHES) lists of one entry per point, or None."""
    for key, values in (snapping or {}).items():
        if values is None:
            continue
        if key not in ("bearings", "approaches") or not isinstance(values, (list, tuple)) or len(values) != n:
            raise BadRequest(f"{key}: a list of one entry (or None) per point")
        for x in values:
            ok = (
                x in APPROACHES
                if key == "approaches"
                else x is None
                or (
                    isinstance(x, (list, tuple))
                    and len(x) == 2
                    and all(isinstance(y, (int, float)) for y in x)
                    and 0 <= x[0] <= 360
                    and 0 <= x[1] <= 180
                )
            )
            if not ok:
                raise BadRequest(f"{key}: {str(x)[:40]} is not valid")


def _angle_diff(a: np.ndarray, b: float) -> np.ndarray:
    d = np.abs((a - b) % 360.0)
    return np.minimum(d, 360.0 - d)


def candidates(graph, lon: float, lat: float, radius_m: float) -> dict[str, np.ndarray]:
    """Every road (one edge of each twin pair) within ``radius_m``, nearest first: ``edge``, ``fraction`` along it,
    the projected ``lon``/``lat``, ``distance`` (m), the ``bearing`` of the edge's direction there (degrees from
    north) and ``side`` (> 0 when the point lies left of that direction, < 0 right)."""
    snapper = graph.snapper
    dlat = math.degrees(radius_m / EARTH_R) if math.isfinite(radius_m) else 1.0
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    edges = snapper.edges_in(lon - dlon, lat - dlat, lon + dlon, lat + dlat).astype(np.int64)
    off = np.asarray(graph.router.views["edge_geom_off"], np.int64)
    glon, glat = (np.asarray(graph.router.views[k], np.float64) for k in ("geom_lon", "geom_lat"))
    n_seg = off[edges + 1] - off[edges] - 1
    a = expand_ranges(off[edges], n_seg)
    seg_edge = np.repeat(edges, n_seg)
    kx, ky = math.cos(math.radians(lat)) * math.radians(1) * EARTH_R, math.radians(1) * EARTH_R
    ax, ay = (glon[a] - lon) * kx, (glat[a] - lat) * ky
    dx, dy = (glon[a + 1] - glon[a]) * kx, (glat[a + 1] - glat[a]) * ky
    seg2 = dx * dx + dy * dy
    t = np.clip(np.divide(-(ax * dx + ay * dy), seg2, out=np.zeros_like(seg2), where=seg2 > 0), 0.0, 1.0)
    px, py = ax + t * dx, ay + t * dy
    dist = np.hypot(px, py)
    seg_len = np.sqrt(seg2)
    before = np.cumsum(seg_len) - seg_len  # metres from each edge's start to each segment's start
    first = np.repeat(np.cumsum(n_seg) - n_seg, n_seg)
    before = before - before[first] if len(before) else before
    order = np.lexsort((dist, seg_edge))  # per edge, its nearest segment first
    pick = order[np.r_[True, seg_edge[order][1:] != seg_edge[order][:-1]]] if len(order) else order
    pick = pick[dist[pick] <= radius_m]
    pick = pick[np.argsort(dist[pick], kind="stable")]
    total = np.bincount(np.searchsorted(edges, seg_edge), weights=seg_len, minlength=len(edges))
    edge_total = total[np.searchsorted(edges, seg_edge[pick])]
    fraction = np.clip(
        np.divide(before[pick] + t[pick] * seg_len[pick], edge_total, out=np.zeros(len(pick)), where=edge_total > 0),
        0.0,
        1.0,
    )
    return {
        "edge": seg_edge[pick],
        "fraction": fraction,
        "lon": glon[a[pick]] + (glon[a[pick] + 1] - glon[a[pick]]) * t[pick],
        "lat": glat[a[pick]] + (glat[a[pick] + 1] - glat[a[pick]]) * t[pick],
        "distance": dist[pick],
        "bearing": np.degrees(np.arctan2(dx[pick], dy[pick])) % 360.0,
        "side": dx[pick] * (-ay[pick]) - dy[pick] * (-ax[pick]),  # cross(direction, point - segment start)
    }


def _allowed(
    edge: int, twin: int, bearing: float, side: float, want: tuple[int, int] | None, approach: str | None
) -> tuple[int, ...]:
    """The directed edges at a point on ``edge`` (and its ``twin``, -1 when one-way) a route may use."""
    ways = [(edge, bearing)] + ([(twin, (bearing + 180.0) % 360.0)] if twin >= 0 else [])
    if want is not None:
        ways = [(e, b) for e, b in ways if _angle_diff(np.array(b), want[0]) <= want[1]]
    if approach in ("curb", "opposite") and twin >= 0 and side != 0:
        right = side < 0  # the point lies on the right of ``edge``'s direction
        keep_forward = (right == (DRIVING_SIDE == "right")) == (approach == "curb")
        ways = [(e, b) for e, b in ways if (e == edge) == keep_forward]
    return tuple(e for e, _ in ways)


def snap_with(
    graph, lon: float, lat: float, radius_m: float, bearing: tuple[int, int] | None = None, approach: str | None = None
) -> Snap:
    """The nearest road within ``radius_m`` having a direction of travel that meets ``bearing`` ((degrees,
    tolerance)) and ``approach`` (``curb``, ``opposite`` or ``unrestricted``), preferring the largest component as
    plain snapping does; else OutOfCoverage."""
    if bearing is None and approach in (None, "unrestricted"):
        return graph.snapper.snap(lon, lat, radius_m)
    c = candidates(graph, lon, lat, radius_m)
    rev = graph.router.rev
    fits = []
    for k in range(len(c["edge"])):
        e = int(c["edge"][k])
        allowed = _allowed(e, int(rev[e]), float(c["bearing"][k]), float(c["side"][k]), bearing, approach)
        if allowed:
            fits.append((k, allowed))
    big = [f for f in fits if graph.snapper.in_largest[int(c["edge"][f[0]])]]
    if not (big or fits):
        raise OutOfCoverage(
            f"point ({lon:.6f}, {lat:.6f}) has no {graph.mode} road within {radius_m:g} m"
            + (f" in the direction {bearing[0]}±{bearing[1]}°" if bearing is not None else "")
        )
    k, allowed = (big or fits)[0]
    return _snap(c, k, (lon, lat), allowed)


def nearest_roads(graph, lon: float, lat: float, radius_m: float, number: int) -> list[Snap]:
    """Up to ``number`` roads nearest to the point within ``radius_m`` (each road once), nearest first."""
    c = candidates(graph, lon, lat, radius_m)
    return [_snap(c, k, (lon, lat)) for k in range(min(number, len(c["edge"])))]


def _snap(c: dict[str, np.ndarray], k: int, query: tuple[float, float], allowed: tuple[int, ...] | None = None) -> Snap:
    return Snap(
        int(c["edge"][k]),
        float(c["fraction"][k]),
        float(c["lon"][k]),
        float(c["lat"][k]),
        float(c["distance"][k]),
        query,
        allowed,
    )
