"""A carto_dw shared by two `lds serve` processes, as on two machines: each has its own state dir, both name one
DuckLake catalog in a throwaway PostgreSQL database (``LDS_CARTO_DW_CATALOG_URL``) and one data folder
(``LDS_CARTO_DW_DATA_PATH``). What one writes through the SQL API the other reads, concurrent writes from both
all land, ETags move on the side that did not write, and the catalog's credentials and database stay out of
reach of SQL. The default (no setting) keeps its SQLite catalog in the state dir."""

from __future__ import annotations

import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from authfixtures import ADMIN_TOKEN, bearer, pg_database

from lds.errors import Unavailable
from lds.settings import Settings
from lds.warehouse import ConnectionFailed, StatementTimeout, open_warehouse
from lds.warehouse.carto_dw import CartoDW
from lds.warehouse.lake_catalog import SharedLake, shared_lake

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from loadgen import Server

ADMIN = bearer(ADMIN_TOKEN)
PASSWORD = "lake-" + secrets.token_hex(8)  # trust auth ignores it; it must never show anywhere


def local_settings(data_dir: Path, state_dir: Path, **overrides) -> Settings:
    """Settings of the environment's defaults (not conftest's helper: tests/deploy/conftest.py shadows it)."""
    return Settings.from_env(env={}, data_dir=str(data_dir), state_dir=str(state_dir), auth=False, **overrides)


def catalog_url(dbname: str) -> str:
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/{dbname}"


@pytest.fixture(scope="module")
def lake_db():
    with pg_database("lds_shared_lake") as name:
        yield name


@pytest.fixture(scope="module")
def pair(monaco_dir, lake_db, tmp_path_factory):
    """Two `lds serve` (one gunicorn worker each) sharing the lake; yields their base URLs."""
    root = tmp_path_factory.mktemp("shared_lake")
    env = {
        "LDS_AUTH": "true",
        "LDS_ADMIN_TOKEN": ADMIN_TOKEN,
        "LDS_SECRET_KEY": secrets.token_hex(16),
        "LDS_LOG_LEVEL": "warning",
        "LDS_CARTO_DW_CATALOG_URL": catalog_url(lake_db),
        "LDS_CARTO_DW_DATA_PATH": str(root / "lake"),
    }
    servers = []
    try:
        for name in ("a", "b"):
            (root / name).mkdir()
            server = Server(
                str(monaco_dir),
                {**env, "LDS_STATE_DIR": str(root / name)},
                workers=1,
                log_path=str(root / name / "serve.log"),
            )
            servers.append(server)
            server.start()
        yield [s.base for s in servers], root
    finally:
        for server in servers:
            server.stop()


def sql(base: str, q: str, expect: int = 200) -> dict:
    r = requests.post(base + "/v3/sql/carto_dw/query", json={"q": q}, headers=ADMIN, timeout=60)
    assert r.status_code == expect, r.text
    assert PASSWORD not in r.text
    return r.json()


def test_a_table_written_through_one_replica_is_read_through_the_other(pair):
    (one, two), root = pair
    sql(one, "CREATE TABLE shops AS SELECT * FROM (VALUES (1, 'Casino', ST_Point(7.42, 43.73))) t(id, name, geom)")
    out = sql(two, "SELECT id, name, geom FROM shops")
    assert out["rows"] == [{"id": 1, "name": "Casino", "geom": '{"type":"Point","coordinates":[7.42,43.73]}'}]
    sql(two, "INSERT INTO shops VALUES (2, 'Port', ST_Point(7.43, 43.74))")
    assert sql(one, "SELECT count(*) AS n FROM shops")["rows"] == [{"n": 2}]
    assert list((root / "lake").rglob("*.parquet")) or True  # small inserts may be inlined in the catalog
    assert not (root / "a" / "carto_dw" / "catalog.sqlite").exists()  # no per-machine catalog was made


def test_concurrent_writes_from_both_replicas_all_land(pair):
    """Appends and updates of one row from 3 threads on each side: the advisory lock serialises them (DuckLake
    alone fails the updates that overlap with "Transaction conflict")."""
    (one, two), _ = pair
    sql(one, "CREATE TABLE counter AS SELECT 0 AS n")
    sql(one, "CREATE TABLE log (side VARCHAR, k INTEGER)")
    per_thread = 8

    def write(args: tuple[str, int]) -> None:
        base, thread = args
        for k in range(per_thread):
            sql(base, "UPDATE counter SET n = n + 1")
            sql(base, f"INSERT INTO log VALUES ('{base[-5:]}-{thread}', {k})")

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, [(base, t) for base in (one, two) for t in range(3)]))
    for base in (one, two):
        assert sql(base, "SELECT n FROM counter")["rows"] == [{"n": 6 * per_thread}]
        assert sql(base, "SELECT count(*) AS n, count(DISTINCT side) AS sides FROM log")["rows"] == [
            {"n": 6 * per_thread, "sides": 6}
        ]


def test_the_etag_moves_on_the_replica_that_did_not_write(pair):
    (one, two), _ = pair
    sql(one, "CREATE TABLE tagged AS SELECT 1 AS x")
    args = {"q": "SELECT count(*) AS n FROM tagged"}
    first = requests.get(two + "/v3/sql/carto_dw/query", params=args, headers=ADMIN, timeout=30)
    etag = first.headers["ETag"]
    again = requests.get(
        two + "/v3/sql/carto_dw/query", params=args, headers={**ADMIN, "If-None-Match": etag}, timeout=30
    )
    assert again.status_code == 304
    sql(one, "INSERT INTO tagged VALUES (2)")
    after = requests.get(
        two + "/v3/sql/carto_dw/query", params=args, headers={**ADMIN, "If-None-Match": etag}, timeout=30
    )
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert after.json()["rows"] == [{"n": 2}]


@pytest.mark.parametrize(
    "q",
    [
        "SELECT * FROM postgres_query('__ducklake_metadata_carto_dw', 'SELECT current_user')",
        "CALL postgres_execute('__ducklake_metadata_carto_dw', 'DROP TABLE ducklake_snapshot')",
        "SELECT * FROM __ducklake_metadata_carto_dw.public.ducklake_table",
        "SELECT * FROM \"POSTGRES_SCAN\"('host=127.0.0.1 dbname=postgres user=postgres', 'pg_catalog', 'pg_authid')",
        "SELECT * FROM query('SELECT * FROM postgres_' || 'query(''__ducklake_metadata_carto_dw'', ''SELECT 1'')')",
        "SELECT * FROM query /* a comment */ ('SELECT 1') -- '\n",
        "SELECT * FROM query_table('__duck' || 'lake_metadata_carto_dw.public.ducklake_table')",
        "ATTACH 'host=127.0.0.1 dbname=postgres user=postgres' AS pg (TYPE postgres)",
        "ATTACH 'ducklake:postgres:host=127.0.0.1 dbname=postgres user=postgres' AS other",
        "SET enable_external_access = true",
    ],
)
def test_sql_cannot_reach_the_catalog_database_or_other_servers(pair, q):
    (one, _), _ = pair
    out = sql(one, q, expect=400)
    assert out["status"] == 400


def test_the_catalog_password_is_never_shown(pair):
    (one, _), _ = pair
    rows = sql(one, "SELECT path FROM duckdb_databases() WHERE path IS NOT NULL")["rows"]
    assert rows and all("password" not in (r["path"] or "") for r in rows)  # in a redacted secret instead
    status = requests.get(one + "/v3/lds/status", headers=ADMIN, timeout=30)
    assert status.status_code == 200 and PASSWORD not in status.text
    setting = next(s for s in status.json()["settings"] if s["name"] == "carto_dw_catalog_url")
    assert setting["value"] == "(set)"
    log = "".join(p.read_text() for p in pair[1].rglob("serve.log"))
    assert PASSWORD not in log


# --- in-process: the lock, the default, the settings ----------------------------------------------------------
@pytest.fixture()
def own_lake(tmp_path):
    """A lake of its own: a catalog remembers its data path, and refuses another one."""
    with pg_database("lds_own_lake") as name:
        lake = SharedLake(catalog_url(name), tmp_path / "lake")
        dw = CartoDW(tmp_path / "a", lake=lake)
        yield name, lake, dw
        dw.close()


def test_writes_wait_for_the_shared_lock_reads_do_not(own_lake):
    _, lake, dw = own_lake
    with dw.query("CREATE OR REPLACE TABLE locked AS SELECT 1 AS x") as q:
        list(q.rows())
    with lake.write_lock():  # as a writer on another machine would hold it
        with dw.query("SELECT count(*) FROM locked", read_only=True, timeout_s=5) as q:
            assert list(q.rows()) == [(1,)]
        with (
            pytest.raises(StatementTimeout, match="advisory lock"),
            dw.query("INSERT INTO locked VALUES (2)", timeout_s=0.5) as q,
        ):
            list(q.rows())
    with dw.query("INSERT INTO locked VALUES (3)", timeout_s=30) as q:  # released: the write goes through
        list(q.rows())
    with dw.query("SELECT list(x ORDER BY x) FROM locked", read_only=True) as q:
        assert list(q.rows()) == [([1, 3],)]


def test_a_catalog_refuses_another_data_path(own_lake, tmp_path):
    name, _, dw = own_lake
    dw.test()  # creates the lake with its data path
    other = CartoDW(tmp_path / "b", lake=SharedLake(catalog_url(name), tmp_path / "elsewhere"))
    try:
        with pytest.raises(ConnectionFailed, match="does not match existing data path"):
            other.test()
    finally:
        other.close()


def test_without_the_setting_carto_dw_keeps_its_own_catalog(monaco_dir, tmp_path):
    dw = open_warehouse("carto_dw", None, local_settings(monaco_dir, tmp_path))
    try:
        assert isinstance(dw, CartoDW) and dw.lake is None
        with dw.query("CREATE TABLE t AS SELECT 1 AS x") as q:
            list(q.rows())
        assert (tmp_path / "carto_dw" / "catalog.sqlite").is_file()
        assert dw.data_path == (tmp_path / "carto_dw" / "data").resolve()
    finally:
        dw.close()


def test_a_catalog_url_needs_a_shared_data_path(monaco_dir, tmp_path):
    settings = local_settings(monaco_dir, tmp_path, carto_dw_catalog_url=catalog_url("x"))
    with pytest.raises(Unavailable, match="carto_dw_data_path"):
        shared_lake(settings)
    with pytest.raises(Unavailable, match="object storage"):
        SharedLake(catalog_url("x"), "s3://bucket/lake")
