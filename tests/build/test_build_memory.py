"""What keeps `lds build`'s memory bounded gives the same data: streets made a few at a time, the roads of the osm
stage written and memory-mapped back, stages in child processes that report their time and peak memory."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from lds.build import tables
from lds.build.osm import load_roads, read_roads, save_roads
from lds.build.progress import Progress
from lds.build.roads import build_mode_graph
from lds.build.stages import StageFailed, run_in_child
from lds.formats import TABLES_DIR


def test_streets_made_in_small_chunks_are_the_same(monaco_dir, monkeypatch):
    ix = tables._Index(monaco_dir / "geocoder")
    whole = pa_rows(tables._streets(ix)[0])
    monkeypatch.setattr(tables, "SEGMENTS_PER_CHUNK", 3)  # many chunks, streets longer than a chunk included
    assert pa_rows(tables._streets(ix)[0]) == whole
    assert whole == pq.read_table(monaco_dir / TABLES_DIR / "streets.parquet").to_pylist()


def pa_rows(batches) -> list[dict]:
    return [row for batch in batches for row in batch.to_pylist()]


def test_saved_roads_give_the_same_graphs(monaco_pbf, tmp_path):
    roads = read_roads(monaco_pbf)
    save_roads(roads, tmp_path / "roads")
    back = load_roads(tmp_path / "roads")
    assert isinstance(back.refs, np.memmap) and back.tags == roads.tags and back.stats == roads.stats
    assert back.restrictions == roads.restrictions and back.bbox == roads.bbox
    for mode in ("car", "walk"):
        a, b = build_mode_graph(roads, mode), build_mode_graph(back, mode)
        assert a.arrays.keys() == b.arrays.keys() and a.names == b.names
        for name in a.arrays:
            np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)


def _allocate(mb: int, progress) -> int:
    progress("alloc", f"{mb} MiB")
    block = np.ones(mb << 20, dtype=np.uint8)
    return int(block.sum() >> 20)


def _fail(message: str, progress) -> None:
    raise ValueError(message)


def test_stage_in_a_child_reports_its_peak_and_progress():
    lines = []

    class Lines(Progress):
        def __call__(self, step: str, message: str = "") -> None:
            lines.append((step, message))

    value, peak = run_in_child(_allocate, (200,), Lines())
    assert value == 200 and lines == [("alloc", "200 MiB")]
    assert peak >= 200  # the child's own peak, not this process's
    with pytest.raises(ValueError, match="no roads here"):
        run_in_child(_fail, ("no roads here",), Lines())
    assert issubclass(StageFailed, RuntimeError)
