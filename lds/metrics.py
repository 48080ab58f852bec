"""Prometheus metrics of the service (no Flask here; the /metrics endpoint lives in lds.api.metrics).

Under gunicorn every worker is a separate process, so `lds serve` points PROMETHEUS_MULTIPROC_DIR
at a fresh directory *before* this module is imported; prometheus-client then keeps each value in
a per-process memory-mapped file and the scrape sums them (its documented multiprocess mode).
Without that variable (tests, embedding, the CLI) the values live in the process as usual.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter("lds_http_requests", "HTTP requests answered.", ["endpoint", "method", "status"])
HTTP_LATENCY = Histogram("lds_http_request_duration_seconds", "Time to answer a request.", ["endpoint"], buckets=LATENCY_BUCKETS)
CACHE_LOOKUPS = Counter("lds_cache_lookups", "Cache lookups of LDS answers (batch items one by one).", ["endpoint", "result"])
CACHE_ERRORS = Counter("lds_cache_errors", "Redis cache calls that failed or timed out (answered uncached).", ["op"])
CACHE_BYPASSED = Counter("lds_cache_bypassed", "Cache calls skipped because the Redis circuit breaker was open.", ["op"])
CACHE_OVERSIZE = Counter("lds_cache_oversize", "Answers not cached because they exceed cache_max_entry_bytes.", ["endpoint"])
JOBS_SUBMITTED = Counter("lds_jobs_submitted", "Batch jobs accepted.", ["kind"])
JOB_ITEMS_SUBMITTED = Counter("lds_job_items_submitted", "Items in accepted batch jobs.", ["kind"])


_HTTP_CHILDREN: dict[tuple[str, str, int], tuple] = {}
_CACHE_CHILDREN: dict[tuple[str, str], object] = {}


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count and time one request (labelled children memoised: ``labels()`` is the slow part)."""
    key = (endpoint, method, status)
    children = _HTTP_CHILDREN.get(key)
    if children is None:
        children = _HTTP_CHILDREN[key] = (HTTP_REQUESTS.labels(endpoint, method, str(status)),
                                          HTTP_LATENCY.labels(endpoint))
    children[0].inc()
    children[1].observe(seconds)


def count_cache(endpoint: str, result: str, n: int) -> None:
    child = _CACHE_CHILDREN.get((endpoint, result))
    if child is None:
        child = _CACHE_CHILDREN[(endpoint, result)] = CACHE_LOOKUPS.labels(endpoint, result)
    child.inc(n)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(extra_collectors: tuple = ()) -> bytes:
    """The text exposition of every process's metrics plus ``extra_collectors`` (queue depth, job counts)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    extra = CollectorRegistry(auto_describe=True)
    for collector in extra_collectors:
        extra.register(collector)
    return text + generate_latest(extra)
