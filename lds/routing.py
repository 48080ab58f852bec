"""Routing: the fastest route through origin, waypoints and destination over one mode's road graph.

Each input point is snapped to the nearest routable edge (``settings.snap_radius_m``); every leg is a
contraction-hierarchy query between two snapped points (:mod:`lds.graph.router`), whose edges are cut at the
snapped positions into the route geometry and grouped into turn-by-turn steps (:mod:`lds.routing_steps`).
Legs are independent: a car may turn back at a waypoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from lds.errors import BadRequest, NotFound, OutOfCoverage
from lds.graph.snap import Snap
from lds.graph.snap_filters import snap_with
from lds.routing_steps import leg_steps

LonLat = tuple[float, float]


@dataclass
class Waypoint:
    """An input point and where it snapped to."""

    role: str
    snap: Snap
    name: str

    @cached_property
    def json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "input": [self.snap.query[0], self.snap.query[1]],
            "location": [round(self.snap.lon, 7), round(self.snap.lat, 7)],
            "snap_distance": round(self.snap.distance_m, 1),
            "name": self.name,
        }

    def to_json(self) -> dict[str, Any]:
        return dict(self.json)


@dataclass
class Leg:
    origin: Waypoint
    destination: Waypoint
    distance: float
    duration: float
    weight: float
    coords: np.ndarray
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"distance": round(self.distance, 1), "duration": round(self.duration, 1),
                "origin": self.origin.to_json(), "destination": self.destination.to_json(), "steps": self.steps}


@dataclass
class Route:
    mode: str
    waypoints: list[Waypoint]
    legs: list[Leg]

    @property
    def distance(self) -> float:
        return sum(leg.distance for leg in self.legs)

    @property
    def duration(self) -> float:
        return sum(leg.duration for leg in self.legs)

    def coordinates(self) -> np.ndarray:
        """The whole route as one (n, 2) lon/lat array; legs share their waypoint coordinate."""
        parts = [self.legs[0].coords] + [leg.coords[1:] for leg in self.legs[1:]]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def to_json(self) -> dict[str, Any]:
        """The routing answer's ``value`` entry: metres, seconds, a GeoJSON LineString and the steps."""
        coords = self.coordinates().tolist()  # already at OSM's 1e-7 degree precision
        legs = [leg.to_json() for leg in self.legs]
        return {
            "distance": round(self.distance, 1),
            "duration": round(self.duration, 1),
            "mode": self.mode,
            "geom": {"type": "LineString", "coordinates": coords},
            "legs": legs,
            "steps": [step for leg in legs for step in leg["steps"]],
            "waypoints": [w.to_json() for w in self.waypoints],
        }


def _role(i: int, n: int) -> str:
    return "origin" if i == 0 else "destination" if i == n - 1 else f"waypoint {i}"


def snap_points(graph, points: Sequence[LonLat], radius_m: float, snapping: dict | None = None) -> list[Waypoint]:
    """Snap every input point (under its ``snapping`` bearing or approach, when given: lds/graph/snap_filters.py),
    naming the offending one when it is out of coverage."""
    bearings = (snapping or {}).get("bearings") or [None] * len(points)
    approaches = (snapping or {}).get("approaches") or [None] * len(points)
    out = []
    for i, (lon, lat) in enumerate(points):
        role = _role(i, len(points))
        try:
            snap = snap_with(graph, float(lon), float(lat), radius_m, bearings[i], approaches[i])
        except OutOfCoverage as exc:
            raise OutOfCoverage(f"{role}: {exc.message}") from None
        out.append(Waypoint(role, snap, graph.names[int(graph.router.views["edge_name"][snap.edge])]))
    return out


def route(graph, points: Sequence[LonLat], settings, snapping: dict | None = None) -> Route:
    """Fastest route visiting ``points`` (lon, lat) in order on ``graph``.

    Raises OutOfCoverage (422) when a point is farther than ``settings.snap_radius_m`` from the mode's roads and
    NotFound (404) when two consecutive points are not connected.
    """
    if len(points) < 2:
        raise BadRequest("a route needs an origin and a destination")
    waypoints = snap_points(graph, points, settings.snap_radius_m, snapping)
    legs = []
    for i in range(len(waypoints) - 1):
        a, b = waypoints[i], waypoints[i + 1]
        path = graph.router.leg(a.snap, b.snap)
        if path is None:
            raise NotFound(f"no {graph.mode} route from {a.role} to {b.role}: they lie on parts of the road "
                           f"network that are not connected (one-way streets, restrictions or a gap in the data)")
        legs.append(build_leg(graph, a, b, path, None if i == len(waypoints) - 2 else i + 1))
    return Route(graph.mode, waypoints, legs)


def build_leg(graph, a: Waypoint, b: Waypoint, path, waypoint_index: int | None) -> Leg:
    """The leg along ``path`` (a :class:`lds.graph.router.LegPath`) from ``a`` to ``b``: geometry cut at the snapped
    points, length, duration with turns, and steps (``waypoint_index`` names an intermediate arrival)."""
    from lds.graph._guidance import cut_path

    v = graph.router.views
    coords, seg_len, seg_time, start_idx = cut_path(
        path.edges, path.first_frac, path.last_frac, v["edge_geom_off"], v["geom_lon"], v["geom_lat"],
        v["edge_length"], v["edge_time"],
        a.snap.lon, a.snap.lat, b.snap.lon, b.snap.lat)
    duration = float(seg_time.sum() + path.turn_s.sum())
    leg = Leg(a, b, float(seg_len.sum()), duration, path.weight_s, coords)
    leg.steps = leg_steps(v, graph.names, path, seg_len, seg_time, coords, start_idx, waypoint_index)
    return leg
