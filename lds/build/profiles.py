"""Travel-mode profiles: which ways a mode may use, in which direction, and how fast.

Filters follow osmnx's network types (``drive``, ``walk``, ``bike``) with OSRM's access-tag hierarchy;
car speeds follow OSRM's car.lua (default speed per highway class, ``maxspeed`` scaled by its 0.8
``speed_reduction``, slow service roads); walking and cycling speeds are OSRM's foot/bicycle defaults.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lds.formats import CLASS_INDEX

Tags = Mapping[str, str]


# OSRM car.lua `speeds.highway` (km/h).
CAR_SPEEDS = {
    "motorway": 90, "motorway_link": 45, "trunk": 85, "trunk_link": 40, "primary": 65, "primary_link": 30,
    "secondary": 55, "secondary_link": 25, "tertiary": 40, "tertiary_link": 20, "unclassified": 25,
    "residential": 25, "living_street": 10, "service": 15,
}
# OSRM car.lua `service_penalties`: these service roads keep the highway speed for their duration but are
# weighted as if half as fast, so routes avoid them unless they start or end there.
CAR_SERVICE_PENALTIES = {"alley": 0.5, "parking": 0.5, "parking_aisle": 0.5, "driveway": 0.5, "drive-through": 0.5,
                         "drive-thru": 0.5}
CAR_SERVICE_FORBIDDEN = {"emergency_access"}
CAR_SPEED_REDUCTION = 0.8  # OSRM car.lua: maxspeed is scaled by this.
CAR_DEFAULT_SPEED = 10  # OSRM car.lua `default_speed`: other highways opened to cars by an access tag.
CAR_NARROW_PENALTY = 0.5  # OSRM way_handlers penalties(): width <= 3 m, or one lane in both directions.
CAR_SIDE_ROAD_PENALTY = 0.8  # OSRM car.lua side_road_multiplier.
CAR_ALTERNATING_PENALTY = 0.4  # OSRM way_handlers penalties(): oneway=alternating.
CAR_AVOID = {"steps", "construction", "proposed"}  # OSRM car.lua `avoid` (highway values).
# OSRM car.lua vehicle size: ways physically or legally closed to a 2.5 m high, 1.9 m wide, 4.8 m long, 3.5 t car.
CAR_HEIGHT_M, CAR_WIDTH_M, CAR_LENGTH_M, CAR_WEIGHT_KG = 2.5, 1.9, 4.8, 3500.0
# OSRM car.lua `access_tag_blacklist`; the ``CAR_RESTRICTED`` ones stay routable on ordinary highways but only to
# reach or leave them (OSRM's `restricted_access_tag_list` + `restricted_highway_whitelist`).
CAR_ACCESS_BLACKLIST = {"no", "agricultural", "forestry", "emergency", "psv", "customers", "private", "delivery",
                        "destination"}
ACCESS_DENY = {"no", "agricultural", "forestry", "emergency", "psv", "customers", "private", "delivery"}
ACCESS_ALLOW = {"yes", "permissive", "designated", "destination", "permit"}
CAR_ACCESS_WHITELIST = {"yes", "motorcar", "motor_vehicle", "vehicle", "permissive", "designated", "hov"}
CAR_RESTRICTED = {"destination"}
CAR_RESTRICTED_HIGHWAYS = {"motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
                           "secondary_link", "tertiary", "tertiary_link", "residential", "living_street",
                           "unclassified", "service"}
# OSRM car.lua surface / tracktype / smoothness speed caps (km/h), applied before maxspeed.
CAR_SURFACE_SPEEDS = {
    "cement": 80, "compacted": 80, "fine_gravel": 80, "paving_stones": 60, "metal": 60, "bricks": 60, "grass": 40,
    "wood": 40, "sett": 40, "grass_paver": 40, "gravel": 40, "unpaved": 40, "ground": 40, "dirt": 40,
    "pebblestone": 40, "tartan": 40, "cobblestone": 30, "clay": 30, "earth": 20, "stone": 20, "rocky": 20,
    "sand": 20, "mud": 10,
}
CAR_TRACKTYPE_SPEEDS = {"grade1": 60, "grade2": 40, "grade3": 30, "grade4": 25, "grade5": 20}
CAR_SMOOTHNESS_SPEEDS = {"intermediate": 80, "bad": 40, "very_bad": 20, "horrible": 10, "very_horrible": 5,
                         "impassable": 0}
# Implicit maxspeed zones (`maxspeed=DE:urban`, ...): OSRM car.lua `maxspeed_table_default` and the exceptions of
# its `maxspeed_table` (km/h; 0 = no implied limit, use the highway default).
ZONE_SPEEDS = {"urban": 50, "rural": 90, "trunk": 110, "motorway": 130, "living_street": 7, "walk": 7}
MAXSPEED_TABLE = {
    "at:rural": 100, "at:trunk": 100, "be:motorway": 120, "be-vlg:rural": 70, "by:urban": 60, "by:motorway": 110,
    "ch:rural": 80, "ch:trunk": 100, "ch:motorway": 120, "cz:trunk": 0, "cz:motorway": 0, "de:living_street": 7,
    "de:rural": 100, "de:motorway": 0, "dk:rural": 80, "fr:rural": 80, "gb:nsl_single": 96.54,
    "gb:nsl_dual": 112.63, "gb:motorway": 112.63, "nl:rural": 80, "nl:trunk": 100, "no:rural": 80,
    "no:motorway": 110, "pl:rural": 100, "pl:trunk": 120, "pl:motorway": 140, "ro:trunk": 100,
    "ru:living_street": 20, "ru:urban": 60, "ru:motorway": 110, "uk:nsl_single": 96.54, "uk:nsl_dual": 112.63,
    "uk:motorway": 112.63, "za:urban": 60, "za:rural": 100, "none": 140,
}

WALK_SPEED_KMH = 5.0  # OSRM foot.lua walking_speed
WALK_STEPS_KMH = 3.5
BIKE_SPEED_KMH = 15.0  # OSRM bicycle.lua default_speed
BIKE_PUSH_KMH = 4.0

WALK_EXCLUDED = {"motorway", "motorway_link", "bus_guideway", "construction", "proposed", "planned", "abandoned",
                 "raceway", "razed", "no", "escape", "busway"}
# Walked only where a foot/access tag opens them: OSRM foot.lua gives a cycleway no walking speed and osmnx's walk
# network leaves cycleways out, as OSM's default access for highway=cycleway in much of Europe (Denmark, Germany,
# the Netherlands, ...) has no pedestrians: they use the footway or sidewalk beside it.
WALK_TAGGED_ONLY = {"cycleway"}
BIKE_EXCLUDED = WALK_EXCLUDED | {"footway", "steps", "corridor", "elevator", "escalator", "pedestrian", "bridleway"}

_TRUE = {"yes", "true", "1"}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|knots)?\s*$")
_LEADING_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")


def highway_class(tags: Tags) -> int:
    return CLASS_INDEX.get(tags.get("highway", ""), CLASS_INDEX["other"])


def parse_maxspeed(value: str | None) -> float | None:
    """km/h from a ``maxspeed`` value (``50``, ``30 mph``, ``DE:urban``, ``none``) as OSRM's car.lua reads it;
    None when unknown or when the zone implies no limit of its own."""
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
    if value in MAXSPEED_TABLE:
        return float(MAXSPEED_TABLE[value]) or None
    zone = value.split(":", 1)[1] if ":" in value else value
    speed = ZONE_SPEEDS.get(zone)
    return float(speed) if speed else None


def _leading_number(value: str | None) -> float | None:
    """The number a width/height/lanes tag starts with (``3``, ``2.5 m``, ``3,5``), as OSRM's Measure does."""
    if not value:
        return None
    m = _LEADING_NUMBER.match(value.replace(",", "."))
    return float(m.group(1)) if m else None


def _weight_kg(value: str | None) -> float | None:
    number = _leading_number(value)
    if number is None:
        return None
    if "lbs" in value:
        return number * 0.45359237
    return number if "kg" in value else number * 1000.0


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


def _by_direction(tags: Tags, keys: tuple[str, ...]) -> tuple[str | None, str | None]:
    """Forward and backward values over a prioritised key list, ``key:forward``/``key:backward`` before ``key``
    (OSRM's ``Tags.get_forward_backward_by_set``)."""
    fwd = bwd = None
    for key in keys:
        fwd = fwd or tags.get(key + ":forward")
        bwd = bwd or tags.get(key + ":backward")
        if not fwd or not bwd:
            common = tags.get(key)
            fwd, bwd = fwd or common, bwd or common
        if fwd and bwd:
            break
    return fwd, bwd


@dataclass(frozen=True)
class Usage:
    """How a mode may use one way: allowed directions and speed per direction (km/h).

    ``penalty_*`` scale the speed for the routing weight only (OSRM's routability: duration stays real, the weight
    is duration / penalty); ``restricted_*`` ways (``access=destination``) may only be used to reach or leave them.
    """

    forward: bool
    backward: bool
    speed_fwd: float
    speed_bwd: float
    penalty_fwd: float = 1.0
    penalty_bwd: float = 1.0
    restricted_fwd: bool = False
    restricted_bwd: bool = False


_CAR_ACCESS_KEYS = ("motorcar", "motor_vehicle", "vehicle", "access")
_CAR_ONEWAY_KEYS = ("oneway:motorcar", "oneway:motor_vehicle", "oneway:vehicle", "oneway")
_CONSTRUCTION_OK = {"no", "widening", "minor"}
_HEIGHT_WORDS = {"default": 4.5, "none": 4.5, "no-sign": 4.5, "unsigned": 4.5}


def _car_blocked(tags: Tags, highway: str) -> bool:
    """OSRM's blocked_ways/avoid_ways handlers for the stock car profile."""
    if highway in CAR_AVOID or tags.get("area") == "yes" or tags.get("oneway") == "reversible":
        return True
    if tags.get("construction") not in (None, *_CONSTRUCTION_OK) or "proposed" in tags:
        return True
    return tags.get("impassable") == "yes" or tags.get("status") == "impassable"


def _height_m(value: str | None) -> float | None:
    """A maxheight in metres ("default"/"none" and the like mean no sign: 4.5 m, as OSRM reads them)."""
    if value is None:
        return None
    return _HEIGHT_WORDS.get(value.strip().lower(), _leading_number(value))


def _car_fits(tags: Tags, direction: int) -> bool:
    """OSRM's handle_height/width/length/weight: physical and legal limits against the profile's car size."""
    pick = 0 if direction > 0 else 1
    h = _height_m(_by_direction(tags, ("maxheight:physical", "maxheight"))[pick])
    if h is not None and h < CAR_HEIGHT_M:
        return False
    width = _leading_number(_by_direction(tags, ("maxwidth:physical", "maxwidth", "width", "est_width"))[pick])
    if width is not None and width <= CAR_WIDTH_M:
        return False
    length = _leading_number(_by_direction(tags, ("maxlength",))[pick])
    if length is not None and length < CAR_LENGTH_M:
        return False
    weight = _weight_kg(_by_direction(tags, ("maxweight",))[pick])
    return weight is None or weight >= CAR_WEIGHT_KG


def car_usage(tags: Tags) -> Usage | None:
    """OSRM car.lua's way processing (access, oneway, speed, surface, maxspeed, routability penalties)."""
    highway = tags.get("highway")
    if not highway or _car_blocked(tags, highway) or tags.get("service") in CAR_SERVICE_FORBIDDEN:
        return None
    access_f, access_b = _by_direction(tags, _CAR_ACCESS_KEYS)
    access_f = access_f.split(";")[0].strip().lower() if access_f else None
    access_b = access_b.split(";")[0].strip().lower() if access_b else None
    restricted_ok = highway in CAR_RESTRICTED_HIGHWAYS
    restr_f, restr_b = restricted_ok and access_f in CAR_RESTRICTED, restricted_ok and access_b in CAR_RESTRICTED
    forward = _car_fits(tags, 1) and not (access_f in CAR_ACCESS_BLACKLIST and not restr_f)
    backward = _car_fits(tags, -1) and not (access_b in CAR_ACCESS_BLACKLIST and not restr_b)

    oneway = _oneway_value(tags, _CAR_ONEWAY_KEYS)
    if oneway == "-1":
        forward = False
    elif oneway in _TRUE or oneway != "no" and (highway == "motorway" or tags.get("junction") in ("roundabout", "circular")):
        backward = False

    if highway in CAR_SPEEDS:
        speed_f = speed_b = float(CAR_SPEEDS[highway])
    else:  # other highway values are drivable only when an access tag opens them
        speed_f = CAR_DEFAULT_SPEED if access_f and access_f not in CAR_ACCESS_BLACKLIST else 0.0
        speed_b = CAR_DEFAULT_SPEED if access_b and access_b not in CAR_ACCESS_BLACKLIST else 0.0
        if not (speed_f or speed_b):
            return None
    if tags.get("bridge") == "movable":
        speed_f = speed_b = 5.0  # OSRM car.lua bridge_speeds
    for key, table in (("surface", CAR_SURFACE_SPEEDS), ("tracktype", CAR_TRACKTYPE_SPEEDS),
                       ("smoothness", CAR_SMOOTHNESS_SPEEDS)):
        cap = table.get(tags.get(key, ""))
        if cap is not None:
            speed_f, speed_b = min(speed_f, cap), min(speed_b, cap)
    max_f, max_b = _by_direction(tags, ("maxspeed:advisory", "maxspeed", "source:maxspeed", "maxspeed:type"))
    limit_f, limit_b = parse_maxspeed(max_f), parse_maxspeed(max_b)
    if limit_f:
        speed_f = limit_f * CAR_SPEED_REDUCTION
    if limit_b:
        speed_b = limit_b * CAR_SPEED_REDUCTION
    forward, backward = forward and speed_f > 0, backward and speed_b > 0
    if not (forward or backward):
        return None

    penalty = CAR_SERVICE_PENALTIES.get(tags.get("service", ""), 1.0)
    width = _leading_number(tags.get("width"))  # OSRM compares the integer part (Lua's "%d*")
    width = None if width is None else int(width)
    lanes = _leading_number(tags.get("lanes"))
    if (width is not None and width <= 3) or (lanes is not None and lanes <= 1 and forward and backward):
        penalty = min(penalty, CAR_NARROW_PENALTY)
    if oneway == "alternating":
        penalty = min(penalty, CAR_ALTERNATING_PENALTY)
    if tags.get("side_road") in ("yes", "rotary"):
        penalty = min(penalty, CAR_SIDE_ROAD_PENALTY)
    return Usage(forward, backward, max(speed_f, 1.0), max(speed_b, 1.0), penalty, penalty, restr_f, restr_b)


def walk_usage(tags: Tags) -> Usage | None:
    highway = tags.get("highway")
    if not highway or highway in WALK_EXCLUDED or tags.get("area") in _TRUE and highway != "pedestrian":
        return None
    access = _access(tags, ("foot", "access"))
    if access in ACCESS_DENY and access != "delivery":
        return None
    if highway in WALK_TAGGED_ONLY and access not in ACCESS_ALLOW:
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
# tags no profile reads: ways that differ only in these are used alike (a country's millions of ways share a few
# thousand tag sets once their names are left out: the build evaluates each set once)
UNREAD_BY_PROFILES = frozenset({"name", "ref"})

# --- barrier nodes -------------------------------------------------------------------------------------------
# OSRM car.lua `barrier_whitelist`: barrier values a car passes; every other value blocks the node.
CAR_BARRIER_WHITELIST = {"cattle_grid", "border_control", "toll_booth", "sally_port", "gate", "lift_gate", "no",
                         "entrance", "height_restrictor", "arch"}
# car.lua process_node: a node access value blocks when blacklisted and not merely "restricted" (private, delivery,
# destination, customers only keep through traffic out, which a node cannot express).
CAR_NODE_ACCESS_BLOCK = {"no", "agricultural", "forestry", "emergency", "psv"}
# Node keys the reader keeps (nodes with none of the first two groups are not kept at all).
BARRIER_NODE_KEYS = frozenset({"barrier", *_CAR_ACCESS_KEYS, "bollard", "kerb", "highway", "maxheight"})


def car_node_blocked(tags: Tags) -> bool:
    """Whether a car may not pass this node (OSRM car.lua process_node: access tags first, then barrier)."""
    access = _access(tags, _CAR_ACCESS_KEYS)
    if access:
        return access in CAR_NODE_ACCESS_BLOCK
    barrier = tags.get("barrier")
    if not barrier:
        return False
    if barrier == "height_restrictor":
        h = _height_m(tags.get("maxheight"))
        return h is not None and h < CAR_HEIGHT_M
    if barrier in CAR_BARRIER_WHITELIST or tags.get("bollard") == "rising":
        return False
    flat_kerb = tags.get("kerb") in ("lowered", "flush") or (barrier == "kerb" and tags.get("highway") == "crossing")
    return not flat_kerb


# Per mode: which kept nodes block passage. Walking and cycling follow osmnx here and pass every node.
NODE_BLOCKED: dict[str, Callable[[Tags], bool]] = {"car": car_node_blocked}
