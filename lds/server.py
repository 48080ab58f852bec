"""`lds serve`: the app under gunicorn, data loaded once in the master and shared by forked workers.

The gunicorn options and hooks live here so that `lds serve` and a plain
``gunicorn -c gunicorn.conf.py lds.wsgi:app`` (see the repo's gunicorn.conf.py) run the same way.
Choices, and why:

- ``preload_app``: the master loads the data dir (memory-mapped graph arrays, address index) before
  forking, so N workers share one copy of the pages instead of loading N copies.
- ``gthread`` workers, ``workers`` = min(2 x cores + 1, 8) by default, ``threads`` per worker: answers
  are CPU-bound in numpy/scipy/SQLite code, and the threads cover I/O waits (Redis, clients). The worker
  class is gthread's own, except that the answers gunicorn writes itself (a malformed request line, a
  URL over ``max_request_line`` 414, a header over ``max_header_bytes`` 431, ...) are the JSON error
  envelope like every other error, not gunicorn's HTML page (:class:`EnvelopeWorker`).
- ``limit_request_line`` = ``max_request_line`` (8190, gunicorn's maximum; its default 4094 refused the
  7,000+ character GETs CARTO clients send before they switch to POST).
- ``keepalive`` 5 s: load balancers and clients reuse connections (gunicorn's default of 2 s is short).
- ``timeout`` 120 s / ``graceful_timeout`` 30 s: a large synchronous batch (10,000 addresses) fits;
  a restart lets running requests finish.
- ``worker_tmp_dir`` /dev/shm when present: the worker heartbeat file never waits on a slow disk
  (containers), as gunicorn's docs advise.
- no gunicorn access log: the app writes one JSON line per request itself (lds.api.metrics) and
  never logs query strings, which may carry ``access_token``; gunicorn's own lines are JSON too.
- new data without downtime: SIGHUP to the master (or the master itself, every ``data_check_s``, when the data
  dir's ``current`` pointer moved: lds.versions) loads the new version into its app, then gunicorn's own reload
  forks new workers from it and stops the old ones gracefully, so requests in flight finish on the old data and
  no worker ever answers from two versions (:func:`on_reload`, :class:`DataArbiter`; a plain ``gunicorn -c
  gunicorn.conf.py`` switches on SIGHUP only).
- Prometheus multiprocess mode: PROMETHEUS_MULTIPROC_DIR is set (and emptied) before the app is
  imported; each worker writes its own files and ``/metrics`` sums them; ``child_exit`` marks dead
  workers so their gauges disappear.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from lds import fastjson
from lds.errors import error_body
from lds.logs import JsonFormatter
from lds.settings import Settings
from lds.worker_admission import AdmittingWorker

log = logging.getLogger("lds")


def default_workers() -> int:
    return min(2 * multiprocessing.cpu_count() + 1, 8)


def prepare_metrics_dir(settings: Settings) -> str:
    """Point prometheus-client at an empty multiprocess directory (must run before it is imported)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.metrics_dir or tempfile.mkdtemp(prefix="lds-metrics-")
    Path(path).mkdir(parents=True, exist_ok=True)
    for stale in Path(path).glob("*.db"):  # values of a previous run would be summed in otherwise
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return str(path)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """The gunicorn settings of `lds serve` (the module docstring says why each is so)."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers or default_workers(),
        "worker_class": "lds.server.EnvelopeWorker",  # gthread, with JSON error answers
        "threads": settings.threads,
        "limit_request_line": settings.max_request_line,
        "limit_request_field_size": settings.max_header_bytes,
        "preload_app": True,
        "keepalive": 5,
        "timeout": 120,
        "graceful_timeout": 30,
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level,
        "logger_class": JsonLogger if settings.log_format == "json" else None,
        "control_socket_disable": True,  # gunicorn >= 25 control socket: unused, and one path per user clashes
        "child_exit": child_exit,
        "post_worker_init": post_worker_init,
        "on_reload": on_reload,
    }


class JsonLogger(glogging.Logger):
    """gunicorn's own log lines (start, worker boots and exits) as JSON lines like the app's.

    A logger class rather than ``logconfig_dict``: any log config switches gunicorn's access log on
    (with query strings, and a cost on every request), which lds replaces by its own request log.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())


class EnvelopeWorker(AdmittingWorker):
    """gunicorn's gthread worker whose own error answers are the JSON error envelope, not an HTML page.

    It accepts a connection only when it can start on it at once (:mod:`lds.worker_admission`).

    gunicorn answers requests it cannot parse before the app sees them (400 bad request line or header,
    414, 431, 501 unsupported transfer coding) through ``gunicorn.util.write_error``, which has no hook;
    this worker replaces that function in its own process only (the master and other servers keep theirs).
    """

    def init_process(self) -> None:
        util.write_error = write_json_error
        super().init_process()


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """``util.write_error`` with the body ``{"error": "<reason>: <detail>", "status": N}``."""
    message = f"{reason}: {mesg[:300]}" if mesg else reason
    body = fastjson.dumps(error_body(message, status_int)) + b"\n"
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def child_exit(server, worker) -> None:
    """gunicorn hook (master): drop a dead worker's live gauges from the multiprocess files."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """gunicorn hook (each worker, after fork): start its background job runner (local mode resumes jobs)."""
    jobs = getattr(worker.wsgi, "extensions", {}).get("lds_jobs")
    if jobs is not None:
        jobs.start()


class GunicornServer(BaseApplication):
    """Runs ``create_app`` with ``preload_app`` so the memory-mapped arrays are loaded once before fork."""

    def __init__(self, settings: Settings, options: dict[str, Any] | None = None, lds: Any = None):
        self.settings = settings
        self.lds = lds
        self.options = {**gunicorn_options(settings), **(options or {})}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:  # options newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self):
        from lds.app import create_app

        return create_app(self.settings, lds=self.lds)

    def run(self) -> None:
        try:
            DataArbiter(self).run()
        except RuntimeError as exc:
            sys.stderr.write(f"\nError: {exc}\n")
            sys.exit(1)


def on_reload(arbiter: Any) -> None:
    """gunicorn hook (master, on SIGHUP, before it forks the new workers): the data dir's current version into
    the preloaded app when it is not the one served; a version that fails to load is logged, the old one kept."""
    if arbiter.cfg.preload_app and load_current(arbiter.app.wsgi()) and hasattr(arbiter.app, "lds"):
        arbiter.app.lds = None  # GunicornServer's reference: the old version must not stay loaded in the master


def load_current(app: Any) -> bool:
    """Swap the data dir's current version into ``app`` (idle: the master's) if it is not the one served (True)."""
    from lds.core import LDS
    from lds.data_follow import innermost, swap_app
    from lds.versions import current_name

    core = innermost(app.extensions["lds"])[2]
    if not core.data.outdated():
        return False
    target = current_name(core.data.root)
    try:
        new = LDS(core.settings, data_dir=core.data.root)
        new.warm()
    except Exception:  # keep serving the old version
        log.exception("data version %s cannot be loaded: still serving %s", target, core.data_version)
        return False
    swap_app(app.extensions, new)
    log.warning(
        "serving data version %s (was %s), loaded in %.3f s", new.data_version, core.data_version, new.load_seconds
    )
    return True


class DataArbiter(Arbiter):
    """gunicorn's master, which also sends itself SIGHUP when the data dir's ``current`` pointer moves (checked
    every ``data_check_s`` seconds, a readlink, on its own loop: no thread in the process that forks)."""

    def __init__(self, app: GunicornServer):
        super().__init__(app)
        self._checked = time.monotonic()
        self._signalled: str | None = None

    def manage_workers(self) -> None:
        super().manage_workers()
        every = self.app.settings.data_check_s
        if every <= 0 or time.monotonic() - self._checked < every:
            return
        self._checked = time.monotonic()
        from lds.data_follow import innermost
        from lds.versions import current_name

        data = innermost(self.app.wsgi().extensions["lds"])[2].data
        target = current_name(data.root) if data.root is not None else None
        if data.outdated() and target != self._signalled:
            self._signalled = target
            self.log.info("data dir %s now points at %s: reloading", data.root, target)
            os.kill(self.pid, signal.SIGHUP)


def serve(settings: Settings, **options: Any) -> None:
    """Load the data (failing fast, before any fork, when it is missing or broken) and run gunicorn."""
    from lds.core import LDS

    prepare_metrics_dir(settings)
    core = LDS(settings)
    core.warm()  # build the in-memory indexes once, before fork, so workers share their pages
    GunicornServer(settings, options, lds=core).run()
