"""Maps answers in the service's answer store (Redis when configured, else the in-process LRU).

Keys are ``<redis_prefix>maps:<kind>:<digest>`` where the digest covers the source, the caller's filters, the
request and the warehouse's data version, so a change of data is a new key (old ones expire with
``cache_ttl_s``). Entries are a small JSON header line then the body, so a tile hit needs no warehouse.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from lds.maps.tiles import Tile


def maps_key(prefix: str, kind: str, digest: str) -> str:
    return f"{prefix}maps:{kind}:{digest}"


def cached_tile(store: Any, key: str, make: Callable[[], Tile], max_bytes: int) -> tuple[Tile, bool]:
    """The tile under ``key`` from ``store``, or made and stored (bodies above ``max_bytes`` are not kept)."""
    found = store.get_many([key])[0]
    if found is not None:
        head, _, body = found.partition(b"\n")
        meta = json.loads(head)
        return Tile(body, meta["type"], meta["features"], meta["kept"], meta["total"]), True
    tile = make()
    if len(tile.body) <= max_bytes:
        head = json.dumps(
            {"type": tile.content_type, "features": tile.features, "kept": tile.kept, "total": tile.total}
        )
        store.set_many([(key, head.encode() + b"\n" + tile.body)])
    return tile, False


def cached_json(store: Any, key: str, make: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """A JSON answer under ``key``, or made and stored."""
    found = store.get_many([key])[0]
    if found is not None:
        return json.loads(found), True
    value = make()
    store.set_many([(key, json.dumps(value, ensure_ascii=False, allow_nan=False, default=str).encode())])
    return value, False


_versions: dict[int, tuple[float, str]] = {}
_versions_lock = threading.Lock()


def data_version(warehouse: Any, reuse_s: float) -> str:
    """``warehouse.data_version()``, sampled at most once every ``reuse_s`` seconds per process (0: each call).

    PostgreSQL's version is the cluster's transaction horizon, which any write anywhere on the server moves:
    asked on every tile, a busy server would give every tile a new cache key. Reused for a minute, answers
    may lag a write by that long (CARTO's own cache of PostgreSQL tables keeps them 30 minutes).
    """
    if reuse_s <= 0:
        return warehouse.data_version()
    now = time.monotonic()
    key = id(warehouse)
    with _versions_lock:
        found = _versions.get(key)
    if found is not None and now - found[0] < reuse_s:
        return found[1]
    version = warehouse.data_version()
    with _versions_lock:
        _versions[key] = (now, version)
    return version
