"""JSON encode/decode through orjson (several times faster than the standard library), with a fallback.

Cached answers, job chunks and HTTP responses all go through here. Values orjson cannot encode (numpy
scalars and arrays are converted; integers beyond 64 bits, unusual types) fall back to the standard
encoder, so the output is always the same JSON document.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# numpy arrays are written natively, without a Python object per number.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    item = getattr(obj, "item", None)  # numpy scalar
    if callable(item) and getattr(obj, "shape", None) == ():
        return item()
    tolist = getattr(obj, "tolist", None)  # numpy array
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


class _Fragments:
    """orjson's ``default`` hook: an object with a ``json_fragment()`` method (bytes: its own JSON text, as the
    isoline rings write their coordinates) goes in as it is; anything else to ``fallback``."""

    __slots__ = ("fallback",)

    def __init__(self, fallback: Any):
        self.fallback = fallback

    def __call__(self, obj: Any) -> Any:
        write = getattr(obj, "json_fragment", None)
        if write is not None:
            return orjson.Fragment(write())
        return self.fallback(obj)


_HOOK = _Fragments(_default)


def dumps(obj: Any, default: Any = None) -> bytes:
    """Compact UTF-8 JSON bytes (a lone surrogate, which has no UTF-8 form, leaves as a ``\\udcff`` escape)."""
    try:
        return orjson.dumps(obj, default=_Fragments(default) if default else _HOOK, option=_OPTIONS)
    except TypeError:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=default or _default)
        try:
            return text.encode()
        except UnicodeEncodeError:
            return json.dumps(obj, separators=(",", ":"), default=default or _default).encode()


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
