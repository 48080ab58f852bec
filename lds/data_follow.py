"""Following a data dir's current version in a running process (lds.versions has the layout).

Two ways, both with no answer computed from a mix of versions:

- `lds serve`: the gunicorn master loads the new version and puts it into its (idle) app with
  :func:`swap_core`, then forks new workers and retires the old ones gracefully (lds.server): a worker
  process only ever holds one version, requests in flight finish on the old workers, new ones go to the new.
- `lds worker` and job chunks: each chunk runs on the version its job recorded (:func:`at_version`), loaded
  once per process beside the current one; :class:`Follower` moves the worker's current core to the new
  version between chunks, so a chunk keeps the object it started with.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("lds")

_WRAPS = ("inner", "core")  # UpstreamFallback.inner, CachedLDS.core: the facades around a loaded core


def innermost(facade: Any) -> tuple[Any, str | None, Any]:
    """(the object holding the loaded core, its attribute name, the core) of a chain of facades."""
    holder, attr, obj = None, None, facade
    while True:
        name = next((n for n in _WRAPS if n in vars(obj)), None) if hasattr(obj, "__dict__") else None
        if name is None:
            return holder, attr, obj
        holder, attr, obj = obj, name, vars(obj)[name]


def swap_core(facade: Any, core: Any) -> Any:
    """Put ``core`` in place of the loaded core inside ``facade`` (its cache and fallback wrappers stay); the old
    core. Only for a process that is not answering meanwhile (the gunicorn master before it forks)."""
    holder, attr, old = innermost(facade)
    if holder is None:
        raise TypeError("the facade holds no wrapped core to swap")
    setattr(holder, attr, core)
    return old


def swap_app(extensions: dict[str, Any], core: Any) -> Any:
    """:func:`swap_core` on an app's facade (``app.extensions``), and its response memo emptied; the old core."""
    old = swap_core(extensions["lds"], core)
    memo = extensions.get("lds_response_memo")
    if memo is not None:
        memo.clear()
    return old


class _Pinned:
    """Per process: cached facades of the versions jobs asked for, other than the one loaded (LRU, a few)."""

    def __init__(self, size: int = 2):
        self.size = size
        self._lock = threading.Lock()
        self._cores: OrderedDict[str, Any] = OrderedDict()

    def get(self, facade: Any, version: str) -> Any | None:
        from lds.cache import with_cache
        from lds.core import LDS
        from lds.versions import version_path

        with self._lock:
            found = self._cores.get(version)
            if found is not None:
                self._cores.move_to_end(version)
                return found
            root = getattr(getattr(facade, "data", None), "root", None)
            path = version_path(root, version) if root is not None else None
            if path is None:
                return None
            core = LDS(facade.settings, data_dir=path, follow=False)
            found = with_cache(core, store=getattr(facade, "store", None), settings=facade.settings)
            self._cores[version] = found
            while len(self._cores) > self.size:
                self._cores.popitem(last=False)
            log.info("loaded data version %s for the jobs still on it", version)
            return found


_PINNED = _Pinned()


def at_version(facade: Any, version: str | None) -> Any:
    """The facade answering from ``version`` (a job's recorded data version): ``facade`` itself when it serves
    that version, no version was recorded, or the version is no longer kept (then the current data answers)."""
    if not version or getattr(facade, "data_version", version) == version:
        return facade
    pinned = _PINNED.get(facade, version)
    if pinned is None:
        log.warning(
            "data version %s of a job is no longer kept: its remaining chunks use %s", version, facade.data_version
        )
        return facade
    return pinned


class Follower:
    """Polls a facade's data dir every ``every_s`` seconds and hands a facade of the new version to ``switch``."""

    def __init__(self, facade: Any, every_s: float, switch: Callable[[Any], None]):
        self.facade = facade
        self.every_s = every_s
        self.switch = switch
        self._stop = threading.Event()
        self._failed: str | None = None

    def check(self) -> bool:
        """Switch when the pointer moved (True); a version that fails to load is logged once and skipped."""
        from lds.cache import with_cache
        from lds.core import LDS
        from lds.versions import current_name

        data = self.facade.data
        if not data.outdated():
            return False
        target = current_name(data.root)
        if target == self._failed:
            return False
        try:
            core = LDS(self.facade.settings, data_dir=data.root)
        except Exception:  # a broken new version must not stop the process on the old one
            log.exception(
                "data version %s of %s cannot be loaded: staying on %s", target, data.root, self.facade.data_version
            )
            self._failed = target
            return False
        new = with_cache(core, store=getattr(self.facade, "store", None), settings=self.facade.settings)
        log.warning("switching from data version %s to %s", self.facade.data_version, new.data_version)
        self.facade = new
        self.switch(new)
        return True

    def start(self) -> Follower:
        if self.every_s > 0:
            threading.Thread(target=self._loop, name="lds-data-follow", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.check()
            except Exception:  # keep following
                log.exception("checking the data dir failed")
