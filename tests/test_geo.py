"""One geo helper module, longitude first everywhere: checked against distances known independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lds.geo import EARTH_RADIUS_M, chord_to_arc, distance_m, ecef, haversine_m, local_xy, project_on_segments

DEGREE_M = math.pi * EARTH_RADIUS_M / 180  # one degree of a great circle


def test_longitude_comes_first():
    # one degree of longitude at 60 degrees north is half a degree of latitude: swapped arguments would say 1.0
    assert distance_m(10.0, 60.0, 11.0, 60.0) == pytest.approx(DEGREE_M * 0.5, rel=2e-3)
    assert distance_m(10.0, 60.0, 10.0, 61.0) == pytest.approx(DEGREE_M, rel=1e-9)
    assert float(haversine_m(10.0, 60.0, 11.0, 60.0)) == pytest.approx(distance_m(10.0, 60.0, 11.0, 60.0), rel=1e-12)


def test_array_and_scalar_forms_agree():
    rng = np.random.default_rng(7)
    lon1, lon2 = rng.uniform(-180, 180, 50), rng.uniform(-180, 180, 50)
    lat1, lat2 = rng.uniform(-89, 89, 50), rng.uniform(-89, 89, 50)
    many = haversine_m(lon1, lat1, lon2, lat2)
    assert many == pytest.approx([distance_m(*p) for p in zip(lon1, lat1, lon2, lat2)], rel=1e-9)
    chords = np.linalg.norm(ecef(lon1, lat1) - ecef(lon2, lat2), axis=1)
    assert chord_to_arc(chords) == pytest.approx(many, rel=1e-9)


def test_ecef_takes_longitude_first():
    assert ecef(90.0, 0.0) == pytest.approx([0.0, EARTH_RADIUS_M, 0.0], abs=1e-6)
    assert ecef(0.0, 90.0) == pytest.approx([0.0, 0.0, EARTH_RADIUS_M], abs=1e-6)
    assert ecef([90.0, 0.0], [0.0, 0.0]).shape == (2, 3)


def test_projection_on_segments_returns_longitude_first():
    # a segment running north along lon 7.42; the point sits 100 m east of its middle
    lon, lat = 7.42 + 100 / (DEGREE_M * math.cos(math.radians(43.73))), 43.73
    d, t, plon, plat = project_on_segments(lon, lat, [7.42], [43.72], [7.42], [43.74])
    assert d[0] == pytest.approx(100.0, abs=0.05) and t[0] == pytest.approx(0.5, abs=1e-3)
    assert plon[0] == pytest.approx(7.42, abs=1e-9) and plat[0] == pytest.approx(43.73, abs=1e-6)
    x, y = local_xy(lon, lat, 7.42, 43.73)
    assert float(x) == pytest.approx(100.0, abs=0.05) and float(y) == 0.0
