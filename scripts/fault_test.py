"""Faults on a real deployment on 127.0.0.1: Redis dies under load, a worker is SIGKILLed, the service restarts.

    .venv/bin/python scripts/fault_test.py --pbf ../shared/data/monaco-2020-07.osm.pbf
    .venv/bin/python scripts/fault_test.py --data graph_data/monaco-2020-07 --items 100000

Everything runs on this machine: its own redis-server on a free port, `lds serve` (gunicorn) and
`lds worker` processes. Four scenarios, each printing its figures (nothing is asserted):

1. **Redis stopped mid-load, then started again**: mixed traffic for ``--load-seconds``; Redis is
   killed at 1/4 and restarted at 1/2. Prints failed requests (target 0) and a per-second timeline
   of requests, failures and cache hits/misses (hits vanish, then come back by themselves).
2. **Worker SIGKILLed mid-job**: a ``--items`` address batch job (default 100,000) on two workers;
   one worker is SIGKILLed while it holds a chunk. Prints how long the job took and checks every
   entry: present exactly once, in input order, equal to the in-process answer for its address.
3. **Service restarted during a job**: (a) with Redis: service and workers all SIGKILLed mid-job
   and started again; (b) without Redis (in-process jobs): the service SIGKILLed and restarted.
   Prints whether and how the job resumed (progress kept, finished, entries checked).
4. **New data under load**: the extract is rebuilt twice into a copy of the served data dir during
   mixed traffic; the server switches by itself the first time (``LDS_DATA_CHECK_S``) and on SIGHUP
   the second. Prints failed requests (target 0), how long each switch took, the answers per data
   version (``X-LDS-Data-Version``), and answers from an older version after a newer one on the same
   connection (target 0: no worker answers from two versions).

The job phases run with the answer cache off (``LDS_CACHE_ENABLED=false``) so that every address
is really geocoded: a small extract repeats its few hundred addresses, which would otherwise be hits.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import (
    PrivateRedis,
    Server,
    dump,
    http_json,
    run_load,
    sample_addresses,
    sample_requests,
    start_worker,
)


def data_dir_for(args) -> str:
    if args.data:
        return args.data
    from lds.build.pipeline import build, extract_name

    out = Path(args.build_root) / extract_name(args.pbf)
    build(args.pbf, out, quiet=True, if_changed=True)
    return str(out)


def mixed_paths(data: str, mix: str, seed: int) -> list[str]:
    """60 request paths of each endpoint of ``mix`` (comma-separated) drawn from the data, shuffled."""
    requests = sample_requests(data, 60)
    paths = [p for kind, urls in requests.items() if kind in mix.split(",") for p in urls]
    random.Random(seed).shuffle(paths)
    return paths


def load_during(server: Server, paths: list[str], length: float, chaos, title: str):
    """Mixed load for ``length`` seconds over 16 connections while ``chaos()`` runs in a thread; prints the summary
    and a timeline, returns the LoadResult."""
    thread = threading.Thread(target=chaos)
    thread.start()
    result = run_load(server.port, paths, connections=16, seconds=length)
    thread.join()
    summary = result.summary()
    summary.pop("endpoints")
    dump(title, summary)
    for row in result.timeline(step=max(1.0, length / 20)):
        print("   ", row)
    return result


# --- 1. Redis outage under load ------------------------------------------------------------------------
def redis_outage(data: str, tmp: Path, args) -> None:
    redis = PrivateRedis()
    redis.start()
    # No per-process front LRU or response memo here: every lookup must go to Redis, so the outage is really felt.
    env = {"LDS_REDIS_URL": redis.url, "LDS_LOG_LEVEL": "info", "LDS_CACHE_LOCAL_FRONT_ENTRIES": "0",
           "LDS_RESPONSE_MEMO_BYTES": "0"}
    server = Server(data, env, workers=args.workers, log_path=str(tmp / "outage-server.log"))
    paths = mixed_paths(data, args.mix, seed=3)
    try:
        server.start()
        run_load(server.port, paths, connections=8, total=len(paths))  # fill the cache
        length = args.load_seconds

        def outage() -> None:
            time.sleep(length / 4)
            redis.proc.kill()
            redis.proc.wait()
            print(f"  t={length / 4:.0f}s redis-server killed", flush=True)
            time.sleep(length / 4)
            redis.start()
            print(f"  t={length / 2:.0f}s redis-server started again (empty)", flush=True)

        result = load_during(server, paths, length, outage, "1. redis outage under load")
        for line in (tmp / "outage-server.log").read_text().splitlines():
            if line.startswith("{") and '"lds.cache"' in line:
                doc = json.loads(line)
                print(f"  server log {doc['ts']}: {doc['msg']}")
        print(f"  RESULT failed requests: {len(result.failures)} of {result.count}", flush=True)
        for f in result.failures[:5]:
            print("    failure:", f)
    finally:
        server.stop()
        redis.stop()


# --- 4. new data under load -----------------------------------------------------------------------------
def served_version(server: Server) -> str | None:
    status, doc = http_json("GET", server.base + "/v3/lds/status", timeout=30)
    return doc.get("data_version") if status == 200 else None


def version_mixes(result, order: list[str]) -> dict:
    """Per connection, answers from an older version after one from a newer (a worker answering from two
    versions, or a connection moved back): the count, plus answers naming no or an unknown version."""
    rank = {v: i for i, v in enumerate(order)}
    last: dict[int, int] = {}
    back = unknown = 0
    for _, conn, version in sorted(result.versions):
        if version not in rank:
            unknown += 1
            continue
        back += rank[version] < last.get(conn, -1)
        last[conn] = max(last.get(conn, -1), rank[version])
    return {"went_back": back, "unknown_version": unknown, "without_version": result.count - len(result.versions)}


def data_swap(data: str, tmp: Path, args) -> None:
    """The extract rebuilt twice into the served dir under mixed load: the server picks the first version up by
    itself (LDS_DATA_CHECK_S=1), the second on SIGHUP to its master."""
    import os

    from lds.build.pipeline import build
    from lds.dataset import DataDir

    source = DataDir.open(data).meta["source"]["path"]
    root = tmp / "swap" / Path(data).name
    build(source, root, quiet=True)  # a flat dir of its own, as every existing deployment has
    order = [DataDir.open(root).data_version]
    redis = PrivateRedis()
    redis.start()
    env = {"LDS_REDIS_URL": redis.url, "LDS_DATA_CHECK_S": "1", "LDS_LOG_LEVEL": "warning"}
    server = Server(str(root), env, workers=args.workers, log_path=str(tmp / "swap-server.log"))
    paths = mixed_paths(str(root), args.mix, seed=5)
    switches, served_at = [], []
    try:
        server.start()
        run_load(server.port, paths, connections=8, total=len(paths))  # fill the cache
        length = max(args.load_seconds, 30.0)
        t0 = time.perf_counter()

        def swaps() -> None:
            for how in ("by itself", "SIGHUP"):
                time.sleep(length / 5)
                started = time.perf_counter()
                order.append(build(source, root, quiet=True)["data_version"])
                flipped = time.perf_counter()
                if how == "SIGHUP":
                    os.kill(server.proc.pid, signal.SIGHUP)
                while served_version(server) != order[-1]:
                    time.sleep(0.05)
                served_at.append(time.perf_counter())
                switches.append({"how": how, "t_build_s": round(started - t0, 1), "build_s": round(flipped - started, 1),
                                 "flip_to_served_s": round(time.perf_counter() - flipped, 2), "version": order[-1]})
                print(f"  t={flipped - t0:.1f}s pointer flipped to {order[-1]}, served {how} "
                      f"{switches[-1]['flip_to_served_s']} s later", flush=True)

        result = load_during(server, paths, length, swaps, "4. data swap under load")
        settled = served_at[-1] + 5  # the old workers have drained their kept-alive connections (2 s) by then
        late = {v for t, _, v in result.versions if t > settled}
        per_version = {v: sum(1 for _, _, x in result.versions if x == v) for v in order}
        mixes = version_mixes(result, order)
        dump("   answers per data version", per_version)
        dump("   switches", switches)
        dump("   version checks", {**mixes, "versions_after_settling": sorted(late)})
        print(f"  RESULT failed requests: {len(result.failures)} of {result.count}; answers from an older version "
              f"after a newer on one connection: {mixes['went_back']}; answers naming no known version: "
              f"{mixes['unknown_version'] + mixes['without_version']}", flush=True)
        for f in result.failures[:5]:
            print("    failure:", f)
    finally:
        server.stop()
        redis.stop()


# --- jobs -------------------------------------------------------------------------------------------------
def make_batch(data: str, n_items: int) -> tuple[list, dict]:
    """``n_items`` addresses cycling over the extract's distinct ones, plus the in-process answer of each."""
    from lds.core import LDS
    from lds.settings import Settings

    distinct = sample_addresses(data, 300)
    core = LDS(Settings.from_env(env={}, data_dir=data, auth=False, cache_enabled=False))
    answers = {}
    for address, entry in zip(distinct, core.geocode_batch(distinct)):
        answers[address] = entry
    items = [distinct[i % len(distinct)] for i in range(n_items)]
    return items, answers


def submit(base: str, items: list) -> str:
    status, body = http_json("POST", base + "/v3/lds/geocoding/batch?async=true", {"addresses": items}, timeout=600)
    if status != 202:
        raise RuntimeError(f"batch submission answered {status}: {body}")
    return body["jobId"]


def poll(base: str, job_id: str, until, timeout: float = 1800, quiet: bool = False) -> dict:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            status, doc = http_json("GET", f"{base}/v3/lds/jobs/{job_id}")
        except OSError:
            time.sleep(0.5)  # the service is restarting
            continue
        if status == 200:
            if not quiet and doc["progress"] != last:
                last = doc["progress"]
            if until(doc):
                return doc
        time.sleep(0.25)
    raise TimeoutError(f"job {job_id} did not reach the expected state; last progress {last}")


def verify(base: str, job_id: str, doc: dict, items: list, answers: dict) -> dict:
    """Walk every page; count entries, order and equality with the in-process answers."""
    entries = list(doc["results"])
    next_url = doc["next"]
    while next_url:
        _, page = http_json("GET", next_url)
        entries.extend(page["results"])
        next_url = page["next"]
    mismatches = sum(1 for item, entry in zip(items, entries) if entry != answers[item])
    return {"entries": len(entries), "expected": len(items), "mismatches_vs_in_process": mismatches,
            "every_entry_once_in_order": len(entries) == len(items) and mismatches == 0,
            "progress": doc["progress"], "status": doc["status"]}


def worker_kill(data: str, tmp: Path, args, items: list, answers: dict) -> None:
    redis = PrivateRedis()
    redis.start()
    env = {"LDS_REDIS_URL": redis.url, "LDS_CACHE_ENABLED": "false", "LDS_JOB_LEASE_S": str(args.lease),
           "LDS_LOG_LEVEL": "info"}
    server = Server(data, env, workers=args.workers, log_path=str(tmp / "kill-server.log"))
    workers = {name: start_worker(data, env, name, str(tmp / f"{name}.log")) for name in ("w1", "w2")}
    try:
        server.start()
        t0 = time.time()
        job_id = submit(server.base, items)
        dump("2. job submitted", {"jobId": job_id, "items": len(items), "submit_seconds": round(time.time() - t0, 2)})
        poll(server.base, job_id, lambda d: d["progress"]["done"] >= len(items) // 4)
        victim = workers["w1"]
        victim.send_signal(signal.SIGKILL)  # the worker and its running chunk vanish
        victim.wait()
        killed_at = time.time() - t0
        print(f"  t={killed_at:.1f}s worker w1 SIGKILLed mid-job (a chunk in flight)", flush=True)
        doc = poll(server.base, job_id, lambda d: d["status"] in ("success", "failure", "cancelled"))
        took = time.time() - t0
        check = verify(server.base, job_id, doc, items, answers)
        retried = "AbandonedJobError" in (tmp / "w2.log").read_text() or "retry" in (tmp / "w2.log").read_text()
        dump("2. worker SIGKILLed mid-job", {**check, "job_seconds": round(took, 1),
                                               "items_per_s": round(len(items) / took, 1),
                                               "abandoned_chunk_retried_by_w2": retried})
    finally:
        for w in workers.values():
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                w.wait(120)
        server.stop()
        redis.stop()


def restart_with_redis(data: str, tmp: Path, args, items: list, answers: dict) -> None:
    redis = PrivateRedis()
    redis.start()
    env = {"LDS_REDIS_URL": redis.url, "LDS_CACHE_ENABLED": "false", "LDS_JOB_LEASE_S": str(args.lease)}
    server = Server(data, env, workers=args.workers, log_path=str(tmp / "restart-server.log"))
    workers = [start_worker(data, env, f"r{i}", str(tmp / f"r{i}.log")) for i in range(2)]
    try:
        server.start()
        t0 = time.time()
        job_id = submit(server.base, items)
        before = poll(server.base, job_id, lambda d: d["progress"]["done"] >= len(items) // 3)["progress"]
        server.stop(signal.SIGKILL)
        for w in workers:
            w.send_signal(signal.SIGKILL)
            w.wait()
        print(f"  t={time.time() - t0:.1f}s service and workers SIGKILLed at progress {before}", flush=True)
        time.sleep(1)
        server.start()
        after_restart = http_json("GET", f"{server.base}/v3/lds/jobs/{job_id}")[1]["progress"]
        workers = [start_worker(data, env, f"r{i + 2}", str(tmp / f"r{i + 2}.log")) for i in range(2)]
        doc = poll(server.base, job_id, lambda d: d["status"] in ("success", "failure", "cancelled"))
        check = verify(server.base, job_id, doc, items, answers)
        dump("3a. service + workers restarted during a job (Redis)",
             {**check, "progress_before_kill": before, "progress_after_restart": after_restart,
              "job_seconds": round(time.time() - t0, 1)})
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                w.wait(120)
        server.stop()
        redis.stop()


def restart_local(data: str, tmp: Path, args, items: list, answers: dict) -> None:
    state = tmp / "local-state"
    env = {"LDS_STATE_DIR": str(state), "LDS_CACHE_ENABLED": "false", "LDS_JOB_LEASE_S": str(args.lease)}
    server = Server(data, env, workers=args.workers, log_path=str(tmp / "local-server.log"))
    try:
        server.start()
        t0 = time.time()
        job_id = submit(server.base, items)
        before = poll(server.base, job_id, lambda d: d["progress"]["done"] >= len(items) // 3)["progress"]
        server.stop(signal.SIGKILL)
        print(f"  t={time.time() - t0:.1f}s service SIGKILLed at progress {before}", flush=True)
        server.start()
        after_restart = http_json("GET", f"{server.base}/v3/lds/jobs/{job_id}")[1]["progress"]
        doc = poll(server.base, job_id, lambda d: d["status"] in ("success", "failure", "cancelled"))
        check = verify(server.base, job_id, doc, items, answers)
        dump("3b. service restarted during a job (no Redis, in-process jobs)",
             {**check, "progress_before_kill": before, "progress_after_restart": after_restart,
              "job_seconds": round(time.time() - t0, 1)})
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a built data dir")
    ap.add_argument("--pbf", help="an extract to build first (reused when unchanged)")
    ap.add_argument("--build-root", default="graph_data")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers of the service")
    ap.add_argument("--load-seconds", type=float, default=20.0)
    ap.add_argument("--items", type=int, default=100_000, help="addresses in the SIGKILL job")
    ap.add_argument("--restart-items", type=int, default=30_000, help="addresses in the restart jobs")
    ap.add_argument("--lease", type=int, default=10, help="LDS_JOB_LEASE_S of the workers")
    ap.add_argument("--mix", default="geocode,reverse,route,isolines", help="endpoints in the outage load")
    ap.add_argument("--only", choices=("outage", "kill", "restart", "swap"), action="append")
    args = ap.parse_args()
    if not (args.data or args.pbf):
        ap.error("give --data or --pbf")
    data = data_dir_for(args)
    only = set(args.only or ("outage", "kill", "restart", "swap"))
    tmp = Path(tempfile.mkdtemp(prefix="lds-fault-"))
    print(f"logs in {tmp}", flush=True)
    try:
        if "outage" in only:
            redis_outage(data, tmp, args)
        if "swap" in only:
            data_swap(data, tmp, args)
        if only & {"kill", "restart"}:
            items, answers = make_batch(data, max(args.items, args.restart_items))
            if "kill" in only:
                worker_kill(data, tmp, args, items[: args.items], answers)
            if "restart" in only:
                restart_with_redis(data, tmp, args, items[: args.restart_items], answers)
                restart_local(data, tmp, args, items[: args.restart_items], answers)
    finally:
        if not any(p.suffix == ".log" and p.stat().st_size for p in tmp.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
