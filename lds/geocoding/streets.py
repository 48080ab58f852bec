"""Streets as the index sees them: named highways and address street names merged per name and place.

Ways with the same canonical name (``normalize.name_key``) that lie within ``MERGE_M`` of each other form
one street; a town's "Main Street" and the next town's stay apart. Addresses join the nearest street of
their ``addr:street`` name within ``ATTACH_M``; names that no highway carries (cut extracts, typos in the
data, ``addr:place``) become address-only streets. Addresses with a number but no street take the
nearest named street within ``INFER_M``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import pairwise

import numpy as np
from scipy.spatial import cKDTree

from lds.geo import ecef, haversine_m, project_on_segments
from lds.geocoding.normalize import name_key

MERGE_M = 300.0  # ways of one name closer than this are one street
ATTACH_M = 1000.0  # an address joins a street of its addr:street name within this distance
INFER_M = 150.0  # an address without addr:street takes the nearest named street within this distance
SEGMENT_MAX_M = 50.0  # long segments are split so a KD-tree over midpoints finds the nearest one

Progress = Callable[[str, str], None]


def _union_find(n: int, pairs) -> np.ndarray:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[rb] = ra
    return np.array([find(i) for i in range(n)])


def _cluster_points(lats, lons, owners: np.ndarray, n_owners: int, radius: float) -> np.ndarray:
    """Union owners whose points come within ``radius``; returns a root label per owner."""
    if n_owners <= 1:
        return np.zeros(n_owners, dtype=np.int64)
    tree = cKDTree(ecef(lons, lats))
    pairs = tree.query_pairs(radius, output_type="ndarray")
    owner_pairs = owners[pairs] if len(pairs) else np.zeros((0, 2), dtype=np.int64)
    owner_pairs = owner_pairs[owner_pairs[:, 0] != owner_pairs[:, 1]]
    return _union_find(n_owners, np.unique(owner_pairs, axis=0) if len(owner_pairs) else [])


def group_streets(streets: list[dict], addresses: list[dict], progress: Progress) -> tuple[list[dict], np.ndarray]:
    """Street groups and the group of each address (-1: none).

    A group is ``{"key", "kind" ("street"|"place"), "ways": [...], "addrs": [...], "names": {...}}``.
    """
    groups: list[dict] = []
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(streets):
        key = name_key(s["names"]["name"])
        if key:
            by_key[key].append(i)
    key_groups: dict[str, list[int]] = defaultdict(list)
    for key, ways in by_key.items():
        if len(ways) == 1:
            labels = np.zeros(1, dtype=np.int64)
        else:
            pts = [(lat, lon, j) for j, w in enumerate(ways) for lon, lat in streets[w]["coords"]]
            arr = np.array(pts)
            labels = _cluster_points(arr[:, 0], arr[:, 1], arr[:, 2].astype(np.int64), len(ways), MERGE_M)
        for root in dict.fromkeys(labels.tolist()):
            members = [w for w, lab in zip(ways, labels.tolist()) if lab == root]
            key_groups[key].append(len(groups))
            groups.append({"key": key, "kind": "street", "ways": members, "addrs": []})

    addr_group = np.full(len(addresses), -1, dtype=np.int64)
    pending: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, a in enumerate(addresses):
        if a.get("street"):
            key = name_key(a["street"])
            if key:
                pending[("street", key)].append(i)
        elif a.get("place"):
            key = name_key(a["place"])
            if key:
                pending[("place", key)].append(i)
    for (kind, key), idxs in pending.items():
        lats = np.array([addresses[i]["lat"] for i in idxs])
        lons = np.array([addresses[i]["lon"] for i in idxs])
        rest = np.ones(len(idxs), dtype=bool)
        cands = key_groups.get(key, []) if kind == "street" else []
        if cands:
            pts = [(lat, lon, g) for g in cands for w in groups[g]["ways"] for lon, lat in streets[w]["coords"]]
            arr = np.array(pts)
            tree = cKDTree(ecef(arr[:, 1], arr[:, 0]))
            dist, j = tree.query(ecef(lons, lats), distance_upper_bound=ATTACH_M)
            for k, (d, jj) in enumerate(zip(dist.tolist(), j.tolist())):
                if jj < len(arr):
                    g = int(arr[jj, 2])
                    addr_group[idxs[k]] = g
                    groups[g]["addrs"].append(idxs[k])
                    rest[k] = False
        if rest.any():
            sub = [i for i, r in zip(idxs, rest.tolist()) if r]
            labels = _cluster_points(lats[rest], lons[rest], np.arange(len(sub)), len(sub), MERGE_M)
            roots: dict[int, int] = {}
            for i, lab in zip(sub, labels.tolist()):
                if lab not in roots:
                    roots[lab] = len(groups)
                    groups.append({"key": key, "kind": kind, "ways": [], "addrs": []})
                addr_group[i] = roots[lab]
                groups[roots[lab]]["addrs"].append(i)
    for g in groups:
        way_names = Counter(streets[w]["names"]["name"] for w in g["ways"])
        addr_names = Counter(addresses[i].get("street") or addresses[i].get("place") for i in g["addrs"])
        g["name"] = (way_names or addr_names).most_common(1)[0][0]
        names: dict[str, str] = {}
        for w in g["ways"]:
            for k, v in streets[w]["names"].items():
                names.setdefault(k, v)
        names["name"] = g["name"]
        g["names"] = names
        g["variants"] = sorted(set(addr_names) - {g["name"]} - {None})
    progress("geocoder", f"{len(groups)} streets from {len(streets)} named ways and {len(pending)} address street names")
    return groups, addr_group


class Segments:
    """Street centrelines as short segments with a KD-tree over their midpoints (reverse lookups, inference)."""

    def __init__(self, lat0, lon0, lat1, lon1, group):
        self.lat0, self.lon0, self.lat1, self.lon1 = lat0, lon0, lat1, lon1
        self.group = group
        self._tree = None

    @classmethod
    def from_groups(cls, groups: list[dict], streets: list[dict]) -> Segments:
        rows: list[tuple[float, float, float, float, int]] = []
        for g_id, g in enumerate(groups):
            for w in g["ways"]:
                coords = streets[w]["coords"]
                for (x0, y0), (x1, y1) in pairwise(coords):
                    rows.append((y0, x0, y1, x1, g_id))
        if not rows:
            z = np.zeros(0)
            return cls(z, z, z, z, np.zeros(0, dtype=np.int32))
        arr = np.array(rows)
        lat0, lon0, lat1, lon1 = arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]
        length = haversine_m(lon0, lat0, lon1, lat1)
        pieces = np.maximum(1, np.ceil(length / SEGMENT_MAX_M)).astype(np.int64)
        idx = np.repeat(np.arange(len(arr)), pieces)
        k = np.arange(len(idx)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        f0 = k / pieces[idx]
        f1 = (k + 1) / pieces[idx]
        dlon = (lon1 - lon0 + 540.0) % 360.0 - 180.0
        return cls(
            lat0[idx] + (lat1 - lat0)[idx] * f0, lon0[idx] + dlon[idx] * f0,
            lat0[idx] + (lat1 - lat0)[idx] * f1, lon0[idx] + dlon[idx] * f1,
            arr[idx, 4].astype(np.int32),
        )

    def __len__(self) -> int:
        return len(self.group)

    @property
    def tree(self):
        if self._tree is None and len(self):
            lat0, lat1 = np.asarray(self.lat0), np.asarray(self.lat1)
            lon0, lon1 = np.asarray(self.lon0), np.asarray(self.lon1)
            self._tree = cKDTree((ecef(lon0, lat0) + ecef(lon1, lat1)) / 2.0)
        return self._tree

    def nearest(self, lat: float, lon: float, radius: float, k: int = 24):
        """(distance_m, segment index, t, plat, plon) of the nearest segment within ``radius``, or None."""
        tree = self.tree
        if tree is None:
            return None
        k = min(k, len(self))
        _, idx = tree.query(ecef(lon, lat), k=k, distance_upper_bound=radius + SEGMENT_MAX_M / 2 + 1)
        idx = np.atleast_1d(idx)
        idx = idx[idx < len(self)]
        if len(idx) == 0:
            return None
        d, t, plon, plat = project_on_segments(lon, lat, self.lon0[idx], self.lat0[idx], self.lon1[idx], self.lat1[idx])
        j = int(np.argmin(d))
        if d[j] > radius:
            return None
        return float(d[j]), int(idx[j]), float(t[j]), float(plat[j]), float(plon[j])


def infer_streets(addresses: list[dict], addr_group: np.ndarray, groups: list[dict], segments: Segments) -> int:
    """Give street-less numbered addresses the nearest named street within ``INFER_M``; returns the count."""
    n = 0
    for i, a in enumerate(addresses):
        if addr_group[i] >= 0 or a.get("street") or a.get("place"):
            continue
        hit = segments.nearest(a["lat"], a["lon"], INFER_M)
        if hit is None:
            continue
        g = int(segments.group[hit[1]])
        addr_group[i] = g
        groups[g]["addrs"].append(i)
        a["street_inferred"] = True
        n += 1
    return n
