"""Drawing an isoline: the reached road corridor as nested, simplified (Multi)Polygons.

Method (one pass for every range of a request):
1. rasterise the reached road pieces into a cost field (``_isoline_raster``, C++): each cell holds the
   least cost of a reached road point within the corridor half-width, so pieces of edges reached
   only partly end where the budget does;
2. per range r, contour the field at r (marching squares, ``_contour``): holes are the unreached
   areas between roads; those smaller than the resolution are filled;
3. simplify the rings in metres (Douglas-Peucker, ``_contour``), inwards for the shortest range and
   outwards for the others, so a shorter range always lies inside a longer one;
4. project back to lon/lat, orient rings the GeoJSON way and round coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import shapely

from lds._contour import simplify_rings, trace_rings
from lds._isoline_raster import rasterize, reach_items
from lds.geo import EARTH_RADIUS_M
from lds.graph.search import Reach, expand_ranges, search_index

COORD_DECIMALS = 6  # ~0.1 m: finer than any OSM survey, and keeps the JSON compact


@dataclass(frozen=True)
class Frame:
    """Equirectangular projection in metres around the origin (accurate to ~1 % within 100 km)."""

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


def cost_field(graph, reach: Reach, frame: Frame, cell_m: float, buffer_m: float, max_cells: int) -> CostField:
    """Rasterise every road piece of ``reach``: out-edges of settled nodes, plus the snapped edge's pieces.

    A two-way road whose both directions were entered is drawn once, from both ends.
    """
    index = search_index(graph)
    weight = index.edge_weight[reach.weight]
    starts = np.array(reach.starts, dtype=np.float64).reshape(-1, 3)
    items = reach_items(reach.nodes, reach.cost, index.indptr, index.adj_edge, index.edge_rev, weight,
                        index.edge_scratch(), starts[:, 0].astype(np.int32), starts[:, 1].copy(), starts[:, 2].copy())
    z, x0, y0, cell = rasterize(*items, weight,
                                np.asarray(graph.edge_geom_off), np.asarray(graph.geom_lon), np.asarray(graph.geom_lat),
                                frame.lon0, frame.lat0, reach.limit, float(cell_m), float(buffer_m), int(max_cells))
    return CostField(z, x0, y0, cell)


def _signed_ring_areas(points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Area of each closed ring ``points[offsets[i]:offsets[i + 1]]``, positive when counter-clockwise."""
    x, y = points[:, 0], points[:, 1]
    cross = np.empty(len(points))
    cross[:-1] = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross[-1] = 0.0
    cross[offsets[1:] - 1] = 0.0  # no term across two rings
    return 0.5 * np.add.reduceat(cross, offsets[:-1])


def contour_polygons(field: CostField, level: float, min_hole_m2: float, simplify_m: float = 0.0,
                     side: int = 0) -> np.ndarray:
    """Polygons (metres) around the cells with cost <= ``level``; holes under ``min_hole_m2`` are filled.

    Rings are simplified to ``simplify_m``: ``side`` +1 only ever adds area, -1 only removes it, 0 either.
    """
    xy, offsets, areas = trace_rings(field.z, field.x0, field.y0, field.cell, float(level))
    is_shell = areas > 0
    shells = np.flatnonzero(is_shell)
    holes = np.flatnonzero(~is_shell & (-areas >= min_hole_m2))
    if len(shells) == 0:
        return np.array([], dtype=object)
    owner = _hole_owners(xy, offsets, areas, shells, holes)
    holes, owner = holes[owner >= 0], owner[owner >= 0]
    # Rings grouped per polygon: each shell followed by its holes.
    rings = np.concatenate([shells, holes])
    order = np.lexsort((np.r_[np.zeros(len(shells)), np.ones(len(holes))], np.r_[np.arange(len(shells)), owner]))
    rings = rings[order]
    lengths = offsets[rings + 1] - offsets[rings]
    points = xy[expand_ranges(offsets[rings], lengths)]
    ring_off = np.concatenate([[0], np.cumsum(lengths)])
    if simplify_m > 0:
        points, ring_off = simplify_rings(points, ring_off, float(simplify_m), int(side))
    poly_off = np.concatenate([np.flatnonzero(is_shell[rings]), [len(rings)]])
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, points, (ring_off, poly_off))


def _hole_owners(xy: np.ndarray, offsets: np.ndarray, areas: np.ndarray, shells: np.ndarray,
                 holes: np.ndarray) -> np.ndarray:
    """Index into ``shells`` of the smallest shell around each hole (-1 when none, which cannot happen
    for rings traced from one field: holes and shells never cross)."""
    if len(shells) == 1 or len(holes) == 0:
        return np.zeros(len(holes), dtype=np.int64)
    owner = np.full(len(holes), -1, dtype=np.int64)
    hx, hy = xy[offsets[holes], 0], xy[offsets[holes], 1]
    for k in np.argsort(areas[shells], kind="stable")[::-1]:  # largest first: smaller shells overwrite
        ring = shells[k]
        shell = shapely.Polygon(xy[offsets[ring]:offsets[ring + 1]])
        owner[shapely.contains_xy(shell, hx, hy)] = k
    return owner


def nested_shapes(field: CostField, ranges: list[float], min_hole_m2: float, simplify_m: float) -> list:
    """One MultiPolygon (metres) per range, in the order given; each contains every shorter range's.

    Containment survives simplification by construction for two ranges: the shortest range is only
    simplified inwards, the others only outwards. From the third range on, each is also united with
    the one before (two outward-simplified shapes may cross). A polygon that simplification made
    invalid is used unsimplified (the unsimplified contours of one field are nested).
    """
    levels = sorted(set(ranges))
    by_level = {}
    previous = None
    for i, level in enumerate(levels):
        side = 0 if len(levels) == 1 else (-1 if i == 0 else 1)
        polygons = contour_polygons(field, level, min_hole_m2, simplify_m, side)
        bad = ~shapely.is_valid(polygons)
        if bad.any():
            polygons[bad] = contour_polygons(field, level, min_hole_m2)[bad]
        shape = shapely.multipolygons(polygons) if len(polygons) else shapely.MultiPolygon()
        if len(polygons) > 1 and not shape.is_valid:  # separate pieces simplified into each other
            shape = _as_multipolygon(shapely.union_all(polygons))
        if i >= 2:
            shape = _as_multipolygon(shapely.union(shape, previous))
        by_level[level] = previous = shape
    return [by_level[r] for r in ranges]


def _as_multipolygon(geom):
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, shapely.Polygon)]
    return shapely.MultiPolygon(parts)


def to_geojson(shape, frame: Frame) -> dict:
    """GeoJSON MultiPolygon in lon/lat: counter-clockwise shells, clockwise holes, rounded coordinates."""
    if shape.is_empty:
        return {"type": "MultiPolygon", "coordinates": []}
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
    lonlat = np.round(frame.to_lonlat(xy), COORD_DECIMALS).tolist()
    ring_bounds = ring_off.tolist()
    ring_lists = [lonlat[a:b] for a, b in pairwise(ring_bounds)]
    poly_bounds = np.concatenate([[0], np.cumsum(rings_per_polygon)]).tolist()
    return {"type": "MultiPolygon", "coordinates": [ring_lists[a:b] for a, b in pairwise(poly_bounds)]}
