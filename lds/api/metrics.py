"""/metrics (Prometheus text format), per-request metrics and JSON request logs, and X-LDS-Cache.

Every request is timed and counted per endpoint *rule* (``/v3/lds/jobs/<job_id>``, not the concrete
path, so label cardinality stays bounded) and logged once as a JSON line with method, path (never
the query string: it may hold an access token), status, duration and cache outcome. Responses that
carried LDS answers get ``X-LDS-Cache: hit`` when every answer came from the cache, else ``miss``.
"""

from __future__ import annotations

import logging
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from lds import metrics
from lds.cache import begin_outcome
from lds.errors import LdsError

bp = Blueprint("metrics", __name__)
request_log = logging.getLogger("lds.request")


class JobCollector:
    """Queue depth and job counts, read from the job store at scrape time (shared by all processes)."""

    def __init__(self, jobs):
        self.jobs = jobs

    def collect(self):
        try:
            stats = self.jobs.stats()
        except LdsError:
            up = GaugeMetricFamily("lds_job_backend_up", "1 when the job store answered this scrape.")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("lds_job_backend_up", "1 when the job store answered this scrape.")
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("lds_job_queue_depth", "Job chunks waiting for a worker.")
        depth.add_metric([], stats["queued_chunks"])
        yield depth
        active = GaugeMetricFamily("lds_jobs_active", "Jobs pending or running.")
        active.add_metric([], stats["active"])
        yield active
        finished = CounterMetricFamily("lds_jobs_finished", "Jobs that ended, by final status.", labels=["status"])
        for status in ("success", "failure", "cancelled"):
            finished.add_metric([status], stats["finished"].get(status, 0))
        yield finished


@bp.get("/metrics")
def prometheus_metrics():
    jobs = current_app.extensions.get("lds_jobs")
    body = metrics.exposition((JobCollector(jobs),) if jobs is not None else ())
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Install the request hooks and the /metrics endpoint on ``app``."""
    app.register_blueprint(bp)

    @app.before_request
    def _start() -> None:
        g.lds_t0 = time.perf_counter()
        g.lds_cache = begin_outcome()

    @app.after_request
    def _finish(response: Response) -> Response:
        req = request._get_current_object()  # one proxy lookup instead of one per attribute
        state = g._get_current_object()
        t0 = getattr(state, "lds_t0", None)
        elapsed = time.perf_counter() - t0 if t0 is not None else 0.0
        outcome = getattr(state, "lds_cache", None)
        cache = outcome.label if outcome is not None else None
        headers = response.headers
        if cache is not None:
            headers["X-LDS-Cache"] = cache
            if outcome.hits + outcome.misses > 1:
                headers["X-LDS-Cache-Hits"] = f"{outcome.hits}/{outcome.hits + outcome.misses}"
        rule = req.url_rule.rule if req.url_rule is not None else "unmatched"
        headers["X-Request-ID"] = record_request(
            rule, req.method, req.path, response.status_code, elapsed, cache, req.headers.get("X-Request-ID"),
            response.calculate_content_length(), req.remote_addr)
        return response


def record_request(rule: str, method: str, path: str, status: int, elapsed: float, cache: str | None,
                   request_id: str | None, size: int | None, remote: str | None) -> str:
    """Count, time and log one answered request; returns its request id (the caller's, or a new one).

    Shared by the Flask hook above and the hot path below Flask (lds.api.hotpath), so both count alike.
    """
    metrics.observe_request(rule, method, status, elapsed)
    request_id = request_id or os.urandom(8).hex()
    if request_log.isEnabledFor(logging.INFO):
        request_log.info(f"{method} {path} {status}", extra={"fields": {
            "request_id": request_id, "method": method, "path": path, "endpoint": rule,
            "status": status, "duration_ms": round(elapsed * 1000, 3), "cache": cache,
            "bytes": size, "remote": remote,
        }})
    return request_id
