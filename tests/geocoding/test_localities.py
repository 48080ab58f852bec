"""Which areas enclose an address: real boundaries have thousands of vertices, holes and concave coasts, and a
country has millions of addresses. The areas are tested prepared after a bounding-box lookup; checked here against
GEOS's own point-in-polygon on every point, including points in a hole, in a concave bay (inside the bounding box,
outside the area), on the boundary and beyond it, located in several chunks."""

from __future__ import annotations

import numpy as np
import shapely

from lds.geocoding.localities import Localities


def _wiggly(cx: float, cy: float, r: float, n: int, seed: int) -> shapely.Polygon:
    """A star-shaped ring of ``n`` vertices (a border's wiggles), concave in many places."""
    rng = np.random.default_rng(seed)
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rr = r * (1 + 0.3 * np.sin(7 * a) + 0.05 * rng.standard_normal(n))
    return shapely.Polygon(np.c_[cx + rr * np.cos(a), cy + rr * np.sin(a) * 0.6])


def _areas() -> list[dict]:
    state = _wiggly(10.0, 50.0, 1.0, 5000, 1)
    city = shapely.Polygon(_wiggly(10.2, 50.1, 0.3, 2000, 2).exterior,
                           [_wiggly(10.2, 50.1, 0.08, 300, 3).exterior.coords[::-1]])  # a lake inside the city
    base = {"place": None, "postcode": None, "iso2": None, "center": None}
    return [
        {**base, "osm": "r1", "kind": "admin", "level": 4, "names": {"name": "State"}, "geom": state},
        {**base, "osm": "r2", "kind": "admin", "level": 8, "names": {"name": "City"}, "geom": city},
        {**base, "osm": "r3", "kind": "postal", "level": 0, "names": {}, "postcode": "12345",
         "geom": shapely.box(10.1, 50.0, 10.3, 50.2)},
    ]


def test_enclosing_areas_match_point_in_polygon_on_every_point() -> None:
    areas = _areas()
    locs = Localities(areas, [])
    rng = np.random.default_rng(7)
    lon = rng.uniform(8.7, 11.3, 20000)
    lat = rng.uniform(49.2, 50.8, 20000)
    # points on the city's boundary and in its lake: neither is within the city
    ring = np.asarray(areas[1]["geom"].exterior.coords)[:50]
    lon, lat = np.r_[lon, ring[:, 0], 10.2], np.r_[lat, ring[:, 1], 50.1]
    unique, which = locs.locate_ids(lat, lon, chunk=4096)
    truth = [shapely.contains_xy(a["geom"], lon, lat) for a in areas]
    city = np.array([unique[k].city == {"name": "City"} for k in which.tolist()])
    state = np.array([unique[k].state == {"name": "State"} for k in which.tolist()])
    postcode = np.array([unique[k].postcode == "12345" for k in which.tolist()])
    assert np.array_equal(state, truth[0]) and np.array_equal(city, truth[1]) and np.array_equal(postcode, truth[2])
    # the draw reaches every case: in the city, in its lake, in a bay of the state (inside its box, outside it)
    assert truth[1].sum() > 100 and not truth[1][-1] and truth[0][-1]
    assert not truth[1][-51:-1].any()
    minx, miny, maxx, maxy = areas[0]["geom"].bounds
    in_box = (lon > minx) & (lon < maxx) & (lat > miny) & (lat < maxy)
    assert (in_box & ~truth[0]).sum() > 100
