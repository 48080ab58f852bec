"""Valhalla peer for benchmarks: tiles built by the pyvalhalla wheel's ``valhalla_build_tiles``, queried through
``valhalla.Actor`` in-process (routes, isochrones, one-to-many matrices).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import valhalla
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from valhalla._scripts import PYVALHALLA_BIN_DIR

from ._prepared import Peer, PeerError, decode_polyline, run_logged

# lds mode names -> Valhalla costing models.
COSTING = {
    "car": "auto",
    "auto": "auto",
    "walk": "pedestrian",
    "pedestrian": "pedestrian",
    "foot": "pedestrian",
    "bike": "bicycle",
    "bicycle": "bicycle",
}
# Benchmarks send one origin with thousands of sampled targets; Valhalla's defaults cap a matrix at 2,500 pairs.
MATRIX_PAIRS = 1_000_000


def costing_of(mode: str) -> str:
    try:
        return COSTING[mode]
    except KeyError:
        raise PeerError(f"unknown mode/costing {mode!r}: use one of {sorted(COSTING)}") from None


def _config(tile_dir: Path, threads: int) -> dict[str, Any]:
    """Stock config pointed at ``tile_dir``, without the admin/timezone/elevation/traffic data we don't have."""
    cfg = valhalla.get_config(tile_extract="", tile_dir=tile_dir, verbose=False)
    mjolnir = cfg["mjolnir"]
    mjolnir["concurrency"] = threads
    for key in ("traffic_extract", "admin", "landmarks", "timezone", "transit_dir", "transit_feeds_dir"):
        mjolnir[key] = ""
    cfg["additional_data"]["elevation"] = ""
    for costing in ("auto", "pedestrian", "bicycle"):
        cfg["service_limits"][costing]["max_matrix_location_pairs"] = MATRIX_PAIRS
    return cfg


class ValhallaPeer(Peer):
    """Valhalla tiles in ``graph_data/peers/valhalla/<extract>/tiles`` and an in-process ``valhalla.Actor``.

    Modes: ``auto``/``car``, ``pedestrian``/``walk``, ``bicycle``/``bike``. Coordinates are (lon, lat).
    """

    engine = "valhalla"

    def __init__(
        self, pbf: str | Path, *, cache_dir: str | Path | None = None, threads: int = 1, rebuild: bool = False
    ) -> None:
        self.threads = threads
        super().__init__(pbf, cache_dir, rebuild=rebuild, params={"valhalla": valhalla.__version__})

    @property
    def config_path(self) -> Path:
        return self.work_dir / "valhalla.json"

    def _prepare(self) -> dict[str, Any]:
        tiles = self.work_dir / "tiles"
        tiles.mkdir()
        self.config_path.write_text(json.dumps(_config(tiles, self.threads), indent=1))
        seconds = run_logged(
            [PYVALHALLA_BIN_DIR / "valhalla_build_tiles", "-c", self.config_path, self.pbf],
            self.work_dir / "prepare.log",
        )
        if not any(tiles.rglob("*.gph")):
            raise PeerError(f"valhalla_build_tiles wrote no tiles for {self.pbf}; see {self.work_dir / 'prepare.log'}")
        return {"build_tiles_seconds": round(seconds, 3)}

    def _intact(self, stamp: dict[str, Any]) -> bool:
        return self.config_path.is_file() and any((self.work_dir / "tiles").rglob("*.gph"))

    def _load(self) -> None:
        self._actor = valhalla.Actor(str(self.config_path))

    # -- queries -------------------------------------------------------------------------------------------
    def route(
        self, lon1: float, lat1: float, lon2: float, lat2: float, costing: str = "auto", *, geometry: bool = True
    ) -> dict[str, Any] | None:
        """Fastest route: ``{"distance": m, "duration": s, "geometry": [(lon, lat), ...] | None}`` or None
        (no route, or an end with no road within Valhalla's snapping radius)."""
        req = {
            "locations": [{"lon": lon1, "lat": lat1}, {"lon": lon2, "lat": lat2}],
            "costing": costing_of(costing),
            "directions_type": "none",
            "units": "kilometers",
        }
        try:
            trip = json.loads(self._actor.route(json.dumps(req)))["trip"]
        except valhalla.ValhallaError:
            return None
        summary = trip["summary"]
        return {
            "distance": summary["length"] * 1000.0,
            "duration": float(summary["time"]),
            "geometry": [pt for leg in trip["legs"] for pt in decode_polyline(leg["shape"])] if geometry else None,
        }

    def isochrone_raw(
        self, lon: float, lat: float, ranges: list[float], costing: str = "auto", kind: str = "time", **options: Any
    ) -> dict[str, Any]:
        """Valhalla's GeoJSON answer as is (``options`` go into the request: denoise, generalize, ...)."""
        if kind not in ("time", "distance"):
            raise PeerError(f"isochrone kind must be 'time' or 'distance', not {kind!r}")
        req = {
            "locations": [{"lon": lon, "lat": lat}],
            "costing": costing_of(costing),
            "contours": [{kind: float(r)} for r in ranges],
            "polygons": True,
            **options,
        }
        return json.loads(self._actor.isochrone(json.dumps(req)))

    def isochrone(
        self, lon: float, lat: float, ranges: list[float], costing: str = "auto", kind: str = "time", **options: Any
    ) -> list[BaseGeometry] | None:
        """Isochrone/isodistance polygons, one shapely (Multi)Polygon per range, in the order of ``ranges``.

        ``ranges`` are minutes when ``kind="time"`` and kilometres when ``kind="distance"`` (Valhalla's units).
        Returns None when the origin cannot be snapped.
        """
        try:
            answer = self.isochrone_raw(lon, lat, ranges, costing, kind, **options)
        except valhalla.ValhallaError:
            return None
        by_contour = {float(f["properties"]["contour"]): shape(f["geometry"]) for f in answer["features"]}
        return [by_contour[float(r)] for r in ranges]

    def sources_to_targets(
        self, origin: tuple[float, float], targets: list[tuple[float, float]], costing: str = "auto"
    ) -> tuple[list[float], list[float]]:
        """One-to-many travel times (s, whole seconds) and distances (m) from ``origin`` (lon, lat) to each target.

        ``nan`` marks a target Valhalla cannot reach or snap. One bad target makes Valhalla reject the whole
        request ("Locations are in unconnected regions"), so failing batches are split until the culprits are found.
        """
        times = [math.nan] * len(targets)
        dists = [math.nan] * len(targets)
        self._matrix(origin, list(targets), list(range(len(targets))), costing_of(costing), times, dists)
        return times, dists

    def _matrix(
        self,
        origin: tuple[float, float],
        targets: list,
        index: list[int],
        costing: str,
        times: list[float],
        dists: list[float],
    ) -> None:
        if not targets:
            return
        req = {
            "sources": [{"lon": origin[0], "lat": origin[1]}],
            "targets": [{"lon": t[0], "lat": t[1]} for t in targets],
            "costing": costing,
            "verbose": False,
            "units": "kilometers",
        }
        try:
            answer = json.loads(self._actor.matrix(json.dumps(req)))["sources_to_targets"]
        except valhalla.ValhallaError:
            if len(targets) == 1:
                return
            half = len(targets) // 2
            self._matrix(origin, targets[:half], index[:half], costing, times, dists)
            self._matrix(origin, targets[half:], index[half:], costing, times, dists)
            return
        for i, t, d in zip(index, answer["durations"][0], answer["distances"][0]):
            if t is not None:
                times[i] = float(t)
                dists[i] = float(d) * 1000.0

    def locate(self, lon: float, lat: float, costing: str = "auto") -> tuple[float, float] | None:
        """The point Valhalla snaps (lon, lat) to for ``costing``, or None."""
        req = {"locations": [{"lon": lon, "lat": lat}], "costing": costing_of(costing), "verbose": False}
        try:
            edges = json.loads(self._actor.locate(json.dumps(req)))[0]["edges"]
        except (valhalla.ValhallaError, IndexError, KeyError, TypeError):
            return None
        if not edges:
            return None
        return float(edges[0]["correlated_lon"]), float(edges[0]["correlated_lat"])
