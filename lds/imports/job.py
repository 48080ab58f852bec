"""The ``import`` task kind: what a worker (the local runner's thread or `lds worker`) runs for one import.

A worker that dies mid-import leaves no table (the load is atomic, see :mod:`lds.imports.load`), so the
task is safely run again (``on_worker_death="retry"``); a cancel stops the download, the reader and the
load statement in the warehouse. Geocoding on import charges the submitting token's quota from here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lds.errors import LdsError
from lds.imports.budget import Budget
from lds.imports.geocode import make_geocoder
from lds.imports.load import parse_destination
from lds.imports.pipeline import ImportRequest, run_import
from lds.imports.service import KIND, warehouse_names
from lds.jobs.tasks import TaskContext, TaskKind, register_task

_connections: dict[tuple, Any] = {}
_lock = threading.Lock()


def connections_for(settings: Any) -> Any:
    """This process's connections over the settings' state store (opened once per store)."""
    key = (settings.state_dir, settings.database_url, settings.secret_key)
    with _lock:
        found = _connections.get(key)
        if found is None:
            from lds.connections import Connections
            from lds.state.store import StateStore

            found = _connections[key] = Connections(StateStore.from_settings(settings), settings)
    return found


def _charger(ctx: TaskContext) -> tuple[Callable[[int], None], Callable[[], None]]:
    """(charge(units), close) against the owner's geocoding quota; no-ops without auth or owner."""
    if not ctx.settings.auth or ctx.owner is None:
        return (lambda units: None), (lambda: None)
    from lds.auth.access import AccessControl
    from lds.auth.tokens import Principal

    access = AccessControl.from_settings(ctx.settings)
    principal = Principal(id=ctx.owner, kind="import", name="", quotas=ctx.params.get("quotas") or {})
    return (lambda units: access.charge(principal, "geocoding", units)), access.close


def run(ctx: TaskContext) -> dict:
    p, settings = ctx.params, ctx.settings
    _, warehouse = connections_for(settings).warehouse(p["connection"])
    database, default_schema = warehouse_names(warehouse)
    req = ImportRequest(
        url=p["url"],
        destination=parse_destination(p["destination"], database, default_schema),
        overwrite=bool(p.get("overwrite")),
        autoguessing=p.get("autoguessing", True) is not False,
        address_column=p.get("address_column"),
    )
    budget = Budget(settings.import_timeout_s, ctx.cancelled)
    charge, close = _charger(ctx) if req.address_column else ((lambda units: None), (lambda: None))
    try:
        geocoder = make_geocoder(ctx.lds, charge) if req.address_column else None
        if ctx.attempt > 1:
            ctx.log(f"attempt {ctx.attempt}: starting over (the earlier attempt wrote nothing)")
        return run_import(
            ctx.job_id, req, warehouse, settings, budget=budget, log=ctx.log, on_cancel=ctx.on_cancel, geocoder=geocoder
        )
    except LdsError as exc:
        ctx.log(f"failed: {exc.message}")  # the reader's or warehouse's reason, in the logs as well as in error
        raise
    finally:
        close()


IMPORT = register_task(TaskKind(KIND, run, on_worker_death="retry"))
