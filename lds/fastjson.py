"""JSON encode/decode through orjson (several times faster than the standard library), with a fallback.

Cached answers, job chunks and HTTP responses all go through here. Values orjson cannot encode (numpy
scalars and arrays are converted; integers beyond 64 bits, unusual types) fall back to the standard
encoder, so the output is always the same JSON document.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# numpy arrays (isoline rings) are written natively, without a Python object per number.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    item = getattr(obj, "item", None)  # numpy scalar
    if callable(item) and getattr(obj, "shape", None) == ():
        return item()
    tolist = getattr(obj, "tolist", None)  # numpy array
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(obj: Any, default: Any = None) -> bytes:
    """Compact UTF-8 JSON bytes (a lone surrogate, which has no UTF-8 form, leaves as a ``\\udcff`` escape)."""
    try:
        return orjson.dumps(obj, default=default or _default, option=_OPTIONS)
    except TypeError:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=default or _default)
        try:
            return text.encode()
        except UnicodeEncodeError:
            return json.dumps(obj, separators=(",", ":"), default=default or _default).encode()


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
