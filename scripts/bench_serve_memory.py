"""Served memory: what each gunicorn worker of `lds serve` costs beside the data they share, and the start-up time.

The built data is meant to be shared, not copied per worker: the graphs are memory maps, the address index is read
in the master before gunicorn forks (``preload_app``), so workers share its pages copy-on-write. What a worker adds
of its own (its *private* memory: interpreter, per-worker caches, search structures built on first use, pages of
the shared arrays it happened to write) is what limits the number of workers on a big extract. For each worker
count this script starts `lds serve --data DIR` (auth off, answer cache off), times start-up (process start to the
first ``/health`` 200), sends the same mixed load (routes, walk and car isolines, geocodes, reverse geocodes, spread
and car distance matrices of 10x10 points, spread over many connections so every worker answers some), and reads every process's ``/proc/PID/smaps_rollup``:

- ``private``: Private_Dirty (MB): memory written by that process alone (its heap, caches, copied pages): what
  each worker costs. Clean pages of the memory-mapped data read by one process only are not counted: they are
  page cache, shared as soon as a second process reads them and dropped under memory pressure;
- ``pss``: proportional set size (MB): shared pages divided among the processes that map them;
- ``rss``: resident set size (MB): counts shared pages in full in every process.

It prints a line per worker count (master and mean worker private/PSS after start and after the load, the sum of
PSS of the whole server) and the marginal cost of one more worker (the growth of the server's total PSS per added
worker), beside the data's size on disk. Asserts nothing.

    .venv/bin/python scripts/bench_serve_memory.py --extract ../shared/data/heidelberg-ors-2024-09.osm.pbf
    .venv/bin/python scripts/bench_serve_memory.py --data /work/scale/p1m/out --workers 1,2,4
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_routing import SHARED_DATA, add_data_args, data_from_args, dir_mb
from loadgen import Server, sample_requests

FIELDS = ("Rss", "Pss", "Private_Dirty")


def smaps(pid: int) -> dict[str, float] | None:
    """The process's memory figures in MB from /proc/PID/smaps_rollup (None when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kb = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in FIELDS:
            kb[key] = int(rest.split()[0])
    return {"rss": kb["Rss"] / 1024, "pss": kb["Pss"] / 1024,
            "private": kb["Private_Dirty"] / 1024}


def largest_mappings(pid: int, n: int) -> list[tuple[float, float, str]]:
    """The ``n`` mappings of ``pid`` holding most private dirty memory: (private MB, mapped MB, name), the name
    empty for anonymous memory (heap arenas, numpy arrays, search labels: told apart by their mapped size)."""
    rows, size, name = [], 0.0, ""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return []
    for line in text.splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:  # a mapping's first line: range perms offset dev inode [path]
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            size, name = (hi - lo) / 2**20, " ".join(head[5:])
        elif head and head[0] == "Private_Dirty:":
            rows.append((int(head[1]) / 1024, size, name))
    return sorted(rows, reverse=True)[:n]


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn's workers are children of its master)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def server_processes(server: Server) -> tuple[int, list[int]]:
    """(master, workers): the master is the process `lds serve` became (or its only child, when it forked one)."""
    master = server.proc.pid
    kids = children(master)
    if len(kids) == 1 and children(kids[0]):  # a launcher in front of gunicorn's master
        master, kids = kids[0], children(kids[0])
    return master, sorted(kids)


def snapshot(server: Server) -> dict[str, Any]:
    master, workers = server_processes(server)
    figures = {pid: smaps(pid) for pid in [master, *workers]}
    figures = {pid: f for pid, f in figures.items() if f is not None}
    worker_figs = [figures[p] for p in workers if p in figures]

    def mean(key: str) -> float:
        return sum(f[key] for f in worker_figs) / len(worker_figs) if worker_figs else 0.0

    return {"master": figures.get(master), "workers": len(worker_figs), "worker_private": mean("private"),
            "worker_pss": mean("pss"), "worker_rss": mean("rss"), "total_pss": sum(f["pss"] for f in figures.values())}


def send(port: int, items: list[str | tuple[str, dict]]) -> int:
    """Each request on a fresh connection (so gunicorn spreads them over its workers): a path is a GET, a
    (path, body) pair a JSON POST; the number answered 200."""
    ok = 0
    for item in items:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            if isinstance(item, tuple):
                conn.request("POST", item[0], json.dumps(item[1]), {"Content-Type": "application/json"})
            else:
                conn.request("GET", item)
            response = conn.getresponse()
            response.read()
            ok += response.status == 200
        finally:
            conn.close()
    return ok


def matrices(requests: dict[str, list[str]], n: int, size: int = 10) -> list[tuple[str, dict]]:
    """``n`` car matrices of ``size`` x ``size`` points, the points taken from the sampled routes' ends."""
    points = []
    for path in requests["route"]:
        query = parse_qs(urlsplit(path).query)
        for key in ("origin", "destination"):
            lon, lat = (float(x) for x in query[key][0].split(","))
            points.append([lon, lat])
    out = []
    for i in range(n):
        pick = [points[(i * size + k) % len(points)] for k in range(size)]
        out.append(("/v3/lds/routing/matrix", {"origins": pick, "destinations": pick[::-1], "mode": "car"}))
    return out


def load(port: int, requests: dict[str, list], clients: int) -> tuple[int, int]:
    paths = [p for kind in requests.values() for p in kind]
    slices = [paths[i::clients] for i in range(clients)]
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        ok = sum(pool.map(lambda s: send(port, s), slices))
    return ok, len(paths)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(ap, SHARED_DATA / "monaco-2020-07.osm.pbf", "lds-serve-memory")
    ap.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    ap.add_argument("--requests", type=int, default=60, help="requests of each kind in the load")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--car-isolines", type=int, default=0,
                    help="also N car isolines of 10 min (park and walk: the car isolines' own scratch arrays)")
    ap.add_argument("--mappings", type=int, default=0,
                    help="after each load, the N mappings of one worker holding most private memory")
    args = ap.parse_args(argv)

    log = lambda msg: print(msg, flush=True)
    data = data_from_args(args, log)
    requests: dict[str, list] = sample_requests(str(data), args.requests)
    requests["matrix"] = matrices(requests, max(1, args.requests // 4))
    requests["car isolines"] = [p.replace("range=300", "range=600").replace("mode=walk", "mode=car")
                                for p in requests["isolines"][:args.car_isolines]]
    log(f"data {data}: {dir_mb(data)} MB on disk; load: "
        + ", ".join(f"{len(v)} {k}" for k, v in requests.items()) + f" over {args.clients} connections at a time")
    log(f"{'workers':>7} {'start s':>7} | {'master priv':>11} {'worker priv':>11} {'worker pss':>10} "
        f"{'total pss':>9} | after load: {'worker priv':>11} {'worker pss':>10} {'worker rss':>10} {'total pss':>9}"
        f" {'ok':>9}")
    totals = {}
    for n in [int(x) for x in args.workers.split(",")]:
        server = Server(str(data), {"LDS_CACHE_ENABLED": "false", "LDS_LOG_LEVEL": "warning"}, workers=n,
                        log_path=str(args.work / f"serve-{n}.log") if args.work.is_dir() else None)
        args.work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        server.start()
        started = time.perf_counter() - t0
        try:
            time.sleep(1.0)  # every worker booted
            before = snapshot(server)
            ok, sent = load(server.port, requests, args.clients)
            after = snapshot(server)
            worker = server_processes(server)[1][:1]
            for private, mapped, name in largest_mappings(worker[0], args.mappings) if worker else []:
                log(f"    worker {worker[0]}: {private:8.1f} MB private of {mapped:9.1f} MB mapped  {name or '[anonymous]'}")
        finally:
            server.stop()
        totals[n] = after["total_pss"]
        master = before["master"] or {"private": 0.0}
        log(f"{n:>7} {started:>7.1f} | {master['private']:>11.0f} {before['worker_private']:>11.0f} "
            f"{before['worker_pss']:>10.0f} {before['total_pss']:>9.0f} | {'':>11} {after['worker_private']:>11.0f} "
            f"{after['worker_pss']:>10.0f} {after['worker_rss']:>10.0f} {after['total_pss']:>9.0f} {ok:>4}/{sent:<4}")
    counts = sorted(totals)
    if len(counts) > 1:
        per = (totals[counts[-1]] - totals[counts[0]]) / (counts[-1] - counts[0])
        log(f"one more worker adds {per:.0f} MB of PSS to the server (data on disk: {dir_mb(data)} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
