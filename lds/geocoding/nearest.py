"""Nearest points on the sphere from flat arrays: what reverse geocoding asked of scipy's cKDTree, as files.

A cKDTree is built per process (after gunicorn forks, each worker built its own: +415 MB and 4 s at 5M nodes). A
``PointGrid`` is written once by the geocoder build and memory-mapped at load, so every process shares its pages:
the points' ECEF coordinates (the same ``lds.geo.ecef`` metres the trees held: chord distances, no antimeridian or
pole seams) sorted by the key of their cubic cell, the sorted distinct cell keys and each cell's first point. A
query (``_nearest.grid_query``, C++) scans the cells of the cube around the query point (one key range per x/y
column), doubling its radius from one cell until it holds ``k`` points or reaches the bound, then keeps the ``k``
nearest.

Answers are the cKDTree's (``query(q, k, distance_upper_bound)``): the same points and the same chord distances
(computed as it does, ``sqrt(dx*dx + dy*dy + dz*dz)``, kept when the squared distance is below the bound's
square), nearest first. Equal distances are ordered by point index here; cKDTree orders them by its tree layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from lds.geo import EARTH_RADIUS_M, ecef
from lds.geocoding._nearest import grid_query

AXIS_BITS = 21  # cells per axis < 2**21: a cell key (ix, iy, iz) packs into one int64
MIN_CELL_M = 2.0 * EARTH_RADIUS_M / (2**AXIS_BITS - 2)  # ~6.1 m: the smallest cell the key can hold
GRID_PARTS = ("cell", "key", "off", "xyz", "idx")  # <name>_grid_<part>.npy
BUILD_CHUNK = 1_000_000  # points converted at once when a grid is built (keys and order of all are in memory)

XyzOf = Callable[[np.ndarray], np.ndarray]  # point indices -> their (n, 3) ECEF coordinates


def _axis(v, cell: float):
    """Cell index along one axis (of an array or a float)."""
    return np.floor((v + EARTH_RADIUS_M) / cell).astype(np.int64)


def _keys(xyz: np.ndarray, cell: float) -> np.ndarray:
    ix, iy, iz = (_axis(xyz[:, a], cell) for a in range(3))
    return (ix << (2 * AXIS_BITS)) | (iy << AXIS_BITS) | iz


class PointGrid:
    """Points on the sphere bucketed in cubic ECEF cells, for k-nearest queries within a distance bound."""

    def __init__(self, cell: float, key: np.ndarray, off: np.ndarray, xyz: np.ndarray, idx: np.ndarray):
        self.cell = float(cell)
        self.key, self.off, self.xyz, self.idx = key, off, xyz, idx

    def __len__(self) -> int:
        return len(self.idx)

    @classmethod
    def build(cls, n: int, xyz_of: XyzOf, cell: float, out: Path | None = None, name: str = "") -> PointGrid:
        """The grid of ``n`` points whose coordinates ``xyz_of(indices)`` gives (element by element the values
        ``ecef`` gives on the whole arrays), in memory, or written to ``out`` as ``<name>_grid_*.npy`` and mapped."""
        cell = max(float(cell), MIN_CELL_M)
        keys = np.empty(n, dtype=np.int64)
        for s in range(0, n, BUILD_CHUNK):
            keys[s : s + BUILD_CHUNK] = _keys(xyz_of(np.arange(s, min(n, s + BUILD_CHUNK))), cell)
        order = np.argsort(keys, kind="stable")  # within a cell, points stay in index order
        keys = keys[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if n else np.zeros(0, dtype=np.int64)
        cell_key = keys[starts]
        del keys
        off = np.r_[starts, n].astype(np.int64)
        if n >= 2**31:
            raise ValueError(f"{n} points: a grid holds fewer than 2**31")
        idx = order.astype(np.int32)
        if out is None:
            xyz = np.concatenate([xyz_of(order[s : s + BUILD_CHUNK]) for s in range(0, n, BUILD_CHUNK)]) if n else np.zeros((0, 3))
            return cls(cell, cell_key, off, xyz, idx)
        parts = {"cell": np.array([cell]), "key": cell_key, "off": off, "idx": idx}
        for part, arr in parts.items():
            np.save(out / f"{name}_grid_{part}.npy", arr)
        with open(out / f"{name}_grid_xyz.npy", "wb") as f:  # written a chunk at a time: a country's never all in memory
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n, 3)})
            for s in range(0, n, BUILD_CHUNK):
                f.write(np.ascontiguousarray(xyz_of(order[s : s + BUILD_CHUNK]), dtype="<f8").tobytes())
        del order
        return cls.load(out, name)

    @classmethod
    def exists(cls, directory: Path, name: str) -> bool:
        return all((Path(directory) / f"{name}_grid_{part}.npy").is_file() for part in GRID_PARTS)

    @classmethod
    def load(cls, directory: Path, name: str) -> PointGrid:
        """The grid written by :meth:`build`, memory-mapped read-only (pages shared by every process)."""
        arr = {p: np.asarray(np.load(Path(directory) / f"{name}_grid_{p}.npy", mmap_mode="r")) for p in GRID_PARTS}
        return cls(float(arr["cell"][0]), arr["key"], arr["off"], arr["xyz"], arr["idx"])

    def query(self, q: np.ndarray, k: int, distance_upper_bound: float) -> tuple[np.ndarray, np.ndarray]:
        """(chord distances, point indices) of the ``k`` points nearest ``q`` (ECEF metres) closer than
        ``distance_upper_bound``, nearest first, equal distances in index order; fewer when fewer are in range.

        Stopping at radius ``r`` once ``k`` points lie within it is exact: every point outside is farther than all
        of them."""
        ub = float(distance_upper_bound)
        if not ub > 0:  # also NaN
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        qx, qy, qz = (float(v) for v in q)
        return grid_query(self.key, self.off, self.xyz, self.idx, self.cell, EARTH_RADIUS_M, AXIS_BITS,
                          qx, qy, qz, int(k), ub)


def lonlat_xyz(lon: np.ndarray, lat: np.ndarray) -> XyzOf:
    """Coordinates of points given by longitude and latitude arrays."""
    return lambda i: ecef(np.asarray(lon[i]), np.asarray(lat[i]))


def midpoint_xyz(lon0: np.ndarray, lat0: np.ndarray, lon1: np.ndarray, lat1: np.ndarray) -> XyzOf:
    """Coordinates of the chord midpoints of segments (what the street segments' KD-tree held)."""
    return lambda i: (ecef(np.asarray(lon0[i]), np.asarray(lat0[i])) + ecef(np.asarray(lon1[i]), np.asarray(lat1[i]))) / 2.0
