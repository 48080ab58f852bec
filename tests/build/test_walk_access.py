"""Which ways walking may use (lds.build.profiles.walk_usage)."""

from __future__ import annotations

import pytest

from lds.build.profiles import bike_usage, walk_usage


@pytest.mark.parametrize("foot", ["yes", "designated", "permissive"])
def test_a_cycleway_is_walked_where_a_foot_tag_opens_it(foot):
    assert walk_usage({"highway": "cycleway", "foot": foot}) is not None


def test_an_untagged_cycleway_is_not_walked_but_ridden():
    """OSRM's foot profile and osmnx's walk network leave cycleways out: pedestrians use the footway beside them."""
    assert walk_usage({"highway": "cycleway"}) is None
    assert walk_usage({"highway": "cycleway", "foot": "no"}) is None
    assert bike_usage({"highway": "cycleway"}) is not None


@pytest.mark.parametrize("highway", ["footway", "path", "pedestrian", "residential", "track", "steps"])
def test_footways_paths_and_streets_are_walked(highway):
    assert walk_usage({"highway": highway}) is not None
