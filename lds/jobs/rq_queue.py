"""Chunks of Redis-backed jobs on an RQ queue, and the `lds worker` process that runs them.

Each chunk is one RQ job (``<job id>-<chunk>``) with a retry budget. Workers are
:class:`LdsWorker`, an RQ ``SimpleWorker`` (no fork per chunk: the loaded, memory-mapped data is
used in place) that heartbeats its running chunk every ``job_lease_s / 3`` seconds and reports a
lease of ``job_lease_s``. A worker that dies (SIGKILL, lost machine) stops heartbeating; the next
registry maintenance of any live worker (every ``job_lease_s``) finds the expired entry in RQ's
StartedJobRegistry and re-enqueues the chunk (RQ's abandoned-job handling, which honours the
retry budget). Storing results is idempotent per chunk, so a chunk run twice is counted once.
A task (:mod:`lds.jobs.tasks`) is one RQ job (``<job id>-0``) run by :func:`task_entry`; it is retried
after a worker's death only if its kind says so, else RQ's abandoned-job callback fails it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from redis import Redis, RedisError
from rq import Callback, Queue, Retry, SimpleWorker
from rq.exceptions import AbandonedJobError
from rq.timeouts import JobTimeoutException
from rq.worker import WorkerStatus

from lds.jobs.chunks import run_chunk
from lds.jobs.model import FAILURE, JobRecord
from lds.jobs.redis_store import RedisJobStore
from lds.jobs.tasks import WORKER_DIED, find_task, run_task

log = logging.getLogger("lds.jobs")

# Set by `lds worker` before it starts working: the loaded core and the job store of this process.
_CONTEXT: dict[str, Any] = {}
ENQUEUE_SLICE = 500  # RQ jobs per pipeline round trip when a big job is submitted


def queue_name(prefix: str) -> str:
    """The RQ queue of a deployment: ``lds-jobs`` for the default ``redis_prefix`` ``lds:``."""
    return prefix.rstrip(":") + "-jobs"


def rq_job_id(job_id: str, n: int) -> str:
    return f"{job_id}-{n}"


def chunk_task(job_id: str, n: int) -> bool:
    """The RQ entry point of one chunk (runs inside `lds worker`)."""
    try:
        lds, store = _CONTEXT["lds"], _CONTEXT["store"]
    except KeyError:
        raise RuntimeError("lds chunk tasks run only inside `lds worker`") from None
    return run_chunk(store, lds, job_id, n)


def chunk_failed(job, connection: Redis, exc_type, exc_value, tb) -> None:
    """RQ failure callback (also called for abandoned chunks): fail the LDS job once retries are spent."""
    if job.should_retry:
        return
    job_id, n = job.args
    reason = f"{exc_type.__name__}: {exc_value}" if str(exc_value) else exc_type.__name__
    log.error("job %s chunk %s failed after its retries: %s", job_id, n, reason)
    store = RedisJobStore(connection, job.meta["prefix"], job.meta["result_ttl_s"])
    store.finish(job_id, FAILURE, f"chunk {n} failed after {job.meta['retries']} retries: {reason}")


def task_entry(job_id: str) -> bool:
    """The RQ entry point of a task (runs inside `lds worker`)."""
    try:
        lds, store, settings = _CONTEXT["lds"], _CONTEXT["store"], _CONTEXT["settings"]
    except KeyError:
        raise RuntimeError("lds tasks run only inside `lds worker`") from None
    return run_task(store, settings, lds, job_id)


def task_failed(job, connection: Redis, exc_type, exc_value, tb) -> None:
    """RQ failure callback of a task: its worker died (abandoned) or it outran the RQ timeout."""
    if job.should_retry:
        return  # run again: run_task counts the attempts
    (job_id,) = job.args
    if exc_type is AbandonedJobError:
        reason = WORKER_DIED
    elif exc_type is not None and issubclass(exc_type, JobTimeoutException):
        reason = f"the task ran longer than {job.timeout} s (job_task_timeout_s) and was stopped"
    else:
        reason = f"{exc_type.__name__}: {exc_value}" if str(exc_value) else exc_type.__name__
    store = RedisJobStore(connection, job.meta["prefix"], job.meta["result_ttl_s"])
    if store.finish(job_id, FAILURE, reason) not in ("success", "failure", "cancelled", None):
        log.error("job %s failed: %s", job_id, reason)


class RqQueue:
    """Enqueues the chunks of Redis-backed jobs; used by the API process."""

    def __init__(self, store: RedisJobStore, settings: Any):
        self.store = store
        self.settings = settings
        self.queue = Queue(queue_name(settings.redis_prefix), connection=store.client)

    def start(self) -> None:
        """Nothing runs in the API process: `lds worker` processes do the work."""

    def enqueue(self, rec: JobRecord) -> None:
        s = self.settings
        meta = {"prefix": s.redis_prefix, "result_ttl_s": s.job_result_ttl_s, "retries": s.job_chunk_retries}
        task = find_task(rec.kind)
        if task is not None:
            retry = Retry(max=s.job_chunk_retries) if task.on_worker_death == "retry" else None
            self.queue.enqueue_call(task_entry, args=(rec.id,), job_id=rq_job_id(rec.id, 0),
                                    timeout=s.job_task_timeout_s, result_ttl=0, failure_ttl=s.job_result_ttl_s,
                                    retry=retry, on_failure=Callback(task_failed), meta=meta,
                                    description=f"{rec.kind} task {rec.id}")
            return
        datas = [
            Queue.prepare_data(
                chunk_task, args=(rec.id, n), job_id=rq_job_id(rec.id, n), timeout=s.job_chunk_timeout_s,
                result_ttl=0, failure_ttl=s.job_result_ttl_s, retry=Retry(max=s.job_chunk_retries),
                on_failure=Callback(chunk_failed), meta=meta, description=f"{rec.kind} job {rec.id} chunk {n}",
            )
            for n in range(rec.chunks)
        ]
        for start in range(0, len(datas), ENQUEUE_SLICE):
            with self.store.client.pipeline() as pipe:
                self.queue.enqueue_many(datas[start : start + ENQUEUE_SLICE], pipeline=pipe)
                pipe.execute()

    def cancel(self, rec: JobRecord) -> None:
        """Drop the job's chunks still waiting in the queue (running ones see the cancel and store nothing)."""
        done = self.store.done_chunks(rec.id)
        with self.store.client.pipeline(transaction=False) as pipe:
            for n in range(rec.chunks):
                if n not in done:
                    pipe.lrem(self.queue.key, 0, rq_job_id(rec.id, n))
                    pipe.delete(self.queue.job_class.key_for(rq_job_id(rec.id, n)))
            pipe.execute()

    def depth(self) -> int:
        return int(self.store.client.llen(self.queue.key))


class LdsWorker(SimpleWorker):
    """RQ SimpleWorker with a short, heartbeated lease on the chunk it runs."""

    def __init__(self, *args: Any, lease_s: int = 15, **kwargs: Any):
        self.lease_s = max(3, int(lease_s))
        kwargs.setdefault("job_monitoring_interval", max(1, self.lease_s // 3))
        kwargs.setdefault("maintenance_interval", self.lease_s)
        kwargs.setdefault("worker_ttl", self.lease_s + 15)  # RQ blocks on dequeue for worker_ttl - 15 s
        super().__init__(*args, **kwargs)

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        return self.lease_s

    def subscribe(self) -> None:
        """RQ's command channel, with a listener that wakes every second (RQ's waits 60 s): stopping the
        worker joins that thread, which otherwise can hold a short burst run or a shutdown for a minute."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=1, daemon=True,
                                                       exception_handler=self._pubsub_exception_handler)

    def execute_job(self, job, queue) -> None:
        stop = threading.Event()
        execution = self.prepare_execution(job)

        def beat() -> None:
            while not stop.wait(self.job_monitoring_interval):
                try:
                    self.maintain_heartbeats(job, execution)
                except RedisError as exc:  # a missed beat only shortens the lease
                    log.warning("heartbeat of %s failed: %s", job.id, exc)

        beater = threading.Thread(target=beat, name="lds-heartbeat", daemon=True)
        beater.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beater.join()
        self.set_state(WorkerStatus.IDLE)
