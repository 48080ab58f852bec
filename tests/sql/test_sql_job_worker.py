"""SQL jobs on Redis, run by real `lds worker` processes: a CREATE TABLE AS in carto_dw while other processes
read carto_dw, and a worker SIGKILLed in the middle of a statement (its job ends as a failure, not running)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from authfixtures import *
from authfixtures import auth_settings, pg_database
from jobprocs import ADMIN, add_pg_connection, stop_process, wait_sql_job, worker_env
from redisfixtures import *

from lds.jobs.tasks import WORKER_DIED
from lds.jobs.worker import run_worker

LEASE_S = 3

READER = """
import json, sys, time
from pathlib import Path
from lds.warehouse.carto_dw import CartoDW
dw, stop, reads, errors = CartoDW(sys.argv[1]), Path(sys.argv[2]), [], []
while not stop.exists():
    try:
        with dw.query("SELECT count(*) FROM places", timeout_s=30, read_only=True) as q:
            assert list(q.rows()) == [(2,)]
        reads.append(time.time())
        Path(sys.argv[3]).touch()  # ready: it has read once (the job is submitted only when every reader has)
    except Exception as exc:
        errors.append(repr(exc))
    time.sleep(0.01)
print(json.dumps({"reads": reads, "errors": errors}))
"""


@pytest.fixture()
def app(lds_core, tmp_path, redis_url, redis_ns):
    from lds.api.connections import connections_of
    from lds.app import create_app

    settings = auth_settings(
        lds_core.data.path, tmp_path / "state", redis_url=redis_url, redis_prefix=redis_ns, job_lease_s=LEASE_S
    )
    app = create_app(settings, lds=lds_core)
    yield app
    connections_of(app).close()


def start_worker(settings, log_path: Path) -> subprocess.Popen:
    lds = Path(sys.executable).with_name("lds")
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [str(lds), "worker", "--data", settings.data_dir],
            env=worker_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def query(client, q):
    r = client.post("/v3/sql/carto_dw/query", json={"q": q}, headers=ADMIN)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["rows"]


def test_worker_writes_carto_dw_while_other_processes_read_it(app, tmp_path):
    client = app.test_client()
    query(client, "CREATE TABLE places AS SELECT * FROM (VALUES (1, 'Monaco'), (2, 'Nice')) t(id, name)")
    settings = app.extensions["lds_settings"]
    stop_file = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(Path(settings.state_dir) / "carto_dw"), str(stop_file),
             str(tmp_path / f"ready{n}")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    deadline = time.time() + 120  # a loaded machine starts Python and DuckDB slowly: wait, then the job overlaps
    while not all((tmp_path / f"ready{n}").exists() for n in range(3)) and time.time() < deadline:
        time.sleep(0.05)
    worker = start_worker(settings, tmp_path / "w.log")
    try:
        made = client.post(
            "/v3/sql/carto_dw/job",
            headers=ADMIN,
            json={"query": "CREATE TABLE big AS SELECT i, md5(i::VARCHAR) AS h FROM range(3000000) t(i)"},
        ).get_json()
        doc = wait_sql_job(client, "carto_dw", made["jobId"])
        rec = app.extensions["lds_jobs"].get(made["jobId"])
    finally:
        stop_file.touch()
        outs = [json.loads(r.communicate(timeout=60)[0]) for r in readers]
        stop_process(worker)
    assert doc["status"] == "success" and doc["result"]["affectedRows"] == 3_000_000, doc
    assert query(client, "SELECT count(*) AS n, count(DISTINCT h) AS d FROM big") == [{"n": 3_000_000, "d": 3_000_000}]
    for out in outs:
        assert out["errors"] == [] and out["reads"]
        during = [t for t in out["reads"] if rec.started_at <= t <= rec.ended_at]
        assert during, "no read overlapped the writing job"


@pytest.fixture()
def pg_conn(app):
    with pg_database("lds_sqljobworker_test") as name:
        add_pg_connection(app.test_client(), "pgw", name)
        yield "pgw"
        app.test_client().delete("/v3/connections/pgw?force=true", headers=ADMIN)


def test_sigkilled_worker_fails_its_sql_job(app, pg_conn, tmp_path, lds_core):
    client = app.test_client()
    settings = app.extensions["lds_settings"]
    worker = start_worker(settings, tmp_path / "a.log")
    try:
        made = client.post(f"/v3/sql/{pg_conn}/job", json={"query": "SELECT pg_sleep(60)"}, headers=ADMIN).get_json()
        wait_sql_job(client, pg_conn, made["jobId"], statuses=("running",), logged="running on")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        assert client.get(f"/v3/sql/{pg_conn}/job/{made['jobId']}", headers=ADMIN).get_json()["status"] == "running"
        time.sleep(LEASE_S + 1)  # the dead worker's lease runs out
        run_worker(settings.replace(auth=False), burst=True, lds=lds_core)  # a live worker's maintenance finds it
        doc = wait_sql_job(client, pg_conn, made["jobId"], timeout=10)
    finally:
        stop_process(worker)
    assert doc["status"] == "failure" and doc["error"] == WORKER_DIED
