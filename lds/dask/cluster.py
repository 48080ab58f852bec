"""The Dask client of a table run: an existing scheduler's, or a LocalCluster of worker processes on this machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster

from lds.errors import Unavailable

CONNECT_TIMEOUT_S = 30


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A client of ``scheduler`` (``tcp://host:8786``, or a scheduler file path), else of a new LocalCluster with
    ``workers`` single-threaded processes (default: one per core; the core answers with the GIL held)."""
    if scheduler:
        kwargs = {"scheduler_file": scheduler} if os.path.isfile(scheduler) else {"address": scheduler}
        try:
            client = Client(timeout=CONNECT_TIMEOUT_S, **kwargs)
        except (OSError, TimeoutError, ValueError) as exc:
            raise Unavailable(f"cannot reach the Dask scheduler {scheduler}: {exc}", 503) from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, Client(cluster) as client:
        yield client
