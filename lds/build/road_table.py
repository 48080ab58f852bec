"""The ``roads`` table: the road network the graphs were built from, one row per piece of way between graph nodes.

Ways are cut at every node that is a graph node in any mode, so each row is one piece of one OSM way as an edge
is, and a mode's edges are its rows in the directions it may travel: summing ``length_m`` over a mode's rows and
directions gives that mode's graph length. Access and speed per mode are what its profile judged while the graph
was built (``ModeGraph.usages``), kept per way by :func:`way_access`. Everything is vectorised over the vertex
arrays of :class:`~lds.build.osm.Roads`; only the three tag columns are read per way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pyarrow as pa
import shapely

from lds.build.geoparquet import BBOX_TYPE, coords_bbox, geometry_bbox, geometry_wkb, row_slices
from lds.build.osm import Roads
from lds.build.profiles import Usage
from lds.build.roads import _ranges, cumulative_length, usage_columns

MODES = ("car", "walk", "bike")
COMMENT = "The road network: one row per piece of OSM way between graph nodes, per-mode access and speed"
_S, _B, _I, _F, _GEO = pa.string(), pa.bool_(), pa.int64(), pa.float64(), pa.binary()
SCHEMA = pa.schema(
    [
        ("id", _I),
        ("way_id", _I),
        ("name", _S),
        ("ref", _S),
        ("highway", _S),
        *((f"{m}{d}", _B) for m in MODES for d in ("", "_forward", "_backward")),
        ("oneway", _B),
        *((f"{m}_speed_kmh", _F) for m in MODES),
        ("length_m", _F),
        ("bbox", BBOX_TYPE),
        ("geom", _GEO),
    ]
)
GEOMETRY_TYPES = {"geom": ["LineString"]}


def way_access(n_ways: int, usages: Mapping[int, Usage]) -> dict[str, np.ndarray]:
    """Per way (index into ``Roads``): may travel forward / backward, speed each way (km/h, NaN if not)."""
    return usage_columns(n_ways, usages, ("forward", "backward", "speed_fwd", "speed_bwd"))


def road_pieces(roads: Roads, usable: np.ndarray, cut_refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ranges [a, b] (indices into ``roads.refs``) of the pieces of usable ways between cut nodes:
    located runs of each way cut at ``cut_refs``; a piece that closes on itself is split at its middle vertex
    (as ``build_mode_graph`` does)."""
    way_of = np.repeat(np.arange(len(roads.way_ids)), np.diff(roads.offsets))
    keep = usable[way_of] & np.isfinite(roads.lon)
    same_way = way_of[1:] == way_of[:-1]
    prev_kept = np.concatenate(([False], keep[:-1] & same_way))
    next_kept = np.concatenate((keep[1:] & same_way, [False]))
    start, end = keep & ~prev_kept, keep & ~next_kept
    run = np.cumsum(start) - 1
    cut = np.flatnonzero(keep & (start | end | np.isin(roads.refs, cut_refs)))
    a, b = cut[:-1], cut[1:]
    inside = run[a] == run[b]
    a, b = a[inside], b[inside]
    closed = roads.refs[a] == roads.refs[b]
    split = closed & (b - a >= 2)
    mid = (a + b) // 2
    a = np.concatenate([a[~closed], a[split], mid[split]])
    b = np.concatenate([b[~closed], mid[split], b[split]])
    order = np.argsort(a, kind="stable")
    return a[order], b[order]


def road_batches(
    roads: Roads, access: Mapping[str, Mapping[str, np.ndarray]], cut_refs: np.ndarray
) -> tuple[Iterator[pa.RecordBatch], list[float] | None]:
    """The rows in record batches of :data:`SCHEMA`, and the bounding box of all of them."""
    n_ways = len(roads.way_ids)
    usable = np.zeros(n_ways, bool)
    for acc in access.values():
        usable |= acc["forward"] | acc["backward"]
    a, b = road_pieces(roads, usable, cut_refs)
    w = np.searchsorted(roads.offsets, a, side="right") - 1  # way of each piece
    cum = cumulative_length(roads)
    length = cum[b] - cum[a]
    tag = {k: pa.array([t.get(k) for t in roads.tags], _S) for k in ("name", "ref", "highway")}
    verts = _ranges(a, b - a + 1) if len(a) else np.zeros(0, np.int64)

    def mode_columns(ws: np.ndarray) -> list[pa.Array]:
        cols, speeds = [], []
        for m in MODES:
            acc = access.get(m)
            if acc is None:  # mode not built
                cols += [pa.nulls(len(ws), _B)] * 3
                speeds.append(pa.nulls(len(ws), _F))
                continue
            fwd, bwd = acc["forward"][ws], acc["backward"][ws]
            cols += [pa.array(fwd | bwd), pa.array(fwd), pa.array(bwd)]
            speed = np.where(fwd, acc["speed_fwd"][ws], acc["speed_bwd"][ws])
            speeds.append(pa.array(speed, mask=~(fwd | bwd)))
        car = access.get("car")
        oneway = pa.array(car["forward"][ws] != car["backward"][ws]) if car is not None else pa.nulls(len(ws), _B)
        return [*cols, oneway, *speeds]

    def gen() -> Iterator[pa.RecordBatch]:
        vstart = np.concatenate(([0], np.cumsum(b - a + 1)))
        for s in row_slices(len(a)):
            v = verts[vstart[s.start] : vstart[s.stop]]
            geoms = shapely.linestrings(
                np.column_stack([roads.lon[v], roads.lat[v]]),
                indices=np.repeat(np.arange(s.stop - s.start), (b - a + 1)[s]),
            )
            ws = w[s]
            idx = pa.array(ws)
            yield pa.record_batch(
                [
                    pa.array(np.arange(s.start, s.stop, dtype=np.int64)),
                    pa.array(roads.way_ids[ws]),
                    *(tag[k].take(idx) for k in ("name", "ref", "highway")),
                    *mode_columns(ws),
                    pa.array(length[s]),
                    geometry_bbox(geoms),
                    geometry_wkb(geoms),
                ],
                schema=SCHEMA,
            )

    return gen(), coords_bbox(roads.lon[verts], roads.lat[verts])
