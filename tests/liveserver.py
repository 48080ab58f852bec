"""A real `lds serve` on 127.0.0.1 for tests that drive it from another process (CARTO's JavaScript client
under Node), and the runner of those Node scripts (tests/js, packages pinned by its lockfile)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from authfixtures import ADMIN_TOKEN, bearer, pg_database

JS_DIR = Path(__file__).resolve().parent / "js"
CHROMIUM = Path("/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`lds serve --data <dir>` with auth on (the test admin token), its log in ``<tmp>/server.log``."""

    def __init__(self, data_dir: Path, tmp_path: Path, **env_overrides: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "server.log"
        env = {k: val for k, val in os.environ.items() if not k.startswith("LDS_")}
        env.update(
            {
                "LDS_STATE_DIR": str(tmp_path / "state"),
                "LDS_WORKERS": "2",
                "LDS_THREADS": "4",
                "LDS_ADMIN_TOKEN": ADMIN_TOKEN,
                "LDS_LOG_LEVEL": "warning",
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
                **env_overrides,
            }
        )
        lds = Path(sys.executable).with_name("lds")
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [str(lds), "serve", "--data", str(data_dir), "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.time() + 90
        while True:
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                os.killpg(self.proc.pid, signal.SIGKILL)
                raise AssertionError(self.log_path.read_text())
            time.sleep(0.2)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def node_or_skip() -> str:
    """The node binary, with tests/js's packages installed (scripts/test.sh runs `npm ci` there)."""
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "@carto" / "api-client").is_dir():
        if os.environ.get("CI"):
            raise AssertionError("node and tests/js/node_modules are required in CI (npm ci in tests/js)")
        pytest.skip("node or tests/js/node_modules missing (run npm ci in tests/js)")
    return node


@contextmanager
def browser_server(data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A live server for the headless-Chromium scripts (skipped without chromium or node); yields its base URL."""
    if not CHROMIUM.exists() or shutil.which("node") is None:
        if os.environ.get("CI"):
            raise AssertionError("chromium and node are required in CI (scripts/services.sh, scripts/test.sh)")
        pytest.skip("chromium (scripts/services.sh installs it) or node missing")
    server = LiveServer(data_dir, tmp_path)
    try:
        yield server.base
    finally:
        server.stop()


def run_node(script: str, env: dict[str, str], timeout_s: float = 120) -> Any:
    """Run ``tests/js/<script>``; it prints one JSON document on its last stdout line, which is returned."""
    node = node_or_skip()
    proc = subprocess.run(
        [node, str(JS_DIR / script)],
        check=False,
        cwd=JS_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert proc.returncode == 0, f"node {script} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@contextmanager
def serve_with_warehouses(
    data_dir: Path, tmp_path: Path, db_prefix: str, pg_setup: Sequence[str], dw_setup: str
) -> Iterator[tuple[str, str]]:
    """A live server with a throwaway PostgreSQL database (``pg_setup`` run in it) registered as the connection
    ``pg``, and ``dw_setup`` run on carto_dw; yields (base URL, database name)."""
    admin = bearer(ADMIN_TOKEN)
    with pg_database(db_prefix, *pg_setup) as dbname:
        server = LiveServer(data_dir, tmp_path)
        try:
            creds = {
                "host": "127.0.0.1",
                "port": 5432,
                "database": dbname,
                "username": "postgres",
                "sslmode": "disable",
            }
            body = {"name": "pg", "provider_id": "postgres", "config": {"type": "password", "credentials": creds}}
            r = requests.post(server.base + "/v3/connections", headers=admin, timeout=30, json=body)
            assert r.status_code == 201, r.text
            r = requests.post(server.base + "/v3/sql/carto_dw/query", headers=admin, json={"q": dw_setup}, timeout=60)
            assert r.status_code == 200, r.text
            yield server.base, dbname
        finally:
            server.stop()


def live_warehouses(
    data_dir: Path, tmp_path_factory: Any, name: str, pg_setup: Sequence[str], dw_setup: str
) -> Iterator[tuple[str, str]]:
    """The body of a module fixture for the Node scripts: ``serve_with_warehouses`` in a tmp dir called ``name``
    (skipped without node); yields (base URL, database name)."""
    node_or_skip()
    with serve_with_warehouses(data_dir, tmp_path_factory.mktemp(name), "lds_" + name, pg_setup, dw_setup) as live:
        yield live


def new_token(base: str, **body: Any) -> str:
    """An API access token made through the Tokens API of a live server."""
    r = requests.post(base + "/v3/tokens", json=body, headers=bearer(ADMIN_TOKEN), timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def source_token(base: str, pg_source: str, dw_source: str | None = "carto_dw.main.*") -> str:
    """A Maps and SQL API token granted ``pg_source`` on the connection ``pg`` and ``dw_source`` (if any) on
    carto_dw."""
    grants = [{"connection_name": "pg", "source": pg_source}]
    if dw_source is not None:
        grants.append({"connection_name": "carto_dw", "source": dw_source})
    return new_token(base, allowed_apis=["maps", "sql"], grants=grants)
