"""Isolines (isochrones and isodistances): the area a trip reaches from a point within each range.

One bounded search from the snapped origin serves every range of a request; the drawing
(:mod:`lds.isoline_shape`) turns the reached roads into nested catchment polygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lds.errors import BadRequest
from lds.graph.search import WEIGHTS, Reach, bounded_search
from lds.graph.snap import Snap
from lds.isoline_shape import WORKSPACE, Frame, catchment_geojson
from lds.isoline_walk import foot_network

SNAP_DECIMALS = 6
MIN_CELL_M = 0.5  # guards against a zero or negative isoline_cell_m
MIN_CELLS = 10_000  # guards against an isoline_max_cells too small to draw anything recognisable


@dataclass(frozen=True)
class Isoline:
    """One range's polygon (GeoJSON MultiPolygon in lon/lat, each ring an (n, 2) numpy array) and where the
    origin was snapped to (``location`` and ``snap_distance`` in the JSON, as routing reports its waypoints)."""

    range: float
    range_type: str
    mode: str
    geom: dict
    snapped: tuple[float, float]
    snap_distance_m: float

    def to_json(self) -> dict[str, Any]:
        value = int(self.range) if float(self.range).is_integer() else self.range
        return {
            "range": value,
            "range_type": self.range_type,
            "mode": self.mode,
            "geom": self.geom,
            "location": [round(self.snapped[0], SNAP_DECIMALS), round(self.snapped[1], SNAP_DECIMALS)],
            "snap_distance": round(self.snap_distance_m, 1),
        }


def isoline_search(graph, origin: tuple[float, float], ranges: Sequence[float], range_type: str,
                   settings) -> tuple[list[float], Snap, Reach]:
    """The one search every drawing of a request's isolines starts from (polygons here, H3 cells in
    :mod:`lds.h3_isolines`): the ranges as floats, the snapped origin and the search stopped at the largest range.
    Raises OutOfCoverage when the origin is farther than ``snap_radius_m`` from the mode's roads."""
    if range_type not in WEIGHTS:
        raise BadRequest(f"unknown range_type {range_type!r}; expected one of: {', '.join(WEIGHTS)}")
    ranges = [float(r) for r in ranges]
    if not ranges or min(ranges) <= 0:
        raise BadRequest("range must list one or more positive numbers")
    snap = graph.snapper.snap(origin[0], origin[1], settings.snap_radius_m)
    return ranges, snap, bounded_search(graph, snap, max(ranges), range_type)


def isolines(graph, origin: tuple[float, float], ranges: Sequence[float], range_type: str, settings,
             walk=None) -> list[Isoline]:
    """One :class:`Isoline` per range (in the order given), each containing every shorter one.

    ``range_type`` is ``time`` (seconds, edge travel times) or ``distance`` (metres, edge lengths).
    ``walk``: the walking graph, given for a car isoline, which then also covers the places walked to from a
    parked car along footways (``isoline_park_walk_m``, :mod:`lds.isoline_walk`).
    Raises OutOfCoverage when the origin is farther than ``snap_radius_m`` from the mode's roads.
    """
    ranges, snap, reach = isoline_search(graph, origin, ranges, range_type, settings)
    frame = Frame(snap.lon, snap.lat)
    park = None
    if walk is not None and graph.mode == "car" and settings.isoline_park_walk_m > 0:
        park = (foot_network(graph, walk), float(settings.isoline_park_walk_m))
    geoms = catchment_geojson(graph, reach, frame, ranges, max(MIN_CELL_M, settings.isoline_cell_m),
                              max(0.0, settings.isoline_offroad_m), max(MIN_CELLS, settings.isoline_max_cells),
                              settings.isoline_resolution_m ** 2, settings.isoline_simplify_m, WORKSPACE, park,
                              max(0.0, settings.isoline_cutoff_m))
    return [Isoline(r, range_type, graph.mode, geom, (snap.lon, snap.lat), snap.distance_m)
            for r, geom in zip(ranges, geoms, strict=True)]
