"""Following a data dir's new version in one process: the app's core swapped, jobs kept on their version,
`lds worker` switching by itself."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lds.app import create_app
from lds.build.pipeline import build
from lds.cache import with_cache
from lds.core import LDS
from lds.data_follow import Follower, at_version, innermost, swap_app
from lds.errors import Unavailable
from lds.jobs.chunks import run_chunk
from lds.jobs.file_store import FileJobStore
from lds.jobs.model import new_job
from lds.settings import Settings
from lds.versions import note_served

ROUTE = "/v3/lds/routing?origin=7.4197,43.7311&destination=7.4246,43.7384&mode=car"


def settings(data_dir: Path, state: Path | None = None, **overrides) -> Settings:
    """Settings of the developer's environment aside: auth off, no cache unless asked, state in a temp dir."""
    values = {"data_dir": str(data_dir), "auth": False, "cache_enabled": False, **overrides}
    if state is not None:
        values["state_dir"] = str(state)
    return Settings.from_env(env={}, **values)


@pytest.fixture(scope="module")
def two_versions(monaco_pbf: Path, tmp_path_factory):
    """Monaco with its address index, opened; then rebuilt into the same dir without one: (dir, old facade, new)."""
    out = tmp_path_factory.mktemp("follow") / "monaco"
    build(str(monaco_pbf), out, quiet=True)
    facade = with_cache(LDS(settings(out, cache_enabled=True)))
    new = build(str(monaco_pbf), out, modes=("car",), skip_geocoder=True, quiet=True)["data_version"]
    return out, facade, new


def test_follower_switches_to_the_new_version(two_versions):
    out, facade, new = two_versions
    old = facade.data_version
    assert facade.data.outdated()
    switched = []
    follower = Follower(facade, 0, switched.append)
    assert follower.check() is True and follower.check() is False
    (now,) = switched
    assert now.data_version == new and now.data.path == out / "versions" / new
    assert now.store is facade.store  # one answer cache; its keys carry the version
    assert now.key("route", {}) != facade.key("route", {})
    assert facade.data_version == old and facade.geocode("Avenue de la Costa")  # the old one still answers


def test_swap_core_in_an_app(two_versions, tmp_path):
    """What the gunicorn master does before forking new workers: the app's cached core replaced under its wrappers."""
    out, facade, new = two_versions
    app = create_app(settings(out, tmp_path, cache_enabled=True), lds=facade.core)
    client = app.test_client()
    before = client.get(ROUTE)
    assert before.status_code == 200 and before.headers["X-LDS-Data-Version"] == facade.data_version
    old_core = swap_app(app.extensions, LDS(settings(out)))
    assert old_core is facade.core and innermost(app.extensions["lds"])[2].data_version == new
    after = client.get(ROUTE)  # the fast path holds the wrapper, so it follows
    assert after.status_code == 200 and after.headers["X-LDS-Data-Version"] == new
    assert after.headers["X-LDS-Cache"] == "miss"  # the old version's cached answer is not the new one's
    assert client.get("/v3/lds/status").json["data_version"] == new


def test_a_job_finishes_on_the_version_it_started_with(two_versions, tmp_path):
    """A geocode job recorded on the old version (which has the address index) runs its chunks there, even in a
    process now serving the new one (which has none)."""
    out, facade, _new = two_versions
    current = with_cache(LDS(settings(out)))
    store = FileJobStore(tmp_path / "jobs", 3600)
    items = ["Avenue de la Costa", "Boulevard des Moulins"]
    pinned = new_job("geocode", len(items), 10, {}, None, facade.data_version)
    unpinned = new_job("geocode", len(items), 10, {}, None, None)
    for rec in (pinned, unpinned):
        store.create(rec, items)
    assert run_chunk(store, current, pinned.id, 0)
    (done,) = store.chunk_results(pinned.id, [0])
    assert all(e["error"] is None and e["value"] for e in done)
    with pytest.raises(Unavailable, match="no address index"):  # what the new version answers
        run_chunk(store, current, unpinned.id, 0)
    assert at_version(current, facade.data_version) is at_version(current, facade.data_version)  # loaded once
    assert at_version(current, "gone-1") is current and at_version(current, None) is current


def test_lds_worker_follows_by_itself(monaco_pbf, tmp_path):
    out = tmp_path / "monaco"
    build(str(monaco_pbf), out, modes=("car",), skip_geocoder=True, quiet=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    env.update(
        {
            "LDS_STATE_DIR": str(tmp_path / "state"),
            "LDS_DATA_CHECK_S": "0.3",
            "LDS_LOG_LEVEL": "info",
            "LDS_LOG_FORMAT": "text",
        }
    )
    log = tmp_path / "worker.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("lds")), "worker", "--data", str(out)],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "(single node only, data " not in log.read_text():  # loaded: the flip below is one it must follow
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        new = build(str(monaco_pbf), out, modes=("car",), skip_geocoder=True, quiet=True)["data_version"]
        deadline = time.monotonic() + 60
        while f"to {new}" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0


def test_the_sql_tables_follow_the_version_the_process_serves(two_versions, tmp_path):
    """carto_dw attaches lds.* from the version this process's core answers from, and again after a switch."""
    from lds.connections import Connections
    from lds.state.store import StateStore

    out, facade, new = two_versions
    s = settings(out, tmp_path)
    connections = Connections(StateStore.from_settings(s), s)
    note_served(out, facade.data.path)  # as when this process loaded the old version, before the flip
    _, before = connections.warehouse("carto_dw")
    assert before.tables_path.is_relative_to(facade.data.path.resolve())
    with before.query("SELECT count(*) FILTER (WHERE walk) FROM lds.roads", read_only=True) as q:
        assert next(iter(q.rows()))[0] > 0
    assert Follower(facade, 0, lambda _: None).check()
    _, after = connections.warehouse("carto_dw")
    assert after is not before and after.tables_path.is_relative_to((out / "versions" / new).resolve())
    with after.query("SELECT count(*) FILTER (WHERE walk) FROM lds.roads", read_only=True) as q:
        assert next(iter(q.rows()))[0] == 0  # the new version was built for cars only
    connections.close()
