"""Reverse geocoding: address within the radius, else street, else enclosing place, else a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from lds.errors import OutOfCoverage
from lds.formats import FLAG_INTERPOLATED
from lds.geo import distance_m
from lds.geocoding.reverse import reverse


def test_an_address_point_returns_itself(copenhagen_index):
    rng = np.random.default_rng(3)
    real = np.flatnonzero((copenhagen_index.addr_flags & FLAG_INTERPOLATED) == 0)
    for j in rng.choice(real, 50, replace=False).tolist():
        lat, lon = float(copenhagen_index.addr_lat[j]), float(copenhagen_index.addr_lon[j])
        r = reverse(copenhagen_index, lat, lon)
        assert len(r) == 1
        c = r[0]
        assert c["distance"] == 0.0 and c["matchType"] == "address"
        assert c["streetNumber"] and c["streetName"] and c["postalCode"] and c["city"] and c["countryCode"] == "DK"
        same_point = [k for k in range(len(copenhagen_index.addr_lat))
                      if copenhagen_index.addr_lat[k] == lat and copenhagen_index.addr_lon[k] == lon]
        assert c["streetNumber"] in {copenhagen_index.string(copenhagen_index.addr_hn[k]) for k in same_point}


def test_nearby_point_gets_the_nearest_address_with_distance(monaco_index):
    c = reverse(monaco_index, 43.7331, 7.4182)[0]  # ~10 m from 14 Allée Lazare Sauvaigo
    assert c["matchType"] == "address" and c["streetNumber"] == "14"
    assert 5 < c["distance"] < 20
    assert c["distance"] == pytest.approx(distance_m(7.4182, 43.7331, c["longitude"], c["latitude"]), abs=0.2)


def test_street_fallback_beyond_the_address_radius(monaco_index):
    s = monaco_index.settings.replace(reverse_address_radius_m=1.0)
    monaco_index.settings, saved = s, monaco_index.settings
    try:
        c = reverse(monaco_index, 43.7331, 7.4182)[0]
    finally:
        monaco_index.settings = saved
    assert c["matchType"] == "street" and c["streetName"] and c["streetNumber"] is None
    assert c["distance"] < 60 and c["city"] == "Monaco"


def test_place_fallback_in_the_harbour(monaco_index):
    s = monaco_index.settings.replace(reverse_address_radius_m=1.0, reverse_street_radius_m=1.0)
    monaco_index.settings, saved = s, monaco_index.settings
    try:
        c = reverse(monaco_index, 43.7355, 7.4240)[0]  # Port Hercule, in La Condamine
    finally:
        monaco_index.settings = saved
    assert c["matchType"] == "place" and c["name"] == "La Condamine" and c["countryCode"] == "MC"


def test_outside_the_data_is_an_error_not_a_guess(monaco_index, copenhagen_index):
    with pytest.raises(OutOfCoverage, match="outside the loaded data"):
        reverse(monaco_index, 43.60, 7.418)  # 15 km out at sea
    with pytest.raises(OutOfCoverage):
        reverse(copenhagen_index, 48.85, 2.35)  # Paris


def test_language_picks_tagged_names(copenhagen_index):
    lat, lon = float(copenhagen_index.addr_lat[0]), float(copenhagen_index.addr_lon[0])
    assert reverse(copenhagen_index, lat, lon)[0]["country"] == "Danmark"
    assert reverse(copenhagen_index, lat, lon, language="en-US")[0]["country"] == "Denmark"
    assert reverse(copenhagen_index, lat, lon, language="xx")[0]["country"] == "Danmark"


def test_the_mapped_areas_hold_the_points_each_polygon_holds(monaco_index, tmp_path):
    """Reverse's locality polygons (lds.geocoding.areas), mapped and parsed only when a point is in their box: the
    areas found for a point are those whose polygon intersects it, for this index and for one written before the
    boxes (made when loaded)."""
    import shutil

    import numpy as np
    import shapely

    from lds.geocoding.areas import Areas

    areas = monaco_index.areas
    every = np.array([areas.geom(k) for k in range(len(areas))], dtype=object)
    assert len(every) >= 5 and shapely.get_num_coordinates(every).max() > 100
    older = tmp_path / "older"
    older.mkdir()
    for name in ("areas.wkb", "areas.offsets.npy"):
        shutil.copy(monaco_index.directory / name, older / name)
    before_boxes = Areas(older)
    x0, y0, x1, y1 = shapely.total_bounds(every)
    rng = np.random.default_rng(2)
    xs, ys = rng.uniform(x0 - 0.01, x1 + 0.01, 3000), rng.uniform(y0 - 0.01, y1 + 0.01, 3000)
    vertices = shapely.get_coordinates(every[:3])[::40]  # on a boundary: intersects, as before
    xs, ys = np.r_[xs, vertices[:, 0]], np.r_[ys, vertices[:, 1]]
    inside = 0
    for x, y in zip(xs.tolist(), ys.tolist()):
        truth = np.flatnonzero(shapely.intersects_xy(every, x, y)).tolist()
        assert areas.containing(x, y) == truth and before_boxes.containing(x, y) == truth
        inside += bool(truth)
    assert 200 < inside < len(xs)
