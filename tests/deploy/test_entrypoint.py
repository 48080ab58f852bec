"""The container's commands, run here without Docker: the entrypoint builds the data at start, serves, works.

The image runs ``lds-entrypoint`` (docker/entrypoint.sh) with the package installed; these tests run
that same script with this environment's ``lds`` on PATH, on loopback ports.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from redisfixtures import free_port

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"


def env_for(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}", "LDS_HOST": "127.0.0.1",
                "LDS_AUTH": "disabled", "LDS_WORKERS": "1", "LDS_STATE_DIR": str(tmp_path / "state"),
                "LDS_DATA_DIR": str(tmp_path / "data" / "lds"), **extra})
    return env


def test_without_data_or_extract_it_says_what_to_do(tmp_path):
    r = subprocess.run(["sh", str(ENTRYPOINT), "serve"], env=env_for(tmp_path), capture_output=True, text=True, check=False,
                       timeout=60)
    assert r.returncode == 78 and "LDS_EXTRACT" in r.stderr


def test_builds_from_the_extract_then_serves_and_a_worker_runs(tmp_path, monaco_pbf, redis_url, redis_ns):
    port = free_port()
    env = env_for(tmp_path, LDS_EXTRACT=str(monaco_pbf), LDS_PORT=str(port), LDS_REDIS_URL=redis_url,
                  LDS_REDIS_PREFIX=redis_ns)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["sh", str(ENTRYPOINT), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if requests.get(base + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.3)
        assert (tmp_path / "data" / "lds" / "meta.json").is_file()  # built at start
        status = requests.get(base + "/v3/lds/status", timeout=10).json()
        assert status["data_dir"].endswith("/data/lds") and status["cache"]["backend"] == "redis"
        r = requests.post(base + "/v3/lds/geocoding/batch?async=true", json={"addresses": ["Avenue de la Costa"]},
                          timeout=10)
        assert r.status_code == 202
        job = r.json()["jobId"]
        worker = subprocess.run(["sh", str(ENTRYPOINT), "worker", "--burst"], env=env, capture_output=True, check=False,
                                timeout=120)
        assert worker.returncode == 0, worker.stderr.decode()[-2000:]
        doc = requests.get(f"{base}/v3/lds/jobs/{job}", timeout=10).json()
        assert doc["status"] == "success" and doc["progress"] == {"done": 1, "total": 1}
        metrics = requests.get(base + "/metrics", timeout=10).text
        assert 'lds_http_requests_total{endpoint="/health",method="GET",status="200"}' in metrics
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    docs = [json.loads(ln) for ln in log.read_text().splitlines() if ln.startswith("{")]
    requests_logged = [d for d in docs if d["logger"] == "lds.request"]
    assert any(d["path"] == "/v3/lds/geocoding/batch" and d["status"] == 202 for d in requests_logged)
