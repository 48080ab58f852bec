"""Table-scale geocoding: `lds geocode-table`'s Dask path on 1 and 2 workers beside the HTTP batch path, same run.

The table (``--rows``, default 5,000,000) is made from the extract's own addresses with noise
(:func:`lds.dask.sample.noisy_addresses`: number before or after the street, case, typos, postcode and city or
not, 2% unanswerable rows; drawn from a pool of 200,000 distinct strings, so each 20,000-row task repeats few),
written as Parquet, then geocoded
- on Dask: a LocalCluster of N single-threaded worker processes (N in ``--workers``, default 1 and 2), the core
  registered on them first (load time printed apart), the table read, answered and written as one GeoParquet
  file by the same code as the command (:mod:`lds.dask.table`); rows/s from the first task to the file closed;
- over HTTP (the baseline): `lds serve` (gunicorn, ``--http-workers`` 2, auth off, answer cache off) answering
  POST /v3/lds/geocoding/batch with 10,000 addresses per request (the sync maximum), ``--http-clients`` 2
  concurrent clients (one per server worker) over the first ``--http-rows`` rows (default: all).
Prints rows/s of each, rows per CPU-second of the answering processes (Dask workers; gunicorn master and workers:
what other load on a shared machine disturbs least) and the ratios against HTTP. Asserts nothing.

    .venv/bin/python scripts/bench_bulk.py                        # 5,000,000 rows (an hour or more on 2 cores)
    .venv/bin/python scripts/bench_bulk.py --rows 300000          # a few minutes
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_routing import SHARED_DATA, ensure_data
from loadgen import Server, http_json

HTTP_BATCH = 10_000  # LDS_BATCH_MAX_SYNC's default: the largest synchronous batch


def dask_run(table: Path, out: Path, data: Path, workers: int, partition_rows: int, log) -> dict:
    """Geocode ``table`` on a new LocalCluster of ``workers`` processes, as `lds geocode-table` does."""
    from lds.dask import geocode_dataframe, register_core
    from lds.dask.cluster import dask_client
    from lds.dask.table import read_table, write_geoparquet

    t0 = time.perf_counter()
    with dask_client(None, workers) as client:
        register_core(client, data)
        started = time.perf_counter() - t0
        ddf = geocode_dataframe(
            read_table(str(table), ["address", "country"], partition_rows),
            "address",
            data_dir=data,
            country_column="country",
        )
        cpu0, t1 = sum(client.run(worker_cpu_seconds).values()), time.perf_counter()
        rows = write_geoparquet(client, ddf, str(out), "geom", ["Point"])
        seconds = time.perf_counter() - t1
        cpu = sum(client.run(worker_cpu_seconds).values()) - cpu0
    log(
        f"  dask {workers} worker(s): {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s, "
        f"{rows / cpu:,.0f} rows per worker CPU-second (cluster start + index load {started:.1f} s)"
    )
    return {
        "workers": workers,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "rows_per_cpu_s": round(rows / cpu),
        "start_seconds": round(started, 2),
    }


def worker_cpu_seconds() -> float:
    """User + system CPU time of this (worker) process."""
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def http_run(table: Path, data: Path, rows: int, workers: int, clients: int, tmp: Path, log) -> dict:
    """POST the first ``rows`` rows to the batch endpoint, 10,000 per request, from ``clients`` threads."""
    import pyarrow.parquet as pq

    t = pq.read_table(table).slice(0, rows)
    items = [
        {"address": a, "country": c} if c else a
        for a, c in zip(t["address"].to_pylist(), t["country"].to_pylist(), strict=True)
    ]
    chunks = [items[i : i + HTTP_BATCH] for i in range(0, len(items), HTTP_BATCH)]
    server = Server(
        str(data),
        {
            "LDS_CACHE_ENABLED": "false",
            "LDS_STATE_DIR": str(tmp / "state"),
            "LDS_RATE_LIMIT_PER_S": "0",
            "LDS_LOG_LEVEL": "warning",
        },
        workers=workers,
        log_path=str(tmp / "server.log"),
    )
    server.start()
    answered, failures, lock = [0], [0], threading.Lock()

    def client(mine: list[list]) -> None:
        for chunk in mine:
            status, body = http_json(
                "POST", f"{server.base}/v3/lds/geocoding/batch", {"addresses": chunk, "limit": 1}, timeout=600
            )
            with lock:
                answered[0] += len(body) if status == 200 else 0
                failures[0] += status != 200

    try:
        http_json("POST", f"{server.base}/v3/lds/geocoding/batch", {"addresses": items[:100], "limit": 1})  # warm
        threads = [threading.Thread(target=client, args=(chunks[i::clients],)) for i in range(clients)]
        cpu0, t0 = server.cpu_seconds(), time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        seconds, cpu = time.perf_counter() - t0, server.cpu_seconds() - cpu0
    finally:
        server.stop()
    log(
        f"  http batch ({workers} gunicorn workers, {clients} clients): {answered[0]:,} rows in {seconds:.1f} s = "
        f"{answered[0] / seconds:,.0f} rows/s, {answered[0] / cpu:,.0f} rows per server CPU-second, "
        f"{failures[0]} failed requests"
    )
    return {
        "rows": answered[0],
        "seconds": round(seconds, 2),
        "rows_per_s": round(answered[0] / seconds),
        "rows_per_cpu_s": round(answered[0] / cpu),
        "failed_requests": failures[0],
        "server_workers": workers,
        "clients": clients,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--extract", default=str(SHARED_DATA / "monaco-2020-07.osm.pbf"))
    ap.add_argument("--data", default=str(REPO / "var" / "bench" / "monaco"), help="data dir (built when stale)")
    ap.add_argument("--workers", default="1,2", help="Dask worker counts to run")
    ap.add_argument("--partition-rows", type=int, default=20_000)
    ap.add_argument("--http-rows", type=int, help="rows sent over HTTP (default: all)")
    ap.add_argument("--http-workers", type=int, default=2)
    ap.add_argument("--http-clients", type=int, default=2)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args(argv)

    def log(line: str) -> None:
        print(line, flush=True)

    from lds.dask.sample import noisy_addresses

    data = Path(args.data)
    ensure_data(args.extract, data, False, log)
    with tempfile.TemporaryDirectory(prefix="bench_bulk_") as tmpdir:
        tmp = Path(tmpdir)
        import pyarrow.parquet as pq

        t0 = time.perf_counter()
        table = noisy_addresses(data, args.rows, seed=1)
        pq.write_table(table, tmp / "in.parquet")
        distinct = len(table["address"].unique())
        log(f"table: {args.rows:,} rows ({distinct:,} distinct addresses) made in {time.perf_counter() - t0:.1f} s")
        report: dict = {"rows": args.rows, "distinct": distinct, "dask": [], "extract": args.extract}
        del table
        for n in [int(w) for w in args.workers.split(",")]:
            report["dask"].append(
                dask_run(tmp / "in.parquet", tmp / f"out{n}.parquet", data, n, args.partition_rows, log)
            )
        report["http"] = http_run(
            tmp / "in.parquet", data, args.http_rows or args.rows, args.http_workers, args.http_clients, tmp, log
        )
    base = report["http"]["rows_per_s"]
    for run in report["dask"]:
        run["vs_http"] = round(run["rows_per_s"] / base, 2) if base else None
        per_cpu = run["rows_per_cpu_s"] / report["http"]["rows_per_cpu_s"]
        log(
            f"dask {run['workers']} worker(s) / http batch: {run['vs_http']}x rows/s, {per_cpu:.2f}x rows per CPU-second"
        )
    if len(report["dask"]) > 1:
        one = report["dask"][0]["rows_per_s"]
        log(
            f"scaling {report['dask'][-1]['workers']} vs {report['dask'][0]['workers']} worker(s): "
            f"{report['dask'][-1]['rows_per_s'] / one:.2f}x"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
