"""Drawing an isoline: the reached road corridor as nested, simplified (Multi)Polygons.

Method (one raster for every range of a request; no per-edge Python loop):
1. rasterise the reached road pieces into a cost field (``_isoline_raster``, C++): each cell holds the
   least cost of a reached road point within the corridor half-width, so pieces of edges reached
   only partly end where the budget does;
2. contour the field at every range in one scan (marching squares, ``_contour``): holes are the
   unreached areas between roads; those smaller than the resolution are filled;
3. simplify the rings in metres (Douglas-Peucker, ``_contour``), inwards for the shortest range and
   outwards for the others, so a shorter range always lies inside a longer one (a third range on is
   also united with the one before);
4. project back to lon/lat (rings are already counter-clockwise shells, clockwise holes), round to
   ``COORD_DECIMALS`` in one numpy operation and check the rounded rings' validity (``_polygon_check``, C++,
   conservative next to GEOS). A polygon found invalid (simplification or rounding made rings touch) is
   drawn unsimplified instead, and should rounding still break it, GEOS snaps it to the grid. The GeoJSON
   holds one (n, 2) numpy array per ring (:class:`Ring`), which :mod:`lds.fastjson` writes without a Python
   object per point.

Up to two ranges, no shapely object is made in the usual case (:func:`nested_geojson`). The raster and contour
loops borrow per-thread scratch buffers (:class:`Workspace`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import shapely

from lds import fastjson
from lds._contour import simplify_rings, trace_levels, trace_rings  # noqa: F401 - trace_rings re-exported
from lds._coords_json import pairs_json
from lds._isoline_raster import rasterize, reach_items
from lds._polygon_check import polygon_problems
from lds.geo import EARTH_RADIUS_M
from lds.graph.search import Reach, expand_ranges, search_index

# 1e-5 degrees: 1.1 m north-south, 0.8 m east-west at 45 degrees. The rings are drawn on a raster of 10 m or
# coarser cells and simplified to isoline_simplify_m (10 m), so a sixth decimal would only add bytes (~10 %).
COORD_DECIMALS = 5


class Workspace(threading.local):
    """Scratch arrays that every isoline drawn on one thread reuses (the raster field, the contour's bands and
    marks): fresh megabyte arrays per request cost more in page faults (the kernel hands out zeroed pages)
    than the drawing itself. Grow-only: each thread keeps the largest it needed (about 2 MB at the default
    isoline_max_cells of 250,000)."""

    def buffer(self, name: str, dtype, n: int, fill: float | None = None) -> np.ndarray:
        """``n`` items of the thread's buffer ``name``; a buffer made anew is filled with ``fill`` when given
        (a caller that needs a fill value restores it after each use)."""
        buf = self.__dict__.get(name)
        if buf is None or len(buf) < n or buf.dtype != dtype:
            buf = np.empty(max(n + n // 4, 1024), dtype=dtype)  # headroom: field sizes vary per request
            if fill is not None:
                buf.fill(fill)
            setattr(self, name, buf)
        return buf[:n]


WORKSPACE = Workspace()


class Ring(np.ndarray):
    """An isoline ring: (n, 2) float64 lon/lat rounded to ``COORD_DECIMALS``, written by :mod:`lds.fastjson`
    through :meth:`json_fragment` (C, about 2.5 times faster than orjson's numpy path, the same bytes)."""

    def json_fragment(self) -> bytes:
        if self.ndim == 2 and self.shape[1] == 2 and self.dtype == np.float64:
            return pairs_json(np.ascontiguousarray(self), COORD_DECIMALS)
        return fastjson.dumps(self.tolist())  # a row or another view of one


@dataclass(frozen=True)
class Frame:
    """Equirectangular projection in metres around the origin (distances within ~1 % up to 50 km away)."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return np.radians(1.0) * EARTH_RADIUS_M * np.cos(np.radians(self.lat0))

    @property
    def ky(self) -> float:
        return np.radians(1.0) * EARTH_RADIUS_M

    def to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        return np.column_stack([self.lon0 + xy[:, 0] / self.kx, self.lat0 + xy[:, 1] / self.ky])


@dataclass(frozen=True)
class CostField:
    """Least cost per raster cell (+inf off the corridor); cell (i, j) is centred on
    (x0 + j * cell, y0 + i * cell) metres."""

    z: np.ndarray
    x0: float
    y0: float
    cell: float
    row_lo: np.ndarray | None = None  # per row, the first and last column that may be finite
    row_hi: np.ndarray | None = None

    def extents(self) -> tuple[np.ndarray, np.ndarray]:
        if self.row_lo is None:
            ny, nx = self.z.shape
            return np.zeros(ny, dtype=np.int32), np.full(ny, nx - 1, dtype=np.int32)
        return self.row_lo, self.row_hi


def cost_field(graph, reach: Reach, frame: Frame, cell_m: float, buffer_m: float, max_cells: int,
               workspace: Workspace | None = None) -> CostField:
    """Rasterise every road piece of ``reach``: out-edges of settled nodes, plus the snapped edge's pieces.

    A two-way road whose both directions were entered is drawn once, from both ends. With a ``workspace``
    the field lives in its buffer, valid until the thread draws its next isoline.
    """
    index = search_index(graph)
    weight = index.edge_weight[reach.weight]
    starts = np.array(reach.starts, dtype=np.float64).reshape(-1, 3)
    items = reach_items(reach.nodes, reach.cost, index.indptr, index.adj_edge, index.edge_rev, weight,
                        index.edge_scratch(), starts[:, 0].astype(np.int32), starts[:, 1].copy(), starts[:, 2].copy())
    geometry = np.asarray(graph.edge_geom_off), np.asarray(graph.geom_lon), np.asarray(graph.geom_lat)
    z, x0, y0, cell, row_lo, row_hi = rasterize(*items, weight, *geometry, frame.lon0, frame.lat0, reach.limit,
                                                float(cell_m), float(buffer_m), int(max_cells), workspace)
    return CostField(z, x0, y0, cell, row_lo, row_hi)


def _signed_ring_areas(points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Area of each closed ring ``points[offsets[i]:offsets[i + 1]]``, positive when counter-clockwise."""
    x, y = points[:, 0], points[:, 1]
    cross = np.empty(len(points))
    cross[:-1] = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross[-1] = 0.0
    cross[offsets[1:] - 1] = 0.0  # no term across two rings
    return 0.5 * np.add.reduceat(cross, offsets[:-1])


@dataclass(frozen=True)
class Rings:
    """Polygons as flat arrays in metres: ring k is ``points[ring_off[k]:ring_off[k + 1]]`` (closed), polygon p
    owns rings ``poly_off[p]:poly_off[p + 1]``, its shell (counter-clockwise) first, then its holes (clockwise)."""

    points: np.ndarray
    ring_off: np.ndarray
    poly_off: np.ndarray

    @classmethod
    def from_traced(cls, xy: np.ndarray, offsets: np.ndarray, areas: np.ndarray, min_hole_m2: float,
                    simplify_m: float = 0.0, side: int = 0) -> Rings:
        """Group traced rings into polygons, dropping holes under ``min_hole_m2``, and simplify them to
        ``simplify_m`` (see :meth:`simplified`) straight from the traced arrays."""
        is_shell = areas > 0
        shells = np.flatnonzero(is_shell)
        if len(shells) == 0:
            return cls(np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))
        holes = np.flatnonzero(~is_shell & (-areas >= min_hole_m2))
        if len(shells) == 1:  # the usual case: one connected corridor
            rings = np.concatenate([shells, holes])
            poly_off = np.array([0, len(rings)], dtype=np.int64)
        else:
            owner = _hole_owners(xy, offsets, areas, shells, holes)
            holes, owner = holes[owner >= 0], owner[owner >= 0]
            rings = np.concatenate([shells, holes])
            order = np.lexsort((np.r_[np.zeros(len(shells)), np.ones(len(holes))],
                                np.r_[np.arange(len(shells)), owner]))
            rings = rings[order]
            poly_off = np.concatenate([np.flatnonzero(is_shell[rings]), [len(rings)]])
        if simplify_m > 0:
            points, ring_off = simplify_rings(xy, offsets, float(simplify_m), int(side), rings)
            return cls(points, ring_off, poly_off)
        lengths = offsets[rings + 1] - offsets[rings]
        points = xy[expand_ranges(offsets[rings], lengths)]
        ring_off = np.concatenate([[0], np.cumsum(lengths)])
        return cls(points, ring_off, poly_off)

    @property
    def empty(self) -> bool:
        return len(self.poly_off) <= 1

    def simplified(self, tolerance: float, side: int) -> Rings:
        """Douglas-Peucker per ring: ``side`` +1 only ever adds area, -1 only removes it, 0 either."""
        if tolerance <= 0 or self.empty:
            return self
        points, ring_off = simplify_rings(self.points, self.ring_off, float(tolerance), int(side))
        return Rings(points, ring_off, self.poly_off)

    def polygons(self) -> np.ndarray:
        if self.empty:
            return np.array([], dtype=object)
        return shapely.from_ragged_array(shapely.GeometryType.POLYGON, self.points, (self.ring_off, self.poly_off))


def contour_polygons(field: CostField, level: float, min_hole_m2: float, simplify_m: float = 0.0,
                     side: int = 0) -> np.ndarray:
    """Polygons (metres) around the cells with cost <= ``level``; holes under ``min_hole_m2`` are filled.

    Rings are simplified to ``simplify_m``: ``side`` +1 only ever adds area, -1 only removes it, 0 either.
    """
    traced = trace_levels(field.z, field.x0, field.y0, field.cell, np.array([level], dtype=np.float64),
                          *field.extents())[0]
    return Rings.from_traced(*traced, min_hole_m2, simplify_m, side).polygons()


def _hole_owners(xy: np.ndarray, offsets: np.ndarray, areas: np.ndarray, shells: np.ndarray,
                 holes: np.ndarray) -> np.ndarray:
    """Index into ``shells`` of the smallest shell around each hole (-1 when none, which cannot happen
    for rings traced from one field: holes and shells never cross)."""
    if len(holes) == 0:
        return np.zeros(0, dtype=np.int64)
    owner = np.full(len(holes), -1, dtype=np.int64)
    hx, hy = xy[offsets[holes], 0], xy[offsets[holes], 1]
    for k in np.argsort(areas[shells], kind="stable")[::-1]:  # largest first: smaller shells overwrite
        ring = shells[k]
        shell = shapely.Polygon(xy[offsets[ring]:offsets[ring + 1]])
        owner[shapely.contains_xy(shell, hx, hy)] = k
    return owner


def nested_shapes(field: CostField, ranges: list[float], min_hole_m2: float, simplify_m: float,
                  workspace: Workspace | None = None) -> list:
    """One shape (metres; :class:`Rings` or a MultiPolygon) per range, in the order given; each contains every
    shorter range's.

    Containment survives simplification by construction for two ranges: the shortest range is only
    simplified inwards, the others only outwards. From the third range on, each is also united with
    the one before (two outward-simplified shapes may cross). A polygon that simplification made
    invalid is used unsimplified (the unsimplified contours of one field are nested).
    """
    levels = sorted(set(ranges))
    traced = trace_levels(field.z, field.x0, field.y0, field.cell, np.asarray(levels, dtype=np.float64),
                          *field.extents(), workspace)
    by_level = {}
    previous = None
    for i, level in enumerate(levels):
        shape = _valid_level(Rings.from_traced(*traced[i], min_hole_m2, simplify_m, _side(i, levels)), traced[i],
                             min_hole_m2)
        if i >= 2:
            shape = as_multipolygon(shapely.union(as_multipolygon(shape), as_multipolygon(previous)))
        by_level[level] = previous = shape
    return [by_level[r] for r in ranges]


def nested_geojson(field: CostField, ranges: list[float], min_hole_m2: float, simplify_m: float, frame: Frame,
                   workspace: Workspace | None = None) -> list[dict]:
    """:func:`nested_shapes` as GeoJSON (:func:`to_geojson`), one per range in the order given.

    For one or two ranges (no union needed) the simplified rings are rounded and checked once, in lon/lat:
    the usual answer makes no shapely object at all. Rings found invalid take the way through
    :func:`nested_shapes` (unsimplified polygons, unions, GEOS's snapping).
    """
    levels = sorted(set(ranges))
    if len(levels) > 2:
        return [to_geojson(shape, frame) for shape in nested_shapes(field, ranges, min_hole_m2, simplify_m, workspace)]
    traced = trace_levels(field.z, field.x0, field.y0, field.cell, np.asarray(levels, dtype=np.float64),
                          *field.extents(), workspace)
    by_level = {}
    for i, level in enumerate(levels):
        rings = Rings.from_traced(*traced[i], min_hole_m2, simplify_m, _side(i, levels))
        if rings.empty:
            by_level[level] = _geojson(np.zeros((0, 2)), rings.ring_off, rings.poly_off)
            continue
        lonlat = np.round(frame.to_lonlat(rings.points), COORD_DECIMALS)
        bad, overlap = polygon_problems(lonlat, rings.ring_off, rings.poly_off)
        if bad.any() or overlap:  # rare
            by_level[level] = to_geojson(_valid_level(rings, traced[i], min_hole_m2), frame)
        else:
            by_level[level] = _geojson(lonlat, rings.ring_off, rings.poly_off)
    return [by_level[r] for r in ranges]


def _side(i: int, levels: list[float]) -> int:
    """Simplification side of the i-th level: inwards for the shortest of several, outwards for the others."""
    return 0 if len(levels) == 1 else (-1 if i == 0 else 1)


def _valid_level(shape: Rings, traced: tuple, min_hole_m2: float):
    """``shape`` (simplified from ``traced``), or a valid MultiPolygon when it is not valid: each invalid
    polygon unsimplified (the traced contours are valid), pieces simplified into each other united."""
    bad, overlap = polygon_problems(shape.points, shape.ring_off, shape.poly_off)
    if bad.any():  # rare: GEOS judges the whole once the bad polygons are unsimplified
        polygons = shape.polygons()
        polygons[bad] = Rings.from_traced(*traced, min_hole_m2).polygons()[bad]
        shape = shapely.multipolygons(polygons)
        overlap = len(polygons) > 1 and not shape.is_valid
    if overlap:  # separate pieces simplified into each other
        shape = as_multipolygon(shapely.union_all(shapely.get_parts(as_multipolygon(shape))))
    return shape


def as_multipolygon(shape) -> shapely.MultiPolygon:
    """A shapely MultiPolygon of :class:`Rings` or of any polygonal geometry (other parts dropped)."""
    if isinstance(shape, Rings):
        return shapely.multipolygons(shape.polygons()) if not shape.empty else shapely.MultiPolygon()
    if isinstance(shape, shapely.MultiPolygon):
        return shape
    if isinstance(shape, shapely.Polygon):
        return shapely.MultiPolygon([shape])
    return shapely.MultiPolygon([g for g in shapely.get_parts(shape) if isinstance(g, shapely.Polygon)])


def _oriented_rings(shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat ``(xy, ring_off, poly_off)`` of a polygonal shapely geometry: counter-clockwise shells, clockwise holes."""
    polygons = shapely.get_parts(shape)
    rings = shapely.get_rings(polygons)  # each polygon's shell, then its holes
    ring_len = shapely.get_num_coordinates(rings)
    rings_per_polygon = shapely.get_num_interior_rings(polygons) + 1
    xy = shapely.get_coordinates(rings)
    ring_off = np.concatenate([[0], np.cumsum(ring_len)])
    # Orientation by the sign of each ring's area (shoelace); reverse the rings the wrong way round.
    shell = np.zeros(len(rings), dtype=bool)
    shell[np.concatenate([[0], np.cumsum(rings_per_polygon)[:-1]])] = True
    flip = (_signed_ring_areas(xy, ring_off) > 0) != shell
    if flip.any():
        ring_of = np.repeat(np.arange(len(rings)), ring_len)
        pos = np.arange(len(xy))
        mirrored = ring_off[ring_of] + ring_off[ring_of + 1] - 1 - pos
        xy = xy[np.where(flip[ring_of], mirrored, pos)]
    poly_off = np.concatenate([[0], np.cumsum(rings_per_polygon)])
    return xy, ring_off, poly_off


def _snapped_to_grid(lonlat: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray) -> tuple:
    """Polygons (lon/lat, unrounded) snapped to the ``COORD_DECIMALS`` grid by GEOS, which keeps them valid where
    rounding each point alone made rings touch or cross; as flat oriented arrays."""
    polygons = shapely.from_ragged_array(shapely.GeometryType.POLYGON, lonlat, (ring_off, poly_off))
    whole = shapely.make_valid(shapely.multipolygons(polygons))
    snapped = as_multipolygon(shapely.set_precision(whole, 10.0 ** -COORD_DECIMALS))
    if snapped.is_empty:
        return np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    xy, ring_off, poly_off = _oriented_rings(snapped)
    return np.round(xy, COORD_DECIMALS), ring_off, poly_off  # grid multiples as the nearest decimals


def to_geojson(shape, frame: Frame) -> dict:
    """GeoJSON MultiPolygon in lon/lat: counter-clockwise shells, clockwise holes, coordinates rounded to
    ``COORD_DECIMALS``; each ring an (n, 2) float64 numpy array (a view of one array for the whole shape)."""
    if isinstance(shape, Rings):  # traced with the inside on the left: already oriented
        xy, ring_off, poly_off = shape.points, shape.ring_off, shape.poly_off
    elif shape.is_empty:
        xy, ring_off, poly_off = np.zeros((0, 2)), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    else:
        xy, ring_off, poly_off = _oriented_rings(shape)
    exact = frame.to_lonlat(xy)
    lonlat = np.round(exact, COORD_DECIMALS)
    bad, overlap = polygon_problems(lonlat, ring_off, poly_off)
    if bad.any() or overlap:  # rounding may have put rings onto each other: GEOS judges, snaps if so (rare)
        rounded = shapely.from_ragged_array(shapely.GeometryType.POLYGON, lonlat, (ring_off, poly_off))
        if not shapely.multipolygons(rounded).is_valid:
            lonlat, ring_off, poly_off = _snapped_to_grid(exact, ring_off, poly_off)
    return _geojson(lonlat, ring_off, poly_off)


def _geojson(lonlat: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray) -> dict:
    """The MultiPolygon of flat rings: each ring a :class:`Ring` view of ``lonlat``."""
    lonlat = lonlat.view(Ring)
    rings = [lonlat[a:b] for a, b in pairwise(ring_off.tolist())]
    return {"type": "MultiPolygon", "coordinates": [rings[a:b] for a, b in pairwise(poly_off.tolist())]}
