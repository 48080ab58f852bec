"""SQL API benchmark: what ``/v3/sql/{connection}/query`` adds over a bare driver call, how fast a large answer
streams, and ``lds_geocode`` over a table beside the batch geocoding endpoint, in one run. Prints figures;
asserts nothing.

    .venv/bin/python scripts/bench_sql.py                                   # Copenhagen, a minute or two
    .venv/bin/python scripts/bench_sql.py --pbf ../shared/data/monaco-2020-07.osm.pbf --repeat 100

How things run (all on 127.0.0.1, all removed at the end):
- lds: ``lds serve`` (gunicorn, ``--workers`` 1 so every timed request meets the same warmed worker), auth on
  with a generated admin token, answer cache off (``LDS_CACHE_ENABLED=false``: every address is geocoded), on
  a data dir holding only the address index of ``--pbf`` (built here, a few seconds), state in a temp dir.
- postgres: a throwaway database on the local PostgreSQL (trust auth), registered as a connection ``pg``.
- client: one keep-alive HTTP/1.1 connection (``bench_serving.Connection``), requests timed from the first
  byte sent to the last byte read.

Figures:
  one-row p50     ``SELECT 1 AS x`` and one row of a table through the SQL API (POST, admin token; and an API token, whose query is
                  proved read-only by the grant checker) vs the bare driver on the same database: DuckDB with
                  the server's lake attached, psycopg on the throwaway database
  rows/s          a ``--rows`` answer of (bigint, text, double) through the API vs fetched by the bare driver
  addresses/s     ``CREATE TABLE ... AS SELECT addr, lds_geocode(addr) FROM addrs`` over ``--addresses`` rows
                  vs one ``POST /v3/lds/geocoding/batch`` of the same addresses (limit 1), both charged
                  and computed; the addresses are the extract's own (``bench_geocoding.read_truth``,
                  "number street, postcode city"), distinct, repeated only when the extract has fewer;
                  one untimed batch of them first (admin token), so both meet the index's caches warm
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import duckdb
import psycopg
from bench_geocoding import read_truth, variants
from bench_routing import SHARED_DATA
from bench_serving import Connection
from bench_warehouse import p50_ms
from loadgen import Server

from lds.warehouse.duck_ext import load_extensions, sql_string

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
WARMUP = 20


class Api:
    """The server's API over one keep-alive connection; each call returns (seconds, parsed JSON), 2xx only."""

    def __init__(self, port: int):
        self.port, self.conn = port, Connection(port)

    def raw(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> bytes:
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {token}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        return (head + "\r\n").encode() + data

    def send(self, raw: bytes) -> tuple[float, Any]:
        seconds, status, _, body = self.conn.send(raw)
        if status not in (200, 201):
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        return seconds, json.loads(body)

    def call(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[float, Any]:
        return self.send(self.raw(method, path, token, body))

    def sql(self, connection: str, token: str, q: str, *params: Any) -> tuple[float, Any]:
        body = {"q": q, "queryParameters": list(params)} if params else {"q": q}
        return self.call("POST", f"/v3/sql/{connection}/query", token, body)

    def p50_ms(self, connection: str, token: str, q: str, repeat: int) -> float:
        raw = self.raw("POST", f"/v3/sql/{connection}/query", token, {"q": q})
        for _ in range(WARMUP):
            self.send(raw)
        return statistics.median(self.send(raw)[0] for _ in range(repeat)) * 1000


def driver_p50_ms(fn, repeat: int) -> float:
    for _ in range(WARMUP):
        fn()
    return p50_ms(fn, repeat)


def build_index(pbf: Path, out: Path) -> dict[str, Any]:
    from lds.geocoding.build import build_index as build

    counts = build(pbf, out / "geocoder", lambda step, msg: None)
    from lds.formats import DATA_FORMAT

    (out / "meta.json").write_text(
        json.dumps({"data_format": DATA_FORMAT, "data_version": f"bench-sql-{int(time.time())}", "geocoder": counts})
    )
    return counts


def addresses(pbf: Path, n: int, seed: int) -> tuple[list[str], int]:
    """``n`` address texts of the extract ("number street, postcode city"), and how many are distinct."""
    import random

    rng = random.Random(seed)
    distinct = sorted({variants(a, rng)["full"] for a in read_truth(str(pbf))})
    rng.shuffle(distinct)
    return [distinct[i % len(distinct)] for i in range(n)], min(n, len(distinct))


def lake_driver(state: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with the server's lake attached read-only, as carto_dw attaches it (the bare-driver baseline)."""
    con = duckdb.connect(":memory:")
    load_extensions(con)
    lake = state / "carto_dw"
    con.execute(
        f"ATTACH {sql_string('ducklake:sqlite:' + str(lake / 'catalog.sqlite'))} AS carto_dw "
        f"(DATA_PATH {sql_string(str(lake / 'data') + '/')}, READ_ONLY)"
    )
    con.execute("USE carto_dw")
    return con


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pbf", type=Path, default=SHARED_DATA / "copenhagen-2011.osm.pbf")
    ap.add_argument("--repeat", type=int, default=200, help="timed one-row queries per figure")
    ap.add_argument("--rows", type=int, default=200_000, help="rows of the large answer (the default row cap)")
    ap.add_argument("--addresses", type=int, default=10_000, help="rows of the table lds_geocode geocodes")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench_sql_"))
    dbname = f"lds_bench_sql_{secrets.token_hex(4)}"
    admin = secrets.token_urlsafe(24)
    t0 = time.perf_counter()
    counts = build_index(args.pbf, tmp / "data")
    print(
        f"address index of {args.pbf.name}: {counts['addresses']} addresses, built in {time.perf_counter() - t0:.1f} s"
    )
    texts, distinct = addresses(args.pbf, args.addresses, args.seed)
    print(f"{len(texts)} address texts ({distinct} distinct{'' if distinct == len(texts) else ', repeated'})")

    with psycopg.connect(PG_ADMIN, autocommit=True) as pg_admin:
        pg_admin.execute(f'CREATE DATABASE "{dbname}"')
    env = {
        "LDS_AUTH": "true",
        "LDS_ADMIN_TOKEN": admin,
        "LDS_STATE_DIR": str(tmp / "state"),
        "LDS_CACHE_ENABLED": "false",
        "LDS_RATE_LIMIT_PER_S": "0",
        "LDS_SQL_TIMEOUT_S": "600",
    }
    server = Server(str(tmp / "data"), env, workers=1, log_path=str(tmp / "serve.log"))
    pg = lake = None
    try:
        server.start()
        api = Api(server.port)
        creds = {
            "host": "127.0.0.1",
            "port": 5432,
            "database": dbname,
            "username": "postgres",
            "password": "x",
            "sslmode": "disable",
            "schema": "public",
        }
        api.call(
            "POST",
            "/v3/connections",
            admin,
            {"name": "pg", "provider_id": "postgres", "config": {"type": "password", "credentials": creds}},
        )
        api.sql("carto_dw", admin, "CREATE OR REPLACE TABLE addrs AS SELECT unnest($1::VARCHAR[]) AS addr", texts)
        grants = [
            {"connection_name": "carto_dw", "source": "carto_dw.main.addrs"},
            {"connection_name": "pg", "source": f"{dbname}.public.t"},
        ]
        token = api.call("POST", "/v3/tokens", admin, {"allowed_apis": ["sql", "lds"], "grants": grants})[1]["token"]
        lake = lake_driver(tmp / "state")
        pg = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{dbname}", autocommit=True)
        drivers = {"carto_dw": lake, "pg": pg}

        pg.execute("CREATE TABLE t AS SELECT 'Rue Grimaldi 5'::text AS addr")
        one_row = {"carto_dw": "SELECT addr FROM addrs LIMIT 1", "pg": "SELECT addr FROM t"}
        print("\none-row query p50, ms:")
        print(f"  {'':42}{'driver':>9}{'API admin':>11}{'overhead':>10}{'API token':>11}{'overhead':>10}")
        for name, driver in drivers.items():
            for q in ("SELECT 1 AS x", one_row[name]):
                base = driver_p50_ms(lambda d=driver, q=q: d.execute(q).fetchall(), args.repeat)
                a, t = (api.p50_ms(name, who, q, args.repeat) for who in (admin, token))
                print(f"  {name:8} {q:33}{base:9.3f}{a:11.3f}{a - base:10.3f}{t:11.3f}{t - base:10.3f}")

        big = {
            "carto_dw": f"SELECT i AS id, 'name ' || i AS name, i * 0.5 AS score FROM range({args.rows}) t(i)",
            "pg": f"SELECT i::bigint AS id, 'name ' || i AS name, i * 0.5 AS score "
            f"FROM generate_series(0, {args.rows - 1}) i",
        }
        print(f"\n{args.rows}-row answer (bigint, text, double), admin token:")
        for name, driver in drivers.items():
            t = time.perf_counter()
            n = len(driver.execute(big[name]).fetchall())
            direct_s = time.perf_counter() - t
            seconds, answer = api.sql(name, admin, big[name])
            assert len(answer["rows"]) == n == args.rows
            size = len(json.dumps(answer)) / 2**20
            print(
                f"  {name:10} API {n / seconds:10,.0f} rows/s ({seconds:.2f} s, {size:.1f} MB JSON)   "
                f"driver fetchall {n / direct_s:12,.0f} rows/s   API/driver time x{seconds / direct_s:.1f}"
            )

        n, batch = len(texts), {"addresses": texts, "limit": 1}
        api.call("POST", "/v3/lds/geocoding/batch", admin, batch)  # untimed: the index's caches warm for both
        batch_s, entries = api.call("POST", "/v3/lds/geocoding/batch", token, batch)
        ctas_s, _ = api.sql(
            "carto_dw", admin, "CREATE OR REPLACE TABLE geocoded AS SELECT addr, lds_geocode(addr) AS g FROM addrs"
        )
        found = api.sql("carto_dw", admin, "SELECT count(g) AS n FROM geocoded")[1]["rows"][0]["n"]
        select_s, answer = api.sql(
            "carto_dw",
            token,
            "SELECT addr, g.latitude, g.longitude FROM (SELECT addr, lds_geocode(addr) AS g FROM addrs)",
        )
        used = next(s["used_quota"] for s in api.call("GET", "/v3/lds/stats", token)[1] if s["service"] == "geocoding")
        print(f"\ngeocoding {n} addresses ({distinct} distinct), answer cache off, after one untimed batch of them:")
        for what, seconds, note in (
            ("POST /v3/lds/geocoding/batch (API token)", batch_s, f"{sum(1 for e in entries if e['value'])} matched"),
            ("CREATE TABLE AS ... lds_geocode (admin)", ctas_s, f"{found} matched"),
            ("SELECT ... lds_geocode (API token)", select_s, f"{len(answer['rows'])} rows"),
        ):
            print(
                f"  {what:42} {n / seconds:8,.0f} addresses/s ({seconds:.2f} s, {note})   "
                f"x{batch_s / seconds:.2f} of the batch endpoint's rate"
            )
        print(f"  the API token's geocoding quota used: {used} (batch {n} + SELECT {n})")
    finally:
        server.stop()
        for con in (pg, lake):
            if con is not None:
                con.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as pg_admin:
            pg_admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
