"""Where a served process's memory goes: resident (RSS) and anonymous memory after each part of loading a data dir
and each structure built on first use (the ones `lds serve` builds before forking, `LDS.warm`), in this process.

Anonymous memory is what each server must hold in RAM (shared with forked workers until written, but never
paged back to the data files); the rest of RSS is pages of memory-mapped data files. Each measurement runs in a
fresh process. When the data dir holds the arrays `lds build` derives for serving (lds.build.derived), the same
steps are measured first without them, as an older build is served (a mirror of the dir by symbolic links, minus
those files: the structures are computed at load), and the figures are printed side by side with their ratios.
Prints figures, asserts nothing.

    .venv/bin/python scripts/bench_load_memory.py --data graph_data/country-5000000-1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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


def measure(data: Path) -> list[dict]:
    """The steps of loading and warming ``data`` in this process, one JSON line printed per step."""
    from lds.core import LDS
    from lds.graph.search import search_index
    from lds.isoline_shape import claim_boxes, snapping_edges
    from lds.isoline_walk import foot_network
    from lds.settings import Settings

    rows: list[dict] = []
    before = memory_mb()

    def step(name: str, fn: Callable[[], object]) -> None:
        nonlocal before
        t0 = time.perf_counter()
        fn()
        now = memory_mb()
        rows.append({"step": name, "seconds": round(time.perf_counter() - t0, 3), "rss_mb": now[0],
                     "anon_mb": now[1], "anon_added_mb": round(now[1] - before[1], 1)})
        before = now
        print(json.dumps(rows[-1]), flush=True)

    state = tempfile.mkdtemp(prefix="lds-load-")
    core: list[LDS] = []
    step("load (LDS)", lambda: core.append(LDS(Settings.from_env(env={}, data_dir=str(data), auth=False,
                                                                 cache_enabled=False, state_dir=state))))
    lds = core[0]
    for mode, graph in lds.graphs.items():
        step(f"{mode} snapper", lambda g=graph: g.snapper)
        step(f"{mode} router", lambda g=graph: g.router)
        step(f"{mode} search_index", lambda g=graph: search_index(g))
        step(f"{mode} snapping_edges", lambda g=graph: snapping_edges(g))
        step(f"{mode} claim_boxes", lambda g=graph: claim_boxes(g))
    if "car" in lds.graphs and "walk" in lds.graphs:
        step("foot_network", lambda: foot_network(lds.graphs["car"], lds.graphs["walk"]))
    step("geocoder", lambda: lds.geocode("1 Main Street", limit=1))
    if lds.geocoder is not None and len(lds.geocoder.addr_lat):  # its building outlines are read on first use
        point = float(lds.geocoder.addr_lat[0]), float(lds.geocoder.addr_lon[0])
        step("reverse (building outlines)", lambda: lds.reverse(*point))
    return rows


def without_derived(data: Path, into: Path) -> bool:
    """Mirror the build ``data`` serves in ``into`` by symbolic links, minus its derived arrays; False when it has
    none (an older build: nothing to compare)."""
    from lds.formats import DERIVED_PREFIX
    from lds.versions import current_path

    source = current_path(data).resolve()
    found = False
    for folder, _, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        (into / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            if name.startswith(DERIVED_PREFIX) and rel.parts[:1] == ("graph",):
                found = True
                continue
            (into / rel / name).symlink_to(Path(folder) / name)
    return found


def run(data: Path) -> list[dict]:
    """:func:`measure` of ``data`` in a fresh process."""
    done = subprocess.run([sys.executable, __file__, "--data", str(data), "--one"], capture_output=True, text=True,
                          check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--one", action="store_true", help="measure the data dir as it is, in this process, only")
    args = ap.parse_args(argv)
    if args.one:
        measure(args.data)
        return 0
    with tempfile.TemporaryDirectory(prefix="lds-older-") as tmp:
        older = Path(tmp) / "data"
        base = run(older) if without_derived(args.data, older) else None
    rows = run(args.data)
    if base is None:
        print("(no derived arrays in this data dir: measured as it is)")
    print(f"\n{'step':<28} {'s':>7} {'RSS MB':>8} {'anon MB':>8} {'+anon MB':>9}" +
          ("   | computed at load:  s   RSS MB  anon MB +anon MB" if base else ""))
    for i, r in enumerate(rows):
        line = f"{r['step']:<28} {r['seconds']:>7} {r['rss_mb']:>8} {r['anon_mb']:>8} {r['anon_added_mb']:>9}"
        if base:
            b = base[i]
            line += f"   | {b['seconds']:>19} {b['rss_mb']:>8} {b['anon_mb']:>8} {b['anon_added_mb']:>8}"
        print(line)
    total = sum(r["seconds"] for r in rows)
    print(f"\ntotal: {total:.2f} s, anonymous {rows[-1]['anon_mb']} MB, resident {rows[-1]['rss_mb']} MB")
    if base:
        b_total = sum(r["seconds"] for r in base)
        print(f"computed at load (an older build): {b_total:.2f} s, anonymous {base[-1]['anon_mb']} MB, "
              f"resident {base[-1]['rss_mb']} MB")
        print(f"ratio derived / computed: time {total / max(b_total, 1e-9):.2f}, "
              f"anonymous {rows[-1]['anon_mb'] / max(base[-1]['anon_mb'], 1e-9):.2f}, "
              f"resident {rows[-1]['rss_mb'] / max(base[-1]['rss_mb'], 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
