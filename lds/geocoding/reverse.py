"""Reverse geocoding: a coordinate -> the nearest address, else street, else enclosing place.

Declared fallbacks, each with its radius from settings: an address point within
``reverse_address_radius_m``; else the nearest named street within ``reverse_street_radius_m`` (the
point on it, with the street's locality); else the smallest locality polygon that contains the point
or the nearest place node within that place's own radius. Anything else is outside the data and is
reported as such, never answered with a far-away guess.
"""

from __future__ import annotations

import numpy as np

from lds.errors import OutOfCoverage
from lds.geo import chord_to_arc, distance_m, ecef
from lds.geocoding import format as fmt
from lds.geocoding.buildings import in_building
from lds.geocoding.index import AddressIndex

INTERPOLATED_PENALTY_M = 5.0  # a real address point wins over an interpolated one up to this much farther
NEAREST_K = 6
PLACE_K = 16  # place nodes looked at for the one whose own radius holds the point


def _language(language: str | None) -> str | None:
    """'en-US' -> 'en'; None stays None."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].strip().lower() or None


def nearest_address(index: AddressIndex, lat: float, lon: float, radius: float) -> tuple[int, float] | None:
    """(address row, distance) of the nearest address point within ``radius``, an interpolated one only when no real
    one is within ``INTERPOLATED_PENALTY_M`` more (of the ``NEAREST_K`` nearest); None when there is none."""
    grid = index.addr_grid
    if grid is None:
        return None
    dist, idx = grid.query(ecef(lon, lat), NEAREST_K, radius + INTERPOLATED_PENALTY_M)
    best: tuple[float, int, float] | None = None
    for d, j in zip(dist.tolist(), idx.tolist()):
        d = float(chord_to_arc(d))
        if d > radius:
            continue
        key = d + (INTERPOLATED_PENALTY_M if index.is_interpolated(j) else 0.0)
        if best is None or key < best[0]:
            best = (key, j, d)
    return (best[1], best[2]) if best else None


def enclosing_place(index: AddressIndex, lat: float, lon: float) -> tuple[int, float] | None:
    """(place entity, distance to its centre) of the smallest containing polygon or the nearest place node in range."""
    areas = index.areas
    candidates: list[tuple[float, int]] = []
    if areas is not None:
        for a in areas.containing(lon, lat):
            e = int(index.area_entity[a])
            if e >= 0:
                candidates.append((float(index.area_size[a]), e))
    if candidates:
        e = min(candidates)[1]
        return e, distance_m(lon, lat, float(index.ent_lon[e]), float(index.ent_lat[e]))
    grid = index.placenode_grid
    if grid is None:
        return None
    radius = float(np.max(index.placenode_radius))
    dist, idx = grid.query(ecef(lon, lat), PLACE_K, radius)
    best = None
    for d, j in zip(dist.tolist(), idx.tolist()):
        ratio = d / float(index.placenode_radius[j])
        if ratio < 1.0 and (best is None or ratio < best[0]):
            best = (ratio, int(index.placenode_entity[j]), float(chord_to_arc(d)))
    return (best[1], best[2]) if best else None


def reverse(index: AddressIndex, lat: float, lon: float, language: str | None = None) -> list[dict]:
    """One candidate for the point; raises :class:`OutOfCoverage` when nothing in the data is near."""
    s = index.settings
    lang = _language(language)
    if not index.covers(lat, lon, s.reverse_street_radius_m):
        raise OutOfCoverage(f"({lat:.6f}, {lon:.6f}) is outside the loaded data (bbox {index.bbox})", 422)
    # the building the point lies in (lds.geocoding.buildings) before the nearest address point, the house next door
    hit = in_building(index, lat, lon, nearest_address(index, lat, lon, s.reverse_address_radius_m))
    if hit is not None:
        j, d = hit
        e = int(index.addr_entity[j])
        conf = 1.0 - 0.5 * d / max(s.reverse_address_radius_m, 1.0)
        match_type = "interpolated" if index.is_interpolated(j) else "address"
        if e < 0:  # a numbered point on no street: report it with its locality
            return [_streetless(index, j, d, conf, lang)]
        return [fmt.candidate(index, e, j, match_type, float(index.addr_lat[j]), float(index.addr_lon[j]), conf,
                              language=lang, distance=d)]
    street = index.segments.nearest(lat, lon, s.reverse_street_radius_m)
    if street is not None:
        d, seg, _, plat, plon = street
        e = int(index.segments.group[seg])
        conf = 0.5 * (1.0 - 0.5 * d / max(s.reverse_street_radius_m, 1.0))
        return [fmt.candidate(index, e, -1, "street", plat, plon, conf, language=lang, distance=d)]
    place = enclosing_place(index, lat, lon)
    if place is not None:
        e, d = place
        return [fmt.candidate(index, e, -1, "place", float(index.ent_lat[e]), float(index.ent_lon[e]), 0.3,
                              language=lang, distance=d)]
    raise OutOfCoverage(
        f"no address within {s.reverse_address_radius_m:g} m, no street within {s.reverse_street_radius_m:g} m "
        f"and no place around ({lat:.6f}, {lon:.6f}): outside the loaded data", 422
    )


def _streetless(index: AddressIndex, j: int, d: float, conf: float, lang: str | None) -> dict:
    st = index.string
    code = st(index.addr_country[j])
    number, postcode, city = st(index.addr_hn[j]), st(index.addr_postcode[j]), st(index.addr_city[j])
    country = index.country_name(code, lang)
    return {
        "latitude": round(float(index.addr_lat[j]), 7), "longitude": round(float(index.addr_lon[j]), 7),
        "formattedAddress": fmt.formatted(None, None, number, postcode, index.translate(city, lang), code, country),
        "streetName": None, "streetNumber": number, "postalCode": postcode, "city": index.translate(city, lang),
        "state": index.translate(st(index.addr_state[j]), lang), "country": country, "countryCode": code,
        "matchType": "address", "matchConfidence": round(conf, 3), "provider": "lds", "distance": round(d, 1),
    }
