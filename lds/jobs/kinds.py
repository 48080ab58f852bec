"""The registry of job kinds: what a chunk of items means and which core call answers it.

Every service declared with a ``job`` (:mod:`lds.services`; today the geocoding batch) is a kind, answered
by the service's core method with the job's params; other kinds plug in by registering a :class:`JobKind`
whose ``run`` maps a chunk of items to one ``{"error", "value"}`` entry per item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lds.errors import BadRequest


@dataclass(frozen=True)
class JobKind:
    name: str
    service: str  # quota service the items count against
    run: Callable[[Any, dict[str, Any], list], list[dict]]  # (lds, params, items) -> entries in input order
    units_per_item: Callable[[dict[str, Any]], int] = lambda params: 1  # (params) -> quota units of one item

    def units(self, params: dict[str, Any] | None, items: int) -> int:
        """Quota units of ``items`` items of a job with ``params`` (charged up front, refunded when cancelled)."""
        return items * self.units_per_item(params or {})


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise BadRequest(f"unknown job kind {name!r}; known: {', '.join(sorted(KINDS))}") from None


def _service_kind(service: Any) -> JobKind:
    job = service.job
    method = job.core or service.core

    def run(lds: Any, params: dict[str, Any], items: list) -> list[dict]:
        return getattr(lds, method)(items, **params)

    return JobKind(job.kind, service.quota, run, job.units_per_item or (lambda params: 1))


def _register_services() -> None:
    from lds.services import SERVICES

    for service in SERVICES.values():
        if service.job is not None:
            register(_service_kind(service))


_register_services()
