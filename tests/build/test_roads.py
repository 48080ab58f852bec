"""The mode graphs' way usages (lds.build.roads.build_mode_graph): the profiles are evaluated once per set of the
tags they read, so every way must be used exactly as its own evaluation says, and no profile may read a tag left
out of that set (a way's name or ref): checked on every way of a real extract."""

from __future__ import annotations

import pytest

from lds.build.osm import read_roads
from lds.build.profiles import PROFILES, UNREAD_BY_PROFILES
from lds.build.roads import build_mode_graph


@pytest.fixture(scope="module")
def roads(monaco_pbf):
    return read_roads(monaco_pbf)


@pytest.mark.parametrize("mode", sorted(PROFILES))
def test_each_way_is_used_as_its_own_tags_say(roads, mode):
    usage_of = PROFILES[mode]
    want = {i: u for i, tags in enumerate(roads.tags) if (u := usage_of(tags)) is not None and (u.forward or u.backward)}
    assert build_mode_graph(roads, mode).usages == want
    named = sum(bool(UNREAD_BY_PROFILES & set(tags)) for tags in roads.tags)
    assert named > 100
    for tags in roads.tags:
        assert usage_of({k: v for k, v in tags.items() if k not in UNREAD_BY_PROFILES}) == usage_of(tags)
        assert usage_of({**tags, "name": "Motorway", "ref": "A1"}) == usage_of(tags)
