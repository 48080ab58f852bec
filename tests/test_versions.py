"""`lds build` into a dir that holds a build: a new version beside the old, the pointer flipped, old ones pruned."""

import json
import os
from pathlib import Path

import pytest

from lds import versions
from lds.build.pipeline import build
from lds.dataset import DataDir


@pytest.fixture(scope="module")
def rebuilt(monaco_pbf: Path, tmp_path_factory) -> tuple[Path, list[dict]]:
    """Monaco built four times into one dir (car only after the first), keeping 2 versions."""
    out = tmp_path_factory.mktemp("swap") / "monaco"
    metas = [build(str(monaco_pbf), out, quiet=True)]
    for _ in range(3):
        metas.append(build(str(monaco_pbf), out, modes=("car",), skip_geocoder=True, quiet=True, keep_versions=2))
    return out, metas


def test_first_build_is_flat_and_served_as_before(monaco_dir):
    assert not (monaco_dir / versions.CURRENT).exists()
    data = DataDir.open(monaco_dir)
    assert data.path == monaco_dir and data.version_name is None and not data.outdated()


def test_rebuild_flips_the_pointer_and_prunes(rebuilt):
    out, metas = rebuilt
    assert len({m["data_version"] for m in metas}) == 4
    newest = metas[-1]["data_version"]
    assert os.readlink(out / versions.CURRENT) == f"versions/{newest}"
    kept = sorted(p.name for p in (out / versions.VERSIONS).iterdir())
    assert kept == sorted(m["data_version"] for m in metas[-2:])  # keep 2: the oldest versioned one is gone
    assert not (out / "meta.json").exists() and not (out / "graph").exists()  # the flat first build pruned too
    data = DataDir.open(out)
    assert data.data_version == newest and data.version_name == newest and data.root == out
    assert set(data.meta["graphs"]) == {"car"}
    assert versions.version_path(out, metas[-2]["data_version"]) is not None
    assert versions.version_path(out, metas[0]["data_version"]) is None
    assert versions.version_path(out, "../..") is None


def test_if_changed_reads_the_current_version(rebuilt, monaco_pbf):
    out, metas = rebuilt
    again = build(str(monaco_pbf), out, quiet=True, if_changed=True, keep_versions=2)
    assert again["data_version"] == metas[-1]["data_version"]  # up to date: no new version
    assert len(list((out / versions.VERSIONS).iterdir())) == 2


def test_flat_dir_keeps_working_beside_a_new_version(tmp_path, monaco_dir):
    """A flat build with a version built beside it: opening follows the pointer, the flat one stays until pruned."""
    root = tmp_path / "d"
    root.mkdir()
    (root / "meta.json").write_text(json.dumps({"data_version": "flat-1"}))
    staged = versions.staging_dir(root)
    assert staged.parent == root / versions.VERSIONS
    staged.mkdir(parents=True)
    (staged / "meta.json").write_text(json.dumps({"data_version": "v2"}))
    versions.publish(root, staged, "v2", keep=3)
    assert versions.current_path(root) == root / "versions" / "v2"
    assert versions.version_path(root, "flat-1") == root  # still kept: a job on it finishes on it
    assert (root / "meta.json").exists()


def test_prune_never_deletes_the_current_version(tmp_path):
    root = tmp_path / "d"
    for i, name in enumerate(("a", "b", "c")):
        (root / "versions" / name).mkdir(parents=True)
        (root / "versions" / name / "meta.json").write_text("{}")
        os.utime(root / "versions" / name / "meta.json", ns=(i * 10**9, i * 10**9))
    versions.flip(root, "a")  # pointed back at the oldest (a rollback)
    gone = versions.prune(root, keep=2)
    assert gone == [] and sorted(p.name for p in (root / "versions").iterdir()) == ["a", "b", "c"]
    versions.flip(root, "c")
    assert versions.prune(root, keep=2) == ["a"]
