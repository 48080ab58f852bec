"""Task kinds of the task tests, importable by the worker processes those tests start (no LDS service:
the machinery is under test). ``run_worker_main`` is what such a process runs: `lds worker` plus these kinds."""

from __future__ import annotations

import time

from lds.errors import BadRequest
from lds.jobs.tasks import TaskContext, TaskKind, register_task


def _sleep(ctx: TaskContext) -> dict:
    """Log, then wait ``seconds`` unless cancelled first (the cancel callback logs too)."""
    ctx.on_cancel(lambda: ctx.log("cancel callback fired"))
    ctx.log(f"started attempt {ctx.attempt}")
    if ctx.params.get("fail_first") and ctx.attempt == 1:
        time.sleep(ctx.params["seconds"])  # the test kills this worker meanwhile
    deadline = time.monotonic() + (0 if ctx.attempt > 1 else ctx.params.get("seconds", 0))
    while time.monotonic() < deadline and not ctx.cancelled():
        time.sleep(0.02)
    if ctx.cancelled():
        ctx.log("stopped early")
        raise BadRequest("stopped by cancel")
    ctx.log("done")
    return {"value": ctx.params.get("value"), "owner": ctx.owner, "attempt": ctx.attempt}


def _refuse(ctx: TaskContext) -> dict:
    raise BadRequest(f"cannot do {ctx.params.get('what')}")


def _crash(ctx: TaskContext) -> dict:
    return {"x": 1} if ctx.params.get("ok") else 1 / 0


SLEEP = register_task(TaskKind("test-sleep", _sleep))
SLEEP_RETRY = register_task(TaskKind("test-sleep-retry", _sleep, on_worker_death="retry"))
REFUSE = register_task(TaskKind("test-refuse", _refuse))
CRASH = register_task(TaskKind("test-crash", _crash))


def run_worker_main() -> None:
    """Entry of a worker subprocess: settings from its LDS_* environment, data dir optional."""
    from types import SimpleNamespace

    from lds.jobs.worker import run_worker
    from lds.settings import Settings

    run_worker(Settings.from_env(), lds=SimpleNamespace(data_version="test"))
