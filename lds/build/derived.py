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
from lds.formats import DERIVED_ARRAYS, DERIVED_PREFIX


def derived_files(graph_dir: Path, parts: tuple[str, ...]) -> list[Path]:
    """The files the parts ``parts`` are written to in ``graph_dir``."""
    return [graph_dir / f"{DERIVED_PREFIX}{part}_{name}.npy" for part in parts for name in DERIVED_ARRAYS[part]]


def derived_outputs(graph_dir: Path, parts: tuple[str, ...]) -> list[Path]:
    """A stage's outputs (deleted before it runs again): the files and the partial files a killed run left."""
    files = derived_files(graph_dir, parts)
    return files + [_partial(f) for f in files]


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".part")  # never globbed as an array by a loader


GRAPH_PARTS = ("search", "spaces", "snapping", "claims", "cutoff")  # derived from each mode's graph, after its hierarchy
FOOT_PARTS = ("foot",)  # derived in the car graph's dir from the car and walking graphs


def _load(graph_dir: Path, mode: str):
    """The graph as a server loads it, minus any derived array (so the structures are computed, not read back)."""
    from lds.graph.store import RoadGraph

    graph = RoadGraph.load(graph_dir, mode)
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


def derive_graph(graph_dir: Path, mode: str, progress: Progress) -> dict:
    """The isolines' search index, the alternatives' float upward weights, the claiming roads and the roads cut off
    from the network of one mode."""
    from lds.graph.search import search_index
    from lds.isoline_shape import claim_boxes, cutoff_boxes, snapping_edges
    from lds.routing_alternatives import alternative_spaces

    graph = _load(Path(graph_dir), mode)
    size = _save(graph.path, "search", search_index(graph).arrays())
    size += _save(graph.path, "spaces", alternative_spaces(graph).arrays())
    size += _save(graph.path, "snapping", {"edges": snapping_edges(graph)})
    boxes = claim_boxes(graph)
    size += _save(graph.path, "claims", {"edges": boxes.edges, "bounds": boxes.bounds})
    boxes = cutoff_boxes(graph)
    size += _save(graph.path, "cutoff", {"edges": boxes.edges, "bounds": boxes.bounds})
    progress(f"{mode} derived", f"{size / 2**20:.1f} MiB of arrays for serving")
    return {"derived_bytes": size}


def derive_foot(car_dir: Path, walk_dir: Path, progress: Progress) -> dict:
    """Park and walk's network (lds.isoline_walk): the walking graph's walking-only ways and where they meet the
    car graph's roads, written in the car graph's dir."""
    from lds.isoline_walk import foot_network

    car, walk = _load(Path(car_dir), "car"), _load(Path(walk_dir), "walk")
    net = foot_network(car, walk)
    arrays = {name: getattr(net, name) for name in DERIVED_ARRAYS["foot"] if not name.startswith("ways_")}
    size = _save(car.path, "foot", {**arrays, "ways_edges": net.ways.edges, "ways_bounds": net.ways.bounds})
    progress("foot derived", f"{size / 2**20:.1f} MiB of arrays for park and walk")
    return {"derived_bytes": size}
