"""Monthly quotas per token and service, counted atomically (Redis when configured, else the state store).

``charge`` is all-or-nothing: it adds ``units`` only if the total stays within the limit, in one atomic
step (a Lua script in Redis; a conditional ``UPDATE ... WHERE used + n <= limit`` in SQL, which SQLite
serialises with ``BEGIN IMMEDIATE`` and PostgreSQL with its row lock and re-check). So concurrent
requests from any number of processes neither lose nor double count, and a batch that would go over is
refused whole, before any work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select, update

from lds.errors import BadRequest, Unavailable
from lds.state.models import QuotaUsage
from lds.state.store import StateStore

log = logging.getLogger("lds.auth")

QUOTA_SERVICES = ("geocoding", "isolines", "routing")
_KEEP_AFTER_PERIOD_S = 40 * 24 * 3600  # Redis counters outlive their month long enough to be read back


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


class QuotaCounter(Protocol):
    backend: str

    def charge(self, token_id: str, service: str, units: int, limit: int, period: str) -> tuple[bool, int]:
        """Add ``units`` if ``used + units <= limit``; returns (accepted, used after the call)."""

    def used(self, token_id: str, services: Iterable[str], period: str) -> dict[str, int]:
        """Units used so far per service."""


def _check_units(units: int) -> None:
    if isinstance(units, bool) or not isinstance(units, int) or units < 0:
        raise BadRequest(f"quota units must be a whole number >= 0, got {units!r}")


class StoreQuotaCounter:
    """Counts in the ``quota_usage`` table of the metadata store."""

    backend = "state"

    def __init__(self, store: StateStore):
        self.store = store
        if store.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self._insert = insert

    def charge(self, token_id: str, service: str, units: int, limit: int, period: str) -> tuple[bool, int]:
        check_service(service)
        _check_units(units)
        key = (QuotaUsage.token_id == token_id, QuotaUsage.service == service, QuotaUsage.period == period)
        with self.store.write() as conn:
            conn.execute(
                self._insert(QuotaUsage)
                .values(token_id=token_id, service=service, period=period, used=0)
                .on_conflict_do_nothing()
            )
            row = conn.execute(
                update(QuotaUsage)
                .where(*key, QuotaUsage.used + units <= limit)
                .values(used=QuotaUsage.used + units)
                .returning(QuotaUsage.used)
            ).first()
            if row is not None:
                return True, int(row.used)
            return False, int(conn.scalar(select(QuotaUsage.used).where(*key)) or 0)

    def used(self, token_id: str, services: Iterable[str], period: str) -> dict[str, int]:
        services = list(services)
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(QuotaUsage.service, QuotaUsage.used).where(
                    QuotaUsage.token_id == token_id, QuotaUsage.period == period, QuotaUsage.service.in_(services)
                )
            )
            found = {r.service: int(r.used) for r in rows}
        return {s: found.get(s, 0) for s in services}


# KEYS[1] counter; ARGV: units, limit, expire-at (epoch s). Returns {accepted 0/1, used}.
_CHARGE_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local units = tonumber(ARGV[1])
if used + units > tonumber(ARGV[2]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], units)
redis.call('EXPIREAT', KEYS[1], ARGV[3])
return {1, used}
"""


class RedisQuotaCounter:
    """Counts in Redis, shared by every worker and machine; a Redis failure refuses the request (503)."""

    backend = "redis"

    def __init__(self, url: str, prefix: str = "lds:", timeout_s: float = 0.1):
        from lds.redisconn import redis_client

        self.client = redis_client(url, timeout_s)
        self.prefix = prefix
        self._script = self.client.register_script(_CHARGE_LUA)

    def key(self, token_id: str, service: str, period: str) -> str:
        return f"{self.prefix}quota:{period}:{token_id}:{service}"

    def charge(self, token_id: str, service: str, units: int, limit: int, period: str) -> tuple[bool, int]:
        import redis

        check_service(service)
        _check_units(units)
        year, month = (int(x) for x in period.split("-"))
        end = max(period_end(datetime(year, month, 1, tzinfo=UTC)), datetime.now(UTC))
        expire_at = int(end.timestamp()) + _KEEP_AFTER_PERIOD_S
        try:
            accepted, used = self._script(keys=[self.key(token_id, service, period)], args=[units, limit, expire_at])
        except redis.RedisError as exc:
            log.error("quota counter unavailable: %s", type(exc).__name__)
            raise Unavailable("Quota counter unavailable (Redis); try again shortly") from None
        return bool(accepted), int(used)

    def used(self, token_id: str, services: Iterable[str], period: str) -> dict[str, int]:
        import redis

        services = list(services)
        try:
            values = self.client.mget([self.key(token_id, s, period) for s in services])
        except redis.RedisError:
            raise Unavailable("Quota counter unavailable (Redis); try again shortly") from None
        return {s: int(v or 0) for s, v in zip(services, values)}
