"""Distance-matrix benchmark: lds's bucket many-to-many search beside OSRM's ``/table`` (osrm-routed, CH), in the
same run, on the same points, answers compared.

Draws N points among the nodes of the largest strongly connected car component (fixed seed) and, for each size
(100 x 100 and 1,000 x 1,000 by default), times: lds in-process (``LDS.matrix``: snapping, searches, rows),
lds served (``POST /v3/lds/routing/matrix`` to ``lds serve``, auth off, cache off) and osrm-routed's
``/table`` (``--max-table-size`` raised to fit). It then prints how many cells agree with OSRM within 1 % and
5 % (the engines' road models differ a little) and checks a sample of cells against single lds routes (the
matrix's own contract: the same numbers). Prints figures, asserts nothing.

    .venv-bench/bin/python scripts/bench_matrix.py --pbf ../shared/data/monaco-2020-07.osm.pbf

Needs ``.venv-bench`` (``scripts/setup_bench.sh``) for osrm-routed; ``--no-peers`` times lds alone.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_routing import ensure_data

SAMPLE_ROUTES = 200  # cells checked against single routes


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def points(graph, n: int, seed: int) -> list[tuple[float, float]]:
    ids = np.flatnonzero(np.asarray(graph.node_scc) == graph.largest_scc)
    pick = np.random.default_rng(seed).choice(ids, size=n)
    lon, lat = np.asarray(graph.node_lon), np.asarray(graph.node_lat)
    return [(round(float(lon[k]), 6), round(float(lat[k]), 6)) for k in pick]


class Server:
    """A child server on a free port, waited for and stopped by process group."""

    def __init__(self, cmd: list[str], probe: str, log: Path, env: dict[str, str] | None = None):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})}
            )
        deadline = time.time() + 120
        while True:
            try:
                requests.get(probe, timeout=1)
                return
            except requests.ConnectionError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise SystemExit(log.read_text()[-3000:]) from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def best_of(fn, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000.0, out


def agreement(ours: list[list[float | None]], theirs: list[list[float | None]]) -> dict[str, Any]:
    a = np.array([[np.nan if x is None else x for x in row] for row in ours], dtype=float)
    b = np.array([[np.nan if x is None else x for x in row] for row in theirs], dtype=float)
    both = np.isfinite(a) & np.isfinite(b) & (b > 0)
    rel = np.abs(a[both] - b[both]) / b[both]
    return {
        "cells": int(a.size),
        "compared": int(both.sum()),
        "within_1pct": round(float((rel <= 0.01).mean()) * 100, 1) if rel.size else None,
        "within_5pct": round(float((rel <= 0.05).mean()) * 100, 1) if rel.size else None,
        "median_rel_diff_pct": round(float(np.median(rel)) * 100, 2) if rel.size else None,
        "null_mismatch": int((np.isfinite(a) != np.isfinite(b)).sum()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pbf", default=str(REPO.parent / "shared" / "data" / "monaco-2020-07.osm.pbf"))
    ap.add_argument("--data", help="lds data dir (default graph_data/<extract name>)")
    ap.add_argument("--sizes", default="100,1000", help="matrix sides to time, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args(argv)
    log = lambda msg: print(msg, flush=True)
    pbf = Path(args.pbf)
    data = Path(args.data) if args.data else REPO / "graph_data" / pbf.name.split(".")[0]
    ensure_data(str(pbf), data, False, log)
    from lds import LDS, Settings

    core = LDS(Settings.from_env(env={}, data_dir=str(data), auth=False, cache_enabled=False))
    car = core.graphs["car"]
    sizes = [int(s) for s in args.sizes.split(",")]
    pts = points(car, max(sizes), args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench_matrix_"))
    servers: list[Server] = []
    try:
        port = free_port()
        lds_base = f"http://127.0.0.1:{port}"
        lds_bin = str(Path(sys.executable).with_name("lds"))
        servers.append(
            Server(
                [lds_bin, "serve", "--data", str(data), "--port", str(port), "--workers", "1"],
                f"{lds_base}/health",
                tmp / "lds.log",
                {
                    "LDS_AUTH": "disabled",
                    "LDS_CACHE_ENABLED": "false",
                    "LDS_STATE_DIR": str(tmp / "state"),
                    "LDS_LOG_LEVEL": "warning",
                    "LDS_MAX_BODY_BYTES": str(64 << 20),
                },
            )
        )
        osrm_base = None
        if not args.no_peers:
            import osrm
            from peers import OsrmPeer

            peer = OsrmPeer(pbf)
            osrm_port = free_port()
            osrm_base = f"http://127.0.0.1:{osrm_port}"
            servers.append(
                Server(
                    [
                        str(Path(osrm.__file__).parent / "bin" / "osrm-routed"),
                        "--ip",
                        "127.0.0.1",
                        "--port",
                        str(osrm_port),
                        "-t",
                        "2",
                        "-a",
                        "CH",
                        "--max-table-size",
                        str(max(sizes) * 2),
                        str(peer.base),
                    ],
                    f"{osrm_base}/nearest/v1/driving/7.42,43.73",
                    tmp / "osrm.log",
                )
            )
            peer.close()
        rows = []
        for n in sizes:
            sub = pts[:n]
            t_core, value = best_of(
                lambda sub=sub: core.matrix(sub, None, "car", ["duration", "distance"]), args.repeat
            )
            body = {"origins": [list(p) for p in sub], "mode": "car", "annotations": ["duration", "distance"]}
            t_http, served = best_of(
                lambda body=body: requests.post(f"{lds_base}/v3/lds/routing/matrix", json=body, timeout=600).json(),
                args.repeat,
            )
            row: dict[str, Any] = {
                "size": f"{n}x{n}",
                "lds_in_process_ms": round(t_core, 1),
                "lds_served_ms": round(t_http, 1),
            }
            assert served[0]["value"][0]["durations"] == value["durations"]
            if osrm_base:
                coords = ";".join(f"{x},{y}" for x, y in sub)
                url = f"{osrm_base}/table/v1/driving/{coords}?annotations=duration,distance"
                t_osrm, theirs = best_of(lambda url=url: requests.get(url, timeout=600).json(), args.repeat)
                row["osrm_routed_ms"] = round(t_osrm, 1)
                row["served_vs_osrm"] = round(t_http / t_osrm, 2)
                row["durations_vs_osrm"] = agreement(value["durations"], theirs["durations"])
                row["distances_vs_osrm"] = agreement(value["distances"], theirs["distances"])
            rng = np.random.default_rng(args.seed)
            same = 0
            checks = rng.integers(0, n, size=(min(SAMPLE_ROUTES, n * n), 2))
            for i, j in checks:
                r = core.route(sub[i], sub[j], mode="car")
                same += (
                    abs(r["duration"] - value["durations"][i][j]) <= 0.1
                    and abs(r["distance"] - value["distances"][i][j]) <= 0.1
                )
            row["cells_equal_to_single_routes"] = f"{same}/{len(checks)}"
            rows.append(row)
            log(json.dumps(row))
        print(
            "\n| matrix | lds in-process | lds served | osrm-routed /table | served / OSRM | durations within 1 % / 5 % of OSRM |"
            " cells = single route |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            d = r.get("durations_vs_osrm", {})
            print(
                f"| {r['size']} | {r['lds_in_process_ms']} ms | {r['lds_served_ms']} ms | {r.get('osrm_routed_ms', '-')} ms |"
                f" {r.get('served_vs_osrm', '-')}x | {d.get('within_1pct', '-')} % / {d.get('within_5pct', '-')} % |"
                f" {r['cells_equal_to_single_routes']} |"
            )
    finally:
        for s in servers:
            s.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
