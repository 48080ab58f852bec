"""Bounded load on a real `lds serve` (gunicorn) on 127.0.0.1: mixed geocode/reverse/route/isoline traffic.

    .venv/bin/python scripts/load_test.py --pbf ../shared/data/monaco-2020-07.osm.pbf
    .venv/bin/python scripts/load_test.py --data graph_data/monaco-2020-07 --seconds 20 --connections 32

Draws N requests of each kind from the extract (fixed seed), starts its own redis-server on a free
port (``--cache local`` uses the in-process LRU instead) and the service, then runs two phases:
**cold** (every request once, all cache misses: the uncached figures) and **cached** (the same
requests again and again for ``--seconds``). It prints requests/s, p50/p95/p99, errors and the
cache header counts per phase and per endpoint, and the CPU time the server and the load client
spent per request (what an otherwise idle machine could do). For scale, the same run measures a
**baseline**: a bare Flask app returning a tiny JSON body under the same gunicorn settings, with the
same client; the cached figures are also given as a ratio to it. It asserts nothing.

The cached and baseline rounds use wrk when it is installed (`apt-get install wrk`; ``--client`` picks):
on a 2-core machine the asyncio client alone takes a third of a core per 1,000 requests/s, which the
server would otherwise have. ``--auth`` runs with auth on: every request carries an API token that is
looked up, rate-checked and charged, as in production (the rate limit itself is lifted for the run).
Target on a 2-core machine: >= 3,000 cached requests/s with 0 errors.

``--replicas 1,2`` instead runs the same phases through HAProxy (deploy/haproxy.cfg) in front of 1, then 2
`lds serve` replicas sharing the Redis (and, with ``--auth``, a throwaway PostgreSQL database on
127.0.0.1:5432 or ``--database-url``), one replica set after the other (scripts/replicas.py), and prints
requests/s, p99 and errors per count and each count's throughput as a ratio to the first. On one machine the
replicas share its cores, so the ratio shows the overhead of the balancer and of sharing; on machines of
their own, each replica adds its cores.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import BaselineServer, PrivateRedis, Server, dump, have_wrk, http_json, run_load, run_wrk, sample_requests
from replicas import ReplicaSet


def data_dir_for(args) -> str:
    if args.data:
        return args.data
    from lds.build.pipeline import build, extract_name

    out = Path(args.build_root) / extract_name(args.pbf)
    build(args.pbf, out, quiet=True, if_changed=True)
    return str(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a built data dir")
    ap.add_argument("--pbf", help="an extract to build first (reused when unchanged)")
    ap.add_argument("--build-root", default="graph_data")
    ap.add_argument("--n-each", type=int, default=100, help="distinct requests per endpoint")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each cached (and baseline) round")
    ap.add_argument("--repeat", type=int, default=3, help="cached rounds, each followed by a baseline round")
    ap.add_argument("--workers", type=int, default=0, help="gunicorn workers (0 = lds default)")
    ap.add_argument("--threads", type=int, default=0, help="threads per worker (0 = lds default)")
    ap.add_argument("--cache", choices=("redis", "local"), default="redis")
    ap.add_argument("--mix", default="geocode,reverse,route,isolines", help="endpoints in the mix")
    ap.add_argument("--no-baseline", action="store_true", help="skip the bare-Flask baseline phase")
    ap.add_argument("--log-level", default="info", help="server log level (info writes one JSON line per request)")
    ap.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator of the cached and baseline rounds: wrk (C, cheap per request) when installed, "
        "else the asyncio client; the cold phase always uses the asyncio client",
    )
    ap.add_argument(
        "--auth",
        action="store_true",
        help="auth on: every request carries an API token (checked, rate-limited with no limit set, charged)",
    )
    ap.add_argument("--replicas", help="comma-separated replica counts (e.g. 1,2), each behind HAProxy, in turn")
    ap.add_argument(
        "--database-url",
        help="with --replicas and --auth: the shared PostgreSQL state database "
        "(default: a throwaway database on 127.0.0.1:5432, dropped afterwards)",
    )
    args = ap.parse_args()
    if not (args.data or args.pbf):
        ap.error("give --data or --pbf")

    data = data_dir_for(args)
    t0 = time.perf_counter()
    requests = sample_requests(data, args.n_each)
    dump("requests drawn", {k: len(v) for k, v in requests.items()} | {"seconds": round(time.perf_counter() - t0, 1)})
    paths = [p for kind, urls in requests.items() if kind in args.mix.split(",") for p in urls]
    random.Random(1).shuffle(paths)

    client = "wrk" if args.client == "wrk" or (args.client == "auto" and have_wrk()) else "python"
    if args.replicas:
        replica_rounds(args, data, paths, client)
        return
    redis = None
    env = {"LDS_LOG_LEVEL": args.log_level}
    admin = None
    if args.auth:
        import secrets

        admin = secrets.token_urlsafe(24)
        env.update(
            {
                "LDS_AUTH": "true",
                "LDS_ADMIN_TOKEN": admin,
                "LDS_STATE_DIR": tempfile.mkdtemp(prefix="lds-load-state-"),
                "LDS_RATE_LIMIT_PER_S": "0",
            }
        )
    if args.threads:
        env["LDS_THREADS"] = str(args.threads)
    if args.cache == "redis":
        redis = PrivateRedis()
        redis.start()
        env["LDS_REDIS_URL"] = redis.url
    fd, log = tempfile.mkstemp(prefix="lds-load-", suffix=".log")
    os.close(fd)
    server = Server(data, env, workers=args.workers, log_path=log)  # 0 = the lds default worker count
    hello = None
    try:
        server.start()
        headers = token_headers(server.base, admin)
        dump(
            "server",
            {
                "port": server.port,
                "cache": args.cache,
                "workers": args.workers or "default",
                "cores": os.cpu_count(),
                "auth": args.auth,
                "client": client,
                "log": log,
            },
        )
        run_load(server.port, paths[:20], connections=4, total=20, headers=headers)  # connections, lazy indexes warm up
        cold = run_load(
            server.port, paths, connections=args.connections, total=len(paths), server=server, headers=headers
        )
        dump("cold (uncached, every request once)", cold.summary())
        if not args.no_baseline:
            hello = BaselineServer(data, env, workers=args.workers, log_path=log)
            hello.start()
        # Cached phases alternate with the baseline so both meet the same background load of the machine.
        rounds, failures = [], list(cold.failures)
        for i in range(args.repeat):
            summary, round_failures = cached_round(server.port, paths, args, client, server, headers)
            failures.extend(round_failures)
            dump(f"cached round {i + 1} (same requests repeated)", summary)
            base = None
            if hello is not None:
                if client == "wrk":
                    base = run_wrk(
                        hello.port, ["/hello"], connections=args.connections, seconds=args.seconds, server=hello
                    )
                else:
                    base = run_load(
                        hello.port, ["/hello"], connections=args.connections, seconds=args.seconds, server=hello
                    ).summary()
                    base.pop("endpoints")
                dump(f"baseline round {i + 1} (bare Flask hello, same gunicorn settings)", base)
            rounds.append((summary, base, os.getloadavg()[0]))
        best = max(rounds, key=lambda r: r[0]["req_per_s"])[0]
        errors = len(cold.failures) + sum(r[0]["errors"] for r in rounds)
        print(
            f"\nSUMMARY ({client} client{', auth on' if args.auth else ''}) cold: {cold.summary()['req_per_s']} req/s p50 {cold.summary()['p50_ms']} ms, errors "
            f"{len(cold.failures)} | cached (best of {len(rounds)}): {best['req_per_s']} req/s p50 {best['p50_ms']} ms "
            f"p95 {best['p95_ms']} ms p99 {best['p99_ms']} ms | errors in all phases: {errors}"
        )
        for i, (c, b, load) in enumerate(rounds, 1):
            ratio = (
                f", {c['req_per_s'] / b['req_per_s']:.2f}x the bare-Flask baseline ({b['req_per_s']} req/s)"
                if b
                else ""
            )
            print(
                f"  round {i}: cached {c['req_per_s']} req/s{ratio}; server CPU {c['server_cpu_us_per_req']} us/req, "
                f"client {c['client_cpu_us_per_req']} us/req; load average {load:.1f}"
            )
        cores = os.cpu_count() or 1
        per_req = best["server_cpu_us_per_req"] + best["client_cpu_us_per_req"]
        print(
            f"CPU per cached request (best round): server {best['server_cpu_us_per_req']} us + load client "
            f"{best['client_cpu_us_per_req']} us -> at most {cores * 1e6 / per_req:.0f} req/s on {cores} otherwise "
            f"idle cores at that CPU cost"
        )
        for failure in failures[:5]:
            print("  failure:", failure)
    finally:
        server.stop()
        if hello is not None:
            hello.stop()
        if redis is not None:
            redis.stop()


def token_headers(base: str, admin: str | None) -> dict[str, str]:
    """With auth on (an ``admin`` token), the headers of a new API token with quotas no run can exhaust."""
    if admin is None:
        return {}
    big = {"geocoding": 10**12, "isolines": 10**12, "routing": 10**12}
    status, body = http_json(
        "POST",
        f"{base}/v3/tokens",
        {"allowed_apis": ["lds"], "quotas": big},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert status == 201, body
    return {"Authorization": f"Bearer {body['token']}"}


def cached_round(port: int, paths: list[str], args, client: str, server, headers: dict[str, str]) -> tuple[dict, list]:
    """One cached round (wrk or the asyncio client): its summary and, for the asyncio client, its failures."""
    if client == "wrk":
        return run_wrk(
            port, paths, connections=args.connections, seconds=args.seconds, server=server, headers=headers
        ), []
    cached = run_load(port, paths, connections=args.connections, seconds=args.seconds, server=server, headers=headers)
    return cached.summary(), cached.failures


def replica_rounds(args, data: str, paths: list[str], client: str) -> None:
    """The cold and cached phases through HAProxy in front of each replica count of ``--replicas`` in turn."""
    import secrets

    counts = [int(n) for n in args.replicas.split(",")]
    redis = PrivateRedis()
    redis.start()
    admin = secrets.token_urlsafe(24)
    env = {"LDS_LOG_LEVEL": args.log_level, "LDS_REDIS_URL": redis.url}
    if args.threads:
        env["LDS_THREADS"] = str(args.threads)
    database = None
    if args.auth:
        database = args.database_url or throwaway_database()
        env.update(
            {
                "LDS_AUTH": "true",
                "LDS_ADMIN_TOKEN": admin,
                "LDS_RATE_LIMIT_PER_S": "0",
                "LDS_DATABASE_URL": database,
                "LDS_SECRET_KEY": secrets.token_hex(16),
            }
        )
    results = []
    try:
        for n in counts:
            workdir = Path(tempfile.mkdtemp(prefix=f"lds-load-replicas{n}-"))
            cluster = ReplicaSet(
                data,
                workdir,
                {**env, "LDS_REDIS_PREFIX": f"load{n}{secrets.token_hex(3)}:"},
                replicas=n,
                server_workers=args.workers,
            )
            cluster.start()
            try:
                headers = token_headers(cluster.base, admin if args.auth else None)
                dump(
                    f"{n} replica(s) behind haproxy",
                    {
                        "port": cluster.port,
                        "workers per replica": args.workers or "default",
                        "cores": os.cpu_count(),
                        "auth": args.auth,
                        "client": client,
                        "logs": str(workdir),
                    },
                )
                run_load(cluster.port, paths[:20], connections=4, total=20, headers=headers)
                cold = run_load(
                    cluster.port, paths, connections=args.connections, total=len(paths), server=cluster, headers=headers
                )
                dump(f"{n} replica(s): cold (uncached, every request once)", cold.summary())
                rounds, errors = [], len(cold.failures)
                for i in range(args.repeat):
                    summary, _ = cached_round(cluster.port, paths, args, client, cluster, headers)
                    errors += summary["errors"]
                    dump(f"{n} replica(s): cached round {i + 1}", summary)
                    rounds.append(summary)
                served = {name: int(row["stot"]) for name, row in cluster.balancer.stats().items()}
                results.append((n, cold.summary(), max(rounds, key=lambda r: r["req_per_s"]), errors, served))
            finally:
                cluster.stop()
    finally:
        redis.stop()
        if database is not None and not args.database_url:
            drop_database(database)
    print(f"\nSUMMARY ({client} client{', auth on' if args.auth else ''}, {os.cpu_count()} cores, through haproxy)")
    first = results[0][2]["req_per_s"]
    for n, cold, best, errors, served in results:
        print(
            f"  {n} replica(s): cold {cold['req_per_s']} req/s p99 {cold['p99_ms']} ms | cached (best of "
            f"{args.repeat}) {best['req_per_s']} req/s p50 {best['p50_ms']} ms p99 {best['p99_ms']} ms, "
            f"{best['req_per_s'] / first:.2f}x the first count | errors in all phases: {errors} | requests per "
            f"replica {served}"
        )


def throwaway_database() -> str:
    """A fresh PostgreSQL database on 127.0.0.1:5432 (trust auth, user postgres) for the replicas' shared state."""
    import secrets

    import psycopg

    name = f"lds_load_{secrets.token_hex(4)}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
