"""Drawing an isoline: the catchment area a trip reaches, as nested, simplified (Multi)Polygons.

The isoline of range r is the area whose nearest road (within the off-road distance, ``isoline_offroad_m``) is
reached within r: the blocks between reached streets are inside, a place nearer an unreached road belongs to
that road and stays out, and wide empty areas (water, parks without paths, estates) farther than the off-road
distance from any road are holes. That is what an isoline is used for: counting the buildings, people or shops
a trip reaches. Method (no per-edge or per-cell Python loop):

1. per range, a cell size that depends on that range alone (:func:`level_cells`: the finest cell whose grid
   holds the range's reach in ``isoline_max_cells``); ranges on the same cell share one field;
2. the field (``_isoline_raster.catchment_field``, C++): every road around is sampled at fixed places along
   it (the reached ones with their cost, the others as claims), and a two-scan chamfer transform gives each
   cell the cost of its nearest road within the off-road distance (a reached road cut off from the network
   serves the cells no road of it has that near). A car isoline also covers the places no road has that near
   that a footway walked from a reached road serves (park and walk, :mod:`lds.isoline_walk`). A road cut off from
   the network (driveways the data leaves unjoined to it) serves the places near it that no network road is near
   from the network road a router snaps it to (``isoline_cutoff_m``, :func:`cutoff_points`). Grids are anchored
   at the origin and the samples do not depend on the search's limit, so a range's cells are the same whatever
   else is asked;
3. contour each range's cells half-way between cell centres (marching squares, ``_contour``, one scan for
   every range of a field); holes smaller than ``isoline_resolution_m`` squared are filled;
4. simplify the rings outwards (Douglas-Peucker, ``_contour``) to ``isoline_simplify_m`` or the cell size,
   project to lon/lat, round to ``COORD_DECIMALS`` and check validity (``_polygon_check``, C++; a polygon
   simplification made invalid is drawn unsimplified, one rounding broke is snapped by GEOS);
5. nest: a range holds the shorter ones' traced areas (one field, so one grid); what their outward
   simplification added (pockets between each chord and the points it replaced) is added to it along those
   chords (``_contour.cover_pockets``, no polygon union). A shorter range drawn on a finer cell is united with it
   (GEOS) where it sticks out. A longer range in the request never changes a range.

The GeoJSON holds one (n, 2) numpy array per ring (:class:`Ring`), which :mod:`lds.fastjson` writes without a
Python object per point. The raster and contour loops borrow per-thread scratch buffers (:class:`Workspace`).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import shapely

from lds import fastjson
from lds._contour import cover_pockets, simplify_rings, trace_levels, trace_rings  # noqa: F401 - trace_rings re-exported
from lds._coords_json import pairs_json
from lds._isoline_raster import catchment_field, level_extents, reach_items, reached_extent, reached_extents
from lds._polygon_check import polygon_problems
from lds.geo import EARTH_RADIUS_M, haversine_m
from lds.graph.scratch import zero_array
from lds.graph.search import EdgeBoxes, Reach, expand_ranges, search_index
from lds.isoline_walk import foot_field_args, walked
from lds.memo import per_object

# 1e-5 degrees: 1.1 m north-south, 0.8 m east-west at 45 degrees. The rings are drawn on a raster of 10 m or
# coarser cells and simplified to isoline_simplify_m (10 m), so a sixth decimal would only add bytes (~10 %).
COORD_DECIMALS = 5


class Workspace(threading.local):
    """Scratch arrays that every isoline drawn on one thread reuses (the raster field, the contour's bands and
    marks): fresh megabyte arrays per request cost more in page faults (the kernel hands out zeroed pages)
    than the drawing itself. Grow-only: each thread keeps the largest it needed (14 bytes a cell: about 2 MB at
    the default isoline_max_cells of 60,000)."""

    def buffer(self, name: str, dtype, n: int, fill: float | None = None) -> np.ndarray:
        """``n`` items of the thread's buffer ``name``; a buffer made anew is filled with ``fill`` when given
        (a caller that needs a fill value restores it after each use)."""
        buf = self.__dict__.get(name)
        if buf is None or len(buf) < n or buf.dtype != dtype:
            size = max(n + n // 4, 1024)  # headroom: field sizes vary per request
            if fill == 0:  # zeros mapped only where written (a byte per edge of a country: pages no use touched)
                buf = zero_array(size, dtype)[0]
            else:
                buf = np.empty(size, dtype=dtype)
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
    chains: tuple | None = None  # what the simplification started from (simplify_rings's chains), when asked

    @classmethod
    def from_traced(cls, xy: np.ndarray, offsets: np.ndarray, areas: np.ndarray, min_hole_m2: float,
                    simplify_m: float = 0.0, side: int = 0, chains: bool = False) -> Rings:
        """Group traced rings into polygons, dropping holes under ``min_hole_m2``, and simplify them to
        ``simplify_m`` (see :meth:`simplified`) straight from the traced arrays; with ``chains``, keep what a
        longer range needs to cover this one's simplification (:func:`lds._contour.cover_pockets`)."""
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
            if chains:
                points, ring_off, kept = simplify_rings(xy, offsets, float(simplify_m), int(side), rings, True)
                return cls(points, ring_off, poly_off, kept)
            points, ring_off = simplify_rings(xy, offsets, float(simplify_m), int(side), rings)
            return cls(points, ring_off, poly_off)
        lengths = offsets[rings + 1] - offsets[rings]
        points = xy[expand_ranges(offsets[rings], lengths)]
        ring_off = np.concatenate([[0], np.cumsum(lengths)])
        return cls(points, ring_off, poly_off, () if chains else None)  # (): nothing added to the traced area

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
    return _rounded_geojson(frame.to_lonlat(xy), ring_off, poly_off)


def _rounded_geojson(exact: np.ndarray, ring_off: np.ndarray, poly_off: np.ndarray) -> dict:
    """:func:`_geojson` of oriented lon/lat rings rounded to ``COORD_DECIMALS``, kept valid."""
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


def level_cells(graph, reach: Reach, frame: Frame, levels: list[float], base_cell: float, offroad_m: float,
                max_cells: int, walk_m: float = 0.0) -> list[float]:
    """Cell size of each (ascending) level: ``base_cell`` doubled until the level's reached nodes, padded for the
    off-road reach (and the park-and-walk distance ``walk_m``), fit in ``max_cells`` cells. A function of the level
    alone (the nodes settled within it)."""
    extents = level_extents(np.ascontiguousarray(reach.nodes, dtype=np.int32),
                            np.ascontiguousarray(reach.cost, dtype=np.float64), np.asarray(graph.node_lon),
                            np.asarray(graph.node_lat), frame.lon0, frame.lat0, frame.kx, frame.ky,
                            np.asarray(levels, dtype=np.float64))
    cells = []
    for w, h in extents:
        cell = base_cell
        pad = (4 * offroad_m + 2 * walk_m) / cell + 8
        while (w / cell + pad) * (h / cell + pad) > max_cells:
            cell *= 2.0
            pad = (4 * offroad_m + 2 * walk_m) / cell + 8
        cells.append(cell)
    return cells


def catchment_fields(graph, reach: Reach, frame: Frame, levels: list[float], base_cell: float, offroad_m: float,
                     max_cells: int, workspace: Workspace | None = None, park: tuple | None = None,
                     cutoff_m: float = 0.0):
    """``(field, levels)`` per cell size: the catchment cost field (:func:`catchment_field`) of the ascending
    ``levels`` that share that cell. A field lives in ``workspace`` until the thread draws the next one. ``park``:
    ``(FootNetwork, walk_m)`` when the places walked to from a parked car count too (:mod:`lds.isoline_walk`).
    ``cutoff_m``: how far a road cut off from the network may be from the network road it snaps to
    (:func:`cutoff_points`; 0: such roads serve nothing unless reached)."""
    index = search_index(graph)
    weight = index.edge_weight[reach.weight]
    starts = np.array(reach.starts, dtype=np.float64).reshape(-1, 3)
    with index.costs.lend() as scratch:
        items = reach_items(reach.nodes, reach.cost, index.indptr, index.adj_edge, index.adj_dst, index.edge_rev,
                            weight, scratch, starts[:, 0].astype(np.int32), starts[:, 1].copy(), starts[:, 2].copy())
    geometry = np.asarray(graph.edge_geom_off), np.asarray(graph.geom_lon), np.asarray(graph.geom_lat)
    walk_m = park[1] if park is not None else 0.0
    cells = level_cells(graph, reach, frame, levels, base_cell, offroad_m, max_cells, walk_m)
    records = walked(park[0], graph, reach, weight, levels[-1], walk_m) if park is not None else None
    cut = extent = None  # the extent of the largest level at its cell (of the roads drawn), reused for its grid
    if cutoff_m > 0 and offroad_m > 0:
        # The reached roads cut off from the network serve through the points of cutoff_points alone (each at the
        # cost of the network road it snaps to, else at its own). One pass: every reached road's extent (where the
        # cut-off roads are looked for) and the drawn ones'.
        joined = snapping_edges(graph)[items[0]]
        whole, extent = reached_extents(*items, weight, *geometry, frame.lon0, frame.lat0, levels[-1], cells[-1],
                                        joined)
        cut = cutoff_points(graph, reach, weight, frame, whole, offroad_m, cutoff_m, cells[-1])
        if not joined.all():
            items = tuple(np.ascontiguousarray(column[joined.view(bool)]) for column in items)
    for cell in sorted(set(cells)):
        group = [lv for lv, c in zip(levels, cells, strict=True) if c == cell]
        limit = group[-1]
        while True:  # the grid: the reached roads, padded for the off-road reach of the roads near them
            if extent is not None and limit == levels[-1] and cell == cells[-1]:
                xmin, ymin, xmax, ymax = extent
            else:
                xmin, ymin, xmax, ymax = reached_extent(*items, weight, *geometry, frame.lon0, frame.lat0, limit, cell)
            if cut is not None and (cut[2] <= limit).any():  # and the cut-off roads' points served within limit
                served = cut[2] <= limit
                xmin, xmax = min(xmin, float(cut[0][served].min())), max(xmax, float(cut[0][served].max()))
                ymin, ymax = min(ymin, float(cut[1][served].min())), max(ymax, float(cut[1][served].max()))
            pad = 2 * int(offroad_m // cell) + int(walk_m // cell) + 3
            jx0, jy0 = int(np.floor(xmin / cell)) - pad, int(np.floor(ymin / cell)) - pad
            nx, ny = int(np.ceil(xmax / cell)) + pad - jx0 + 1, int(np.ceil(ymax / cell)) + pad - jy0 + 1
            if nx * ny <= 4 * max_cells:
                break
            cell *= 2.0  # a long road reached part-way far beyond the nodes (rare): bound the work anyway
        x0, y0 = jx0 * cell, jy0 * cell
        bbox = (frame.lon0 + x0 / frame.kx, frame.lat0 + y0 / frame.ky, frame.lon0 + (x0 + nx * cell) / frame.kx,
                frame.lat0 + (y0 + ny * cell) / frame.ky)
        claims = _claims(graph, items[0], bbox, workspace)
        with park[0].heads() if park is not None else contextlib.nullcontext() as heads:
            foot = foot_field_args(park[0], records, limit, bbox, heads) if park is not None else None
            z, row_lo, row_hi = catchment_field(*items, weight, *geometry, index.edge_rev, snapping_edges(graph),
                                                claims, frame.lon0, frame.lat0, limit, cell, offroad_m, jx0, jy0, nx,
                                                ny, workspace, foot, cut)
        yield CostField(z, x0, y0, cell, row_lo, row_hi), group


@per_object
def cutoff_boxes(graph) -> EdgeBoxes:
    """The roads cut off from the network (no router snaps to them; one edge of a two-way road), with their bounds;
    mapped from the data dir when the build derived them (lds.graph.derived)."""
    from lds.graph.derived import derived

    stored = derived(graph, "cutoff")
    if stored is not None:
        return EdgeBoxes(stored["edges"], stored["bounds"])
    rev = np.asarray(graph.edge_rev)
    ids = np.arange(len(rev))
    return EdgeBoxes.of(graph, ids[~snapping_edges(graph).view(bool) & ((rev < 0) | (ids < rev))])


_COLUMNS = (np.float64, np.float64, np.int64, np.float64, np.int64, np.float64)


class _SnappedPoints:
    """The points of roads cut off from the network and where each snaps (:func:`_snapped_points`), for one
    ``(spacing, radius)``: flat columns, the points of road ``ids[k]`` at rows ``span[k, 0]:span[k, 1]`` (-1: not yet
    found), grown under ``lock`` on first use of a road. ``ids``: the cut-off roads, ascending (a span per road of
    the graph would be 16 bytes for each of a country's millions of edges)."""

    def __init__(self, ids: np.ndarray) -> None:
        self.lock = threading.Lock()
        self.ids = np.sort(np.asarray(ids, dtype=np.int64))
        self.span = np.full((len(self.ids), 2), -1, dtype=np.int64)
        self.columns = tuple(np.zeros(0, dtype=dtype) for dtype in _COLUMNS)

    def rows_of(self, edges: np.ndarray) -> np.ndarray:
        """The row in ``ids``/``span`` of each of ``edges`` (which must be among ``ids``)."""
        return np.searchsorted(self.ids, edges)


@per_object
def _cutoff_snaps(graph) -> dict:
    """Per ``(spacing, radius)``, a :class:`_SnappedPoints` of the roads cut off from the network (one edge of a
    two-way road), found road by road on first use (they depend on the graph alone)."""
    return {}


def along_edges(graph, edges: np.ndarray, spacing: float) -> tuple[np.ndarray, ...]:
    """Points along ``edges``' geometries, every segment cut into pieces of at most ``spacing`` metres (both ends
    kept): lon, lat, the point's edge and its fraction of the edge's length from the edge's start."""
    off = np.asarray(graph.edge_geom_off)
    glon, glat = np.asarray(graph.geom_lon, dtype=np.float64), np.asarray(graph.geom_lat, dtype=np.float64)
    nseg = (off[edges + 1] - off[edges] - 1).astype(np.int64)
    seg_a = expand_ranges(off[edges], nseg)
    seg_edge = np.repeat(np.arange(len(edges)), nseg)
    seg_len = haversine_m(glon[seg_a], glat[seg_a], glon[seg_a + 1], glat[seg_a + 1])
    cum = np.cumsum(seg_len)
    first_seg = np.cumsum(nseg) - nseg  # each edge's first segment in the concatenation
    before = cum - seg_len - np.repeat((cum - seg_len)[np.minimum(first_seg, max(len(cum) - 1, 0))], nseg)
    edge_len = np.bincount(seg_edge, weights=seg_len, minlength=len(edges))
    pieces = np.maximum(1, np.ceil(seg_len / spacing)).astype(np.int64)
    seg = np.repeat(np.arange(len(seg_a)), pieces + 1)
    t = expand_ranges(np.zeros(len(seg_a), dtype=np.int64), pieces + 1) / pieces[seg]
    a = seg_a[seg]
    lon = glon[a] + t * (glon[a + 1] - glon[a])
    lat = glat[a] + t * (glat[a + 1] - glat[a])
    length = edge_len[seg_edge[seg]]
    frac = np.divide(before[seg] + t * seg_len[seg], length, out=np.zeros(len(seg)), where=length > 0)
    return lon, lat, edges[seg_edge[seg]], np.clip(frac, 0.0, 1.0)


def _snapped_points(graph, edges: np.ndarray, spacing: float, radius: float) -> tuple[np.ndarray, ...]:
    """Points every ``spacing`` metres along the cut-off ``edges``: lon, lat, the point's edge and fraction along it,
    and the network edge it snaps to within ``radius`` (-1: none) with the fraction along that."""
    stores = _cutoff_snaps(graph)
    store = stores.get((float(spacing), float(radius)))
    if store is None:
        store = stores.setdefault((float(spacing), float(radius)), _SnappedPoints(cutoff_boxes(graph).edges))
    pos = store.rows_of(edges)
    todo_pos = np.unique(pos[store.span[pos, 0] < 0])
    if len(todo_pos):
        todo = store.ids[todo_pos]
        lon, lat, edge, frac = along_edges(graph, todo, spacing)
        # Where a router snaps each point (Snapper.snap's search over its grid, one call for them all), kept when
        # that is the network (the snapper prefers it).
        net_edge, net_frac = graph.snapper.snap_many_to_network(lon, lat, radius)
        lo, hi = np.searchsorted(edge, todo, side="left"), np.searchsorted(edge, todo, side="right")
        with store.lock:
            base = len(store.columns[0])
            store.columns = tuple(np.concatenate([old, new]) for old, new in zip(
                store.columns, (lon, lat, edge, frac, net_edge, net_frac), strict=True))
            store.span[todo_pos] = np.column_stack([base + lo, base + hi])
    with store.lock:  # the columns and spans of one moment
        columns = store.columns
        spans = store.span[pos]
    rows = expand_ranges(spans[:, 0], spans[:, 1] - spans[:, 0])
    return tuple(column[rows] for column in columns)


def cutoff_points(graph, reach: Reach, weight: np.ndarray, frame: Frame, extent: tuple[float, float, float, float],
                  offroad_m: float, radius: float, margin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The ``cut`` argument of :func:`catchment_field`: points along the roads cut off from the network (driveways,
    an estate's lanes or a parking lot the data does not join to it, a one-way street out of the extract) within
    ``radius`` (and ``margin``: the extent's sampling) of ``extent`` (metres: the reached roads), every half
    ``offroad_m``, each with the cost of the network road a router snaps it to within ``radius`` (the snapper
    prefers the network, :class:`lds.graph.snap.Snapper`), else its own road's where reached, as x, y (metres in
    ``frame``) and cost, the points served at all; None when there are none. The costs come from the search's
    settled nodes, so a point served within a range is the same whatever larger range the search ran to; its snap
    depends on the graph alone and is cached with it."""
    xmin, ymin, xmax, ymax = extent
    if xmin >= xmax and ymin >= ymax:
        return None
    grow = radius + margin
    bbox = (frame.lon0 + (xmin - grow) / frame.kx, frame.lat0 + (ymin - grow) / frame.ky,
            frame.lon0 + (xmax + grow) / frame.kx, frame.lat0 + (ymax + grow) / frame.ky)
    edges = cutoff_boxes(graph).in_box(bbox).astype(np.int64)
    if len(edges) == 0:
        return None
    lon, lat, edge, frac, net_edge, net_frac = _snapped_points(graph, edges, 0.5 * offroad_m, radius)
    snapped = net_edge >= 0  # else the road's own cost (one reached part way out of the extract, say)
    cost = _cost_on_edges(graph, reach, weight, np.where(snapped, net_edge, edge), np.where(snapped, net_frac, frac))
    ok = np.isfinite(cost)
    if not ok.any():
        return None
    x = np.ascontiguousarray((lon[ok] - frame.lon0) * frame.kx)
    y = np.ascontiguousarray((lat[ok] - frame.lat0) * frame.ky)
    return x, y, np.ascontiguousarray(cost[ok])


def _cost_on_edges(graph, reach: Reach, weight: np.ndarray, edge: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """The search's cost at ``frac`` along each ``edge``: from its start or, for a two-way road, from its end, or
    along an edge the search started on; +inf where not reached."""
    src, rev = np.asarray(graph.edge_src), np.asarray(graph.edge_rev)
    w = np.asarray(weight, dtype=np.float64)
    twin = rev[edge]
    has = twin >= 0
    at = search_index(graph).node_costs(reach.nodes, reach.cost, np.concatenate([src[edge], src[twin[has]]]))
    cost = at[:len(edge)] + frac * w[edge]
    cost[has] = np.minimum(cost[has], at[len(edge):] + (1.0 - frac[has]) * w[twin[has]])
    for e, f0, c0 in reach.starts:  # the partial edges the search started on, onwards
        on = (edge == e) & (frac >= f0)
        cost[on] = np.minimum(cost[on], c0 + (frac[on] - f0) * w[e])
        on = (twin == e) & (1.0 - frac >= f0)
        cost[on] = np.minimum(cost[on], c0 + (1.0 - frac[on] - f0) * w[e])
    return cost


def _claims(graph, item_edge: np.ndarray, bbox: tuple[float, float, float, float],
            workspace: Workspace | None = None) -> np.ndarray:
    """The roads in ``bbox`` (edge ids, the lower one of a two-way road, ascending) that claim the places nearest
    them: the roads a router snaps to (:func:`snapping_edges`), except the reached ones (``item_edge``), which the
    field draws itself."""
    rev = np.asarray(graph.edge_rev)
    # A byte per edge marks the drawn roads: the thread's (zero between uses) rather than a fresh one per drawing,
    # whose pages the kernel zeroes anew (megabytes for a country).
    mark = np.zeros(len(rev), dtype=np.uint8) if workspace is None else workspace.buffer("drawn", np.uint8, len(rev), 0)
    return claim_boxes(graph).in_box(bbox, np.ascontiguousarray(item_edge, dtype=np.int32), rev, mark)


@per_object
def claim_boxes(graph) -> EdgeBoxes:
    """The roads that may claim places (:func:`snapping_edges`, the lower edge of a two-way road), with their
    bounds; mapped from the data dir when the build derived them (lds.graph.derived)."""
    from lds.graph.derived import derived

    stored = derived(graph, "claims")
    if stored is not None:
        return EdgeBoxes(stored["edges"], stored["bounds"])
    rev = np.asarray(graph.edge_rev)
    ids = np.arange(len(rev))
    return EdgeBoxes.of(graph, ids[snapping_edges(graph).view(bool) & ((rev < 0) | (ids < rev))])


@per_object
def snapping_edges(graph) -> np.ndarray:
    """Per edge (uint8), whether a router snaps places to its road: the road is in the largest strongly connected
    component (as :class:`lds.graph.snap.Snapper` prefers). Unreached, a parking lot, an estate or a one-way spur
    cut off from the network claims nothing: the places by it are routed to from a joined road. A reached one (a
    one-way street leading out of the extract, say) is drawn as the trip reaches it. Mapped from the data dir when
    the build derived it (lds.graph.derived)."""
    from lds.graph.derived import derived

    stored = derived(graph, "snapping")
    if stored is not None and len(stored["edges"]) == len(graph.edge_rev):
        return stored["edges"]
    rev = np.asarray(graph.edge_rev)
    in_largest = graph.snapper.in_largest
    return (in_largest | ((rev >= 0) & in_largest[np.maximum(rev, 0)])).astype(np.uint8)


def catchment_geojson(graph, reach: Reach, frame: Frame, ranges: list[float], base_cell: float, offroad_m: float,
                      max_cells: int, min_hole_m2: float, simplify_m: float,
                      workspace: Workspace | None = None, park: tuple | None = None,
                      cutoff_m: float = 0.0) -> list[dict]:
    """One GeoJSON MultiPolygon per range (in the order given), each the catchment area of that range, simplified
    outwards, valid, and containing every shorter range's. ``park``, ``cutoff_m``: see :func:`catchment_fields`."""
    levels = sorted(set(ranges))
    shapes: dict[float, Rings | shapely.MultiPolygon] = {}
    cell_of: dict[float, float] = {}
    for field, group in catchment_fields(graph, reach, frame, levels, base_cell, offroad_m, max_cells, workspace,
                                         park, cutoff_m):
        traced = trace_levels(field.z, field.x0, field.y0, field.cell, np.asarray(group, dtype=np.float64),
                              *field.extents(), workspace, True)
        for k, (level, rings) in enumerate(zip(group, traced, strict=True)):
            # A coarser cell draws coarser steps: simplified at least to the cell size (as few points as the
            # drawing's detail needs; still a function of the level alone).
            tolerance = max(simplify_m, field.cell) if simplify_m > 0 else 0.0
            shape = Rings.from_traced(*rings, min_hole_m2, tolerance, 1, k < len(group) - 1)  # chains: see _covering
            shapes[level] = _valid_level(shape, rings, min_hole_m2)
            cell_of[level] = field.cell
    by_level, previous = {}, None
    for k, level in enumerate(levels):
        shape = _covering(shapes[level], [shapes[lv] for lv in levels[:k]], [cell_of[lv] for lv in levels[:k + 1]])
        geojson = to_geojson(shapes[level] if shape is None else shape, frame)
        if previous is not None and shape is None:  # nested the general way, on the rounded coordinates
            geojson = _nested(geojson, previous)
        by_level[level] = previous = geojson
    return [by_level[r] for r in ranges]


def _covering(shape, shorter: list, cells: list[float]) -> Rings | None:
    """``shape`` (a level simplified outwards) grown to hold the ``shorter`` levels' simplified shapes: each
    shorter level's outward simplification sticks out of its own traced area by pockets between its chords and
    the points they replaced, and ``shape``, which holds that traced area (the same grid: ``cells``, this level's
    last, all equal), is grown by those pockets (:func:`lds._contour.cover_pockets`), so the ranges nest without
    a polygon union; ``shape`` itself when there are none. None when that does not apply (a shorter level on
    another cell or drawn the general way) or the result is not valid: then :func:`_nested` unites them."""
    if not shorter:
        return shape
    if not isinstance(shape, Rings) or len(set(cells)) > 1 or shape.empty:
        return None
    if any(not isinstance(s, Rings) or (s.chains is None and not s.empty) for s in shorter):
        return None
    points, ring_off, poly_off = shape.points, shape.ring_off, shape.poly_off
    for inner in reversed(shorter):
        if inner.empty or inner.chains == ():  # drawn as traced: inside this level's traced area already
            continue
        grown = cover_pockets(points, ring_off, poly_off, inner.chains)
        if grown is None:
            return None
        if grown:
            points, ring_off, poly_off = grown
    if points is shape.points:
        return shape
    bad, overlap = polygon_problems(points, ring_off, poly_off)
    if bad.any() or overlap:
        return None
    return Rings(points, ring_off, poly_off)


def _as_shapely(geojson: dict) -> shapely.MultiPolygon:
    """The shapely MultiPolygon of one of our GeoJSON MultiPolygons (rings as numpy arrays)."""
    polygons = [shapely.Polygon(rings[0], rings[1:]) for rings in geojson["coordinates"]]
    return shapely.MultiPolygon(polygons) if polygons else shapely.MultiPolygon()


def _nested(outer: dict, inner: dict) -> dict:
    """``outer`` (rounded GeoJSON) united with ``inner`` where ``inner`` sticks out of it (by its outward
    simplification, or drawn on a finer cell); ``outer`` itself when nothing wider than the rounding does."""
    inner_shape = _as_shapely(inner)
    whole = _as_shapely(outer)
    shapely.prepare(whole)
    corners = np.concatenate([ring for rings in inner["coordinates"] for ring in rings] or [np.zeros((0, 2))])
    if shapely.intersects_xy(whole, corners[:, 0], corners[:, 1]).all():  # the usual case is a corner out: unite
        stray = shapely.difference(inner_shape, whole)  # every corner in: an edge may still cut across a bay
        if stray.is_empty or shapely.buffer(stray, -0.5 * 10.0**-COORD_DECIMALS).is_empty:
            return outer
    return _rounded_geojson(*_oriented_rings(as_multipolygon(shapely.union(whole, inner_shape))))
