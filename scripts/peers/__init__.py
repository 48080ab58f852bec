"""Peer engines (OSRM, Valhalla, Nominatim) prepared from an OSM extract and queried in-process, for the
side-by-side benchmarks in ``scripts/bench_*.py``. Needs the ``.venv-bench`` venv (``scripts/setup_bench.sh``).

Usage from a script in ``scripts/``::

    from peers import OsrmPeer, ValhallaPeer, NominatimPeer, PeerError

Each engine's module is imported on first use, so a missing wheel only breaks the peer that needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._prepared import DEFAULT_CACHE_ROOT, Peer, PeerError, extract_name, sha256_of

_LAZY = {"OsrmPeer": ".osrm", "ValhallaPeer": ".valhalla", "NominatimPeer": ".nominatim"}

__all__ = [
    "DEFAULT_CACHE_ROOT",
    "NominatimPeer",
    "OsrmPeer",
    "Peer",
    "PeerError",
    "ValhallaPeer",
    "extract_name",
    "sha256_of",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
