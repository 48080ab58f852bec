"""Duration and distance of every hierarchy arc, for the distance matrix (which reports both, not the weight).

An original arc's cost is its road edge's (plus, on the turn-aware car graph, the turn's duration, as routes
add it); a shortcut's is the sum of its two halves. Written at build time beside the hierarchy (``ch_arc_dur``,
``ch_arc_dist``, ``ch_loop_dur``, ``ch_loop_dist``) so served workers memory-map one shared copy: computed per
worker on first use they cost ~1 GB and seconds per million road nodes. Originals are filled in chunks into the
output arrays (memory-mapped files at build time), so a country's arcs never need several full-size temporaries;
at build time the inputs are read chunk by chunk from their files (:class:`NpyFiles`), so their pages do not stay
resident beside the outputs either.

They are stored as float32 (half the bytes of the hierarchy's largest arrays), each the float64 sum of its road
edges' values rounded once: a relative error under 6e-8 per arc, so a matrix cell (a few dozen arcs, added up in
float64) is off by ~1e-3 s / ~1e-2 m at most on a 5M-node country, far inside the 0.1 s / 0.1 m answers are rounded
to (a cell that close to a rounding boundary may round the other way: 0.1 from its route's figure). The edges' own
times and lengths are float32 already.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from lds.formats import CH_BY_RANK, FLAG_RESTRICTED, RESTRICTED_ENTRY_PENALTY_S

FILES = ("ch_arc_dur", "ch_arc_dist", "ch_loop_dur", "ch_loop_dist")
DTYPE = np.float32  # what is stored and served; sums are made in float64
CHUNK = 1 << 20  # arcs per chunk of the originals' pass (each needs ~100 bytes of temporaries per arc)


@dataclass(frozen=True)
class ArcCosts:
    """Duration (s) and distance (m) of every hierarchy arc (shortcuts: the sum of the arcs they stand for), and
    of every node's cheapest loop; float32 (float64 in builds of model version 3 and older)."""

    dur: np.ndarray
    dist: np.ndarray
    loop_dur: np.ndarray
    loop_dist: np.ndarray


class NpyFiles(Mapping):
    """The ``.npy`` files of a dir by name, each memory-mapped afresh on every access: a slice copied out of it
    leaves no page of the file resident once the map is dropped (a map kept open would keep every page read)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def __getitem__(self, name: str) -> np.ndarray:
        path = self.folder / f"{name}.npy"
        if not path.is_file():
            raise KeyError(name)
        return np.load(path, mmap_mode="r")

    def __iter__(self) -> Iterator[str]:
        return (p.stem for p in self.folder.glob("*.npy"))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _originals(v: Mapping[str, np.ndarray], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of arcs ``lo:hi`` are original arcs, and the road edge of each (0 for shortcuts): from the contraction's
    label, or, once the build compacted the arcs (:data:`lds.formats.CH_COMPACTED`), from ``ch_arc_c1`` (``~edge``)."""
    first = np.asarray(v["ch_arc_c1"][lo:hi])
    original = first < 0
    return original, np.where(original, v["ch_arc_label"][lo:hi] if "ch_arc_label" in v else ~first, 0)


def fill_arc_cost(v: Mapping[str, np.ndarray], edge_based: bool, what: str, out: np.ndarray,
                  loop_out: np.ndarray) -> None:
    """Fill one quantity (``"dur"`` or ``"dist"``) of every arc and loop into float64 ``out`` and ``loop_out``:
    originals chunk by chunk, then each shortcut as the sum of its halves."""
    from lds.graph._ch import shortcut_sums

    edge_time, length, flags, edge_w = (np.asarray(v[k]) for k in ("edge_time", "edge_length", "edge_flags",
                                                                   "ch_edge_w"))
    for lo in range(0, len(out), CHUNK):
        hi = min(lo + CHUNK, len(out))
        original, edge = _originals(v, lo, hi)
        if what == "dist":
            out[lo:hi] = np.where(original, length[edge].astype(np.float64), 0.0)
            continue
        chunk_dur = np.where(original, edge_time[edge].astype(np.float64), 0.0)
        if edge_based:  # an arc is a turn onto its head edge: add the turn's duration, as routes do
            tail, arc_w = _tails_and_weights(v, lo, hi)
            turn = arc_w - edge_w[edge]
            entering = ((flags[edge] & FLAG_RESTRICTED) != 0) & (
                (flags[np.where(original, tail, 0)] & FLAG_RESTRICTED) == 0
            )
            turn -= np.where(entering, RESTRICTED_ENTRY_PENALTY_S * 1000.0, 0.0)
            chunk_dur += np.where(original, np.maximum(np.rint(turn), 0.0) / 1000.0, 0.0)
        out[lo:hi] = chunk_dur
    shortcut_sums(np.ascontiguousarray(v["ch_arc_c1"]), np.ascontiguousarray(v["ch_arc_c2"]), out)
    lc1, lc2 = np.asarray(v["ch_loop_c1"]), np.asarray(v["ch_loop_c2"])
    loop_out[:] = np.where(lc1 >= 0, out[np.maximum(lc1, 0)] + out[np.maximum(lc2, 0)], 0.0)


def _tails_and_weights(v: Mapping[str, np.ndarray], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Tail node (the graph's) and weight of arcs ``lo:hi`` (numbered forward lists first, then backward ones)."""
    n_fwd = len(v["ch_fwd_head"])
    tails, weights = [], []
    if lo < min(hi, n_fwd):
        owner = np.searchsorted(np.asarray(v["ch_fwd_off"]), np.arange(lo, min(hi, n_fwd), dtype=np.int64),
                                side="right") - 1
        tails.append(owner)
        weights.append(v["ch_fwd_w"][lo:min(hi, n_fwd)])
    if max(lo, n_fwd) < hi:
        tails.append(v["ch_bwd_tail"][max(lo, n_fwd) - n_fwd:hi - n_fwd])
        weights.append(v["ch_bwd_w"][max(lo, n_fwd) - n_fwd:hi - n_fwd])
    tails = np.concatenate(tails)
    if CH_BY_RANK in v:  # a hierarchy numbered by rank: its tails as the graph's nodes
        tails = np.asarray(v[CH_BY_RANK])[tails]
    return tails, np.concatenate(weights).astype(np.float64)


def compute_arc_costs(v: Mapping[str, np.ndarray], edge_based: bool) -> ArcCosts:
    """The arc costs in memory (data built before they were written at build time)."""
    n_arcs, n = len(v["ch_arc_c2"]), len(v["ch_loop_c1"])
    out = []
    for what in ("dur", "dist"):
        arc, loop = np.empty(n_arcs), np.empty(n)
        fill_arc_cost(v, edge_based, what, arc, loop)
        out += [arc.astype(DTYPE), loop.astype(DTYPE)]
        del arc, loop
    return ArcCosts(out[0], out[2], out[1], out[3])


def write_arc_costs(graph_dir: Path, edge_based: bool) -> None:
    """Write the arc costs as float32 ``.npy`` files in ``graph_dir`` from the graph's and hierarchy's files there:
    summed in a float64 file beside them (memory-mapped, then deleted), rounded chunk by chunk into the output."""
    graph_dir = Path(graph_dir)
    v = NpyFiles(graph_dir)
    n_arcs, n = len(v["ch_arc_c2"]), len(v["ch_loop_c1"])
    for what, (arc_file, loop_file) in (("dur", FILES[::2]), ("dist", FILES[1::2])):  # one at a time: unmapped
        work = graph_dir / f"{arc_file}.float64.part"  # never globbed as an array by a loader
        sums = open_memmap(work, mode="w+", dtype=np.float64, shape=(n_arcs,))
        loop_sums = np.empty(n)
        fill_arc_cost(v, edge_based, what, sums, loop_sums)
        out = open_memmap(graph_dir / f"{arc_file}.npy", mode="w+", dtype=DTYPE, shape=(n_arcs,))
        for lo in range(0, n_arcs, CHUNK):
            out[lo:lo + CHUNK] = sums[lo:lo + CHUNK]
        out.flush()
        np.save(graph_dir / f"{loop_file}.npy", loop_sums.astype(DTYPE))
        del out, sums, loop_sums
        work.unlink()


def stored_arc_costs(arrays: Mapping[str, np.ndarray]) -> ArcCosts | None:
    """The arc costs written at build time, when the graph has them (float64 in builds of model version 3 and older,
    which the matrix reads as they are)."""
    if not all(name in arrays for name in FILES):
        return None
    return ArcCosts(*(np.asarray(arrays[name]) for name in FILES))
