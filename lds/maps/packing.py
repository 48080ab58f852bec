"""Source parameters packed into one short URL parameter, so long queries and filters still fit in a URL.

The data URL and the tile URLs repeat the source's parameters (tiles are plain GETs). A long ``q`` or a long
``filters`` would make them longer than the server's request line limit (``max_request_line``, 8190 bytes at
most with gunicorn); above :data:`PACK_ABOVE` characters they travel as ``src``: the JSON of the
parameters, zlib-compressed, base64url without padding. Nothing is stored on the server; an unpacked ``src``
is a client's input like any other (checked, and the grants apply to the source it names).
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from lds import inputs
from lds.errors import BadRequest

PACK_ABOVE = 1500  # URL-encoded characters of source parameters above which they are packed
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def pack(params: dict[str, Any]) -> str:
    data = json.dumps(params, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(data, 9)).rstrip(b"=").decode()


def unpack(text: Any, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """The parameters packed in ``text``; 400 for anything else, or for more than ``max_bytes`` unpacked."""
    if not isinstance(text, str) or not _BASE64URL.fullmatch(text):
        raise BadRequest("'src' must be the packed source parameters of a data or tile URL of this server")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflater = zlib.decompressobj()
        data = inflater.decompress(raw, max_bytes + 1)
    except (ValueError, zlib.error):
        raise BadRequest("'src' is not a packed source of this server") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise BadRequest(f"'src' unpacks to more than {max_bytes} bytes")
    value = inputs.decode_json(data, max_depth)
    if not isinstance(value, dict):
        raise BadRequest("'src' must hold an object of source parameters")
    return value
