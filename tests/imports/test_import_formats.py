"""Every import format, made in the test with the libraries that read it and served over loopback HTTP, into
both destinations (the embedded carto_dw and a throwaway PostgreSQL/PostGIS database): rows, attribute
values, geometries in EPSG:4326 (reprojected when the file says otherwise), a lying Content-Type, a
malformed file (the reader's reason), overwrite rules and the all-or-nothing load."""

from __future__ import annotations

import json

import pytest
import shapely
from authfixtures import pg_database
from importfixtures import *
from importfixtures import (
    LATS,
    LONS,
    NAMES,
    csv_bytes,
    gdal_bytes,
    geoparquet_bytes,
    shapefile_zip,
    zip_bytes,
)

from lds.errors import BadRequest, Conflict
from lds.imports.budget import Budget, ImportCancelled
from lds.imports.load import parse_destination
from lds.imports.pipeline import ImportRequest, preview, run_import
from lds.imports.readers import MalformedFile
from lds.settings import Settings
from lds.warehouse import open_warehouse


@pytest.fixture(scope="module")
def settings(server, tmp_path_factory):
    state = tmp_path_factory.mktemp("imports-state")
    return Settings.from_env(
        env={}, state_dir=str(state), auth=False, import_allowed_hosts=server.host, import_batch_rows=2
    )  # several batches even for three rows


@pytest.fixture(scope="module")
def pgname():
    with pg_database("lds_import_test", "CREATE EXTENSION postgis") as name:
        yield name


@pytest.fixture(scope="module", params=["carto_dw", "postgres"])
def warehouse(request, settings):
    if request.param == "carto_dw":
        wh = open_warehouse("carto_dw", None, settings)
    else:
        creds = {
            "host": "127.0.0.1",
            "database": request.getfixturevalue("pgname"),
            "username": "postgres",
            "sslmode": "disable",
        }
        wh = open_warehouse("postgres", creds, settings)
    yield wh
    wh.close()


def database(wh) -> str:
    return wh.config.database if wh.provider == "postgres" else "carto_dw"


def rows(wh, table: str, order: str = "1") -> list[tuple]:
    with wh.query(f"SELECT * FROM {table} ORDER BY {order}", read_only=True) as q:
        names = [c.name for c in q.schema]
        return [dict(zip(names, r, strict=True)) for r in q.rows()]


def do_import(wh, settings, url, table, log=None, **kw):
    req = ImportRequest(url=url, destination=parse_destination(f"imp.{table}", database(wh)), **kw)
    lines = [] if log is None else log
    return run_import(f"t{table}", req, wh, settings, budget=Budget(120), log=lines.append, on_cancel=lambda fn: None)


def coords(geojson_text):
    return shapely.get_coordinates(shapely.from_geojson(geojson_text))[0]


FORMATS = {
    "csv_latlon": lambda tmp: (csv_bytes("latlon"), "text/csv"),
    "csv_wkt": lambda tmp: (csv_bytes("wkt"), "text/tab-separated-values"),
    "csv_geojson": lambda tmp: (csv_bytes("geojson"), "text/csv"),
    "csv_hexwkb": lambda tmp: (csv_bytes("hexwkb"), "text/plain"),
    "geojson": lambda tmp: (gdal_bytes(tmp, "GeoJSON", ".geojson"), "application/geo+json"),
    "geoparquet": lambda tmp: (geoparquet_bytes(tmp, crs=3857), "application/vnd.apache.parquet"),
    "shapefile": lambda tmp: (shapefile_zip(tmp, crs=32632), "application/zip"),
    "gpkg": lambda tmp: (gdal_bytes(tmp, "GPKG", ".gpkg", crs=2154), "application/geopackage+sqlite3"),
    "kml": lambda tmp: (gdal_bytes(tmp, "KML", ".kml"), "application/vnd.google-earth.kml+xml"),
    "kmz": lambda tmp: (zip_bytes({"doc.kml": gdal_bytes(tmp, "KML", ".kml")}), "application/vnd.google-earth.kmz"),
}
EXPECTED_FORMAT = {
    "csv_latlon": "csv",
    "csv_wkt": "csv",
    "csv_geojson": "csv",
    "csv_hexwkb": "csv",
    "geoparquet": "geoparquet",
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_into_the_destination(warehouse, settings, server, tmp_path, fmt):
    body, ctype = FORMATS[fmt](tmp_path)
    url = server.add(f"{fmt}.bin", body, ctype)
    log = []
    result = do_import(warehouse, settings, url, fmt, log)
    assert result["rowsImported"] == 3 and result["destination"] == f"{database(warehouse)}.imp.{fmt}"
    assert result["format"] == EXPECTED_FORMAT.get(fmt, fmt)
    schema = {c["name"]: c["type"] for c in result["schema"]}
    assert schema["geom"] == "geometry"
    got = rows(warehouse, f"imp.{fmt}", order="1")
    assert len(got) == 3
    by_name = {}
    for r in got:
        label = next(v for k, v in r.items() if k.lower() in ("name", "nom") and isinstance(v, str))
        by_name[label.replace(" é", "")] = r
    assert sorted(by_name) == sorted(NAMES)
    for name, lon, lat in zip(NAMES, LONS, LATS, strict=True):
        x, y = coords(by_name[name]["geom"])
        assert abs(x - lon) < 1e-6 and abs(y - lat) < 1e-6, (fmt, name, x, y)
    if fmt in ("geojson", "geoparquet", "shapefile", "gpkg"):
        assert sorted(r["visitors"] for r in got) == [45, 120, 300]
    if fmt in ("geoparquet", "shapefile", "gpkg"):
        assert any("reprojected from" in line for line in log), log
    if fmt == "csv_latlon":
        assert any("latin" in line.lower() or "cp125" in line.lower() or "iso" in line.lower() for line in log), log
        assert {r["nom"] for r in got} == {f"{n} é" for n in NAMES}


def test_lying_content_type_is_ignored(warehouse, settings, server):
    url = server.add("lies.zip", csv_bytes("wkt"), "application/zip")
    log = []
    assert do_import(warehouse, settings, url, "lies", log)["rowsImported"] == 3
    assert any("declared Content-Type 'application/zip'; detected csv" in line for line in log)
    html = server.add("page.csv", b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/csv")
    with pytest.raises(BadRequest, match="HTML page"):
        do_import(warehouse, settings, html, "page")


def test_malformed_files_give_the_readers_reason(warehouse, settings, server):
    broken = server.add(
        "broken.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", ', "application/geo+json"
    )
    with pytest.raises(MalformedFile, match="could not be read as geojson: .+"):
        do_import(warehouse, settings, broken, "broken")
    truncated_parquet = server.add("cut.parquet", b"PAR1" + b"\0" * 100 + b"PAR1", "application/octet-stream")
    with pytest.raises(MalformedFile, match="could not be read as parquet"):
        do_import(warehouse, settings, truncated_parquet, "cut")
    bad_csv = server.add("bad.csv", b"a,b\n1,2\n3,4,5,6\n" + b"7,8\n" * 10, "text/csv")
    with pytest.raises(MalformedFile, match="could not be read as csv"):
        do_import(warehouse, settings, bad_csv, "badcsv")
    assert not exists(warehouse, "broken") and not exists(warehouse, "cut") and not exists(warehouse, "badcsv")


def exists(wh, table: str) -> bool:
    if wh.provider == "postgres":
        sql, params = "SELECT count(*) FROM pg_class WHERE relname = $1", [table]
    else:
        sql, params = "SELECT count(*) FROM duckdb_tables() WHERE table_name = $t", {"t": table}
    with wh.query(sql, params, read_only=True) as q:
        return next(iter(q.rows()))[0] > 0


def test_overwrite_rules_and_atomic_replace(warehouse, settings, server):
    first = server.add("v1.csv", b"id,lat,lon\n1,43.73,7.42\n", "text/csv")
    second = server.add("v2.csv", b"id,lat,lon\n1,43.73,7.42\n2,43.74,7.43\n", "text/csv")
    do_import(warehouse, settings, first, "over")
    with pytest.raises(Conflict, match="already exists"):
        do_import(warehouse, settings, second, "over")
    assert len(rows(warehouse, "imp.over")) == 1
    assert do_import(warehouse, settings, second, "over", overwrite=True)["rowsImported"] == 2
    assert [r["id"] for r in rows(warehouse, "imp.over")] == [1, 2]


def test_cancel_during_the_load_leaves_no_table(warehouse, settings, server):
    url = server.add("cancel.csv", b"id,lat,lon\n1,43.73,7.42\n", "text/csv")
    req = ImportRequest(url=url, destination=parse_destination("imp.cancelled", database(warehouse)))
    callbacks = []
    state = {"loading": False}

    def log(line):
        state["loading"] = state["loading"] or line.startswith("loading")

    budget = Budget(60, cancelled=lambda: state["loading"])
    with pytest.raises(ImportCancelled):
        run_import("tcancel", req, warehouse, settings, budget=budget, log=log, on_cancel=callbacks.append)
    assert not exists(warehouse, "cancelled")


def test_autoguessing_off_keeps_text_and_names_are_cleaned(warehouse, settings, server):
    body = b'id,"",Name,name,geom,lat,lon\n007,x,a,b,keep,43.73,7.42\n'
    url = server.add("names.csv", body, "text/csv")
    result = do_import(warehouse, settings, url, "names", autoguessing=False)
    names = [c["name"] for c in result["schema"]]
    assert names[-1] == "geom" and len({n.lower() for n in names}) == len(names)
    got = rows(warehouse, "imp.names")[0]
    assert got["id"] == "007" and "keep" in got.values() and coords(got["geom"])[0] == pytest.approx(7.42)


def test_preview_writes_nothing(settings, server, tmp_path):
    url = server.add("preview.geojson", gdal_bytes(tmp_path, "GeoJSON", ".geojson"), "application/json")
    out = preview(url, settings)
    assert out["format"] == "geojson" and not out["truncated"]
    assert {"name": "geom", "type": "geometry"} in out["columns"]
    assert {"name": "visitors", "type": "number"} in out["columns"] or {"name": "visitors", "type": "bigint"} in out[
        "columns"
    ]
    assert len(out["rows"]) == 3 and json.loads(out["rows"][0]["geom"])["type"] == "Point"


def test_a_type_that_changes_after_the_sniffed_rows_reads_the_file_again(warehouse, settings, server):
    lines = ["code,lat,lon"] + [f"{i},43.73,7.42" for i in range(30_000)] + ["A-12,43.74,7.43"]
    url = server.add("late.csv", ("\n".join(lines) + "\n").encode(), "text/csv")
    log = []
    result = do_import(warehouse, settings.replace(import_batch_rows=10_000), url, "late", log)
    assert result["rowsImported"] == 30_001 and {"name": "code", "type": "string"} in result["schema"]
    assert any("reading the file again" in line for line in log), log
