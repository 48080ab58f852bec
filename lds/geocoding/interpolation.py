"""``addr:interpolation`` ways turned into address points, one per implied house number.

Between two numbered nodes of an interpolation way the numbers in between (odd, even, all, or every
n-th) are placed at proportional distances along the line, as Nominatim does. The points are stored
with an ``interpolated`` flag so forward geocoding reports ``matchType: interpolated``.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from lds.geo import distance_m
from lds.geocoding.columns import FIELDS, Addresses
from lds.geocoding.housenumbers import main_number, parity_step

MAX_NUMBERS = 1000  # numbers generated between two anchors; larger gaps are tagging errors


def _point_at(coords: list[tuple[float, float]], fraction: float) -> tuple[float, float]:
    """(lon, lat) at ``fraction`` of the line's length."""
    lengths = [distance_m(a[0], a[1], b[0], b[1]) for a, b in pairwise(coords)]
    total = sum(lengths)
    if total <= 0:
        return coords[0]
    target = fraction * total
    for (a, b), seg in zip(pairwise(coords), lengths):
        if target <= seg and seg > 0:
            f = target / seg
            return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
        target -= seg
    return coords[-1]


def _anchors(interpolations: list[dict], addresses: Addresses) -> list[list[tuple[int, int]]]:
    """Per interpolation way, its (position, address row) of the nodes that are address points."""
    refs = np.array([ref for way in interpolations for ref in way["nodes"]], dtype=np.int64)
    rows = addresses.row_of("n", refs).tolist()
    out, at = [], 0
    for way in interpolations:
        n = len(way["nodes"])
        out.append([(k, r) for k, r in enumerate(rows[at : at + n]) if r >= 0])
        at += n
    return out


def _existing(addresses: Addresses, addr_group: np.ndarray, groups: set[int]) -> set[tuple[int, str]]:
    """(street group, lower-cased number) of the addresses on the streets in ``groups``."""
    rows = np.flatnonzero(np.isin(addr_group, np.fromiter(groups, dtype=np.int64, count=len(groups))))
    hn = addresses["hn"]
    lower: dict[int, str] = {}
    out = set()
    for i in rows.tolist():
        h = int(hn[i])
        if h not in lower:
            lower[h] = addresses.strings.text(h).lower()
        out.add((int(addr_group[i]), lower[h]))
    return out


def expand(interpolations: list[dict], addresses: Addresses, addr_group) -> tuple[Addresses, list[int]]:
    """Address rows (and their street group) for the numbers interpolation ways imply.

    The street is the one both end points belong to (after street inference, so end points without
    ``addr:street`` count too); numbers that already exist on that street are skipped.
    """
    strings = addresses.strings
    out = Addresses(strings)
    groups: list[int] = []
    anchors_of = _anchors(interpolations, addresses)
    touched = {int(addr_group[i]) for anchors in anchors_of for _, i in anchors if addr_group[i] >= 0}
    existing = _existing(addresses, addr_group, touched)

    def field(name: str, i: int) -> int:
        return int(addresses[name][i])

    for way, anchors in zip(interpolations, anchors_of):
        step = parity_step(way["kind"])
        if step is None:
            continue
        way_addr = {f: strings.id(v) for f, v in way["addr"].items() if f in FIELDS}
        way_type, way_id = way["osm"][0], int(way["osm"][1:])
        for (k0, i0), (k1, i1) in pairwise(anchors):
            g = int(addr_group[i0])
            if g < 0 or g != int(addr_group[i1]):
                continue
            n0, n1 = main_number(addresses.text("hn", i0)), main_number(addresses.text("hn", i1))
            if n0 < 0 or n1 < 0 or n0 == n1 or abs(n1 - n0) / step > MAX_NUMBERS:
                continue
            coords = [c for c in way["coords"][k0 : k1 + 1] if c is not None]
            if len(coords) < 2:
                continue
            rec = {}
            for f in ("street", "place"):
                rec[f] = next((v for v in (field(f, i0), field(f, i1), way_addr.get(f, -1)) if v >= 0), -1)
            for f in ("postcode", "city", "country", "suburb"):
                same = field(f, i0) if field(f, i0) == field(f, i1) else -1
                rec[f] = way_addr.get(f, -1) if way_addr.get(f, -1) >= 0 else same
            direction = 1 if n1 > n0 else -1
            inc = 1 if way["kind"] in ("odd", "even") else step  # parity filtered below
            n = n0 + direction * inc
            while (n - n1) * direction < 0:
                wrong_parity = way["kind"] == "odd" and n % 2 == 0 or way["kind"] == "even" and n % 2 == 1
                if not wrong_parity and (g, str(n)) not in existing:
                    lon, lat = _point_at(coords, (n - n0) / (n1 - n0))
                    rec["hn"] = strings.id(str(n))
                    out.append(way_type, way_id, lat, lon, [rec.get(f, -1) for f in FIELDS], interpolated=True)
                    groups.append(g)
                n += direction * inc
    out.freeze()
    return out, groups
