"""Imports benchmark: rows/s and peak memory importing a 1,000,000-row CSV and a GeoParquet file into carto_dw
and into PostgreSQL, beside the engines' own bulk loads of the same files in the same run.

    .venv/bin/python scripts/bench_imports.py [--rows 1000000] [--pg postgresql://postgres@127.0.0.1:5432/test]

Each measurement runs in a fresh process (peak RSS is that process's, plus its children's for psql), one after
the other. lds reads the files through ``file://`` (``LDS_IMPORT_FILE_ROOT``), so the download is a no-op as
for the baselines. Baselines: DuckDB's ``read_csv``/``read_parquet`` into a table of a DuckDB database file
(with the same ST_Point / WKB geometry), ``psql \\copy`` of the CSV into PostgreSQL (attributes only, no
geometry: the floor), and ``ogr2ogr`` of the GeoParquet when GDAL's command-line tools (with the Parquet
driver) are installed. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_files(folder: Path, rows: int) -> tuple[Path, Path]:
    import geopandas as gpd
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import shapely

    rng = np.random.default_rng(7)
    lon = rng.uniform(-10, 30, rows).round(6)
    lat = rng.uniform(35, 60, rows).round(6)
    table = pa.table(
        {
            "id": np.arange(rows),
            "name": pa.array([f"place {i}" for i in range(rows)]),
            "value": rng.normal(size=rows).round(4),
            "lat": lat,
            "lon": lon,
        }
    )
    csv = folder / "points.csv"
    pacsv.write_csv(table, csv)
    frame = gpd.GeoDataFrame(
        table.drop_columns(["lat", "lon"]).to_pandas(), geometry=shapely.points(lon, lat), crs=4326
    )
    parquet = folder / "points.parquet"
    frame.to_parquet(parquet)
    return csv, parquet


def peak_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _psql_count(pg_url: str, table: str) -> int:
    out = subprocess.run(
        ["psql", pg_url, "-At", "-c", f"SELECT count(*) FROM {table}"], check=True, capture_output=True, text=True
    )
    return int(out.stdout)


def one(case: str, path: str, pg_url: str, work: str) -> dict:
    """Run one measurement in this (fresh) process."""
    started = time.perf_counter()
    if case.startswith("lds"):
        from lds.imports.budget import Budget
        from lds.imports.load import parse_destination
        from lds.imports.pipeline import ImportRequest, run_import
        from lds.settings import Settings
        from lds.warehouse import open_warehouse

        settings = Settings.from_env(
            env={}, state_dir=work, auth=False, import_file_root=str(Path(path).parent), import_max_bytes=8 * 1024**3
        )
        if case.endswith("carto_dw"):
            wh, db = open_warehouse("carto_dw", None, settings), "carto_dw"
        else:
            import psycopg.conninfo

            info = psycopg.conninfo.conninfo_to_dict(pg_url)
            creds = {
                "host": info.get("host", "127.0.0.1"),
                "port": int(info.get("port", 5432)),
                "database": info["dbname"],
                "username": info.get("user", "postgres"),
                "sslmode": "disable",
            }
            wh, db = open_warehouse("postgres", creds, settings), info["dbname"]
        table = f"bench.t_{secrets.token_hex(4)}"
        req = ImportRequest(url=f"file://{path}", destination=parse_destination(table, db))
        started = time.perf_counter()
        out = run_import("bench", req, wh, settings, budget=Budget(None), log=lambda m: None, on_cancel=lambda f: None)
        rows = out["rowsImported"]
    elif case.startswith("duckdb"):
        import duckdb

        from lds.warehouse.duck_ext import extension_path, sql_string

        con = duckdb.connect(str(Path(work) / "bench.duckdb"), config={"threads": 2, "memory_limit": "1GB"})
        con.execute(f"LOAD {sql_string(str(extension_path('spatial')))}")
        started = time.perf_counter()
        if case == "duckdb_csv":
            con.execute(f"CREATE TABLE t AS SELECT *, ST_Point(lon, lat) AS geom FROM read_csv({sql_string(path)})")
        else:
            con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet({sql_string(path)})")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    elif case == "psql_copy":
        subprocess.run(
            [
                "psql",
                pg_url,
                "-q",
                "-c",
                (
                    "CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF EXISTS bench.copy_floor; "
                    "CREATE TABLE bench.copy_floor (id bigint, name text, value double precision, "
                    "lat double precision, lon double precision)"
                ),
            ],
            check=True,
        )
        started = time.perf_counter()
        subprocess.run(["psql", pg_url, "-q", "-c", f"\\copy bench.copy_floor FROM '{path}' CSV HEADER"], check=True)
        rows = _psql_count(pg_url, "bench.copy_floor")
    elif case == "ogr2ogr":
        started = time.perf_counter()
        subprocess.run(
            ["ogr2ogr", "-f", "PostgreSQL", f"PG:{pg_url}", path, "-nln", "bench.ogr", "-overwrite"], check=True
        )
        rows = _psql_count(pg_url, "bench.ogr")
    else:
        raise SystemExit(f"unknown case {case}")
    seconds = time.perf_counter() - started
    return {"case": case, "rows": rows, "seconds": seconds, "peak_mb": peak_mb()}


def run_case(case: str, path: Path, pg_url: str, work: Path) -> dict | None:
    folder = work / case
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, __file__, "--one", case, str(path), pg_url, str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode:
        print(f"  {case}: failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test", help="admin URL (a db is made)")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    import psycopg

    dbname = f"lds_bench_imports_{secrets.token_hex(3)}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    pg_url = args.pg.rsplit("/", 1)[0] + "/" + dbname
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    work = Path(tempfile.mkdtemp(prefix="lds-bench-imports-"))
    try:
        t0 = time.perf_counter()
        csv, parquet = make_files(work, args.rows)
        print(
            f"files: {csv.name} {csv.stat().st_size / 1e6:.0f} MB, {parquet.name} {parquet.stat().st_size / 1e6:.0f} MB"
            f" ({args.rows:,} rows; made in {time.perf_counter() - t0:.1f} s)"
        )
        cases = [
            ("CSV", csv, ["duckdb_csv", "lds_carto_dw", "psql_copy", "lds_postgres"]),
            (
                "GeoParquet",
                parquet,
                ["duckdb_parquet", "lds_carto_dw"]
                + (["ogr2ogr"] if shutil.which("ogr2ogr") else [])
                + ["lds_postgres"],
            ),
        ]
        print(
            f"{'file':<11} {'importer':<16} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'vs baseline':>12}"
        )
        for label, path, names in cases:
            results = {}
            for name in names:
                r = run_case(name, path, pg_url, work)
                if r is None:
                    continue
                results[name] = r
                base = {
                    "lds_carto_dw": "duckdb_csv" if label == "CSV" else "duckdb_parquet",
                    "lds_postgres": "psql_copy" if label == "CSV" else "ogr2ogr",
                }.get(name)
                ratio = ""
                if base in results:
                    ratio = f"{r['seconds'] / results[base]['seconds']:.2f}x time"
                print(
                    f"{label:<11} {name:<16} {r['rows']:>9,} {r['seconds']:>8.2f} {r['rows'] / r['seconds']:>10,.0f} "
                    f"{r['peak_mb']:>8.0f} {ratio:>12}"
                )
            if label == "GeoParquet" and not shutil.which("ogr2ogr"):
                print(f"{label:<11} {'ogr2ogr':<16} (not installed here: no GDAL command-line tools)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
