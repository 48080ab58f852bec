"""Auth under real gunicorn with two workers: the rate limit is shared through Redis, and quotas are
counted exactly under concurrent requests (PostgreSQL + Redis, and SQLite + state-store counting)."""

import math
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from authfixtures import *
from authfixtures import ADMIN_TOKEN, REDIS_URL, bearer

ROUTE = {"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"}
RATE = 4


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, tmp_path: Path, **env_overrides: str):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    metrics_dir = tmp_path / "metrics"
    env.update({
        "LDS_STATE_DIR": str(tmp_path / "state"), "LDS_WORKERS": "2", "LDS_THREADS": "4", "LDS_ADMIN_TOKEN": ADMIN_TOKEN,
        "LDS_LOG_LEVEL": "warning", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **env_overrides,
    })
    lds = Path(sys.executable).with_name("lds")
    with open(tmp_path / "server.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([str(lds), "serve", "--data", str(data_dir), "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError((tmp_path / "server.log").read_text())
        time.sleep(0.2)
    return proc, base, metrics_dir


def stop_server(proc) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def new_token(base: str, **body) -> str:
    body.setdefault("allowed_apis", ["lds"])
    r = requests.post(base + "/v3/tokens", json=body, headers=bearer(ADMIN_TOKEN), timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def burst(base: str, path: str, token: str, n: int, params=None):
    """``n`` requests at once, each on its own connection (so both workers take some)."""
    def one(_):
        r = requests.get(base + path, params=params, headers={**bearer(token), "Connection": "close"}, timeout=30)
        return r.status_code, r.headers.get("Retry-After"), r.json()

    t0 = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    return results, time.monotonic() - t0


def worker_pids(metrics_dir: Path) -> set[str]:
    """Workers that served requests: prometheus-client writes one counter file per process."""
    return {p.stem.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}


@pytest.fixture()
def redis_pg_server(monaco_dir, tmp_path, pg_url, redis_prefix):
    from sqlalchemy import text

    from lds.state import StateStore

    store = StateStore(pg_url)
    store.migrate()
    with store.write() as conn:
        conn.execute(text("DELETE FROM quota_usage"))
        conn.execute(text("DELETE FROM tokens"))
    store.dispose()
    proc, base, metrics_dir = start_server(
        monaco_dir, tmp_path, LDS_DATABASE_URL=pg_url, LDS_REDIS_URL=REDIS_URL, LDS_REDIS_PREFIX=redis_prefix,
        LDS_REDIS_TIMEOUT_S="2", LDS_RATE_LIMIT_PER_S=str(RATE), LDS_CACHE_ENABLED="false",
    )
    yield base, metrics_dir
    stop_server(proc)


@pytest.fixture()
def sqlite_server(monaco_dir, tmp_path):
    proc, base, _ = start_server(monaco_dir, tmp_path, LDS_RATE_LIMIT_PER_S="0", LDS_CACHE_ENABLED="false")
    yield base
    stop_server(proc)


def test_rate_limit_is_shared_by_both_workers(redis_pg_server):
    base, metrics_dir = redis_pg_server
    assert requests.get(base + "/v3/lds/status", headers=bearer(ADMIN_TOKEN), timeout=10).json()["auth"] == {
        "enabled": True, "state_store": "postgresql", "quota_counter": "redis", "rate_limiter": "redis",
        "rate_limit_per_s": RATE}
    for attempt in range(5):  # until a burst was served by both workers (the kernel spreads connections)
        token = new_token(base)
        time.sleep(1.1)  # the admin's token creation is outside this token's window anyway
        results, elapsed = burst(base, "/v3/lds/stats", token, 4 * RATE)
        ok = [r for r in results if r[0] == 200]
        limited = [r for r in results if r[0] == 429]
        assert len(ok) + len(limited) == len(results)
        # a moving one-second window: never more than RATE per started second, and the first RATE pass
        assert RATE <= len(ok) <= RATE * math.ceil(elapsed + 1e-9), (len(ok), elapsed)
        if elapsed < 1:
            assert len(ok) == RATE
        for status, retry_after, body in limited:
            assert body == {"error": f"Rate limit exceeded: at most {RATE} requests per second per token", "status": 429}
            assert int(retry_after) >= 1
        if len(worker_pids(metrics_dir)) >= 2:
            break
    assert len(worker_pids(metrics_dir)) == 2


def _paced_quota_run(base: str, token: str, waves: int, per_wave: int):
    statuses = []
    for _ in range(waves):
        results, _ = burst(base, "/v3/lds/routing", token, per_wave, params=ROUTE)
        statuses += results
        time.sleep(1.1)  # stay under the rate limit: this test is about the quota
    return statuses


def test_quota_is_exact_under_concurrency_with_redis_and_postgresql(redis_pg_server):
    base, _ = redis_pg_server
    token = new_token(base, quotas={"routing": 10})
    results = _paced_quota_run(base, token, waves=3, per_wave=RATE)
    assert [r[0] for r in results].count(200) == 10
    refused = [r for r in results if r[0] == 429]
    assert len(refused) == 2 and all("Monthly routing quota exceeded: 10 of 10 used" in r[2]["error"] for r in refused)
    stats = requests.get(base + "/v3/lds/stats", headers=bearer(token), timeout=10).json()
    assert {s["service"]: s["used_quota"] for s in stats} == {"geocoding": 0, "isolines": 0, "routing": 10}


def test_quota_is_exact_under_concurrency_with_sqlite(sqlite_server):
    base = sqlite_server
    token = new_token(base, quotas={"routing": 25})
    results, _ = burst(base, "/v3/lds/routing", token, 40, params=ROUTE)
    assert [r[0] for r in results].count(200) == 25
    assert [r[0] for r in results].count(429) == 15
    stats = requests.get(base + "/v3/lds/stats", headers=bearer(token), timeout=10).json()
    assert {s["service"]: s for s in stats}["routing"] == {
        "service": "routing", "provider": "lds", "monthly_quota": 25, "used_quota": 25}
