"""Admission control: heavy work cannot starve ``/health`` and small requests (no Flask here).

Three bounds, each a setting:

- **Heavy slots** (``heavy_slots``, 0 = half the cores): at most K heavy requests (a request is heavy by its
  declared cost: a synchronous batch over ``heavy_batch_items`` items or ``heavy_batch_chars`` characters, an
  isoline reaching farther than ``heavy_isoline_reach_m``) run at once across *every* worker process of one
  server, and at most one per process: threads of one process share the GIL, so a second heavy thread there
  gains nothing and slows that process's light requests further. Others wait up to ``heavy_wait_s``, then
  get 503 with ``Retry-After``; at most ``heavy_queue`` wait at once, and a process keeps at least one
  thread free of heavy requests (both: 503 at once beyond). The in-process job runner's chunks take the same
  slots (in the background, after waiting requests).
- **Per-token concurrency** (``token_concurrency``): a token with that many requests in flight on this
  server gets 429 with ``Retry-After`` (the admin token is exempt, as from rate limits).
- The **character cap** of a synchronous batch (``batch_max_sync_chars``) is applied where a batch becomes a
  job (:func:`over_sync_chars`, used by the service declarations).

The slots are POSIX record locks (``lockf``) on bytes of one unlinked temporary file opened when the app is
built. ``lds serve`` builds the app in the gunicorn master before it forks (``preload_app``), so every worker
shares the file and the kernel arbitrates; a lock dies with its process, so a worker killed mid-request (the
gunicorn timeout, SIGKILL) never leaks a slot. Built after a fork (no preload), the bounds hold per process.
Locks of one process do not exclude each other, so each process also tracks the bytes it holds.

Use: ``with admission.admit(token_id, heavy=True): ...`` (429/503 raised as :class:`lds.errors.LdsError`).
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Self

from lds.errors import TooManyRequests, Unavailable

RUN_BASE = 0  # heavy run slots: bytes [0, K)
PASS_BASE = 1 << 20  # heavy requests in flight (running or waiting): [PASS_BASE, PASS_BASE + K + Q)
TOKEN_BASE = 1 << 24  # per-token slots: TOKEN_BASE + bucket * L + i
TOKEN_BUCKETS = 1 << 20  # tokens hashed into buckets (keyed hash: nobody can aim at another token's bucket)
POLL_MAX_S = 0.02  # a waiting heavy request looks for a free slot at least this often
BACKGROUND_PAUSE_S = 0.1  # a job chunk leaves a freed slot this long to waiting requests
# nominal travel speeds (m/s) turning an isoline time range into a reach: the declared cost of an isoline
NOMINAL_SPEED_MPS = {"car": 15.0, "bike": 5.0, "walk": 1.4}


def default_heavy_slots(cores: int | None = None) -> int:
    """Half the cores (at least one): the other half stays free for light requests."""
    return max(1, (cores or os.cpu_count() or 1) // 2)


# --- declared costs --------------------------------------------------------------------------------------
def address_chars(items: Iterable[Any]) -> int:
    """Characters of a batch's address texts (strings, or the ``address`` of object items)."""
    total = 0
    for item in items:
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict) and isinstance(item.get("address"), str):
            total += len(item["address"])
    return total


def over_sync_chars(items: list, settings: Any) -> bool:
    """A batch too long, in characters, to answer inline (``batch_max_sync_chars``; 0 = no cap): it becomes a job."""
    cap = settings.batch_max_sync_chars
    return cap > 0 and address_chars(items) > cap


def batch_heavy(kwargs: dict[str, Any], settings: Any) -> bool:
    """A synchronous batch is heavy over ``heavy_batch_items`` items or ``heavy_batch_chars`` characters."""
    items = kwargs["items"]
    return len(items) > settings.heavy_batch_items or address_chars(items) > settings.heavy_batch_chars


def isolines_heavy(kwargs: dict[str, Any], settings: Any) -> bool:
    """An isoline request is heavy when its largest range reaches beyond ``heavy_isoline_reach_m``.

    The reach is the range itself (distance) or the range times the mode's nominal speed (time); the work of
    the search and the drawing grows with the area reached.
    """
    top = max(kwargs["ranges"], default=0)
    if kwargs.get("range_type") == "time":
        top *= NOMINAL_SPEED_MPS.get(kwargs.get("mode") or "car", NOMINAL_SPEED_MPS["car"])
    return top > settings.heavy_isoline_reach_m


# --- cross-process slots -----------------------------------------------------------------------------------
_TABLES: weakref.WeakSet[LockTable] = weakref.WeakSet()


class LockTable:
    """Slots as byte locks on one unlinked file, shared by the processes forked after it was opened."""

    def __init__(self) -> None:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - open for the server's lifetime
        self._fd = self._file.fileno()
        self._after_fork()
        _TABLES.add(self)

    def _after_fork(self) -> None:
        """Record locks are not inherited: a fresh process holds nothing."""
        self._lock = threading.Lock()
        self._mine: set[int] = set()

    def take(self, offsets: Iterable[int]) -> int | None:
        """Lock the first free byte of ``offsets`` for this process; None when every one is held."""
        with self._lock:
            for offset in offsets:
                if offset in self._mine:
                    continue
                try:
                    fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
                except (BlockingIOError, PermissionError):  # EAGAIN / EACCES: another process holds it
                    continue
                self._mine.add(offset)
                return offset
        return None

    def give(self, offset: int) -> None:
        with self._lock:
            if offset in self._mine:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, offset)
                self._mine.discard(offset)


def _reset_tables_after_fork() -> None:
    for table in list(_TABLES):
        table._after_fork()


os.register_at_fork(after_in_child=_reset_tables_after_fork)


class Held:
    """What an admission holds; ``release()`` (or leaving the ``with``) gives it back, once."""

    __slots__ = ("_undo",)

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        while self._undo:
            self._undo.pop()()


class Admission:
    """The three bounds of one server (see the module docstring); one per app, made before gunicorn forks."""

    def __init__(self, heavy_slots: int, heavy_queue: int, heavy_wait_s: float, threads: int,
                 token_limit: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.heavy_slots = max(1, heavy_slots)
        self.heavy_queue = max(0, heavy_queue)
        self.heavy_wait_s = max(0.0, heavy_wait_s)
        self.local_heavy_max = max(1, threads - 1)  # a process keeps a thread for light requests
        self.token_limit = max(0, token_limit)
        self._clock, self._sleep = clock, sleep
        self._table = LockTable()
        self._token_key = os.urandom(16)
        self._token_starts: dict[str, int] = {}  # token id -> its first byte (memo of the keyed hash)
        self._run = range(RUN_BASE, RUN_BASE + self.heavy_slots)
        self._pass = range(PASS_BASE, PASS_BASE + self.heavy_slots + self.heavy_queue)
        self._after_fork()
        _ADMISSIONS.add(self)

    @classmethod
    def from_settings(cls, settings: Any) -> Admission:
        slots = settings.heavy_slots or default_heavy_slots()
        queue = settings.heavy_queue if settings.heavy_queue >= 0 else 2 * slots
        return cls(slots, queue, settings.heavy_wait_s, settings.threads, settings.token_concurrency)

    def _after_fork(self) -> None:
        self._local = threading.Lock()  # guards the counters below
        self._run_here = threading.Lock()  # one heavy running per process
        self._in_flight_here = 0  # heavy requests of this process, running or waiting
        self._running_here = 0
        self._thread = threading.local()
        self._avg_heavy_s = max(1.0, self.heavy_wait_s)  # moving average of heavy run times: a 503's Retry-After
        self._background_freed_at = 0.0

    # --- per token ---------------------------------------------------------------------------------------
    def token(self, token_id: str | None) -> Held:
        """A slot of ``token_id``'s ``token_concurrency``; 429 with Retry-After when all are in use."""
        held = Held()
        if not self.token_limit or token_id is None:
            return held
        start = self._token_starts.get(token_id)
        if start is None:
            digest = hashlib.blake2b(token_id.encode(), key=self._token_key, digest_size=8).digest()
            start = TOKEN_BASE + int.from_bytes(digest, "big") % TOKEN_BUCKETS * self.token_limit
            if len(self._token_starts) >= 4096:
                self._token_starts.clear()
            self._token_starts[token_id] = start
        offset = self._table.take(range(start, start + self.token_limit))
        if offset is None:
            raise TooManyRequests(
                f"Too many concurrent requests for this token (token_concurrency is {self.token_limit}); "
                "retry when one of them has finished", headers={"Retry-After": "1"})
        held._undo.append(lambda: self._table.give(offset))
        return held

    # --- heavy work ---------------------------------------------------------------------------------------
    def heavy(self, hint: str = "") -> Held:
        """A heavy slot for a request, waiting up to ``heavy_wait_s``; 503 with Retry-After when none frees.

        A thread that already holds one gets a no-op (nested heavy calls never wait on themselves).
        """
        held = Held()
        if getattr(self._thread, "heavy", False):
            return held
        try:
            with self._local:
                if self._in_flight_here >= self.local_heavy_max:
                    raise self._busy("this worker's threads are taken by heavy requests", hint)
                self._in_flight_here += 1
            held._undo.append(self._leave_local)
            passed = self._table.take(self._pass)
            if passed is None:
                raise self._busy(f"{len(self._pass)} heavy requests are running or waiting", hint)
            held._undo.append(lambda: self._table.give(passed))
            deadline = self._clock() + self.heavy_wait_s
            if not self._run_here.acquire(timeout=max(0.0, deadline - self._clock())):
                raise self._busy("no heavy slot freed in time", hint)
            held._undo.append(self._run_here.release)
            slot = self._wait_slot(deadline)
            if slot is None:
                raise self._busy("no heavy slot freed in time", hint)
            self._hold_slot(held, slot)
        except BaseException:
            held.release()
            raise
        return held

    def background(self, stop: threading.Event) -> Held | None:
        """A heavy slot for background work (job chunks): waits as long as needed, behind waiting requests.

        None when ``stop`` is set while waiting.
        """
        held = Held()
        pause = self._background_freed_at + BACKGROUND_PAUSE_S - self._clock()
        if pause > 0 and stop.wait(pause):
            return None
        while not self._run_here.acquire(timeout=0.5):
            if stop.is_set():
                return None
        held._undo.append(self._run_here.release)
        while True:
            slot = self._wait_slot(self._clock() + 0.5)
            if slot is not None:
                break
            if stop.is_set():
                held.release()
                return None
        self._hold_slot(held, slot)
        held._undo.insert(0, self._mark_background_freed)
        return held

    @contextmanager
    def admit(self, token_id: str | None, heavy: bool = False, hint: str = "") -> Iterator[None]:
        """The token's slot, then (``heavy``) a heavy slot: what the Flask hook and the fast path hold."""
        with self.token(token_id):
            if heavy:
                with self.heavy(hint):
                    yield
            else:
                yield

    def holds_out_light(self, workers: int) -> bool:
        """Whether this process should leave new connections to others: it runs heavy work, and at least one
        of ``workers`` processes runs none (at most one heavy per process, at most K in all)."""
        return self._running_here > 0 and workers > self.heavy_slots

    def status(self) -> dict[str, Any]:
        return {"heavy_slots": self.heavy_slots, "heavy_queue": self.heavy_queue, "heavy_wait_s": self.heavy_wait_s,
                "token_concurrency": self.token_limit, "heavy_running_here": self._running_here,
                "heavy_in_flight_here": self._in_flight_here}

    # --- internals -----------------------------------------------------------------------------------------
    def _wait_slot(self, deadline: float) -> int | None:
        delay = 0.001
        while True:
            slot = self._table.take(self._run)
            if slot is not None:
                return slot
            left = deadline - self._clock()
            if left <= 0:
                return None
            self._sleep(min(delay, left))
            delay = min(delay * 2, POLL_MAX_S)

    def _hold_slot(self, held: Held, slot: int) -> None:
        started = self._clock()
        with self._local:
            self._running_here += 1
        self._thread.heavy = True

        def done() -> None:
            self._thread.heavy = False
            with self._local:
                self._running_here -= 1
                self._avg_heavy_s += 0.2 * (self._clock() - started - self._avg_heavy_s)
            self._table.give(slot)

        held._undo.append(done)

    def _leave_local(self) -> None:
        with self._local:
            self._in_flight_here -= 1

    def _mark_background_freed(self) -> None:
        self._background_freed_at = self._clock()

    def _busy(self, why: str, hint: str) -> Unavailable:
        retry = min(120, max(1, math.ceil(self._avg_heavy_s)))
        message = f"Busy with heavy requests ({why}; heavy_slots is {self.heavy_slots}): retry in {retry} s"
        return Unavailable(message + (f", {hint}" if hint else ""), headers={"Retry-After": str(retry)})


_ADMISSIONS: weakref.WeakSet[Admission] = weakref.WeakSet()


def _reset_admissions_after_fork() -> None:
    for admission in list(_ADMISSIONS):
        admission._after_fork()


os.register_at_fork(after_in_child=_reset_admissions_after_fork)
