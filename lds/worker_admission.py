"""A gunicorn gthread worker that takes a new connection only when it can start on it at once.

gthread's own worker accepts whenever it holds fewer than ``worker_connections`` (1,000) connections and
queues the request for its thread pool: a ``/health`` probe accepted by a worker whose threads all run
big batches waits for one of them to finish (measured: 30 s and more, scripts/starvation.py). This worker
stops listening while every thread is busy, and while it runs heavy work (:mod:`lds.admission`: at most one
heavy request per process and ``heavy_slots`` in all, so some worker runs none while ``workers`` exceeds
``heavy_slots``): the kernel hands the connection to a worker that is free, whose threads do not share a
GIL with a heavy one. Connections it already holds (keep-alive) are still served by it.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class AdmittingWorker(ThreadWorker):
    """``ThreadWorker`` whose listening sockets are watched only while a thread is free and no heavy work runs."""

    _busy_threads = 0
    _admission: Any = None

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self._admission = getattr(self.wsgi, "extensions", {}).get("lds_admission")

    def _may_accept(self) -> bool:
        if self._busy_threads >= self.cfg.threads:
            return False
        return self._admission is None or not self._admission.holds_out_light(self.cfg.workers)

    def set_accept_enabled(self, enabled: bool) -> None:
        # the worker loop calls this at least once a second, so a ban lifts by itself (e.g. a job chunk ends)
        super().set_accept_enabled(enabled and self._may_accept())

    def accept(self, listener: Any) -> None:
        if not self._may_accept():  # leave the connection in the backlog for a free worker
            super().set_accept_enabled(False)
            return
        super().accept(listener)

    def enqueue_req(self, conn: Any) -> None:
        self._busy_threads += 1
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self._busy_threads -= 1
        super().finish_request(conn, fs)
        self.set_accept_enabled(self.nr_conns < self.worker_connections)
