"""Cold start: how fast `lds serve` answers right after it starts on data that is not in memory, against a start on
data that is.

The built data is memory-mapped, so a server is up in seconds, but after a reboot, on a new replica, or on a country
whose data outgrows the memory, its first answers fault the data in from disk. Each run here:

1. *cold*: drops the data's files from the page cache (``POSIX_FADV_DONTNEED`` on each file: no root needed; it
   drops the clean pages of files no process maps); *cached*: reads every file of the data through first (the
   baseline: what a server finds after a build, or once the data has been used; it needs the data to fit in memory);
   it prints how much of the data is cached then;
2. starts `lds serve` (auth and answer cache off);
3. as soon as ``/health`` answers, sends a fixed mixed load (car routes between points spread over the extract, car
   and walk isolines, geocodes, reverse geocodes) over ``--clients`` connections: the *first pass*;
4. right after it, as many other requests (another sample): the *fresh pass*, which tells whether the server is warm
   for queries elsewhere than the first load went (how long the cold tail lasts);
5. then that second load again: the *warm pass*.

Runs alternate (``--runs``, ``--rounds`` times), so a drifting machine touches both alike. Per run it prints
start-up (to ``/health``), the first pass's p50 / p95 / max and wall seconds and its p50 over time, the fresh
pass's p50 / p95 / wall seconds, and the warm pass's p50 / wall seconds. Asserts nothing. A build that has just
finished is still writing its files back to disk: wait for that (``sync``) before a cold run means anything.

    .venv/bin/python scripts/bench_cold_start.py --data /work/scale/c5 --requests 40
    .venv/bin/python scripts/bench_cold_start.py --extract ../shared/data/heidelberg-ors-2024-09.osm.pbf
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from bench_routing import SHARED_DATA, add_data_args, data_from_args, dir_mb
from loadgen import Server, sample_requests

from lds.graph.scratch import resident_bytes
from lds.versions import current_path

CHUNK = 16 * 2**20


def data_files(data: Path) -> list[Path]:
    return [p for p in current_path(data).rglob("*") if p.is_file()]


def cached_bytes(files: list[Path]) -> int:
    """Bytes of ``files`` in the page cache now (``mincore`` over a read-only map of each)."""
    total = 0
    for path in files:
        if path.stat().st_size:
            total += resident_bytes(np.memmap(path, dtype=np.uint8, mode="r"))
    return total


def read_through(files: list[Path]) -> None:
    buf = bytearray(CHUNK)
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def evict(files: list[Path]) -> None:
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed_pass(port: int, paths: list[str], clients: int) -> tuple[list[float], float, int, list[float]]:
    """Latencies (ms) of every request, the pass's wall seconds, how many answered 200, and when each ended (s)."""

    def one(path: str) -> tuple[float, int, float]:
        t = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            end = time.perf_counter()
            return (end - t) * 1000, response.status, end - t0
        finally:
            conn.close()

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, paths))
    return ([r[0] for r in results], time.perf_counter() - t0, sum(r[1] == 200 for r in results),
            [r[2] for r in results])


def timeline(latencies: list[float], ends: list[float], step: float) -> str:
    """The first pass's p50 (ms) per ``step`` seconds of it: how long the cold tail lasts."""
    bins: dict[int, list[float]] = {}
    for ms, end in zip(latencies, ends):
        bins.setdefault(int(end // step), []).append(ms)
    return " ".join(f"{pct(bins.get(k, []), 50):.0f}" for k in range(max(bins) + 1))


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(ap, SHARED_DATA / "heidelberg-ors-2024-09.osm.pbf", "lds-cold-start")
    ap.add_argument("--runs", default="cold,cached", help="comma-separated runs, alternated: cold, cached")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--requests", type=int, default=40, help="requests of each kind in the load")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--step", type=float, default=2.0, help="seconds per bin of the first pass's timeline")
    args = ap.parse_args(argv)

    log = lambda msg: print(msg, flush=True)
    args.work.mkdir(parents=True, exist_ok=True)
    data = data_from_args(args, log)
    loads = []
    for seed in (7, 8):  # the first pass's requests, then the fresh pass's
        requests = sample_requests(str(data), args.requests, seed=seed)
        requests["car isolines"] = [p.replace("range=300", "range=900").replace("mode=walk", "mode=car")
                                    for p in requests["isolines"]]
        loads.append([p for kind in zip(*requests.values()) for p in kind])  # kinds interleaved, same order every run
    paths, fresh = loads
    files = data_files(data)
    log(f"data {data}: {dir_mb(data)} MB on disk; load: " + ", ".join(f"{len(v)} {k}" for k, v in requests.items())
        + f" over {args.clients} connections, {args.workers} workers")
    log(f"{'run':>7} {'cached':>7} {'start s':>7} | first pass: {'p50':>7} {'p95':>8} {'max':>8} {'wall s':>7} | "
        f"fresh: {'p50':>7} {'p95':>8} {'wall s':>7} | warm: {'p50':>6} {'wall s':>6} | ok")
    for _ in range(args.rounds):
        for run in args.runs.split(","):
            evict(files) if run == "cold" else read_through(files)
            cached = cached_bytes(files) / 2**20
            server = Server(str(data), {"LDS_CACHE_ENABLED": "false", "LDS_RESPONSE_MEMO_BYTES": "0"},
                            workers=args.workers, log_path=str(args.work / f"serve-{run}.log"))
            t0 = time.perf_counter()
            server.start(timeout=600)
            started = time.perf_counter() - t0
            try:
                first, first_s, ok1, ends = timed_pass(server.port, paths, args.clients)
                second, second_s, ok2, _ = timed_pass(server.port, fresh, args.clients)
                warm, warm_s, ok3, _ = timed_pass(server.port, fresh, args.clients)
            finally:
                server.stop()
            log(f"{run:>7} {cached:6.0f}M {started:7.2f} | {'':12}{pct(first, 50):7.1f} {pct(first, 95):8.1f} "
                f"{max(first):8.1f} {first_s:7.2f} | {'':7}{pct(second, 50):7.1f} {pct(second, 95):8.1f} "
                f"{second_s:7.2f} | {'':6}{pct(warm, 50):6.1f} {warm_s:6.2f} | {ok1 + ok2 + ok3}/{len(paths) + 2 * len(fresh)}")
            log(f"        first pass p50 per {args.step:g} s: {timeline(first, ends, args.step)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
