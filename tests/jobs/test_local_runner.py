"""Jobs without Redis: the in-process runner, paging, cancellation and resume after a dead process."""

import subprocess
import sys
import threading
import time

import pytest

from lds.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from lds.jobs import JobKind, JobService, register
from lds.jobs.model import new_job
from lds.settings import Settings

GATE = threading.Event()


def _upper(lds, params, items):
    """A job kind of the tests: the machinery is what is under test, not an LDS service."""
    if params.get("wait"):
        GATE.wait(10)
    return [{"error": None, "value": s.upper()} if s != "bad" else {"error": "bad item", "value": None} for s in items]


register(JobKind("test-upper", "geocoding", _upper))


def settings(tmp_path, **kw):
    values = {"state_dir": str(tmp_path), "job_chunk_size": 7, "job_page_size": 10, "job_lease_s": 3,
              "job_local_threads": 2, "cache_enabled": False, "auth": False, **kw}
    return Settings.from_env(env={}, **values)


def wait_for(jobs, job_id, statuses=("success", "failure", "cancelled"), timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rec = jobs.get(job_id)
        if rec.status in statuses:
            return rec
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {rec.status}")


@pytest.fixture()
def jobs(tmp_path):
    service = JobService.create(settings(tmp_path), lds=None)
    yield service
    GATE.set()
    service.runner.stop()
    GATE.clear()


def test_job_runs_to_success_and_pages_in_input_order(jobs):
    items = [f"a{i}" for i in range(45)] + ["bad"] + [f"b{i}" for i in range(4)]
    rec = jobs.submit("test-upper", items, owner="t1")
    assert rec.status == "pending" and jobs.backend == "local"
    done = wait_for(jobs, rec.id)
    assert done.status == "success" and done.done == done.total == 50
    assert jobs.page_count(done) == 5
    entries = [e for page in range(1, 6) for e in jobs.results_page(done, page)]
    assert [e["value"] for e in entries if e["error"] is None] == [s.upper() for s in items if s != "bad"]
    assert entries[45] == {"error": "bad item", "value": None}
    with pytest.raises(BadRequest):
        jobs.results_page(done, 6)


def test_owner_sees_its_job_and_others_get_not_found(jobs):
    rec = jobs.submit("test-upper", ["x"], owner="t1")
    assert jobs.get(rec.id, owner="t1").id == rec.id
    with pytest.raises(NotFound):
        jobs.get(rec.id, owner="t2")
    with pytest.raises(NotFound):
        jobs.get("f" * 32)


def test_limits_and_bad_input(tmp_path):
    jobs = JobService.create(settings(tmp_path, job_max_items=5), lds=None)
    with pytest.raises(PayloadTooLarge):
        jobs.submit("test-upper", ["x"] * 6)
    with pytest.raises(BadRequest):
        jobs.submit("test-upper", [])
    with pytest.raises(BadRequest):
        jobs.submit("no-such-kind", ["x"])


def test_cancel_stops_a_running_job_and_is_final(jobs):
    rec = jobs.submit("test-upper", [f"x{i}" for i in range(30)], params={"wait": True})
    wait_for(jobs, rec.id, statuses=("running",))
    cancelled = jobs.cancel(rec.id)
    assert cancelled.status == "cancelled"
    GATE.set()
    time.sleep(0.3)
    after = jobs.get(rec.id)
    assert after.status == "cancelled" and after.done < after.total  # the chunk in flight was not stored
    with pytest.raises(Conflict):
        jobs.cancel(rec.id)
    with pytest.raises(Conflict):
        jobs.results_page(after, 1)


HOLD_LEASE = """
import fcntl, sys, time
f = open(sys.argv[1], "a+b")
fcntl.flock(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_job_held_by_a_dead_process_is_resumed(tmp_path):
    """The process running a job is SIGKILLed: its flock lease vanishes and a live runner finishes the job."""
    jobs = JobService.create(settings(tmp_path), lds=None)
    items = [f"r{i}" for i in range(20)]
    rec = new_job("test-upper", len(items), 7, {}, None, None)
    jobs.store.create(rec, items)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LEASE, str(jobs.store.lease_path(rec.id))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        jobs.start()
        jobs.runner.scan()
        time.sleep(0.5)
        assert jobs.get(rec.id).status == "pending"  # another process holds it
        holder.kill()
        holder.wait()
        done = wait_for(jobs, rec.id, timeout=15)  # the periodic scan takes it over
        assert done.status == "success"
        assert [e["value"] for p in (1, 2) for e in jobs.results_page(done, p)] == [s.upper() for s in items]
    finally:
        holder.kill()
        jobs.runner.stop()


def test_lds_worker_without_redis_runs_the_local_jobs(tmp_path):
    """`lds worker` on a machine without Redis works through the same state_dir jobs as the service."""
    from lds.jobs.worker import run_worker

    s = settings(tmp_path)
    jobs = JobService.create(s, lds=None)
    rec = new_job("test-upper", 3, 7, {}, None, None)
    jobs.store.create(rec, ["a", "b", "c"])  # queued by a service that is gone
    assert run_worker(s, burst=True, lds=object()) == 0
    done = jobs.get(rec.id)
    assert done.status == "success" and [e["value"] for e in jobs.results_page(done, 1)] == ["A", "B", "C"]
