"""Cell tiles as deck.gl's CARTO layers read them: CARTO's binary spatial tile, or JSON.

The binary tile (``application/vnd.carto-spatial-tile``) is the protobuf deck.gl's ``CartoSpatialTileLoader``
parses (``carto-spatial-tile.ts``): ``Tile {1: scheme (0 h3, 1 quadbin), 2: Cells}``, ``Cells {1: Ints
{1: packed fixed64 cell ids}, 2: Properties per cell (string key/values), 3: numeric props (key, {1: packed
doubles})}``. Numbers travel as doubles (NULL as NaN); other values as strings in the per-cell properties.
JSON is ``[{"id": "<hex cell id>", "properties": {...}}]``, the same objects the loader makes of a binary tile.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import numpy as np

BINARY_TYPE = "application/vnd.carto-spatial-tile"
JSON_TYPE = "application/json"
SCHEME_CODES = {"h3": 0, "quadbin": 1}


def content_type(fmt: str) -> str:
    return BINARY_TYPE if fmt == "binary" else JSON_TYPE


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _numeric_columns(names: list[str], rows: list[tuple]) -> list[bool]:
    """Which value columns hold only numbers (or NULL): those go as doubles."""
    return [all(r[i + 1] is None or _is_number(r[i + 1]) for r in rows) for i in range(len(names))]


def encode(scheme: str, names: list[str], rows: list[tuple], fmt: str) -> bytes:
    """Rows ``(cell id, value...)`` as a tile of format ``fmt`` (``binary`` or ``json``)."""
    if fmt == "json":
        return _json(scheme, names, rows)
    ids = np.fromiter((int(r[0]) for r in rows), dtype="<u8", count=len(rows))
    cells = _field(1, _field(1, ids.tobytes()))
    numeric = _numeric_columns(names, rows)
    text_columns = [i for i, is_num in enumerate(numeric) if not is_num]
    if text_columns:
        for r in rows:
            pairs = b"".join(
                _field(1, _field(1, names[i].encode()) + _field(2, _text(r[i + 1]).encode())) for i in text_columns
            )
            cells += _field(2, pairs)
    for i, name in enumerate(names):
        if numeric[i]:
            values = np.fromiter(
                (math.nan if r[i + 1] is None else float(r[i + 1]) for r in rows), dtype="<f8", count=len(rows)
            )
            cells += _field(3, _field(1, name.encode()) + _field(2, _field(1, values.tobytes())))
    return _varint(1 << 3) + _varint(SCHEME_CODES[scheme]) + _field(2, cells)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _json(scheme: str, names: list[str], rows: list[tuple]) -> bytes:
    width = 15 if scheme == "h3" else 16
    items = [
        {
            "id": format(int(r[0]), "x").rjust(width, "0"),
            "properties": {n: _json_value(v) for n, v in zip(names, r[1:], strict=True)},
        }
        for r in rows
    ]
    return json.dumps(items, ensure_ascii=False, allow_nan=False).encode()
