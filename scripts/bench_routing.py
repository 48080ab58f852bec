"""Routing benchmark: lds against OSRM (CH) and Valhalla, side by side, in the same run and on the same pairs.

Builds (or reuses) the data of an extract, draws N random origin/destination pairs among the nodes of the
largest strongly connected car component (fixed seed), and prints per-query p50/p95 of in-process routes with
full geometry (``LDS.route``: snapping, hierarchy query, geometry, steps, JSON value) next to OSRM's and
Valhalla's on the same pairs, the latency ratios, and how often lds's distance is within 5 % of OSRM's or
Valhalla's. Then the isolines part (``scripts/bench_isolines.py``) on origins of the same pairs, unless
``--skip-isolines``; with ``--scaling``, how build time, memory and query time grow from Monaco to Heidelberg to
a synthetic grid of about a million nodes. Prints figures, asserts nothing.

    .venv-bench/bin/python scripts/bench_routing.py --pbf ../shared/data/heidelberg-ors-2024-09.osm.pbf
    .venv-bench/bin/python scripts/bench_routing.py --pbf ../shared/data/monaco-2020-07.osm.pbf --scaling

Peers need ``.venv-bench`` (``scripts/setup_bench.sh``); ``--no-peers`` times lds alone in any venv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from lds.errors import LdsError

AGREEMENT_TOLERANCE = 0.05  # "within 5 % of OSRM's or Valhalla's distance"
WARMUP = 20
SHARED_DATA = REPO.parent / "shared" / "data"


def pct(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


# --- data -----------------------------------------------------------------------------------------------------

def _fresh(data: Path, digest: str) -> bool:
    """A data dir built from this extract whose routing arrays have the current format."""
    from lds.build.pipeline import current_meta
    from lds.formats import CH_FORMAT

    if current_meta(data, digest) is None:
        return False
    for mode_dir in (data / "graph").glob("*"):
        ch = mode_dir / "ch.json"
        if not ch.is_file() or json.loads(ch.read_text()).get("format") != CH_FORMAT:
            return False
    return (data / "graph" / "car" / "snap_cell_keys.npy").is_file()


def peak_rss_mb() -> float | None:
    """This process's own peak resident memory (VmHWM: unlike ru_maxrss it does not start from the parent's
    size when the process was forked from a big one)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


_BUILD_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[5])
from bench_routing import peak_rss_mb
from lds.build.pipeline import build
t0 = time.perf_counter()
meta = build(sys.argv[1], sys.argv[2], modes=sys.argv[3].split(","), skip_geocoder=sys.argv[4] == "1", quiet=True)
print(json.dumps({"seconds": round(time.perf_counter() - t0, 2), "peak_memory_mb": peak_rss_mb()}))
"""


def build_in_child(pbf: str | Path, out: Path, modes: str = "car,walk,bike", geocoder: bool = True) -> dict[str, Any]:
    """``lds build`` in a fresh process, so its time and peak memory are its own; returns its meta.json with the
    child's measured ``seconds`` and ``peak_memory_mb``."""
    proc = subprocess.run([sys.executable, "-c", _BUILD_CHILD, str(pbf), str(out), modes, "0" if geocoder else "1",
                           str(REPO / "scripts")], check=True, cwd=REPO, capture_output=True, text=True)
    meta = json.loads((out / "meta.json").read_text())
    meta["child"] = json.loads(proc.stdout.strip().splitlines()[-1])
    return meta


def ensure_data(pbf: str, data: Path, rebuild: bool, log: Callable[[str], None]) -> tuple[dict[str, Any], bool]:
    from lds.build.pipeline import sha256_file

    if not rebuild and _fresh(data, sha256_file(Path(pbf))):
        return json.loads((data / "meta.json").read_text()), False
    log(f"building {data} from {pbf} ...")
    return build_in_child(pbf, data), True


def add_data_args(ap, extract: Path, work: str) -> None:
    """--extract / --data / --work: an existing build, or an extract built into a work dir (see data_from_args)."""
    ap.add_argument("--extract", default=str(extract), help="built into --work when --data is not given")
    ap.add_argument("--data", type=Path, help="an existing build (lds build --out DIR)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / work)


def data_from_args(args, log: Callable[[str], None]) -> Path:
    """The --data build, or --extract built into --work (rebuilt only when the extract changed)."""
    if args.data is not None:
        return args.data
    data = args.work / Path(args.extract).name.split(".")[0]
    ensure_data(args.extract, data, False, log)
    return data


def dir_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


# --- pairs and timing -----------------------------------------------------------------------------------------

def random_pairs(graph, n: int, seed: int) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """``n`` origin/destination pairs of nodes of the graph's largest strongly connected component."""
    ids = np.flatnonzero(np.asarray(graph.node_scc) == graph.largest_scc)
    pick = np.random.default_rng(seed).choice(ids, size=(n, 2))
    lon, lat = np.asarray(graph.node_lon), np.asarray(graph.node_lat)
    return [((float(lon[a]), float(lat[a])), (float(lon[b]), float(lat[b]))) for a, b in pick]


def time_calls(fn: Callable[[tuple, tuple], float | None], pairs) -> tuple[list[float], list[float | None]]:
    """Milliseconds per call and the distance each call returned (None: no route / an error)."""
    for a, b in pairs[:WARMUP]:
        with contextlib.suppress(Exception):  # warm-up only; failures are counted below
            fn(a, b)
    ms, dist = [], []
    for a, b in pairs:
        t0 = time.perf_counter()
        try:
            d = fn(a, b)
        except LdsError:
            d = None
        ms.append((time.perf_counter() - t0) * 1000.0)
        dist.append(d)
    return ms, dist


def agreement(ours: list[float | None], peers: dict[str, list[float | None]]) -> dict[str, Any]:
    """Share of routed pairs whose distance is within the tolerance of each peer's, and of either peer's."""
    tol = AGREEMENT_TOLERANCE
    near = {name: [o is not None and d is not None and d > 0 and abs(o - d) <= tol * d for o, d in zip(ours, ds)]
            for name, ds in peers.items()}
    routed = [o is not None for o in ours]
    n = sum(routed)
    out: dict[str, Any] = {"routed_pairs": n}
    for name, flags in near.items():
        answered = sum(1 for o, d in zip(ours, peers[name]) if o is not None and d is not None)
        out[f"within_5pct_{name}"] = round(sum(flags) / n, 4) if n else None
        out[f"pairs_with_{name}_route"] = answered
    if len(near) > 1:
        either = [any(f[i] for f in near.values()) for i in range(len(ours))]
        out["within_5pct_either"] = round(sum(either) / n, 4) if n else None
        names = list(peers)
        a, b = peers[names[0]], peers[names[1]]
        both = [(x, y) for x, y in zip(a, b) if x and y]
        out[f"{names[0]}_vs_{names[1]}_within_5pct"] = (
            round(sum(abs(x - y) <= tol * y for x, y in both) / len(both), 4) if both else None)
    return out


def run_routes(core, pairs, peers: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    ours_ms, ours = time_calls(lambda a, b: core.route(a, b, (), "car")["distance"], pairs)
    report["lds"] = {"p50_ms": pct(ours_ms, 50), "p95_ms": pct(ours_ms, 95),
                     "no_route": sum(d is None for d in ours)}
    log(f"routes lds car: p50 {report['lds']['p50_ms']} ms p95 {report['lds']['p95_ms']} ms "
        f"({len(pairs)} pairs, {report['lds']['no_route']} without a route)")
    peer_dist = {}
    calls = {
        "osrm": lambda p: (lambda a, b: (r := p.route(*a, *b, geometry=True)) and r["distance"]),
        "valhalla": lambda p: (lambda a, b: (r := p.route(*a, *b, "auto", geometry=True)) and r["distance"]),
    }
    for name, peer in peers.items():
        ms, dist = time_calls(calls[name](peer), pairs)
        peer_dist[name] = dist
        entry = {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "no_route": sum(d is None for d in dist)}
        entry["lds_p50_ratio"] = ratio(report["lds"]["p50_ms"], entry["p50_ms"])
        entry["lds_p95_ratio"] = ratio(report["lds"]["p95_ms"], entry["p95_ms"])
        report[name] = entry
        log(f"routes {name}: p50 {entry['p50_ms']} ms p95 {entry['p95_ms']} ms ({entry['no_route']} without a "
            f"route) | lds/{name} p50 {entry['lds_p50_ratio']} p95 {entry['lds_p95_ratio']}")
    if peers:
        report["agreement"] = agreement(ours, peer_dist)
        a = report["agreement"]
        parts = [f"{k.removeprefix('within_5pct_')} {v:.1%}" for k, v in a.items()
                 if k.startswith("within_5pct_") and v is not None]
        log(f"distance within 5 %: {', '.join(parts)} of {a['routed_pairs']} routed pairs"
            + (f" | osrm vs valhalla {a['osrm_vs_valhalla_within_5pct']:.1%}"
               if a.get("osrm_vs_valhalla_within_5pct") is not None else ""))
        ratios = [o / d for o, d in zip(ours, peer_dist.get("osrm", [])) if o and d]
        if ratios:
            report["lds_over_osrm_distance"] = {"median": round(float(np.median(ratios)), 4),
                                                "p05": round(float(np.percentile(ratios, 5)), 4),
                                                "p95": round(float(np.percentile(ratios, 95)), 4)}
    return report


# --- scaling --------------------------------------------------------------------------------------------------

def _grid_child(out: str, side: int, mode: str) -> None:
    """Hidden subcommand: write and prepare a synthetic grid graph; print seconds and peak memory."""
    from lds.build.roads import write_graph
    from lds.graph.prepare import prepare_routing
    from lds.graph.synthetic import grid_graph

    t0 = time.perf_counter()
    g = grid_graph(side, side, mode=mode, trunk_every=100, jitter=0.1, seed=side)
    write_graph(g, Path(out) / "graph" / mode)
    stats = prepare_routing(Path(out) / "graph" / mode, mode)
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 2), "stats": stats,
                      "peak_memory_mb": peak_rss_mb()}))


def _query_graph(graph_dir: Path, mode: str, n: int, seed: int) -> dict[str, Any]:
    from lds.graph.store import RoadGraph
    from lds.routing import route
    from lds.settings import Settings

    t0 = time.perf_counter()
    g = RoadGraph.load(graph_dir, mode)
    g.router  # noqa: B018 - load the hierarchy and the snapping grid now, not in the first query
    g.snapper  # noqa: B018
    load = time.perf_counter() - t0
    settings = Settings.from_env(env={})
    pairs = random_pairs(g, n, seed)
    ms, dist = time_calls(lambda a, b: route(g, [a, b], settings).to_json()["distance"], pairs)
    ch = json.loads((graph_dir / "ch.json").read_text())
    return {"nodes": g.n_nodes, "edges": g.n_edges, "hierarchy": ch["kind"], "hierarchy_arcs": ch["arcs"],
            "core_nodes": ch.get("core_nodes"), "contract_s": ch["contract_seconds"], "load_s": round(load, 3),
            "query_p50_ms": pct(ms, 50), "query_p95_ms": pct(ms, 95), "no_route": sum(d is None for d in dist),
            "disk_mb": dir_mb(graph_dir)}


def run_scaling(args, log: Callable[[str], None]) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="lds-scaling-") as tmp:
        for pbf in args.scaling_pbf:
            out = Path(tmp) / Path(pbf).name.split(".")[0]
            meta = build_in_child(pbf, out, "car,walk", geocoder=False)
            for mode in ("car", "walk"):
                row = {"graph": Path(pbf).name, "mode": mode, "build_s (car+walk)": meta["child"]["seconds"],
                       "build_peak_mb": meta["child"]["peak_memory_mb"],
                       **_query_graph(out / "graph" / mode, mode, args.scaling_n, args.seed)}
                rows.append(row)
                log(f"scaling: {json.dumps(row)}")
        for side, mode in [(args.grid_side, "walk")] + [(s, "car") for s in args.grid_car_sides]:
            if side <= 0:
                continue
            out = Path(tmp) / f"grid{side}-{mode}"
            proc = subprocess.run([sys.executable, __file__, "--_grid", str(out), str(side), mode], check=True,
                                  capture_output=True, text=True, cwd=REPO)
            built = json.loads(proc.stdout.strip().splitlines()[-1])
            row = {"graph": f"grid {side}x{side}", "mode": mode, "build_s": built["seconds"],
                   "build_peak_mb": built["peak_memory_mb"],
                   **_query_graph(out / "graph" / mode, mode, args.scaling_n, args.seed)}
            rows.append(row)
            log(f"scaling: {json.dumps(row)}")
    return rows


def print_table(rows: list[dict[str, Any]], log: Callable[[str], None]) -> None:
    cols = ["graph", "mode", "nodes", "edges", "hierarchy", "hierarchy_arcs", "core_nodes", "build_s",
            "build_s (car+walk)", "build_peak_mb", "contract_s", "disk_mb", "load_s", "query_p50_ms", "query_p95_ms"]
    cols = [c for c in cols if any(c in r for r in rows)]
    log(" | ".join(cols))
    for r in rows:
        log(" | ".join(str(r.get(c, "")) for c in cols))


# --- main -----------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_grid"]:
        _grid_child(argv[1], int(argv[2]), argv[3])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pbf", required=True, help="OSM extract (.osm.pbf)")
    ap.add_argument("--data", help="lds data dir (default graph_data/<extract name>; built when missing or stale)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the lds data even when it is up to date")
    ap.add_argument("--n", type=int, default=1000, help="random origin/destination pairs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-peers", action="store_true", help="time lds alone (no OSRM/Valhalla)")
    ap.add_argument("--skip-isolines", action="store_true", help="skip the isolines part (scripts/bench_isolines.py)")
    ap.add_argument("--iso-n", type=int, default=200, help="isoline origins (taken from the pairs)")
    ap.add_argument("--iso-check", type=int, default=50, help="isoline origins checked against Valhalla")
    ap.add_argument("--scaling", action="store_true", help="also measure Monaco -> Heidelberg -> synthetic grid")
    ap.add_argument("--scaling-pbf", nargs="*", default=[str(SHARED_DATA / "monaco-2020-07.osm.pbf"),
                                                          str(SHARED_DATA / "heidelberg-ors-2024-09.osm.pbf")])
    ap.add_argument("--scaling-n", type=int, default=1000, help="queries per scaling graph")
    ap.add_argument("--grid-side", type=int, default=1000, help="synthetic walk grid side (1000 = 1M nodes; 0 skips)")
    ap.add_argument("--grid-car-sides", type=lambda s: [int(x) for x in s.split(",") if x], default=[30, 60, 100],
                    help="synthetic car grid sides (turn costs make large uniform grids very dense)")
    ap.add_argument("--json", help="also write the report here")
    args = ap.parse_args(argv)
    log = print

    from lds.build.pipeline import extract_name
    from lds.core import LDS
    from lds.settings import Settings

    report: dict[str, Any] = {"extract": Path(args.pbf).name, "pairs": args.n, "seed": args.seed}
    data = Path(args.data or REPO / "graph_data" / extract_name(args.pbf))
    meta, built = ensure_data(args.pbf, data, args.rebuild, log)
    car_ch = json.loads((data / "graph" / "car" / "ch.json").read_text())
    peak = meta.get("child", {}).get("peak_memory_mb") or meta["peak_memory_mb"]
    report["build"] = {"built_now": built, "build_seconds": meta["build_seconds"],
                       "peak_memory_mb": peak, "data_mb": dir_mb(data),
                       "car_hierarchy": {k: car_ch[k] for k in ("nodes", "arcs", "shortcuts", "core_nodes",
                                                                 "contract_seconds") if k in car_ch}}
    log(f"extract {Path(args.pbf).name}: build {meta['build_seconds']} s (all modes + geocoder), peak memory "
        f"{peak} MiB, data {report['build']['data_mb']} MiB{'' if built else ' (reused)'}; "
        f"car hierarchy {report['build']['car_hierarchy']}")
    t0 = time.perf_counter()
    core = LDS(Settings.from_env(env={}, data_dir=str(data), cache_enabled=False), data)
    for g in core.graphs.values():
        g.router  # noqa: B018 - load hierarchies and snapping grids before timing
        g.snapper  # noqa: B018
    report["load_seconds"] = round(time.perf_counter() - t0, 3)
    log(f"load: {report['load_seconds']} s (data dir, every mode's hierarchy and snapping grid)")

    pairs = random_pairs(core.graph("car"), args.n, args.seed)
    peers: dict[str, Any] = {}
    if not args.no_peers:
        from peers import OsrmPeer, ValhallaPeer

        peers = {"osrm": OsrmPeer(args.pbf), "valhalla": ValhallaPeer(args.pbf)}
        for name, p in peers.items():
            log(f"peer {name}: {'reused' if p.reused else 'prepared'} ({p.prepare_seconds} s to prepare)")
    report["routes"] = run_routes(core, pairs, peers, log)

    if not args.skip_isolines:
        try:
            import bench_isolines
        except ImportError as exc:
            log(f"isolines skipped: scripts/bench_isolines.py not importable ({exc})")
        else:
            origins = [a for a, _ in pairs[: args.iso_n]]
            buildings = bench_isolines.read_buildings(args.pbf) if peers.get("valhalla") is not None else None
            report["isolines"] = bench_isolines.run(core, origins, {"valhalla": peers.get("valhalla")},
                                                    check=args.iso_check, seed=args.seed, log=log,
                                                    buildings=buildings if buildings is not None and len(buildings)
                                                    else None)
    if args.scaling:
        report["scaling"] = run_scaling(args, log)
        print_table(report["scaling"], log)
    for p in peers.values():
        p.close()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
