"""Reverse geocoding at building level (lds.geocoding.buildings): a point inside an addressed building gets that
building's address, even where another address point is nearer."""

from __future__ import annotations

import numpy as np
import shapely

from lds.geocoding.buildings import _outlines, building_address
from lds.geocoding.reverse import nearest_address


def _inside_but_nearer_to_another(index) -> tuple[float, float, int, int]:
    """A point inside an addressed building whose nearest address point is another address (seeded search)."""
    outlines = _outlines(index)
    rng = np.random.default_rng(0)
    for k, row in enumerate(outlines.rows.tolist()):
        geom = outlines.geom(k)
        x0, y0, x1, y1 = geom.bounds
        for _ in range(200):
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if geom.contains(shapely.Point(lon, lat)):
                near = nearest_address(index, lat, lon, 100.0)
                if near is not None and near[0] != row:
                    return lat, lon, row, near[0]
    raise AssertionError("no such point in Monaco's addressed buildings")


def test_the_build_keeps_addressed_building_outlines(lds_core):
    outlines = _outlines(lds_core.geocoder)
    assert outlines is not None and len(outlines.rows) > 20  # Monaco: 62 addressed buildings
    assert len(outlines.rows) == len(outlines.bounds) and outlines.rows.max() < len(lds_core.geocoder.addr_lat)


def test_reverse_answers_the_building_the_point_lies_in(lds_core, client):
    index = lds_core.geocoder
    lat, lon, row, other = _inside_but_nearer_to_another(index)
    assert building_address(index, lat, lon) == row
    got = lds_core.reverse(lat, lon)[0]
    assert got["streetNumber"] == index.string(index.addr_hn[row]) and got["distance"] == 0.0
    assert (got["latitude"], got["longitude"]) == (
        round(float(index.addr_lat[row]), 7),
        round(float(index.addr_lon[row]), 7),
    )
    carto = client.get(f"/v3/lds/geocoding/reverse?lat={lat}&lon={lon}").get_json()[0]["value"][0]
    assert carto["formattedAddress"] == got["formattedAddress"]
    assert (
        index.string(index.addr_hn[other]) != got["streetNumber"] or index.addr_entity[other] != index.addr_entity[row]
    )


class _OldIndex:
    """An index directory written before the outlines (held weakly by the outline cache, as a real index is)."""

    def __init__(self, directory):
        self.directory = directory


def test_an_index_without_outlines_falls_back_to_the_nearest_point(tmp_path):
    assert building_address(_OldIndex(tmp_path), 43.73, 7.42) is None


def test_an_address_point_inside_the_building_stays_the_answer(lds_core):
    """Entrances with their own numbers inside an addressed building: the point's own address wins."""
    from lds.geocoding.buildings import in_building

    index = lds_core.geocoder
    outlines = _outlines(index)
    geom, row = outlines.geom(0), int(outlines.rows[0])
    lat, lon = float(index.addr_lat[row]), float(index.addr_lon[row])
    assert geom.covers(shapely.Point(lon, lat))
    other = next(j for j in range(len(index.addr_lat)) if j != row)
    assert in_building(index, lat, lon, (other, 5.0)) == (row, 0.0)  # the other point lies outside this building
    inside = SimpleIndex(index, row)
    assert in_building(inside, lat, lon, (inside.extra, 1.0)) == (inside.extra, 1.0)


class SimpleIndex:
    """The Monaco index with one more address point placed at ``row``'s position (inside its building)."""

    def __init__(self, index, row: int):
        self.directory = index.directory
        self.addr_lat = np.append(index.addr_lat, index.addr_lat[row])
        self.addr_lon = np.append(index.addr_lon, index.addr_lon[row])
        self.extra = len(index.addr_lat)


def _houses(rng: np.random.Generator, n: int) -> list:
    """Houses of 5-40 m, some L-shaped, a few halls wider than a grid cell, around cell corners too."""
    out = []
    for k in range(n):
        x, y = rng.uniform(7.40, 7.43), rng.uniform(43.72, 43.75)
        if k % 50 == 0:
            x, y = round(x, 3) - 1e-5, round(y, 3) - 1e-5  # across a corner of four cells
        w, h = rng.uniform(5e-5, 4e-4, 2)
        if k % 97 == 0:
            w, h = 3e-3, 1.5e-3  # a hall over several cells
        box = shapely.box(x, y, x + w, y + h)
        out.append(box.difference(shapely.box(x + w / 2, y + h / 2, x + w, y + h)) if k % 3 == 0 else box)
    return out


def test_the_outline_grid_finds_what_a_scan_of_every_outline_finds(tmp_path):
    """Mapped outlines found through the grid: the same outlines hold each point as a test of every outline says,
    for an index written with the grid and for one written before it (grid made when loaded)."""
    from lds.geocoding.buildings import _Outlines, save_buildings

    rng = np.random.default_rng(3)
    houses = _houses(rng, 1500)
    kept = save_buildings(tmp_path, np.arange(0, 3000, 2), np.array(houses, dtype=object))
    assert kept == len(houses)
    grid = _Outlines(tmp_path)
    assert grid.n_large == len(range(0, 1500, 97))
    old = tmp_path / "old"
    old.mkdir()
    for name in ("buildings.wkb", "buildings.offsets.npy", "bld_addr.npy"):
        (old / name).write_bytes((tmp_path / name).read_bytes())
    before_grid = _Outlines(old)
    xs, ys = rng.uniform(7.399, 7.434, 4000), rng.uniform(43.719, 43.754, 4000)
    corners = [(np.asarray(h.bounds[:2]) + 1e-7).tolist() for h in houses[::25]]  # just inside a south-west corner
    xs, ys = np.r_[xs, [c[0] for c in corners]], np.r_[ys, [c[1] for c in corners]]
    every = np.array(houses, dtype=object)
    hits = 0
    for x, y in zip(xs.tolist(), ys.tolist()):
        truth = (2 * np.flatnonzero(shapely.contains_xy(every, x, y))).tolist()
        for outlines in (grid, before_grid):
            assert sorted(int(outlines.rows[k]) for k, _ in outlines.containing(x, y)) == truth
        hits += bool(truth)
    assert hits > 400
