"""H3 and quadbin cell ids as 64-bit integers: parents, descendant ranges, tiles, bounds, polygon coverings.

Both indexes put the resolution in bits 52.. and then one digit per level, coarse to fine, with the digits
below the cell's own resolution set to all ones (H3: 3-bit digits, 15 levels, unused digits 7; quadbin:
2-bit digits, 26 levels, unused bits 1). So a cell's parent at resolution ``a`` is bit arithmetic, and the
descendants of a cell at one finer resolution are one contiguous integer range: the warehouse aggregates
cells and picks a tile's cells with ``&``, ``|`` and ``BETWEEN`` on a BIGINT, in DuckDB and PostgreSQL
alike, without an h3 extension (the `h3` package is used here, in Python, only for tile ids, bounds and
polygon coverings, never per row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from lds.errors import BadRequest

RES_SHIFT = 52
QUADBIN_HEADER = 0x4000000000000000 | (1 << 59)  # quadbin's header bit and mode 1 (a cell)
CONTAIN_MODES = ("intersects", "contains", "center")  # spatialFiltersMode of @carto/api-client


@dataclass(frozen=True)
class Scheme:
    """One spatial index's bit layout."""

    name: str  # "h3" | "quadbin"
    digit_bits: int
    levels: int  # the finest resolution
    res_mask: int

    def low(self, res: int) -> int:
        """The bits below resolution ``res``'s last digit (all ones in a cell of that resolution)."""
        return (1 << (self.digit_bits * (self.levels - res))) - 1

    def resolution(self, cell: int) -> int:
        return (cell >> RES_SHIFT) & self.res_mask

    def parent_masks(self, res: int) -> tuple[int, int]:
        """``(keep, add)``: a cell's parent at ``res`` is ``(cell & keep) | add`` (``keep`` as a signed 64-bit)."""
        keep = ~(self.res_mask << RES_SHIFT) & ~self.low(res) & 0xFFFFFFFFFFFFFFFF
        return _signed(keep), (res << RES_SHIFT) | self.low(res)

    def parent(self, cell: int, res: int) -> int:
        keep, add = self.parent_masks(res)
        return (cell & (keep & 0xFFFFFFFFFFFFFFFF)) | add

    def descendants(self, cell: int, res: int) -> tuple[int, int]:
        """The integer range ``[lo, hi]`` of ``cell``'s descendants at resolution ``res`` (>= its own)."""
        own = self.resolution(cell)
        base = (cell & ~(self.res_mask << RES_SHIFT) & ~self.low(own)) | (res << RES_SHIFT)
        return base | self.low(res), base | self.low(own)


H3 = Scheme("h3", 3, 15, 0xF)
QUADBIN = Scheme("quadbin", 2, 26, 0x1F)
SCHEMES = {"h3": H3, "quadbin": QUADBIN}


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def is_cell(scheme: Scheme, cell: int) -> bool:
    """Whether ``cell`` is a valid cell id of ``scheme``."""
    if not 0 < cell < 1 << 63:
        return False
    if scheme is QUADBIN:
        res = QUADBIN.resolution(cell)
        return cell >> 59 == QUADBIN_HEADER >> 59 and cell & QUADBIN.low(res) == QUADBIN.low(res)
    import h3

    return bool(h3.is_valid_cell(h3.int_to_str(cell)))


def parse_cell(scheme: Scheme, text: str) -> int:
    """A tile's cell id as the client's template sends it (``{i}``: lower-case hex, as H3 and quadbin print)."""
    if not isinstance(text, str) or not 1 <= len(text) <= 16 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise BadRequest(f"tile {str(text)[:20]!r} is not a {scheme.name} cell id (hexadecimal, up to 16 digits)")
    cell = int(text, 16)
    if not is_cell(scheme, cell):
        raise BadRequest(f"tile {text[:20]!r} is not a valid {scheme.name} cell")
    return cell


def quadbin_from_tile(z: int, x: int, y: int) -> int:
    """The quadbin cell of web-map tile z/x/y (x bits on even, y bits on odd positions of the digits)."""
    morton = 0
    for i in range(z):
        morton |= ((x >> i) & 1) << (2 * i) | ((y >> i) & 1) << (2 * i + 1)
    return QUADBIN_HEADER | (z << RES_SHIFT) | (morton << (RES_SHIFT - 2 * z)) | QUADBIN.low(z)


def quadbin_to_tile(cell: int) -> tuple[int, int, int]:
    z = QUADBIN.resolution(cell)
    morton = (cell >> (RES_SHIFT - 2 * z)) & ((1 << (2 * z)) - 1)
    x = y = 0
    for i in range(z):
        x |= ((morton >> (2 * i)) & 1) << i
        y |= ((morton >> (2 * i + 1)) & 1) << i
    return z, x, y


def _tile_box(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    n = 2.0**z

    def lat(py: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def cell_bounds(scheme: Scheme, cells: list[int]) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of ``cells`` (None for none)."""
    if not cells:
        return None
    if scheme is QUADBIN:
        boxes = [_tile_box(*quadbin_to_tile(c)) for c in cells]
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    import h3

    lats, lngs = [], []
    for c in cells:
        for lat, lng in h3.cell_to_boundary(h3.int_to_str(c)):
            lats.append(lat)
            lngs.append(lng)
    return min(lngs), min(lats), max(lngs), max(lats)


def footprint(scheme: Scheme, cells: list[int]) -> BaseGeometry:
    """The union of ``cells`` as lon/lat polygons, a little wider for H3 (whose children overhang their
    parent's edges), so it holds every descendant whole."""
    if scheme is QUADBIN:
        return shapely.union_all([box(*_tile_box(*quadbin_to_tile(c))) for c in cells])
    import h3

    parts = []
    for c in cells:
        cell = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(c))])
        parts.append(cell.buffer(0.2 * math.sqrt(cell.area)))
    return shapely.union_all(parts)


def polygon_ranges(
    scheme: Scheme, polygon: BaseGeometry, res: int, mode: str, max_ranges: int
) -> list[tuple[int, int]]:
    """Integer ranges of the cells at resolution ``res`` that meet ``polygon`` (``mode``: ``intersects``,
    ``contains`` the cell wholly inside, ``center`` the cell's centre inside); 400 above ``max_ranges``."""
    if mode not in CONTAIN_MODES:
        raise BadRequest(f"spatialFiltersMode must be one of {', '.join(CONTAIN_MODES)}, got {str(mode)[:20]!r}")
    if polygon.is_empty:
        return []
    if scheme is QUADBIN:
        return _quadbin_ranges(polygon, res, mode, max_ranges)
    return _h3_ranges(polygon, res, mode, max_ranges)


def _too_many(max_ranges: int) -> BadRequest:
    return BadRequest(
        f"the spatial filter covers more than {max_ranges} cell ranges at the data's resolution "
        "(setting filter_max_values): send a smaller polygon"
    )


def _quadbin_ranges(polygon: BaseGeometry, res: int, mode: str, max_ranges: int) -> list[tuple[int, int]]:
    """A quadtree walk: tiles inside the polygon are kept whole (one range), tiles on its edge are split
    down to ``res``, where ``mode`` decides."""
    shapely.prepare(polygon)
    out: list[tuple[int, int]] = []
    stack = [(0, 0, 0)]
    while stack:
        z, x, y = stack.pop()
        cell = box(*_tile_box(z, x, y))
        if not polygon.intersects(cell):
            continue
        if polygon.contains(cell):
            out.append(QUADBIN.descendants(quadbin_from_tile(z, x, y), res))
        elif z >= res:
            if mode == "intersects" or (mode == "center" and polygon.contains(cell.centroid)):
                out.append(QUADBIN.descendants(quadbin_from_tile(z, x, y), res))
        else:
            stack.extend((z + 1, 2 * x + dx, 2 * y + dy) for dx in (0, 1) for dy in (0, 1))
        if len(out) + len(stack) > max_ranges * 4:
            raise _too_many(max_ranges)
    if len(out) > max_ranges:
        raise _too_many(max_ranges)
    return sorted(out)


def _h3_ranges(polygon: BaseGeometry, res: int, mode: str, max_ranges: int) -> list[tuple[int, int]]:
    import h3

    area_km2 = polygon.area * (111.32**2) * max(0.05, math.cos(math.radians(polygon.centroid.y)))
    if area_km2 / h3.average_hexagon_area(res, unit="km^2") > 50 * max_ranges:
        raise _too_many(max_ranges)
    contain = {"intersects": "overlap", "contains": "full", "center": "center"}[mode]
    cells: set[str] = set()
    for part in getattr(polygon, "geoms", [polygon]):
        if part.geom_type != "Polygon":
            continue
        shape = h3.LatLngPoly(
            [(lat, lng) for lng, lat in part.exterior.coords],
            *[[(lat, lng) for lng, lat in ring.coords] for ring in part.interiors],
        )
        cells.update(h3.h3shape_to_cells_experimental(shape, res, contain=contain))
    compact = h3.compact_cells(list(cells))
    if len(compact) > max_ranges:
        raise _too_many(max_ranges)
    return sorted(H3.descendants(h3.str_to_int(c), res) for c in compact)
