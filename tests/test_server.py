"""The real thing: `lds serve` under gunicorn on a free loopback port, queried over HTTP."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(monaco_dir, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    env.update({"LDS_AUTH": "disabled", "LDS_STATE_DIR": str(tmp_path), "LDS_WORKERS": "2"})
    lds = Path(sys.executable).with_name("lds")
    proc = subprocess.Popen([str(lds), "serve", "--data", str(monaco_dir), "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read().decode())
            time.sleep(0.2)
    yield base
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def test_gunicorn_serves_route_and_errors(server):
    r = requests.get(server + "/v3/lds/routing", params={"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"})
    assert r.status_code == 200, r.text
    value = r.json()[0]["value"][0]
    assert value["distance"] > 500 and value["geom"]["type"] == "LineString"
    bad = requests.get(server + "/v3/lds/routing", params={"origin": "x", "destination": "7.4,43.7"})
    assert bad.status_code == 400 and bad.json()["status"] == 400
