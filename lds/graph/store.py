"""A built road graph of one mode, loaded as memory-mapped numpy arrays.

Forked gunicorn workers share the mapped pages, so N workers do not cost N copies of the graph.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lds.settings import SETTINGS

SCRATCH_BYTES = next(s.default for s in SETTINGS if s.name == "search_scratch_mb") * 2**20  # LDS.__init__ sets it


class RoadGraph:
    """Nodes, directed edges with geometry, names, and (when built) the routing hierarchy."""

    def __init__(self, path: Path, mode: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]):
        self.path = path
        self.mode = mode
        self.arrays = arrays
        self.names: list[str] = meta["names"]
        self.counts: dict[str, Any] = meta.get("counts", {})
        for key, value in arrays.items():
            setattr(self, key, value)
        self.largest_scc = int(arrays["largest_scc"][0])
        self._snapper = None
        self._router = None
        # What a search's scratch (per-node labels, costs) may keep between searches before its pages go back to
        # the system (lds.graph.scratch); the server sets it from its settings before any search runs.
        self.scratch_bytes = SCRATCH_BYTES

    @classmethod
    def load(cls, path: str | Path, mode: str, skip: tuple[str, ...] = ()) -> RoadGraph:
        """The graph's arrays memory-mapped, except those whose names start with one of ``skip``."""
        path = Path(path)
        arrays = {p.stem: np.load(p, mmap_mode="r") for p in sorted(path.glob("*.npy"))
                  if not (skip and p.stem.startswith(skip))}
        meta = json.loads((path / "graph.json").read_text())
        return cls(path, mode, arrays, meta)

    @property
    def n_nodes(self) -> int:
        return len(self.node_osm)

    @property
    def n_edges(self) -> int:
        return len(self.edge_src)

    def edge_coords(self, edge: int) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes and latitudes of one edge's geometry, in travel order."""
        a, b = self.edge_geom_off[edge], self.edge_geom_off[edge + 1]
        return self.geom_lon[a:b], self.geom_lat[a:b]

    def edge_name(self, edge: int) -> str:
        return self.names[int(self.arrays["edge_name"][edge])]

    @property
    def snapper(self):
        """Nearest-edge index, built on first use (about 0.1 s per 100k edges)."""
        if self._snapper is None:
            from lds.graph.snap import Snapper

            self._snapper = Snapper(self)
        return self._snapper

    @property
    def router(self):
        """Point-to-point queries on the routing hierarchy written at build time (lds.graph.prepare)."""
        if self._router is None:
            from lds.graph.router import Router

            self._router = Router(self)
        return self._router

    def summary(self) -> dict[str, Any]:
        return {"nodes": self.n_nodes, "edges": self.n_edges, **{k: v for k, v in self.counts.items()
                                                                  if k not in ("nodes", "edges")}}
