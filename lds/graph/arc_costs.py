"""Duration and distance of every hierarchy arc, for the distance matrix (which reports both, not the weight).

An original arc's cost is its road edge's (plus, on the turn-aware car graph, the turn's duration, as routes
add it); a shortcut's is the sum of its two halves. Written at build time beside the hierarchy (``ch_arc_dur``,
``ch_arc_dist``, ``ch_loop_dur``, ``ch_loop_dist``) so served workers memory-map one shared copy: computed per
worker on first use they cost ~1 GB and seconds per million road nodes. Originals are filled in chunks into the
output arrays (memory-mapped files at build time), so a country's arcs never need several full-size temporaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from lds.formats import FLAG_RESTRICTED, RESTRICTED_ENTRY_PENALTY_S

FILES = ("ch_arc_dur", "ch_arc_dist", "ch_loop_dur", "ch_loop_dist")
CHUNK = 1 << 22  # arcs per chunk of the originals' pass


@dataclass(frozen=True)
class ArcCosts:
    """Duration (s) and distance (m) of every hierarchy arc (shortcuts: the sum of the arcs they stand for), and
    of every node's cheapest loop."""

    dur: np.ndarray
    dist: np.ndarray
    loop_dur: np.ndarray
    loop_dist: np.ndarray


def fill_arc_costs(v: Mapping[str, np.ndarray], edge_based: bool, dur: np.ndarray, dist: np.ndarray,
                   loop_dur: np.ndarray, loop_dist: np.ndarray) -> None:
    """Fill the four output arrays (float64, arcs and hierarchy nodes long) from a graph's arrays ``v``
    (road ``edge_*`` and hierarchy ``ch_*``)."""
    from lds.graph._matrix import shortcut_costs

    label, c1 = v["ch_arc_label"], v["ch_arc_c1"]
    time, length, flags, edge_w = v["edge_time"], v["edge_length"], v["edge_flags"], v["ch_edge_w"]
    for lo in range(0, len(c1), CHUNK):
        hi = min(lo + CHUNK, len(c1))
        original = c1[lo:hi] < 0
        edge = np.where(original, label[lo:hi], 0)
        chunk_dur = np.where(original, time[edge].astype(np.float64), 0.0)
        dist[lo:hi] = np.where(original, length[edge].astype(np.float64), 0.0)
        if edge_based:  # an arc is a turn onto its head edge: add the turn's duration, as routes do
            tail, arc_w = _tails_and_weights(v, lo, hi)
            turn = arc_w - edge_w[edge]
            entering = ((flags[edge] & FLAG_RESTRICTED) != 0) & (
                (flags[np.where(original, tail, 0)] & FLAG_RESTRICTED) == 0
            )
            turn -= np.where(entering, RESTRICTED_ENTRY_PENALTY_S * 1000.0, 0.0)
            chunk_dur += np.where(original, np.maximum(np.rint(turn), 0.0) / 1000.0, 0.0)
        dur[lo:hi] = chunk_dur
    shortcut_costs(np.ascontiguousarray(c1), np.ascontiguousarray(v["ch_arc_c2"]), dur, dist)
    lc1, lc2 = v["ch_loop_c1"], v["ch_loop_c2"]
    has = lc1 >= 0
    a, b = np.maximum(lc1, 0), np.maximum(lc2, 0)
    loop_dur[:] = np.where(has, dur[a] + dur[b], 0.0)
    loop_dist[:] = np.where(has, dist[a] + dist[b], 0.0)


def _tails_and_weights(v: Mapping[str, np.ndarray], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Tail node and weight of arcs ``lo:hi`` (numbered forward lists first, then backward ones)."""
    n_fwd = len(v["ch_fwd_head"])
    tails, weights = [], []
    if lo < min(hi, n_fwd):
        owner = np.searchsorted(v["ch_fwd_off"], np.arange(lo, min(hi, n_fwd), dtype=np.int64), side="right") - 1
        tails.append(owner)
        weights.append(v["ch_fwd_w"][lo:min(hi, n_fwd)])
    if max(lo, n_fwd) < hi:
        tails.append(v["ch_bwd_tail"][max(lo, n_fwd) - n_fwd:hi - n_fwd])
        weights.append(v["ch_bwd_w"][max(lo, n_fwd) - n_fwd:hi - n_fwd])
    return np.concatenate(tails), np.concatenate(weights).astype(np.float64)


def compute_arc_costs(v: Mapping[str, np.ndarray], edge_based: bool) -> ArcCosts:
    """The arc costs in memory (data built before they were written at build time)."""
    n_arcs, n = len(v["ch_arc_c1"]), len(v["ch_loop_c1"])
    costs = ArcCosts(np.empty(n_arcs), np.empty(n_arcs), np.empty(n), np.empty(n))
    fill_arc_costs(v, edge_based, costs.dur, costs.dist, costs.loop_dur, costs.loop_dist)
    return costs


def write_arc_costs(v: Mapping[str, np.ndarray], edge_based: bool, graph_dir: Path) -> None:
    """Write the arc costs as ``.npy`` files in ``graph_dir`` (filled in place, memory-mapped)."""
    n_arcs, n = len(v["ch_arc_c1"]), len(v["ch_loop_c1"])
    out = [open_memmap(graph_dir / f"{name}.npy", mode="w+", dtype=np.float64, shape=(size,))
           for name, size in zip(FILES, (n_arcs, n_arcs, n, n), strict=True)]
    fill_arc_costs(v, edge_based, *out)
    for array in out:
        array.flush()
    del out


def stored_arc_costs(arrays: Mapping[str, np.ndarray]) -> ArcCosts | None:
    """The arc costs written at build time, when the graph has them."""
    if not all(name in arrays for name in FILES):
        return None
    return ArcCosts(*(np.asarray(arrays[name]) for name in FILES))
