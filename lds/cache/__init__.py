"""Caching of LDS answers: canonical keys, Redis or in-process stores, and the caching facade."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lds.cache.cached import CachedLDS, CacheOutcome, begin_outcome, current_outcome
    from lds.settings import Settings

_LAZY = {"CachedLDS", "CacheOutcome", "begin_outcome", "current_outcome"}


def __getattr__(name: str) -> Any:
    """The facade and stores load on first use: ``lds.cache.keys`` alone (the service declarations, the CLI's
    parser) must not import prometheus-client before `lds serve` has prepared its multiprocess directory."""
    if name in _LAZY:
        from lds.cache import cached

        return getattr(cached, name)
    raise AttributeError(name)

__all__ = ["CacheOutcome", "CachedLDS", "begin_outcome", "current_outcome", "make_store", "with_cache"]


def make_store(settings: Settings) -> Any:
    """Redis when ``redis_url`` is set (with a small per-process front LRU), else the in-process LRU."""
    from lds.cache.store import LocalLRU, NoCache, RedisStore

    if not settings.cache_enabled:
        return NoCache()
    if settings.redis_url:
        from lds.redisconn import redis_client

        front = None
        if settings.cache_local_front_entries > 0:
            front = LocalLRU(settings.cache_local_front_entries, settings.cache_local_front_ttl_s)
        # One immediate retry: after a Redis restart every pooled connection is stale and fails once.
        client = redis_client(settings.redis_url, settings.redis_timeout_s, retries=1)
        return RedisStore(client, settings.cache_ttl_s, settings.cache_retry_s, front)
    return LocalLRU(settings.cache_local_entries, settings.cache_ttl_s)


def with_cache(core: Any, store: Any = None, settings: Settings | None = None) -> CachedLDS:
    """``core`` behind the answer cache that ``settings`` (default: the core's) ask for; idempotent."""
    from lds.cache.cached import CachedLDS

    if isinstance(core, CachedLDS):
        return core
    settings = settings if settings is not None else core.settings
    return CachedLDS(core, store if store is not None else make_store(settings), settings)
