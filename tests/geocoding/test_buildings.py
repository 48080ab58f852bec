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
    for geom, row in zip(outlines.geoms, outlines.rows.tolist()):
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
    assert len(outlines.rows) == len(outlines.geoms) and outlines.rows.max() < len(lds_core.geocoder.addr_lat)


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
    geom, row = outlines.geoms[0], int(outlines.rows[0])
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
