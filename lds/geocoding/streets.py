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
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from lds.geo import ecef, haversine_m, project_on_segments
from lds.geocoding.columns import Addresses, StreetWays
from lds.geocoding.nearest import PointGrid, midpoint_xyz
from lds.geocoding.normalize import name_key

MERGE_M = 300.0  # ways of one name closer than this are one street
ATTACH_M = 1000.0  # an address joins a street of its addr:street name within this distance
INFER_M = 150.0  # an address without addr:street takes the nearest named street within this distance
SEGMENT_MAX_M = 50.0  # long segments are split so a search over midpoints finds the nearest one
SEGMENT_GRID_CELL_M = 150.0  # cell of the segment midpoints' nearest-point grid (lds.geocoding.nearest)
SEGMENT_CHUNK = 50_000  # street points cut into segments at once while the index is built
SEGMENT_FILES = (("seg_lat0", "<f8"), ("seg_lon0", "<f8"), ("seg_lat1", "<f8"), ("seg_lon1", "<f8"), ("seg_entity", "<i4"))

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


def _points(streets: StreetWays, owners: list[tuple[int, int]]) -> np.ndarray:
    """Rows (lat, lon, owner) of every point of the ways ``(owner, way)``."""
    coords = [streets.coords(w) for _, w in owners]
    lens = [len(c) for c in coords]
    arr = np.empty((sum(lens), 3))
    if lens:
        xy = np.concatenate(coords)
        arr[:, 0], arr[:, 1] = xy[:, 1], xy[:, 0]
        arr[:, 2] = np.repeat([o for o, _ in owners], lens)
    return arr


def group_streets(streets: StreetWays, addresses: Addresses, progress: Progress) -> tuple[list[dict], np.ndarray]:
    """Street groups and the group of each address (-1: none).

    A group is ``{"key", "kind" ("street"|"place"), "ways": [...], "addrs": rows, "names": {...}}``.
    """
    groups: list[dict] = []
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, names in enumerate(streets.names):
        key = name_key(names["name"])
        if key:
            by_key[key].append(i)
    key_groups: dict[str, list[int]] = defaultdict(list)
    for key, ways in by_key.items():
        if len(ways) == 1:
            labels = np.zeros(1, dtype=np.int64)
        else:
            arr = _points(streets, list(enumerate(ways)))
            labels = _cluster_points(arr[:, 0], arr[:, 1], arr[:, 2].astype(np.int64), len(ways), MERGE_M)
        for root in dict.fromkeys(labels.tolist()):
            members = [w for w, lab in zip(ways, labels.tolist()) if lab == root]
            key_groups[key].append(len(groups))
            groups.append({"key": key, "kind": "street", "ways": members, "addrs": []})

    addr_group = np.full(len(addresses), -1, dtype=np.int64)
    pending = _pending(addresses)
    for (kind, key), idxs in pending.items():
        lats, lons = addresses.lat[idxs], addresses.lon[idxs]
        rest = np.ones(len(idxs), dtype=bool)
        cands = key_groups.get(key, []) if kind == "street" else []
        if cands:
            arr = _points(streets, [(g, w) for g in cands for w in groups[g]["ways"]])
            tree = cKDTree(ecef(arr[:, 1], arr[:, 0]))
            _, j = tree.query(ecef(lons, lats), distance_upper_bound=ATTACH_M)
            hit = j < len(arr)
            g_of = arr[j[hit], 2].astype(np.int64)
            addr_group[idxs[hit]] = g_of
            rest = ~hit
        if rest.any():
            sub = idxs[rest]
            labels = _cluster_points(lats[rest], lons[rest], np.arange(len(sub)), len(sub), MERGE_M)
            roots: dict[int, int] = {}
            for i, lab in zip(sub.tolist(), labels.tolist()):
                if lab not in roots:
                    roots[lab] = len(groups)
                    groups.append({"key": key, "kind": kind, "ways": [], "addrs": []})
                addr_group[i] = roots[lab]
    set_members(groups, addr_group)
    strings = addresses.strings
    addr_name = np.where(addresses["street"] >= 0, addresses["street"], addresses["place"])
    for g in groups:
        way_names = Counter(streets.names[w]["name"] for w in g["ways"])
        addr_names = Counter(addr_name[g["addrs"]].tolist())
        if way_names:
            g["name"] = way_names.most_common(1)[0][0]
        else:
            g["name"] = strings.text(addr_names.most_common(1)[0][0])
        names: dict[str, str] = {}
        for w in g["ways"]:
            for k, v in streets.names[w].items():
                names.setdefault(k, v)
        names["name"] = g["name"]
        g["names"] = names
        g["variants"] = sorted({strings.text(i) for i in addr_names if i >= 0} - {g["name"]})
    progress("geocoder", f"{len(groups)} streets from {len(streets)} named ways and {len(pending)} address street names")
    return groups, addr_group


def set_members(groups: list[dict], addr_group: np.ndarray, joined: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each group's ``addrs``: the rows of ``addr_group`` naming it, in the order they joined it (by ``joined``,
    then row: a street's addresses by name, then those inferred, then interpolated). As views of one array
    (rows, offsets by group), which is returned: a country's millions of addresses in Python lists cost 36 bytes
    each."""
    rows = np.flatnonzero(addr_group >= 0)
    keys = (rows,) if joined is None else (rows, joined[rows])
    rows = rows[np.lexsort((*keys, addr_group[rows]))]
    bounds = np.searchsorted(addr_group[rows], np.arange(len(groups) + 1))
    for g, grp in enumerate(groups):
        grp["addrs"] = rows[bounds[g] : bounds[g + 1]]
    return rows, bounds


def _pending(addresses: Addresses) -> dict[tuple[str, str], np.ndarray]:
    """The rows of each (kind, name key) of the addresses' addr:street (else addr:place), keys in the order of
    their first row (name_key computed once per distinct name)."""
    street, place = addresses["street"], addresses["place"]
    keys: list[tuple[str, str]] = []
    key_id: dict[tuple[str, str], int] = {}

    def key_of(kind: str):
        def fn(text: str | None) -> int:
            key = name_key(text) if text else ""
            if not key:
                return -1
            return key_id.setdefault((kind, key), len(key_id))

        return fn

    kid = np.full(len(addresses), -1, dtype=np.int64)
    has_street = street >= 0
    kid[has_street] = addresses.strings.map(key_of("street"), street[has_street])
    on_place = ~has_street & (place >= 0)
    kid[on_place] = addresses.strings.map(key_of("place"), place[on_place])
    keys = list(key_id)
    rows = np.flatnonzero(kid >= 0)
    order = np.argsort(kid[rows], kind="stable")
    rows, sorted_kid = rows[order], kid[rows][order]
    bounds = np.searchsorted(sorted_kid, np.arange(len(keys) + 1))
    parts = {keys[k]: rows[bounds[k] : bounds[k + 1]] for k in range(len(keys))}
    first = sorted(parts, key=lambda k: int(parts[k][0]))
    return {k: parts[k] for k in first}


def _raw(batch: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """(lat0, lon0, lat1, lon1, group) of the consecutive point pairs of the ways ``(group, coords)``."""
    a = np.concatenate([c[:-1] for _, c in batch])
    b = np.concatenate([c[1:] for _, c in batch])
    group = np.repeat([g_id for g_id, _ in batch], [len(c) - 1 for _, c in batch]).astype(np.int32)
    return a[:, 1].copy(), a[:, 0].copy(), b[:, 1].copy(), b[:, 0].copy(), group


def _pieces(lat0: np.ndarray, lon0: np.ndarray, lat1: np.ndarray, lon1: np.ndarray) -> np.ndarray:
    """How many pieces of at most ``SEGMENT_MAX_M`` each segment is cut into."""
    return np.maximum(1, np.ceil(haversine_m(lon0, lat0, lon1, lat1) / SEGMENT_MAX_M)).astype(np.int64)


def _cut(lat0, lon0, lat1, lon1, group, n: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each segment cut into ``n`` equal pieces: (lat0, lon0, lat1, lon1, group) of the pieces."""
    idx = np.repeat(np.arange(len(n)), n)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n)
    f0 = k / n[idx]
    f1 = (k + 1) / n[idx]
    dlat, dlon = (lat1 - lat0)[idx], ((lon1 - lon0 + 540.0) % 360.0 - 180.0)[idx]
    lat0, lon0 = lat0[idx], lon0[idx]
    return lat0 + dlat * f0, lon0 + dlon * f0, lat0 + dlat * f1, lon0 + dlon * f1, group[idx]


def central_point(lat: np.ndarray, lon: np.ndarray) -> int:
    """The index of the point nearest the centre (in 3D) of all the points."""
    xyz = ecef(lon, lat)
    return int(np.argmin(((xyz - xyz.mean(axis=0)) ** 2).sum(axis=1)))


def central_points(lat: np.ndarray, lon: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """:func:`central_point` of each run of points ``starts[k]:starts[k + 1]`` (the last to the end), as an index into
    all the points: each run's centre by its own ``mean`` (numpy sums it pairwise: ``add.reduceat``'s running sums
    round otherwise and can pick another of two nearly equal points), the rest for all the runs at once."""
    xyz = ecef(lon, lat)
    counts = np.diff(np.r_[starts, len(lat)])
    run = np.repeat(np.arange(len(starts)), counts)
    ends = (starts + counts).tolist()
    centre = np.array([xyz[s:e].mean(axis=0) for s, e in zip(starts.tolist(), ends)]).reshape(-1, 3)
    d2 = ((xyz - centre[run]) ** 2).sum(axis=1)
    nearest = np.flatnonzero(d2 == np.minimum.reduceat(d2, starts)[run])
    return nearest[np.unique(run[nearest], return_index=True)[1]]  # the first of equal distances, as argmin


class _NpyWriter:
    """A 1-D ``.npy`` file of known length written in pieces (the same bytes as ``np.save`` of the whole)."""

    def __init__(self, path: Path, dtype: str, length: int):
        self.file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.dtype = np.dtype(dtype)
        np.lib.format.write_array_header_1_0(
            self.file, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": (length,)}
        )

    def write(self, values: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())

    def close(self) -> None:
        self.file.close()


class Segments:
    """Street centrelines as short segments with a nearest-point grid over their midpoints (reverse lookups,
    inference): the build's ``seg_grid_*`` files when given, else built in memory on first use."""

    def __init__(self, lat0, lon0, lat1, lon1, group, grid: PointGrid | None = None):
        self.lat0, self.lon0, self.lat1, self.lon1 = lat0, lon0, lat1, lon1
        self.group = group
        self._grid = grid

    @classmethod
    def write(cls, groups: list[dict], streets: StreetWays, out: Path,
              chunk: int = SEGMENT_CHUNK) -> tuple[Segments, dict[int, tuple[float, float]]]:
        """Cut the groups' ways into segments (group and way order) and write them to ``out`` (``seg_*.npy``) a
        chunk of whole groups (about ``chunk`` points) at a time: a country's millions of segments are never all in
        memory. Returns the segments memory-mapped from those files, and the representative point of each group
        that has segments (:func:`central_point` of their midpoints), made while its chunk is in memory."""
        batches, batch, size = [], [], 0
        for g_id, g in enumerate(groups):
            for w in g["ways"]:
                c = streets.coords(w)
                if len(c) >= 2:
                    batch.append((g_id, c))
                    size += len(c)
            if size >= chunk or (g_id == len(groups) - 1 and batch):
                batches.append(batch)
                batch, size = [], 0
        pieces = [_pieces(*_raw(batch)[:4]) for batch in batches]
        total = int(sum(int(p.sum()) for p in pieces))
        files = [_NpyWriter(out / f"{name}.npy", dtype, total) for name, dtype in SEGMENT_FILES]
        rep: dict[int, tuple[float, float]] = {}
        for batch, n in zip(batches, pieces):
            lat0, lon0, lat1, lon1, group = _cut(*_raw(batch), n)
            for f, values in zip(files, (lat0, lon0, lat1, lon1, group)):
                f.write(values)
            starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
            mid_lat, mid_lon = (lat0 + lat1) / 2, (lon0 + lon1) / 2
            for g, j in zip(group[starts].tolist(), central_points(mid_lat, mid_lon, starts).tolist()):
                rep[g] = (float(mid_lat[j]), float(mid_lon[j]))
        for f in files:
            f.close()
        return cls(*(np.load(out / f"{name}.npy", mmap_mode="r") for name, _ in SEGMENT_FILES)), rep

    def __len__(self) -> int:
        return len(self.group)

    @property
    def grid(self) -> PointGrid | None:
        if self._grid is None:
            self._grid = self.make_grid()
        return self._grid

    def make_grid(self, out: Path | None = None) -> PointGrid | None:
        """The midpoints' grid, written to ``out`` as ``seg_grid_*.npy`` and mapped (the build) or in memory; None
        for no segments."""
        if not len(self):
            return None
        xyz_of = midpoint_xyz(self.lon0, self.lat0, self.lon1, self.lat1)
        return PointGrid.build(len(self), xyz_of, SEGMENT_GRID_CELL_M, out, "seg")

    def nearest(self, lat: float, lon: float, radius: float, k: int = 24):
        """(distance_m, segment index, t, plat, plon) of the nearest segment within ``radius``, or None: of the ``k``
        segments with the nearest midpoints (a segment is at most ``SEGMENT_MAX_M`` long), the nearest one."""
        grid = self.grid
        if grid is None:
            return None
        k = min(k, len(self))
        _, idx = grid.query(ecef(lon, lat), k, radius + SEGMENT_MAX_M / 2 + 1)
        if len(idx) == 0:
            return None
        d, t, plon, plat = project_on_segments(lon, lat, self.lon0[idx], self.lat0[idx], self.lon1[idx], self.lat1[idx])
        j = int(np.argmin(d))
        if d[j] > radius:
            return None
        return float(d[j]), int(idx[j]), float(t[j]), float(plat[j]), float(plon[j])


def infer_streets(addresses: Addresses, addr_group: np.ndarray, groups: list[dict], segments: Segments) -> int:
    """Give street-less numbered addresses the nearest named street within ``INFER_M``; returns the count."""
    n = 0
    todo = np.flatnonzero((addr_group < 0) & (addresses["street"] < 0) & (addresses["place"] < 0))
    for i in todo.tolist():
        hit = segments.nearest(float(addresses.lat[i]), float(addresses.lon[i]), INFER_M)
        if hit is None:
            continue
        g = int(segments.group[hit[1]])
        addr_group[i] = g
        addresses.inferred[i] = True
        n += 1
    return n
