"""Warehouse connections (CARTO's Connections API, §4) without Flask: records, sealed credentials, and the
open warehouse behind each connection in this process (:class:`Connections`)."""

from lds.connections.records import BUILTIN
from lds.connections.secrets import Sealer
from lds.connections.service import Connections, WarehouseCache

__all__ = ["BUILTIN", "Connections", "Sealer", "WarehouseCache"]
