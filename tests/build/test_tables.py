"""The LDS tables `lds build` writes: GeoParquet files whose rows are the address index's and the road graphs'
(counts, lengths, ways), valid WKB geometries with GeoParquet 1.1 metadata, and their DuckDB copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
import shapely

from lds.build import road_table
from lds.build.osm import Roads
from lds.build.pipeline import build, current_meta
from lds.build.road_table import road_pieces
from lds.build.tables import GEOMETRY_TYPES
from lds.formats import KIND_PLACE, KIND_STREET, LDS_TABLES, TABLES_DB, TABLES_DIR
from lds.versions import current_path
from lds.warehouse.duck_ext import load_extensions


def read(monaco_dir: Path, name: str):
    return pq.read_table(monaco_dir / TABLES_DIR / f"{name}.parquet")


def test_row_counts_are_the_index_sizes(monaco_dir):
    meta = json.loads((monaco_dir / "meta.json").read_text())
    index = monaco_dir / "geocoder"
    kinds = np.load(index / "ent_kind.npy")
    want = {
        "addresses": len(np.load(index / "addr_lat.npy")),
        "streets": int((kinds == KIND_STREET).sum()),
        "places": int((kinds == KIND_PLACE).sum()),
    }
    assert want["addresses"] == meta["geocoder"]["addresses"] + meta["geocoder"]["interpolated"] == 183
    assert want["streets"] == meta["geocoder"]["streets"]
    for name, n in want.items():
        assert read(monaco_dir, name).num_rows == n == meta["tables"]["rows"][name]
    assert set(meta["tables"]["rows"]) == set(LDS_TABLES)


@pytest.mark.parametrize("mode", ["car", "walk", "bike"])
def test_roads_carry_each_mode_graph(monaco_dir, mode):
    """A mode's rows, counted once per direction it may travel, are its graph: same ways, same total length."""
    roads = read(monaco_dir, "roads").to_pandas()
    graph = monaco_dir / "graph" / mode
    edge_length = np.load(graph / "edge_length.npy").astype(np.float64)
    mine = roads[roads[mode]]
    directions = mine[f"{mode}_forward"].astype(int) + mine[f"{mode}_backward"].astype(int)
    assert (directions >= 1).all()
    assert (directions * mine["length_m"]).sum() == pytest.approx(edge_length.sum(), rel=1e-6)
    assert set(mine["way_id"]) == set(np.load(graph / "edge_way.npy").tolist())
    assert len(mine) <= len(edge_length) <= 2 * len(roads)
    assert mine[f"{mode}_speed_kmh"].gt(0).all() and roads.loc[~roads[mode], f"{mode}_speed_kmh"].isna().all()
    if mode == "car":
        assert (roads["oneway"] == (roads["car_forward"] != roads["car_backward"])).all()


def test_roads_content(monaco_dir):
    roads = read(monaco_dir, "roads").to_pandas()
    assert {"primary", "residential", "footway", "steps"} <= set(roads["highway"])
    assert "Rue Grimaldi" in set(roads["name"])
    steps = roads[roads["highway"] == "steps"]
    assert steps["walk"].all() and not steps["car"].any()
    assert roads["id"].tolist() == list(range(len(roads)))
    geoms = shapely.from_wkb(roads["geom"])
    lengths = shapely.get_num_coordinates(geoms)
    assert (lengths >= 2).all() and (roads["length_m"] > 0).all()


@pytest.mark.parametrize("name", LDS_TABLES)
def test_geoparquet_metadata_and_geometries(monaco_dir, name):
    path = monaco_dir / TABLES_DIR / f"{name}.parquet"
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert geo["version"].startswith("1.") and geo["primary_column"] == "geom"
    table = pq.read_table(path)
    for column, types in {**GEOMETRY_TYPES, "roads": road_table.GEOMETRY_TYPES}[name].items():
        spec = geo["columns"][column]
        assert spec["encoding"] == "WKB" and spec["geometry_types"] == types
        assert spec["crs"]["id"] == {"authority": "EPSG", "code": 4326}
        geoms = shapely.from_wkb(table[column].to_numpy(zero_copy_only=False))
        present = geoms[~shapely.is_missing(geoms)]
        assert len(present) and shapely.is_valid(present).all()
        assert set(shapely.get_type_id(present)) <= {shapely.GeometryType[t.upper()].value for t in types}
        x, y = shapely.get_coordinates(present).T
        assert 7.40 < x.min() and x.max() < 7.45 and 43.72 < y.min() and y.max() < 43.76  # lon, lat: Monaco
    covering = geo["columns"]["geom"]["covering"]["bbox"]
    assert covering == {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}
    box = table["bbox"].combine_chunks()
    geoms = shapely.from_wkb(table["geom"].to_numpy(zero_copy_only=False))
    bounds = shapely.bounds(geoms)
    has = ~np.isnan(bounds[:, 0])
    assert np.allclose(box.field("xmin").to_numpy(zero_copy_only=False)[has], bounds[has, 0])
    assert np.allclose(box.field("ymax").to_numpy(zero_copy_only=False)[has], bounds[has, 3])
    xmin, ymin, xmax, _ = geo["columns"]["geom"]["bbox"]
    assert xmin <= bounds[has, 0].min() and bounds[has, 2].max() <= xmax and ymin <= bounds[has, 1].min()


def test_duckdb_copy_has_the_same_rows_as_geometry(monaco_dir):
    con = duckdb.connect(str(monaco_dir / TABLES_DIR / TABLES_DB), read_only=True)
    try:
        load_extensions(con)
        for name in LDS_TABLES:
            n, kind = con.execute(f"SELECT count(*), any_value(typeof(geom)) FROM {name}").fetchone()
            assert n == read(monaco_dir, name).num_rows and kind.startswith("GEOMETRY")
        assert (
            con.execute(
                "SELECT count(*) FROM addresses WHERE street = 'Allée Lazare Sauvaigo' AND housenumber = '14'"
            ).fetchone()[0]
            == 1
        )
    finally:
        con.close()


def test_addresses_know_their_osm_object(monaco_dir):
    addresses = read(monaco_dir, "addresses").to_pandas()
    assert set(addresses["osm_type"]) <= {"node", "way", "relation"}
    assert addresses["osm_id"].gt(0).all()
    assert addresses["street"].notna().mean() > 0.9 and addresses["country"].eq("MC").all()


def _roads(ways: list[list[int]], coords: dict[int, tuple[float, float]]) -> Roads:
    refs = np.array([n for w in ways for n in w], dtype=np.int64)
    lon = np.array([coords[n][0] if n in coords else np.nan for n in refs])
    lat = np.array([coords[n][1] if n in coords else np.nan for n in refs])
    offsets = np.concatenate(([0], np.cumsum([len(w) for w in ways]))).astype(np.int64)
    return Roads(
        way_ids=np.arange(1, len(ways) + 1, dtype=np.int64),
        offsets=offsets,
        refs=refs,
        lon=lon,
        lat=lat,
        tags=[{} for _ in ways],
        signals=np.zeros(0, np.int64),
        blocked={},
        restrictions=[],
        bbox=None,
    )


def test_road_pieces_cut_at_nodes_missing_locations_and_loops():
    coords = {n: (float(n), 0.0) for n in range(1, 20)}
    del coords[12]  # not in the extract: way 3 splits there
    roads = _roads([[1, 2, 3, 4], [3, 5], [10, 11, 12, 13, 14], [6, 7, 8, 6], [15, 16]], coords)
    usable = np.array([True, True, True, True, False])
    a, b = road_pieces(roads, usable, cut_refs=np.array([3, 6]))
    pieces = [roads.refs[i : j + 1].tolist() for i, j in zip(a, b)]
    assert pieces == [[1, 2, 3], [3, 4], [3, 5], [10, 11], [13, 14], [6, 7], [7, 8, 6]]


def test_if_changed_rebuilds_a_data_dir_without_tables(monaco_dir, monaco_pbf, tmp_path):
    """A data dir from before the LDS tables is not up to date: `lds build --if-changed` rebuilds it."""
    old = tmp_path / "monaco"
    shutil.copytree(monaco_dir, old)
    shutil.rmtree(old / TABLES_DIR)
    meta = json.loads((old / "meta.json").read_text())
    del meta["tables"]
    (old / "meta.json").write_text(json.dumps(meta))
    assert current_meta(old, meta["source"]["sha256"]) is None
    assert current_meta(monaco_dir, meta["source"]["sha256"]) is not None
    rebuilt = build(str(monaco_pbf), old, quiet=True, if_changed=True)
    served = current_path(old)  # the rebuild is a new version beside the old one (lds.versions)
    assert rebuilt["tables"]["rows"]["addresses"] == 183 and (served / TABLES_DIR / TABLES_DB).is_file()


def test_if_changed_rebuilds_a_data_dir_of_an_older_travel_model(monaco_dir, monaco_pbf, tmp_path):
    """Same extract, same layout, but built by an lds that computed speeds or access differently (no
    ``model_version``, or another one): still served, but `lds build --if-changed` rebuilds it."""
    from lds.formats import MODEL_VERSION

    old = tmp_path / "monaco"
    shutil.copytree(monaco_dir, old)
    meta = json.loads((old / "meta.json").read_text())
    assert meta["model_version"] == MODEL_VERSION
    digest = meta["source"]["sha256"]
    del meta["model_version"]
    (old / "meta.json").write_text(json.dumps(meta))
    assert current_meta(old, digest) is None
    rebuilt = build(str(monaco_pbf), old, quiet=True, if_changed=True, modes=("car",), skip_geocoder=True)
    assert rebuilt["model_version"] == MODEL_VERSION and current_meta(old, digest) is not None
