"""What an answer service is, as data: one :class:`Service` per endpoint, and the few functions that run one.

A declaration (:mod:`lds.services.declarations`) names the path and methods, the parameters (request names
and aliases, the sanitiser that reads each, limits from Settings), the quota service and units charged,
the cache endpoint and key, the core method that answers and the formatter of CARTO's LDS envelope. The
Flask blueprint, the fast path below Flask, the cache facade, the CLI and the job kinds are all derived
from these, so a service's facts live in one place. No Flask here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lds.errors import LdsError
from lds.geocoding.batch import NO_RESULT
from lds.params import first

Reader = Callable[[Any, Any, dict[str, Any]], Any]  # (raw value or None, lds, values read so far) -> clean value


def lds_ok(value: Any) -> list[dict[str, Any]]:
    """CARTO's LDS success body: an array with one ``{"error": null, "value": ...}`` entry."""
    return [{"error": None, "value": value}]


def error_entry(message: str) -> list[dict[str, Any]]:
    """An answer that is an error *entry* with HTTP 200 (no geocoding match, a point outside the data)."""
    return [{"error": message, "value": []}]


def candidates(value: list) -> list[dict[str, Any]]:
    """Geocoding candidates, or the "no result" entry when there are none."""
    return lds_ok(value) if value else error_entry(NO_RESULT)


@dataclass(frozen=True)
class Param:
    """One request parameter: ``key`` is the core method's keyword, ``names`` the request names (aliases after
    the first, which messages use); ``read`` sanitises the raw value (None when absent)."""

    key: str
    names: tuple[str, ...]
    read: Reader
    help: str = ""
    cli: str = "option"  # "positional", "option", or "" (not on the command line)
    to_core: bool = True  # False: steers the request (a batch's ``async``), not passed to the core


@dataclass(frozen=True)
class Job:
    """How a request too big (or asked) to answer inline becomes a batch job of ``kind``."""

    kind: str
    items: str  # key of the parameter holding the items
    flag: str  # key of the boolean parameter asking for a job
    sync_max_setting: str  # more items than this setting are always a job
    sync_too_big: Callable[[list, Any], bool] | None = None  # (items, settings) -> a job too (e.g. too many characters)
    core: str | None = None  # core method a chunk of items calls (default: the service's), one entry per item
    units_per_item: Callable[[dict[str, Any]], int] | None = None  # (job params) -> quota units of one item; default 1


@dataclass(frozen=True)
class Service:
    name: str  # the registry key
    path: str
    methods: tuple[str, ...]
    params: tuple[Param, ...]
    quota: str  # quota service charged (lds.auth.quota.QUOTA_SERVICES)
    core: str  # method of lds.core.LDS (and lds.cache.CachedLDS) that answers, called with the params' keys
    format: Callable[[Any], Any]  # the core's value -> the response body
    cache: str  # endpoint name of cache keys and lds_cache_lookups
    cache_key: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None  # (core kwargs, settings) -> key params
    units: Callable[[dict[str, Any]], int] = lambda kwargs: 1
    entry_errors: tuple[type[LdsError], ...] = ()  # errors answered as a 200 error entry
    job: Job | None = None
    heavy: Callable[[dict[str, Any], Any], bool] | None = None  # (core kwargs, settings) -> needs a heavy slot (lds.admission)
    body_list: str | None = None  # set: a JSON body is required, and a bare array stands for this field
    cli: str | None = None  # `lds <cli>` prints this service's answer
    help: str = ""

    @property
    def core_keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.params if p.to_core)


def parse(service: Service, args: dict[str, Any], lds: Any) -> dict[str, Any]:
    """Every parameter of ``service`` read from ``args`` (query and body merged), in declaration order."""
    values: dict[str, Any] = {}
    for p in service.params:
        values[p.key] = p.read(first(args, *p.names), lds, values)
    return values


def core_kwargs(service: Service, values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in service.core_keys}


def run(service: Service, lds: Any, values: dict[str, Any], charge: Callable[[str, int], Any]) -> Any:
    """Charge the quota (``charge(quota service, units)``) and answer: what every front end does once the
    parameters read (:func:`parse`) and the caller is known."""
    kwargs = core_kwargs(service, values)
    charge(service.quota, service.units(kwargs))
    return answer(service, lds, kwargs)


def answer(service: Service, lds: Any, kwargs: dict[str, Any]) -> Any:
    """Call the core (``lds``: the core or its cached facade) and format its value as the response body."""
    try:
        value = getattr(lds, service.core)(**kwargs)
    except service.entry_errors as exc:
        return error_entry(exc.message)
    return service.format(value)


def wants_job(service: Service, values: dict[str, Any], settings: Any) -> bool:
    """Whether this request becomes a job rather than an inline answer."""
    job = service.job
    return job is not None and (bool(values[job.flag]) or
                                len(values[job.items]) > getattr(settings, job.sync_max_setting) or
                                (job.sync_too_big is not None and job.sync_too_big(values[job.items], settings)))


def is_heavy(service: Service, values: dict[str, Any], settings: Any) -> bool:
    """Whether answering this request inline takes a heavy slot (its declared cost, :mod:`lds.admission`)."""
    return service.heavy is not None and service.heavy(core_kwargs(service, values), settings)
