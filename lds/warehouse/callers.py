"""Who the LDS functions of a ``carto_dw`` statement answer and charge, and the per-cursor slots binding them.

Kept apart from :mod:`lds.warehouse.lds_functions` (the Arrow UDFs, which need DuckDB and pyarrow) so the SQL
API, the jobs and the grant check can name callers without importing those: a gunicorn master that imported
both before forking had its workers abort at exit ("terminate called without an active exception").
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from lds.errors import Forbidden, LdsError

VARIABLE = "__lds_call"  # the session variable holding a cursor's slot id
NAMES = ("lds_geocode", "lds_reverse", "lds_route", "lds_isoline")  # what API tokens with `lds` may call
API = "lds"  # the allowed_apis entry a token needs to call them


# --- who calls: one LdsCalls per statement -----------------------------------------------------------------
@dataclass
class LdsCalls:
    """What the LDS functions of one statement answer with and charge: the core (or its cached facade),
    ``charge(quota service, units)`` (raises TooManyRequests; None: nothing is counted) and whether the
    caller may use the LDS API at all."""

    lds: Any
    charge: Callable[[str, int], Any] | None = None
    allowed: bool = True

    def pay(self, service: str, units: int) -> None:
        if units and self.charge is not None:
            self.charge(service, units)


def for_caller(lds: Any, access: Any, principal: Any) -> LdsCalls:
    """The calls of a SQL API caller: ``access`` an :class:`lds.auth.access.AccessControl` (None: auth off,
    nothing counted), ``principal`` its token. Allowed for the admin token and tokens with ``lds`` allowed."""
    if access is None or principal is None:
        return LdsCalls(lds)
    allowed = principal.is_admin or API in principal.allowed_apis
    return LdsCalls(lds, partial(access.charge, principal), allowed=allowed)


def caller_of(principal: Any) -> dict[str, Any] | None:
    """What a SQL job keeps of the token that submitted it (JSON), for :func:`for_job` in the worker."""
    if principal is None:
        return None
    return {
        "id": principal.id,
        "kind": principal.kind,
        "allowed_apis": list(principal.allowed_apis),
        "quotas": dict(principal.quotas),
    }


_job_access: dict[tuple[int, int], tuple[Any, Any]] = {}


def for_job(lds: Any, settings: Any, caller: Mapping[str, Any] | None) -> LdsCalls:
    """The calls of a SQL job's statement in whatever process runs it, charging the submitter (``caller``
    from :func:`caller_of`; None: submitted with auth off). Each charge is written to the state store at once
    (no leased block: a job's worker may end without flushing), one write per Arrow batch."""
    if caller is None or not settings.auth:
        return LdsCalls(lds)
    from lds.auth.access import AccessControl
    from lds.auth.tokens import Principal

    key = (os.getpid(), id(settings))
    held = _job_access.get(key)
    if held is None:  # one per process and settings (kept with it, so its id is not reused)
        held = _job_access[key] = (settings, AccessControl.from_settings(settings.replace(quota_lease_units=0)))
    access = held[1]
    principal = Principal(
        id=str(caller["id"]),
        kind=str(caller["kind"]),
        name="",
        allowed_apis=tuple(caller.get("allowed_apis") or ()),
        quotas=dict(caller.get("quotas") or {}),
    )
    return for_caller(lds, access, principal)


_current: contextvars.ContextVar[LdsCalls | None] = contextvars.ContextVar("lds_calls", default=None)


@contextlib.contextmanager
def calling(calls: LdsCalls | None) -> Iterator[None]:
    """Statements a ``carto_dw`` query starts in this block (this thread) answer their LDS functions with ``calls``."""
    token = _current.set(calls)
    try:
        yield
    finally:
        _current.reset(token)


def current_calls() -> LdsCalls | None:
    return _current.get()


def allowed_names(calls: LdsCalls | None, provider: str) -> tuple[str, ...]:
    """The function names the grant checker lets this caller use on ``provider`` (only carto_dw has them)."""
    return NAMES if provider == "carto_dw" and calls is not None and calls.allowed else ()


# --- slots: a cursor's binding to the statement it runs --------------------------------------------------------
@dataclass
class Binding:
    """A running statement's calls, its stop check (timeout, cancel) and the first error a function raised."""

    calls: LdsCalls | None
    check: Callable[[], None]
    error: LdsError | None = None

    def fail(self, exc: LdsError) -> None:
        if self.error is None:
            self.error = exc


_slots: dict[str, Binding | None] = {}


def bind(slot: str, calls: LdsCalls | None, check: Callable[[], None]) -> Binding:
    binding = _slots[slot] = Binding(calls, check)
    return binding


def unbind(slot: str) -> None:
    if slot in _slots:
        _slots[slot] = None


def forget(slot: str) -> None:
    _slots.pop(slot, None)


def open_slot(slot: str) -> None:
    """A new cursor's slot, bound to nothing until a statement runs (the LDS functions refuse to run there)."""
    _slots[slot] = None


def binding_of(slot: Any) -> Binding:
    binding = _slots.get(slot) if isinstance(slot, str) else None
    if binding is None:
        raise LdsError(
            "the LDS functions are available only in statements run through the SQL API "
            "(/v3/sql/carto_dw/query or a SQL job)"
        )
    return binding


def calls_of(binding: Binding) -> LdsCalls:
    calls = binding.calls
    if calls is None:
        raise LdsError(
            "the LDS functions are available only in statements run through the SQL API "
            "(/v3/sql/carto_dw/query or a SQL job)"
        )
    if not calls.allowed:
        raise Forbidden(f"Token not allowed to use the {API} API (needed by the LDS functions in SQL)")
    return calls
