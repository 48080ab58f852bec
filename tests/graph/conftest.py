"""Graph fixtures: Monaco's road graphs with their routing hierarchies (no address index, so it builds in ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lds.graph.store import RoadGraph


@pytest.fixture(scope="session")
def roads_dir(monaco_pbf: Path, tmp_path_factory) -> Path:
    from lds.build.pipeline import build

    out = tmp_path_factory.mktemp("roads") / "monaco"
    build(str(monaco_pbf), out, skip_geocoder=True, quiet=True)
    return out


@pytest.fixture(scope="session")
def car(roads_dir: Path) -> RoadGraph:
    return RoadGraph.load(roads_dir / "graph" / "car", "car")


@pytest.fixture(scope="session")
def walk(roads_dir: Path) -> RoadGraph:
    return RoadGraph.load(roads_dir / "graph" / "walk", "walk")
