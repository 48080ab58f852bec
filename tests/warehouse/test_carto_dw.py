"""carto_dw, the embedded DuckDB/DuckLake warehouse, against the real DuckDB and its spatial extension."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lds.errors import BadRequest, NotFound
from lds.settings import Settings
from lds.warehouse import (
    CARTO_TYPES,
    QueryCancelled,
    RowLimitExceeded,
    StatementTimeout,
    WarehouseError,
    open_warehouse,
)
from lds.warehouse.carto_dw import CartoDW

ROOT = Path(__file__).resolve().parents[2]
SLOW = "SELECT count(*) FROM range(1000000000000)"  # minutes of work: only a cancel ends it


@pytest.fixture(scope="module")
def dw(tmp_path_factory):
    wh = CartoDW(tmp_path_factory.mktemp("state") / "carto_dw", threads=1, batch_rows=100)
    yield wh
    wh.close()


def run(wh, sql, params=None, **kw):
    with wh.query(sql, params, timeout_s=kw.pop("timeout_s", 30), **kw) as q:
        return q.schema, list(q.rows())


def test_open_warehouse_builds_carto_dw_in_the_state_dir(tmp_path):
    wh = open_warehouse("carto_dw", None, Settings.from_env(env={}, state_dir=str(tmp_path)))
    try:
        wh.test()
        assert (tmp_path / "carto_dw" / "catalog.sqlite").is_file()
    finally:
        wh.close()
    with pytest.raises(BadRequest, match="unknown provider_id"):
        open_warehouse("oracle", {}, Settings.from_env(env={}))


def test_every_type_maps_to_a_carto_type_and_json_ready_value(dw):
    schema, rows = run(dw, """SELECT 1::INTEGER AS i, 2.5::DOUBLE AS f, 1.25::DECIMAL(6,2) AS d,
        9007199254740993::BIGINT AS big, 'héllo'::VARCHAR AS s, true AS b,
        TIMESTAMP '2024-05-01 10:20:30' AS ts, TIMESTAMPTZ '2024-05-01 10:20:30+02' AS tz, DATE '2024-05-01' AS day,
        {'a': 1, 'b': [1.5::DECIMAL(3,1)]} AS st, [1, 2, 3] AS l, MAP {'k': 'v'} AS m, '{"x": [1]}'::JSON AS j,
        '00000000-0000-0000-0000-000000000001'::UUID AS u, INTERVAL 1 DAY AS iv""", read_only=True)
    types = {c.name: c.type for c in schema}
    assert types == {"i": "number", "f": "number", "d": "number", "big": "bigint", "s": "string", "b": "boolean",
                     "ts": "timestamp", "tz": "timestamp", "day": "timestamp", "st": "object", "l": "object",
                     "m": "object", "j": "object", "u": "string", "iv": "unknown"}
    assert set(types.values()) <= set(CARTO_TYPES)
    row = dict(zip([c.name for c in schema], rows[0]))
    assert row["d"] == 1.25 and row["big"] == 9007199254740993 and row["s"] == "héllo"
    assert row["ts"] == "2024-05-01T10:20:30" and row["tz"] == "2024-05-01T08:20:30+00:00" and row["day"] == "2024-05-01"
    assert row["st"] == {"a": 1, "b": [1.5]} and row["l"] == [1, 2, 3] and row["j"] == {"x": [1]}
    assert row["u"] == "00000000-0000-0000-0000-000000000001"
    json.dumps(rows)  # every value is JSON-ready


def test_geometries_are_geojson_strings(dw):
    schema, rows = run(dw, """SELECT * FROM (VALUES
        (1, ST_Point(7.42, 43.73)),
        (2, ST_GeomFromText('LINESTRING(0 0, 1 1)')),
        (3, ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))')),
        (4, ST_GeomFromText('MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))')),
        (5, NULL::GEOMETRY)) AS t(id, geom) ORDER BY id""", read_only=True)
    assert [c.type for c in schema] == ["number", "geometry"]
    geoms = [json.loads(g) if g else None for _, g in rows]
    assert geoms[0] == {"type": "Point", "coordinates": [7.42, 43.73]}
    assert [g["type"] for g in geoms[1:4]] == ["LineString", "Polygon", "MultiPolygon"]
    assert geoms[4] is None


def test_positional_and_named_parameters_are_bound_never_spliced(dw):
    run(dw, "CREATE OR REPLACE TABLE people (name VARCHAR, age INTEGER)")
    run(dw, "INSERT INTO people VALUES ($1, $2), ($3, $4)", ["ana", 31, "bob", 42])
    attack = "x'); DROP TABLE people; --"
    assert run(dw, "SELECT $1 AS v", [attack], read_only=True)[1] == [(attack,)]
    assert run(dw, "SELECT name FROM people WHERE name = $1", ["ana' OR '1'='1"], read_only=True)[1] == []
    assert run(dw, "SELECT name FROM people WHERE age > $min ORDER BY name", {"min": 35}, read_only=True)[1] == [("bob",)]
    assert run(dw, "SELECT count(*) FROM people", read_only=True)[1] == [(2,)]  # the table survived
    with pytest.raises(BadRequest):
        dw.query("SELECT $1", "not a list")
    with pytest.raises(BadRequest, match="identifiers"):
        dw.query("SELECT 1", {"a b": 1})
    with pytest.raises(WarehouseError):
        run(dw, "SELECT $1, $2", [1])


def test_sql_errors_carry_the_warehouse_message(dw):
    with pytest.raises(WarehouseError, match="no_such_table") as err:
        run(dw, "SELECT * FROM no_such_table", read_only=True)
    assert err.value.status == 400
    with pytest.raises(BadRequest, match="empty"):
        dw.query("   ")


def test_read_only_queries_cannot_write_and_files_outside_the_lake_are_off_limits(dw):
    run(dw, "CREATE OR REPLACE TABLE ro (i INTEGER)")
    with pytest.raises(WarehouseError, match="read-only"):
        run(dw, "INSERT INTO ro VALUES (1)", read_only=True)
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "ATTACH '/tmp/other.duckdb' AS other",
                "SET enable_external_access = true"):
        with pytest.raises(WarehouseError):
            run(dw, sql)


def test_timeout_cancels_the_statement_and_says_so(dw):
    with pytest.raises(StatementTimeout, match="longer than 0.3 s") as err:
        run(dw, SLOW, timeout_s=0.3, read_only=True)
    assert 400 <= err.value.status < 500 and "job" in err.value.message
    with pytest.raises(StatementTimeout):  # a write holds the write lock: it is released on timeout
        run(dw, "CREATE OR REPLACE TABLE slow AS " + SLOW, timeout_s=0.3)
    assert run(dw, "SELECT 42", timeout_s=5)[1] == [(42,)]


def test_row_cap_points_to_limit_and_jobs(dw):
    with pytest.raises(RowLimitExceeded, match="LIMIT.*job") as err:
        run(dw, "SELECT * FROM range(1000)", max_rows=250, read_only=True)
    assert 400 <= err.value.status < 500
    schema, rows = run(dw, "SELECT * FROM range(250)", max_rows=250, read_only=True)
    assert len(rows) == 250 and schema[0].type == "bigint"


def test_rows_stream_in_batches(dw):
    with dw.query("SELECT * FROM range(1050)", timeout_s=30, read_only=True) as q:
        sizes = [len(b) for b in q.batches()]
    assert sizes == [100] * 10 + [50] and q.rowcount == 1050


def test_cancel_from_another_thread(dw):
    q = dw.query(SLOW, timeout_s=60, read_only=True)
    threading.Timer(0.3, q.cancel).start()
    with pytest.raises(QueryCancelled), q:
        list(q.rows())
    early = dw.query("SELECT 1", timeout_s=60)
    early.cancel()
    with pytest.raises(QueryCancelled), early:
        pass


def test_resources_browse_databases_schemas_tables_columns(dw):
    run(dw, "CREATE SCHEMA IF NOT EXISTS shop")
    run(dw, "CREATE OR REPLACE TABLE shop.stores (id BIGINT, name VARCHAR, geom GEOMETRY, opened TIMESTAMP)")
    run(dw, "CREATE OR REPLACE VIEW shop.named AS SELECT name FROM shop.stores")
    assert dw.resources("") == [{"id": "carto_dw", "name": "carto_dw", "type": "database"}]
    assert {"id": "carto_dw.shop", "name": "shop", "type": "schema"} in dw.resources("carto_dw")
    assert dw.resources("carto_dw.shop") == [
        {"id": "carto_dw.shop.named", "name": "named", "type": "view"},
        {"id": "carto_dw.shop.stores", "name": "stores", "type": "table"}]
    assert dw.resources("carto_dw.shop.stores") == [
        {"id": "carto_dw.shop.stores.id", "name": "id", "type": "bigint"},
        {"id": "carto_dw.shop.stores.name", "name": "name", "type": "string"},
        {"id": "carto_dw.shop.stores.geom", "name": "geom", "type": "geometry"},
        {"id": "carto_dw.shop.stores.opened", "name": "opened", "type": "timestamp"}]
    for missing in ("other", "carto_dw.nope", "carto_dw.shop.nope"):
        with pytest.raises(NotFound):
            dw.resources(missing)
    with pytest.raises(BadRequest):
        dw.resources("carto_dw..x")


def test_data_version_changes_after_a_write_only(dw):
    run(dw, "CREATE OR REPLACE TABLE ev (i INTEGER)")
    before = dw.data_version()
    run(dw, "SELECT count(*) FROM ev", read_only=True)
    assert dw.data_version() == before
    run(dw, "INSERT INTO ev VALUES (1)")
    after = dw.data_version()
    assert after != before
    other = CartoDW(dw.root)  # another process's view of the same lake agrees
    assert other.data_version() == after


_WORKER = r"""
import json, sys, time
from lds.warehouse.carto_dw import CartoDW
root, role, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
dw = CartoDW(root, threads=1)
out = {"role": role, "errors": [], "counts": []}
for i in range(n):
    try:
        if role == "writer":
            with dw.query("INSERT INTO shared SELECT range, $1 FROM range(100)", [sys.argv[4]], timeout_s=60) as q:
                list(q.rows())
        else:
            with dw.query("SELECT count(*) FROM shared", timeout_s=60, read_only=True) as q:
                out["counts"].append(list(q.rows())[0][0])
    except Exception as exc:
        out["errors"].append(repr(exc))
print(json.dumps(out))
"""


def test_several_processes_read_while_two_others_write(dw):
    """Every gunicorn worker and job worker attaches the same lake: reads never fail or go backwards while
    two processes write at once (their commits are serialised by the write lock, none is lost)."""
    run(dw, "CREATE OR REPLACE TABLE shared (i BIGINT, who VARCHAR)")
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(dw.root), "writer", "15", f"w{k}"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT) for k in range(2)]
    procs += [subprocess.Popen([sys.executable, "-c", _WORKER, str(dw.root), "reader", "40"],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(3)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    for r in results:
        assert r["errors"] == [], r
        if r["role"] == "reader":
            assert r["counts"] == sorted(r["counts"]) and all(c % 100 == 0 for c in r["counts"])
    assert run(dw, "SELECT who, count(*) FROM shared GROUP BY who ORDER BY who", read_only=True)[1] == [
        ("w0", 1500), ("w1", 1500)]


def test_session_changes_do_not_leak_into_the_next_statement_of_the_thread(dw):
    run(dw, "CREATE OR REPLACE TABLE leak (i INTEGER)")
    run(dw, "USE memory", read_only=True)
    assert run(dw, "SELECT current_database()", read_only=True)[1] == [("carto_dw",)]
    with pytest.raises(RowLimitExceeded):  # a result abandoned half-read
        run(dw, "SELECT * FROM range(1000)", max_rows=10, read_only=True)
    assert run(dw, "SELECT count(*) FROM leak", read_only=True)[1] == [(0,)]


def test_writes_wait_for_the_write_lock_within_their_timeout_reads_do_not(dw):
    from lds.warehouse.carto_dw import _FileLock

    run(dw, "CREATE OR REPLACE TABLE locked (i INTEGER)")
    with _FileLock(dw.lock_path):  # as another process's long write would hold it
        assert run(dw, "SELECT count(*) FROM locked", read_only=True)[1] == [(0,)]
        with pytest.raises(StatementTimeout, match="write lock"):
            run(dw, "INSERT INTO locked VALUES (1)", timeout_s=0.3)
        q = dw.query("INSERT INTO locked VALUES (2)", timeout_s=30)
        threading.Timer(0.2, q.cancel).start()
        with pytest.raises(QueryCancelled), q:
            pass
    run(dw, "INSERT INTO locked VALUES (3)")
    assert run(dw, "SELECT list(i) FROM locked", read_only=True)[1] == [([3],)]


def test_maintain_compacts_small_files_and_keeps_the_data(dw):
    run(dw, "CREATE OR REPLACE TABLE small (i BIGINT)")
    for k in range(8):
        run(dw, f"INSERT INTO small SELECT * FROM range({k * 50}, {k * 50 + 50})")
    files = lambda: sum(1 for _ in (dw.data_path / "main" / "small").glob("*.parquet"))
    before = files()
    counts = dw.maintain(keep_s=0)
    assert counts["merged"] >= 1 and counts["deleted"] >= 1 and files() < before
    assert run(dw, "SELECT count(*), sum(i) FROM small", read_only=True)[1] == [(400, sum(range(400)))]


def _count_in_child(dw, conn) -> None:
    try:
        with dw.query("SELECT count(*) FROM forked", timeout_s=30, read_only=True) as q:
            conn.send(list(q.rows()))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        conn.send(repr(exc))


def test_a_forked_child_opens_its_own_instances(dw):
    """gunicorn forks workers from a preloading parent: a child must not use the parent's DuckDB."""
    import multiprocessing

    run(dw, "CREATE OR REPLACE TABLE forked AS SELECT * FROM range(7)")
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=_count_in_child, args=(dw, child_end))
    child.start()
    assert parent_end.recv() == [(7,)]
    child.join(30)
    assert run(dw, "SELECT count(*) FROM forked", read_only=True)[1] == [(7,)]
