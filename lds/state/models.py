"""SQLAlchemy models of the metadata store. The schema itself is owned by the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite keeps no time zone, PostgreSQL must agree with it."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Token(Base):
    """An admin token (kind ``admin``, at most one, id ``admin``) or an API access token (kind ``api``).

    Only the SHA-256 of the token string is stored; ``id`` is a separate random public handle.
    """

    __tablename__ = "tokens"
    __table_args__ = (Index("ix_tokens_kind", "kind"), UniqueConstraint("token_hash", name="uq_tokens_token_hash"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    grants: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False, default=list)
    allowed_apis: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    referers: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    quotas: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False, default=dict)
    rate_limit_per_s: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None = the setting's default
    expiration_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    def fields(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "grants": list(self.grants or []),
            "allowed_apis": list(self.allowed_apis or []),
            "referers": list(self.referers or []),
            "quotas": dict(self.quotas or {}),
            "rate_limit_per_s": self.rate_limit_per_s,
            "expiration_date": _iso(self.expiration_date),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


class QuotaUsage(Base):
    """Units used by one token for one service in one calendar month (UTC), ``period`` = ``YYYY-MM``."""

    __tablename__ = "quota_usage"

    token_id: Mapped[str] = mapped_column(String(32), ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class QuotaLease(Base):
    """Units of one token's monthly quota reserved by one serving process (``holder``), counted there in memory.

    ``used`` + every live reservation never exceeds the limit; a reservation whose holder stopped renewing
    it (``expires_at`` passed: the process died) is deleted by the next process that settles the same counter.
    """

    __tablename__ = "quota_leases"

    token_id: Mapped[str] = mapped_column(String(32), ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64), primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Connection(Base):
    """A warehouse connection of the Connections API (``carto_dw`` is built in and has no row).

    ``config`` holds what may be shown (``credentials`` without the password); ``secret`` is the whole
    credentials object, password included, encrypted with the secret key (:mod:`lds.connections.secrets`).
    """

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("name", name="uq_connections_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    provider_id: Mapped[str] = mapped_column(String(32), nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
