"""Where a served process's memory goes: resident (RSS) and anonymous memory after each part of loading a data dir
and each structure built on first use (the ones `lds serve` builds before forking, `LDS.warm`), in this process.

Anonymous memory is what each server must hold in RAM (shared with forked workers until written, but never
paged back to the data files); the rest of RSS is pages of memory-mapped data files. Prints figures, asserts
nothing.

    .venv/bin/python scripts/bench_load_memory.py --data graph_data/country-5000000-1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def memory_mb() -> tuple[float, float]:
    """(resident, anonymous) memory of this process in MiB, from /proc/self/status."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[key] = int(value.split()[0]) / 1024
    return round(fields.get("VmRSS", 0.0), 1), round(fields.get("RssAnon", 0.0), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    args = ap.parse_args(argv)
    from lds.core import LDS
    from lds.graph.search import search_index
    from lds.isoline_shape import claim_boxes, snapping_edges
    from lds.isoline_walk import foot_network
    from lds.routing_alternatives import alternative_spaces
    from lds.settings import Settings

    rows: list[dict] = []
    before = memory_mb()

    def step(name: str, fn: Callable[[], object]) -> None:
        nonlocal before
        t0 = time.perf_counter()
        fn()
        now = memory_mb()
        rows.append({"step": name, "seconds": round(time.perf_counter() - t0, 2), "rss_mb": now[0],
                     "anon_mb": now[1], "anon_added_mb": round(now[1] - before[1], 1)})
        before = now
        print(json.dumps(rows[-1]), flush=True)

    state = tempfile.mkdtemp(prefix="lds-load-")
    core: list[LDS] = []
    step("load (LDS)", lambda: core.append(LDS(Settings.from_env(env={}, data_dir=str(args.data), auth=False,
                                                                 cache_enabled=False, state_dir=state))))
    lds = core[0]
    for mode, graph in lds.graphs.items():
        step(f"{mode} snapper", lambda g=graph: g.snapper)
        step(f"{mode} router", lambda g=graph: g.router)
        step(f"{mode} search_index", lambda g=graph: search_index(g))
        step(f"{mode} snapping_edges", lambda g=graph: snapping_edges(g))
        step(f"{mode} claim_boxes", lambda g=graph: claim_boxes(g))
        step(f"{mode} alternative_spaces", lambda g=graph: alternative_spaces(g))
    if "car" in lds.graphs and "walk" in lds.graphs:
        step("foot_network", lambda: foot_network(lds.graphs["car"], lds.graphs["walk"]))
    step("geocoder", lambda: lds.geocode("1 Main Street", limit=1))
    print(f"\n{'step':<28} {'s':>6} {'RSS MB':>8} {'anon MB':>8} {'+anon MB':>9}")
    for r in rows:
        print(f"{r['step']:<28} {r['seconds']:>6} {r['rss_mb']:>8} {r['anon_mb']:>8} {r['anon_added_mb']:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
