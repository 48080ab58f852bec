"""Isoline benchmark: lds against Valhalla, side by side, in the same run and from the same origins.

Prints per-query latency (p50/p95, in-process calls that return GeoJSON on both sides) for car 5+10 min and
walk 10 min, and the correctness of lds's polygons judged by Valhalla's own travel times: road points are sampled
around each origin, timed by Valhalla's ``sources_to_targets`` (same mode), and the points clearly inside or
outside a range (farther than 20 % from it for car, 10 % for walk) count as right when the polygon puts them on
the same side. Building centroids (ways tagged ``building=*`` of the extract, sampled around each origin) are scored
the same way: the truth is Valhalla's travel time to the routable edge the building stands on (its matrix snaps the
centroid there), buildings within 10 % of a range are skipped; this is what an isoline is used for (how many
buildings, people or shops lie within 10 minutes). The share right is given for lds's polygons and Valhalla's own,
with the IoU between the two and both answers' payload bytes. Asserts nothing.

    .venv-bench/bin/python scripts/bench_isolines.py --pbf ../shared/data/heidelberg-ors-2024-09.osm.pbf

``--misses FILE`` writes every point lds's polygon classifies wrong (CSV: Valhalla's and lds's own time, distance
to lds's road, its class, Valhalla's polygon's verdict; ``building_own`` rows judge the drawing by lds's own time),
to tell a time model that differs from a drawing that is wrong.

``scripts/bench_routing.py`` calls :func:`run` with its own origins and peer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from lds import fastjson
from lds.errors import LdsError

# (mode, ranges in seconds): the figures the spine issue asks for.
CASES: tuple[tuple[str, tuple[int, ...]], ...] = (("car", (300, 600)), ("walk", (600,)))
TOLERANCE = {"car": 0.20, "walk": 0.10}  # "clearly" inside/outside: OSRM and Valhalla car times differ ~20 %
REGION_GROWTH = 1.3  # points are drawn in the bbox of both polygons grown by this factor
SAME_START_M = 5.0  # origins the two engines snap farther apart than this start from different roads
SAMPLES_PER_ORIGIN = 300
BUILDING_TOLERANCE = 0.10


def read_buildings(pbf: str) -> np.ndarray:
    """(n, 2) lon/lat centroids (mean of the nodes) of the extract's ways tagged ``building=*``."""
    import osmium

    out = []
    fp = osmium.FileProcessor(pbf, osmium.osm.NODE | osmium.osm.WAY).with_locations().with_filter(
        osmium.filter.EntityFilter(osmium.osm.WAY)).with_filter(osmium.filter.KeyFilter("building"))
    for way in fp:
        nodes = [n for n in way.nodes if n.location.valid()]
        if len(nodes) >= 3:
            out.append((sum(n.location.lon for n in nodes) / len(nodes), sum(n.location.lat for n in nodes) / len(nodes)))
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def _pct(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def _share(tally: Sequence[int]) -> float | None:
    return round(tally[0] / tally[1], 4) if tally[1] else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


class RoadSampler:
    """Uniform random points along a mode's road geometry (one geometry per two-way road).

    Only roads leaving the largest strongly connected component are sampled: a road the data leaves
    unreachable (a one-way street whose entry is not connected, say) has no travel time in lds, while
    Valhalla moves such a point onto another road (its snapping skips poorly connected edges), so the
    two times would not describe the same place.
    """

    def __init__(self, graph):
        off = np.asarray(graph.edge_geom_off)
        rev = np.asarray(graph.edge_rev)
        in_big = np.asarray(graph.node_scc)[np.asarray(graph.edge_src)] == graph.largest_scc
        in_big_pair = in_big | ((rev >= 0) & in_big[np.maximum(rev, 0)])
        keep = np.flatnonzero(((rev < 0) | (np.arange(len(rev)) < rev)) & in_big_pair)
        n_seg = off[keep + 1] - off[keep] - 1
        first = np.repeat(off[keep], n_seg)
        self.a = first + np.arange(n_seg.sum()) - np.repeat(np.cumsum(n_seg) - n_seg, n_seg)
        lon, lat = np.asarray(graph.geom_lon), np.asarray(graph.geom_lat)
        self.lon0, self.lat0 = lon[self.a], lat[self.a]
        self.lon1, self.lat1 = lon[self.a + 1], lat[self.a + 1]
        mid_lat = np.radians((self.lat0 + self.lat1) / 2)
        self.length = np.hypot((self.lon1 - self.lon0) * np.cos(mid_lat), self.lat1 - self.lat0)

    def sample(self, bbox: tuple[float, float, float, float], n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points (lon, lat) on road segments whose middle lies in ``bbox``, uniform by length."""
        minx, miny, maxx, maxy = bbox
        mx, my = (self.lon0 + self.lon1) / 2, (self.lat0 + self.lat1) / 2
        inside = np.flatnonzero((mx >= minx) & (mx <= maxx) & (my >= miny) & (my <= maxy) & (self.length > 0))
        if len(inside) == 0:
            return np.zeros((0, 2))
        w = self.length[inside]
        pick = inside[rng.choice(len(inside), size=n, p=w / w.sum())]
        t = rng.random(n)
        return np.column_stack([self.lon0[pick] + t * (self.lon1[pick] - self.lon0[pick]),
                                self.lat0[pick] + t * (self.lat1[pick] - self.lat0[pick])])


def _grown_bbox(geoms: list, factor: float) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = shapely.union_all([g for g in geoms if g is not None and not g.is_empty]).bounds
    cx, cy, hw, hh = (minx + maxx) / 2, (miny + maxy) / 2, (maxx - minx) / 2 * factor, (maxy - miny) / 2 * factor
    return cx - hw, cy - hh, cx + hw, cy + hh


def _metres(a: Sequence[float], b: Sequence[float]) -> float:
    from lds.geo import haversine_m

    return float(haversine_m(a[0], a[1], b[0], b[1]))


def _iou(a, b) -> float | None:
    if a is None or b is None or a.is_empty or b.is_empty:
        return None
    union = shapely.union(a, b).area
    return float(shapely.intersection(a, b).area / union) if union > 0 else None


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t0) * 1000.0, out


def run(lds_core, origins: Sequence[tuple[float, float]], peers: Any = None, *, check: int = 50,
        samples: int = SAMPLES_PER_ORIGIN, seed: int = 0, cases=CASES, log: Callable[[str], None] = print,
        buildings: np.ndarray | None = None, misses: list[dict] | None = None) -> dict:
    """Latency and correctness of lds isolines from ``origins`` (lon, lat), against Valhalla when given.

    ``peers`` is a ``ValhallaPeer``, a dict holding one under ``"valhalla"``, or None (lds alone). Correctness
    is measured on the first ``check`` origins, on road points and, when ``buildings`` (lon/lat centroids) are
    given, on buildings. Returns one dict per mode with every figure printed; ``misses``, when given, receives a row
    per point lds's polygon classifies wrong (:func:`_misses`).
    """
    valhalla = peers.get("valhalla") if isinstance(peers, dict) else peers
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {}
    for mode, ranges in cases:
        if mode not in lds_core.graphs:
            log(f"isolines {mode}: no {mode} graph in the data, skipped")
            continue
        sampler = RoadSampler(lds_core.graph(mode))
        ours_ms, peer_ms, errors, peer_errors = [], [], 0, 0
        answer_bytes = []  # the answer as the API writes it (lds.fastjson), outside the timing
        peer_bytes = []
        b_right = {r: [0, 0] for r in ranges}  # buildings: lds, Valhalla's polygon (origins both snap alike)
        b_peer_right = {r: [0, 0] for r in ranges}
        b_right_all = {r: [0, 0] for r in ranges}  # lds over every checked origin
        b_self = {r: [0, 0] for r in ranges}  # lds against its own travel times (the drawing alone)
        right = {r: [0, 0] for r in ranges}  # range -> [right, counted], origins both engines snap alike
        right_all = {r: [0, 0] for r in ranges}  # the same over every checked origin
        peer_right = {r: [0, 0] for r in ranges}
        apart = 0
        iou = {r: [] for r in ranges}
        unreached = 0
        for lon, lat in origins[:3]:  # warm-up: lazily built indexes, caches, first-touch of mapped pages
            with contextlib.suppress(Exception):  # failures are counted in the timed loop
                lds_core.isolines((lon, lat), list(ranges), "time", mode)
                if valhalla is not None:
                    valhalla.isochrone_raw(lon, lat, [r / 60 for r in ranges], mode)
        for i, (lon, lat) in enumerate(origins):
            try:
                ms, ours = _timed(lds_core.isolines, (lon, lat), list(ranges), "time", mode)
                ours_ms.append(ms)
                answer_bytes.append(len(fastjson.dumps(ours)))
            except LdsError:
                errors += 1
                ours = None
            theirs = None
            if valhalla is not None:
                try:
                    ms, raw = _timed(valhalla.isochrone_raw, lon, lat, [r / 60 for r in ranges], mode)
                    peer_ms.append(ms)
                    peer_bytes.append(len(json.dumps(raw, separators=(",", ":"))))
                    by_contour = {round(float(f["properties"]["contour"]) * 60): shape(f["geometry"])
                                  for f in raw["features"]}
                    theirs = [by_contour.get(r) for r in ranges]
                except Exception:  # noqa: BLE001 - any peer failure is counted, not fatal
                    peer_errors += 1
            if i >= check or ours is None or theirs is None:
                continue
            our_geoms = [shape(v["geom"]) for v in ours]
            their_start = valhalla.locate(lon, lat, mode)
            same_start = their_start is not None and _metres(ours[0]["location"], their_start) <= SAME_START_M
            apart += not same_start
            region = _grown_bbox([our_geoms[-1], theirs[-1]], REGION_GROWTH)
            points = sampler.sample(region, samples, rng)
            times, _ = valhalla.sources_to_targets((lon, lat), [tuple(p) for p in points.tolist()], mode)
            times = np.array(times, dtype=float)
            unreached += int(np.isnan(times).sum())
            ok = ~np.isnan(times)
            tol = TOLERANCE[mode]
            for r, mine, peer in zip(ranges, our_geoms, theirs, strict=True):
                clearly_in = ok & (times <= r * (1 - tol))
                clearly_out = ok & (times > r * (1 + tol))
                counted = clearly_in | clearly_out
                tallies = ((mine, right_all[r]), (mine, right[r] if same_start else None),
                           (peer, peer_right[r] if same_start else None))
                for geom, tally in tallies:
                    if geom is None or tally is None:
                        continue
                    inside = shapely.contains_xy(geom, points[:, 0], points[:, 1])
                    tally[0] += int(((inside & clearly_in) | (~inside & clearly_out)).sum())
                    tally[1] += int(counted.sum())
                value = _iou(mine, peer)
                if value is not None:
                    iou[r].append(value)
            if misses is not None and same_start:
                own = lds_times(lds_core.graph(mode), (lon, lat), 2 * max(ranges), points)
                misses += _misses("road", mode, i, ranges, points, times, times, own, our_geoms, theirs, tol)
            if buildings is not None and len(buildings):
                tallies = (b_right_all, b_right if same_start else None, b_peer_right if same_start else None)
                points, b_times = _score_buildings(valhalla, (lon, lat), mode, ranges, our_geoms, theirs, buildings,
                                                   region, samples, rng, tallies)
                own = _score_self(lds_core.graph(mode), (lon, lat), ranges, our_geoms, points, b_self)
                if misses is not None and same_start and own is not None:
                    misses += _misses("building", mode, i, ranges, points, b_times, b_times, own, our_geoms, theirs,
                                      BUILDING_TOLERANCE)
                    # the drawing judged alone: buildings it puts on the wrong side of lds's own time
                    misses += _misses("building_own", mode, i, ranges, points, own[:, 0], b_times, own, our_geoms, theirs,
                                      BUILDING_TOLERANCE)
        entry = {
            "ranges_s": list(ranges),
            "queries": len(ours_ms),
            "errors": errors,
            "lds_p50_ms": _pct(ours_ms, 50),
            "lds_p95_ms": _pct(ours_ms, 95),
            "lds_answer_bytes_p50": int(np.median(answer_bytes)) if answer_bytes else None,
        }
        if valhalla is not None:
            entry.update({
                "valhalla_p50_ms": _pct(peer_ms, 50),
                "valhalla_p95_ms": _pct(peer_ms, 95),
                "valhalla_errors": peer_errors,
                "p50_ratio": _ratio(entry["lds_p50_ms"], _pct(peer_ms, 50)),
                "p95_ratio": _ratio(entry["lds_p95_ms"], _pct(peer_ms, 95)),
                "classified": {str(r): {"right": v[0], "counted": v[1], "share": _share(v)} for r, v in right.items()},
                "valhalla_polygon_classified": {str(r): _share(v) for r, v in peer_right.items()},
                "classified_all_origins": {str(r): _share(v) for r, v in right_all.items()},
                "origins_snapped_apart": apart,
                "iou_mean": {str(r): round(float(np.mean(v)), 3) if v else None for r, v in iou.items()},
                "points_unreached_by_valhalla": unreached,
            })
            entry["classified_share"] = _share([sum(v[k] for v in right.values()) for k in (0, 1)])
            entry["valhalla_answer_bytes_p50"] = int(np.median(peer_bytes)) if peer_bytes else None
            if buildings is not None:
                entry["buildings"] = {str(r): {"lds": _share(b_right[r]), "valhalla": _share(b_peer_right[r]),
                                               "counted": b_right[r][1], "lds_all_origins": _share(b_right_all[r]),
                                               "lds_own_times": _share(b_self[r])}
                                      for r in ranges}
        report[mode] = entry
        _print_entry(mode, entry, log)
    return report


def _score_self(graph, origin, ranges, our_geoms, points, tally) -> np.ndarray | None:
    """Tally the buildings lds's polygons put on the side lds's own travel time to their nearest road does (the
    drawing judged alone, without the engines' different speeds and networks), skipping the 10 % band. Returns
    :func:`lds_times` of the points (None without points)."""
    if points is None or not len(points):
        return None
    own = lds_times(graph, origin, 2 * max(ranges), points)
    _tally(ranges, our_geoms, points, own[:, 0], tally)
    return own


def lds_times(graph, origin, limit: float, points: np.ndarray) -> np.ndarray:
    """Per point (lon, lat): lds's travel time from ``origin`` to the road it snaps to (nan: not snapped, inf: not
    reached within ``limit``), the snap distance (m) and that road's highway class index, as an (n, 3) array."""
    from lds.graph.search import bounded_search, search_index

    reach = bounded_search(graph, graph.snapper.snap(origin[0], origin[1], 200.0), limit, "time")
    node_cost = np.full(graph.n_nodes, np.inf)
    node_cost[reach.nodes] = reach.cost
    w = np.asarray(search_index(graph).edge_weight["time"], dtype=float)
    src, rev, cls = np.asarray(graph.edge_src), np.asarray(graph.edge_rev), np.asarray(graph.edge_class)
    out = np.full((len(points), 3), np.nan)
    for k, (lon, lat) in enumerate(points.tolist()):
        with contextlib.suppress(LdsError):
            at = graph.snapper.snap(lon, lat, 500.0)
            t = node_cost[src[at.edge]] + at.fraction * w[at.edge]
            twin = rev[at.edge]
            if twin >= 0:
                t = min(t, node_cost[src[twin]] + (1 - at.fraction) * w[twin])
            for e, f0, c0 in reach.starts:
                if e == at.edge and at.fraction >= f0:  # on a road the search starts on, ahead of the start
                    t = min(t, c0 + (at.fraction - f0) * w[e])
            out[k] = (t, at.distance_m, cls[at.edge])
    return out


def _misses(kind: str, mode: str, origin_no: int, ranges, points, truth, times, own, ours, theirs,
            tol: float) -> list[dict]:
    """One row per point and range that lds's polygon puts on the wrong side of the ``truth`` time (outside the
    tolerance band), with Valhalla's time (``times``), lds's own time, snap distance and road class, and Valhalla's
    polygon's verdict."""
    from lds.formats import HIGHWAY_CLASSES

    rows = []
    for r, mine, peer in zip(ranges, ours, theirs, strict=True):
        truth_in, truth_out = truth <= r * (1 - tol), truth > r * (1 + tol)
        inside = shapely.contains_xy(mine, points[:, 0], points[:, 1])
        peer_in = shapely.contains_xy(peer, points[:, 0], points[:, 1]) if peer is not None else inside * False
        for k in np.flatnonzero((inside & truth_out) | (~inside & truth_in)).tolist():
            lds_s, snap_m, cls = own[k]
            rows.append({"kind": kind, "mode": mode, "origin": origin_no, "range": r,
                         "lon": round(float(points[k, 0]), 6), "lat": round(float(points[k, 1]), 6),
                         "valhalla_s": times[k], "lds_s": round(float(lds_s), 1), "lds_in": bool(inside[k]),
                         "valhalla_polygon_in": bool(peer_in[k]), "snap_m": round(float(snap_m), 1),
                         "road": HIGHWAY_CLASSES[int(cls)] if not np.isnan(cls) else ""})
    return rows


def _tally(ranges, geoms, points, times, tally) -> None:
    """Add to ``tally[r]`` the points ``geoms`` (one per range) put on the side ``times`` do, out of those
    farther than BUILDING_TOLERANCE from the range."""
    ok = ~np.isnan(times)
    for r, geom in zip(ranges, geoms, strict=True):
        if geom is None:
            continue
        inside_truth = ok & (times <= r * (1 - BUILDING_TOLERANCE))
        outside_truth = ok & (times > r * (1 + BUILDING_TOLERANCE))
        inside = shapely.contains_xy(geom, points[:, 0], points[:, 1])
        tally[r][0] += int(((inside & inside_truth) | (~inside & outside_truth)).sum())
        tally[r][1] += int((inside_truth | outside_truth).sum())


def _score_buildings(valhalla, origin, mode, ranges, our_geoms, theirs, buildings, region, samples, rng,
                     tallies) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Tally the buildings in ``region`` (up to ``samples`` of them) each polygon puts on the side Valhalla's travel
    time to their road does, skipping those within BUILDING_TOLERANCE of a range. ``tallies`` are per range
    ``[right, counted]`` dicts: lds over every origin, lds and Valhalla's polygon (None: not tallied). Returns the
    buildings scored and Valhalla's times to them (None, None: no building in ``region``)."""
    minx, miny, maxx, maxy = region
    near = np.flatnonzero((buildings[:, 0] >= minx) & (buildings[:, 0] <= maxx) & (buildings[:, 1] >= miny)
                          & (buildings[:, 1] <= maxy))
    if len(near) == 0:
        return None, None
    points = buildings[rng.choice(near, size=min(samples, len(near)), replace=False)]
    times, _ = valhalla.sources_to_targets(origin, [tuple(p) for p in points.tolist()], mode)
    times = np.array(times, dtype=float)
    right_all, right, peer_right = tallies
    for geoms, tally in ((our_geoms, right_all), (our_geoms, right), (theirs, peer_right)):
        if tally is not None:
            _tally(ranges, geoms, points, times, tally)
    return points, times


def _print_entry(mode: str, e: dict, log: Callable[[str], None]) -> None:
    ranges = "+".join(f"{r // 60} min" for r in e["ranges_s"])
    line = f"isolines {mode} {ranges}: lds p50 {e['lds_p50_ms']} ms p95 {e['lds_p95_ms']} ms ({e['queries']} queries"
    line += f", {e['errors']} errors, answers {e['lds_answer_bytes_p50']} B p50)"
    if "valhalla_p50_ms" in e:
        line += (f" | valhalla p50 {e['valhalla_p50_ms']} ms p95 {e['valhalla_p95_ms']} ms | ratio p50 {e['p50_ratio']}"
                 f" p95 {e['p95_ratio']}")
    log(line)
    if "classified" in e:
        parts = [f"{int(r) // 60} min {v['share']} of {v['counted']}" for r, v in e["classified"].items()]
        log(f"  points classified right (tol {TOLERANCE[mode]:.0%}): {', '.join(parts)};"
            f" overall {e['classified_share']} | valhalla's own polygon: {e['valhalla_polygon_classified']}"
            f" | IoU vs valhalla {e['iou_mean']}")
        log(f"  ({e['origins_snapped_apart']} checked origins snapped > {SAME_START_M:g} m apart by the two engines"
            f" are left out above; with them: {e['classified_all_origins']})")
        log(f"  answer bytes p50: lds {e['lds_answer_bytes_p50']}, valhalla {e['valhalla_answer_bytes_p50']}")
    if e.get("buildings"):
        parts = [f"{int(r) // 60} min lds {v['lds']} valhalla {v['valhalla']} of {v['counted']}"
                 f" (lds, every origin: {v['lds_all_origins']}; against lds's own times: {v['lds_own_times']})"
            for r, v in e["buildings"].items()]
        log(f"  buildings classified right (tol {BUILDING_TOLERANCE:.0%}, origins both engines snap alike):"
            f" {', '.join(parts)}")


def random_origins(lds_core, n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` nodes of the largest strongly connected car component, drawn with a fixed seed."""
    g = lds_core.graph("car")
    ids = np.flatnonzero(np.asarray(g.node_scc) == g.largest_scc)
    pick = np.random.default_rng(seed).choice(ids, size=n, replace=len(ids) < n)
    return [(float(g.node_lon[i]), float(g.node_lat[i])) for i in pick]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pbf", required=True, help="OSM extract (.osm.pbf)")
    ap.add_argument("--data", help="lds data dir (default graph_data/<extract name>; built when missing or stale)")
    ap.add_argument("--n", type=int, default=200, help="origins timed per mode")
    ap.add_argument("--check", type=int, default=50, help="origins whose polygons are checked against Valhalla")
    ap.add_argument("--samples", type=int, default=SAMPLES_PER_ORIGIN, help="road points sampled per checked origin")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-peer", action="store_true", help="time lds alone")
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument("--misses", help="write the points lds classifies wrong here (CSV: Valhalla's and lds's times, "
                                     "snap distance, road class; kind building_own: judged by lds's own time)")
    args = ap.parse_args(argv)

    from lds.build.pipeline import build, extract_name
    from lds.core import LDS
    from lds.settings import Settings

    data = Path(args.data or REPO / "graph_data" / extract_name(args.pbf))
    build(args.pbf, data, if_changed=True, quiet=True)
    tuning = {k: v for k, v in os.environ.items() if k.startswith("LDS_ISOLINE_")}  # e.g. LDS_ISOLINE_OFFROAD_M
    lds_core = LDS(Settings.from_env(env=tuning, data_dir=str(data), cache_enabled=False), data)
    origins = random_origins(lds_core, args.n, args.seed)
    peer = None
    if not args.no_peer:
        from peers import ValhallaPeer

        peer = ValhallaPeer(args.pbf)
    checked = min(args.check, args.n)
    print(f"extract {Path(args.pbf).name}: {len(origins)} origins (seed {args.seed}), correctness on {checked}")
    buildings = read_buildings(args.pbf) if peer is not None else None
    if buildings is not None:
        print(f"{len(buildings)} buildings in the extract")
    misses: list[dict] | None = [] if args.misses else None
    report = run(lds_core, origins, peer, check=args.check, samples=args.samples, seed=args.seed,
                 buildings=buildings if buildings is not None and len(buildings) else None, misses=misses)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.misses:
        import csv

        with open(args.misses, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(misses[0]) if misses else ["kind"])
            writer.writeheader()
            writer.writerows(misses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
