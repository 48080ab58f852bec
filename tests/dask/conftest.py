"""A real two-process LocalCluster with the Monaco core registered on its workers, shared by tests/dask
(started once, on the first test that asks for it)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_client(monaco_dir):
    from distributed import Client, LocalCluster

    from lds.dask import register_core

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster, Client(cluster) as client:
        register_core(client, monaco_dir)
        yield client
