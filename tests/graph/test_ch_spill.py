"""The contractor keeps only live arcs in memory and spills finished ones to files, read back column by column at
export: what it hands to a sink must be what it returns in memory, core (arcs listed twice) included."""

from __future__ import annotations

import numpy as np
import pytest

from lds.graph import _ch, prepare
from lds.graph.dissection import nested_dissection, positions


def _arcs(car) -> dict[str, np.ndarray]:
    tg = prepare.turn_graph(car.arrays, "car")
    return {"tail": tg["from"], "head": tg["to"], "weight": tg["arc_w"], "label": tg["to"]}


@pytest.mark.parametrize("ordered", [False, True])
def test_sink_receives_what_memory_holds(car, ordered):
    """With a core (contraction stopped at 6 arcs) or with the rest in dissection order, the arrays sent to a
    sink equal those returned in memory, and the counts match them."""
    x, y = positions(car.arrays, True)
    core_order = (lambda nodes, t, h: nested_dissection(nodes, t, h, x, y)) if ordered else None
    n = car.n_edges
    kwargs = {"core_degree": 6, "core_order": core_order}
    arcs = _arcs(car)
    in_memory = _ch.contract(n, arcs, 50, **kwargs)
    assert arcs == {}  # taken over by the contractor
    sunk = {}
    rest = _ch.contract(n, _arcs(car), 50, sink=lambda name, a: sunk.__setitem__(name, np.array(a)), **kwargs)
    assert (in_memory["core_size"][0] > 0) != ordered
    for name, array in sunk.items():
        np.testing.assert_array_equal(array, in_memory[name], err_msg=name)
    assert set(sunk) | set(rest) == set(in_memory)
    c1 = in_memory["arc_c1"]
    assert rest["_arcs"] == len(c1) and rest["_shortcuts"] == np.count_nonzero(c1 >= 0) > 0


def test_core_arcs_are_listed_both_ways(car):
    """A core arc sits in its tail's forward list and its head's backward list, with the same weight; every
    shortcut id points at an exported arc."""
    ch = _ch.contract(car.n_edges, _arcs(car), 50, core_degree=6)
    n = len(ch["rank"])
    core = np.arange(n) >= n - ch["core_size"][0]  # the hierarchy's own numbers are its ranks
    tail_f = np.repeat(np.arange(n), np.diff(ch["fwd_off"]))
    head_b = np.repeat(np.arange(n), np.diff(ch["bwd_off"]))
    fwd = {
        (int(t), int(h)): int(w)
        for t, h, w in zip(tail_f, ch["fwd_head"], ch["fwd_w"], strict=True)
        if core[t] and core[h]
    }
    bwd = {
        (int(t), int(h)): int(w)
        for t, h, w in zip(ch["bwd_tail"], head_b, ch["bwd_w"], strict=True)
        if core[t] and core[h]
    }
    assert fwd and fwd == bwd
    c1 = ch["arc_c1"]
    assert ((c1 >= -1) & (c1 < len(c1))).all() and ((ch["arc_c2"] >= -1) & (ch["arc_c2"] < len(c1))).all()
