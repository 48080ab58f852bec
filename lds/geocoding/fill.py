"""Address fields the tags leave out, filled from neighbours: the same street's tagged addresses (postcode,
city), the nearest address that knows its country, and ``addr:city`` values that no place carries."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.spatial import cKDTree

from lds.geo import ecef
from lds.geocoding.columns import Addresses
from lds.geocoding.normalize import name_key

NEIGHBOUR_FILL_M = 300.0  # a missing postcode/city comes from the nearest same-street address this close
ADDRESS_LOCALITY_MIN = 3  # addr:city values used by fewer addresses are not made places (typos)


def rows_by_value(values: np.ndarray, rows: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``rows`` grouped by their value (``values[rows]``), each group's rows ascending, groups in the order of
    their first row: what a dict of lists filled in row order holds."""
    v = values[rows]
    order = np.argsort(v, kind="stable")
    rows, v = rows[order], v[order]
    start = np.flatnonzero(np.r_[True, v[1:] != v[:-1]]) if len(v) else np.zeros(0, dtype=np.int64)
    parts = np.split(rows, start[1:]) if len(v) else []
    return sorted(((int(v[s]), part) for s, part in zip(start.tolist(), parts)), key=lambda x: int(x[1][0]))


def nearest_row(a_lat: np.ndarray, a_lon: np.ndarray, idxs: np.ndarray) -> int:
    """The row of ``idxs`` nearest (in degrees) the mean of their coordinates."""
    lat, lon = float(np.mean(a_lat[idxs])), float(np.mean(a_lon[idxs]))
    return int(idxs[int(np.argmin((a_lat[idxs] - lat) ** 2 + (a_lon[idxs] - lon) ** 2))])


def address_localities(addresses: Addresses, place_items: list) -> list[tuple[dict, None]]:
    """``addr:city`` values no place carries ("København V", "Kastrup") as places of their own, at the
    address nearest the centre of the addresses that name them, so "Kastrup" alone finds Kastrup."""
    known = {name_key(n) for p, _ in place_items for n in p["names"].values()}
    city = addresses["city"]
    out = []
    for city_id, idxs in rows_by_value(city, np.flatnonzero((city >= 0) & ~addresses.interpolated)):
        name = addresses.strings.text(city_id)
        if len(idxs) < ADDRESS_LOCALITY_MIN or name_key(name) in known:
            continue
        j = nearest_row(addresses.lat, addresses.lon, idxs)
        out.append(({"osm": f"addr:city={name}", "lat": float(addresses.lat[j]), "lon": float(addresses.lon[j]),
                     "names": {"name": name}, "place": "locality", "level": 0, "iso2": None}, None))
    return out


def fill_from_street(addresses: Addresses, groups: list[dict], field: str, missing: np.ndarray, known: np.ndarray,
                     filled: Counter) -> None:
    """``field`` of the nearest address on the same street within ``NEIGHBOUR_FILL_M`` that knows it
    (Nominatim fills postcodes this way); ``missing`` and ``known`` are masks over the rows."""
    column = addresses[field]
    for grp in groups:
        idx = np.asarray(grp["addrs"], dtype=np.int64)
        if not len(idx):
            continue
        miss, know = idx[missing[idx]], idx[known[idx]]
        if not len(miss) or not len(know):
            continue
        tree = cKDTree(ecef(addresses.lon[know], addresses.lat[know]))
        _, j = tree.query(ecef(addresses.lon[miss], addresses.lat[miss]), distance_upper_bound=NEIGHBOUR_FILL_M)
        j = np.atleast_1d(j)
        hit = j < len(know)
        if hit.any():
            column[miss[hit]] = column[know[j[hit]]]
            filled[f"{field}_street"] += int(hit.sum())


def fill_countries(addresses: Addresses, countries: dict, filled: Counter) -> str | None:
    """Nearest address that knows its country; the extract's majority when none does. Returns the majority."""
    country = addresses["country"]
    known = np.flatnonzero(country >= 0)
    votes = [(len(rows), -int(rows[0]), code) for code, rows in rows_by_value(country, known)]
    if votes:
        majority = addresses.strings.text(max(votes)[2])
    else:
        majority = next(iter(countries)) if len(countries) == 1 else None
    missing = np.flatnonzero(country < 0)
    if len(missing) and len(known):
        tree = cKDTree(ecef(addresses.lon[known], addresses.lat[known]))
        _, j = tree.query(ecef(addresses.lon[missing], addresses.lat[missing]))
        country[missing] = country[known[np.atleast_1d(j)]]
        filled["country_nearest"] += len(missing)
    elif len(missing) and majority:
        country[missing] = addresses.strings.id(majority)
    return majority
