"""The arrays `lds build` derives for serving (lds.build.derived): a server maps them instead of building the
isolines' search index, the alternatives' search spaces, the claiming roads, the roads cut off from the network and park and walk's network at load,
and answers the same; a data dir built without them (by an older lds) still serves, computing them at load as
before, and `lds build --if-changed` rebuilds it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from isolated_settings import test_settings

from lds import fastjson
from lds.build.derived import FOOT_PARTS, GRAPH_PARTS, derived_files
from lds.build.pipeline import current_meta, sha256_file
from lds.core import LDS
from lds.graph.search import search_index
from lds.isoline_shape import claim_boxes, cutoff_boxes, snapping_edges
from lds.isoline_walk import foot_network

PAIRS = [((7.4300, 43.7460), (7.4197, 43.7311)), ((7.4235, 43.7385), (7.4340, 43.7480)),
         ((7.4197, 43.7311), (7.4270, 43.7400)), ((7.4150, 43.7330), (7.4260, 43.7420))]
ORIGINS = [(7.4197, 43.7311), (7.4246, 43.7384), (7.4300, 43.7460)]


@pytest.fixture(scope="module")
def older_dir(monaco_dir: Path, tmp_path_factory) -> Path:
    """The Monaco build as the previous lds wrote it: no derived arrays, model version 2."""
    copy = tmp_path_factory.mktemp("older") / "monaco"
    shutil.copytree(monaco_dir, copy, symlinks=True)
    for path in copy.glob("graph/*/derived_*.npy"):
        path.unlink()
    meta = json.loads((copy / "meta.json").read_text())
    (copy / "meta.json").write_text(json.dumps({**meta, "model_version": 2}))
    return copy


@pytest.fixture(scope="module")
def older_core(older_dir: Path, tmp_path_factory) -> LDS:
    return LDS(test_settings(older_dir, state_dir=str(tmp_path_factory.mktemp("state"))))


def _structures(core: LDS) -> dict[str, np.ndarray]:
    """Every derived structure of a loaded data dir, by part and array name."""
    out = {}
    for mode, graph in core.graphs.items():
        out |= {f"{mode} search {k}": v for k, v in search_index(graph).arrays().items()}
        out[f"{mode} snapping"] = snapping_edges(graph)
        boxes = claim_boxes(graph)
        out[f"{mode} claims edges"], out[f"{mode} claims bounds"] = boxes.edges, boxes.bounds
        boxes = cutoff_boxes(graph)
        out[f"{mode} cutoff edges"], out[f"{mode} cutoff bounds"] = boxes.edges, boxes.bounds
    net = foot_network(core.graphs["car"], core.graphs["walk"])
    for name in ("indptr", "adj_edge", "adj_dst", "adj_len", "seed_node", "seed_edge", "seed_frac", "seed_src"):
        out[f"foot {name}"] = getattr(net, name)
    out["foot ways edges"], out["foot ways bounds"] = net.ways.edges, net.ways.bounds
    return out


def test_the_build_writes_the_derived_arrays_of_every_mode(monaco_dir):
    for mode in ("car", "walk", "bike"):
        files = derived_files(monaco_dir / "graph" / mode, GRAPH_PARTS)
        assert files and all(f.is_file() for f in files)
    assert all(f.is_file() for f in derived_files(monaco_dir / "graph" / "car", FOOT_PARTS))
    assert not list(monaco_dir.glob("graph/*/*.part"))
    # the geometry's OSM nodes are kept where the foot network is made from them (at build, or at load for an older
    # build), not beside the walking and cycling graphs
    assert sorted(p.parent.name for p in monaco_dir.glob("graph/*/geom_osm.npy")) == ["car"]


def test_a_server_maps_them_and_an_older_build_computes_them(lds_core, older_core):
    mapped, computed = _structures(lds_core), _structures(older_core)
    assert mapped.keys() == computed.keys()
    for key, value in mapped.items():
        # read-only views of the mapped files (not built in this process), equal to what is built at load
        assert not value.flags.writeable and not value.flags.owndata, key
        assert computed[key].flags.writeable, key
        assert value.dtype == computed[key].dtype and value.shape == computed[key].shape, key
        np.testing.assert_array_equal(value, computed[key], err_msg=key)


def test_the_address_index_is_mapped(lds_core):
    index = lds_core.geocoder
    for array in (index.addr_lat, index.addr_entity, index.ent_kind, index.tok_post, index.segments.lat0):
        assert type(array) is np.ndarray and not array.flags.owndata and not array.flags.writeable


def test_the_same_answers_with_the_derived_arrays_as_without(lds_core, older_core):
    for mode in ("car", "walk", "bike"):
        for o, d in PAIRS:
            assert lds_core.route_alternatives([o, d], mode, 3) == older_core.route_alternatives([o, d], mode, 3)
        for origin in ORIGINS:
            for range_type, ranges in (("time", [120, 300, 600]), ("distance", [500, 1500])):
                a = fastjson.dumps(lds_core.isolines(origin, ranges, range_type, mode))
                b = fastjson.dumps(older_core.isolines(origin, ranges, range_type, mode))
                assert a == b, (mode, origin, range_type)
    for text in ("Avenue de Monte-Carlo", "Boulevard des Moulins 10", "Place du Casino"):
        assert lds_core.geocode(text, limit=5) == older_core.geocode(text, limit=5)
    assert lds_core.reverse(43.7384, 7.4246) == older_core.reverse(43.7384, 7.4246)


def test_if_changed_rebuilds_an_older_build(monaco_dir, older_dir, monaco_pbf):
    digest = sha256_file(monaco_pbf)
    assert current_meta(monaco_dir, digest) is not None
    assert current_meta(older_dir, digest) is None  # model version 2: rebuilt to add the derived arrays
