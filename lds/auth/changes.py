"""A shared counter of token changes, cheap to read on every request, so a revocation applies at once.

Each process trusts the tokens it looked up (:class:`lds.auth.tokens.TokenStore`); every write to a
token (revoke, PATCH, admin rotation) moves this counter, and a trusted lookup counts only while the
counter is where it was when the lookup was made. Two implementations, picked by the state store:

- SQLite (one machine): an 8-byte counter in a file beside the database, memory-mapped by every
  process; a write bumps it under ``flock`` after its commit; a read is one 8-byte load, no system call.
- PostgreSQL (any number of machines): ``NOTIFY lds_token_changes`` in the writing transaction, and
  in each process a ``LISTEN`` connection whose socket is polled (one ``select`` with timeout 0,
  ~2 µs) on each read; every notification received moves the process's counter. The writer waits
  until its own listener saw the notification, by which time PostgreSQL has signalled every
  listener. While a process's listener is down, its reads answer None: no lookup is trusted.
  Signalled is not received: a listener's backend may send the notification a moment later (a loaded
  machine), so the processes of one server (sharing a state dir) also share the file counter above, moved
  before the writer returns: at once on every worker of the server, within milliseconds elsewhere.

(Redis pub/sub would do for PostgreSQL deployments too, but NOTIFY is sent by the same transaction
that makes the change, needs no other service and cannot be lost to a Redis outage.)
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import select
import struct
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text

log = logging.getLogger("lds.auth")

CHANNEL = "lds_token_changes"
_COUNTER = struct.Struct("<Q")
_RECONNECT_EVERY_S = 1.0
_WAIT_SEEN_S = 1.0
_DRAIN_ROUNDS = 4
_READ_WAIT_S = 0.002  # longest a request waits for another thread reading the listener's socket


class TokenChanges(Protocol):
    def current(self) -> int | None:
        """The counter now; None means "unknown": trust no earlier lookup."""

    def announce(self, conn: Any) -> Any:
        """Inside the writing transaction (``conn``: a Connection or Session); returns what ``published`` needs."""

    def published(self, marker: Any) -> None:
        """After the commit: make the change visible to every process."""

    def close(self) -> None:
        """Release what this process holds (before a fork, at exit)."""


class LocalChanges:
    """One process only (an in-memory SQLite database): a plain counter."""

    def __init__(self) -> None:
        self._n = 0

    def current(self) -> int | None:
        return self._n

    def announce(self, conn: Any) -> None:
        return None

    def published(self, marker: Any) -> None:
        self._n += 1

    def close(self) -> None:
        return None


class FileChanges:
    """The counter in a memory-mapped file shared by every process of the machine."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._map: mmap.mmap | None = None
        self._lock = threading.Lock()

    def _open(self) -> mmap.mmap:
        with self._lock:
            if self._map is None:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                with _flocked(fd):
                    if os.fstat(fd).st_size < _COUNTER.size:
                        os.ftruncate(fd, _COUNTER.size)
                self._map = mmap.mmap(fd, _COUNTER.size)
                os.close(fd)  # the mapping stays
            return self._map

    def current(self) -> int | None:
        return _COUNTER.unpack_from(self._map if self._map is not None else self._open())[0]

    def announce(self, conn: Any) -> None:
        return None

    def published(self, marker: Any) -> None:
        counter = self._open()
        fd = os.open(self.path, os.O_RDWR)  # a descriptor of our own: flock on one inherited across fork excludes nothing
        try:
            with _flocked(fd):
                _COUNTER.pack_into(counter, 0, (_COUNTER.unpack_from(counter)[0] + 1) % 2**64)
        finally:
            os.close(fd)

    def close(self) -> None:
        return None  # the mapping is shared with forked children on purpose


class _flocked:
    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)


class PgChanges:
    """PostgreSQL LISTEN/NOTIFY: a per-process listener connection, polled without blocking."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._conn: Any = None
        self._n = 0
        self._seen: deque[str] = deque(maxlen=256)
        self._retry_at = 0.0
        self._inherited: list[Any] = []

    def _connect(self) -> Any:
        """The listener of this process (a connection made before a fork is left to the parent, never closed here)."""
        if self._pid != os.getpid():
            if self._conn is not None:
                self._inherited.append(self._conn)  # closing it here would end the parent's session
            self._conn, self._pid, self._retry_at = None, os.getpid(), 0.0
        if self._conn is None and time.monotonic() >= self._retry_at:
            import psycopg

            try:
                conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=2)
                conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error as exc:
                self._retry_at = time.monotonic() + _RECONNECT_EVERY_S
                log.warning("token change listener unavailable (%s): tokens are looked up on every request",
                            type(exc).__name__)
                return None
            self._conn = conn
            self._n += 1  # changes made while we were not listening are unknown: forget every lookup
        return self._conn

    def _drain(self, wait_s: float = 0.0) -> bool:
        """Take in the notifications that arrived; False when the listener is down."""
        conn = self._connect()
        if conn is None:
            return False
        try:
            for _ in range(_DRAIN_ROUNDS):  # a dropped connection shows as one more readable round, then raises
                if not select.select([conn.fileno()], [], [], wait_s)[0]:
                    break
                self._n += 1  # whatever arrived (notifications, or a message announcing the end): trust nothing older
                for note in conn.notifies(timeout=0):
                    self._seen.append(note.payload)
                wait_s = 0.0
        except Exception as exc:  # noqa: BLE001 - the connection broke: reconnect later, trust nothing meanwhile
            log.warning("token change listener lost (%s)", type(exc).__name__)
            self._conn = None
            self._n += 1
            return False
        return True

    def current(self) -> int | None:
        if not self._lock.acquire(timeout=_READ_WAIT_S):
            return None  # another thread is busy with the socket: look this token up rather than wait
        try:
            return self._n if self._drain() else None
        finally:
            self._lock.release()

    def announce(self, conn: Any) -> str:
        marker = uuid.uuid4().hex
        with self._lock:
            self._connect()  # listening before the commit, so our own notification comes back to us
        conn.execute(text("SELECT pg_notify(:channel, :marker)"), {"channel": CHANNEL, "marker": marker})
        return marker

    def close(self) -> None:
        """Stop listening (the gunicorn master before forking: a listener nobody reads would hold PostgreSQL's queue)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def published(self, marker: Any) -> None:
        if marker is None:  # nothing was announced
            return
        deadline = time.monotonic() + _WAIT_SEEN_S
        while time.monotonic() < deadline:
            with self._lock:
                if marker in self._seen or not self._drain(_READ_WAIT_S):
                    return
        log.warning("token change notification not seen back within %.1f s", _WAIT_SEEN_S)


class LayeredChanges:
    """PostgreSQL's notifications for every machine, and a file counter for the processes of this one: a change
    moves the sum at once here, and on other machines when their listener receives it."""

    def __init__(self, remote: PgChanges, local: FileChanges):
        self.remote, self.local = remote, local

    def current(self) -> int | None:
        remote = self.remote.current()
        return None if remote is None else remote + self.local.current()

    def announce(self, conn: Any) -> Any:
        return self.remote.announce(conn)

    def published(self, marker: Any) -> None:
        self.local.published(None)
        self.remote.published(marker)

    def close(self) -> None:
        self.remote.close()


def token_changes(store: Any, local_dir: str | Path | None = None) -> TokenChanges:
    """The counter for this state store (:class:`lds.state.StateStore`); with PostgreSQL, ``local_dir`` (the
    server's state dir) holds the counter its processes share."""
    url = store.engine.url
    if store.backend == "postgresql":
        remote = PgChanges(url.set(drivername="postgresql").render_as_string(hide_password=False))
        if local_dir is None:
            return remote
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
        return LayeredChanges(remote, FileChanges(Path(local_dir).resolve() / f"tokenchanges-{name}"))
    database = url.database
    if not database or database == ":memory:":
        return LocalChanges()
    return FileChanges(f"{Path(database).resolve()}-tokenchanges")
