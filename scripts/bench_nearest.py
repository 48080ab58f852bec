"""Reverse geocoding's nearest-point search: the build's memory-mapped grids (lds.geocoding.nearest) against the
scipy cKDTrees each process used to build, in one run on one address index. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_nearest.py --index /work/scale/A2/c5m/geocoder --queries 5000

For each structure (addresses, street segment midpoints, place nodes) it prints the cKDTree's build time and the
memory it takes in this process (anonymous memory, per process: per gunicorn worker, since workers built them
after fork), beside the grid's files on disk and the seconds to write them (into a temp dir). Then the same query
points (address points moved by up to ~150 m, and uniform points in the data's box) go through the nearest query
of each (p50 in microseconds) and through the whole ``reverse`` (p50 and points/s, what a reverse batch or table
does per row), once on the grids and once on the trees put in their place, counting answers that differ.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scipy.spatial import cKDTree

from lds.errors import OutOfCoverage
from lds.geo import ecef
from lds.geocoding.index import AddressIndex, build_grid
from lds.geocoding.nearest import GRID_PARTS, PointGrid
from lds.geocoding.reverse import reverse
from lds.settings import Settings


def anon_mb() -> float:
    """This process's anonymous memory (MB)."""
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) / 1024
    return 0.0


class TreeAsGrid:
    """A cKDTree answering ``PointGrid.query``: reverse run as it ran on the trees."""

    def __init__(self, xyz: np.ndarray):
        self.tree, self.n = cKDTree(xyz), len(xyz)

    def query(self, q, k: int, ub: float):
        d, i = self.tree.query(q, k=min(k, self.n), distance_upper_bound=ub)
        d, i = np.atleast_1d(d), np.atleast_1d(i)
        keep = i < self.n
        return d[keep], i[keep]


def points(index: AddressIndex, n: int, seed: int) -> list[tuple[float, float]]:
    """(lat, lon): half address points moved by up to ~150 m, half uniform in the box."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(index.addr_lat), n // 2)
    lat = np.asarray(index.addr_lat)[rows] + rng.uniform(-0.0014, 0.0014, len(rows))
    lon = np.asarray(index.addr_lon)[rows] + rng.uniform(-0.002, 0.002, len(rows))
    b = index.bbox
    lat = np.r_[lat, rng.uniform(b[1], b[3], n - len(rows))]
    lon = np.r_[lon, rng.uniform(b[0], b[2], n - len(rows))]
    return list(zip(lat.tolist(), lon.tolist()))


def p50_us(fn, pts) -> tuple[float, list]:
    times, out = [], []
    for lat, lon in pts:
        t = time.perf_counter()
        out.append(fn(lat, lon))
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e6, out


def run_reverse(index: AddressIndex, pts) -> tuple[float, float, list]:
    def one(lat, lon):
        try:
            return reverse(index, lat, lon)
        except OutOfCoverage:
            return None

    t = time.perf_counter()
    p50, out = p50_us(one, pts)
    return p50, len(pts) / (time.perf_counter() - t), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", required=True, help="an address index dir (a data dir's geocoder/) written with grids")
    ap.add_argument("--queries", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    index = AddressIndex.load(args.index, Settings.from_env())
    if not PointGrid.exists(index.directory, "addr"):
        print(f"{args.index} has no grid files: build it with this lds")
        return 1
    grids = {"addr": index.addr_grid, "seg": index.segments.grid, "placenode": index.placenode_grid}
    seg = index.segments
    e = np.asarray(index.placenode_entity)
    xyz_of = {
        "addr": lambda: ecef(np.asarray(index.addr_lon), np.asarray(index.addr_lat)),
        "seg": lambda: (ecef(np.asarray(seg.lon0), np.asarray(seg.lat0)) + ecef(np.asarray(seg.lon1), np.asarray(seg.lat1))) / 2,
        "placenode": lambda: ecef(np.asarray(index.ent_lon)[e], np.asarray(index.ent_lat)[e]),
    }
    print(f"index {args.index}: {len(index.addr_lat)} addresses, {len(seg)} segments, {len(e)} place nodes")
    print(f"{'structure':>10} {'points':>9} | {'tree build s':>12} {'tree anon MB':>12} | {'grid write s':>12} {'grid disk MB':>12}")
    trees = {}
    for name, grid in grids.items():
        if grid is None:
            continue
        before = anon_mb()
        t = time.perf_counter()
        xyz = xyz_of[name]()
        trees[name] = TreeAsGrid(xyz)
        del xyz
        tree_s, tree_mb = time.perf_counter() - t, anon_mb() - before
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            build_grid(index.directory, name, Path(tmp))
            grid_s = time.perf_counter() - t
        disk = sum((index.directory / f"{name}_grid_{p}.npy").stat().st_size for p in GRID_PARTS) / 2**20
        print(f"{name:>10} {len(grid):>9} | {tree_s:>12.2f} {tree_mb:>12.0f} | {grid_s:>12.2f} {disk:>12.0f}")

    pts = points(index, args.queries, args.seed)
    radius = index.settings.reverse_address_radius_m
    for name, k, ub in (("addr", 6, radius + 5.0), ("seg", 24, index.settings.reverse_street_radius_m + 26.0)):
        g, tr = grids[name], trees[name]
        grid_us, a = p50_us(lambda lat, lon, g=g, k=k, ub=ub: g.query(ecef(lon, lat), k, ub), pts)
        tree_us, b = p50_us(lambda lat, lon, tr=tr, k=k, ub=ub: tr.query(ecef(lon, lat), k, ub), pts)
        same = sum(np.array_equal(x[0], y[0]) for x, y in zip(a, b))
        print(f"nearest {name} (k={k}, bound {ub:g} m) p50: grid {grid_us:.1f} us, tree {tree_us:.1f} us "
              f"(tree/grid {tree_us / grid_us:.2f}x); same distances {same}/{len(pts)}")

    grid_p50, grid_rate, ga = run_reverse(index, pts)
    index._addr_grid, index._placenode_grid, seg._grid = trees["addr"], trees.get("placenode"), trees["seg"]
    tree_p50, tree_rate, ta = run_reverse(index, pts)
    same = sum(x == y for x, y in zip(ga, ta))
    print(f"reverse p50: grid {grid_p50:.1f} us, tree {tree_p50:.1f} us (tree/grid {tree_p50 / grid_p50:.2f}x); "
          f"points/s: grid {grid_rate:.0f}, tree {tree_rate:.0f} ({grid_rate / tree_rate:.2f}x); "
          f"same answers {same}/{len(pts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
