"""Spherical-geometry helpers shared by routing, isolines and geocoding (metres, degrees).

Every function takes longitude before latitude, as GeoJSON and the ``lon,lat`` parameters do.
``haversine_m`` works on numpy arrays (and scalars); ``distance_m`` is its plain-float twin for hot scalar
code, where numpy's per-call overhead dominates.

Points go into KD-trees as Earth-centred 3D vectors in metres (``ecef``, on a sphere): the chord length
equals the great-circle distance to well under a millimetre at the radii searched, and it works for an
extract anywhere on Earth, including ones crossing the antimeridian, with no projection to choose.
"""

from __future__ import annotations

import math

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres; works on scalars and arrays."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """``haversine_m`` for two plain points, with the math module (several times faster on scalars)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def ecef(lon, lat) -> np.ndarray:
    """(n, 3) array (or (3,) for one point) of points on a sphere of Earth's radius, in metres."""
    lon = np.radians(np.asarray(lon, dtype=np.float64))
    lat = np.radians(np.asarray(lat, dtype=np.float64))
    c = np.cos(lat)
    return np.stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)], axis=-1) * EARTH_RADIUS_M


def chord_to_arc(d):
    """Great-circle distance for a chord length (both in metres)."""
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(np.asarray(d) / (2.0 * EARTH_RADIUS_M), 1.0))


def local_xy(lon, lat, lon0: float, lat0: float):
    """Equirectangular projection in metres around (lon0, lat0): exact enough within a few km."""
    k = np.radians(1.0) * EARTH_RADIUS_M
    x = (np.asarray(lon, dtype=np.float64) - lon0) * k * np.cos(np.radians(lat0))
    y = (np.asarray(lat, dtype=np.float64) - lat0) * k
    return x, y


def project_on_segments(lon: float, lat: float, lon0, lat0, lon1, lat1):
    """Nearest point of each segment to (lon, lat) in a local tangent plane: (distance_m, t, plon, plat).

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
    return dist, t, lon + px / kx, lat + py / k
