"""A street's representative point (streets.central_points): computed for every street of a chunk at once, each
must be the point :func:`central_point` picks for that street alone, ties to the first as ``argmin`` does."""

from __future__ import annotations

import numpy as np

from lds.geocoding.streets import central_point, central_points


def test_central_points_of_runs_are_each_run_s_own() -> None:
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(1, 2000))
        lat, lon = rng.uniform(40, 60, n), rng.uniform(0, 20, n)
        if trial % 3 == 0:  # coarse coordinates: equal distances to the centre
            lat, lon = np.round(lat, 2), np.round(lon, 2)
        starts = np.unique(np.r_[0, rng.integers(0, n, int(rng.integers(0, 50)))])
        ends = np.r_[starts[1:], n]
        want = [s + central_point(lat[s:e], lon[s:e]) for s, e in zip(starts.tolist(), ends.tolist())]
        assert central_points(lat, lon, starts).tolist() == want
