"""Under gunicorn with several workers, /metrics sums every worker (Prometheus multiprocess mode)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from redisfixtures import free_port


def test_all_workers_report_together(monaco_dir, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"LDS_AUTH": "disabled", "LDS_STATE_DIR": str(tmp_path), "LDS_WORKERS": "3", "LDS_THREADS": "1",
                "LDS_LOG_LEVEL": "info", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")})
    lds = Path(sys.executable).with_name("lds")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(lds), "serve", "--data", str(monaco_dir), "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                requests.get(base + "/health", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        before = _health_count(requests.get(base + "/metrics", timeout=5).text)
        for _ in range(60):  # a new connection each time: the kernel spreads them over the workers
            requests.get(base + "/health", params={"access_token": "secret-in-query"}, timeout=5)
        text = requests.get(base + "/metrics", timeout=5).text
        assert _health_count(text) - before == 60  # whichever worker answered, every request is counted
        writers = {f.stem.rsplit("_", 1)[1] for f in (tmp_path / "prom").glob("counter_*.db")}
        assert len(writers) >= 2  # several worker processes did answer
        assert 'lds_http_request_duration_seconds_count{endpoint="/health"}' in text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    text = log.read_text()
    assert "Booting worker" in text and "secret-in-query" not in text  # no access log with query strings
    assert all(line.startswith("{") for line in text.splitlines() if line.strip())  # gunicorn's lines are JSON too


def _health_count(text: str) -> float:
    m = re.search(r'lds_http_requests_total\{endpoint="/health",method="GET",status="200"\} ([0-9.e+]+)', text)
    return float(m.group(1)) if m else 0.0
