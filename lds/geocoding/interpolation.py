"""``addr:interpolation`` ways turned into address points, one per implied house number.

Between two numbered nodes of an interpolation way the numbers in between (odd, even, all, or every
n-th) are placed at proportional distances along the line, as Nominatim does. The points are stored
with an ``interpolated`` flag so forward geocoding reports ``matchType: interpolated``.
"""

from __future__ import annotations

from itertools import pairwise

from lds.geo import distance_m
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


def expand(interpolations: list[dict], addresses: list[dict], address_by_node: dict[int, int],
           addr_group) -> tuple[list[dict], list[int]]:
    """Address records (and their street group) for the numbers interpolation ways imply.

    The street is the one both end points belong to (after street inference, so end points without
    ``addr:street`` count too); numbers that already exist on that street are skipped.
    """
    out: list[dict] = []
    groups: list[int] = []
    existing = {(int(addr_group[i]), a["hn"].lower()) for i, a in enumerate(addresses) if addr_group[i] >= 0}
    for way in interpolations:
        step = parity_step(way["kind"])
        if step is None:
            continue
        anchors = [(k, address_by_node[ref]) for k, ref in enumerate(way["nodes"]) if ref in address_by_node]
        for (k0, i0), (k1, i1) in pairwise(anchors):
            a0, a1 = addresses[i0], addresses[i1]
            g = int(addr_group[i0])
            if g < 0 or g != int(addr_group[i1]):
                continue
            n0, n1 = main_number(a0["hn"]), main_number(a1["hn"])
            if n0 < 0 or n1 < 0 or n0 == n1 or abs(n1 - n0) / step > MAX_NUMBERS:
                continue
            coords = [c for c in way["coords"][k0 : k1 + 1] if c is not None]
            if len(coords) < 2:
                continue
            direction = 1 if n1 > n0 else -1
            inc = 1 if way["kind"] in ("odd", "even") else step  # parity filtered below
            n = n0 + direction * inc
            while (n - n1) * direction < 0:
                wrong_parity = way["kind"] == "odd" and n % 2 == 0 or way["kind"] == "even" and n % 2 == 1
                if not wrong_parity and (g, str(n)) not in existing:
                    lon, lat = _point_at(coords, (n - n0) / (n1 - n0))
                    rec = {"osm": way["osm"], "lat": lat, "lon": lon, "hn": str(n), "interpolated": True,
                           "street": a0.get("street") or a1.get("street") or way["addr"].get("street"),
                           "place": a0.get("place") or a1.get("place") or way["addr"].get("place")}
                    for field in ("postcode", "city", "country", "suburb"):
                        value = way["addr"].get(field) or (a0.get(field) if a0.get(field) == a1.get(field) else None)
                        if value:
                            rec[field] = value
                    out.append({k: v for k, v in rec.items() if v is not None})
                    groups.append(g)
                n += direction * inc
    return out, groups
