"""The access-control facade: tokens + quotas + rate limit behind one object, without Flask.

The HTTP hook (``lds.api.access``), the CLI and embedding programs use this one object; it is built
from settings (state store, Redis or store counter, limiter) by :meth:`AccessControl.from_settings`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from lds.auth.grants import grants_cover
from lds.auth.quota import (
    QUOTA_SERVICES,
    QuotaCounter,
    RedisQuotaCounter,
    StoreQuotaCounter,
    period_of,
    seconds_to_next_period,
)
from lds.auth.ratelimit import RateLimiter
from lds.auth.tokens import Principal, TokenStore
from lds.errors import Forbidden, TooManyRequests
from lds.settings import Settings
from lds.state.store import StateStore

log = logging.getLogger("lds.auth")

PROVIDER = "lds"


class AccessControl:
    """Authenticates tokens, enforces rate limits and charges monthly quotas."""

    def __init__(self, settings: Settings, store: StateStore, counter: QuotaCounter, limiter: RateLimiter):
        self.settings = settings
        self.store = store
        self.tokens = TokenStore(store, settings.auth_cache_ttl_s)
        self.counter = counter
        self.limiter = limiter

    @classmethod
    def from_settings(cls, settings: Settings, store: StateStore | None = None) -> AccessControl:
        store = store or StateStore.from_settings(settings)
        if settings.redis_url:
            counter: QuotaCounter = RedisQuotaCounter(settings.redis_url, settings.redis_prefix, settings.redis_timeout_s)
        else:
            counter = StoreQuotaCounter(store)
        limiter = RateLimiter(settings.redis_url, settings.redis_prefix, settings.redis_timeout_s)
        return cls(settings, store, counter, limiter)

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

    def check_rate(self, principal: Principal) -> None:
        per_s = self.settings.rate_limit_per_s
        wait = self.limiter.retry_after(principal.id, per_s)
        if wait is not None:
            raise TooManyRequests(
                f"Rate limit exceeded: at most {per_s} requests per second per token", headers={"Retry-After": str(wait)}
            )

    def monthly_quota(self, principal: Principal, service: str) -> int:
        override = principal.quotas.get(service)
        return int(override) if override is not None else int(getattr(self.settings, f"quota_{service}"))

    def charge(self, principal: Principal, service: str, units: int = 1) -> int:
        """Count ``units`` of ``service`` against the token's monthly quota, all or nothing; returns units used."""
        limit = self.monthly_quota(principal, service)
        accepted, used = self.counter.charge(principal.id, service, units, limit, period_of())
        if not accepted:
            left = max(0, limit - used)
            raise TooManyRequests(
                f"Monthly {service} quota exceeded: {used} of {limit} used, this request needs {units}"
                + (f" ({left} left)" if left else ""),
                headers={"Retry-After": str(seconds_to_next_period())},
            )
        return used

    def stats(self, principal: Principal) -> list[dict[str, Any]]:
        """Usage this month in CARTO's ``/v3/lds/stats`` shape."""
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
