"""Maps API tile benchmark: tiles/s, p50/p95 and bytes per zoom for ``lds.roads`` and a 1,000,000-point table,
in carto_dw and in PostgreSQL/PostGIS, cold (made in the warehouse) and cached (Redis), beside PostGIS's own
``ST_AsMVT`` called directly on the same tiles (the floor). Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_tiles.py                       # Monaco's roads, 1M points: a few minutes
    .venv/bin/python scripts/bench_tiles.py --pbf ../shared/data/copenhagen-2011.osm.pbf --points 200000

How things run (all on 127.0.0.1, all removed at the end):
- lds: ``lds serve`` with one worker, auth on with a generated admin token, the answer cache in the local
  Redis under a key prefix of its own (so the first pass is cold), on a data dir built here from ``--pbf``.
- postgres: a throwaway database holding a copy of ``lds.roads`` and the same points, GiST-indexed,
  registered as the connection ``pg``.
- tiles: per zoom, the (up to) ``--tiles`` tiles nearest the data's centre; each is fetched once cold and
  once more cached over one keep-alive connection, timed from the first byte sent to the last byte read.
- floor: ``ST_AsMVT(ST_AsMVTGeom(...))`` over the same tiles through psycopg, the first 50,000 rows of each
  (the API's feature cap; the API thins evenly instead), no simplification, JIT off as lds runs it.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import duckdb
import psycopg
from bench_routing import SHARED_DATA
from bench_serving import Connection
from loadgen import Server

from lds.formats import TABLES_DB, TABLES_DIR
from lds.warehouse.duck_ext import load_extensions, sql_string

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
ROAD_ZOOMS = (10, 12, 14, 16)
POINT_ZOOMS = (6, 8, 10, 12, 14)
CAP = 50_000  # the default of LDS_MAPS_TILE_MAX_FEATURES


def points_sql(n: int, lon0: float, lat0: float, dialect: str) -> str:
    """The same ``n`` scattered points in both warehouses (integer hashing, no random()), 2 x 2 degrees."""
    src = f"range({n}) t(i)" if dialect == "duckdb" else f"generate_series(0::bigint, {n - 1}) i"
    lon = f"{lon0 - 1} + 2.0 * ((i * 7919) % 1000003) / 1000003.0"
    lat = f"{lat0 - 1} + 2.0 * ((i * 104729) % 1000033) / 1000033.0"
    point = f"ST_Point({lon}, {lat})" if dialect == "duckdb" else f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)"
    return f"SELECT i AS id, i % 7 AS grp, {point} AS geom FROM {src}"


def request(method: str, path: str, port: int, token: str, body: dict[str, Any] | None = None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        + (f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n" if body is not None else "")
        + "\r\n"
    )
    return head.encode() + data


def call(conn: Connection, raw: bytes) -> tuple[float, int, dict[str, str], bytes]:
    try:
        seconds, status, headers, body = conn.send(raw)
    except ConnectionError:  # the server closes a keep-alive connection idle for 5 s (while the floor ran)
        conn.open()
        seconds, status, headers, body = conn.send(raw)
    if status not in (200, 201, 204):
        raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    return seconds, status, headers, body


def tiles_near(bounds: list[float], z: int, k: int) -> list[tuple[int, int, int]]:
    """The ``k`` tiles of zoom ``z`` nearest the centre of ``bounds`` (w, s, e, n), inside the world."""
    n = 2**z
    lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    cx = (lon + 180) / 360 * n
    cy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    r = math.ceil(math.sqrt(k)) + 1
    near = sorted(
        ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2, x, y)
        for x in range(int(cx) - r, int(cx) + r + 1)
        for y in range(int(cy) - r, int(cy) + r + 1)
        if 0 <= x < n and 0 <= y < n
    )
    return [(z, x, y) for _, x, y in near[:k]]


def summary(times: list[float], sizes: list[int]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, math.ceil(0.95 * len(ms)) - 1)]
    return (
        f"{len(ms) / sum(times):8.1f} t/s  p50 {statistics.median(ms):8.2f}  p95 {p95:8.2f} ms  "
        f"{statistics.mean(sizes) / 1024:8.1f} kB"
    )


def copy_roads(tables_db: Path, pg: psycopg.Connection) -> int:
    """lds.roads (id, name, highway, geometry) into PostgreSQL, through WKB."""
    con = duckdb.connect(":memory:")
    load_extensions(con)
    con.execute(f"ATTACH {sql_string(str(tables_db))} AS lds (READ_ONLY)")
    rows = con.execute("SELECT id, name, highway, ST_AsWKB(geom) FROM lds.roads").fetchall()
    con.close()
    pg.execute("CREATE TABLE roads_wkb (id bigint, name text, highway text, wkb bytea)")
    with pg.cursor().copy("COPY roads_wkb FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    pg.execute(
        "CREATE TABLE roads AS SELECT id, name, highway, ST_SetSRID(ST_GeomFromWKB(wkb), 4326) AS geom "
        "FROM roads_wkb; DROP TABLE roads_wkb; CREATE INDEX ON roads USING gist (geom); ANALYZE roads"
    )
    return len(rows)


def floor_times(
    pg: psycopg.Connection, table: str, columns: str, tiles: list[tuple[int, int, int]], extent: int, cap: int
) -> tuple[list[float], list[int]]:
    """PostGIS's own ST_AsMVT on the same tiles, the first ``cap`` rows of each (no thinning, no
    simplification, JIT off as lds runs it): the floor."""
    pg.execute("SET jit = off")
    times, sizes = [], []
    for z, x, y in tiles:
        sql = (
            f"SELECT ST_AsMVT(q, 'default', {extent}, 'geom') FROM (SELECT ST_AsMVTGeom(ST_Transform(geom, 3857), "
            f"ST_TileEnvelope({z}, {x}, {y}), {extent}, {extent // 16}, true) AS geom, {columns} FROM {table} "
            f"WHERE geom && ST_Transform(ST_TileEnvelope({z}, {x}, {y}, margin => 1.0 / 16), 4326) LIMIT {cap}) q"
        )
        t = time.perf_counter()
        body = pg.execute(sql).fetchone()[0]
        times.append(time.perf_counter() - t)
        sizes.append(len(body or b""))
    return times, sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pbf", type=Path, default=SHARED_DATA / "monaco-2020-07.osm.pbf")
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--tiles", type=int, default=9, help="tiles per zoom")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench_tiles_"))
    dbname = f"lds_bench_tiles_{secrets.token_hex(4)}"
    admin = secrets.token_urlsafe(24)
    prefix = f"lds-bench-tiles-{secrets.token_hex(4)}:"
    from lds.build.pipeline import build

    t0 = time.perf_counter()
    build(str(args.pbf), tmp / "data", quiet=True)
    print(f"lds build {args.pbf.name}: {time.perf_counter() - t0:.1f} s")
    with psycopg.connect(PG_ADMIN, autocommit=True) as pg_admin:
        pg_admin.execute(f'CREATE DATABASE "{dbname}"')
    env = {
        "LDS_AUTH": "true",
        "LDS_ADMIN_TOKEN": admin,
        "LDS_STATE_DIR": str(tmp / "state"),
        "LDS_REDIS_URL": REDIS_URL,
        "LDS_REDIS_PREFIX": prefix,
        "LDS_RATE_LIMIT_PER_S": "0",
        "LDS_CACHE_LOCAL_FRONT_ENTRIES": "0",
        "LDS_MAPS_TIMEOUT_S": "300",
    }
    server = Server(str(tmp / "data"), env, workers=1, log_path=str(tmp / "serve.log"))
    pg = psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{dbname}", autocommit=True)
    try:
        pg.execute("CREATE EXTENSION postgis")
        n_roads = copy_roads(tmp / "data" / TABLES_DIR / TABLES_DB, pg)
        lon0, lat0 = pg.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) c FROM roads) t"
        ).fetchone()
        t0 = time.perf_counter()
        pg.execute(f"CREATE TABLE pts AS {points_sql(args.points, lon0, lat0, 'postgres')}")
        pg.execute("CREATE INDEX ON pts USING gist (geom); ANALYZE pts")
        print(
            f"postgres: {n_roads} roads copied, {args.points} points made and indexed in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        server.start()
        port = server.port
        conn = Connection(port)
        creds = {"host": "127.0.0.1", "port": 5432, "database": dbname, "username": "postgres", "sslmode": "disable"}
        call(
            conn,
            request(
                "POST",
                "/v3/connections",
                port,
                admin,
                {"name": "pg", "provider_id": "postgres", "config": {"type": "password", "credentials": creds}},
            ),
        )
        t0 = time.perf_counter()
        box = f"ST_Extent(ST_MakeEnvelope({lon0 - 1}, {lat0 - 1}, {lon0 + 1}, {lat0 + 1}))"
        call(
            conn,
            request(
                "POST",
                "/v3/sql/carto_dw/query",
                port,
                admin,
                {
                    "q": f"CREATE OR REPLACE TABLE pts AS SELECT * FROM ({points_sql(args.points, lon0, lat0, 'duckdb')}) "
                    f"ORDER BY ST_Hilbert(geom, {box})"
                },
            ),
        )
        print(
            f"carto_dw: {args.points} points written in Hilbert order (docs/maps.md) in "
            f"{time.perf_counter() - t0:.1f} s"
        )

        sources = [
            ("lds.roads", "carto_dw", "lds.roads", ROAD_ZOOMS, "roads", "id, name, highway"),
            ("roads", "pg", "public.roads", ROAD_ZOOMS, "roads", "id, name, highway"),
            ("points", "carto_dw", "pts", POINT_ZOOMS, "pts", "id, grp"),
            ("points", "pg", "public.pts", POINT_ZOOMS, "pts", "id, grp"),
        ]
        print(
            f"\ntiles per zoom: up to {args.tiles} nearest the data's centre; tileResolution 0.5 (512 grid); "
            "t/s = tiles per second, one client, sequential"
        )
        for label, connection, name, zooms, pg_table, columns in sources:
            _, _, _, body = call(conn, request("GET", f"/v3/maps/{connection}/table?name={name}", port, admin))
            inst = json.loads(body)
            data = urlsplit(inst["tilejson"]["url"][0])
            t = time.perf_counter()
            _, _, _, body = call(conn, request("GET", f"{data.path}?{data.query}", port, admin))
            tilejson_s = time.perf_counter() - t
            tj = json.loads(body)
            template = urlsplit(tj["tiles"][0])
            print(
                f"\n{label} on {connection}: {inst['nrows']} rows; instantiation + TileJSON (cold) "
                f"{tilejson_s * 1000:.0f} ms for the TileJSON"
            )
            for z in zooms:
                tiles = tiles_near(tj["bounds"], z, args.tiles)
                passes: dict[str, tuple[list[float], list[int]]] = {}
                dropped = []
                for name_ in ("cold", "cached"):
                    times, sizes = [], []
                    for tz, tx, ty in tiles:
                        path = (
                            template.path.replace("%7Bz%7D", "{z}").replace("%7Bx%7D", "{x}").replace("%7By%7D", "{y}")
                        )
                        path = path.format(z=tz, x=tx, y=ty) + "?" + template.query
                        seconds, _, headers, body = call(conn, request("GET", path, port, admin))
                        times.append(seconds)
                        sizes.append(len(body))
                        if name_ == "cold":
                            dropped.append(float(headers.get("x-lds-dropped-fraction", "0")))
                    passes[name_] = (times, sizes)
                line = f"  z{z:<2} {len(tiles)} tiles  cold {summary(*passes['cold'])}   cached {summary(*passes['cached'])}"
                if connection == "pg":
                    line += f"   PostGIS direct {summary(*floor_times(pg, pg_table, columns, tiles, 512, CAP))}"
                if max(dropped) > 0:
                    line += f"   dropped up to {max(dropped):.0%}"
                print(line)
        conn.close()
    finally:
        server.stop()
        pg.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as pg_admin:
            pg_admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
