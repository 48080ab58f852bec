"""The peers' side of scripts/bench_scale.py's queries: OSRM (MLD) routes and Valhalla routes and isochrones on the
same synthetic country and the same points lds was timed on, in-process, as scripts/peers loads them.

Run with the benchmark Python (.venv-bench, scripts/setup_bench.sh); bench_scale.py calls it with the points it
used and reads one JSON line of figures from its stdout. Prints figures, asserts nothing.

    .venv-bench/bin/python scripts/bench_scale_peers.py --pbf country.osm.pbf --points points.json --cache DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import OsrmPeer, PeerError, ValhallaPeer


def timed_ms(fn: Callable[..., Any], calls: list[tuple]) -> tuple[list[float], int]:
    """Milliseconds of each call that answered (None or a peer error: not timed), and how many did not."""
    ms, failed = [], 0
    for args in calls:
        t0 = time.perf_counter()
        try:
            ok = fn(*args) is not None
        except PeerError:
            ok = False
        if ok:
            ms.append((time.perf_counter() - t0) * 1000)
        else:
            failed += 1
    return ms, failed


def summary(ms: list[float], failed: int) -> dict[str, Any]:
    if not ms:
        return {"answered": 0, "failed": failed}
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "answered": len(ms), "failed": failed}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pbf", type=Path, required=True)
    ap.add_argument("--points", type=Path, required=True, help='JSON: {"pairs": [[lon1, lat1, lon2, lat2]], '
                                                                '"origins": [[lon, lat]]}')
    ap.add_argument("--cache", type=Path, required=True, help="where the peers' prepared data is kept")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", default="osrm,valhalla")
    args = ap.parse_args(argv)
    points = json.loads(args.points.read_text())
    pairs = [tuple(p) for p in points["pairs"]]
    origins = [tuple(o) for o in points["origins"]]
    out: dict[str, Any] = {}
    if "osrm" in args.engines:
        t0 = time.perf_counter()
        with OsrmPeer(args.pbf, "car", algorithm="MLD", cache_dir=args.cache / "osrm", threads=args.threads) as osrm:
            out["osrm_mld_load_s"] = round(time.perf_counter() - t0, 2)
            out["osrm_mld_route"] = summary(*timed_ms(lambda *p: osrm.route(*p, geometry=True), pairs))
    if "valhalla" in args.engines:
        t0 = time.perf_counter()
        with ValhallaPeer(args.pbf, cache_dir=args.cache / "valhalla", threads=args.threads) as valhalla:
            out["valhalla_load_s"] = round(time.perf_counter() - t0, 2)
            out["valhalla_route"] = summary(*timed_ms(lambda *p: valhalla.route(*p, costing="car"), pairs))
            out["valhalla_iso_car30"] = summary(*timed_ms(lambda lon, lat: valhalla.isochrone(lon, lat, [30], "car"),
                                                          origins))
            out["valhalla_iso_walk60"] = summary(*timed_ms(
                lambda lon, lat: valhalla.isochrone(lon, lat, [60], "walk"), origins))
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
