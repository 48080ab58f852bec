"""Spherical geometry helpers: Earth-centred coordinates for KD-trees, distances, point-segment projection.

Points go into KD-trees as 3D unit-sphere vectors scaled to metres (ECEF on a sphere): the chord length
equals the great-circle distance to well under a millimetre at the radii we search, and it works for an
extract anywhere on Earth, including ones crossing the antimeridian, with no projection to choose.
"""

from __future__ import annotations

import math

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius


def ecef(lat, lon) -> np.ndarray:
    """(n, 3) array of points on a sphere of Earth's radius, in metres."""
    lat = np.radians(np.asarray(lat, dtype=np.float64))
    lon = np.radians(np.asarray(lon, dtype=np.float64))
    c = np.cos(lat)
    return np.stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)], axis=-1) * EARTH_RADIUS_M


def chord_to_arc(d):
    """Great-circle distance for a chord length (both in metres)."""
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(np.asarray(d) / (2.0 * EARTH_RADIUS_M), 1.0))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def haversine_np(lat1, lon1, lat2, lon2) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def project_on_segments(lat: float, lon: float, lat0, lon0, lat1, lon1):
    """Nearest point of each segment to (lat, lon) in a local tangent plane: (distance_m, t, plat, plon).

    The plane is centred on the query point; segments are at most a few hundred metres away, where the
    flat approximation errs by millimetres.
    """
    k = math.radians(1.0) * EARTH_RADIUS_M
    kx = k * math.cos(math.radians(lat))
    dlon0 = (np.asarray(lon0) - lon + 540.0) % 360.0 - 180.0
    dlon1 = (np.asarray(lon1) - lon + 540.0) % 360.0 - 180.0
    ax, ay = dlon0 * kx, (np.asarray(lat0) - lat) * k
    bx, by = dlon1 * kx, (np.asarray(lat1) - lat) * k
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(length2 > 0, -(ax * dx + ay * dy) / length2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    px, py = ax + t * dx, ay + t * dy
    dist = np.hypot(px, py)
    plat = lat + py / k
    plon = lon + px / kx
    return dist, t, plat, plon
