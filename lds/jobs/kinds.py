"""The registry of job kinds: what a chunk of items means and which core call answers it.

Geocoding batches are the first kind; routing or isoline batches plug in by registering a
:class:`JobKind` whose ``run`` maps a chunk of items to one ``{"error", "value"}`` entry per item.
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


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise BadRequest(f"unknown job kind {name!r}; known: {', '.join(sorted(KINDS))}") from None


def _geocode(lds: Any, params: dict[str, Any], items: list) -> list[dict]:
    return lds.geocode_batch(items, country=params.get("country"), limit=params.get("limit"))


register(JobKind("geocode", "geocoding", _geocode))
