"""The access-control facade: tokens + quotas + rate limit behind one object, without Flask.

The HTTP hook (``lds.api.access``), the WSGI fast path (``lds.api.hotpath``), the CLI and embedding
programs use this one object; it is built from settings (state store, leased quota counting, limiter)
by :meth:`AccessControl.from_settings`. Per request: :meth:`authenticate`, :meth:`check_rate`,
:meth:`charge` before the work and :meth:`refund` when the answer failed with a 5xx; none of them
writes to the state store on the common path.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from lds.auth.grants import grants_cover
from lds.auth.leases import LeasedQuota
from lds.auth.quota import QUOTA_SERVICES, QuotaLedger, import_redis_counts, period_of, seconds_to_next_period
from lds.auth.ratelimit import RateLimiter
from lds.auth.tokens import Principal, TokenStore
from lds.errors import Forbidden, TooManyRequests
from lds.settings import Settings
from lds.state.store import StateStore

log = logging.getLogger("lds.auth")

PROVIDER = "lds"


class AccessControl:
    """Authenticates tokens, enforces rate limits and charges monthly quotas."""

    def __init__(self, settings: Settings, store: StateStore, counter: LeasedQuota, limiter: RateLimiter):
        self.settings = settings
        self.store = store
        self.tokens = TokenStore(store, settings.auth_cache_ttl_s, local_dir=settings.state_dir)
        self.counter = counter
        self.limiter = limiter

    @classmethod
    def from_settings(cls, settings: Settings, store: StateStore | None = None) -> AccessControl:
        store = store or StateStore.from_settings(settings)
        ledger = QuotaLedger(store, settings.quota_lease_units, settings.quota_exact_below, settings.quota_lease_ttl_s)
        counter = LeasedQuota(ledger, settings.quota_flush_s)
        limiter = RateLimiter(settings.redis_url, settings.redis_prefix, settings.redis_timeout_s,
                              settings.rate_limit_retry_s, settings.rate_limit_block_s)
        return cls(settings, store, counter, limiter)

    def import_redis_counts(self) -> int:
        """Move quota counters an older version kept in Redis into the state store (once; 0 without Redis).

        Redis errors are logged, not raised: the next start tries again.
        """
        if not self.settings.redis_url:
            return 0
        try:
            return import_redis_counts(self.counter.ledger, self.settings.redis_url, self.settings.redis_prefix,
                                       max(self.settings.redis_timeout_s, 2.0))
        except Exception as exc:  # noqa: BLE001 - Redis down at start: serve anyway, import at a later start
            log.warning("could not move old quota counters from Redis into the state store (%s)", type(exc).__name__)
            return 0

    def close(self) -> None:
        """Write this process's counted units and return its quota reservations."""
        self.counter.close()

    def before_fork(self) -> None:
        """Drop connections a forked worker must not share (state store pool, token-change listener)."""
        self.tokens.changes.close()
        self.store.dispose()

    # --- start-up ----------------------------------------------------------------------------------
    def ensure_admin(self, out: TextIO | None = None) -> str | None:
        """Set up the admin token; a generated one is printed once (never logged) with how to rotate it."""
        token = self.tokens.ensure_admin(self.settings.admin_token)
        if token is not None:
            out = out or sys.stderr
            print(
                "\nlds: generated the admin token; it is stored hashed and shown only this once:\n"
                f"\n    {token}\n\nKeep it secret. Replace it with `lds token rotate-admin` "
                "(or set LDS_ADMIN_TOKEN).\n",
                file=out, flush=True,
            )
        return token

    # --- per request -------------------------------------------------------------------------------
    def authenticate(self, token: str) -> Principal:
        return self.tokens.authenticate(token)

    def rate_limit(self, principal: Principal) -> int:
        """Requests per second allowed to ``principal`` (0 = unlimited): its own limit, else the setting."""
        if principal.is_admin and not self.settings.rate_limit_admin:
            return 0
        own = principal.rate_limit_per_s
        return int(own) if own is not None else int(self.settings.rate_limit_per_s)

    def check_rate(self, principal: Principal) -> None:
        per_s = self.rate_limit(principal)
        if per_s <= 0:
            return
        wait = self.limiter.retry_after(principal.id, per_s)
        if wait is not None:
            raise TooManyRequests(
                f"Rate limit exceeded: at most {per_s} requests per second per token", headers={"Retry-After": str(wait)}
            )

    def monthly_quota(self, principal: Principal, service: str) -> int:
        override = principal.quotas.get(service)
        return int(override) if override is not None else int(getattr(self.settings, f"quota_{service}"))

    def charge(self, principal: Principal, service: str, units: int = 1) -> str:
        """Count ``units`` of ``service`` against the token's monthly quota, all or nothing (429 when over).

        Usually counted in memory (:mod:`lds.auth.leases`). Returns the quota period charged, which
        :meth:`refund` takes to give the units back to the same month.
        """
        period = period_of()
        if not units:
            return period
        limit = self.monthly_quota(principal, service)
        accepted, used = self.counter.charge(principal.id, service, units, limit, period)
        if not accepted:
            used = min(used, limit)
            left = limit - used
            raise TooManyRequests(
                f"Monthly {service} quota exceeded: {used} of {limit} used, this request needs {units}"
                + (f" ({left} left)" if left else ""),
                headers={"Retry-After": str(seconds_to_next_period())},
            )
        return period

    def refund(self, principal: Principal | str, service: str, units: int = 1, period: str | None = None) -> None:
        """Give back ``units`` charged earlier (an answer that failed with a 5xx, the undone part of a cancelled job).

        ``principal`` may be a token id; ``period`` is what :meth:`charge` returned (default: this month).
        Never raises for a valid call: the units are written with the next flush.
        """
        token_id = principal if isinstance(principal, str) else principal.id
        self.counter.refund(token_id, service, units, period or period_of())

    def stats(self, principal: Principal) -> list[dict[str, Any]]:
        """Usage this month in CARTO's ``/v3/lds/stats`` shape (exact: this process's unwritten units included)."""
        used = self.counter.used(principal.id, QUOTA_SERVICES, period_of())
        return [
            {"service": s, "provider": PROVIDER, "monthly_quota": self.monthly_quota(principal, s), "used_quota": used[s]}
            for s in QUOTA_SERVICES
        ]

    @staticmethod
    def require_source(principal: Principal, connection_name: str, source: str) -> None:
        """403 unless the token's grants cover ``source`` (a table name or SQL text) on ``connection_name``."""
        if principal.is_admin or grants_cover(principal.grants, connection_name, source):
            return
        raise Forbidden(f"Token has no grant for this source on connection '{connection_name}'")

    def status(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "state_store": self.store.backend,
            "quota_counter": self.counter.backend,
            "rate_limiter": self.limiter.backend,
            "rate_limit_per_s": self.settings.rate_limit_per_s,
        }
