"""The warehouse layer under the Connections and SQL APIs: one interface, two drivers (no Flask here).

``carto_dw`` is the embedded DuckDB/DuckLake warehouse every installation has; ``postgres`` reaches a
PostgreSQL/PostGIS server. :func:`open_warehouse` builds either from a provider id and its config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lds.errors import BadRequest
from lds.warehouse.base import Query, Warehouse
from lds.warehouse.errors import (
    ConnectionFailed,
    QueryCancelled,
    RowLimitExceeded,
    StatementTimeout,
    WarehouseBusy,
    WarehouseError,
)
from lds.warehouse.values import CARTO_TYPES, Column

__all__ = [
    "CARTO_TYPES",
    "PROVIDERS",
    "Column",
    "ConnectionFailed",
    "Query",
    "QueryCancelled",
    "RowLimitExceeded",
    "StatementTimeout",
    "Warehouse",
    "WarehouseBusy",
    "WarehouseError",
    "open_warehouse",
]

PROVIDERS = ("carto_dw", "postgres")


def open_warehouse(provider: str, credentials: Any, settings: Any) -> Warehouse:
    """A warehouse of ``provider`` (``carto_dw`` takes no credentials) with the limits of ``settings``."""
    if provider == "carto_dw":
        from lds.warehouse.carto_dw import CartoDW
        from lds.warehouse.lake_catalog import shared_lake
        from lds.warehouse.lds_tables import tables_file

        return CartoDW(Path(settings.state_dir) / "carto_dw", memory_limit=settings.carto_dw_memory_limit,
                       threads=settings.carto_dw_threads, batch_rows=settings.sql_batch_rows,
                       tables=tables_file(settings.data_dir), lake=shared_lake(settings))
    if provider == "postgres":
        from lds.warehouse.postgres import Postgres, PostgresConfig

        return Postgres(PostgresConfig.from_credentials(credentials), pool_size=settings.warehouse_pool_size,
                        connect_timeout_s=settings.warehouse_connect_timeout_s, batch_rows=settings.sql_batch_rows)
    raise BadRequest(f"unknown provider_id {provider!r}: one of {', '.join(PROVIDERS)}")
