"""Addressed building outlines: reverse geocoding at building level answers the address of the building a point
lies in, before the nearest address point (which may belong to the house next door).

``lds build`` keeps the outline of every building way or multipolygon that carries an address
(``buildings.wkb`` + ``buildings.offsets.npy``, and ``bld_addr.npy``: the address row of each); an index built
before them has none, and reverse then falls back to the nearest address point as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from lds.memo import per_object


def save_buildings(out: Path, outlines: Sequence[Any]) -> int:
    """Write the outline of each address row that has one (a ring of (lon, lat) or a shapely geometry); returns
    how many were kept."""
    rows, blobs = [], []
    for row, outline in enumerate(outlines):
        if outline is None:
            continue
        geom = outline if isinstance(outline, shapely.Geometry) else shapely.Polygon(outline)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        if geom.is_empty or geom.area <= 0:
            continue
        rows.append(row)
        blobs.append(shapely.to_wkb(geom))
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    if blobs:
        np.cumsum([len(b) for b in blobs], out=offsets[1:])
    (out / "buildings.wkb").write_bytes(b"".join(blobs))
    np.save(out / "buildings.offsets.npy", offsets)
    np.save(out / "bld_addr.npy", np.asarray(rows, dtype=np.int32))
    return len(rows)


class _Outlines:
    def __init__(self, directory: Path):
        blob = (directory / "buildings.wkb").read_bytes()
        off = np.load(directory / "buildings.offsets.npy").tolist()
        self.geoms = np.asarray(
            shapely.from_wkb([blob[off[k] : off[k + 1]] for k in range(len(off) - 1)]), dtype=object
        )
        self.areas = shapely.area(self.geoms) if len(self.geoms) else np.zeros(0)
        self.rows = np.load(directory / "bld_addr.npy")
        self.tree = shapely.STRtree(self.geoms)


@per_object
def _outlines(index: Any) -> _Outlines | None:
    """The index's building outlines, loaded on first use; None for an index built without them."""
    directory = Path(index.directory)
    return _Outlines(directory) if (directory / "bld_addr.npy").is_file() else None


def _containing(index: Any, lat: float, lon: float) -> tuple[int, Any] | None:
    """The address row and outline of the smallest addressed building containing the point, or None."""
    outlines = _outlines(index)
    if outlines is None or len(outlines.rows) == 0:
        return None
    hits = outlines.tree.query(shapely.Point(lon, lat), predicate="within")
    if len(hits) == 0:
        return None
    k = hits[np.argmin(outlines.areas[hits])]
    return int(outlines.rows[k]), outlines.geoms[k]


def building_address(index: Any, lat: float, lon: float) -> int | None:
    """The address row of the smallest addressed building containing the point, or None."""
    found = _containing(index, lat, lon)
    return None if found is None else found[0]


def in_building(index: Any, lat: float, lon: float, nearest: tuple[int, float] | None) -> tuple[int, float] | None:
    """Reverse's address hit: the building the point lies in (distance 0), unless the nearest address point lies
    in that building too (entrances with their own numbers are more precise); else ``nearest`` unchanged."""
    found = _containing(index, lat, lon)
    if found is None:
        return nearest
    row, outline = found
    if nearest is not None and nearest[0] != row:
        j = nearest[0]
        if outline.covers(shapely.Point(float(index.addr_lon[j]), float(index.addr_lat[j]))):
            return nearest
    return row, 0.0
