"""Table-scale geocoding, reverse geocoding and routing on a Dask cluster (``lds geocode-table``).

Every row is answered by the same core as the API (:class:`lds.core.LDS`), loaded once per worker process
(:mod:`lds.dask.worker`); tasks carry only the data directory's path. :mod:`lds.dask.frames` adds the answer
columns to dask DataFrames, :mod:`lds.dask.table` reads CSV/Parquet/GeoParquet and writes one GeoParquet file
in row order, :mod:`lds.dask.cluster` opens a LocalCluster or connects to an existing scheduler. Dask is imported
on first use, so ``lds``'s other commands do not pay for it.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "geocode_dataframe": "frames",
    "reverse_dataframe": "frames",
    "route_dataframe": "frames",
    "register_core": "worker",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lds.dask' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"lds.dask.{_EXPORTS[name]}"), name)
