"""One mode's routing hierarchy (the ``<mode> ch`` stage of `lds build`) of this tree beside a baseline, on a built
graph, in the same run: build wall and CPU seconds, peak resident memory, arcs, nodes ordered by the dissection,
hierarchy queries between random pairs (settled nodes p50/p95, microseconds p50), whether the variants answer
every pair at the same cost, and whether the stage's arrays (``ch_*``, ``snap_*``, ``turn_*``) are byte-identical.

A baseline is a git revision (``--baseline REV``: ``git archive REV lds`` unpacked in a temporary dir, its
extensions compiled there) or this tree with settings of ``lds.graph.prepare`` / ``lds.graph.dissection``
overridden (``--set NAME=VALUE``, Python literals). Each variant runs ``prepare_routing`` in a child process of its
own on hard links to the graph's base arrays (the stage writes only ``ch_*``, ``turn_*`` and ``snap_*`` files),
one after the other. The machine's noise between runs is ~10 %: ``--repeat 2`` runs the pair twice, alternating.
Prints figures, asserts nothing.

    nice -n 10 .venv/bin/python scripts/bench_hierarchy.py graph_data/country/graph --mode car --baseline HEAD
    .venv/bin/python scripts/bench_hierarchy.py graph_data/country/graph --mode walk --set CORE_SOFT_DEGREE=14
"""

from __future__ import annotations

import argparse
import ast
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_geocoder_build import export_revision

# Written by prepare_routing (never linked from the built graph, so the stage cannot write through a link).
OUTPUTS = ("ch_", "ch.json", "turn_", "snap_", "derived_")

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
from lds.graph import dissection, prepare
from lds.graph.router import hierarchy_query
from lds.graph.store import RoadGraph

out, mode, overrides, pairs_file = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
for name, value in overrides.items():
    setattr(dissection if hasattr(dissection, name) and not hasattr(prepare, name) else prepare, name, value)
t0, c0 = time.perf_counter(), time.process_time()
stats = prepare.prepare_routing(out, mode)
build_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
q = hierarchy_query(RoadGraph.load(out, mode, skip=("derived_",)))
pairs = np.load(pairs_file)
zero = np.zeros(1)
settled, micros, costs = [], [], []
for s, t in pairs:
    before = q.settled
    t1 = time.perf_counter()
    found = q.route(s[None], zero, t[None], zero)
    micros.append((time.perf_counter() - t1) * 1e6)
    settled.append(q.settled - before)
    costs.append(float(found[0]) if found else float("inf"))
np.save(out / "bench_costs.npy", np.array(costs))
print(json.dumps({
    "build_s": round(build_s, 1), "cpu_s": round(cpu_s, 1), "peak_mb": round(peak_mb),
    "arcs": stats["arcs"], "dissection_nodes": stats["dissection_nodes"], "core_nodes": stats["core_nodes"],
    "ch_mb": round(sum(p.stat().st_size for p in out.glob("ch_*.npy")) / 2**20),
    "settled_p50": int(np.percentile(settled, 50)), "settled_p95": int(np.percentile(settled, 95)),
    "query_us_p50": round(float(np.percentile(micros, 50)), 1),
}))
"""


def compile_extensions(tree: Path, rev: str) -> None:
    """Compile the ``.pyx`` extensions of an exported ``lds`` in place with ``rev``'s own ``setup.py`` (its
    compiler directives), as ``pip install -e`` does for this tree; the copied ones are replaced."""
    setup_py = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:setup.py"], check=True,
                              capture_output=True).stdout
    (tree / "setup.py").write_bytes(setup_py)
    command = [sys.executable, "setup.py", "-q", "build_ext", "--inplace", "--force", "-j", str(os.cpu_count() or 1)]
    proc = subprocess.run(command, cwd=tree, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the extensions of {rev} did not compile:\n{proc.stderr[-3000:]}")


def link_base(graph_dir: Path, into: Path) -> Path:
    """Hard links (copies across file systems) to ``graph_dir``'s base arrays in ``into/graph/<mode>``."""
    into.mkdir(parents=True)
    for p in graph_dir.iterdir():
        if p.is_file() and not p.name.startswith(OUTPUTS):
            try:
                os.link(p, into / p.name)
            except OSError:
                shutil.copy2(p, into / p.name)
    return into


def run_variant(label: str, graph_dir: Path, mode: str, work: Path, pythonpath: Path | None, overrides: dict,
                pairs_file: Path) -> dict:
    out = link_base(graph_dir / mode, work / label / "graph" / mode)
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    else:
        env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), mode, json.dumps(overrides), str(pairs_file)],
                          check=False, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{label}: the hierarchy build failed:\n{proc.stderr[-3000:]}")
    row = {"variant": label, **json.loads(proc.stdout.strip().splitlines()[-1])}
    print(json.dumps(row), flush=True)
    return row


def same_arrays(a: Path, b: Path) -> bool:
    """Whether the stage wrote the same arrays, byte for byte (the hierarchy, the snapping grid, the turn tables)."""
    names = sorted(p.name for p in a.glob("*.npy") if p.name.startswith(OUTPUTS))
    if names != sorted(p.name for p in b.glob("*.npy") if p.name.startswith(OUTPUTS)):
        return False
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def parse_set(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        name, _, value = item.partition("=")
        overrides[name.strip()] = ast.literal_eval(value.strip())
    return overrides


def main() -> None:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("graph", type=Path, help="a built graph dir (holding car/, walk/, bike/)")
    ap.add_argument("--mode", default="car", choices=("car", "walk", "bike"))
    ap.add_argument("--baseline", help="git revision to compare with")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting of lds.graph.prepare/dissection for the baseline (this tree without --baseline)")
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--work", type=Path, help="where the hierarchies are written (default: a temporary dir)")
    args = ap.parse_args()
    overrides = parse_set(args.set)
    if not args.baseline and not overrides:
        ap.error("give --baseline REV and/or --set NAME=VALUE")
    with tempfile.TemporaryDirectory(prefix="bench-hierarchy-", dir=args.work) as tmp:
        work = Path(tmp)
        base_src = None
        if args.baseline:
            base_src = export_revision(args.baseline, work / "baseline-src")
            t0 = time.perf_counter()
            compile_extensions(base_src, args.baseline)
            print(f"baseline {args.baseline}: extensions compiled in {time.perf_counter() - t0:.0f} s", flush=True)
        n = len(np.load(args.graph / args.mode / "edge_src.npy", mmap_mode="r"))
        n = n if args.mode == "car" else len(np.load(args.graph / args.mode / "node_osm.npy", mmap_mode="r"))
        pairs_file = work / "pairs.npy"
        np.save(pairs_file, np.random.default_rng(7).integers(0, n, size=(args.pairs, 2)).astype(np.int32))
        base_label = f"{args.baseline or 'tree'}{' ' + ' '.join(args.set) if args.set else ''}"
        for k in range(args.repeat):
            b = run_variant(f"baseline{k}", args.graph, args.mode, work, base_src, overrides, pairs_file)
            t = run_variant(f"tree{k}", args.graph, args.mode, work, None, {}, pairs_file)
            a_dir, t_dir = work / f"baseline{k}/graph" / args.mode, work / f"tree{k}/graph" / args.mode
            same_costs = np.array_equal(np.load(a_dir / "bench_costs.npy"), np.load(t_dir / "bench_costs.npy"))
            identical = same_arrays(a_dir, t_dir)
            print(f"run {k}: build tree/baseline {t['build_s'] / b['build_s']:.2f}x, "
                  f"cpu {t['cpu_s'] / b['cpu_s']:.2f}x, arcs {t['arcs'] / b['arcs']:.3f}x, "
                  f"settled p50 {t['settled_p50']} vs {b['settled_p50']}; "
                  f"same costs on {args.pairs} pairs: {same_costs}; outputs byte-identical: {identical}", flush=True)
            shutil.rmtree(work / f"baseline{k}")
            shutil.rmtree(work / f"tree{k}")
        print(f"baseline = {base_label}")


if __name__ == "__main__":
    main()
