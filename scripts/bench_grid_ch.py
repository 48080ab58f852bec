"""Contraction of the turn-aware car graph on a street grid: build time, core size, query p50, exactness.

Grids with turn costs are where a contraction hierarchy densifies (every crossing has four ways in and three
out, all of about equal cost). This builds an N x N grid (``lds.graph.synthetic.grid_graph``, arterials every
10th line, speeds jittered 10 %), contracts its car graph with the settings of ``lds.graph.prepare`` and prints
the build time, arcs, core size and the p50/p95 of hierarchy queries between random road edges, checking a
sample of them against plain Dijkstra over the same turn graph; the build's wall and CPU time, the peak
memory of the process that builds (and queries) and the hierarchy's size on disk. ``--baseline`` first runs the old setting (a
core searched by Dijkstra) in the same run for the ratio; ``--old-order`` the dissection order as it was before
per-part separators, 12 cut directions and minimum degree within cells. Prints figures, asserts nothing.

    .venv/bin/python scripts/bench_grid_ch.py --size 300 --baseline
    .venv/bin/python scripts/bench_grid_ch.py --size 300 --old-order
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _query_times(graph_dir: Path, n_pairs: int, seed: int, check: int) -> dict:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    from lds.graph import prepare
    from lds.graph.router import hierarchy_query
    from lds.graph.store import RoadGraph

    g = RoadGraph.load(graph_dir, "car")
    q = hierarchy_query(g)
    n = len(g.ch_rank)
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, n, size=(n_pairs, 2)).astype(np.int32)
    zero = np.zeros(1)
    times, costs, settled = [], [], []
    for s, t in pairs:
        before = q.settled
        t0 = time.perf_counter()
        found = q.route(s[None], zero, t[None], zero)
        times.append(time.perf_counter() - t0)
        settled.append(q.settled - before)
        costs.append(found[0] if found else np.inf)
    mismatches = 0
    if check:
        tg = prepare.turn_graph(g.arrays, "car")
        m = coo_matrix((tg["arc_w"].astype(np.float64), (tg["from"], tg["to"])), shape=(n, n)).tocsr()
        for k in range(check):
            s, t = pairs[k]
            ref = dijkstra(m, indices=int(s), directed=True)[t] if s != t else 0.0
            if not (ref == costs[k] or abs(ref - costs[k]) < 1e-6):
                mismatches += 1
    ms = np.array(times) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "settled_per_query": round(q.settled / n_pairs),
        "settled_p95": round(float(np.percentile(settled, 95))),
        "checked": check,
        "mismatches": mismatches,
    }


def _measure(size: int, pairs: int, check: int, work: Path, label: str, overrides: dict) -> dict:
    import resource

    from lds.build.roads import write_graph
    from lds.graph import dissection, prepare
    from lds.graph.synthetic import grid_graph

    out = work / label
    write_graph(grid_graph(size, size, jitter=0.1, seed=1), out)
    modules = {k: dissection if k in OF_DISSECTION else prepare for k in overrides}
    saved = {k: getattr(modules[k], k) for k in overrides}
    try:
        for k, v in overrides.items():
            setattr(modules[k], k, v)
        t0, c0 = time.perf_counter(), time.process_time()
        stats = prepare.prepare_routing(out, "car")
        build_s, build_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        for k, v in saved.items():
            setattr(modules[k], k, v)
    row = {
        "label": label,
        "grid": f"{size}x{size}",
        "edge_nodes": stats["nodes"],
        "arcs": stats["arcs"],
        "core_nodes": stats["core_nodes"],
        "build_s": round(build_s, 1),
        "build_cpu_s": round(build_cpu_s, 1),
        "peak_rss_mb": round(peak_mb),
        "ch_disk_mb": round(sum(p.stat().st_size for p in out.glob("ch_*.npy")) / 2**20),
    }
    row.update(_query_times(out, pairs, 7, check))
    return row


# Settings of lds.graph.dissection (the others are lds.graph.prepare's), and the order before per-part separators,
# 12 directions and minimum degree within cells.
OF_DISSECTION = ("DIRECTIONS", "PER_PART", "LEAF_NODES", "CUT_SHARE")
OLD_ORDER = {
    "DIRECTIONS": ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, -1.0)),
    "PER_PART": False,
    "DISSECTION_MIN_DEGREE": False,
}


def run(size: int, pairs: int, check: int, work: Path, label: str, overrides: dict) -> dict:
    """One build and its queries in a fresh process, so its peak memory is its own."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        row = pool.apply(_measure, (size, pairs, check, work, label, overrides))
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--check", type=int, default=20, help="queries checked against plain Dijkstra")
    ap.add_argument("--baseline", action="store_true", help="also run the old core-leaving setting first")
    ap.add_argument("--old-order", action="store_true", help="also run the old dissection order first")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        if args.baseline:
            rows.append(
                run(
                    args.size,
                    args.pairs,
                    args.check,
                    Path(tmp),
                    "core (old)",
                    {"CORE_SOFT_DEGREE": 30, "CORE_SOFT_SHARE": 0.10, "NESTED_DISSECTION": False},
                )
            )
        if args.old_order:
            rows.append(run(args.size, args.pairs, args.check, Path(tmp), "old order", OLD_ORDER))
        rows.append(run(args.size, args.pairs, args.check, Path(tmp), "current", {}))
        if len(rows) == 2:  # one baseline and the current setting
            print(
                f"query p50 old/new: {rows[0]['p50_ms'] / rows[1]['p50_ms']:.1f}x, "
                f"build time new/old: {rows[1]['build_s'] / rows[0]['build_s']:.2f}x"
            )


if __name__ == "__main__":
    main()
