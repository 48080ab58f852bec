"""Reverse geocoding's nearest-point grids (lds.geocoding.nearest) answer what scipy's cKDTree answered before them:
the same points at the same distances, bit for bit, on real addresses, street segments and place nodes, on points
far from the data, exactly on data points, and across the antimeridian and the poles. They are written by the
build and memory-mapped read-only; an index built before them still serves, building them in memory."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from geohelpers import geo_settings
from scipy.spatial import cKDTree

from lds.errors import OutOfCoverage
from lds.formats import FLAG_INTERPOLATED
from lds.geo import chord_to_arc, ecef
from lds.geocoding.index import AddressIndex, build_grid
from lds.geocoding.nearest import GRID_PARTS, PointGrid, lonlat_xyz
from lds.geocoding.reverse import INTERPOLATED_PENALTY_M, NEAREST_K, enclosing_place, nearest_address, reverse

BOUNDS = (0.5, 30.0, 105.0, 526.0, 5_000.0, 1e7)  # upper bounds: below the spacing of points up to the whole Earth


def brute(xyz: np.ndarray, q: np.ndarray, k: int, ub: float) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest by (distance, index) among all points, distances computed as cKDTree does."""
    d = q - xyz
    d2 = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2]
    inside = np.flatnonzero(d2 < ub * ub)
    best = inside[np.lexsort((inside, d2[inside]))][:k]
    return np.sqrt(d2[best]), best


def assert_as_tree(grid: PointGrid, tree: cKDTree, xyz: np.ndarray, q: np.ndarray, k: int, ub: float) -> None:
    dg, ig = grid.query(q, k, ub)
    dt, it = tree.query(q, k=k, distance_upper_bound=ub)
    dt, it = np.atleast_1d(dt), np.atleast_1d(it)
    dt, it = dt[it < len(xyz)], it[it < len(xyz)]
    assert np.array_equal(dg, dt)  # the same distances, bit for bit
    db, ib = brute(xyz, q, k, ub)
    assert np.array_equal(dg, db) and np.array_equal(ig, ib)  # ties in index order
    if len(dt):  # the tree's points are the same but for its order of equal distances
        closer = dt < dt[-1]
        assert set(it[closer].tolist()) == set(ig[closer].tolist())
        assert np.array_equal(np.sqrt(((xyz[it] - q) ** 2).sum(axis=1)), dt)


def queries(lon: np.ndarray, lat: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Query points (lon, lat): random in and around the points' box, exactly on points, far away."""
    rng = np.random.default_rng(seed)
    box = np.c_[rng.uniform(lon.min() - 0.02, lon.max() + 0.02, n), rng.uniform(lat.min() - 0.02, lat.max() + 0.02, n)]
    on = rng.integers(0, len(lon), n // 4)
    far = [(lon[0] + 180.0 - 360.0 * (lon[0] > 0), -lat[0]), (lon[0] + 1.0, lat[0]), (0.0, 90.0), (-179.9, -89.9)]
    return np.r_[box, np.c_[lon[on], lat[on]], np.array(far)]


def check_points(lon: np.ndarray, lat: np.ndarray, n_queries: int, seed: int) -> None:
    xyz = ecef(lon, lat)
    tree = cKDTree(xyz)
    for cell in (50.0, 700.0):
        grid = PointGrid.build(len(lon), lonlat_xyz(lon, lat), cell)
        for qlon, qlat in queries(lon, lat, n_queries, seed).tolist():
            q = ecef(qlon, qlat)
            for k, ub in ((1, BOUNDS[2]), (6, BOUNDS[3]), (24, BOUNDS[4]), (6, BOUNDS[0]), (3, BOUNDS[5]), (16, BOUNDS[1])):
                assert_as_tree(grid, tree, xyz, q, k, ub)


def test_address_points_as_the_tree(copenhagen_index, monaco_index):
    for index, seed in ((copenhagen_index, 1), (monaco_index, 2)):
        check_points(np.asarray(index.addr_lon), np.asarray(index.addr_lat), 150, seed)


def test_written_grids_are_the_tree_s(copenhagen_index):
    """The build's mapped grids: addresses, segment midpoints (the old tree's points) and place nodes."""
    ix = copenhagen_index
    seg = ix.segments
    seg_xyz = (ecef(np.asarray(seg.lon0), np.asarray(seg.lat0)) + ecef(np.asarray(seg.lon1), np.asarray(seg.lat1))) / 2.0
    e = np.asarray(ix.placenode_entity)
    place_xyz = ecef(np.asarray(ix.ent_lon)[e], np.asarray(ix.ent_lat)[e])
    rng = np.random.default_rng(5)
    b = ix.bbox
    pts = np.c_[rng.uniform(b[0], b[2], 200), rng.uniform(b[1], b[3], 200)]
    for grid, xyz, k, ub in ((ix.addr_grid, ecef(np.asarray(ix.addr_lon), np.asarray(ix.addr_lat)), 6, 105.0),
                             (seg.grid, seg_xyz, 24, 526.0), (ix.placenode_grid, place_xyz, 16, 5_000.0)):
        tree = cKDTree(xyz)
        for qlon, qlat in pts.tolist():
            assert_as_tree(grid, tree, xyz, ecef(qlon, qlat), k, ub)


@pytest.mark.parametrize("centre", [(180.0, 0.0), (-180.0, 65.0), (0.0, 90.0), (120.0, -90.0)])
def test_antimeridian_and_poles(centre):
    """Points on both sides of the antimeridian, around a pole: ECEF distances have no seam."""
    rng = np.random.default_rng(7)
    clon, clat = centre
    lat = np.clip(clat + rng.normal(0, 0.01, 3000), -90.0, 90.0)
    lon = (clon + rng.normal(0, 0.02, 3000) + 180.0) % 360.0 - 180.0
    lat[:5], lon[:5] = clat, clon  # points exactly on the pole / the antimeridian, some duplicated
    lat[5:8], lon[5:8] = clat, clon
    check_points(lon, lat, 60, 8)


def test_empty_and_degenerate_queries():
    grid = PointGrid.build(0, lonlat_xyz(np.zeros(0), np.zeros(0)), 50.0)
    assert [len(a) for a in grid.query(ecef(7.0, 43.0), 6, 100.0)] == [0, 0]
    lon, lat = np.array([7.0, 7.001]), np.array([43.0, 43.0])
    grid = PointGrid.build(2, lonlat_xyz(lon, lat), 50.0)
    for ub in (0.0, -1.0, float("nan")):
        assert [len(a) for a in grid.query(ecef(7.0, 43.0), 6, ub)] == [0, 0]
    d, i = grid.query(ecef(7.0, 43.0), 6, 1e7)
    assert i.tolist() == [0, 1] and d[0] == 0.0


def test_grids_are_mapped_read_only(copenhagen_index):
    for grid in (copenhagen_index.addr_grid, copenhagen_index.segments.grid, copenhagen_index.placenode_grid):
        for part in ("key", "off", "xyz", "idx"):
            arr = getattr(grid, part)
            assert not arr.flags.writeable and isinstance(arr.base, np.memmap)
            with pytest.raises(ValueError):
                arr[0] = 0


def test_written_grid_equals_the_one_built_in_memory(copenhagen_index):
    for name in ("addr", "seg", "placenode"):
        written, memory = PointGrid.load(copenhagen_index.directory, name), build_grid(copenhagen_index.directory, name)
        assert written.cell == memory.cell
        for part in ("key", "off", "xyz", "idx"):
            assert np.array_equal(getattr(written, part), getattr(memory, part))


def _tree_nearest_address(index: AddressIndex, tree: cKDTree, lat: float, lon: float, radius: float):
    """What reverse's nearest address was on the cKDTree: the (key, distance) of its pick."""
    dist, idx = tree.query(ecef(lon, lat), k=NEAREST_K, distance_upper_bound=radius + INTERPOLATED_PENALTY_M)
    best = None
    for d, j in zip(dist.tolist(), idx.tolist()):
        if j >= len(index.addr_lat):
            break
        d = float(chord_to_arc(d))
        if d > radius:
            continue
        key = d + (INTERPOLATED_PENALTY_M if index.addr_flags[j] & FLAG_INTERPOLATED else 0.0)
        if best is None or key < best[0]:
            best = (key, j, d)
    return best


def test_reverse_picks_as_with_the_tree(copenhagen_index):
    ix = copenhagen_index
    tree = cKDTree(ecef(np.asarray(ix.addr_lon), np.asarray(ix.addr_lat)))
    rng = np.random.default_rng(11)
    b = ix.bbox
    same = 0
    for lon, lat in np.c_[rng.uniform(b[0], b[2], 400), rng.uniform(b[1], b[3], 400)].tolist():
        old = _tree_nearest_address(ix, tree, lat, lon, 100.0)
        new = nearest_address(ix, lat, lon, 100.0)
        assert (old is None) == (new is None)
        if new is not None:
            j, d = new
            key = d + (INTERPOLATED_PENALTY_M if ix.is_interpolated(j) else 0.0)
            assert (key, d) == (old[0], old[2])  # the same distance; the same row unless another ties with it
            same += j == old[1]
    assert same > 0


def test_an_index_built_before_the_grids_still_serves(copenhagen_index, tmp_path: Path):
    old = tmp_path / "old"
    shutil.copytree(copenhagen_index.directory, old, ignore=shutil.ignore_patterns("*_grid_*"))
    assert not any(PointGrid.exists(old, n) for n in ("addr", "seg", "placenode"))
    index = AddressIndex.load(old, geo_settings())
    assert index.addr_grid.xyz.flags.writeable  # built in memory
    rng = np.random.default_rng(13)
    b = index.bbox
    for lon, lat in np.c_[rng.uniform(b[0], b[2], 100), rng.uniform(b[1], b[3], 100)].tolist():
        try:
            expected = reverse(copenhagen_index, lat, lon)
        except OutOfCoverage:
            with pytest.raises(OutOfCoverage):
                reverse(index, lat, lon)
            continue
        assert reverse(index, lat, lon) == expected
        assert enclosing_place(index, lat, lon) == enclosing_place(copenhagen_index, lat, lon)
    assert {f"addr_grid_{p}.npy" for p in GRID_PARTS}.isdisjoint(p.name for p in old.iterdir())
