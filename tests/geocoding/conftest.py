"""Address indexes for the geocoding tests: Monaco from the shared built data dir, Copenhagen built once
per session (index only), and small synthetic extracts for the cases the real ones lack."""

from __future__ import annotations

from pathlib import Path

import pytest
from geohelpers import geo_settings

from lds.geocoding.build import build_index
from lds.geocoding.index import AddressIndex


@pytest.fixture(scope="session")
def monaco_index(monaco_dir: Path) -> AddressIndex:
    return AddressIndex.load(monaco_dir / "geocoder", geo_settings())


@pytest.fixture(scope="session")
def copenhagen_pbf(shared_data: Path) -> Path:
    return shared_data / "copenhagen-2011.osm.pbf"


@pytest.fixture(scope="session")
def copenhagen_index(copenhagen_pbf: Path, tmp_path_factory) -> AddressIndex:
    out = tmp_path_factory.mktemp("geo") / "copenhagen"
    counts = build_index(copenhagen_pbf, out, lambda step, message: None)
    index = AddressIndex.load(out, geo_settings())
    index.build_counts = counts
    return index
