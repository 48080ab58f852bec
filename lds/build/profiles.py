"""Travel-mode profiles: which ways a mode may use, in which direction, and how fast.

Filters follow osmnx's network types (``drive``, ``walk``, ``bike``) with OSRM's access-tag hierarchy;
car speeds follow OSRM's car.lua (default speed per highway class, ``maxspeed`` scaled by its 0.8
``speed_reduction``, slow service roads); walking and cycling speeds are OSRM's foot/bicycle defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

Tags = Mapping[str, str]

# Highway classes in a fixed order: the index is stored per edge (``edge_class``).
HIGHWAY_CLASSES = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
    "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "living_street",
    "service", "road", "track", "pedestrian", "footway", "path", "cycleway", "steps", "bridleway",
    "corridor", "other",
)
CLASS_INDEX = {name: i for i, name in enumerate(HIGHWAY_CLASSES)}

# OSRM car.lua `speeds.highway` (km/h).
CAR_SPEEDS = {
    "motorway": 90, "motorway_link": 45, "trunk": 85, "trunk_link": 40, "primary": 65, "primary_link": 30,
    "secondary": 55, "secondary_link": 25, "tertiary": 40, "tertiary_link": 20, "unclassified": 25,
    "residential": 25, "living_street": 10, "service": 15,
}
# OSRM car.lua `service_speeds` (km/h) and forbidden service kinds.
CAR_SERVICE_SPEEDS = {"alley": 5, "parking": 5, "parking_aisle": 5, "driveway": 5, "drive-through": 5, "drive-thru": 5}
CAR_SERVICE_FORBIDDEN = {"emergency_access"}
CAR_SPEED_REDUCTION = 0.8  # OSRM car.lua: maxspeed is scaled by this.
# OSRM car.lua `access_tag_blacklist`.
ACCESS_DENY = {"no", "agricultural", "forestry", "emergency", "psv", "customers", "private", "delivery"}
ACCESS_ALLOW = {"yes", "permissive", "designated", "destination", "permit"}
# Implicit maxspeed zones (`maxspeed=DE:urban`, ...), OSRM's `maxspeed_table_default` (km/h).
ZONE_SPEEDS = {"urban": 50, "rural": 90, "trunk": 110, "motorway": 130, "living_street": 7, "walk": 7}

WALK_SPEED_KMH = 5.0  # OSRM foot.lua walking_speed
WALK_STEPS_KMH = 3.5
BIKE_SPEED_KMH = 15.0  # OSRM bicycle.lua default_speed
BIKE_PUSH_KMH = 4.0

WALK_EXCLUDED = {"motorway", "motorway_link", "bus_guideway", "construction", "proposed", "planned", "abandoned",
                 "raceway", "razed", "no", "escape", "busway"}
BIKE_EXCLUDED = WALK_EXCLUDED | {"footway", "steps", "corridor", "elevator", "escalator", "pedestrian", "bridleway"}

_TRUE = {"yes", "true", "1"}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|knots)?\s*$")


def highway_class(tags: Tags) -> int:
    return CLASS_INDEX.get(tags.get("highway", ""), CLASS_INDEX["other"])


def parse_maxspeed(value: str | None) -> float | None:
    """km/h from a ``maxspeed`` value (``50``, ``30 mph``, ``DE:urban``); None when unknown or ``none``."""
    if not value:
        return None
    value = value.split(";")[0].strip().lower()
    m = _NUMBER.match(value)
    if m:
        speed = float(m.group(1))
        if m.group(2) == "mph":
            speed *= 1.609344
        elif m.group(2) == "knots":
            speed *= 1.852
        return speed if speed > 0 else None
    if ":" in value:
        zone = value.split(":", 1)[1]
        if value.startswith("de:") and zone == "rural":
            return 100.0
        return ZONE_SPEEDS.get(zone)
    return ZONE_SPEEDS.get(value)


def _access(tags: Tags, keys: tuple[str, ...]) -> str | None:
    """The most specific access value among ``keys`` (most specific first), OSRM's hierarchy."""
    for key in keys:
        value = tags.get(key)
        if value:
            return value.split(";")[0].strip().lower()
    return None


def _oneway_value(tags: Tags, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in tags:
            return tags[key].strip().lower()
    return None


@dataclass(frozen=True)
class Usage:
    """How a mode may use one way: allowed directions and speed per direction (km/h)."""

    forward: bool
    backward: bool
    speed_fwd: float
    speed_bwd: float


def car_usage(tags: Tags) -> Usage | None:
    highway = tags.get("highway")
    if highway not in CAR_SPEEDS or tags.get("area") in _TRUE:
        return None
    if tags.get("service") in CAR_SERVICE_FORBIDDEN or tags.get("impassable") in _TRUE:
        return None
    access = _access(tags, ("motorcar", "motor_vehicle", "vehicle", "access"))
    if access in ACCESS_DENY:
        return None
    speed = float(CAR_SPEEDS[highway])
    if highway == "service" and tags.get("service") in CAR_SERVICE_SPEEDS:
        speed = float(CAR_SERVICE_SPEEDS[tags["service"]])
    fwd = bwd = speed
    for key, side in (("maxspeed", "both"), ("maxspeed:forward", "fwd"), ("maxspeed:backward", "bwd")):
        limit = parse_maxspeed(tags.get(key))
        if limit:
            if side in ("both", "fwd"):
                fwd = limit * CAR_SPEED_REDUCTION
            if side in ("both", "bwd"):
                bwd = limit * CAR_SPEED_REDUCTION
    oneway = _oneway_value(tags, ("oneway:motorcar", "oneway:motor_vehicle", "oneway:vehicle", "oneway"))
    if oneway in ("reversible", "alternating"):
        return None
    forward = backward = True
    if oneway in _TRUE:
        backward = False
    elif oneway == "-1":
        forward = False
    elif oneway != "no" and (highway in ("motorway",) or tags.get("junction") in ("roundabout", "circular")):
        backward = False
    return Usage(forward, backward, max(fwd, 1.0), max(bwd, 1.0))


def walk_usage(tags: Tags) -> Usage | None:
    highway = tags.get("highway")
    if not highway or highway in WALK_EXCLUDED or tags.get("area") in _TRUE and highway != "pedestrian":
        return None
    access = _access(tags, ("foot", "access"))
    if access in ACCESS_DENY and access != "delivery":
        return None
    if tags.get("service") == "private":
        return None
    speed = WALK_STEPS_KMH if highway == "steps" else WALK_SPEED_KMH
    oneway = _oneway_value(tags, ("oneway:foot",))
    return Usage(True, oneway not in _TRUE, speed, speed)


def bike_usage(tags: Tags) -> Usage | None:
    highway = tags.get("highway")
    access = _access(tags, ("bicycle", "vehicle", "access"))
    if not highway or tags.get("area") in _TRUE:
        return None
    if highway in BIKE_EXCLUDED and access not in ("yes", "designated", "permissive"):
        return None
    if access in ACCESS_DENY:
        return None
    speed = BIKE_PUSH_KMH if highway in ("steps",) else BIKE_SPEED_KMH
    forward = backward = True
    oneway = _oneway_value(tags, ("oneway:bicycle", "oneway"))
    opposite = tags.get("cycleway", "").startswith("opposite") or tags.get("oneway:bicycle") == "no"
    if not opposite:
        if oneway in _TRUE or (oneway is None and tags.get("junction") == "roundabout"):
            backward = False
        elif oneway == "-1":
            forward = False
    return Usage(forward, backward, speed, speed)


PROFILES: dict[str, Callable[[Tags], Usage | None]] = {"car": car_usage, "walk": walk_usage, "bike": bike_usage}
