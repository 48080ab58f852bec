"""The library facade: one object that owns the loaded data and answers every LDS service.

The HTTP API, the CLI, the batch worker and embedding programs all call this (Nominatim's
``NominatimAPI`` is the model). It knows nothing of Flask. Every method checks its inputs and limits with
the validators the HTTP layer uses (:mod:`lds.params`), so an embedding program gets the same 400s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lds import params as v
from lds.dataset import MODES, DataDir, default_data_dir
from lds.errors import BadRequest, Unavailable
from lds.settings import Settings
from lds.versions import note_served

log = logging.getLogger("lds")

LonLat = tuple[float, float]


class LDS:
    """Loaded data + settings; the entry point of the core library."""

    def __init__(self, settings: Settings | None = None, data_dir: str | Path | None = None, follow: bool = True):
        from lds.graph.store import RoadGraph

        self.settings = settings or Settings.from_env()
        path = data_dir or self.settings.data_dir or default_data_dir()
        if path is None:
            raise Unavailable("no data directory configured (set LDS_DATA_DIR or pass --data)", 503)
        t0 = time.perf_counter()
        self.data = DataDir.open(path, follow)  # follow: the version the dir's `current` names (lds.versions)
        self.graphs: dict[str, RoadGraph] = {}
        for mode in MODES:
            if self.data.graph_dir(mode).is_dir():
                self.graphs[mode] = RoadGraph.load(self.data.graph_dir(mode), mode)
                self.graphs[mode].scratch_bytes = max(0, self.settings.search_scratch_mb) * 2**20
        self.geocoder = self._load_geocoder()
        if self.data.root is not None:  # loaded whole: what the tables opened later in this process follow
            note_served(self.data.root, self.data.path)
        self.load_seconds = time.perf_counter() - t0
        log.info("loaded %s (version %s) in %.3f s", self.data.path, self.data_version, self.load_seconds)

    def warm(self) -> None:
        """Make the lazily made indexes now: the server calls this before forking workers, so they share these pages
        instead of each building its own copy on first use. A build of this lds wrote most of them as arrays
        (lds.build.derived), which are only mapped here; an older build has them computed (at a million nodes the
        isolines' search index alone is ~90 MB per mode, held in anonymous memory). The matrix's arc costs are left
        lazy: seconds per million nodes, too slow for a start-up."""
        from lds.graph.search import search_index
        from lds.isoline_shape import claim_boxes, snapping_edges
        from lds.isoline_walk import foot_network

        for graph in self.graphs.values():
            graph.snapper  # noqa: B018 - built on first access
            graph.router  # noqa: B018
            search_index(graph)
            snapping_edges(graph)
            claim_boxes(graph)
        if "car" in self.graphs and "walk" in self.graphs:  # car isolines' park and walk
            car = self.graphs["car"]
            foot_network(car, self.graphs["walk"]).seeds_by_src(car.n_nodes)  # 8 bytes per car node, shared

    def _load_geocoder(self) -> Any:
        if not self.data.geocoder_dir.is_dir():
            return None
        from lds.geocoding.index import AddressIndex

        return AddressIndex.load(self.data.geocoder_dir, self.settings)

    @property
    def data_version(self) -> str:
        return self.data.data_version

    def graph(self, mode: str):
        return self.graphs[v.choice("mode", mode, self.graphs)]

    # --- graph services -------------------------------------------------------------------
    def route(self, origin: LonLat, destination: LonLat, waypoints: Sequence[LonLat] = (), mode: str = "car") -> dict:
        """Fastest route origin -> waypoints -> destination; the JSON value of one routing answer."""
        from lds.routing import route

        start, end = v.lonlat("origin", origin), v.lonlat("destination", destination)
        via = v.lonlat_list("waypoints", waypoints, most=self.settings.max_waypoints)
        return route(self.graph(mode), [start, *via, end], self.settings).to_json()

    def route_alternatives(self, points: Sequence[LonLat], mode: str = "car", alternatives: int = 1,
                           snapping: dict | None = None) -> list[dict]:
        """The fastest route through ``points`` then, between two points, up to ``alternatives`` admissible
        alternative routes (lds/routing_alternatives.py), as routing answer values; ``snapping`` holds per-point
        ``bearings`` ((degrees, tolerance) or None) and ``approaches`` (``curb``, ``opposite``, ``unrestricted``)."""
        from lds.graph.snap_filters import check_snapping
        from lds.routing_alternatives import routes

        if not 0 <= alternatives <= self.settings.max_alternatives:
            raise BadRequest(f"alternatives: at most {self.settings.max_alternatives}")
        pts = v.lonlat_list("points", points, most=self.settings.max_waypoints + 2)
        check_snapping(snapping, len(pts))
        return [r.to_json() for r in routes(self.graph(mode), pts, self.settings, alternatives, snapping)]

    def matrix(self, origins: Sequence[LonLat], destinations: Sequence[LonLat] | None = None, mode: str = "car",
               annotations: Sequence[str] | None = None) -> dict:
        """Durations (s) and distances (m) from every origin to every destination (all to all without
        destinations); rows per origin, None where no route. The value of one matrix answer."""
        from lds import routing_matrix as rm

        s = self.settings
        o = rm.read_points("origins", origins, s.matrix_max_origins)
        d = o if destinations is None else rm.read_points("destinations", destinations, s.matrix_max_destinations)
        return rm.matrix(self.graph(mode), o, d, rm.read_annotations(annotations), s)

    def matrix_rows(self, origins: Sequence[LonLat], destinations: Sequence[LonLat], mode: str = "car",
                    annotations: Sequence[str] | None = None) -> list[dict]:
        """A matrix job's chunk: one ``{"error", "value"}`` entry per origin holding its row of durations and/or
        distances (an origin far from the roads is an error entry, not a failed chunk)."""
        from lds import routing_matrix as rm

        s = self.settings
        o = rm.read_points("origins", origins, s.job_max_items)
        d = rm.read_points("destinations", destinations, s.matrix_max_destinations)
        return rm.matrix_rows(self.graph(mode), o, d, rm.read_annotations(annotations), s)

    def isolines(self, origin: LonLat, ranges: Sequence[float], range_type: str = "time", mode: str = "car") -> list[dict]:
        """One polygon per range, the reachable road area; the JSON values of an isoline answer (each ring an
        (n, 2) numpy array of rounded lon/lat: write them with :func:`lds.fastjson.dumps`)."""
        from lds.isolines import isolines

        point = v.lonlat("origin", origin)
        graph = self.graph(mode)
        range_type = v.choice("range_type", range_type, v.RANGE_TYPES)
        checked = v.isoline_ranges(ranges, range_type, self.settings)
        walk = self.graphs.get("walk")  # car isolines' park and walk (lds.isolines decides when it applies)
        return [iso.to_json() for iso in isolines(graph, point, checked, range_type, self.settings, walk)]

    def isolines_h3(self, origin: LonLat, ranges: Sequence[float], range_type: str = "time", mode: str = "car",
                    resolution: int | None = None) -> list[dict]:
        """Per range, the H3 cells whose centres are reached within it with the cost to each centre, from the
        polygons' search (:mod:`lds.h3_isolines`); nested across ranges."""
        from lds.h3_isolines import h3_isolines

        point = v.lonlat("origin", origin)
        graph = self.graph(mode)
        range_type = v.choice("range_type", range_type, v.RANGE_TYPES)
        checked = v.isoline_ranges(ranges, range_type, self.settings)
        res = v.h3_resolution(resolution, self.settings)
        return h3_isolines(graph, point, checked, range_type, res, self.settings, self.graphs.get("walk"))

    # --- geocoding services --------------------------------------------------------------
    def _need_geocoder(self):
        if self.geocoder is None:
            raise Unavailable("this data directory has no address index (rebuild with `lds build`)", 503)
        return self.geocoder

    def geocode(self, address: str, country: str | None = None, limit: int | None = None) -> list[dict]:
        """Candidates for free-form ``address``, best first ([] when nothing matches)."""
        from lds.geocoding.search import geocode

        text = v.geocode_address(address, self.settings)
        code = v.country("country", country)
        n = v.geocode_limit(limit, self.settings)
        return geocode(self._need_geocoder(), text, code, n)

    def reverse(self, lat: float, lon: float, language: str | None = None) -> list[dict]:
        """Nearest address, else street, else place; raises OutOfCoverage outside the data."""
        from lds.geocoding.reverse import reverse

        lat = v.latitude("lat", lat)
        lon = v.longitude("lon", lon)
        return reverse(self._need_geocoder(), lat, lon, v.language("language", language))

    def geocode_batch(self, items: list, country: str | None = None, limit: int | None = None) -> list[dict]:
        """One ``{"error", "value"}`` entry per item, in input order; a bad item never fails the batch."""
        from lds.geocoding.batch import geocode_batch

        if not isinstance(items, list):
            raise BadRequest("'addresses' must be a JSON array")
        self._need_geocoder()
        return geocode_batch(self.geocode, items, country, limit)

    # --- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        meta = self.data.meta
        return {
            "data_version": self.data_version,
            "data_dir": str(self.data.path),
            "source": meta.get("source"),
            "built_at": meta.get("built_at"),
            "bbox": meta.get("bbox"),
            "graphs": {mode: g.summary() for mode, g in self.graphs.items()},
            "geocoder": self.geocoder.summary() if self.geocoder is not None else None,
            "tables": meta.get("tables"),  # the LDS tables' row counts (lds.* in carto_dw); None before them
            "load_seconds": round(self.load_seconds, 3),
            "settings": self.settings.as_table(),
        }
