"""One loaded core per worker process, keyed by data directory: the index is loaded once, never shipped with tasks.

:class:`CorePlugin` loads it when a worker starts (or when the plugin is registered on a running cluster), and
:func:`core_for` returns it to the partition functions, loading it on first use in processes without the
plugin (a threaded scheduler, a worker started later by a nanny after a crash).
"""

from __future__ import annotations

import threading
from pathlib import Path

from distributed import Client, WorkerPlugin

from lds.core import LDS
from lds.settings import Settings

_CORES: dict[str, LDS] = {}
_LOCK = threading.Lock()
LOADS: dict[str, int] = {}  # data dir -> times loaded in this process (1 expected: tests read it over client.run)


def core_for(data_dir: str) -> LDS:
    """This process's core for ``data_dir`` (loaded on first call, then shared by every task and thread)."""
    core = _CORES.get(data_dir)
    if core is None:
        with _LOCK:
            core = _CORES.get(data_dir)
            if core is None:
                core = LDS(Settings.from_env(data_dir=data_dir))
                _CORES[data_dir] = core
                LOADS[data_dir] = LOADS.get(data_dir, 0) + 1
    return core


class CorePlugin(WorkerPlugin):
    """Loads the core for ``data_dir`` in each worker at start-up, before its first task."""

    def __init__(self, data_dir: str):
        self.data_dir = data_dir
        self.name = f"lds-core:{data_dir}"  # one plugin per data dir; registering again replaces it

    def setup(self, worker) -> None:
        core_for(self.data_dir)


def resolve_data_dir(data_dir: str | Path | None) -> str:
    """The data dir as the workers will see it: the given path, else ``LDS_DATA_DIR`` or the only built dir."""
    from lds.dataset import default_data_dir
    from lds.errors import Unavailable

    path = data_dir or Settings.from_env().data_dir or default_data_dir()
    if path is None:
        raise Unavailable("no data directory configured (set LDS_DATA_DIR or pass --data)", 503)
    return str(Path(path).resolve()) if Path(path).exists() else str(path)


def register_core(client: Client, data_dir: str | Path | None = None) -> str:
    """Make every worker of ``client`` (present and future) load the core for ``data_dir``; returns the path used."""
    path = resolve_data_dir(data_dir)
    client.register_plugin(CorePlugin(path))
    return path
