"""Resumable `lds build`: a build SIGKILLed during a later stage (others possibly running beside it) and run again
reuses the stages it finished and ends with the data a clean build makes; another extract or ``--restart`` redoes
everything. Stages run side by side make the same data as one at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from lds.build.pipeline import build
from lds.build.stages import STAGES_FILE

REPO = Path(__file__).resolve().parents[2]
MODES = ["car", "walk"]


def _cli_build(pbf: Path, out: Path, *extra: str, jobs: int = 2) -> subprocess.Popen:
    """`lds build` in a child process, each with its own hash seed: the build's output must not depend on it."""
    return subprocess.Popen(
        [sys.executable, "-m", "lds.cli", "build", str(pbf), "--out", str(out), "--modes", ",".join(MODES), *extra],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONHASHSEED": "random", "LDS_BUILD_JOBS": str(jobs)},
    )


def _kill_after(proc: subprocess.Popen, stages_file: Path, stage: str, timeout: float = 300) -> None:
    """SIGKILL ``proc`` as soon as its build has recorded ``stage`` as done (it is then in the next one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if stage in json.loads(stages_file.read_text())["done"]:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.005)
    assert proc.poll() is None, "the build ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _contents(data: Path) -> dict[str, object]:
    """Everything a build writes that does not depend on when it ran: arrays, index files, table rows."""
    out: dict[str, object] = {}
    for path in sorted(data.rglob("*")):
        rel = str(path.relative_to(data))
        if path.suffix == ".npy":
            out[rel] = np.load(path)
        elif path.suffix == ".parquet":
            out[rel] = pq.read_table(path).to_pylist()
        elif path.is_file() and path.suffix in (".bin", ".wkb") or path.name == "graph.json":
            out[rel] = path.read_bytes()
    return out


def _assert_same(a: Path, b: Path) -> None:
    ca, cb = _contents(a), _contents(b)
    assert ca.keys() == cb.keys()
    for key, value in ca.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, cb[key], err_msg=key)
        else:
            assert value == cb[key], key


@pytest.fixture(scope="module")
def clean_build(monaco_pbf, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "monaco"
    assert _cli_build(monaco_pbf, out).wait() == 0
    return out


def test_killed_build_resumes_after_its_last_finished_stage(monaco_pbf, clean_build, tmp_path):
    out = tmp_path / "monaco"
    _kill_after(_cli_build(monaco_pbf, out), tmp_path / "monaco.building" / STAGES_FILE, "walk ch")
    assert not out.exists()
    done = set(json.loads((tmp_path / "monaco.building" / STAGES_FILE).read_text())["done"])
    assert {"osm", "car", "car ch", "walk", "walk ch"} <= done  # the geocoder and the tables may be done

    proc = _cli_build(monaco_pbf, out)
    assert proc.wait() == 0
    stages = json.loads((out / "meta.json").read_text())["stages"]
    assert {s for s, info in stages.items() if info.get("reused")} == done
    rest = {"geocoder", "car derived", "walk derived", "foot", "tables"}  # the stages that may end after "walk ch"
    assert {s for s, info in stages.items() if not info.get("reused")} == rest - done
    assert not (tmp_path / "monaco.building").exists()
    assert not (out / STAGES_FILE).exists() and not (out / ".roads").exists()
    _assert_same(out, clean_build)


def test_stages_one_at_a_time_make_the_same_data_as_side_by_side(monaco_pbf, clean_build, tmp_path):
    out = tmp_path / "monaco"
    assert _cli_build(monaco_pbf, out, jobs=1).wait() == 0
    _assert_same(out, clean_build)


def test_restart_and_other_options_redo_every_stage(monaco_pbf, tmp_path):
    out = tmp_path / "monaco"
    _kill_after(_cli_build(monaco_pbf, out), tmp_path / "monaco.building" / STAGES_FILE, "car ch")
    assert _cli_build(monaco_pbf, out, "--restart").wait() == 0
    stages = json.loads((out / "meta.json").read_text())["stages"]
    assert not any(info.get("reused") for info in stages.values())

    # a build into a dir that holds one goes to versions/: killed there, then run with other modes
    staging = out / "versions"
    proc = _cli_build(monaco_pbf, out)
    deadline = time.monotonic() + 60
    while not list(staging.glob(".resume-*/" + STAGES_FILE)) and time.monotonic() < deadline:
        time.sleep(0.005)
    _kill_after(proc, next(staging.glob(".resume-*/" + STAGES_FILE)), "car")
    meta = build(str(monaco_pbf), out, modes=["car"], skip_geocoder=True, quiet=True)
    assert not any(info.get("reused") for info in meta["stages"].values())
    assert list(meta["stages"]) == ["osm", "car", "car ch", "car derived", "tables"]
