"""Build stages deriving what a server would otherwise build from a graph at load (:data:`lds.formats.DERIVED_ARRAYS`).

The serving modules' own constructors make the structures here, on a graph loaded without them, and their arrays
are written beside the graph; a server then maps these files instead of building the structures at each start and
each data swap and holding them in anonymous memory (shared page cache across servers and workers instead). The
same code computes both, so the answers are the same with or without the files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lds.build.progress import Progress
from lds.formats import CH_COMPACTED, DERIVED_ARRAYS, DERIVED_PREFIX

CHUNK = 1 << 22  # arcs per chunk of the hierarchy's compaction


def derived_files(graph_dir: Path, parts: tuple[str, ...]) -> list[Path]:
    """The files the parts ``parts`` are written to in ``graph_dir``."""
    return [graph_dir / f"{DERIVED_PREFIX}{part}_{name}.npy" for part in parts for name in DERIVED_ARRAYS[part]]


def derived_outputs(graph_dir: Path, parts: tuple[str, ...]) -> list[Path]:
    """A stage's outputs (deleted before it runs again): the files and the partial files a killed run left."""
    files = derived_files(graph_dir, parts)
    return files + [_partial(f) for f in files]


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".part")  # never globbed as an array by a loader


GRAPH_PARTS = ("search", "snapping", "claims", "cutoff")  # derived from each mode's graph, after its hierarchy
FOOT_PARTS = ("foot",)  # derived in the car graph's dir from the car and walking graphs


def _load(graph_dir: Path, mode: str, arcs: bool = True):
    """The graph as a server loads it, minus any derived array (so the structures are computed, not read back). With
    ``arcs`` False, also without the hierarchy's per-arc arrays (``ch_arc_*``): park and walk's stage needs none, and
    runs beside the graphs' own derived stages, which may be compacting them (:func:`compact_arcs`) meanwhile."""
    from lds.graph.store import RoadGraph

    graph = RoadGraph.load(graph_dir, mode, skip=() if arcs else ("ch_arc_",))
    for name in [k for k in graph.arrays if k.startswith(DERIVED_PREFIX)]:
        del graph.arrays[name]
        delattr(graph, name)
    return graph


def _save(graph_dir: Path, part: str, arrays: dict[str, np.ndarray]) -> int:
    """Write one part's arrays (each to a temporary name, then renamed); their size in bytes."""
    size = 0
    for name, path in zip(DERIVED_ARRAYS[part], derived_files(graph_dir, (part,)), strict=True):
        tmp = _partial(path)
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(arrays[name]))
        tmp.rename(path)
        size += path.stat().st_size
    return size


def compact_arcs(graph_dir: Path) -> int:
    """Fold the contraction's per-arc label into ``ch_arc_c1`` (``~edge`` where it held -1, rewritten chunk by chunk
    and renamed over it), then delete the labels and heads (:data:`lds.formats.CH_COMPACTED`); the bytes saved.
    Safe to run again after an interruption: the labels are deleted only once the new first halves are in place,
    and folding them in twice gives the same array."""
    from numpy.lib.format import open_memmap

    graph_dir = Path(graph_dir)
    label_file, path = graph_dir / f"{CH_COMPACTED[0]}.npy", graph_dir / "ch_arc_c1.npy"
    before = sum(f.stat().st_size for f in graph_dir.glob("ch_arc_*.npy"))
    if label_file.is_file():
        label, c1 = np.load(label_file, mmap_mode="r"), np.load(path, mmap_mode="r")
        tmp = _partial(path)
        out = open_memmap(tmp, mode="w+", dtype=np.int32, shape=c1.shape)
        for lo in range(0, len(c1), CHUNK):
            first = np.asarray(c1[lo:lo + CHUNK])
            out[lo:lo + CHUNK] = np.where(first >= 0, first, ~np.asarray(label[lo:lo + CHUNK]))
        out.flush()
        del out, label, c1
        tmp.replace(path)
    for name in CH_COMPACTED:
        (graph_dir / f"{name}.npy").unlink(missing_ok=True)
    return before - sum(f.stat().st_size for f in graph_dir.glob("ch_arc_*.npy"))


def derive_graph(graph_dir: Path, mode: str, progress: Progress) -> dict:
    """The isolines' search index, the claiming roads and the roads cut off from the network of one mode; then the
    hierarchy's arcs compacted for serving (:func:`compact_arcs`)."""
    from lds.graph.search import search_index
    from lds.isoline_shape import claim_boxes, cutoff_boxes, snapping_edges

    graph = _load(Path(graph_dir), mode)
    size = _save(graph.path, "search", search_index(graph).arrays())
    size += _save(graph.path, "snapping", {"edges": snapping_edges(graph)})
    boxes = claim_boxes(graph)
    size += _save(graph.path, "claims", {"edges": boxes.edges, "bounds": boxes.bounds})
    boxes = cutoff_boxes(graph)
    size += _save(graph.path, "cutoff", {"edges": boxes.edges, "bounds": boxes.bounds})
    del graph, boxes
    saved = compact_arcs(graph_dir)
    progress(f"{mode} derived", f"{size / 2**20:.1f} MiB of arrays for serving, hierarchy arcs "
                                f"{saved / 2**20:.1f} MiB smaller")
    return {"derived_bytes": size, "compacted_bytes": saved}


def derive_foot(car_dir: Path, walk_dir: Path, progress: Progress) -> dict:
    """Park and walk's network (lds.isoline_walk): the walking graph's walking-only ways and where they meet the
    car graph's roads, written in the car graph's dir."""
    from lds.isoline_walk import foot_network

    car, walk = _load(Path(car_dir), "car", arcs=False), _load(Path(walk_dir), "walk", arcs=False)
    net = foot_network(car, walk)
    arrays = {name: getattr(net, name) for name in DERIVED_ARRAYS["foot"] if not name.startswith("ways_")}
    size = _save(car.path, "foot", {**arrays, "ways_edges": net.ways.edges, "ways_bounds": net.ways.bounds})
    progress("foot derived", f"{size / 2**20:.1f} MiB of arrays for park and walk")
    return {"derived_bytes": size}
