"""Warehouse layer benchmark: what lds.warehouse adds over a bare driver call, and how fast rows stream.
Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_warehouse.py [--rows 200000] [--repeat 200]

For carto_dw (a fresh lake in a temporary directory) and the local PostgreSQL/PostGIS (a throwaway
database on 127.0.0.1:5432, dropped at the end):
  one-row p50    ``SELECT $1::int + 1`` through ``Warehouse.query`` (timer, row cap, conversion) vs the
                 bare driver call on the same database (for carto_dw: DuckDB with the same lake attached)
  rows/s         a --rows answer of (bigint, text, double) and of (bigint, point geometry), consumed
                 batch by batch as the SQL API will, with the process's peak RSS growth
"""

from __future__ import annotations

import argparse
import resource
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import psycopg

from lds.warehouse.carto_dw import CartoDW
from lds.warehouse.duck_ext import load_extensions, sql_string
from lds.warehouse.postgres import Postgres, PostgresConfig

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def p50_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def stream(wh, sql: str) -> tuple[float, int]:
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    n = 0
    with wh.query(sql, timeout_s=600, max_rows=None, read_only=True) as q:
        for batch in q.batches():
            n += len(batch)
    dt = time.perf_counter() - t
    return n / dt, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) // 1024


def one_row(wh):
    with wh.query("SELECT $1::int + 1", [1], timeout_s=60, read_only=True) as q:
        return list(q.rows())


def bench(name: str, wh, bare, rows: int, repeat: int, gen: str) -> None:
    print(f"{name}: one-row p50 {p50_ms(lambda: one_row(wh), repeat):.3f} ms through lds.warehouse, "
          f"{p50_ms(bare, repeat):.3f} ms bare driver")
    point = "ST_Point" if name == "carto_dw" else "ST_MakePoint"
    for label, cols in (("bigint,text,double", "i::bigint, 'name ' || i, i * 0.5"),
                        ("bigint,point geometry", f"i::bigint, {point}(7 + i / 1e6, 43 + i / 1e6)")):
        rate, rss = stream(wh, f"SELECT {cols} FROM {gen.format(rows=rows)}")
        print(f"{name}: {rows:,} rows of ({label}): {rate:,.0f} rows/s, peak RSS +{rss} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dw = CartoDW(Path(tmp) / "carto_dw")
        one_row(dw)
        raw = duckdb.connect(":memory:")  # the bare driver on the same lake, the DuckLake catalog read included
        load_extensions(raw)
        raw.execute(f"ATTACH {sql_string('ducklake:sqlite:' + str(dw.catalog_path))} AS lake (READ_ONLY)")
        raw.execute("USE lake")
        bench("carto_dw", dw, lambda: raw.execute("SELECT $1::int + 1", [1]).fetchall(), args.rows,
              args.repeat, "range(1, {rows} + 1) t(i)")
        dw.close()

    name = f"lds_bench_wh_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
            pg = Postgres(PostgresConfig.from_credentials({"host": "127.0.0.1", "database": name,
                                                           "username": "postgres", "sslmode": "disable"}))
            bench("postgres", pg, lambda: conn.execute("SELECT %s::int + 1", [1]).fetchall(), args.rows,
                  args.repeat, "generate_series(1, {rows}) i")
            pg.close()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
