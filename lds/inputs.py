"""What the service accepts from the wire as text: JSON bodies and query strings (no Flask here).

A request body is JSON in UTF-8 (RFC 8259), decoded by orjson: it refuses invalid UTF-8, lone surrogates
(``"\\udcff"``, raw or escaped: such strings cannot be encoded again and broke every later step) and NaN,
and stops at 1,024 levels of nesting. Python code walking a value recurses, so a much lower bound,
``max_json_depth``, applies too; it is checked without recursion, and only on bodies long enough to be
that deep. Query strings must percent-decode to UTF-8 (werkzeug leaves bad escapes such as ``%ED%B3%BF``
undecoded instead of refusing them). Strings bound for storage (token fields) are checked by
:func:`check_strings`. Each failure is a :class:`lds.errors.BadRequest` naming what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from lds.errors import BadRequest

_BOM = b"\xef\xbb\xbf"
_CONTAINERS = frozenset((dict, list))  # the only container types orjson returns
_NON_ASCII_QUERY = re.compile(r"%[89a-fA-F]|[^\x00-\x7f]")  # an escape or a raw byte above 0x7f


def decode_json(data: bytes, max_depth: int) -> Any:
    """The JSON value of a request body; BadRequest for anything that is not strict, shallow enough JSON."""
    data = data.removeprefix(_BOM)  # RFC 8259 lets parsers ignore a byte order mark; the standard library did
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(_why_not_json(data, exc, max_depth)) from None
    # a value nested deeper than max_depth has more than max_depth opening brackets and twice as many bytes
    if len(data) > 2 * max_depth and data.count(b"[") + data.count(b"{") > max_depth and _deeper(value, max_depth):
        raise BadRequest(_too_deep(max_depth))
    return value


def _deeper(value: Any, max_depth: int) -> bool:
    """Whether ``value`` nests lists/objects more than ``max_depth`` levels deep.

    Level by level, without recursion; the type checks of a level run in C (a 10,000-object batch: ~2 ms).
    """
    level = [value] if type(value) in _CONTAINERS else []
    for _ in range(max_depth):
        if not level:
            return False
        kinds = set(map(type, _children(level)))
        if kinds.isdisjoint(_CONTAINERS):
            return False
        if kinds <= _CONTAINERS:
            level = list(_children(level))
        else:
            level = [c for c in _children(level) if type(c) in _CONTAINERS]
    return bool(level)


def _children(level: list) -> Iterator[Any]:
    return chain.from_iterable(node.values() if type(node) is dict else node for node in level)


def _too_deep(max_depth: int) -> str:
    return f"request body is nested more than {max_depth} levels deep (max_json_depth)"


def _why_not_json(data: bytes, exc: orjson.JSONDecodeError, max_depth: int) -> str:
    message = str(exc)
    if "depth limit" in message:
        return _too_deep(max_depth)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"request body is not valid UTF-8 (byte {bad.start}); JSON must be UTF-8 encoded"
    if "surrogate" in message:
        return f"request body has a lone surrogate (such as \\udcff) in a string, which is not valid Unicode: {message}"
    return f"request body is not valid JSON: {message}"


def check_query_string(query: str) -> None:
    """BadRequest unless the raw query string (a WSGI latin-1 str) percent-decodes to valid UTF-8."""
    if not _NON_ASCII_QUERY.search(query):
        return
    try:
        unquote_to_bytes(query.encode("latin-1", "replace")).decode("utf-8")
    except UnicodeDecodeError as bad:
        raise BadRequest("query string is not valid UTF-8 after percent-decoding "
                         f"(byte {bad.start}: a lone surrogate or a broken character)") from None


def check_strings(value: Any, what: str = "body") -> None:
    """BadRequest naming the field when any string in ``value`` (keys too) cannot be stored as text.

    A lone surrogate has no UTF-8 form: stored, it broke every later listing. JSON bodies cannot carry one
    (orjson refuses them) but command-line arguments can (Python decodes bad bytes to surrogates). A NUL
    character is valid JSON (``"\\u0000"``) that PostgreSQL text columns refuse.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            _check_storable(node, f"'{path or what}'")
        elif isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str):
                    _check_storable(key, f"a field name in '{path or what}'")
                stack.append((child_path, child))
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(node))


def _check_storable(text: str, where: str) -> None:
    if "\x00" in text:
        raise BadRequest(f"{where} holds a NUL character (\\u0000), which cannot be stored")
    if not text.isascii() and not _encodable(text):
        raise BadRequest(f"{where} holds a lone surrogate (such as \\udcff), which is not valid Unicode")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
