"""The LDS facade with every answer cached: what the app, the CLI and the batch worker all call.

:class:`CachedLDS` wraps a loaded :class:`lds.core.LDS`; its ``route``, ``isolines``, ``geocode``,
``reverse`` and ``geocode_batch`` have the core's signatures and results, and everything else is
forwarded. Each service's cache endpoint name and key parameters come from its declaration
(:mod:`lds.services`). Batch items are looked up one by one under the same key as a single geocode of the same
address, and only the misses are computed. Errors are never cached. Whether the answers of the
current request were hits is kept in a context variable that the HTTP layer turns into
``X-LDS-Cache`` (the core stays free of Flask).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lds import fastjson, metrics
from lds.cache.keys import cache_key


@dataclass
class CacheOutcome:
    """Hit and miss counts of the answers given in one request (or one CLI call)."""

    hits: int = 0
    misses: int = 0
    upstream: int = 0  # answers the upstream gave (lds.proxy.fallback): never kept in the response memo

    @property
    def label(self) -> str | None:
        if self.misses:
            return "miss"
        return "hit" if self.hits else None


_ITEM_FIELDS = {"address", "country", "limit"}
_OUTCOME: contextvars.ContextVar[CacheOutcome | None] = contextvars.ContextVar("lds_cache_outcome", default=None)


def begin_outcome() -> CacheOutcome:
    """Start counting for a new request; the returned object fills in as answers are given."""
    outcome = CacheOutcome()
    _OUTCOME.set(outcome)
    return outcome


def current_outcome() -> CacheOutcome | None:
    return _OUTCOME.get()


_dumps = fastjson.dumps
_loads = fastjson.loads


class CachedLDS:
    """A loaded core plus an answer store; same methods as :class:`lds.core.LDS`."""

    def __init__(self, core: Any, store: Any, settings: Any = None):
        self.core = core
        self.store = store
        s = settings if settings is not None else core.settings
        self.settings = s  # what the HTTP layer reads limits from (the app's settings; the core's by default)
        self._prefix = s.redis_prefix
        self._max_bytes = s.cache_max_entry_bytes
        self._off = getattr(store, "backend", None) == "off"  # cache_enabled=false (lds.cache.store.NoCache)
        from lds import services  # here, not at the top: the declarations import lds.cache.keys

        self._services = services

    def __getattr__(self, name: str) -> Any:
        return getattr(self.core, name)

    @property
    def cache_backend(self) -> str:
        return self.store.backend

    def status(self) -> dict[str, Any]:
        """The core's status plus which cache answers (and whether Redis is currently bypassed)."""
        breaker = getattr(self.store, "breaker", None)
        return {**self.core.status(), "cache": {"backend": self.store.backend,
                                                "redis_bypassed": bool(breaker is not None and breaker.is_open)}}

    # --- keys ----------------------------------------------------------------------------
    def key(self, endpoint: str, params: dict[str, Any]) -> str:
        return cache_key(self._prefix, self.core.data_version, endpoint, params)

    def cached(self, service: Any, kwargs: dict[str, Any]) -> Any:
        """The core's answer to one request of ``service`` (a :class:`lds.services.Service`), from the cache if there."""
        compute = getattr(self.core, service.core)
        if self._off:  # no key to hash and no copy to encode; still counted as the misses they are
            value = compute(**kwargs)
            self._count(service.cache, hits=0, misses=1)
            return value
        return self._answer(service.cache, service.cache_key(kwargs, self.settings), lambda: compute(**kwargs))

    # --- the services ----------------------------------------------------------------------
    def route(self, origin: Sequence[float], destination: Sequence[float], waypoints: Sequence[Sequence[float]] = (),
              mode: str = "car") -> dict:
        return self.cached(self._services.ROUTING,
                           {"origin": origin, "destination": destination, "waypoints": waypoints, "mode": mode})

    def matrix(self, origins: Sequence[Sequence[float]], destinations: Sequence[Sequence[float]] | None = None,
               mode: str = "car", annotations: Sequence[str] | None = None) -> dict:
        return self.cached(self._services.MATRIX, {"origins": origins, "destinations": destinations, "mode": mode,
                                                   "annotations": annotations})

    def isolines(self, origin: Sequence[float], ranges: Sequence[float], range_type: str = "time",
                 mode: str = "car") -> list[dict]:
        return self.cached(self._services.ISOLINES,
                           {"origin": origin, "ranges": ranges, "range_type": range_type, "mode": mode})

    def isolines_h3(self, origin: Sequence[float], ranges: Sequence[float], range_type: str = "time",
                    mode: str = "car", resolution: int | None = None) -> list[dict]:
        return self.cached(self._services.ISOLINES_H3, {"origin": origin, "ranges": ranges, "range_type": range_type,
                                                        "mode": mode, "resolution": resolution})

    def geocode(self, address: str, country: str | None = None, limit: int | None = None) -> list[dict]:
        return self.cached(self._services.GEOCODE, {"address": address, "country": country, "limit": limit})

    def reverse(self, lat: float, lon: float, language: str | None = None) -> list[dict]:
        return self.cached(self._services.REVERSE, {"lat": lat, "lon": lon, "language": language})

    def geocode_batch(self, items: list, country: str | None = None, limit: int | None = None) -> list[dict]:
        """One ``{"error", "value"}`` per item in input order; cached items are not recomputed."""
        endpoint = self._services.BATCH.cache
        keys = [self._item_key(item, country, limit) for item in items]
        lookups = [i for i, k in enumerate(keys) if k is not None]
        results: list[dict | None] = [None] * len(items)
        if lookups:
            for i, raw in zip(lookups, self.store.get_many([keys[i] for i in lookups])):
                if raw is not None and raw != b"[]":  # "no match" is an error entry the core words itself
                    results[i] = {"error": None, "value": _loads(raw)}
        misses = [i for i, entry in enumerate(results) if entry is None]
        if misses:
            computed = self.core.geocode_batch([items[i] for i in misses], country=country, limit=limit)
            pairs = []
            for i, entry in zip(misses, computed):
                results[i] = entry
                if keys[i] is not None and entry.get("error") is None:
                    raw = _dumps(entry.get("value"))
                    if self._fits(endpoint, raw):
                        pairs.append((keys[i], raw))
            self.store.set_many(pairs)
        self._count(endpoint, hits=len(items) - len(misses), misses=len(misses))
        return results  # type: ignore[return-value]

    def _item_key(self, item: Any, country: Any, limit: Any) -> str | None:
        """The key of one batch item, the same as a single geocode's; None for items the core must judge.

        Item fields override the batch defaults exactly as the core reads them (lds.geocoding.batch).
        """
        if isinstance(item, str):
            address, item_country, item_limit = item, country, limit
        elif isinstance(item, dict) and isinstance(item.get("address"), str) and set(item) <= _ITEM_FIELDS:
            address, item_country, item_limit = item["address"], item.get("country", country), item.get("limit", limit)
        else:
            return None
        if not address.strip():
            return None
        geocode = self._services.GEOCODE
        return self.key(geocode.cache, geocode.cache_key({"address": address, "country": item_country, "limit": item_limit},
                                                         self.settings))

    # --- plumbing --------------------------------------------------------------------------
    def _answer(self, endpoint: str, params: dict[str, Any], compute: Callable[[], Any]) -> Any:
        key = self.key(endpoint, params)
        raw = self.store.get_many([key])[0]
        if raw is not None:
            self._count(endpoint, hits=1, misses=0)
            return _loads(raw)
        value = compute()
        raw = _dumps(value)  # cache_enabled=false never gets here (cached() answers it without a key)
        if self._fits(endpoint, raw):
            self.store.set_many([(key, raw)])
        self._count(endpoint, hits=0, misses=1)
        return value

    def _fits(self, endpoint: str, raw: bytes) -> bool:
        if len(raw) <= self._max_bytes:
            return True
        metrics.CACHE_OVERSIZE.labels(endpoint).inc()
        return False

    def _count(self, endpoint: str, hits: int, misses: int) -> None:
        if hits:
            metrics.count_cache(endpoint, "hit", hits)
        if misses:
            metrics.count_cache(endpoint, "miss", misses)
        outcome = _OUTCOME.get()
        if outcome is not None:
            outcome.hits += hits
            outcome.misses += misses
