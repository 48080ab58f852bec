"""One pass over an OSM extract for the road network: highway ways with node locations,
traffic signals, barrier (and node access) tags, and turn restrictions.

Bounding-box cuts reference nodes that are not in the file; their locations come back invalid and
are kept as NaN so the graph builder can split ways there instead of joining distant nodes.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium

from lds.build.profiles import BARRIER_NODE_KEYS, NODE_BLOCKED

# Tags the profiles and the graph builder read; everything else is dropped at read time.
ROAD_KEYS = frozenset({
    "highway", "name", "ref", "junction", "oneway", "oneway:bicycle", "oneway:foot", "oneway:motorcar",
    "oneway:motor_vehicle", "oneway:vehicle", "maxspeed", "maxspeed:forward", "maxspeed:backward", "access",
    "vehicle", "motor_vehicle", "motorcar", "foot", "bicycle", "service", "area", "impassable", "cycleway",
    "toll", "bridge", "tunnel", "lanes",
    # OSRM car.lua way handlers: speed caps, size limits, routability penalties, blocked ways, per-direction tags.
    "maxspeed:advisory", "source:maxspeed", "maxspeed:type", "surface", "tracktype", "smoothness", "width",
    "est_width", "maxwidth", "maxwidth:physical", "maxheight", "maxheight:physical", "maxlength", "maxweight",
    "side_road", "construction", "proposed", "status",
    *(f"{key}:{side}" for key in ("access", "vehicle", "motor_vehicle", "motorcar", "maxspeed:advisory", "maxwidth",
                                  "maxheight", "maxweight") for side in ("forward", "backward")),
})
SIGNAL_VALUES = {"traffic_signals"}
_NODE_TRIGGER_KEYS = ("barrier", "access", "vehicle", "motor_vehicle", "motorcar")  # a node is kept when it has one


@dataclass
class Roads:
    """Highway ways as flat arrays: way ``i`` spans ``refs[offsets[i]:offsets[i+1]]``."""

    way_ids: np.ndarray
    offsets: np.ndarray
    refs: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    tags: list[dict[str, str]]
    signals: np.ndarray  # sorted node ids with highway=traffic_signals
    blocked: dict[str, np.ndarray]  # per mode: sorted ids of nodes it may not pass (profiles.NODE_BLOCKED)
    restrictions: list[tuple[int, int, int, str]]  # (from_way, via_node, to_way, "no_*"/"only_*")
    bbox: list[float] | None
    stats: dict = field(default_factory=dict)


def _restriction(rel) -> tuple[int, int, int, str] | None:
    tags = rel.tags
    value = tags.get("restriction") or tags.get("restriction:motorcar") or tags.get("restriction:motor_vehicle")
    if not value or not value.startswith(("no_", "only_")):
        return None
    if "motorcar" in tags.get("except", ""):
        return None
    frm = via = to = None
    for m in rel.members:
        if m.role == "from" and m.type == "w":
            frm = m.ref
        elif m.role == "to" and m.type == "w":
            to = m.ref
        elif m.role == "via":
            if m.type != "n":
                return None  # via-way restrictions are not supported
            via = m.ref
    if frm is None or via is None or to is None:
        return None
    return (frm, via, to, value)


def read_roads(path: str | Path, progress=None) -> Roads:
    """Read highway ways (with locations), signal nodes and restriction relations from ``path``."""
    processor = (
        osmium.FileProcessor(str(path))
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway", "restriction", "restriction:motorcar", "restriction:motor_vehicle",
                                             *_NODE_TRIGGER_KEYS))
    )
    # Typed arrays, not lists: a country has tens of millions of way node refs, and a list would keep a Python
    # int/float object (32 bytes) per value besides its 8-byte pointer.
    way_ids = array("q")
    lengths = array("q")
    refs = array("q")
    lons = array("d")
    lats = array("d")
    tags: list[dict[str, str]] = []
    signals: list[int] = []
    blocked: dict[str, list[int]] = {mode: [] for mode in NODE_BLOCKED}  # judged while reading: only ids are kept
    restrictions = []
    missing = 0
    nan = float("nan")
    for obj in processor:
        if obj.is_way():
            if "highway" not in obj.tags:
                continue
            nodes = obj.nodes
            way_ids.append(obj.id)
            lengths.append(len(nodes))
            tags.append({t.k: t.v for t in obj.tags if t.k in ROAD_KEYS})
            for n in nodes:
                refs.append(n.ref)
                loc = n.location
                if loc.valid():
                    lons.append(loc.lon)
                    lats.append(loc.lat)
                else:
                    lons.append(nan)
                    lats.append(nan)
                    missing += 1
        elif obj.is_node():
            ntags = obj.tags
            if ntags.get("highway") in SIGNAL_VALUES or ntags.get("crossing") in SIGNAL_VALUES:
                signals.append(obj.id)
            if any(k in ntags for k in _NODE_TRIGGER_KEYS):
                kept = {t.k: t.v for t in ntags if t.k in BARRIER_NODE_KEYS}
                for mode, judge in NODE_BLOCKED.items():
                    if judge(kept):
                        blocked[mode].append(obj.id)
        elif obj.is_relation():
            r = _restriction(obj)
            if r is not None:
                restrictions.append(r)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(lengths, dtype=np.int64), out=offsets[1:])
    lon = np.frombuffer(lons, dtype=np.float64) if len(lons) else np.zeros(0)
    lat = np.frombuffer(lats, dtype=np.float64) if len(lats) else np.zeros(0)
    bbox = None
    if np.isfinite(lon).any():
        bbox = [float(np.nanmin(lon)), float(np.nanmin(lat)), float(np.nanmax(lon)), float(np.nanmax(lat))]
    roads = Roads(
        way_ids=np.frombuffer(way_ids, dtype=np.int64) if len(way_ids) else np.zeros(0, np.int64), offsets=offsets,
        refs=np.frombuffer(refs, dtype=np.int64) if len(refs) else np.zeros(0, np.int64),
        lon=lon, lat=lat, tags=tags, signals=np.unique(np.asarray(signals, dtype=np.int64)),
        blocked={mode: np.unique(np.asarray(ids, dtype=np.int64)) for mode, ids in blocked.items()},
        restrictions=restrictions, bbox=bbox,
        stats={"highway_ways": len(way_ids), "way_node_refs": len(refs), "missing_node_refs": missing,
               "traffic_signals": len(signals), "turn_restrictions": len(restrictions),
               **{f"{mode}_blocked_nodes": len(ids) for mode, ids in blocked.items()}},
    )
    if progress:
        progress("osm", f"{len(way_ids)} highway ways, {len(refs)} node refs ({missing} missing), "
                        f"{len(signals)} signals, {len(restrictions)} turn restrictions, "
                        + ", ".join(f"{len(ids)} nodes closed to {mode}" for mode, ids in roads.blocked.items()))
    return roads


_ROAD_ARRAYS = ("way_ids", "offsets", "refs", "lon", "lat", "signals")


def save_roads(roads: Roads, folder: str | Path) -> None:
    """Write ``roads`` to ``folder`` (one .npy per array, the tags and the rest as JSON): the osm stage's output,
    which a resumed build reads back instead of the extract and later stages memory-map instead of keeping."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in _ROAD_ARRAYS:
        np.save(folder / f"{name}.npy", getattr(roads, name))
    for mode, ids in roads.blocked.items():
        np.save(folder / f"blocked.{mode}.npy", ids)
    with open(folder / "tags.json", "w") as f:
        json.dump(roads.tags, f, ensure_ascii=False, separators=(",", ":"))
    (folder / "roads.json").write_text(json.dumps({
        "restrictions": roads.restrictions, "bbox": roads.bbox, "stats": roads.stats, "blocked": list(roads.blocked),
    }))


def load_roads(folder: str | Path) -> Roads:
    """The :class:`Roads` :func:`save_roads` wrote, its arrays memory-mapped (read-only)."""
    folder = Path(folder)
    rest = json.loads((folder / "roads.json").read_text())
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ROAD_ARRAYS}
    with open(folder / "tags.json") as f:
        tags = json.load(f)
    return Roads(**arrays, tags=tags,
                 blocked={mode: np.load(folder / f"blocked.{mode}.npy") for mode in rest["blocked"]},
                 restrictions=[tuple(r) for r in rest["restrictions"]], bbox=rest["bbox"], stats=rest["stats"])
