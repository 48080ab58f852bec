"""The matrix's arc costs are written at build time and memory-mapped: equal to computing them from the graph, a
shortcut costs the sum of its halves, and the matrix reads the stored files (one copy shared by the workers). The
build compacts the hierarchy's arcs (no head or label array) and queries answer as over the contraction's arrays."""

from __future__ import annotations

import numpy as np
import pytest

from lds.build.derived import compact_arcs
from lds.formats import CH_COMPACTED
from lds.graph.arc_costs import FILES, compute_arc_costs, stored_arc_costs
from lds.routing_matrix import arc_costs


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_stored_arc_costs_equal_computed_ones_and_shortcuts_add_up(mode, car, walk):
    graph = {"car": car, "walk": walk}[mode]
    stored = stored_arc_costs(graph.arrays)
    assert stored is not None, f"the build wrote no {FILES}"
    computed = compute_arc_costs(graph.router.views, graph.router.edge_based)
    for field in ("dur", "dist", "loop_dur", "loop_dist"):
        assert getattr(stored, field).dtype == np.float32, field
        assert np.array_equal(getattr(stored, field), getattr(computed, field)), field
    c1, c2 = np.asarray(graph.ch_arc_c1), np.asarray(graph.ch_arc_c2)
    short = np.flatnonzero(c1 >= 0)
    assert len(short) > 0
    # float32, each rounded once from its float64 sum: halves add up to within a few float32 roundings
    dist, dur = stored.dist.astype(np.float64), stored.dur.astype(np.float64)
    np.testing.assert_allclose(dist[short], dist[c1[short]] + dist[c2[short]], rtol=4e-7)
    np.testing.assert_allclose(dur[short], dur[c1[short]] + dur[c2[short]], rtol=4e-7)
    original = np.flatnonzero(c1 < 0)
    edge = ~c1[original]  # compacted by the build: an original arc's first half holds ~edge
    assert np.array_equal(stored.dist[original], np.asarray(graph.edge_length)[edge])
    # the car adds each turn's duration to the edge turned onto; walking has free turns
    extra = dur[original] - np.asarray(graph.edge_time, dtype=np.float64)[edge]
    assert (extra >= -1e-3).all() and ((extra > 0).any() if mode == "car" else (np.abs(extra) < 1e-9).all())


def test_the_matrix_reads_the_stored_files(car):
    costs = arc_costs(car)
    assert np.shares_memory(costs.dur, np.asarray(car.arrays["ch_arc_dur"]))
    assert np.shares_memory(costs.dist, np.asarray(car.arrays["ch_arc_dist"]))


def test_the_build_compacts_the_arcs(car, walk):
    for graph in (car, walk):
        assert not any(name in graph.arrays for name in CH_COMPACTED)
        c1 = np.asarray(graph.ch_arc_c1)
        assert ((c1 >= -graph.n_edges) & (c1 < len(c1))).all()  # a first half, or ~edge


@pytest.mark.parametrize("edge_based", [True, False])
def test_compacted_arcs_answer_as_the_contraction_s_and_compacting_again_changes_nothing(tmp_path, edge_based):
    from lds.build.roads import write_graph
    from lds.graph import prepare
    from lds.graph.router import hierarchy_query
    from lds.graph.store import RoadGraph
    from lds.graph.synthetic import grid_graph

    mode = "car" if edge_based else "walk"
    write_graph(grid_graph(14, 14, mode=mode, jitter=0.1, seed=5), tmp_path / "g")
    stats = prepare.prepare_routing(tmp_path / "g", mode)
    before = RoadGraph.load(tmp_path / "g", mode)
    label, c1 = np.array(before.ch_arc_label), np.array(before.ch_arc_c1)
    costs = compute_arc_costs(before.arrays, edge_based)
    rng = np.random.default_rng(1)
    pairs = rng.integers(0, stats["nodes"], size=(150, 2)).astype(np.int32)
    zero = np.zeros(1)

    def answers(graph):
        q = hierarchy_query(graph)
        out = []
        for s, t in pairs:
            found = q.route(pairs[:0, 0] + s, zero, pairs[:0, 0] + t, zero)
            out.append(None if found is None else (found[0], found[1], found[2], found[3].tolist(), found[4].tolist()))
        return out

    expected = answers(before)
    del before
    assert compact_arcs(tmp_path / "g") > 0
    assert compact_arcs(tmp_path / "g") == 0  # a second run (an interrupted stage run again) finds nothing to do
    after = RoadGraph.load(tmp_path / "g", mode)
    assert not any(name in after.arrays for name in CH_COMPACTED)
    assert np.array_equal(np.asarray(after.ch_arc_c1), np.where(c1 >= 0, c1, ~label))
    assert answers(after) == expected
    again = compute_arc_costs(after.arrays, edge_based)  # costs from the compacted arrays: the same
    for field in ("dur", "dist", "loop_dur", "loop_dist"):
        assert np.array_equal(getattr(again, field), getattr(costs, field)), field
