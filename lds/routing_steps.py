"""Turn-by-turn steps of one route leg: where the maneuvers are, their type and modifier, and an English
instruction for each, in OSRM's vocabulary (``depart``, ``turn``, ``new name``, ``continue``, ``roundabout``,
``exit roundabout``, ``on ramp``, ``off ramp``, ``merge``, ``arrive``; modifiers ``uturn``, ``sharp right``,
``right``, ``slight right``, ``straight``, ``slight left``, ``left``, ``sharp left``).

A new step starts where the street name changes, at a real turn (more than ``TURN_STEP_DEG`` at an
intersection), at a U-turn, on entering a roundabout (which then runs to the exit road) and at ramps.
The per-edge work is vectorised; Python only touches the maneuvers themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lds.formats import CLASS_INDEX, FLAG_ROUNDABOUT

# OSRM guidance's angle bands (deviation from straight on, degrees; positive = right).
STRAIGHT_DEG, SLIGHT_DEG, NORMAL_DEG = 20.0, 40.0, 120.0
TURN_STEP_DEG = 40.0  # a same-name road bending more than this at an intersection gets its own step
_LINKS = np.zeros(len(CLASS_INDEX), dtype=bool)
_LINKS[[CLASS_INDEX[c] for c in ("motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link")]] = True
_FAST = np.zeros(len(CLASS_INDEX), dtype=bool)
_FAST[[CLASS_INDEX[c] for c in ("motorway", "trunk")]] = True
_COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")
_MOD_TEXT = {"slight left": "slightly left", "slight right": "slightly right", "sharp left": "sharp left",
             "sharp right": "sharp right", "left": "left", "right": "right", "straight": "straight"}


def modifier(deviation: float) -> str:
    """OSRM's direction modifier for a turn angle (0 = straight on, positive = right)."""
    a = abs(deviation)
    if a <= STRAIGHT_DEG:
        return "straight"
    side = "right" if deviation > 0 else "left"
    if a <= SLIGHT_DEG:
        return f"slight {side}"
    if a <= NORMAL_DEG:
        return side
    return f"sharp {side}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def instruction(kind: str, mod: str | None, name: str, exit_no: int | None = None, bearing: float | None = None,
                waypoint: int | None = None) -> str:
    """A readable English instruction (osrm-text-instructions style)."""
    onto = f" onto {name}" if name else ""
    if kind == "depart":
        direction = _COMPASS[int(((bearing or 0.0) + 22.5) // 45) % 8]
        return f"Head {direction}" + (f" on {name}" if name else "")
    if kind == "arrive":
        return f"You have arrived at waypoint {waypoint}" if waypoint else "You have arrived at your destination"
    if mod == "uturn":
        return "Make a U-turn" + (f" and continue on {name}" if name else "")
    side = "left" if mod and "left" in mod else "right" if mod and "right" in mod else None
    if kind == "roundabout":
        if exit_no is None:
            return "Enter the roundabout" + (f" on {name}" if name else "")
        return f"Enter the roundabout and take the {ordinal(exit_no)} exit{onto}"
    if kind == "exit roundabout":
        return f"Exit the roundabout{onto}"
    if kind == "on ramp":
        return (f"Take the ramp on the {side}" if side else "Take the ramp") + onto
    if kind == "off ramp":
        return (f"Take the exit on the {side}" if side else "Take the exit") + onto
    if kind == "merge":
        return (f"Merge {side}" if side else "Merge") + onto
    if kind == "new name":
        return ("Continue" if mod == "straight" else f"Continue {_MOD_TEXT[mod]}") + onto
    if kind == "continue":
        return f"Continue {_MOD_TEXT[mod]}" + (f" to stay on {name}" if name else "")
    if mod == "straight":
        return "Go straight" + onto
    return f"Turn {_MOD_TEXT[mod]}" + onto


KINDS = ("depart", "turn", "new name", "continue", "roundabout", "exit roundabout", "on ramp", "off ramp", "merge")
MODIFIERS = ("uturn", "sharp right", "right", "slight right", "straight", "slight left", "left", "sharp left")
_IS_LINK = _LINKS.astype(np.uint8)
_IS_FAST = _FAST.astype(np.uint8)


def leg_steps(v: dict[str, np.ndarray], names: list[str], path, seg_len: np.ndarray, seg_time: np.ndarray,
              coords: np.ndarray, start_idx: np.ndarray, waypoint: int | None) -> list[dict[str, Any]]:
    """The steps of one leg: depart, one per maneuver, arrive (``waypoint`` numbers an intermediate arrival).
    ``v`` holds the graph's arrays (plain ndarrays), ``names`` its street names."""
    from lds.graph._guidance import leg_maneuvers

    edges = path.edges
    found = leg_maneuvers(edges, v["edge_name"], v["edge_flags"], v["edge_class"], v["turn_bearing_start"],
                          v["turn_bearing_end"], v["edge_src"], v["edge_dst"], v["turn_node_out"], _IS_LINK,
                          _IS_FAST, seg_len, seg_time, np.ascontiguousarray(path.turn_s, dtype=np.float64),
                          coords, start_idx, STRAIGHT_DEG, SLIGHT_DEG, NORMAL_DEG, TURN_STEP_DEG, FLAG_ROUNDABOUT)
    steps = []
    for kind_no, mod_no, name_id, exit_no, dist, dur, lon, lat, before, after in found:
        kind, name = KINDS[kind_no], names[name_id]
        mod = MODIFIERS[mod_no] if mod_no >= 0 else None
        step = {"type": kind, "name": name, "distance": dist, "duration": dur, "location": [lon, lat],
                "bearing_before": before, "bearing_after": after,
                "instruction": instruction(kind, mod, name, exit_no if exit_no >= 0 else None, after)}
        if mod is not None:
            step["modifier"] = mod
        if exit_no >= 0:
            step["exit"] = exit_no
        steps.append(step)
    end = coords[-1]
    steps.append({
        "type": "arrive", "name": names[int(v["edge_name"][edges[-1]])], "distance": 0.0, "duration": 0.0,
        "location": [float(end[0]), float(end[1])],
        "bearing_before": round(float(v["turn_bearing_end"][edges[-1]])) % 360, "bearing_after": 0,
        "instruction": instruction("arrive", None, "", waypoint=waypoint),
    })
    return steps
