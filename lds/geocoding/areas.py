"""The locality polygons of an address index, for reverse geocoding's last fallback (a point with no address or
street near): memory-mapped with their boxes, a polygon parsed only when a point falls in its box, and the few a
server meets kept parsed. A real country's boundaries have millions of vertices (simplified by ~2 m only), which
each worker used to parse in full, with a tree over them, on its first such point."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import shapely

from lds.geocoding.store import WkbColumn, boxes_holding, mapped

PARSED_AREAS = 256  # polygons a process keeps parsed (a country's and its regions' serve every point inside them)


class Areas:
    """``areas.wkb`` + ``areas.offsets.npy`` (:class:`~lds.geocoding.store.WkbColumn`) and ``areas.bounds.npy``
    (made here for an index written before it)."""

    def __init__(self, directory: Path):
        directory = Path(directory)
        self.wkb = WkbColumn(directory, "areas")
        self.geom = lru_cache(maxsize=PARSED_AREAS)(self.wkb.__getitem__)
        self.bounds = mapped(directory, "areas.bounds") if (directory / "areas.bounds.npy").is_file() else self.wkb.bounds()

    def __len__(self) -> int:
        return len(self.wkb)

    def containing(self, lon: float, lat: float) -> list[int]:
        """The areas the point lies in or on the boundary of, in the files' order."""
        near = boxes_holding(self.bounds, lon, lat).tolist()
        return [k for k in near if shapely.intersects_xy(self.geom(k), lon, lat)]
