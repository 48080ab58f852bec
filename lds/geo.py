"""Small spherical-geometry helpers on numpy arrays (metres, degrees)."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres; works on scalars and arrays."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def to_unit_xyz(lon, lat) -> np.ndarray:
    """Points on the unit sphere (N x 3): a KD-tree over these finds neighbours anywhere on Earth."""
    lon, lat = np.radians(np.asarray(lon, dtype=np.float64)), np.radians(np.asarray(lat, dtype=np.float64))
    c = np.cos(lat)
    return np.column_stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)])


def chord_for_m(metres: float) -> float:
    """Unit-sphere chord length matching a great-circle distance, for KD-tree radius queries."""
    return 2 * np.sin(metres / (2 * EARTH_RADIUS_M))


def bearing_deg(lon1, lat1, lon2, lat2):
    """Initial bearing 0..360 (0 = north, clockwise)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (lon1, lat1, lon2, lat2))
    y = np.sin(lon2 - lon1) * np.cos(lat2)
    x = np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(lon2 - lon1)
    return (np.degrees(np.arctan2(y, x)) + 360.0) % 360.0


def local_xy(lon, lat, lon0: float, lat0: float):
    """Equirectangular projection in metres around (lon0, lat0): exact enough within a few km."""
    k = np.radians(1.0) * EARTH_RADIUS_M
    x = (np.asarray(lon, dtype=np.float64) - lon0) * k * np.cos(np.radians(lat0))
    y = (np.asarray(lat, dtype=np.float64) - lat0) * k
    return x, y
