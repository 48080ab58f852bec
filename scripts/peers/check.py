"""Self-check of the peer adapters: prepare each engine on the shared extracts, print a few answers and per-query
latencies (p50/p95 over random queries, in-process). Prints figures, asserts nothing.

    .venv-bench/bin/python scripts/peers/check.py [--only osrm,valhalla,nominatim] [-n 200] [--rebuild]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a file, this dir would shadow the `osrm` and `valhalla` wheels with our modules of the same name:
# put scripts/ on the path instead and import the package as `peers`.
_HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import osmium
from pyproj import Geod

from peers import NominatimPeer, OsrmPeer, PeerError, ValhallaPeer

DATA = Path(os.environ.get("LDS_TEST_DATA", _HERE.parents[2] / "shared" / "data"))
MONACO = DATA / "monaco-2020-07.osm.pbf"
HEIDELBERG = DATA / "heidelberg-ors-2024-09.osm.pbf"
COPENHAGEN = DATA / "copenhagen-2011.osm.pbf"
GEOD = Geod(ellps="WGS84")
DRIVABLE = {
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
}


class _Collector(osmium.SimpleHandler):
    """Node coordinates of drivable roads and address points (nodes, and ways by the mean of their nodes)."""

    def __init__(self) -> None:
        super().__init__()
        self.road_points: list[tuple[float, float]] = []
        self.addresses: list[tuple[str, str, float, float]] = []

    def node(self, n) -> None:
        tags = n.tags
        if "addr:housenumber" in tags and "addr:street" in tags and n.location.valid():
            self.addresses.append((tags["addr:street"], tags["addr:housenumber"], n.location.lon, n.location.lat))

    def way(self, w) -> None:
        tags = w.tags
        locs = [(nd.location.lon, nd.location.lat) for nd in w.nodes if nd.location.valid()]
        if not locs:
            return
        if tags.get("highway") in DRIVABLE:
            self.road_points.extend(locs)
        if "addr:housenumber" in tags and "addr:street" in tags:
            lon = sum(p[0] for p in locs) / len(locs)
            lat = sum(p[1] for p in locs) / len(locs)
            self.addresses.append((tags["addr:street"], tags["addr:housenumber"], lon, lat))


def collect(pbf: Path) -> _Collector:
    handler = _Collector()
    handler.apply_file(str(pbf), locations=True)
    handler.road_points = sorted(set(handler.road_points))
    return handler


def timed(fn: Callable[..., object], args_list: list[tuple], warmup: int = 5) -> tuple[list[object], list[float]]:
    for args in args_list[:warmup]:
        fn(*args)
    results, ms = [], []
    for args in args_list:
        t0 = time.perf_counter()
        results.append(fn(*args))
        ms.append((time.perf_counter() - t0) * 1e3)
    return results, ms


def pct(ms: list[float]) -> str:
    if not ms:
        return "n/a"
    q = statistics.quantiles(ms, n=20, method="inclusive") if len(ms) > 1 else [ms[0]] * 19
    return f"p50 {statistics.median(ms):7.3f} ms  p95 {q[18]:7.3f} ms  (n={len(ms)})"


def prepare(cls, *args, **kwargs):
    t0 = time.perf_counter()
    peer = cls(*args, **kwargs)
    wall = time.perf_counter() - t0
    how = "reused" if peer.reused else f"prepared in {peer.prepare_seconds:.1f} s"
    print(f"  {peer.engine} {peer.name}: {how} (open {wall:.2f} s) -> {peer.work_dir}")
    return peer


def check_osrm(pbf: Path, data: _Collector, n: int, rng: random.Random, rebuild: bool) -> None:
    with prepare(OsrmPeer, pbf, "car", rebuild=rebuild) as peer:
        pairs = [(*rng.choice(data.road_points), *rng.choice(data.road_points)) for _ in range(n)]
        answer = peer.route(*pairs[0])
        print(
            f"  route {pairs[0]}: distance {answer['distance']:.0f} m, duration {answer['duration']:.0f} s, "
            f"{len(answer['geometry'])} points"
            if answer
            else f"  route {pairs[0]}: none"
        )
        print(f"  nearest {data.road_points[0]}: {peer.nearest(*data.road_points[0])}")
        results, ms = timed(peer.route, pairs)
        print(f"  route (full geometry): {pct(ms)}; {sum(r is None for r in results)} without route")
        _, ms = timed(lambda *p: peer.route(*p, geometry=False), pairs)
        print(f"  route (no geometry):   {pct(ms)}")


def check_valhalla(pbf: Path, data: _Collector, n: int, rng: random.Random, rebuild: bool) -> None:
    with prepare(ValhallaPeer, pbf, rebuild=rebuild) as peer:
        pairs = [(*rng.choice(data.road_points), *rng.choice(data.road_points)) for _ in range(n)]
        answer = peer.route(*pairs[0])
        print(
            f"  route {pairs[0]}: distance {answer['distance']:.0f} m, duration {answer['duration']:.0f} s, "
            f"{len(answer['geometry'])} points"
            if answer
            else f"  route {pairs[0]}: none"
        )
        for costing in ("auto", "pedestrian"):
            results, ms = timed(lambda *p, c=costing: peer.route(*p, c), pairs)
            print(f"  route {costing:10s} (full geometry): {pct(ms)}; {sum(r is None for r in results)} without route")
        origins = [rng.choice(data.road_points) for _ in range(n)]
        polys = peer.isochrone(*origins[0], [5, 10], "auto")
        print(
            f"  isochrone car 5+10 min at {origins[0]}: "
            + ", ".join(f"{p.geom_type} {abs(GEOD.geometry_area_perimeter(p)[0]) / 1e6:.2f} km2" for p in polys or [])
        )
        for label, costing, ranges in (("car 5+10 min", "auto", [5, 10]), ("walk 10 min ", "pedestrian", [10])):
            results, ms = timed(lambda lon, lat, c=costing, r=ranges: peer.isochrone(lon, lat, r, c), origins)
            print(f"  isochrone {label}: {pct(ms)}; {sum(r is None for r in results)} failed")
        targets = [rng.choice(data.road_points) for _ in range(200)]
        times, _ = peer.sources_to_targets(origins[0], targets, "auto")
        reached = [t for t in times if not math.isnan(t)]
        print(f"  sources_to_targets auto 1x200: {len(reached)} reached, median {statistics.median(reached):.0f} s")
        _, ms = timed(lambda lon, lat: peer.sources_to_targets((lon, lat), targets, "pedestrian"), origins[:20], 1)
        print(f"  sources_to_targets walk 1x200: {pct(ms)}")


def check_nominatim(pbf: Path, data: _Collector, n: int, rng: random.Random, rebuild: bool) -> None:
    from peers.nominatim import _haversine_m

    with prepare(NominatimPeer, pbf, rebuild=rebuild) as peer:
        print(
            f"  import: {peer.stamp.get('import_seconds')} s, placex rows {peer.stamp.get('placex_rows')}, "
            f"with house number {peer.stamp.get('housenumber_rows')}"
        )
        sample = rng.sample(data.addresses, min(n, len(data.addresses)))
        street, number, lon, lat = sample[0]
        print(f"  geocode {street} {number!r}: {peer.geocode(f'{street} {number}')} (true {lat:.6f}, {lon:.6f})")
        print(f"  reverse ({lat:.6f}, {lon:.6f}): {peer.reverse(lat, lon)}")
        results, ms = timed(peer.geocode, [(f"{s} {h}",) for s, h, _, _ in sample])
        hits = sum(
            r is not None and _haversine_m(r[0], r[1], la, lo) <= 100 for r, (_, _, lo, la) in zip(results, sample)
        )
        print(f"  geocode 'street number': {pct(ms)}; within 100 m {hits}/{len(sample)}")
        results, ms = timed(peer.reverse, [(la, lo) for _, _, lo, la in sample])
        right = sum(r is not None and r["housenumber"] == h for r, (_, h, _, _) in zip(results, sample))
        print(f"  reverse at address points: {pct(ms)}; house number right {right}/{len(sample)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="osrm,valhalla,nominatim", help="comma-separated engines to check")
    parser.add_argument("-n", type=int, default=200, help="random queries per measurement")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rebuild", action="store_true", help="prepare again even when cached data matches")
    args = parser.parse_args()
    plan = {
        "osrm": (check_osrm, [MONACO, HEIDELBERG]),
        "valhalla": (check_valhalla, [MONACO, HEIDELBERG]),
        "nominatim": (check_nominatim, [MONACO, COPENHAGEN]),
    }
    cache: dict[Path, _Collector] = {}
    failures = 0
    for engine in args.only.split(","):
        check, extracts = plan[engine.strip()]
        for pbf in extracts:
            if pbf not in cache:
                cache[pbf] = collect(pbf)
            print(
                f"== {engine} on {pbf.name}: {len(cache[pbf].road_points)} road points, "
                f"{len(cache[pbf].addresses)} addresses"
            )
            try:
                check(pbf, cache[pbf], args.n, random.Random(args.seed), args.rebuild)
            except PeerError as exc:
                failures += 1
                print(f"  FAILED: {exc}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
