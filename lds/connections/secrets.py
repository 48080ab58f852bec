"""Encryption at rest of connection credentials (Fernet: AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The key comes from the ``secret_key`` setting (any string, stretched with SHA-256), or else from
``state_dir/secret.key``, generated once with mode 0600. Several processes may start at once: the file is
written under a temporary name and linked into place, so every process reads the same complete key.
Several machines sharing one ``database_url`` must share ``LDS_SECRET_KEY`` too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from lds.errors import Unavailable

KEY_FILE = "secret.key"


def _derived(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode("utf-8")).digest())


def key_file_key(state_dir: str | os.PathLike) -> bytes:
    """The key in ``state_dir/secret.key``, made (0600) if there is none yet."""
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / KEY_FILE
    if not path.exists():
        tmp = directory / f".{KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, Fernet.generate_key())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and refuses to replace a key another process put there first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_bytes().strip()
    try:
        Fernet(key)
    except ValueError:
        raise Unavailable(f"{path} does not hold a valid key (32 url-safe base64 bytes)") from None
    return key


class Sealer:
    """Encrypts and decrypts JSON objects with the configured key."""

    def __init__(self, secret_key: str | None, state_dir: str | os.PathLike):
        self._fernet = Fernet(_derived(secret_key) if secret_key else key_file_key(state_dir))

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode("utf-8")).decode("ascii")

    def open(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode("ascii")))
        except (InvalidToken, ValueError):
            raise Unavailable("stored connection credentials cannot be decrypted with this secret key "
                              "(was LDS_SECRET_KEY or state_dir/secret.key changed?)") from None
