"""Route latency and agreement of lds against OSRM (CH) and Valhalla on the same pairs, in one run.

    .venv-bench/bin/python scripts/bench_routing.py --pbf ../shared/data/heidelberg-ors-2024-09.osm.pbf
    .venv-bench/bin/python scripts/bench_routing.py --pbf ../shared/data/monaco-2020-07.osm.pbf --no-peers
    .venv/bin/python scripts/bench_routing.py --scaling   # build/query growth: Monaco -> Heidelberg -> ~1M-node grid

Builds (or reuses) the data, draws N origin/destination pairs among the nodes of the largest strongly
connected car component with a fixed seed, and times the in-process core call ``LDS.route`` (snapping, CH
query, full geometry and steps) per query. With the peers (``scripts/setup_bench.sh``) the same pairs go to
OSRM and Valhalla in-process: latency ratios and the share of pairs whose distance is within 5 % of OSRM's or
Valhalla's. Then the isoline part (``scripts/bench_isolines.py``) runs on the same data. Prints figures,
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q)) if len(values) else float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_pairs(core, n: int, seed: int) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    g = core.graphs["car"]
    nodes = np.flatnonzero(np.asarray(g.node_scc) == g.largest_scc)
    rng = np.random.default_rng(seed)
    a, b = rng.choice(nodes, n), rng.choice(nodes, n)
    lon, lat = np.asarray(g.node_lon), np.asarray(g.node_lat)
    return [((float(lon[i]), float(lat[i])), (float(lon[j]), float(lat[j]))) for i, j in zip(a, b) if i != j]


def time_calls(fn, pairs):
    out, times = [], []
    for o, d in pairs:
        t = time.perf_counter()
        try:
            r = fn(o, d)
        except Exception as exc:  # a failed query is recorded, not fatal
            r = exc
        times.append(time.perf_counter() - t)
        out.append(r)
    return out, times


def load_core(pbf: str, data: str | None):
    from lds.build.pipeline import build, extract_name
    from lds.core import LDS
    from lds.settings import Settings

    out = Path(data or REPO / "graph_data" / extract_name(pbf))
    t = time.perf_counter()
    meta = build(pbf, out, if_changed=True, quiet=True)
    build_s = meta.get("build_seconds", time.perf_counter() - t)
    core = LDS(Settings.from_env(env={}, data_dir=str(out), cache_enabled=False, auth=False), out)
    core.warm()
    return core, meta, build_s


def bench(args) -> dict:
    core, meta, build_s = load_core(args.pbf, args.data)
    pairs = random_pairs(core, args.n, args.seed)
    print(f"extract {Path(args.pbf).name}: build {build_s:.1f} s (peak {meta.get('peak_memory_mb')} MiB), "
          f"load {core.load_seconds * 1000:.0f} ms, car graph {core.graphs['car'].n_nodes} nodes, {len(pairs)} pairs")
    for o, d in pairs[:20]:  # warm-up
        try:
            core.route(o, d, mode="car")
        except Exception:
            pass
    ours, t_ours = time_calls(lambda o, d: core.route(o, d, mode="car"), pairs)
    ok = [isinstance(r, dict) for r in ours]
    report = {"pairs": len(pairs), "lds": {"p50_ms": pct(t_ours, 50), "p95_ms": pct(t_ours, 95), "failed": ok.count(False)}}
    print(f"lds      route p50 {pct(t_ours, 50):6.3f} ms  p95 {pct(t_ours, 95):6.3f} ms  failed {ok.count(False)}")
    peers = {}
    if not args.no_peers:
        from peers import OsrmPeer, ValhallaPeer

        peers["osrm"] = OsrmPeer(args.pbf)
        peers["valhalla"] = ValhallaPeer(args.pbf)
        results = {}
        for name, peer in peers.items():
            res, t = time_calls(lambda o, d, p=peer: p.route(o[0], o[1], d[0], d[1]), pairs)
            results[name] = res
            p50 = pct(t, 50)
            report[name] = {"p50_ms": p50, "p95_ms": pct(t, 95), "ratio_lds_over_peer": report["lds"]["p50_ms"] / p50}
            print(f"{name:8s} route p50 {p50:6.3f} ms  p95 {pct(t, 95):6.3f} ms  lds/peer p50 ratio "
                  f"{report['lds']['p50_ms'] / p50:.2f}")

        def close(a, b):
            return isinstance(b, dict) and b and abs(a - b["distance"]) <= 0.05 * max(b["distance"], 1.0)

        agree = {"osrm": 0, "valhalla": 0, "either": 0, "peers_agree": 0}
        n = 0
        for i, r in enumerate(ours):
            if not isinstance(r, dict):
                continue
            n += 1
            o, v = results["osrm"][i], results["valhalla"][i]
            co, cv = close(r["distance"], o), close(r["distance"], v)
            agree["osrm"] += co
            agree["valhalla"] += cv
            agree["either"] += co or cv
            agree["peers_agree"] += isinstance(o, dict) and close(o["distance"], v)
        report["agreement"] = {k: v / max(n, 1) for k, v in agree.items()}
        print("distance within 5 %: " + ", ".join(f"{k} {v * 100:.1f} %" for k, v in report["agreement"].items())
              + f" (of {n} routed pairs; 'peers_agree' = OSRM vs Valhalla)")
    if not args.skip_isolines:
        from bench_isolines import random_origins, run

        origins = random_origins(core, args.isoline_origins, args.seed)
        report["isolines"] = run(core, origins, peers.get("valhalla"), check=min(50, args.isoline_origins))
    report["peak_memory_mb"] = peak_mb()
    return report


def scaling(args) -> dict:
    """How build time, memory and query time grow: Monaco -> Heidelberg -> a synthetic ~1M-node grid."""
    import subprocess

    rows = {}
    shared = REPO.parent / "shared" / "data"
    for name in ("monaco-2020-07.osm.pbf", "heidelberg-ors-2024-09.osm.pbf"):
        code = (f"import sys; sys.argv=['x','--pbf','{shared / name}','--no-peers','--skip-isolines','--n','300'];"
                f"sys.path.insert(0,'{REPO / 'scripts'}'); import bench_routing as b, json;"
                f"print('JSON'+json.dumps(b.bench(b.parser().parse_args(sys.argv[1:]))))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        print(out.split("JSON")[0].strip())
        rows[name] = json.loads(out.split("JSON")[1])
    code = (f"import sys; sys.path.insert(0,'{REPO / 'scripts'}'); import bench_routing as b, json;"
            f"print('JSON'+json.dumps(b.grid_bench({args.grid})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    print(out.stdout.split("JSON")[0].strip(), out.stderr[-2000:] if out.returncode else "")
    if "JSON" in out.stdout:
        rows["grid"] = json.loads(out.stdout.split("JSON")[1])
    return rows


def grid_bench(side: int) -> dict:
    """Build (graph arrays + CH), load and query a side x side synthetic grid, in this process."""
    import tempfile

    from lds.build.progress import Progress
    from lds.build.roads import write_graph
    from lds.graph.prepare import prepare_routing
    from lds.graph.store import RoadGraph
    from lds.graph.synthetic import grid_graph
    from lds.routing import route
    from lds.settings import Settings

    t0 = time.perf_counter()
    g = grid_graph(side, side, jitter=0.2, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "car"
        write_graph(g, d)
        prepare_routing(d, "car", Progress(quiet=True))
        build_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        graph = RoadGraph.load(d, "car")
        graph.snapper, graph.router  # noqa: B018
        load_s = time.perf_counter() - t1
        rng = np.random.default_rng(1)
        lon, lat = np.asarray(graph.node_lon), np.asarray(graph.node_lat)
        idx = rng.integers(0, graph.n_nodes, (300, 2))
        settings = Settings.from_env(env={})
        times = []
        for a, b in idx:
            t = time.perf_counter()
            route(graph, [(lon[a], lat[a]), (lon[b], lat[b])], settings)
            times.append(time.perf_counter() - t)
    row = {"nodes": graph.n_nodes, "edges": graph.n_edges, "build_s": build_s, "load_s": load_s,
           "p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "peak_memory_mb": peak_mb()}
    print(f"grid {side}x{side}: {row['nodes']} nodes, build+CH {build_s:.1f} s, load {load_s * 1000:.0f} ms, "
          f"route p50 {row['p50_ms']:.3f} ms p95 {row['p95_ms']:.3f} ms, peak {row['peak_memory_mb']:.0f} MiB")
    return row


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pbf", help="OSM extract")
    ap.add_argument("--data", help="lds data dir (default graph_data/<extract name>)")
    ap.add_argument("--n", type=int, default=1000, help="origin/destination pairs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-peers", action="store_true", help="time lds alone")
    ap.add_argument("--skip-isolines", action="store_true")
    ap.add_argument("--isoline-origins", type=int, default=200)
    ap.add_argument("--scaling", action="store_true", help="report growth Monaco -> Heidelberg -> grid")
    ap.add_argument("--grid", type=int, default=1000, help="grid side for --scaling (1000 = 1M nodes)")
    ap.add_argument("--json", help="also write the report here")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.scaling:
        report = scaling(args)
    elif args.pbf:
        report = bench(args)
    else:
        parser().error("--pbf or --scaling is required")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
