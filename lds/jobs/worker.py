"""`lds worker --data <dir>`: load the data once, then run job chunks until stopped.

With ``redis_url`` it is an RQ worker on the deployment's queue (any number of them, on any
machine sharing the Redis); without it, it runs the local file-based jobs of ``state_dir`` (the
same jobs an embedded `lds serve` would run itself), which only makes sense on that machine.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from lds.settings import Settings

log = logging.getLogger("lds.jobs")


def run_worker(settings: Settings, *, burst: bool = False, name: str | None = None, lds: Any = None) -> int:
    """Work until SIGTERM/SIGINT (warm shutdown: the running chunk finishes) or, with ``burst``, until idle."""
    from lds.cache import with_cache
    from lds.core import LDS

    lds = with_cache(lds if lds is not None else LDS(settings), settings=settings)
    if settings.redis_url:
        return _run_rq(settings, lds, burst, name)
    return _run_local(settings, lds, burst)


def follow(lds: Any, settings: Settings, switch: Any) -> Any:
    """Follow the data dir's current version every ``data_check_s`` (lds.data_follow): chunks already running
    keep the core they started with, and every chunk runs on its job's recorded version anyway."""
    from lds.data_follow import Follower

    return Follower(lds, settings.data_check_s, switch).start()


def _run_rq(settings: Settings, lds: Any, burst: bool, name: str | None) -> int:
    from rq import Queue

    from lds.jobs import rq_queue
    from lds.jobs.redis_store import RedisJobStore
    from lds.redisconn import redis_client

    conn = redis_client(settings.redis_url, settings.job_redis_timeout_s)
    store = RedisJobStore(conn, settings.redis_prefix, settings.job_result_ttl_s)
    rq_queue._CONTEXT.update(lds=lds, store=store, settings=settings)
    queue = Queue(rq_queue.queue_name(settings.redis_prefix), connection=conn)
    worker = rq_queue.LdsWorker([queue], connection=conn, name=name, lease_s=settings.job_lease_s)
    log.info("worker %s on queue %s (data %s)", worker.name, queue.name, lds.data_version)
    follower = follow(lds, settings, lambda new: rq_queue._CONTEXT.update(lds=new))
    worker.work(burst=burst, logging_level=settings.log_level.upper(), with_scheduler=False)
    follower.stop()
    return 0


def _run_local(settings: Settings, lds: Any, burst: bool) -> int:
    from lds.jobs.service import JobService

    jobs = JobService.create(settings, lds)
    runner = jobs.runner
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    follower = follow(lds, settings, lambda new: setattr(runner, "lds", new))
    log.warning("no redis_url: running the local jobs of %s (single node only, data %s)", jobs.store.root,
                getattr(lds, "data_version", None))  # None: a runner of task jobs only, no data loaded
    while not stop.wait(1.0):
        runner.scan()
        if burst and jobs.stats()["active"] == 0:
            break
    follower.stop()
    runner.stop()
    return 0
