"""A minimal Mapbox Vector Tile reader for tests: layers, their features' properties and geometry types
(protobuf varints and length-delimited fields only, which is all the MVT 2.1 schema uses)."""

from __future__ import annotations

import struct
from typing import Any


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield field, wire, value


def _packed(buf: bytes) -> list[int]:
    out, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        out.append(v)
    return out


def _value(buf: bytes) -> Any:
    for field, _, v in _fields(buf):
        if field == 1:
            return v.decode()
        if field == 2:
            return struct.unpack("<f", v)[0]
        if field == 3:
            return struct.unpack("<d", v)[0]
        if field in (4, 5):
            return v
        if field == 6:
            return (v >> 1) ^ -(v & 1)
        if field == 7:
            return bool(v)
    return None


def decode(tile: bytes) -> dict[str, dict[str, Any]]:
    """``{layer name: {"extent": int, "features": [{"type": 1|2|3, "properties": {...}}]}}``."""
    layers = {}
    for field, _, raw in _fields(tile):
        if field != 3:
            continue
        name, extent, keys, values, feats = None, 4096, [], [], []
        for f, _, v in _fields(raw):
            if f == 1:
                name = v.decode()
            elif f == 2:
                feats.append(v)
            elif f == 3:
                keys.append(v.decode())
            elif f == 4:
                values.append(_value(v))
            elif f == 5:
                extent = v
        features = []
        for feat in feats:
            tags, gtype = [], 0
            for f, _, v in _fields(feat):
                if f == 2:
                    tags = _packed(v)
                elif f == 3:
                    gtype = v
            props = {keys[tags[i]]: values[tags[i + 1]] for i in range(0, len(tags), 2)}
            features.append({"type": gtype, "properties": props})
        layers[name] = {"extent": extent, "features": features}
    return layers
