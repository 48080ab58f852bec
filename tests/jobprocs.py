"""Helpers of the job tests that run real worker processes and SQL jobs over HTTP.

``worker_env`` is the environment of a worker process sharing a test's jobs; ``observer`` a job service on
those jobs that runs none of them here; ``stop_process`` ends a worker that
``subprocess.Popen(..., start_new_session=True)`` started; ``add_pg_connection`` (from sqlfixtures) adds a PostgreSQL
connection through the Connections API; ``wait_sql_job`` polls a SQL job until it reaches a status (and log line).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

from authfixtures import ADMIN_TOKEN, bearer
from sqlfixtures import add_pg_connection  # noqa: F401 (re-exported for the job tests)

ADMIN = bearer(ADMIN_TOKEN)
FINAL = ("success", "failure", "cancelled")


def worker_env(settings: Any, **extra: str) -> dict[str, str]:
    """The environment of a worker on ``settings``' jobs: the same state dir, Redis and lease; auth and cache off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    env.update(
        {
            "LDS_STATE_DIR": settings.state_dir,
            "LDS_AUTH": "false",
            "LDS_CACHE_ENABLED": "false",
            "LDS_JOB_LEASE_S": str(settings.job_lease_s),
            "LDS_JOB_CHUNK_RETRIES": str(settings.job_chunk_retries),
        }
    )
    if settings.redis_url:
        env.update({"LDS_REDIS_URL": settings.redis_url, "LDS_REDIS_PREFIX": settings.redis_prefix})
    env.update(extra)
    return env


class NoRunner:
    """The runner of a test process that only watches: a worker process runs the jobs."""

    def start(self) -> None:
        pass

    def enqueue(self, rec: Any) -> None:
        pass

    def cancel(self, rec: Any) -> None:
        pass


def observer(jobs: Any) -> Any:
    """A job service on ``jobs``' store that runs none of them in this process (RQ never runs any here)."""
    from lds.jobs import JobService

    return jobs if jobs.backend == "redis" else JobService(jobs.settings, jobs.store, NoRunner())


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM the process group (a warm stop), SIGKILL it if it does not end within 30 s."""
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_sql_job(
    client: Any,
    conn: str,
    job_id: str,
    headers: dict[str, str] = ADMIN,
    statuses: tuple = FINAL,
    logged: str | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = client.get(f"/v3/sql/{conn}/job/{job_id}", headers=headers)
        assert r.status_code == 200, r.get_json()
        doc = r.get_json()
        if doc["status"] in statuses and (logged is None or any(logged in line for line in doc["logs"])):
            return doc
        time.sleep(0.05)
    raise AssertionError(f"job stayed {doc['status']}: {doc}")
