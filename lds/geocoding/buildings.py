"""Addressed building outlines: reverse geocoding at building level answers the address of the building a point
lies in, before the nearest address point (which may belong to the house next door).

``lds build`` keeps the outline of every building way or multipolygon that carries an address
(``buildings.wkb`` + ``buildings.offsets.npy``, ``bld_addr.npy``: the address row of each, and the grid that finds
them: ``bld_bounds.npy``, ``bld_key.npy``); an index built before them has none, and reverse then falls back to the
nearest address point as before. Servers map the files: a country's millions of outlines are not parsed into
every worker (they were: ~1 KB each, per worker, and seconds at the first reverse call).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely

from lds.geocoding.store import WkbColumn, boxes_holding, mapped, save_wkb
from lds.memo import per_object

# The outlines are found through a grid of BUILDING_CELL_DEG cells keyed by the south-west corner of each one's
# bounding box: a point's outlines are in its own cell and the three to the west and south. Outlines wider or
# taller than a cell (a few: halls, stations) have key LARGE_KEY, first in the order, and are all tested by box.
BUILDING_CELL_DEG = 0.001  # ~110 m north-south
LARGE_KEY = -1


def _cell_keys(bounds: np.ndarray) -> np.ndarray:
    """Each outline's grid key (from its (minx, miny, maxx, maxy))."""
    cells = np.floor(bounds[:, :2] / BUILDING_CELL_DEG).astype(np.int64) + 2**20
    keys = cells[:, 0] << 32 | cells[:, 1]
    large = (bounds[:, 2] - bounds[:, 0] > BUILDING_CELL_DEG) | (bounds[:, 3] - bounds[:, 1] > BUILDING_CELL_DEG)
    keys[large] = LARGE_KEY
    return keys


def save_buildings(out: Path, positions: np.ndarray, geoms: np.ndarray) -> int:
    """Write the outline ``geoms`` (shapely polygons) of the written address rows ``positions``, the invalid made
    valid, the empty and flat dropped, in grid order with their boxes (``bld_bounds``, ``bld_key``): servers map the
    files and read only the outlines near a point. Returns how many were kept."""
    geoms = np.array(geoms, dtype=object)
    positions = np.asarray(positions, dtype=np.int64)
    if len(geoms):
        invalid = ~shapely.is_valid(geoms)
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        keep = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 0)
        positions, geoms = positions[keep], geoms[keep]
    bounds = shapely.bounds(geoms).reshape(-1, 4)
    keys = _cell_keys(bounds)
    order = np.argsort(keys, kind="stable")
    save_wkb(out, "buildings", shapely.to_wkb(geoms[order]).tolist() if len(geoms) else [])
    np.save(out / "bld_addr.npy", positions[order].astype(np.int32))
    np.save(out / "bld_bounds.npy", bounds[order])
    np.save(out / "bld_key.npy", keys[order])
    return len(geoms)


class _Outlines:
    """An index's outlines, memory-mapped (shared by a server's workers, nothing parsed up front): an outline's
    geometry is read from its WKB when a point falls in its box."""

    def __init__(self, directory: Path):
        self.rows = mapped(directory, "bld_addr")
        wkb = WkbColumn(directory, "buildings")
        self.geom = wkb.__getitem__  # outline k (in the files' order), parsed
        if (directory / "bld_key.npy").is_file():
            self.bounds, self.keys, self.order = mapped(directory, "bld_bounds"), mapped(directory, "bld_key"), None
        else:  # an index written before the grid: the boxes made here, once, in this process
            bounds = wkb.bounds()
            keys = _cell_keys(bounds)
            self.order = np.argsort(keys, kind="stable")
            self.bounds, self.keys = bounds[self.order], keys[self.order]
        self.n_large = int(np.searchsorted(self.keys, LARGE_KEY, side="right"))

    def __len__(self) -> int:
        return len(self.rows)

    def _index(self, j: int) -> int:  # position in the grid order -> outline in the files' order
        return j if self.order is None else int(self.order[j])

    def containing(self, lon: float, lat: float) -> list[tuple[int, Any]]:
        """(outline in the files' order, its geometry) of the outlines whose interior holds the point."""
        cx = int(np.floor(lon / BUILDING_CELL_DEG)) + 2**20
        cy = int(np.floor(lat / BUILDING_CELL_DEG)) + 2**20
        west, here = (cx - 1) << 32, cx << 32
        starts = self.keys.searchsorted([west | (cy - 1), here | (cy - 1)], side="left").tolist()
        ends = self.keys.searchsorted([west | cy, here | cy], side="right").tolist()
        found = []
        for lo, hi in ((0, self.n_large), (starts[0], ends[0]), (starts[1], ends[1])):
            if lo == hi:
                continue
            for j in (boxes_holding(self.bounds[lo:hi], lon, lat) + lo).tolist():
                k = self._index(j)
                geom = self.geom(k)
                if shapely.contains_xy(geom, lon, lat):
                    found.append((k, geom))
        return found


@per_object
def _outlines(index: Any) -> _Outlines | None:
    """The index's building outlines, mapped on first use; None for an index built without them."""
    directory = Path(index.directory)
    return _Outlines(directory) if (directory / "bld_addr.npy").is_file() else None


def _containing(index: Any, lat: float, lon: float) -> tuple[int, Any] | None:
    """The address row and outline of the smallest addressed building containing the point, or None."""
    outlines = _outlines(index)
    if outlines is None or len(outlines) == 0:
        return None
    hits = outlines.containing(lon, lat)
    if not hits:
        return None
    k, geom = hits[0] if len(hits) == 1 else hits[int(np.argmin(shapely.area([g for _, g in hits])))]
    return int(outlines.rows[k]), geom


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
