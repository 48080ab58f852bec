"""The LDS tables inside carto_dw (lds.addresses, lds.streets, lds.places, lds.roads) over a real Monaco build:
content, read-only for everyone (the data dir untouched), the resources browser, other processes, and a data dir
built before the tables."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lds.errors import LdsError
from lds.formats import LDS_TABLES, TABLES_DIR
from lds.settings import Settings
from lds.warehouse import WarehouseError, open_warehouse
from lds.warehouse.carto_dw import CartoDW
from lds.warehouse.lds_tables import tables_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dw(monaco_dir, tmp_path_factory):
    wh = CartoDW(tmp_path_factory.mktemp("state") / "carto_dw", threads=1, tables=tables_file(monaco_dir))
    yield wh
    wh.close()


def run(wh, sql, params=None, read_only=False):
    with wh.query(sql, params, timeout_s=60, read_only=read_only) as q:
        return q.schema, list(q.rows())


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_open_warehouse_attaches_the_tables_of_the_data_dir(monaco_dir, tmp_path):
    wh = open_warehouse("carto_dw", None, Settings.from_env(env={}, state_dir=str(tmp_path), data_dir=str(monaco_dir)))
    try:
        assert run(wh, "SELECT count(*) FROM lds.addresses", read_only=True)[1] == [(183,)]
    finally:
        wh.close()


def test_addresses_content(dw):
    schema, rows = run(
        dw,
        "SELECT housenumber, street, postcode, city, country, osm_type, geom FROM lds.addresses "
        "WHERE street = $street ORDER BY housenumber",
        {"street": "Allée Lazare Sauvaigo"},
        read_only=True,
    )
    assert [c.type for c in schema] == ["string"] * 6 + ["geometry"]
    assert [r[0] for r in rows] == ["11", "14", "15", "16", "9"]
    assert {r[3] for r in rows} == {"Monaco"} and {r[4] for r in rows} == {"MC"}
    point = json.loads(rows[0][6])
    assert (
        point["type"] == "Point" and 7.40 < point["coordinates"][0] < 7.45 and 43.72 < point["coordinates"][1] < 43.76
    )
    _, top = run(dw, "SELECT street, count(*) AS n FROM lds.addresses GROUP BY 1 ORDER BY n DESC LIMIT 1")
    assert top == [("Avenue Princesse Grace", 14)]


def test_roads_content(dw):
    _, rows = run(
        dw,
        "SELECT highway, bool_or(car), bool_and(walk), max(car_speed_kmh) FROM lds.roads GROUP BY 1 ORDER BY 1",
        read_only=True,
    )
    by_class = {r[0]: r[1:] for r in rows}
    assert {"primary", "secondary", "residential", "footway", "steps", "service"} <= set(by_class)
    assert by_class["primary"][0] and by_class["primary"][2] >= 50
    assert by_class["steps"] == (False, True, None)
    schema, rows = run(
        dw,
        "SELECT name, way_id, length_m, ST_Length_Spheroid(ST_FlipCoordinates(geom)) AS m, geom "
        "FROM lds.roads WHERE name = 'Rue Grimaldi' ORDER BY id",
    )
    assert len(rows) >= 10 and {c.name: c.type for c in schema}["geom"] == "geometry"
    for _name, way_id, length_m, spheroid, geom in rows:
        assert way_id > 0 and json.loads(geom)["type"] == "LineString"
        assert length_m == pytest.approx(spheroid, rel=0.01)  # haversine vs the ellipsoid


def test_streets_and_places(dw):
    _, rows = run(
        dw, "SELECT name, kind, addresses, ST_GeometryType(geom)::VARCHAR FROM lds.streets WHERE name = 'Rue des Roses'"
    )
    assert len(rows) == 1 and rows[0][:3] == ("Rue des Roses", "street", 13)
    assert rows[0][3] in ("LINESTRING", "MULTILINESTRING")
    _, rows = run(
        dw,
        "SELECT name, type, ST_GeometryType(area)::VARCHAR, ST_Contains(area, geom) FROM lds.places "
        "WHERE name IN ('Monte-Carlo', 'Monaco')",
    )
    places = {(r[0], r[1]): r[2:] for r in rows}
    assert ("Monaco", "city") in places and ("Monaco", "country") in places
    assert places[("Monte-Carlo", "suburb")] == ("POLYGON", True)


WRITES = [
    "INSERT INTO lds.roads (id) VALUES (-1)",
    "UPDATE lds.addresses SET street = 'x'",
    "DELETE FROM lds.places",
    "DROP TABLE lds.roads",
    "DROP TABLE lds.main.streets",
    "ALTER TABLE lds.roads RENAME TO r2",
    "ALTER TABLE lds.roads ADD COLUMN x INTEGER",
    "CREATE TABLE lds.extra AS SELECT 1 AS a",
    "CREATE VIEW lds.v AS SELECT 1 AS a",
    "COMMENT ON TABLE lds.roads IS 'x'",
    "TRUNCATE lds.addresses",
]


@pytest.mark.parametrize("read_only", [False, True], ids=["admin", "token"])
def test_writes_to_lds_are_refused_and_the_data_dir_is_untouched(dw, monaco_dir, read_only):
    before = fingerprint(monaco_dir / TABLES_DIR)
    for sql in WRITES:
        with pytest.raises(WarehouseError, match="read-only"):
            run(dw, sql, read_only=read_only)
    for sql in ("DETACH lds", "DETACH DATABASE IF EXISTS lds", "SELECT 1; DETACH carto_dw"):
        with pytest.raises(WarehouseError, match="DETACH is not allowed"):
            run(dw, sql, read_only=read_only)
    target = monaco_dir / TABLES_DIR / "roads.parquet"
    for sql in (
        f"COPY (SELECT 1 AS a) TO '{target}' (FORMAT parquet)",
        f"COPY lds.roads FROM '{target}'",
        f"ATTACH '{monaco_dir / TABLES_DIR / 'lds_tables.duckdb'}' AS again",
    ):
        with pytest.raises(LdsError):
            run(dw, sql, read_only=read_only)
    assert fingerprint(monaco_dir / TABLES_DIR) == before
    assert run(dw, "SELECT count(*) FROM lds.roads")[1] == run(dw, "SELECT count(*) FROM lds.roads", read_only=True)[1]
    assert run(dw, "SELECT 'detach' AS word", read_only=read_only)[1] == [("detach",)]


def test_lake_tables_can_be_made_from_them(dw):
    run(dw, "CREATE OR REPLACE TABLE car_roads AS SELECT id, name, geom FROM lds.roads WHERE car")
    _, rows = run(
        dw, "SELECT count(*), count(*) = (SELECT count(*) FROM lds.roads WHERE car) FROM car_roads", read_only=True
    )
    assert rows[0][0] > 500 and rows[0][1]


def test_resources_list_the_lds_database(dw):
    assert dw.resources("") == [
        {"id": "carto_dw", "name": "carto_dw", "type": "database"},
        {"id": "lds", "name": "lds", "type": "database"},
    ]
    assert dw.resources("lds") == [{"id": "lds.main", "name": "main", "type": "schema"}]
    tables = dw.resources("lds.main")
    assert tables == [{"id": f"lds.main.{n}", "name": n, "type": "table"} for n in sorted(LDS_TABLES)]
    columns = {c["name"]: c["type"] for c in dw.resources("lds.main.roads")}
    assert columns["geom"] == "geometry" and columns["way_id"] == "bigint" and columns["car"] == "boolean"
    assert columns["length_m"] == "number" and columns["highway"] == "string" and "bbox" not in columns
    assert {c["name"] for c in dw.resources("lds.main.addresses")} >= {
        "housenumber",
        "street",
        "postcode",
        "city",
        "country",
        "osm_id",
        "geom",
    }
    for sql in ("SELECT count(*) FROM lds.main.roads", "SELECT count(*) FROM lds.roads"):  # the ids are SQL names
        assert run(dw, sql, read_only=True)[1][0][0] > 1000
    with pytest.raises(WarehouseError, match="not a schema of the lake: write lds.roads"):
        run(dw, "SELECT count(*) FROM carto_dw.lds.roads", read_only=True)


_READER = """
import sys
from pathlib import Path
from lds.warehouse.carto_dw import CartoDW
from lds.warehouse.lds_tables import tables_file
wh = CartoDW(Path(sys.argv[1]), threads=1, tables=tables_file(sys.argv[2]))
with wh.query("SELECT count(*) FROM lds.roads WHERE highway = 'primary'", timeout_s=60, read_only=True) as q:
    print(list(q.rows())[0][0])
"""


def test_readable_from_other_processes(dw, monaco_dir):
    _, want = run(dw, "SELECT count(*) FROM lds.roads WHERE highway = 'primary'", read_only=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(dw.root), str(monaco_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [int(o[0]) for o in outs] == [want[0][0]] * 2, outs


def test_a_data_dir_without_tables_loads_and_says_why(tmp_path):
    old = tmp_path / "old-data"
    old.mkdir()  # a data dir from before the LDS tables: no tables/ folder
    wh = CartoDW(tmp_path / "carto_dw", threads=1, tables=tables_file(old))
    try:
        assert run(wh, "SELECT 1", read_only=True)[1] == [(1,)]
        assert wh.resources("") == [{"id": "carto_dw", "name": "carto_dw", "type": "database"}]
        with pytest.raises(WarehouseError, match=r"LDS tables .* are not available.*rebuild it with `lds build`"):
            run(wh, "SELECT * FROM lds.roads", read_only=True)
        v1 = wh.data_version()
        run(wh, "CREATE TABLE t AS SELECT 1 AS a")
        assert wh.data_version() != v1
    finally:
        wh.close()
