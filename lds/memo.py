"""Values derived from a loaded object (a graph, an address index), built on first use and kept with it."""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


def per_object(build: Callable[[Any], T]) -> Callable[[Any], T]:
    """``build(obj)`` run once per object (None is a kept answer too), under a lock so concurrent first calls
    build it once; held weakly, so it goes with the object (a data swap drops the old graph's derived arrays)."""
    cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    @functools.wraps(build)
    def get(obj: Any) -> T:
        value = cache.get(obj, _MISSING)
        if value is _MISSING:
            with lock:
                value = cache.get(obj, _MISSING)
                if value is _MISSING:
                    value = cache[obj] = build(obj)
        return value

    return get
