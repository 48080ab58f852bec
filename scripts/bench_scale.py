"""The growth curve: `lds build` and queries on synthetic countries of growing size, beside OSRM and Valhalla.

For each size (OSM nodes) it makes the country with scripts/synth_country.py (kept in --work for reuse), runs
`lds build` in a child process under /usr/bin/time (wall time, peak resident memory), and prints per size:
build time, peak memory, disk, start-up (load + first route), route p50/p95 over --pairs random pairs, 30-min car
and 60-min walk isoline p50, geocode p50 over addresses of the file. With ``--peers`` and the peer tools in
.venv-bench (scripts/setup_bench.sh) it also times ``osrm extract + contract`` (CH), ``osrm partition +
customize`` (MLD) and Valhalla's tile build on the same file, with their peak memory. Prints figures, asserts
nothing.

    nice -n 10 .venv/bin/python scripts/bench_scale.py --sizes 1000000,5000000 --work /tmp/scale --peers
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

BENCH_VENV = REPO / ".venv-bench" / "bin"


def timed(cmd: list[str], log: Path, timeout: float | None = None, **kw) -> dict[str, Any]:
    """Run ``cmd`` under /usr/bin/time: its wall seconds and peak resident memory (MB); output to ``log``. Past
    ``timeout`` seconds the whole process group is killed and the result says so (with the log's last line)."""
    with log.open("a") as out:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "TIME %e %M", *cmd],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: a timeout stops the tool, not only /usr/bin/time
            **kw,
        )
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            return {"error": f"stopped after {timeout:.0f} s", "last_line": tail[0][-160:]}
    lines = [ln for ln in err.splitlines() if ln.startswith("TIME ")]
    with log.open("a") as out:
        out.write(err)
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}, see {log}"}
    _, secs, kb = lines[-1].split()
    return {"seconds": round(float(secs), 1), "peak_mb": round(int(kb) / 1024, 1)}


def du_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def pct(ms: list[float], q: float) -> float | None:
    return round(float(np.percentile(ms, q)), 2) if ms else None


def _timed_calls(fn, args_list) -> list[float]:
    """Milliseconds of each call that answered (a point off the roads, no route: not timed; counts show it)."""
    from lds.errors import LdsError

    ms = []
    for args in args_list:
        t0 = time.perf_counter()
        try:
            fn(*args)
        except LdsError:
            continue
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def _addresses(data: Path, n: int, seed: int) -> list[str]:
    import pyarrow.parquet as pq

    files = sorted((data).rglob("addresses*.parquet"))
    if not files:
        return []
    table = pq.read_table(files[0], columns=["street", "housenumber", "city"])  # the sample, not 10M dicts in RAM
    rng = np.random.default_rng(seed)
    picks = rng.choice(table.num_rows, size=min(n, table.num_rows), replace=False)
    rows = table.take(picks).to_pylist()
    return [" ".join(str(row.get(k) or "") for k in ("street", "housenumber", "city")).strip() for row in rows]


def queries(data: Path, pairs: int, seed: int, points_file: Path | None = None) -> dict[str, Any]:
    """Start-up and query latencies of the built data, in this process; the points used go to ``points_file``
    (for the peers' side, scripts/bench_scale_peers.py)."""
    from lds.core import LDS
    from lds.settings import Settings

    state = data.parent / (data.name + ".state")
    state.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    core = LDS(Settings.from_env(env={}, data_dir=str(data), auth=False, cache_enabled=False, state_dir=str(state)))
    car = core.graph("car")
    ids = np.flatnonzero(np.asarray(car.node_scc) == car.largest_scc)
    rng = np.random.default_rng(seed)
    pick = rng.choice(ids, size=(pairs, 2))
    lon, lat = np.asarray(car.node_lon), np.asarray(car.node_lat)
    pts = [((float(lon[a]), float(lat[a])), (float(lon[b]), float(lat[b]))) for a, b in pick]
    core.route(*pts[0], mode="car")
    startup = time.perf_counter() - t0
    route_ms = _timed_calls(lambda a, b: core.route(a, b, mode="car"), pts)
    origins = [(p[0],) for p in pts[:10]]
    if points_file is not None:
        points_file.write_text(json.dumps({"pairs": [[*a, *b] for a, b in pts], "origins": [o for o, in origins]}))
    car_iso = _timed_calls(lambda o: core.isolines(o, [1800], mode="car"), origins)
    walk_iso = _timed_calls(lambda o: core.isolines(o, [3600], mode="walk"), origins)
    addrs = _addresses(data, 200, seed)
    geo_ms = _timed_calls(lambda a: core.geocode(a, limit=1), [(a,) for a in addrs])
    return {
        "startup_s": round(startup, 2),
        "route_p50_ms": pct(route_ms, 50),
        "route_p95_ms": pct(route_ms, 95),
        "routes": len(route_ms),
        "iso_car30_p50_ms": pct(car_iso, 50),
        "iso_walk60_p50_ms": pct(walk_iso, 50),
        "geocode_p50_ms": pct(geo_ms, 50),
        "geocodes": len(geo_ms),
    }


def peers(
    pbf: Path, work: Path, log: Path, threads: int = 2, timeout: float | None = None, engines: str = "osrm,valhalla"
) -> dict[str, Any]:
    """OSRM (CH and MLD) and Valhalla preparation on the same file: seconds and peak memory of each tool, run with
    ``threads`` threads each (the peers' own tools from .venv-bench, configured as scripts/peers does)."""
    out: dict[str, Any] = {}
    names = engines.split(",")
    algos = [a for a in ("ch", "mld") if "osrm" in names or f"osrm-{a}" in names]
    if algos:
        out.update(_osrm(pbf, work, log, threads, timeout, algos))
    if "valhalla" in names:
        out["valhalla_tiles"] = _valhalla(pbf, work, log, threads, timeout)
    return out


def _osrm(pbf: Path, work: Path, log: Path, threads: int, timeout: float | None, algos: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    py = BENCH_VENV / "python"
    try:
        spec = subprocess.run(
            [str(py), "-c", "import osrm, pathlib; print(pathlib.Path(osrm.__file__).parent)"],
            capture_output=True,
            text=True,
            check=True,
        )
        profile = Path(spec.stdout.strip()) / "share" / "profiles" / "car.lua"
    except (OSError, subprocess.CalledProcessError):
        return {"osrm": "not installed (scripts/setup_bench.sh)"}
    for algo in algos:
        d = work / f"osrm-{algo}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        src = d / "country.osm.pbf"
        os.link(pbf, src) if pbf.stat().st_dev == d.stat().st_dev else shutil.copy(pbf, src)
        base = d / "country.osrm"
        steps = [("extract", ["extract", "-p", str(profile), "-t", str(threads), str(src)])]
        steps += (
            [("contract", ["contract", "-t", str(threads), str(base)])]
            if algo == "ch"
            else [("partition", ["partition", "-t", str(threads), str(base)]),
                  ("customize", ["customize", "-t", str(threads), str(base)])]
        )
        res = {}
        for name, args in steps:
            res[name] = timed([str(py), "-m", "osrm", *args], log, timeout=timeout, cwd=d)
            if "error" in res[name]:
                break
        res["disk_mb"] = du_mb(d) - round(pbf.stat().st_size / 2**20, 1)
        out[f"osrm_{algo}"] = res
        shutil.rmtree(d, ignore_errors=True)  # a country's OSRM files are large; the figures are kept
    return out


def _valhalla(pbf: Path, work: Path, log: Path, threads: int, timeout: float | None) -> dict[str, Any]:
    py = BENCH_VENV / "python"
    tiles = work / "valhalla"
    shutil.rmtree(tiles, ignore_errors=True)
    (tiles / "tiles").mkdir(parents=True)
    conf = tiles / "valhalla.json"
    # scripts/peers/valhalla.py's config: stock, without the admin/timezone/elevation data this machine lacks
    make_config = (  # and where the wheel keeps the real tools (its bin/ entry points only wrap them)
        "import json, sys; from pathlib import Path; from scripts.peers.valhalla import _config, PYVALHALLA_BIN_DIR; "
        "print(json.dumps({'config': _config(Path(sys.argv[1]), int(sys.argv[2])), 'bin': str(PYVALHALLA_BIN_DIR)}))"
    )
    cfg = subprocess.run(
        [str(py), "-c", make_config, str(tiles / "tiles"), str(threads)],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if cfg.returncode == 0:
        made = json.loads(cfg.stdout)
        conf.write_text(json.dumps(made["config"]))
        tool = Path(made["bin"]) / "valhalla_build_tiles"
        res = timed([str(tool), "-c", str(conf), str(pbf)], log, timeout=timeout)
        res["disk_mb"] = du_mb(tiles)
    else:
        res = {"error": cfg.stderr.strip()[-200:]}
    shutil.rmtree(tiles, ignore_errors=True)
    return res


def peer_queries(pbf: Path, points: Path, cache: Path, log: Path, threads: int, engines: str) -> dict[str, Any]:
    """OSRM (MLD) and Valhalla answering the points lds answered, in the benchmark Python: routes p50/p95 and
    30-min car / 60-min walk isochrone p50 (scripts/bench_scale_peers.py; prepares their data once in ``cache``)."""
    engines = ",".join(e for e in ("osrm", "valhalla") if any(n.startswith(e) for n in engines.split(",")))
    cmd = [str(BENCH_VENV / "python"), str(REPO / "scripts" / "bench_scale_peers.py"), "--pbf", str(pbf),
           "--points", str(points), "--cache", str(cache), "--threads", str(threads), "--engines", engines]
    with log.open("a") as err:
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, check=False, cwd=REPO)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if run.returncode == 0 and lines else {"error": f"exit {run.returncode}, see {log}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,5000000", help="comma-separated OSM node counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/lds-scale"))
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--peers", action="store_true", help="also prepare OSRM and Valhalla on each file")
    ap.add_argument("--modes", default="car,walk,bike")
    ap.add_argument("--peer-threads", type=int, default=2, help="threads for each peer tool (-t, concurrency)")
    ap.add_argument("--peer-timeout", type=float, default=3600, help="seconds before a peer tool is stopped")
    ap.add_argument("--skip-lds", action="store_true", help="only make the files and time the peers")
    ap.add_argument("--peer-engines", default="osrm,valhalla",
                    help="which peers --peers prepares: osrm (CH and MLD), osrm-ch, osrm-mld, valhalla")
    args = ap.parse_args(argv)
    from synth_country import write

    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        pbf = args.work / f"country-{size}-{args.seed}.osm.pbf"
        row: dict[str, Any] = {"nodes_target": size}
        if not pbf.is_file():
            t0 = time.perf_counter()
            stats = write(pbf, size, args.seed, progress=False)
            row["synth_s"] = round(time.perf_counter() - t0, 1)
            row["osm_nodes"] = stats["nodes"]
        row["pbf_mb"] = round(pbf.stat().st_size / 2**20, 1)
        data = args.work / f"data-{size}"
        shutil.rmtree(data, ignore_errors=True)
        log = args.work / f"build-{size}.log"
        build = {"error": "skipped (--skip-lds)"} if args.skip_lds else timed(
            [sys.executable, "-m", "lds.cli", "build", str(pbf), "--out", str(data), "--modes", args.modes, "--restart"],
            log,
            cwd=REPO,
        )
        row.update({f"build_{k}": v for k, v in build.items()})
        row["disk_mb"] = du_mb(data) if data.exists() else None
        meta = data / "meta.json"
        if meta.is_file():  # lds build's own account: seconds and peak memory per stage
            meta = json.loads(meta.read_text())
            row["build_stages"] = meta.get("stages")
            # /usr/bin/time's peak is the largest single process's; stages run side by side add up (the build
            # samples their sum), as one multi-threaded peer tool's threads do in its one process
            if "build_peak_mb" in row:
                row["build_peak_mb"] = max(row["build_peak_mb"], meta.get("peak_memory_mb", 0))
        if "error" not in build:
            row.update(queries(data, args.pairs, args.seed, args.work / f"points-{size}.json"))
            for mode in ("car", "walk"):
                ch = next(data.rglob(f"graph/{mode}/ch.json"), None)
                if ch:
                    st = json.loads(ch.read_text())
                    row[f"{mode}_ch"] = {
                        k: st.get(k) for k in ("nodes", "arcs", "core_nodes", "dissection_nodes", "contract_seconds")
                    }
        print(json.dumps(row), flush=True)
        if args.peers:
            row["peers"] = peers(pbf, args.work / f"peers-{size}", args.work / f"peers-{size}.log",
                                 args.peer_threads, args.peer_timeout, args.peer_engines)
            points = args.work / f"points-{size}.json"
            if points.is_file():
                row["peers"]["queries"] = peer_queries(pbf, points, args.work / f"peer-data-{size}",
                                                       args.work / f"peers-{size}.log", args.peer_threads,
                                                       args.peer_engines)
            print(json.dumps({"nodes_target": size, "peers": row["peers"]}), flush=True)
        rows.append(row)
    print("\nsize      build s  peak MB  disk MB  start s  route p50  iso car30  iso walk60  geocode p50")
    for r in rows:
        print(
            f"{r['nodes_target']:>9}  {r.get('build_seconds')!s:>7}  {r.get('build_peak_mb')!s:>7}  "
            f"{r.get('disk_mb')!s:>7}  {r.get('startup_s')!s:>7}  {r.get('route_p50_ms')!s:>9}  "
            f"{r.get('iso_car30_p50_ms')!s:>9}  {r.get('iso_walk60_p50_ms')!s:>10}  {r.get('geocode_p50_ms')!s:>11}"
        )
        q = r.get("peers", {}).get("queries", {})
        for label, mine, theirs in (("route p50 vs OSRM MLD", "route_p50_ms", q.get("osrm_mld_route")),
                                    ("route p50 vs Valhalla", "route_p50_ms", q.get("valhalla_route")),
                                    ("isoline car 30 min p50 vs Valhalla", "iso_car30_p50_ms", q.get("valhalla_iso_car30")),
                                    ("isoline walk 60 min p50 vs Valhalla", "iso_walk60_p50_ms",
                                     q.get("valhalla_iso_walk60"))):
            if theirs and theirs.get("p50_ms") and r.get(mine):
                print(f"           {label}: lds {r[mine]} ms, peer {theirs['p50_ms']} ms "
                      f"({r[mine] / theirs['p50_ms']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
