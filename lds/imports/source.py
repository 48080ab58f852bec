"""What every reader yields: an Arrow schema and record batches, the geometry a WKB ``geom`` column in EPSG:4326."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

GEOM = "geom"  # the geometry column of every imported table


@dataclass
class Source:
    """An open import source: its Arrow schema and record batches (``geom`` last, WKB, EPSG:4326, if any)."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    notes: list[str] = field(default_factory=list)
    interrupt: Callable[[], None] = lambda: None
