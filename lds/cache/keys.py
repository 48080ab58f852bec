"""Canonical cache keys: the same question always maps to the same key, a rebuild to new keys.

A key is ``<prefix>c:<data_version>:<endpoint>:<digest>`` (``redis_prefix`` brings its own
colon, ``lds:`` by default). The digest is a BLAKE2b hash of the parameters serialised as sorted
JSON after normalisation (osmnx's lesson: canonicalise before hashing): coordinates rounded to
``cache_coord_decimals`` (6 decimals is about 0.1 m, far below snapping precision), numbers as
floats, text NFC-normalised, case-folded and with whitespace collapsed, country and language
codes upper-cased. Putting the data version in the key means answers from an older build are
never served after a rebuild; they simply expire.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

_SPACES = re.compile(r"\s+")


def norm_text(text: Any) -> str | None:
    """Address text as the key sees it: NFC, case-folded, single spaces, trimmed."""
    if text is None:
        return None
    return _SPACES.sub(" ", unicodedata.normalize("NFC", str(text))).strip().casefold()


def norm_code(code: Any) -> str | None:
    """A country or language code, trimmed and upper-cased; empty means unset."""
    if code is None:
        return None
    text = str(code).strip().upper()
    return text or None


def norm_int(value: Any) -> Any:
    """Whole numbers (limits) as int when they parse, otherwise unchanged so bad values stay distinct."""
    if value is None or isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return int(number) if number.is_integer() else number


def norm_number(value: float, decimals: int) -> float:
    return round(float(value), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def norm_point(point: Sequence[float], decimals: int) -> list[float]:
    return [norm_number(v, decimals) for v in point]


def norm_points(points: Iterable[Sequence[float]], decimals: int) -> list[list[float]]:
    return [norm_point(p, decimals) for p in points]


def canonical_json(params: dict[str, Any]) -> bytes:
    """Sorted-key compact JSON (orjson; the standard encoder for what it cannot encode)."""
    try:
        return orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def cache_key(prefix: str, data_version: str, endpoint: str, params: dict[str, Any]) -> str:
    """The Redis/LRU key of one answer; ``params`` must already be normalised (see the norm_* helpers)."""
    digest = hashlib.blake2b(canonical_json(params), digest_size=16).hexdigest()
    return f"{prefix}c:{data_version}:{endpoint}:{digest}"
