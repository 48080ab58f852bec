"""Nominatim peer for benchmarks: ``nominatim import`` (PyPI nominatim-db, Debian osm2pgsql + PostGIS) into a local
PostgreSQL database, queried in-process through the ``nominatim_api`` library.

Each extract gets its own database ``nominatim_peer_<extract>`` and a project dir (``.env`` with the DSN) under
``graph_data/peers/nominatim/<extract>/``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import nominatim_api as napi
import psycopg
from nominatim_db.version import NOMINATIM_VERSION
from psycopg import sql

from ._prepared import Peer, PeerError, extract_name, run_logged

# Nominatim grants read access to this role at import time and insists that it can log in (pg_user);
# our queries run as the DSN's user, so it only has to exist.
WEB_USER = "lds_peer_web"
_EARTH_RADIUS_M = 6_371_008.8
_STREET_RANKS = (26, 27)
_CITY_RANKS = (16, 15, 14, 13, 12)


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))


class NominatimPeer(Peer):
    """Nominatim imported from an extract into PostgreSQL and served in-process by ``nominatim_api.NominatimAPI``.

    ``pg_host``/``pg_port``/``pg_user`` default to libpq's (unix socket, the OS user); the user must be a
    superuser (Nominatim creates the database and the postgis/hstore extensions).
    """

    engine = "nominatim"

    def __init__(
        self,
        pbf: str | Path,
        *,
        cache_dir: str | Path | None = None,
        threads: int = 1,
        pg_host: str | None = None,
        pg_port: int | None = None,
        pg_user: str | None = None,
        rebuild: bool = False,
    ) -> None:
        self.threads = threads
        self._conninfo = {k: v for k, v in (("host", pg_host), ("port", pg_port), ("user", pg_user)) if v}
        self._api: napi.NominatimAPI | None = None
        name = re.sub(r"[^a-z0-9]+", "_", extract_name(pbf).lower()).strip("_")
        self.dbname = f"nominatim_peer_{name}"[:63]
        super().__init__(
            pbf,
            cache_dir,
            rebuild=rebuild,
            params={"nominatim": str(NOMINATIM_VERSION), "dbname": self.dbname, **self._conninfo},
        )

    # -- preparation ---------------------------------------------------------------------------------------
    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(dbname="postgres", autocommit=True, **self._conninfo)

    def _db_exists(self) -> bool:
        try:
            with self._admin() as conn:
                return (
                    conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)).fetchone() is not None
                )
        except psycopg.OperationalError as exc:
            raise PeerError(f"cannot reach PostgreSQL ({self._conninfo or 'libpq defaults'}): {exc}") from exc

    def _discard(self) -> None:
        if self._db_exists():
            with self._admin() as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(self.dbname)))

    def _dsn(self) -> str:
        parts = {"dbname": self.dbname, **self._conninfo}
        return "pgsql:" + ";".join(f"{k}={v}" for k, v in parts.items())

    def _prepare(self) -> dict[str, Any]:
        if shutil.which("osm2pgsql") is None:
            raise PeerError("osm2pgsql not found on PATH: run scripts/setup_bench.sh (apt-get install osm2pgsql)")
        nominatim = Path(os.path.abspath(sys.executable)).parent / "nominatim"
        if not nominatim.exists():
            raise PeerError(f"{nominatim} missing: pip install nominatim-db into this venv (scripts/setup_bench.sh)")
        with self._admin() as conn:
            role = sql.Identifier(WEB_USER)
            create = "DO $$ BEGIN CREATE ROLE {} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            conn.execute(sql.SQL(create).format(role))
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(role))
        (self.work_dir / ".env").write_text(
            f'NOMINATIM_DATABASE_DSN="{self._dsn()}"\nNOMINATIM_DATABASE_WEBUSER="{WEB_USER}"\n'
        )
        env = {**os.environ, "PATH": f"{nominatim.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        cmd = [nominatim, "import", "--osm-file", self.pbf, "--project-dir", self.work_dir, "--no-updates"]
        seconds = run_logged([*cmd, "--threads", self.threads], self.work_dir / "import.log", env, "nominatim import")
        with psycopg.connect(dbname=self.dbname, **self._conninfo) as conn:
            places = conn.execute("SELECT count(*) FROM placex").fetchone()[0]
            housenumbers = conn.execute("SELECT count(*) FROM placex WHERE housenumber IS NOT NULL").fetchone()[0]
        return {"import_seconds": round(seconds, 3), "placex_rows": places, "housenumber_rows": housenumbers}

    def _intact(self, stamp: dict[str, Any]) -> bool:
        return (self.work_dir / ".env").is_file() and self._db_exists()

    def _load(self) -> None:
        self._api = napi.NominatimAPI(self.work_dir)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    # -- queries -------------------------------------------------------------------------------------------
    def search(self, text: str, limit: int = 1, **params: Any) -> list[dict[str, Any]]:
        """Forward search: ``[{"lat", "lon", "name", "housenumber", "category", "rank"}, ...]`` best first.

        ``params`` go to ``NominatimAPI.search`` (e.g. ``countries=["dk"]``, ``layers=...``).
        """
        results = self._api.search(text, max_results=limit, **params)
        return [
            {
                "lat": r.centroid.lat,
                "lon": r.centroid.lon,
                "name": (r.names or {}).get("name"),
                "housenumber": (r.address or {}).get("housenumber") or r.housenumber,
                "category": r.category,
                "rank": r.rank_address,
            }
            for r in results
        ]

    def geocode(self, text: str, **params: Any) -> tuple[float, float] | None:
        """Top-1 forward geocode of free text: ``(lat, lon)`` or None."""
        results = self._api.search(text, max_results=1, **params)
        if not results:
            return None
        return results[0].centroid.lat, results[0].centroid.lon

    def reverse(self, lat: float, lon: float, **params: Any) -> dict[str, Any] | None:
        """Reverse geocode with Nominatim's defaults (address and POI layers, zoom 18): ``{"housenumber", "street",
        "postcode", "city", "name", "category", "lat", "lon", "distance_m", "osm_id"}`` (absent parts None) or None.

        ``street`` is the result's own name when the result is a street, else its rank 26/27 address line.
        """
        res = self._api.reverse((lon, lat), address_details=True, **params)
        if res is None:
            return None
        street = city = None
        if res.rank_address in _STREET_RANKS:
            street = (res.names or {}).get("name")
        for row in res.address_rows or ():
            if not row.isaddress or not row.names or row.place_id == res.place_id:
                continue
            if street is None and row.rank_address in _STREET_RANKS:
                street = row.names.get("name")
            if city is None and row.rank_address in _CITY_RANKS:
                city = row.names.get("name")
        return {
            # placex.housenumber is Nominatim's normalised form ("66A" -> "66 a"); prefer the tag as mapped.
            "housenumber": (res.address or {}).get("housenumber") or res.housenumber,
            "street": street,
            "postcode": res.postcode,
            "city": city,
            "name": (res.names or {}).get("name"),
            "category": res.category,
            "lat": res.centroid.lat,
            "lon": res.centroid.lon,
            "distance_m": _haversine_m(lat, lon, res.centroid.lat, res.centroid.lon),
            "osm_id": f"{res.osm_object[0]}{res.osm_object[1]}" if res.osm_object else None,
        }
