"""The distance matrix (lds.routing_matrix): every cell is what a single route between the two points reports."""

from __future__ import annotations

import numpy as np
import pytest

from lds.errors import BadRequest, OutOfCoverage


def _points(graph, n: int, seed: int) -> list[tuple[float, float]]:
    """Points near random road vertices of the mode (a few metres off the road), reproducibly."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(graph.geom_lon), n)
    return [
        (float(graph.geom_lon[k]) + rng.normal(0, 5e-5), float(graph.geom_lat[k]) + rng.normal(0, 5e-5)) for k in idx
    ]


@pytest.mark.parametrize("mode", ["car", "walk", "bike"])
def test_every_cell_equals_the_single_route(lds_core, mode):
    points = _points(lds_core.graphs[mode], 14, seed=7)
    m = lds_core.matrix(points, None, mode)
    assert len(m["durations"]) == len(m["distances"]) == 14
    for i, a in enumerate(points):
        for j, b in enumerate(points):
            route = lds_core.route(a, b, mode=mode)
            assert m["durations"][i][j] == pytest.approx(route["duration"], abs=0.11), (i, j)
            assert m["distances"][i][j] == pytest.approx(route["distance"], abs=0.11), (i, j)


def test_rectangular_and_one_annotation(lds_core):
    car = lds_core.graphs["car"]
    origins, destinations = _points(car, 3, seed=1), _points(car, 5, seed=2)
    m = lds_core.matrix(origins, destinations, "car", ["distance"])
    assert "durations" not in m and len(m["distances"]) == 3 and all(len(row) == 5 for row in m["distances"])
    assert len(m["origins"]) == 3 and len(m["destinations"]) == 5
    assert m["destinations"][0]["snap_distance"] >= 0


def test_limits_and_bad_input(lds_core):
    from lds.settings import Settings

    small = lds_core.settings
    assert small.matrix_max_origins == Settings.from_env(env={}).matrix_max_origins
    too_many = [(7.42, 43.73)] * (small.matrix_max_origins + 1)
    with pytest.raises(BadRequest, match="origins"):
        lds_core.matrix(too_many)
    with pytest.raises(BadRequest, match="annotations"):
        lds_core.matrix([(7.42, 43.73)], annotations=["speed"])
    with pytest.raises(BadRequest, match="empty"):
        lds_core.matrix([])
    with pytest.raises(OutOfCoverage, match=r"destinations\[1\]"):
        lds_core.matrix([(7.4197, 43.7311)], [(7.4197, 43.7311), (2.35, 48.85)])


def test_unreachable_cells_are_none(lds_core):
    """A point in a car component that cannot be left (or reached) shows as None, not a number."""
    from lds.routing_matrix import matrix_costs

    car = lds_core.graphs["car"]
    snapper = car.snapper
    a = snapper.snap(7.4197, 43.7311, 500)
    dur, dist = matrix_costs(car, [a], [a])
    assert dur[0, 0] == 0 and dist[0, 0] == 0
    # A hand-made snap on an edge outside the largest component: some direction to or from it has no route.
    labels = np.asarray(car.router.views["edge_src"])
    from lds.graph.snap import Snap

    scc = car.largest_scc
    comp = np.asarray(car.arrays["node_scc"]) if "node_scc" in car.arrays else None
    if comp is None:
        pytest.skip("no component labels stored in this build")
    outside = np.flatnonzero(comp[labels] != scc)
    if len(outside) == 0:
        pytest.skip("Monaco's car graph has no edge outside its largest component")
    e = int(outside[0])
    lon, lat = float(car.geom_lon[car.edge_geom_off[e]]), float(car.geom_lat[car.edge_geom_off[e]])
    b = Snap(e, 0.5, lon, lat, 0.0, (lon, lat))
    dur, _ = matrix_costs(car, [a, b], [a, b])
    assert np.isnan(dur[0, 1]) or np.isnan(dur[1, 0])


def test_rows_round_and_null_the_unreachable():
    from lds.routing_matrix import _rows

    rows = _rows(np.array([[1.04, np.nan], [2.25, 3.0]]))
    assert rows == [[1.0, None], [2.2, 3.0]] or rows == [[1.0, None], [2.3, 3.0]]
    assert all(type(x) is float for x in rows[1])
