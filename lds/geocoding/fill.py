"""Address fields the tags leave out, filled from neighbours: the same street's tagged addresses (postcode,
city), the nearest address that knows its country, and ``addr:city`` values that no place carries."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
from scipy.spatial import cKDTree

from lds.geo import ecef
from lds.geocoding.normalize import name_key

NEIGHBOUR_FILL_M = 300.0  # a missing postcode/city comes from the nearest same-street address this close
ADDRESS_LOCALITY_MIN = 3  # addr:city values used by fewer addresses are not made places (typos)


def address_localities(addresses: list[dict], a_lat, a_lon, place_items: list) -> list[tuple[dict, None]]:
    """``addr:city`` values no place carries ("København V", "Kastrup") as places of their own, at the
    address nearest the centre of the addresses that name them, so "Kastrup" alone finds Kastrup."""
    known = {name_key(n) for p, _ in place_items for n in p["names"].values()}
    by_city: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(addresses):
        if a.get("city") and not a.get("interpolated"):
            by_city[a["city"]].append(i)
    out = []
    for city, idxs in by_city.items():
        if name_key(city) in known or len(idxs) < ADDRESS_LOCALITY_MIN:
            continue
        lat, lon = float(np.mean(a_lat[idxs])), float(np.mean(a_lon[idxs]))
        j = idxs[int(np.argmin((a_lat[idxs] - lat) ** 2 + (a_lon[idxs] - lon) ** 2))]
        out.append(({"osm": f"addr:city={city}", "lat": float(a_lat[j]), "lon": float(a_lon[j]), "names": {"name": city},
                     "place": "locality", "level": 0, "iso2": None}, None))
    return out


def most_common(values) -> str | None:
    c = Counter(v for v in values if v)
    return c.most_common(1)[0][0] if c else None


def fill_from_street(addresses: list[dict], groups: list[dict], field: str, missing_fn, known_fn, filled: Counter) -> None:
    """``field`` of the nearest address on the same street within ``NEIGHBOUR_FILL_M`` that knows it
    (Nominatim fills postcodes this way)."""
    for grp in groups:
        idx = grp["addrs"]
        missing = [i for i in idx if missing_fn(addresses[i])]
        known = [i for i in idx if known_fn(addresses[i])]
        if not missing or not known:
            continue
        tree = cKDTree(ecef([addresses[i]["lon"] for i in known], [addresses[i]["lat"] for i in known]))
        _, j = tree.query(ecef([addresses[i]["lon"] for i in missing], [addresses[i]["lat"] for i in missing]),
                             distance_upper_bound=NEIGHBOUR_FILL_M)
        for i, jj in zip(missing, np.atleast_1d(j).tolist()):
            if jj < len(known):
                addresses[i][field] = addresses[known[jj]][field]
                filled[f"{field}_street"] += 1


def fill_countries(addresses, a_lat, a_lon, countries: dict, filled: Counter) -> str | None:
    """Nearest address that knows its country; the extract's majority when none does. Returns the majority."""
    known = [i for i, a in enumerate(addresses) if a.get("country")]
    votes = Counter(addresses[i]["country"] for i in known)
    majority = votes.most_common(1)[0][0] if votes else (next(iter(countries)) if len(countries) == 1 else None)
    missing = [i for i, a in enumerate(addresses) if not a.get("country")]
    if missing and known:
        tree = cKDTree(ecef(a_lon[known], a_lat[known]))
        _, j = tree.query(ecef(a_lon[missing], a_lat[missing]))
        for i, jj in zip(missing, np.atleast_1d(j).tolist()):
            addresses[i]["country"] = addresses[known[jj]]["country"]
            filled["country_nearest"] += 1
    elif missing and majority:
        for i in missing:
            addresses[i]["country"] = majority
    return majority
