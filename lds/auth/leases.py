"""Quota charges without a state-store write per request: each process counts inside reserved blocks.

A serving process reserves a block of up to ``quota_lease_units`` units of a token's monthly quota in
the state store (:meth:`QuotaLedger.settle`) and then charges it in memory, under a lock, with no I/O.
A background thread writes the counted units every ``quota_flush_s`` and tops the block up again (or
returns it when the counter was idle for a flush interval), and sooner when a block is half used, so a
request rarely waits for the store; the process returns everything when it exits. Refunds (answers that failed with a 5xx, cancelled jobs) are counted the same way, negatively.

Guarantees (docs/auth.md has the full argument):

- **No overshoot** while processes are healthy: units are counted in memory only inside a block the
  store granted, and the store grants blocks only while ``used`` + every live block stays
  ``quota_exact_below`` under the limit. Below that, every charge is one atomic conditional write,
  so the 429 boundary is exact; a small quota (under ``quota_exact_below``) is always charged that way.
- **A process that dies** loses the units it counted since its last flush (at most its block,
  ``quota_lease_units``) from the count; its block is reclaimed ``quota_lease_ttl_s`` later. A process
  stops counting from a block after half that time without a successful flush, so a stalled process
  cannot count from a block the store already reclaimed. Those are the only ways the served units can
  exceed the limit: by at most ``quota_lease_units`` per dead or stalled process (and after a quota is
  lowered, by the blocks granted under the old limit).
- **Counts are exact after a flush**: :meth:`used` reads the store and adds this process's unwritten
  units; another process's appear within ``quota_flush_s``.
- **False 429s** (undershoot) only when the last ``quota_exact_below`` units are used up while another
  process still holds an unused block: idle blocks go back within one flush interval.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lds.auth.quota import Key, Move, QuotaLedger, Settled, check_service, check_units
from lds.errors import Unavailable

log = logging.getLogger("lds.auth")

_WARN_EVERY_S = 60.0


@dataclass
class _Slot:
    """This process's view of one counter (token, service, period)."""

    limit: int
    left: int = 0  # units that may still be counted here without asking the store
    pending: int = 0  # units counted (net of refunds) and not written yet
    expires: float = 0.0  # monotonic time after which ``left`` must not be used (the store may reclaim it)
    touched: bool = False  # counted or refunded since the last flush
    full: bool = False  # the last grant was a whole block, so topping up early is worthwhile


class LeasedQuota:
    """Per-process quota counting over a :class:`QuotaLedger`; safe across threads and forks."""

    backend = "state"

    def __init__(self, ledger: QuotaLedger, flush_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.ledger = ledger
        self.flush_s = flush_s
        self._clock = clock
        self._pid: int | None = None
        self._last_warning = 0.0
        self.writes = 0  # state-store transactions of this process (for tests and figures: far fewer than charges)

    # --- per process ------------------------------------------------------------------------------
    def _process(self) -> None:
        """Fresh state in each process: a block reserved before a fork belongs to the parent only."""
        if self._pid == os.getpid():
            return
        with _FORK_LOCK:
            if self._pid == os.getpid():
                return
            self.holder = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
            self.writes = 0
            self._lock = threading.Lock()
            self._slots: dict[Key, _Slot] = {}
            # held while a counter is settled with the store (one settle per counter at a time); striped, so
            # their number stays fixed however many tokens and months a long-lived process sees
            self._stripes = [threading.RLock() for _ in range(_STRIPES)]
            self._stop = threading.Event()
            self._wake = threading.Event()  # a block is half used: flush (and top up) now
            if self.flush_s > 0:
                thread = threading.Thread(target=_flush_loop, args=(weakref.ref(self), self.flush_s, self._stop,
                                                                    self._wake), name="lds-quota-flush", daemon=True)
                thread.start()
            atexit.register(_close_ref, weakref.ref(self))
            self._pid = os.getpid()

    def _stripe(self, key: Key) -> int:
        return hash(key) % _STRIPES

    # --- charging ---------------------------------------------------------------------------------
    def charge(self, token_id: str, service: str, units: int, limit: int, period: str) -> tuple[bool, int]:
        """Count ``units`` if the quota allows them, all or nothing: (accepted, units used or reserved).

        The second value is exact only when the store was asked (refusals always are); a charge
        counted in memory returns -1 there rather than pay for a read.
        """
        check_service(service)
        check_units(units)
        self._process()
        key = (token_id, service, period)
        if self._count_locally(key, units, limit):
            return True, -1
        with self._stripes[self._stripe(key)]:  # one settle per counter at a time; the others wait, then count from its block
            if self._count_locally(key, units, limit):
                return True, -1
            with self._lock:
                slot = self._slots.setdefault(key, _Slot(limit))
                pending, returned = slot.pending, slot.left
                slot.pending = slot.left = 0  # the rest of the block goes back: this settle grants a fresh one
                slot.limit = limit
                started = self._clock()
            try:
                self.writes += 1
                out = self.ledger.settle(self.holder, [Move(key, limit, pending=pending, want=units, top_up=True)])[0]
            except Exception as exc:  # noqa: BLE001 - any store failure: keep the counts, answer 503
                with self._lock:  # nothing was written: count it again at the next settle
                    slot.pending += pending
                    slot.left += returned
                    slot.touched = True
                self._warn("quota store unavailable (%s)", exc)
                raise Unavailable("Quota counter unavailable (state store); try again shortly") from None
            self._granted(slot, out, keep=0, started=started)
            return out.accepted, out.used + out.others

    def _count_locally(self, key: Key, units: int, limit: int) -> bool:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None or slot.limit != limit or slot.left < units or slot.expires <= self._clock():
                return False
            slot.left -= units
            slot.pending += units
            slot.touched = True
            if slot.full and slot.left * 2 < self.ledger.lease_units:
                slot.full = False  # one wake-up per block
                self._wake.set()
            return True

    def refund(self, token_id: str, service: str, units: int, period: str) -> None:
        """Give back units charged earlier (written at the next flush); a live block grows by them."""
        check_service(service)
        check_units(units)
        if not units:
            return
        self._process()
        key = (token_id, service, period)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot(limit=-1)  # never counted from: only carries the refund
            slot.pending -= units
            if slot.expires > self._clock():
                slot.left += units  # keeps left + pending == the block the store holds for us
            slot.touched = True

    def _granted(self, slot: _Slot, out: Settled, keep: int, started: float) -> None:
        with self._lock:
            slot.left += out.reserved - keep
            slot.expires = started + self.ledger.lease_ttl_s / 2 if out.reserved > 0 else 0.0
            slot.full = out.reserved >= self.ledger.lease_units > 0
            slot.touched = True

    # --- reading ----------------------------------------------------------------------------------
    def used(self, token_id: str, services: Iterable[str], period: str) -> dict[str, int]:
        """Units used per service: the store's count plus what this process counted and has not written."""
        services = list(services)
        self._process()
        keys = [(token_id, s, period) for s in services]
        locks = [self._stripes[i] for i in sorted({self._stripe(k) for k in keys})]  # one order: no deadlock
        for lock in locks:  # no settle or flush of these counters in flight while we read
            lock.acquire()
        try:
            found = self.ledger.used(token_id, services, period)
            with self._lock:
                return {s: max(0, found[s] + (self._slots[k].pending if k in self._slots else 0))
                        for s, k in zip(services, keys)}
        finally:
            for lock in locks:
                lock.release()

    # --- writing back -----------------------------------------------------------------------------
    def flush(self, *, release: bool = False) -> int:
        """Write what this process counted, renew active blocks, return idle ones (all with ``release``).

        Returns how many counters were settled. Counters being settled by a request right now are
        skipped (that settle writes them). On a store error nothing is lost: it is tried again next time.
        """
        self._process()
        held: list[threading.RLock] = []
        if release:  # every counter, waiting for settles in flight; all stripes in one order: no deadlock
            for lock in self._stripes:
                lock.acquire()
                held.append(lock)
        try:
            return self._flush_held(release, held)
        finally:
            for lock in held:
                lock.release()

    def _flush_held(self, release: bool, held: list[threading.RLock]) -> int:
        now = self._clock()
        moves: list[tuple[_Slot, Move, int, int]] = []
        with self._lock:
            candidates = list(self._slots.items())
        for key, slot in candidates:
            lock = self._stripes[self._stripe(key)]
            if not release:
                if not lock.acquire(blocking=False):
                    continue  # a request is settling this counter right now: that settle writes it
                held.append(lock)
            with self._lock:
                if self._slots.get(key) is not slot:
                    continue  # forgotten (and maybe begun again) since the snapshot
                live = slot.expires > now
                if not live:
                    slot.left = 0
                if not slot.touched and not slot.left and not slot.pending:
                    del self._slots[key]  # nothing counted, nothing held: forget the counter
                    continue
                active = slot.touched and not release
                keep = slot.left if active else 0
                pending, returned = slot.pending, slot.left - keep
                slot.pending, slot.left, slot.touched = 0, keep, False
            move = Move(key, max(slot.limit, 0), pending=pending, keep=keep, top_up=active and slot.limit >= 0)
            moves.append((slot, move, pending, returned))
        if not moves:
            return 0
        started = self._clock()
        try:
            outcomes = self._settle_each_if_needed([m for _, m, _, _ in moves])
        except Exception as exc:
            with self._lock:
                for slot, _, pending, returned in moves:
                    slot.pending += pending
                    slot.left += returned
                    slot.touched = True
            self._warn("quota flush failed, kept for the next one (%s)", exc)
            raise
        for (slot, move, *_), out in zip(moves, outcomes):
            with self._lock:
                slot.left += out.reserved - move.keep
                slot.expires = started + self.ledger.lease_ttl_s / 2 if out.reserved > 0 else 0.0
                slot.full = out.reserved >= self.ledger.lease_units > 0
        return len(moves)

    def _settle_each_if_needed(self, moves: list[Move]) -> list[Settled]:
        """One transaction for all; if the store refuses one move (its token is gone), the others still go through."""
        from sqlalchemy.exc import IntegrityError

        try:
            self.writes += 1
            return self.ledger.settle(self.holder, moves)
        except IntegrityError:
            if len(moves) == 1:
                log.warning("quota units of a token no longer in the state store dropped: %s", moves[0].key[0])
                return [Settled(True, 0, 0, 0)]
        return [self._settle_each_if_needed([m])[0] for m in moves]

    def close(self) -> None:
        """Write everything and return every block (process exit)."""
        if self._pid != os.getpid():
            return
        self._stop.set()
        self._wake.set()
        try:
            self.flush(release=True)
        except Exception as exc:  # noqa: BLE001 - at exit the store may be gone; the blocks expire on their own
            log.warning("quota units not written at exit (%s)", type(exc).__name__)

    def _warn(self, message: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > _WARN_EVERY_S:
            log.warning(message, type(exc).__name__)
            self._last_warning = now


_FORK_LOCK = threading.Lock()
_STRIPES = 64


def _flush_loop(ref: weakref.ref, interval: float, stop: threading.Event, wake: threading.Event) -> None:
    while True:
        wake.wait(interval)
        wake.clear()
        if stop.is_set():
            return
        quota = ref()
        if quota is None:
            return
        with contextlib.suppress(Exception):  # already logged; the next flush tries again
            quota.flush()
        del quota


def _close_ref(ref: weakref.ref) -> None:
    quota = ref()
    if quota is not None:
        quota.close()
