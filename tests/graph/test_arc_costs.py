"""The matrix's arc costs are written at build time and memory-mapped: equal to computing them from the graph, a
shortcut costs the sum of its halves, and the matrix reads the stored files (one copy shared by the workers)."""

from __future__ import annotations

import numpy as np
import pytest

from lds.graph.arc_costs import FILES, compute_arc_costs, stored_arc_costs
from lds.routing_matrix import arc_costs


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_stored_arc_costs_equal_computed_ones_and_shortcuts_add_up(mode, car, walk):
    graph = {"car": car, "walk": walk}[mode]
    stored = stored_arc_costs(graph.arrays)
    assert stored is not None, f"the build wrote no {FILES}"
    computed = compute_arc_costs(graph.router.views, graph.router.edge_based)
    for field in ("dur", "dist", "loop_dur", "loop_dist"):
        assert np.array_equal(getattr(stored, field), getattr(computed, field)), field
    c1, c2 = np.asarray(graph.ch_arc_c1), np.asarray(graph.ch_arc_c2)
    short = np.flatnonzero(c1 >= 0)
    assert len(short) > 0
    np.testing.assert_allclose(stored.dist[short], stored.dist[c1[short]] + stored.dist[c2[short]], rtol=1e-9)
    np.testing.assert_allclose(stored.dur[short], stored.dur[c1[short]] + stored.dur[c2[short]], rtol=1e-9)
    original = np.flatnonzero(c1 < 0)
    edge = np.asarray(graph.ch_arc_label)[original]
    assert np.array_equal(stored.dist[original], np.asarray(graph.edge_length, dtype=np.float64)[edge])
    # the car adds each turn's duration to the edge turned onto; walking has free turns
    extra = stored.dur[original] - np.asarray(graph.edge_time, dtype=np.float64)[edge]
    assert (extra >= -1e-9).all() and ((extra > 0).any() if mode == "car" else (np.abs(extra) < 1e-9).all())


def test_the_matrix_reads_the_stored_files(car):
    costs = arc_costs(car)
    assert np.shares_memory(costs.dur, np.asarray(car.arrays["ch_arc_dur"]))
    assert np.shares_memory(costs.dist, np.asarray(car.arrays["ch_arc_dist"]))
