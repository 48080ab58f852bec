"""Single long tasks (lds.jobs.tasks) on both backends: result, logs, failure text, cancel across processes,
and a worker process SIGKILLed mid-task (the job fails, or runs again for a retry kind; never stays running)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from jobprocs import observer, stop_process, worker_env
from jobtaskkinds import SLEEP
from redisfixtures import isolated_settings

from lds.errors import BadRequest
from lds.jobs import JobService
from lds.jobs.tasks import WORKER_DIED, get_task
from lds.jobs.worker import run_worker

HERE = Path(__file__).resolve().parent
FINAL = ("success", "failure", "cancelled")


def wait(jobs, job_id, statuses=FINAL, timeout=60, logged=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rec = jobs.get(job_id)
        if rec.status in statuses and (logged is None or any(logged in line for line in rec.logs)):
            return rec
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {rec.status}; logs {rec.logs}")


@pytest.fixture(params=["local", "redis"])
def backend(request, tmp_path):
    """(settings, jobs, run): a job service and a way to have queued tasks run (threads, or an RQ burst worker)."""
    values = {"state_dir": str(tmp_path), "job_lease_s": 3, "job_chunk_retries": 1, "job_local_threads": 2}
    if request.param == "redis":
        values.update(redis_url=request.getfixturevalue("redis_url"), redis_prefix=request.getfixturevalue("redis_ns"))
    settings = isolated_settings(tmp_path / "no-data", **values)
    jobs = JobService.create(settings, SimpleNamespace(data_version="test"))

    def run():
        if request.param == "redis":
            run_worker(settings, burst=True, lds=SimpleNamespace(data_version="test"))

    yield settings, jobs, run
    if request.param == "local":
        jobs.runner.stop()


def test_task_result_logs_owner_and_listing(backend):
    _, jobs, run = backend
    rec = jobs.submit_task("test-sleep", {"value": [1, "é"]}, owner="tok-1")
    other = jobs.submit_task("test-refuse", {"what": "x"}, owner="tok-2")
    assert rec.status == "pending" and rec.kind == "test-sleep"
    run()
    done = wait(jobs, rec.id)
    assert done.status == "success" and done.error is None
    assert done.result == {"value": [1, "é"], "owner": "tok-1", "attempt": 1}
    assert [line.split(" ", 1)[1] for line in done.logs] == ["started attempt 1", "done"]
    assert done.logs[0][:2] == "20" and done.started_at <= done.ended_at
    wait(jobs, other.id)
    assert [r.id for r in jobs.list(owner="tok-1")] == [rec.id]
    assert [r.id for r in jobs.list()] == [other.id, rec.id]  # newest first
    assert [r.id for r in jobs.list(kind="test-refuse")] == [other.id]
    assert jobs.active_count("test-sleep") == 0


def test_failure_text(backend):
    _, jobs, run = backend
    refused = jobs.submit_task("test-refuse", {"what": "that"})
    crashed = jobs.submit_task("test-crash", {})
    run()
    assert wait(jobs, refused.id).error == "cannot do that"  # an LdsError: its message alone
    failed = wait(jobs, crashed.id)
    assert (
        failed.status == "failure" and failed.error == "ZeroDivisionError: division by zero" and failed.result is None
    )


def test_bad_submissions(backend):
    _, jobs, _ = backend
    with pytest.raises(BadRequest):
        jobs.submit_task("no-such-task", {})
    with pytest.raises(BadRequest):
        jobs.submit_task("test-sleep", ["not", "an", "object"])
    with pytest.raises(BadRequest):
        get_task("geocode")  # a chunked kind is not a task


def test_cancel_while_queued_and_active_count(backend):
    _, jobs, run = backend
    if jobs.backend == "local":
        pytest.skip("the local runner starts a task at once: see test_cancel_reaches_the_running_process")
    rec = jobs.submit_task("test-sleep", {"seconds": 30})
    assert jobs.active_count("test-sleep") == 1 and jobs.active_count("test-refuse") == 0
    assert jobs.cancel(rec.id).status == "cancelled"
    run()  # nothing left to run
    after = jobs.get(rec.id)
    assert after.status == "cancelled" and after.logs == [] and jobs.active_count("test-sleep") == 0


def worker_process(settings, log_path):
    """A worker in its own process (`lds worker`'s run_worker, plus the test kinds), own session for killpg."""
    env = worker_env(settings, PYTHONPATH=f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "import jobtaskkinds; jobtaskkinds.run_worker_main()"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_cancel_reaches_the_running_process(backend, tmp_path):
    """The task runs in a worker process; the cancel is made here; that process fires on_cancel and stops."""
    settings, jobs, _ = backend
    jobs = observer(jobs)
    proc = worker_process(settings, tmp_path / "w.log")
    try:
        rec = jobs.submit_task("test-sleep", {"seconds": 120})
        wait(jobs, rec.id, statuses=("running",), logged="started attempt 1")
        assert jobs.cancel(rec.id).status == "cancelled"
        after = wait(jobs, rec.id, statuses=("cancelled",), logged="stopped early", timeout=20)
    finally:
        stop_process(proc)
    lines = [line.split(" ", 1)[1] for line in after.logs]
    assert lines == ["started attempt 1", "cancel callback fired", "stopped early"]
    assert after.error is None and after.result is None  # the task's own "stopped by cancel" did not overwrite it


@pytest.mark.parametrize("kind", ["test-sleep", "test-sleep-retry"])
def test_sigkilled_worker_fails_or_retries_the_task(backend, tmp_path, kind):
    """A worker dies (SIGKILL) mid-task: a fail kind ends as failure, a retry kind runs again; none stays running."""
    settings, service, run = backend
    jobs = observer(service)
    proc = worker_process(settings, tmp_path / "a.log")
    try:
        rec = jobs.submit_task(kind, {"seconds": 120, "fail_first": True, "value": 7})
        wait(jobs, rec.id, statuses=("running",), logged="started attempt 1")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert jobs.get(rec.id).status == "running"
        if jobs.backend == "redis":
            time.sleep(settings.job_lease_s + 1)  # the dead worker's heartbeat runs out; a live worker sees it
            run()
            run()  # a retried task is re-enqueued by the first pass and run by the second
        else:
            service.start()  # this process's runner takes the job over once the dead process's lease is free
        done = wait(jobs, rec.id, timeout=30)
    finally:
        stop_process(proc)
    if kind == "test-sleep":
        assert done.status == "failure" and done.error == WORKER_DIED
    else:
        assert done.status == "success" and done.result == {"value": 7, "owner": None, "attempt": 2}
        assert any(f"{WORKER_DIED}: attempt 2 of 2" in line for line in done.logs)


def test_task_kind_is_validated():
    with pytest.raises(ValueError):
        type(SLEEP)("x", SLEEP.run, on_worker_death="ignore")
