"""OSRM peer for benchmarks: ``osrm-extract`` + ``osrm-contract`` (CH) from the osrm-bindings wheel, queried in-process.

The wheel ships the C++ tools (``python -m osrm extract ...``) and the stock Lua profiles
(``osrm/share/profiles/{car,foot,bicycle}.lua``), so nothing else is installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import osrm

from ._prepared import Peer, PeerError, decode_polyline, run_logged

PROFILES_DIR = Path(osrm.__file__).parent / "share" / "profiles"


def _profile_path(profile: str) -> Path:
    path = Path(profile)
    if path.suffix != ".lua":
        path = PROFILES_DIR / f"{profile}.lua"
    if not path.is_file():
        raise PeerError(f"OSRM profile not found: {path} (bundled: car, foot, bicycle)")
    return path.resolve()


class OsrmPeer(Peer):
    """OSRM prepared from an extract into ``graph_data/peers/osrm/<extract>/<profile>/`` and loaded in-process.

    ``profile`` is a bundled profile name (``car``, ``foot``, ``bicycle``) or a path to a ``.lua`` file;
    ``algorithm`` is ``"CH"`` (osrm-contract, the fastest point-to-point queries) or ``"MLD"``.
    """

    engine = "osrm"

    def __init__(
        self,
        pbf: str | Path,
        profile: str = "car",
        *,
        algorithm: str = "CH",
        cache_dir: str | Path | None = None,
        threads: int = 1,
        rebuild: bool = False,
    ) -> None:
        algorithm = algorithm.upper()
        if algorithm not in ("CH", "MLD"):
            raise PeerError(f"unknown OSRM algorithm {algorithm!r}: use CH or MLD")
        self.profile = profile
        self.algorithm = algorithm
        self.threads = threads
        self._lua = _profile_path(profile)
        variant = Path(profile).stem if self._lua.parent != PROFILES_DIR else profile
        super().__init__(
            pbf,
            cache_dir,
            variant=f"{variant}-{algorithm.lower()}",
            rebuild=rebuild,
            params={"profile": str(self._lua.name), "algorithm": algorithm},
        )

    @property
    def base(self) -> Path:
        """The ``<name>.osrm`` base path that OSRM's files share."""
        return self.work_dir / f"{self.name}.osrm"

    def _prepare(self) -> dict[str, Any]:
        # osrm-extract names its outputs after the input file, so link the extract into the work dir.
        link = self.work_dir / f"{self.name}.osm.pbf"
        os.symlink(self.pbf, link)
        log = self.work_dir / "prepare.log"
        tool = [sys.executable, "-m", "osrm"]
        times = {
            "extract_seconds": run_logged(
                [*tool, "extract", "-p", self._lua, "-t", self.threads, link], log, what="osrm-extract"
            )
        }
        if self.algorithm == "CH":
            times["contract_seconds"] = run_logged(
                [*tool, "contract", "-t", self.threads, self.base], log, what="osrm-contract"
            )
        else:
            times["partition_seconds"] = run_logged(
                [*tool, "partition", "-t", self.threads, self.base], log, what="osrm-partition"
            )
            times["customize_seconds"] = run_logged(
                [*tool, "customize", "-t", self.threads, self.base], log, what="osrm-customize"
            )
        link.unlink()
        return {k: round(v, 3) for k, v in times.items()}

    def _intact(self, stamp: dict[str, Any]) -> bool:
        return Path(f"{self.base}.timestamp").is_file()

    def _load(self) -> None:
        self._osrm = osrm.OSRM(storage_config=str(self.base), algorithm=self.algorithm, use_shared_memory=False)

    # -- queries -------------------------------------------------------------------------------------------
    def route(
        self, lon1: float, lat1: float, lon2: float, lat2: float, *, geometry: bool = True, steps: bool = False
    ) -> dict[str, Any] | None:
        """Fastest route; ``{"distance": m, "duration": s, "geometry": [(lon, lat), ...] | None,
        "snapped": [(lon, lat), (lon, lat)], "snap_distances": [m, m]}`` or None when OSRM finds no route.

        OSRM snaps each end to the nearest routable edge with no radius limit, and points in small components
        (under 1,000 nodes) to the nearest edge of a big one, possibly far away: check ``snap_distances``.
        """
        params = osrm.RouteParameters(
            coordinates=[(lon1, lat1), (lon2, lat2)],
            steps=steps,
            geometries="polyline6",
            overview="full" if geometry else "false",
        )
        try:
            res = self._osrm.Route(params)
        except RuntimeError:  # NoRoute / NoSegment are raised, not returned
            return None
        if res["code"] != "Ok" or not len(res["routes"]):
            return None
        best = res["routes"][0]
        out = {
            "distance": float(best["distance"]),
            "duration": float(best["duration"]),
            "geometry": decode_polyline(best["geometry"]) if geometry else None,
            "snapped": [tuple(w["location"]) for w in res["waypoints"]],
            "snap_distances": [float(w["distance"]) for w in res["waypoints"]],
        }
        if steps:
            out["steps"] = len(best["legs"][0]["steps"])
        return out

    def nearest(self, lon: float, lat: float) -> dict[str, Any] | None:
        """Snap a point: ``{"location": (lon, lat), "distance": m, "name": street}`` or None."""
        try:
            res = self._osrm.Nearest(osrm.NearestParameters(coordinates=[(lon, lat)]))
        except RuntimeError:
            return None
        if res["code"] != "Ok" or not len(res["waypoints"]):
            return None
        wp = res["waypoints"][0]
        return {"location": tuple(wp["location"]), "distance": float(wp["distance"]), "name": str(wp["name"])}

    def table(
        self, origin: tuple[float, float], targets: list[tuple[float, float]]
    ) -> tuple[list[float | None], list[float | None]]:
        """One-to-many travel times (s) and road distances (m) from ``origin`` (lon, lat); None = unreachable."""
        coords = [tuple(origin), *map(tuple, targets)]
        params = osrm.TableParameters(
            coordinates=coords,
            sources=[0],
            destinations=list(range(1, len(coords))),
            annotations=["duration", "distance"],
        )
        res = self._osrm.Table(params)
        durations = [None if v is None else float(v) for v in res["durations"][0]]
        distances = [None if v is None else float(v) for v in res["distances"][0]]
        return durations, distances
