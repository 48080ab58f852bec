"""The job API of the core: submit, look up, page through results, cancel (no Flask here).

One :class:`JobService` per process picks its backend from the settings: with ``redis_url`` the
records live in Redis and chunks go to RQ for `lds worker` processes on any machine; without it
they live under ``state_dir/jobs`` and this process's thread pool runs them (single node).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import redis

from lds import metrics
from lds.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, Unavailable
from lds.jobs.kinds import get_kind
from lds.jobs.model import CANCELLED, JobRecord, new_job
from lds.jobs.tasks import get_task
from lds.settings import Settings


class JobService:
    """Submit and follow batch jobs; the same calls whatever the backend."""

    def __init__(self, settings: Settings, store: Any, runner: Any):
        self.settings = settings
        self.store = store
        self.runner = runner

    @property
    def backend(self) -> str:
        return self.store.backend

    @classmethod
    def create(cls, settings: Settings, lds: Any) -> JobService:
        if settings.redis_url:
            from lds.jobs.redis_store import RedisJobStore
            from lds.jobs.rq_queue import RqQueue
            from lds.redisconn import redis_client

            client = redis_client(settings.redis_url, settings.job_redis_timeout_s)
            store = RedisJobStore(client, settings.redis_prefix, settings.job_result_ttl_s)
            return cls(settings, store, RqQueue(store, settings))
        from lds.jobs.file_store import FileJobStore
        from lds.jobs.local_runner import LocalRunner

        store = FileJobStore(Path(settings.state_dir) / "jobs", settings.job_result_ttl_s)
        runner = LocalRunner(store, lds, settings.job_local_threads, scan_s=max(1.0, settings.job_lease_s / 3),
                             retries=settings.job_chunk_retries, settings=settings)
        return cls(settings, store, runner)

    def start(self) -> None:
        """Start background work of this process (the local runner's pool and resume scan)."""
        self.runner.start()

    # --- API ---------------------------------------------------------------------------------
    def submit(self, kind: str, items: list, params: dict[str, Any] | None = None, owner: str | None = None,
               data_version: str | None = None) -> JobRecord:
        get_kind(kind)
        if not isinstance(items, list) or not items:
            raise BadRequest("a batch job needs a non-empty list of items")
        if len(items) > self.settings.job_max_items:
            raise PayloadTooLarge(f"too many items for one job: {len(items)} (job_max_items is {self.settings.job_max_items})")
        rec = new_job(kind, len(items), self.settings.job_chunk_size, params or {}, owner, data_version)
        with _backend_errors():
            self.runner.start()
            self.store.create(rec, items)
            self.runner.enqueue(rec)
        metrics.JOBS_SUBMITTED.labels(kind).inc()
        metrics.JOB_ITEMS_SUBMITTED.labels(kind).inc(len(items))
        return rec

    def submit_task(self, kind: str, params: dict[str, Any], owner: str | None = None) -> JobRecord:
        """Queue one task of ``kind`` (:mod:`lds.jobs.tasks`) with JSON-able ``params``; it starts ``pending``."""
        get_task(kind)
        if not isinstance(params, dict):
            raise BadRequest("task params must be an object")
        rec = new_job(kind, 1, 1, params, owner, None)
        with _backend_errors():
            self.runner.start()
            self.store.create(rec, [])
            self.runner.enqueue(rec)
        metrics.JOBS_SUBMITTED.labels(kind).inc()
        return rec

    def active_count(self, kind: str, owner: str | None = None) -> int:
        """Pending and running jobs of ``kind`` on the whole installation (all processes, all workers); only
        ``owner``'s when given."""
        with _backend_errors():
            records = self.store.load_many(self.store.active_ids())
            return sum(1 for rec in records if rec is not None and rec.kind == kind and not rec.finished
                       and (owner is None or rec.owner == owner))

    def list(self, owner: str | None = None, kind: str | None = None, limit: int = 1000) -> list[JobRecord]:
        """Jobs still stored, newest first (at most ``limit``): ``owner``'s only when given, of ``kind`` when given."""
        with _backend_errors():
            self.runner.start()
            records = self.store.load_many(self.store.job_ids())
        found = [rec for rec in records if rec is not None and (owner is None or rec.owner == owner)
                 and (kind is None or rec.kind == kind)]
        found.sort(key=lambda r: r.created_at, reverse=True)
        return found[:limit]

    def get(self, job_id: str, owner: str | None = None) -> JobRecord:
        """The job, if it exists and ``owner`` (when given) owns it; NotFound otherwise (no existence leak)."""
        with _backend_errors():
            self.runner.start()
            rec = self.store.load(job_id)
        if rec is None or (owner is not None and rec.owner is not None and rec.owner != owner):
            raise NotFound(f"no job {job_id!r} (unknown, expired, or not yours)")
        return rec

    def page_count(self, rec: JobRecord) -> int:
        return max(1, -(-rec.total // self.settings.job_page_size))

    def results_page(self, rec: JobRecord, page: int) -> list[dict]:
        """Entries of 1-based ``page`` of a successful job, in input order."""
        if rec.status != "success":
            raise Conflict(f"job {rec.id} has no results: it is {rec.status}")
        pages = self.page_count(rec)
        if page < 1 or page > pages:
            raise BadRequest(f"page must be between 1 and {pages}, got {page}")
        size, cs = self.settings.job_page_size, rec.chunk_size
        start, end = (page - 1) * size, min(page * size, rec.total)
        first, last = start // cs, (end - 1) // cs
        with _backend_errors():
            try:
                chunks = self.store.chunk_results(rec.id, list(range(first, last + 1)))
            except LookupError as exc:
                raise NotFound(str(exc)) from None
        entries = [entry for chunk in chunks for entry in chunk]
        offset = start - first * cs
        return entries[offset : offset + (end - start)]

    def cancel(self, job_id: str, owner: str | None = None) -> JobRecord:
        rec = self.get(job_id, owner)
        with _backend_errors():
            previous = self.store.finish(job_id, CANCELLED)
            if previous in ("success", "failure", "cancelled"):
                raise Conflict(f"job {job_id} already ended ({previous})")
            self.runner.cancel(rec)
            return self.store.load(job_id)

    def stats(self) -> dict[str, Any]:
        """Queue depth and job counts for /metrics."""
        with _backend_errors():
            stats = self.store.stats()
            stats["queued_chunks"] = self.runner.depth()
        return stats


class _backend_errors:
    """Turn a Redis outage into a clear 503 instead of a 500."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and issubclass(exc_type, redis.RedisError):
            raise Unavailable(f"job queue unavailable (Redis: {exc})", 503) from exc
        return False
