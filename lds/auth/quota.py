"""Monthly quotas per token and service: the durable count in the state store, and the periods.

The state store is the one truth, whatever Redis does: ``quota_usage.used`` holds the units written
so far and ``quota_leases`` the units serving processes have reserved to count in memory
(:mod:`lds.auth.leases`). Every change goes through :meth:`QuotaLedger.settle`, one transaction per
batch that locks each counter row (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``SELECT ... FOR UPDATE``)
and keeps ``used + every live reservation <= limit``. So concurrent processes on any number of
machines neither lose nor double count, a charge that would go over is refused whole, and switching
Redis on or off changes nothing about the count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, delete, func, select, update

from lds.errors import BadRequest
from lds.state.models import QuotaLease, QuotaUsage, Token
from lds.state.store import StateStore

log = logging.getLogger("lds.auth")

QUOTA_SERVICES = ("geocoding", "isolines", "routing")
MAX_QUOTA = 2**63 - 1  # the counters are BIGINT

Key = tuple[str, str, str]  # (token id, service, period)


def period_of(now: datetime | None = None) -> str:
    """The quota period (calendar month, UTC) ``YYYY-MM``."""
    now = now or datetime.now(UTC)
    return f"{now.year:04d}-{now.month:02d}"


def period_end(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def seconds_to_next_period(now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    return max(1, int((period_end(now) - now).total_seconds()))


def check_service(service: str) -> None:
    if service not in QUOTA_SERVICES:
        raise ValueError(f"unknown quota service {service!r} (one of: {', '.join(QUOTA_SERVICES)})")


def check_units(units: int) -> None:
    if isinstance(units, bool) or not isinstance(units, int) or units < 0 or units > MAX_QUOTA:
        raise BadRequest(f"quota units must be a whole number >= 0, got {units!r}")


@dataclass(frozen=True)
class Move:
    """One counter's change in a settle: what a process wrote, charges and reserves.

    ``pending``: units counted in memory since the last settle (net of refunds; may be negative), added
    to ``used``. ``keep``: units of this holder's reservation it still holds and may be counting from
    right now (so never taken back here). ``want``: units to charge now, all or nothing, beyond the
    reservation. ``top_up``: grow the reservation to ``lease_units`` where the quota leaves room.
    """

    key: Key
    limit: int
    pending: int = 0
    keep: int = 0
    want: int = 0
    top_up: bool = False


@dataclass(frozen=True)
class Settled:
    accepted: bool  # ``want`` was charged
    used: int  # units written after this settle
    others: int  # units other processes hold reserved
    reserved: int  # this holder's reservation now (``keep`` + what was granted)


class QuotaLedger:
    """The SQL side of quotas: settle moves, read usage, merge counts kept elsewhere (old Redis counters)."""

    backend = "state"

    def __init__(self, store: StateStore, lease_units: int = 0, exact_below: int = 0, lease_ttl_s: float = 30.0):
        self.store = store
        self.lease_units = max(0, lease_units)
        self.exact_below = max(0, exact_below)
        self.lease_ttl_s = lease_ttl_s
        if store.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self._insert = insert

    def settle(self, holder: str, moves: Iterable[Move]) -> list[Settled]:
        """Apply ``moves`` (any number of counters) in one transaction; outcomes in the same order.

        Per counter: reclaim expired reservations, write ``pending``, charge ``want`` if
        ``used + others + keep + want <= limit``, and grant a reservation only while ``used`` + every
        reservation stays ``exact_below`` under the limit (the last units are charged one write each).
        """
        moves = list(moves)
        order = sorted(range(len(moves)), key=lambda i: moves[i].key)  # one lock order: no deadlocks between processes
        out: list[Settled | None] = [None] * len(moves)
        now = datetime.now(UTC)
        with self.store.write() as conn:
            for i in order:
                out[i] = self._settle_one(conn, holder, moves[i], now)
        return out  # type: ignore[return-value]

    def _settle_one(self, conn, holder: str, m: Move, now: datetime) -> Settled:
        token_id, service, period = m.key
        usage = (QuotaUsage.token_id == token_id, QuotaUsage.service == service, QuotaUsage.period == period)
        leases = (QuotaLease.token_id == token_id, QuotaLease.service == service, QuotaLease.period == period)
        used = conn.scalar(select(QuotaUsage.used).where(*usage).with_for_update())
        if used is None and m.pending <= 0 and not m.want and not m.top_up:
            conn.execute(delete(QuotaLease).where(*leases, QuotaLease.holder == holder))
            return Settled(True, 0, 0, 0)  # only refunds or returns for a counter never written: nothing to do
        if used is None:
            conn.execute(self._insert(QuotaUsage).values(token_id=token_id, service=service, period=period, used=0)
                         .on_conflict_do_nothing())
            used = conn.scalar(select(QuotaUsage.used).where(*usage).with_for_update())
        conn.execute(delete(QuotaLease).where(*leases, QuotaLease.expires_at < now))
        others = int(conn.scalar(select(func.coalesce(func.sum(QuotaLease.units), 0))
                                 .where(*leases, QuotaLease.holder != holder)))
        used_now = min(MAX_QUOTA, max(0, int(used) + m.pending))
        accepted = True
        if m.want:
            accepted = used_now + others + m.keep + m.want <= m.limit
            if accepted:
                used_now += m.want
        reserved = m.keep
        if m.top_up and self.lease_units:
            room = min(self.lease_units, m.limit - self.exact_below - used_now - others)
            reserved = max(reserved, room)
        if used_now != used:
            conn.execute(update(QuotaUsage).where(*usage).values(used=used_now))
        if reserved > 0:
            values = {"units": reserved, "expires_at": now + timedelta(seconds=self.lease_ttl_s)}
            conn.execute(self._insert(QuotaLease).values(token_id=token_id, service=service, period=period,
                                                         holder=holder, **values)
                         .on_conflict_do_update(index_elements=["token_id", "service", "period", "holder"], set_=values))
        else:
            conn.execute(delete(QuotaLease).where(*leases, QuotaLease.holder == holder))
        return Settled(accepted, used_now, others, reserved)

    def used(self, token_id: str, services: Iterable[str], period: str) -> dict[str, int]:
        """Units written so far per service (a process adds what it counted and has not written yet)."""
        services = list(services)
        with self.store.read() as conn:
            rows = conn.execute(
                select(QuotaUsage.service, QuotaUsage.used).where(
                    QuotaUsage.token_id == token_id, QuotaUsage.period == period, QuotaUsage.service.in_(services)
                )
            )
            found = {r.service: int(r.used) for r in rows}
        return {s: found.get(s, 0) for s in services}

    def merge_at_least(self, counts: dict[Key, int]) -> int:
        """Raise counters to at least the given values (idempotent); unknown tokens are skipped. Returns rows merged."""
        if not counts:
            return 0
        with self.store.write() as conn:
            known = set(conn.scalars(select(Token.id).where(Token.id.in_({k[0] for k in counts}))))
            merged = 0
            for (token_id, service, period), n in sorted(counts.items()):
                if token_id not in known or service not in QUOTA_SERVICES:
                    continue
                stmt = self._insert(QuotaUsage).values(token_id=token_id, service=service, period=period,
                                                       used=min(n, MAX_QUOTA))
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["token_id", "service", "period"],
                    set_={"used": case((QuotaUsage.used < stmt.excluded.used, stmt.excluded.used),
                                       else_=QuotaUsage.used)}))
                merged += 1
        return merged

    def reservations(self, token_id: str, service: str, period: str) -> dict[str, int]:
        """Live reservations of one counter by holder (for status and tests)."""
        now = datetime.now(UTC)
        with self.store.read() as conn:
            rows = conn.execute(select(QuotaLease.holder, QuotaLease.units).where(and_(
                QuotaLease.token_id == token_id, QuotaLease.service == service, QuotaLease.period == period,
                QuotaLease.expires_at >= now)))
            return {r.holder: int(r.units) for r in rows}


_LEGACY_SCAN = 1000


def import_redis_counts(ledger: QuotaLedger, url: str, prefix: str, timeout_s: float) -> int:
    """Move counters an older version kept in Redis (``<prefix>quota:<YYYY-MM>:<token>:<service>``) into the store.

    Each becomes ``max(store, redis)`` and the Redis key is deleted, so doing it twice (or in several
    processes at once) changes nothing. Returns how many counters were merged; Redis errors propagate.
    """
    from lds.redisconn import redis_client

    client = redis_client(url, timeout_s)
    pattern = f"{prefix}quota:*"
    keys = list(client.scan_iter(match=pattern, count=_LEGACY_SCAN))
    if not keys:
        return 0
    values = client.mget(keys)
    counts: dict[Key, int] = {}
    for raw, value in zip(keys, values):
        parts = raw.decode()[len(prefix) + len("quota:"):].split(":")
        if len(parts) != 3 or value is None or not value.isdigit():
            continue
        period, token_id, service = parts
        counts[(token_id, service, period)] = int(value)
    merged = ledger.merge_at_least(counts)
    client.delete(*keys)
    log.info("quota counters moved from Redis into the state store: %d", merged)
    return merged
