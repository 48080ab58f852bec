"""Token strings: 256 random bits, stored only as SHA-256, compared in constant time.

A plain (unsalted) SHA-256 is enough for tokens this random: there is nothing to brute-force, and a
deterministic hash lets the store find a token by an indexed lookup instead of scanning every row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "lds_"
TOKEN_BYTES = 32  # 256 bits
ID_BYTES = 8


def new_token() -> str:
    """A fresh token string, e.g. ``lds_<43 url-safe characters>``; the prefix lets secret scanners spot leaks."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_id() -> str:
    """A public handle for a token (not secret, not derived from the token)."""
    return secrets.token_hex(ID_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
