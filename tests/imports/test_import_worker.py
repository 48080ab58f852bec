"""A worker process SIGKILLed in the middle of an import's COPY into PostgreSQL: the server rolls the open
transaction back, so neither the destination nor the staging table exists; the job does not stay running:
another runner takes it over (``on_worker_death="retry"``) and lands the whole file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg
from authfixtures import pg_database, pg_database_url
from importfixtures import *
from importfixtures import big_csv
from jobprocs import worker_env

from lds.imports.job import connections_for
from lds.imports.service import Imports
from lds.jobs import JobService
from lds.jobs.file_store import FileJobStore
from lds.settings import Settings

ROWS = 300_000


class NoRunner:
    """This process only watches; the worker process runs the import."""

    def start(self):
        pass

    def enqueue(self, rec):
        pass

    def cancel(self, rec):
        pass


def worker(settings: Settings, log_path: Path) -> subprocess.Popen:
    env = worker_env(settings, LDS_IMPORT_ALLOWED_HOSTS=settings.import_allowed_hosts)
    code = (
        "from types import SimpleNamespace; from lds.jobs.worker import run_worker; from lds.settings import Settings;"
        "run_worker(Settings.from_env(), lds=SimpleNamespace(data_version='test'))"
    )
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def copying(conn, dbname: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' AND query LIKE 'COPY %%'",
        [dbname],
    ).fetchone()
    return row[0] > 0


def backends(conn, dbname: str) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'lds'", [dbname]
    ).fetchone()[0]


def test_worker_killed_mid_copy_leaves_no_half_table_and_the_retry_lands_it(tmp_path, server):
    settings = Settings.from_env(
        env={},
        state_dir=str(tmp_path / "state"),
        auth=False,
        cache_enabled=False,
        import_allowed_hosts=server.host,
        job_lease_s=3,
        job_chunk_retries=1,
        import_batch_rows=20_000,
    )
    url = server.add("big.csv", big_csv(ROWS), "text/csv")
    with pg_database("lds_importkill_test", "CREATE EXTENSION postgis") as dbname:
        connections = connections_for(settings)
        connections.create(
            {
                "name": "pg",
                "provider_id": "postgres",
                "config": {
                    "credentials": {
                        "host": "127.0.0.1",
                        "database": dbname,
                        "username": "postgres",
                        "sslmode": "disable",
                    }
                },
            }
        )
        store = FileJobStore(Path(settings.state_dir) / "jobs", settings.job_result_ttl_s)
        watcher = JobService(settings, store, NoRunner())
        imports = Imports(watcher, connections, settings)
        admin = psycopg.connect(pg_database_url(dbname), autocommit=True)
        proc = worker(settings, tmp_path / "worker.log")
        takeover = None
        try:
            rec = imports.submit({"connection": "pg", "url": url, "destination": "big.points"})
            deadline = time.time() + 120
            while not copying(admin, dbname):
                assert time.time() < deadline and proc.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
                time.sleep(0.01)
            os.killpg(proc.pid, signal.SIGKILL)  # mid-COPY: rows are in the server, not committed
            proc.wait()
            assert watcher.get(rec.id).status == "running"
            while backends(admin, dbname):  # the server notices the dead client and rolls back
                assert time.time() < deadline
                time.sleep(0.05)
            tables = admin.execute(
                "SELECT relname FROM pg_class WHERE relname IN ('points') OR relname LIKE 'lds_import_%'"
            ).fetchall()
            assert tables == []
            takeover = JobService.create(settings, SimpleNamespace(data_version="test"))
            takeover.start()  # this process's runner takes the job over once the dead worker's lease is free
            while (done := watcher.get(rec.id)).status not in ("success", "failure", "cancelled"):
                assert time.time() < deadline, done
                time.sleep(0.1)
            if done.status == "success":
                assert admin.execute("SELECT count(*) FROM big.points").fetchone()[0] == ROWS
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if takeover is not None:
                takeover.runner.stop()
            admin.close()
            connections.close()
    assert done.status == "success", done
    assert done.result["rowsImported"] == ROWS
    assert any("attempt 2" in line for line in done.logs), done.logs
