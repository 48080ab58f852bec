"""`lds build` on a terminal: the tqdm bar walks every stage of a real Monaco build and ends full, with the
progress lines kept above it."""

from __future__ import annotations

import io

from lds.build.pipeline import build
from lds.build.progress_bar import BarProgress, build_stages


def test_bar_follows_a_real_build(monaco_pbf, tmp_path):
    stream = io.StringIO()
    stages = build_stages(["car", "walk"])
    progress = BarProgress(stages, stream=stream)
    build(str(monaco_pbf), tmp_path / "monaco", modes=["car", "walk"], progress=progress)
    text = stream.getvalue()
    assert progress.bar.n == progress.bar.total == len(stages) == 9
    for step in stages:
        assert f"] {step}: " in text, step  # every stage reported its line
    assert f"{len(stages)}/{len(stages)} stages" in text


def test_stages_without_geocoder():
    assert build_stages(["bike"], skip_geocoder=True) == ["source", "osm", "bike", "bike ch", "tables", "done"]


def test_up_to_date_build_fills_the_bar(monaco_pbf, tmp_path):
    build(str(monaco_pbf), tmp_path / "m", modes=["car"], skip_geocoder=True, quiet=True)
    progress = BarProgress(build_stages(["car"], skip_geocoder=True), stream=io.StringIO())
    build(str(monaco_pbf), tmp_path / "m", modes=["car"], skip_geocoder=True, if_changed=True, progress=progress)
    assert progress.bar.n == progress.bar.total
