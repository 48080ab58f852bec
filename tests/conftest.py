"""Shared fixtures: the real OSM extracts, a Monaco data dir built once per session, the app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from isolated_settings import test_settings

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``LDS_TEST_DATA`` or ``../shared/data`` beside the repo; the suite refuses to run without it."""
    candidates = [os.environ.get("LDS_TEST_DATA"), REPO.parent / "shared" / "data"]
    for c in candidates:
        if c and (Path(c) / "monaco-2020-07.osm.pbf").is_file():
            return Path(c)
    raise RuntimeError(
        "OSM test extracts not found: set LDS_TEST_DATA to the folder holding monaco-2020-07.osm.pbf "
        f"(looked in {[str(c) for c in candidates if c]})"
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_dir()


@pytest.fixture(scope="session")
def monaco_pbf(shared_data: Path) -> Path:
    return shared_data / "monaco-2020-07.osm.pbf"


@pytest.fixture(scope="session")
def monaco_dir(monaco_pbf: Path, tmp_path_factory) -> Path:
    """Monaco built by the real `lds build` pipeline (graphs, routing hierarchy, address index)."""
    from lds.build.pipeline import build

    out = tmp_path_factory.mktemp("data") / "monaco"
    build(str(monaco_pbf), out, quiet=True)
    return out




@pytest.fixture(scope="session")
def lds_core(monaco_dir: Path, tmp_path_factory):
    from lds.core import LDS

    state = tmp_path_factory.mktemp("state")
    return LDS(test_settings(monaco_dir, state_dir=str(state)))


@pytest.fixture(scope="session")
def app(lds_core):
    from lds.app import create_app

    return create_app(lds_core.settings, lds=lds_core)


@pytest.fixture()
def client(app):
    return app.test_client()
