"""The LDS tables: the address index and the road network as GeoParquet (``lds build``'s last stage).

``addresses``, ``streets`` and ``places`` are read back from the address index just written (its arrays and
string pool, turned into Arrow columns without a Python object per row); ``roads`` is :mod:`lds.build.road_table`.
Each table is also copied into one DuckDB file that ``carto_dw`` attaches read-only as ``lds``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import shapely

from lds.build import road_table
from lds.build.geoparquet import (
    BBOX_TYPE,
    bbox_column,
    bounds_bbox,
    coords_bbox,
    point_wkb,
    row_slices,
    write_duckdb,
    write_geoparquet,
)
from lds.formats import FLAG_INFERRED, FLAG_INTERPOLATED, KIND_PLACE, KIND_STREET, TABLES_DB, TABLES_DIR, TABLES_FORMAT

Progress = Callable[[str, str], None]
OSM_TYPES = {ord("n"): "node", ord("w"): "way", ord("r"): "relation"}

COMMENTS = {
    "addresses": "Address points of the OSM extract (interpolated house numbers included), as the geocoder knows them",
    "streets": "Named streets (and addr:place localities) of the geocoder, with their geometry",
    "places": "Cities, towns, suburbs and administrative areas of the geocoder, with their boundary when known",
}
_S, _B, _I, _F = pa.string(), pa.bool_(), pa.int64(), pa.float64()
SEGMENTS_PER_CHUNK = 50_000  # street segments turned into GEOS lines at a time (streets table)
STREET_THREADS = 2  # threads merging them, a chunk each: the 5M-node country's streets table 21-23 -> 14-16 s
_GEO = pa.binary()
SCHEMAS = {
    "addresses": pa.schema(
        [
            ("id", _I),
            ("osm_type", _S),
            ("osm_id", _I),
            ("housenumber", _S),
            ("street", _S),
            ("postcode", _S),
            ("city", _S),
            ("suburb", _S),
            ("state", _S),
            ("country", _S),
            ("interpolated", _B),
            ("street_inferred", _B),
            ("bbox", BBOX_TYPE),
            ("geom", _GEO),
        ]
    ),
    "streets": pa.schema(
        [
            ("id", _I),
            ("name", _S),
            ("kind", _S),
            ("postcode", _S),
            ("city", _S),
            ("suburb", _S),
            ("state", _S),
            ("country", _S),
            ("addresses", _I),
            ("bbox", BBOX_TYPE),
            ("geom", _GEO),
            ("point", _GEO),
        ]
    ),
    "places": pa.schema(
        [
            ("id", _I),
            ("name", _S),
            ("type", _S),
            ("city", _S),
            ("state", _S),
            ("country", _S),
            ("postcode", _S),
            ("importance", _F),
            ("bbox", BBOX_TYPE),
            ("geom", _GEO),
            ("area", _GEO),
        ]
    ),
}
GEOMETRY_TYPES = {
    "addresses": {"geom": ["Point"]},
    "streets": {"geom": ["LineString", "MultiLineString"], "point": ["Point"]},
    "places": {"geom": ["Point"], "area": ["Polygon", "MultiPolygon"]},
}


# --- address index -> addresses, streets, places ----------------------------------------------------------
class _Index:
    """The arrays and string pool of a written address index (``lds.geocoding.store`` layout)."""

    def __init__(self, directory: Path):
        self.dir = directory
        blob = (directory / "strings.bin").read_bytes()
        off = np.load(directory / "strings.offsets.npy").astype(np.int64)
        self.pool = pa.LargeStringArray.from_buffers(len(off) - 1, pa.py_buffer(off), pa.py_buffer(blob))

    def __getitem__(self, name: str) -> np.ndarray:
        return np.load(self.dir / f"{name}.npy")

    def strings(self, ids: np.ndarray) -> pa.Array:
        """Pool entries by id (-1 -> null), as a plain string column."""
        ids = np.asarray(ids, dtype=np.int64)
        return self.pool.take(pa.array(ids, mask=ids < 0)).cast(_S)


def _addresses(ix: _Index) -> tuple[Iterator[pa.RecordBatch], list[float] | None]:
    lat, lon, ent = ix["addr_lat"], ix["addr_lon"], ix["addr_entity"]
    flags = ix["addr_flags"]
    ent_name = ix["ent_name"]
    have_osm = (ix.dir / "addr_osm_id.npy").is_file()  # indexes built before lds.addresses have no OSM ids
    osm_type = ix["addr_osm_type"] if have_osm else np.zeros(len(lat), np.uint8)
    osm_id = ix["addr_osm_id"] if have_osm else np.zeros(len(lat), np.int64)
    type_names = pa.array([OSM_TYPES.get(c) for c in range(256)], _S)
    columns = {f: ix[f"addr_{f}"] for f in ("hn", "postcode", "city", "suburb", "state", "country")}
    schema = SCHEMAS["addresses"]

    def gen() -> Iterator[pa.RecordBatch]:
        for s in row_slices(len(lat)):
            e = ent[s].astype(np.int64)
            street = np.where(e >= 0, ent_name[np.maximum(e, 0)] if len(ent_name) else -1, -1)
            yield pa.record_batch(
                [
                    pa.array(np.arange(s.start, s.stop, dtype=np.int64)),
                    type_names.take(pa.array(osm_type[s])),
                    pa.array(osm_id[s], mask=osm_type[s] == 0),
                    ix.strings(columns["hn"][s]),
                    ix.strings(street),
                    *(ix.strings(columns[f][s]) for f in ("postcode", "city", "suburb", "state", "country")),
                    pa.array(flags[s] & FLAG_INTERPOLATED > 0),
                    pa.array(flags[s] & FLAG_INFERRED > 0),
                    bbox_column(lon[s], lat[s], lon[s], lat[s]),
                    point_wkb(lon[s], lat[s]),
                ],
                schema=schema,
            )

    return gen(), coords_bbox(lon, lat)


def _streets(ix: _Index) -> tuple[Iterator[pa.RecordBatch], list[float] | None]:
    kind = ix["ent_kind"]
    ids = np.flatnonzero(kind == KIND_STREET)  # streets are the first entities: id == street group
    lat, lon, addr_off = ix["ent_lat"], ix["ent_lon"], ix["ent_addr_off"]
    ent = {f: ix[f"ent_{f}"] for f in ("name", "category", "postcode", "city", "suburb", "state", "country")}
    seg = {k: ix[f"seg_{k}"] for k in ("lat0", "lon0", "lat1", "lon1", "entity")}
    order = np.argsort(seg["entity"], kind="stable")
    seg_entity = seg["entity"][order].astype(np.int64)
    schema = SCHEMAS["streets"]

    def merged(a: int, b: int, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """WKB and bounds of the merged lines of ``count`` streets from ``first``, whose segments are a:b (of the
        order)."""
        o = order[a:b]
        xy = np.stack(
            [np.column_stack([seg["lon0"][o], seg["lat0"][o]]), np.column_stack([seg["lon1"][o], seg["lat1"][o]])],
            axis=1,
        ).reshape(-1, 2)
        parts = shapely.linestrings(xy, indices=np.repeat(np.arange(b - a), 2))
        chunk = np.full(count, None, dtype=object)
        shapely.multilinestrings(parts, indices=seg_entity[a:b] - first, out=chunk)
        del parts
        lines = shapely.line_merge(chunk)
        del chunk
        return shapely.to_wkb(lines, byte_order=1), shapely.bounds(lines)

    def lines(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """WKB (None where the index has no way for a street) and bounds of the merged lines of streets lo..hi-1,
        made a few streets at a time: a GEOS line per segment costs ~1 kB until merged, and a country's streets
        have millions. The merged lines are encoded and dropped chunk by chunk too: held for a whole batch, GEOS's
        many small objects left the heap fragmented (the 5M-node country's tables stage 1 GB more resident).
        Chunks are made on STREET_THREADS threads (GEOS runs without the GIL): the stage often ends a build
        alone, and its streets were half its time."""
        wkb = np.full(hi - lo, None, dtype=object)
        bounds = np.full((hi - lo, 4), np.nan)
        seg_bounds = np.searchsorted(seg_entity, np.arange(lo, hi + 1))  # street lo+k: segments [k]:[k+1]
        chunks, k = [], 0
        while k < hi - lo:
            m = min(hi - lo, max(k + 1, int(np.searchsorted(seg_bounds, seg_bounds[k] + SEGMENTS_PER_CHUNK,
                                                            "right")) - 1))
            if seg_bounds[m] > seg_bounds[k]:
                chunks.append((k, m))
            k = m
        with ThreadPoolExecutor(STREET_THREADS) as pool:
            done = pool.map(lambda km: merged(seg_bounds[km[0]], seg_bounds[km[1]], lo + km[0], km[1] - km[0]),
                            chunks)
            for (k, m), (w, b) in zip(chunks, done):
                wkb[k:m], bounds[k:m] = w, b
        return wkb, bounds

    def gen() -> Iterator[pa.RecordBatch]:
        for s in row_slices(len(ids)):
            e = ids[s]
            wkb, bounds = lines(int(e[0]), int(e[-1]) + 1)
            wkb, bounds = wkb[e - e[0]], bounds[e - e[0]]
            yield pa.record_batch(
                [
                    pa.array(e.astype(np.int64)),
                    *(
                        ix.strings(ent[f][e])
                        for f in ("name", "category", "postcode", "city", "suburb", "state", "country")
                    ),
                    pa.array((addr_off[e + 1] - addr_off[e]).astype(np.int64)),
                    bounds_bbox(bounds),
                    pa.array(wkb, type=pa.binary()),
                    point_wkb(lon[e], lat[e]),
                ],
                schema=schema,
            )

    all_lon = np.concatenate([lon[ids], seg["lon0"], seg["lon1"]])
    all_lat = np.concatenate([lat[ids], seg["lat0"], seg["lat1"]])
    return gen(), coords_bbox(all_lon, all_lat)


def _places(ix: _Index) -> tuple[Iterator[pa.RecordBatch], list[float] | None]:
    ids = np.flatnonzero(ix["ent_kind"] == KIND_PLACE)
    lat, lon, importance = ix["ent_lat"], ix["ent_lon"], ix["ent_importance"]
    ent = {f: ix[f"ent_{f}"] for f in ("name", "category", "city", "state", "country", "postcode")}
    # each place's largest locality polygon, if any
    area_entity, area_size = ix["area_entity"], ix["area_size"]
    by_size = np.argsort(-area_size, kind="stable")
    by_size = by_size[area_entity[by_size] >= 0]
    owners, first = np.unique(area_entity[by_size], return_index=True)
    area_of = np.full(len(lat), -1, dtype=np.int64)
    area_of[owners] = by_size[first]
    blob = (ix.dir / "areas.wkb").read_bytes()
    off = np.load(ix.dir / "areas.offsets.npy").astype(np.int64)
    area_wkb = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(off) - 1, [None, pa.py_buffer(off), pa.py_buffer(blob)]
    )
    schema = SCHEMAS["places"]

    def gen() -> Iterator[pa.RecordBatch]:
        for s in row_slices(len(ids)):
            e = ids[s]
            a = area_of[e]
            areas = area_wkb.take(pa.array(a, mask=a < 0)).cast(_GEO)
            yield pa.record_batch(
                [
                    pa.array(e.astype(np.int64)),
                    *(ix.strings(ent[f][e]) for f in ("name", "category", "city", "state", "country", "postcode")),
                    pa.array(importance[e].astype(np.float64)),
                    bbox_column(lon[e], lat[e], lon[e], lat[e]),
                    point_wkb(lon[e], lat[e]),
                    areas,
                ],
                schema=schema,
            )

    return gen(), coords_bbox(lon[ids], lat[ids])


# --- the stage ----------------------------------------------------------------------------------------------
def write_tables(
    out: Path,
    road_rows: Callable[[], tuple[Iterator[pa.RecordBatch], list[float] | None]],
    index_dir: Path | None,
    progress: Progress,
    duckdb_memory_mb: int = 1024,
) -> dict:
    """Write ``out/tables/<name>.parquet`` for each table (the address tables only with an index; the roads' rows
    from ``road_rows()``, see :func:`lds.build.road_table.road_batches`) and their DuckDB copy; returns
    ``{"format", "rows": {name: count}, "seconds"}`` for meta.json. The tables are made one at a time, each one's
    arrays (the roads themselves for the last) dropped before the next is read: a country's stage held them all
    through its end."""
    t0 = time.perf_counter()
    folder = Path(out) / TABLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    makers: dict[str, Callable[[], tuple]] = {}
    if index_dir is not None:
        ix = _Index(Path(index_dir))
        makers = {"addresses": lambda: _addresses(ix), "streets": lambda: _streets(ix), "places": lambda: _places(ix)}
    makers["roads"] = road_rows
    schemas = {**SCHEMAS, "roads": road_table.SCHEMA}
    types = {**GEOMETRY_TYPES, "roads": road_table.GEOMETRY_TYPES}
    rows, files = {}, {}
    for name, make in makers.items():
        batches, bbox = make()
        files[name] = folder / f"{name}.parquet"
        rows[name] = write_geoparquet(files[name], schemas[name], batches, types[name], bbox)
        del batches
    write_duckdb(folder / TABLES_DB, files, {**COMMENTS, "roads": road_table.COMMENT}, duckdb_memory_mb)
    info = {"format": TABLES_FORMAT, "rows": rows, "seconds": round(time.perf_counter() - t0, 2)}
    (folder / "tables.json").write_text(json.dumps(info, indent=1))
    progress("tables", f"GeoParquet {', '.join(f'{k} {v}' for k, v in rows.items())} rows in {info['seconds']} s")
    return info
