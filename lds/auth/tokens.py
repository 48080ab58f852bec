"""Token records: create, find, update, revoke, authenticate; the admin token's life cycle.

Two kinds, as in CARTO: one **admin** token (CARTO's OAuth role: everything, including managing tokens)
and **API access tokens** scoped by ``allowed_apis``, ``grants``, ``referers`` and ``expiration_date``.
Only SHA-256 hashes are stored (:mod:`lds.auth.hashing`); a token is found by hash or by its public id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from lds.auth.changes import TokenChanges, token_changes
from lds.auth.grants import validate_grant
from lds.auth.hashing import hash_token, new_id, new_token, same_hash
from lds.auth.quota import MAX_QUOTA, QUOTA_SERVICES
from lds.auth.referers import validate_referer
from lds.errors import BadRequest, Conflict, NotFound, Unauthorized
from lds.inputs import check_strings
from lds.state.models import Token, utcnow
from lds.state.store import StateStore

log = logging.getLogger("lds.auth")

API_NAMES = ("lds", "sql", "maps", "imports")
APIS_NEEDING_GRANTS = ("sql", "maps")
ADMIN_ID = "admin"
ADMIN = "admin"
API = "api"
MIN_ADMIN_TOKEN_CHARS = 32
_EDITABLE = {"name", "grants", "allowed_apis", "referers", "quotas", "rate_limit_per_s"}
_READ_ONLY = {"id", "token", "created_at", "updated_at", "stats"}
_MAX_ITEMS = 1000
MAX_RATE_LIMIT_PER_S = 1_000_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: what the auth hook attaches to a request after a token checks out."""

    id: str
    kind: str
    name: str
    allowed_apis: tuple[str, ...] = ()
    grants: tuple[dict[str, str], ...] = ()
    referers: tuple[str, ...] = ()
    quotas: Mapping[str, int] = field(default_factory=dict)
    rate_limit_per_s: int | None = None  # None = the rate_limit_per_s setting

    @property
    def is_admin(self) -> bool:
        return self.kind == ADMIN


def principal_of(row: Any) -> Principal:
    return Principal(
        id=row.id,
        kind=row.kind,
        name=row.name,
        allowed_apis=tuple(API_NAMES if row.kind == ADMIN else row.allowed_apis or ()),
        grants=tuple(row.grants or ()),
        referers=tuple(row.referers or ()),
        quotas=dict(row.quotas or {}),
        rate_limit_per_s=row.rate_limit_per_s,
    )


def parse_expiration(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest("'expiration_date' must be an ISO 8601 date-time string such as 2030-12-31T00:00:00Z")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"'expiration_date' is not an ISO 8601 date-time: {value!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _string_list(name: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"'{name}' must be a JSON array")
    if len(value) > _MAX_ITEMS:
        raise BadRequest(f"too many entries in '{name}' (max {_MAX_ITEMS})")
    return value


def _allowed_apis(value: Any) -> list[str]:
    apis = _string_list("allowed_apis", value)
    out: list[str] = []
    for api in apis:
        if api not in API_NAMES:
            raise BadRequest(f"unknown API {api!r} in 'allowed_apis' (one of: {', '.join(API_NAMES)})")
        if api not in out:
            out.append(api)
    if not out:
        raise BadRequest(f"'allowed_apis' must name at least one API ({', '.join(API_NAMES)})")
    if "imports" in out and len(out) > 1:
        raise BadRequest("the 'imports' API cannot be combined with other APIs in one token (it writes data)")
    return out


def _quotas(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("'quotas' must be an object such as {\"geocoding\": 1000}")
    out = {}
    for service, n in value.items():
        if service not in QUOTA_SERVICES:
            raise BadRequest(f"unknown quota service {service!r} (one of: {', '.join(QUOTA_SERVICES)})")
        if n is None:
            continue  # back to the default
        if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n > MAX_QUOTA:
            raise BadRequest(f"quota for {service!r} must be a whole number from 0 to {MAX_QUOTA}")
        out[service] = n
    return out


def _rate_limit(value: Any) -> int | None:
    """A token's own requests-per-second limit: None = the setting's, 0 = unlimited."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RATE_LIMIT_PER_S:
        raise BadRequest(f"'rate_limit_per_s' must be null or a whole number from 0 to {MAX_RATE_LIMIT_PER_S}")
    return value


def parse_fields(body: Any, *, creating: bool) -> dict[str, Any]:
    """Validate a create (or PATCH) body into column values; clear 400s name the bad field."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    check_strings(body, "token")  # a lone surrogate, once stored, would break every listing of the tokens
    allowed = _EDITABLE | ({"expiration_date"} if creating else _READ_ONLY | {"expiration_date"})
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(f"unknown token field(s): {', '.join(sorted(unknown))}")
    fields: dict[str, Any] = {}
    if "name" in body and body["name"] is not None:
        if not isinstance(body["name"], str) or not body["name"].strip() or len(body["name"]) > 200:
            raise BadRequest("'name' must be a non-empty string of at most 200 characters")
        fields["name"] = body["name"].strip()
    if creating or "allowed_apis" in body:
        fields["allowed_apis"] = _allowed_apis(body.get("allowed_apis"))
    if creating or "grants" in body:
        fields["grants"] = [validate_grant(g) for g in _string_list("grants", body.get("grants"))]
    if creating or "referers" in body:
        fields["referers"] = [validate_referer(r) for r in _string_list("referers", body.get("referers"))]
    if creating or "quotas" in body:
        fields["quotas"] = _quotas(body.get("quotas"))
    if creating or "rate_limit_per_s" in body:
        fields["rate_limit_per_s"] = _rate_limit(body.get("rate_limit_per_s"))
    if creating:
        fields["expiration_date"] = parse_expiration(body.get("expiration_date"))
        if fields["expiration_date"] is not None and fields["expiration_date"] <= utcnow():
            raise BadRequest("'expiration_date' is in the past")
    return fields


def _check_grants(allowed_apis: list[str], grants: list[dict[str, str]]) -> None:
    needing = [a for a in allowed_apis if a in APIS_NEEDING_GRANTS]
    if needing and not grants:
        raise BadRequest(f"a token for the {' and '.join(needing)} API needs at least one grant")


class UnknownToken(Unauthorized):
    """A token this installation never issued (revoked and expired ones are its own: plain Unauthorized)."""


_MAX_TRUSTED = 100_000  # trusted lookups kept per process before the table starts over


class TokenStore:
    """Token CRUD and authentication over the metadata store."""

    def __init__(self, store: StateStore, cache_ttl_s: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 changes: TokenChanges | None = None, local_dir: str | Path | None = None):
        self.store = store
        self.table = Token.__table__
        self._by_hash = select(self.table).where(self.table.c.token_hash == bindparam("digest"))  # built once: hot path
        self.cache_ttl_s = cache_ttl_s
        self._clock = clock
        self.changes = changes if changes is not None else token_changes(store, local_dir)
        # digest -> (trusted until, principal, expiration date, change counter when looked up): valid tokens only,
        # so a new token works at once
        self._recent: dict[str, tuple[float, Principal, datetime | None, int]] = {}

    # --- authentication (hot path: one indexed Core query, or none within cache_ttl_s) -------------
    def authenticate(self, token: str) -> Principal:
        """The principal behind a token string, or :class:`Unauthorized` (invalid, revoked, expired).

        With ``cache_ttl_s`` a valid token is trusted for up to that long without a query (the lookup
        was most of the cost of an authenticated cache hit), but only while the shared counter of token
        changes (:mod:`lds.auth.changes`) has not moved: a revocation or change made by any process
        applies at once everywhere. The expiration date is checked every time.
        """
        digest = hash_token(token)
        seen = self.changes.current() if self.cache_ttl_s > 0 else None  # read before the lookup it vouches for
        if seen is not None:
            recent = self._recent.get(digest)
            if recent is not None and recent[3] == seen and recent[0] > self._clock():
                if recent[2] is not None and recent[2] <= utcnow():
                    raise Unauthorized("Token expired")
                return recent[1]
        with self.store.read() as conn:
            row = conn.execute(self._by_hash, {"digest": digest}).first()
        if row is None or not same_hash(row.token_hash, digest):
            raise UnknownToken("Invalid token")
        if row.revoked_at is not None:
            raise Unauthorized("Token revoked")
        if row.expiration_date is not None and row.expiration_date <= utcnow():
            raise Unauthorized("Token expired")
        principal = principal_of(row)
        if seen is not None:
            if len(self._recent) >= _MAX_TRUSTED:
                self._recent.clear()
            self._recent[digest] = (self._clock() + self.cache_ttl_s, principal, row.expiration_date, seen)
        return principal

    def forget(self) -> None:
        """Drop every trusted lookup of this process."""
        self._recent.clear()

    def _changed(self, marker: Any) -> None:
        """After a token write committed: every process (this one at once) stops trusting earlier lookups."""
        self.forget()
        self.changes.published(marker)

    # --- API access tokens --------------------------------------------------------------------------
    def create(self, body: Any) -> tuple[str, Token]:
        """A new API access token: returns the token string (shown once) and its record."""
        fields = parse_fields(body, creating=True)
        _check_grants(fields["allowed_apis"], fields["grants"])
        token, token_id = new_token(), new_id()
        now = utcnow()
        row = Token(
            id=token_id, kind=API, name=fields.pop("name", None) or f"tk_{token_id[:8]}", token_hash=hash_token(token),
            created_at=now, updated_at=now, **fields,
        )
        with self.store.session() as session:
            session.add(row)
        log.info("token %s (%s) created", row.id, row.name)
        return token, row

    def list(self) -> list[Token]:
        with self.store.session() as session:
            rows = session.scalars(
                select(Token).where(Token.kind == API, Token.revoked_at.is_(None)).order_by(Token.created_at, Token.id)
            )
            return list(rows)

    def _find(self, session, token_or_id: str) -> Token:
        row = session.scalars(
            select(Token).where(
                Token.kind == API,
                Token.revoked_at.is_(None),
                or_(Token.token_hash == hash_token(token_or_id), Token.id == token_or_id),
            )
        ).first()
        if row is None:
            raise NotFound("Token not found")
        return row

    def get(self, token_or_id: str) -> Token:
        with self.store.session() as session:
            return self._find(session, token_or_id)

    def update(self, token_or_id: str, body: Any) -> Token:
        fields = parse_fields(body, creating=False)
        with self.store.session() as session:
            row = self._find(session, token_or_id)
            if "expiration_date" in body and parse_expiration(body["expiration_date"]) != row.expiration_date:
                raise BadRequest("'expiration_date' can only be set when the token is created")
            _check_grants(fields.get("allowed_apis", row.allowed_apis), fields.get("grants", row.grants))
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            marker = self.changes.announce(session)
        self._changed(marker)
        log.info("token %s updated", row.id)
        return row

    def revoke(self, token_or_id: str) -> Token:
        """Revoke for good: the hash stays so a later use says 'Token revoked', but the record is gone from the API."""
        with self.store.session() as session:
            row = self._find(session, token_or_id)
            row.revoked_at = row.updated_at = utcnow()
            marker = self.changes.announce(session)
        self._changed(marker)
        log.info("token %s revoked", row.id)
        return row

    # --- the admin token ---------------------------------------------------------------------------
    def ensure_admin(self, configured: str | None) -> str | None:
        """Make the stored admin hash match ``LDS_ADMIN_TOKEN``, or generate a token on first start.

        Returns the newly generated token string (to print once), else None.
        """
        if configured is not None and len(configured) < MIN_ADMIN_TOKEN_CHARS:
            log.warning("LDS_ADMIN_TOKEN is shorter than %d characters; use a long random string", MIN_ADMIN_TOKEN_CHARS)
        generated = None if configured else new_token()
        digest = hash_token(configured or generated)
        changed = False
        try:
            with self.store.write() as conn:
                row = conn.execute(select(self.table.c.token_hash).where(self.table.c.id == ADMIN_ID)).first()
                if row is None:
                    self._insert_admin(conn, digest)
                else:
                    generated = None
                    if configured and not same_hash(row.token_hash, digest):
                        marker, changed = self._set_admin_hash(conn, digest), True
        except IntegrityError:  # another process initialised the store at the same moment
            return None
        if changed:
            self._changed(marker)
            log.info("admin token replaced by LDS_ADMIN_TOKEN")
        return generated

    def rotate_admin(self, configured: str | None) -> str:
        """A new admin token; the old one stops working at once."""
        if configured:
            raise Conflict("the admin token comes from LDS_ADMIN_TOKEN; change that variable and restart instead")
        token = new_token()
        with self.store.write() as conn:
            exists = conn.execute(select(self.table.c.id).where(self.table.c.id == ADMIN_ID)).first()
            marker = (self._set_admin_hash if exists else self._insert_admin)(conn, hash_token(token))
        self._changed(marker)
        log.info("admin token rotated")
        return token

    def _insert_admin(self, conn, digest: str) -> None:
        now = utcnow()
        conn.execute(
            insert(Token).values(
                id=ADMIN_ID, kind=ADMIN, name="admin", token_hash=digest, grants=[], allowed_apis=list(API_NAMES),
                referers=[], quotas={}, created_at=now, updated_at=now,
            )
        )

    def _set_admin_hash(self, conn, digest: str) -> Any:
        """Inside the caller's transaction; returns the change marker to publish after its commit."""
        conn.execute(update(Token).where(Token.id == ADMIN_ID).values(token_hash=digest, updated_at=utcnow()))
        return self.changes.announce(conn)
