"""Which city, suburb, postcode, state and country a point belongs to, from what the extract has.

Order of evidence, per field: the enclosing polygons (``boundary=administrative`` relations and closed
ways, ``place=*`` polygons, ``boundary=postal_code``) and, failing them, the nearest ``place`` node of a
fitting type within a radius that grows with the place's size. Tags on the object itself win over both;
that choice is made by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.spatial import cKDTree

from lds.geo import ecef
from lds.geocoding.osmread import CONTEXT_LANGUAGES, NAME_KEYS

# place=* values that name a town-level locality, with the distance (m) within which a place node of
# that type is taken as the locality of a point when no polygon says so (Nominatim's search radii for
# these ranks are of the same order).
CITY_PLACES = {"city": 15000.0, "town": 8000.0, "municipality": 8000.0, "village": 3000.0, "hamlet": 1200.0}
SUBURB_PLACES = {"borough": 5000.0, "suburb": 2500.0, "quarter": 1500.0, "city_district": 3000.0,
                 "district": 3000.0, "neighbourhood": 800.0}
PLACE_RANK = {
    "country": 30, "state": 25, "region": 24, "province": 23, "county": 22, "city": 20, "municipality": 18,
    "town": 18, "borough": 14, "village": 15, "suburb": 13, "city_district": 13, "district": 13,
    "quarter": 12, "neighbourhood": 11, "hamlet": 10, "island": 9, "islet": 7, "locality": 6, "square": 6,
}
CITY_LEVELS = (8, 7, 6)  # admin_level of a municipality, most specific first (fr/de/it/es/us 8, dk 7, kreisfreie 6)
SUBURB_LEVELS = (10, 9, 11)
STATE_LEVELS = (4, 3, 5)
LOCATE_CHUNK = 65_536  # points located at once (the point geometries and tree hits of a chunk are in memory)


def context_names(names: dict[str, str]) -> list[str]:
    """The names of a locality that may appear in an address: default, alternates, common languages."""
    out = []
    for k, v in names.items():
        if k in NAME_KEYS or (k.startswith("name:") and k[5:] in CONTEXT_LANGUAGES):
            out.extend(p.strip() for p in v.split(";") if p.strip())
    return out


def display_name(names: dict[str, str], language: str | None = None) -> str | None:
    if language and names.get(f"name:{language}"):
        return names[f"name:{language}"]
    return names.get("name") or next(iter(names.values()), None)


@dataclass
class Locality:
    """Locality fields of one point; ``sources`` are the area/place ids that named it (for context)."""

    city: dict | None = None
    suburb: dict | None = None
    state: dict | None = None
    country_code: str | None = None
    postcode: str | None = None
    city_from_node: bool = False
    sources: tuple = field(default_factory=tuple)  # enclosing area ids
    nodes: tuple = field(default_factory=tuple)  # nearest city/suburb place nodes


class Localities:
    """Point -> :class:`Locality` over the areas and place nodes of an extract."""

    def __init__(self, areas: list[dict], places: list[dict]):
        self.areas = [a for a in areas if a.get("geom") is not None]
        self.geoms = np.array([a["geom"] for a in self.areas], dtype=object)
        self.tree = shapely.STRtree(self.geoms) if self.areas else None
        # a prepared area tests a point in log time of its vertices: the tree's own predicate tests would walk
        # every vertex of a real country's boundary for each of its millions of addresses
        shapely.prepare(self.geoms)
        for a in self.areas:
            a["area_m2"] = float(a["geom"].area)
        self.city_nodes = [p for p in places if p["place"] in CITY_PLACES]
        self.suburb_nodes = [p for p in places if p["place"] in SUBURB_PLACES]
        self._city_kd = self._kd(self.city_nodes)
        self._suburb_kd = self._kd(self.suburb_nodes)

    @staticmethod
    def _kd(nodes: list[dict]):
        if not nodes:
            return None
        return cKDTree(ecef([p["lon"] for p in nodes], [p["lat"] for p in nodes]))

    def _nearest(self, kd, nodes, radii, xyz: np.ndarray, k: int = 8) -> np.ndarray:
        """Per point, the index of the place node with the smallest distance/radius ratio below 1 (-1: none)."""
        out = np.full(len(xyz), -1, dtype=np.int64)
        if kd is None or len(xyz) == 0:
            return out
        k = min(k, len(nodes))
        dist, idx = kd.query(xyz, k=k, distance_upper_bound=max(radii.values()))
        dist = dist.reshape(len(xyz), k)
        idx = idx.reshape(len(xyz), k)
        node_radius = np.array([radii[p["place"]] for p in nodes] + [1.0])
        ratio = np.where(idx < len(nodes), dist / node_radius[idx], np.inf)
        best = np.argmin(ratio, axis=1)  # the first of equal ratios, as a strict "<" scan keeps
        ok = ratio[np.arange(len(xyz)), best] < 1.0
        out[ok] = idx[np.arange(len(xyz)), best][ok]
        return out

    def locate(self, lats, lons) -> list[Locality]:
        """The :class:`Locality` of each point."""
        unique, which = self.locate_ids(lats, lons)
        return [unique[k] for k in which.tolist()]

    def locate_ids(self, lats, lons, chunk: int = LOCATE_CHUNK) -> tuple[list[Locality], np.ndarray]:
        """The distinct localities of the points and, per point, the index of its own among them: points of one
        town share one :class:`Locality`, and a country's millions of points are located ``chunk`` at a time."""
        lats = np.asarray(lats, dtype=np.float64)
        lons = np.asarray(lons, dtype=np.float64)
        which = np.zeros(len(lats), dtype=np.int64)
        unique: list[Locality] = []
        index: dict[bytes, int] = {}
        for s in range(0, len(lats), chunk):
            rows = self._located_rows(lats[s : s + chunk], lons[s : s + chunk])
            keys, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
            ids = np.empty(len(keys), dtype=np.int64)
            for u in np.argsort(first, kind="stable").tolist():
                row = keys[u]
                key = row[: 2 + int((row[2:] >= 0).sum())].tobytes()  # the same in chunks of another depth
                if key not in index:
                    city, suburb = int(row[0]), int(row[1])
                    index[key] = len(unique)
                    unique.append(self._combine(
                        [int(a) for a in row[2:] if a >= 0], self.city_nodes[city] if city >= 0 else None,
                        self.suburb_nodes[suburb] if suburb >= 0 else None,
                    ))
                ids[u] = index[key]
            which[s : s + len(rows)] = ids[inverse.reshape(-1)]
        return unique, which

    def _located_rows(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Per point (city node, suburb node, enclosing areas in the tree's order, -1 padded) as one int row."""
        n = len(lats)
        pi = ai = np.zeros(0, dtype=np.int64)
        if self.tree is not None and n:
            pi, ai = self.tree.query(shapely.points(lons, lats))  # boxes that hold the point, then the areas
            inside = shapely.contains_xy(self.geoms[ai], lons[pi], lats[pi])
            pi, ai = pi[inside], ai[inside]
            order = np.argsort(pi, kind="stable")
            pi, ai = pi[order], ai[order]
        depth = int(np.bincount(pi, minlength=n).max()) if len(pi) else 0
        rows = np.full((n, 2 + depth), -1, dtype=np.int64)
        if len(pi):
            start = np.searchsorted(pi, np.arange(n))
            rows[pi, 2 + np.arange(len(pi)) - start[pi]] = ai
        xyz = ecef(lons, lats) if n else np.zeros((0, 3))
        rows[:, 0] = self._nearest(self._city_kd, self.city_nodes, CITY_PLACES, xyz)
        rows[:, 1] = self._nearest(self._suburb_kd, self.suburb_nodes, SUBURB_PLACES, xyz)
        return rows

    def _combine(self, area_ids: list[int], city_node: dict | None, suburb_node: dict | None) -> Locality:
        areas = sorted((self.areas[a] for a in area_ids), key=lambda a: a["area_m2"])
        loc = Locality()
        admin = {a["level"]: a for a in reversed(areas) if a["kind"] == "admin"}  # smallest wins per level
        place_polys = [a for a in areas if a["kind"] == "place"]
        for a in place_polys:
            if loc.city is None and a["place"] in CITY_PLACES:
                loc.city = a["names"]
            if loc.suburb is None and a["place"] in SUBURB_PLACES:
                loc.suburb = a["names"]
        for level in CITY_LEVELS:
            if loc.city is None and level in admin:
                loc.city = admin[level]["names"]
        for level in SUBURB_LEVELS:
            if loc.suburb is None and level in admin:
                loc.suburb = admin[level]["names"]
        for level in STATE_LEVELS:
            if loc.state is None and level in admin:
                loc.state = admin[level]["names"]
        if 2 in admin and admin[2].get("iso2"):
            loc.country_code = admin[2]["iso2"]
        for a in areas:  # smallest first: a postal area, else an admin area with exactly one postal_code
            code = a.get("postcode")
            if code and ";" not in code and "," not in code:
                loc.postcode = code
                break
        if loc.city is None and city_node is not None:
            loc.city = city_node["names"]
            loc.city_from_node = True
        if loc.suburb is None and suburb_node is not None:
            loc.suburb = suburb_node["names"]
        if loc.suburb is not None and loc.city is not None and display_name(loc.suburb) == display_name(loc.city):
            loc.suburb = None
        loc.sources = tuple(area_ids)
        loc.nodes = tuple(n for n in (city_node, suburb_node) if n is not None)
        return loc

    def context_of(self, loc: Locality) -> list[str]:
        """Every locality name of a point, for matching the locality words of a query."""
        out: list[str] = []
        for ref in loc.sources:
            out.extend(context_names(self.areas[ref]["names"]))
            if self.areas[ref].get("postcode"):
                out.append(self.areas[ref]["postcode"])
        for names in (loc.city, loc.suburb, loc.state):
            if names:
                out.extend(context_names(names))
        for node in loc.nodes:
            out.extend(context_names(node["names"]))
        return out
