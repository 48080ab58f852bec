"""Single long tasks as jobs (SQL jobs, imports): cancellable mid-run, with logs and a result (no Flask here).

Batch geocoding jobs are chunks of items (:mod:`lds.jobs.kinds`); a *task* is one piece of work that runs
whole. It is stored as a job of one chunk and runs on the same queue and workers: the local runner's threads
without Redis, `lds worker` (RQ) with it. While it runs, a watcher thread of the running process polls the
job's status in the store every :data:`POLL_S` seconds and fires the task's ``on_cancel`` callbacks once it
turns ``cancelled``, whichever process cancelled it.

Every start of a task is counted in the store. A start that finds an earlier one (its worker died: the local
lease was freed by the kernel, or RQ found the worker's heartbeat gone) ends the job as a failure "worker died
while running", or, for kinds with ``on_worker_death="retry"``, runs it again up to ``job_chunk_retries`` times.
With RQ, a dead worker's task is also failed by RQ's abandoned-job callback when it is not to be retried.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lds.errors import BadRequest, LdsError
from lds.jobs.model import CANCELLED, FAILURE, FINAL
from lds.settings import Settings

log = logging.getLogger("lds.jobs")

POLL_S = 0.5  # how often a running task looks for a cancel in the store
WORKER_DIED = "worker died while running"

# Modules that register task kinds, imported on first lookup of an unknown kind, so every process
# (`lds serve`, `lds worker`) knows the built-in kinds without importing them at start-up.
TASK_MODULES: list[str] = ["lds.sql.jobs", "lds.imports.job"]
_loaded: set[str] = set()


@dataclass(frozen=True)
class TaskKind:
    """A kind of single long task: ``run(ctx)`` does the whole task and returns a JSON-able result dict.

    ``run`` raises an :class:`~lds.errors.LdsError` to fail (its message becomes the job's error text).
    ``on_worker_death``: ``"fail"`` ends the job as a failure when its worker dies; ``"retry"`` runs it
    again, at most ``job_chunk_retries`` times (for idempotent tasks).
    """

    name: str
    run: Callable[[TaskContext], dict]
    on_worker_death: str = "fail"

    def __post_init__(self) -> None:
        if self.on_worker_death not in ("fail", "retry"):
            raise ValueError(f"on_worker_death must be 'fail' or 'retry', not {self.on_worker_death!r}")


TASKS: dict[str, TaskKind] = {}


def register_task(kind: TaskKind) -> TaskKind:
    TASKS[kind.name] = kind
    return kind


def _load_modules() -> None:
    for module in TASK_MODULES:
        if module in _loaded:  # imported, or known missing: not looked for again on every lookup
            continue
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a feature not there (yet): its kinds are simply unknown
            if exc.name != module:
                raise
            log.debug("task module %s not found", module)
        _loaded.add(module)


def find_task(name: str) -> TaskKind | None:
    """The task kind ``name``, or None when ``name`` is not a task (a chunked kind, or unknown)."""
    if name not in TASKS:
        _load_modules()
    return TASKS.get(name)


def get_task(name: str) -> TaskKind:
    kind = find_task(name)
    if kind is None:
        raise BadRequest(f"unknown task kind {name!r}; known: {', '.join(sorted(TASKS))}")
    return kind


class TaskContext:
    """What a running task sees: its job, the settings and loaded core, cancel signals, and its log."""

    def __init__(self, job_id: str, params: dict, owner: str | None, settings: Settings, lds: Any, store: Any):
        self.job_id = job_id
        self.params = params
        self.owner = owner
        self.settings = settings
        self.lds = lds
        self.attempt = 1
        self._store = store
        self._cancelled = threading.Event()
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def on_cancel(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` (from another thread) as soon as the job is cancelled; at once if it already is."""
        with self._lock:
            if not self._cancelled.is_set():
                self._callbacks.append(fn)
                return
        _call(fn)

    def log(self, message: str) -> None:
        """Append ``message`` to the job's logs (what ``GET`` of the job shows)."""
        try:
            self._store.append_log(self.job_id, message)
        except Exception as exc:  # noqa: BLE001 - a lost log line must not fail the task
            log.warning("job %s: log line lost: %s", self.job_id, exc)

    def _fire(self) -> None:
        with self._lock:
            if self._cancelled.is_set():
                return
            self._cancelled.set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            _call(fn)


def _call(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # one failing callback must not keep the others from running
        log.exception("cancel callback failed")


def _watch(ctx: TaskContext, store: Any, done: threading.Event) -> None:
    """Poll the store until the task ends; fire the cancel callbacks when the job was cancelled."""
    while not done.wait(POLL_S):
        try:
            status = store.status(ctx.job_id)
        except Exception as exc:  # noqa: BLE001 - a store hiccup: look again at the next poll
            log.warning("job %s: status poll failed: %s", ctx.job_id, exc)
            continue
        if status is None or status in FINAL:  # cancelled (or ended otherwise, or expired): stop the work
            ctx._fire()
            return


def run_task(store: Any, settings: Settings, lds: Any, job_id: str) -> bool:
    """Run task job ``job_id`` to its end in this thread; False when there was nothing to do.

    The result is stored once (success), an :class:`LdsError` becomes the failure text, any other exception
    ``<Type>: <message>``; a job cancelled meanwhile stays cancelled whatever the task did afterwards.
    """
    rec = store.load(job_id)
    if rec is None or rec.finished:
        return False
    kind = get_task(rec.kind)
    attempt = store.begin_attempt(job_id)
    if attempt > 1:
        limit = settings.job_chunk_retries + 1 if kind.on_worker_death == "retry" else 1
        if attempt > limit:
            why = WORKER_DIED if limit == 1 else f"{WORKER_DIED} ({attempt - 1} attempts)"
            store.finish(job_id, FAILURE, why)
            log.error("job %s (%s): %s", job_id, rec.kind, why)
            return True
        store.append_log(job_id, f"{WORKER_DIED}: attempt {attempt} of {limit}")
    store.mark_running(job_id)
    ctx = TaskContext(job_id, rec.params, rec.owner, settings, lds, store)
    ctx.attempt = attempt
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(ctx, store, done), name=f"lds-task-{job_id[:8]}", daemon=True)
    watcher.start()
    try:
        result = kind.run(ctx)
        if not isinstance(result, dict):
            raise TypeError(f"task {rec.kind} returned {type(result).__name__}, not a dict")
        if not store.complete(job_id, result) and store.status(job_id) != CANCELLED:
            log.warning("job %s ended before its result was stored", job_id)
    except Exception as exc:  # noqa: BLE001 - every failure of the task becomes the job's error text
        message = str(exc) if isinstance(exc, LdsError) else f"{type(exc).__name__}: {exc}"
        if store.finish(job_id, FAILURE, message) not in FINAL:
            log.warning("job %s (%s) failed: %s", job_id, rec.kind, message)
    finally:
        done.set()
        watcher.join()
    return True
