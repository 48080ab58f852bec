"""Token strings: 256 random bits, hashed with SHA-256, compared in constant time; logs redacted."""

import hashlib

from lds.auth.hashing import TOKEN_PREFIX, hash_token, new_id, new_token, same_hash
from lds.auth.redact import redact


def test_tokens_are_long_random_and_distinct():
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    for t in list(tokens)[:10]:
        assert t.startswith(TOKEN_PREFIX)
        assert len(t) - len(TOKEN_PREFIX) >= 43  # 32 bytes, base64url
    assert len(new_id()) == 16 and new_id() != new_id()


def test_hash_is_sha256_and_compare_is_exact():
    t = new_token()
    assert hash_token(t) == hashlib.sha256(t.encode()).hexdigest()
    assert same_hash(hash_token(t), hash_token(t))
    assert not same_hash(hash_token(t), hash_token(t + "x"))


def test_redact_removes_tokens_from_log_text():
    t = new_token()
    line = f'GET /v3/lds/routing?origin=1,2&access_token={t}&mode=car HTTP/1.1'
    assert t not in redact(line) and "origin=1,2" in redact(line) and "mode=car" in redact(line)
    assert redact(f"DELETE /v3/tokens/{t} HTTP/1.1") == "DELETE /v3/tokens/[redacted] HTTP/1.1"
    assert redact("GET /v3/tokens/any-admin-string") == "GET /v3/tokens/[redacted]"
    assert redact("/v3/tokens/<path:token>") == "/v3/tokens/<path:token>"
    assert t not in redact(f"bearer {t} seen")
    assert redact("access_token=anything-at-all") == "access_token=[redacted]"
