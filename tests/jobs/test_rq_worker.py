"""Jobs on Redis with real RQ workers: lifecycle, cancellation, failure, and a worker SIGKILLed mid-chunk."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redisfixtures import isolated_settings
from rq import Queue
from rq.registry import StartedJobRegistry

from lds.jobs import JobKind, JobService, register
from lds.jobs.rq_queue import queue_name
from lds.jobs.worker import run_worker


def _explode(lds, params, items):
    raise RuntimeError("this kind always fails")


register(JobKind("test-explode", "geocoding", _explode))


@pytest.fixture()
def settings(monaco_dir, tmp_path, redis_url, redis_ns):
    return isolated_settings(monaco_dir, state_dir=str(tmp_path), redis_url=redis_url, redis_prefix=redis_ns,
                         job_chunk_size=40, job_page_size=50, job_lease_s=3, job_chunk_retries=2, cache_enabled=True)


@pytest.fixture()
def addresses(monaco_addresses):
    return monaco_addresses


def wait(jobs, job_id, statuses, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rec = jobs.get(job_id)
        if rec.status in statuses:
            return rec
        time.sleep(0.05)
    raise AssertionError(f"job stayed {rec.status} ({rec.done}/{rec.total})")


def all_entries(jobs, rec):
    return [e for page in range(1, jobs.page_count(rec) + 1) for e in jobs.results_page(rec, page)]


def test_job_runs_on_a_worker_and_its_items_are_cached(settings, lds_core, addresses, redis_client, redis_ns):
    jobs = JobService.create(settings, lds_core)
    items = addresses * 3  # 180 items, 5 chunks
    rec = jobs.submit("geocode", items)
    assert jobs.get(rec.id).status == "pending" and jobs.stats()["queued_chunks"] == 5
    run_worker(settings, burst=True, lds=lds_core)
    done = jobs.get(rec.id)
    assert done.status == "success" and done.done == done.total == 180 and done.started_at <= done.ended_at
    expected = lds_core.geocode_batch(items)
    assert all_entries(jobs, done) == expected  # every entry once, in input order
    cached = list(redis_client.scan_iter(f"{redis_ns}c:{lds_core.data_version}:geocode:*"))
    assert len(cached) == len({a for a, e in zip(items, expected) if e["error"] is None})  # one per distinct address
    assert jobs.stats() == {"active": 0, "finished": {"success": 1}, "queued_chunks": 0}


def test_cancel_drops_queued_chunks(settings, lds_core, addresses, redis_client):
    jobs = JobService.create(settings, lds_core)
    rec = jobs.submit("geocode", addresses * 2)
    queue = Queue(queue_name(settings.redis_prefix), connection=redis_client)
    assert queue.count == 3
    assert jobs.cancel(rec.id).status == "cancelled"
    assert queue.count == 0
    run_worker(settings, burst=True, lds=lds_core)
    after = jobs.get(rec.id)
    assert after.status == "cancelled" and after.done == 0


def test_a_chunk_that_keeps_failing_fails_the_job(settings, lds_core):
    jobs = JobService.create(settings, lds_core)
    rec = jobs.submit("test-explode", ["a", "b"])
    run_worker(settings, burst=True, lds=lds_core)
    failed = jobs.get(rec.id)
    assert failed.status == "failure"
    assert "chunk 0 failed after 2 retries" in failed.error and "always fails" in failed.error


def start_worker(settings, name, log_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    env.update({"LDS_REDIS_URL": settings.redis_url, "LDS_REDIS_PREFIX": settings.redis_prefix, "LDS_AUTH": "false",
                "LDS_JOB_LEASE_S": str(settings.job_lease_s), "LDS_CACHE_ENABLED": "false",
                "LDS_STATE_DIR": settings.state_dir})
    lds = Path(sys.executable).with_name("lds")
    with open(log_path, "wb") as log:
        return subprocess.Popen([str(lds), "worker", "--data", settings.data_dir, "--name", name],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_sigkilled_worker_loses_nothing(settings, lds_core, addresses, redis_client, tmp_path):
    """Worker A is SIGKILLed holding a chunk; B finishes the job after A's lease runs out; every entry once."""
    settings = settings.replace(job_chunk_size=400)
    jobs = JobService.create(settings, lds_core)
    items = [addresses[i % len(addresses)] for i in range(4000)]  # 10 chunks
    rec = jobs.submit("geocode", items)
    registry = StartedJobRegistry(queue_name(settings.redis_prefix), connection=redis_client)
    a = start_worker(settings, settings.redis_prefix.rstrip(":") + "-a", tmp_path / "a.log")
    b = None
    try:
        deadline = time.time() + 60
        while not registry.get_job_ids(cleanup=False) and time.time() < deadline:
            time.sleep(0.01)
        in_flight = registry.get_job_ids(cleanup=False)
        assert in_flight, "worker A never started a chunk"
        os.killpg(a.pid, signal.SIGKILL)
        a.wait()
        chunk = int(in_flight[0].rsplit("-", 1)[1])
        assert chunk not in jobs.store.done_chunks(rec.id)  # A died before storing it
        b = start_worker(settings, settings.redis_prefix.rstrip(":") + "-b", tmp_path / "b.log")
        done = wait(jobs, rec.id, ("success", "failure"), timeout=120)
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(60)
    assert done.status == "success" and done.done == 4000
    assert chunk in jobs.store.done_chunks(rec.id)
    expected = {a: e for a, e in zip(addresses, lds_core.geocode_batch(addresses))}
    entries = all_entries(jobs, done)
    assert len(entries) == 4000 and entries == [expected[item] for item in items]
    assert "AbandonedJobError" in (tmp_path / "b.log").read_text() or "retry" in (tmp_path / "b.log").read_text()
