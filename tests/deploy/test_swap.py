"""New data under a live `lds serve` (gunicorn, 2 workers) with no failed request and no answer from two versions.

The data dir is rebuilt while client threads keep requesting routes and the status over keep-alive connections;
the server switches on SIGHUP to its master, or by itself (``LDS_DATA_CHECK_S``). Every answer names the version
that made it (``X-LDS-Data-Version``); the status body, made in the same request, must name the same one.
"""

import os
import signal
import threading
import time
from pathlib import Path
from typing import Self

import pytest
import requests
from authfixtures import ADMIN_TOKEN, bearer
from liveserver import LiveServer

from lds import versions
from lds.build.pipeline import build

ROUTE = "/v3/lds/routing?origin=7.4197,43.7311&destination=7.4246,43.7384&mode=car"


class Clients:
    """Threads each on one keep-alive session, alternating a route and the status, recording every answer."""

    def __init__(self, base: str, n: int = 4):
        self.base = base
        self.stop = threading.Event()
        self.answers: list[list[tuple[float, int, str | None, str | None]]] = [[] for _ in range(n)]
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(n)]

    def __enter__(self) -> Self:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def _run(self, i: int) -> None:
        session = requests.Session()
        session.headers.update(bearer(ADMIN_TOKEN))
        n = 0
        while not self.stop.is_set():
            path = ROUTE if n % 2 else "/v3/lds/status"
            n += 1
            try:
                r = session.get(self.base + path, timeout=60)
            except requests.RequestException as exc:
                self.failures.append(f"{path}: {exc}")
                continue
            body = r.json().get("data_version") if path.endswith("status") and r.status_code == 200 else None
            if r.status_code != 200:
                self.failures.append(f"{path}: {r.status_code} {r.text[:200]}")
            self.answers[i].append((time.monotonic(), r.status_code, r.headers.get("X-LDS-Data-Version"), body))

    def versions(self) -> set[str | None]:
        return {a[2] for answers in self.answers for a in answers}

    def check(self, old: str, new: str) -> None:
        assert self.failures == []
        assert self.versions() == {old, new}
        for answers in self.answers:
            assert len(answers) > 5
            seen = [a[2] for a in answers]
            assert all(a[3] in (None, a[2]) for a in answers)  # the status body and its header: one version
            assert seen[-1] == new
            first_new = seen.index(new)
            assert old not in seen[first_new:]  # one connection: old answers, then new ones, never back


def served(base: str) -> str:
    return requests.get(base + "/v3/lds/status", headers=bearer(ADMIN_TOKEN), timeout=30).json()["data_version"]


def wait_for(base: str, version: str, timeout: float = 60) -> float:
    t0 = time.monotonic()
    while served(base) != version:
        assert time.monotonic() - t0 < timeout, f"still serving {served(base)}, not {version}"
        time.sleep(0.2)
    return time.monotonic() - t0


def road_modes(base: str) -> list[str]:
    """The modes of lds.roads (carto_dw's LDS tables) that have roads, as the server's workers read it."""
    q = "SELECT " + ", ".join(f"count(*) FILTER (WHERE {m}) AS {m}" for m in ("bike", "car", "walk"))
    r = requests.post(
        base + "/v3/sql/carto_dw/query", json={"q": q + " FROM lds.roads"}, headers=bearer(ADMIN_TOKEN), timeout=60
    )
    assert r.status_code == 200, r.text
    (row,) = r.json()["rows"]
    return sorted(m for m, n in row.items() if n)


@pytest.fixture
def data_dir(monaco_pbf: Path, tmp_path: Path) -> Path:
    out = tmp_path / "data" / "monaco"
    build(str(monaco_pbf), out, quiet=True)  # flat, as every existing data dir
    return out


def rebuild(monaco_pbf: Path, out: Path) -> str:
    return build(str(monaco_pbf), out, modes=("car",), quiet=True)["data_version"]


def test_sighup_switches_under_load(data_dir, monaco_pbf, tmp_path):
    server = LiveServer(data_dir, tmp_path, LDS_DATA_CHECK_S="0")
    try:
        old = served(server.base)
        assert road_modes(server.base) == ["bike", "car", "walk"]
        with Clients(server.base) as clients:
            time.sleep(1.0)
            new = rebuild(monaco_pbf, data_dir)
            time.sleep(1.0)
            assert served(server.base) == old  # no check of its own: it waits for the signal
            os.kill(server.proc.pid, signal.SIGHUP)
            wait_for(server.base, new)
            time.sleep(3.0)  # the old workers' kept-alive connections are closed; clients reconnect to new ones
        clients.check(old, new)
        r = requests.get(server.base + ROUTE, headers=bearer(ADMIN_TOKEN), timeout=30)
        assert r.status_code == 200 and r.headers["X-LDS-Data-Version"] == new
        assert road_modes(server.base) == ["car"]  # the SQL lds.* tables are the new version's too
    finally:
        server.stop()


def test_server_follows_by_itself(data_dir, monaco_pbf, tmp_path):
    server = LiveServer(data_dir, tmp_path, LDS_DATA_CHECK_S="0.5")
    try:
        old = served(server.base)
        with Clients(server.base, n=2) as clients:
            time.sleep(1.0)
            new = rebuild(monaco_pbf, data_dir)
            wait_for(server.base, new, timeout=30)
            time.sleep(3.0)
        clients.check(old, new)
        status = requests.get(server.base + "/v3/lds/status", headers=bearer(ADMIN_TOKEN), timeout=30).json()
        assert status["data_dir"] == str(data_dir / "versions" / new) and set(status["graphs"]) == {"car"}
        broken = data_dir / "versions" / "broken-1"  # a version that cannot be loaded: the served one stays
        broken.mkdir()
        (broken / "meta.json").write_text('{"data_version": "broken-1", "data_format": -1}')
        versions.flip(data_dir, broken.name)
        time.sleep(2.0)
        assert served(server.base) == new
        r = requests.get(server.base + ROUTE, headers=bearer(ADMIN_TOKEN), timeout=30)
        assert r.status_code == 200 and r.headers["X-LDS-Data-Version"] == new
        assert "broken-1 cannot be loaded" in server.log_path.read_text()
    finally:
        server.stop()
