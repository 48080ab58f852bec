"""The Connections API without Flask: connection records in the state store, their credentials sealed,
every change tested against the warehouse first, and one open warehouse per connection and process.

A connection is addressed by its id or its name. ``carto_dw`` (the embedded warehouse) is built in: always
listed, never stored, never changed or deleted. A record's ``updated_at`` is its version: a process that
holds an open warehouse for an older version (changed by another process) closes it and opens a new one.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from lds.auth.hashing import new_id
from lds.connections.records import BUILTIN, merge_credentials, normalised, parse_body, public
from lds.connections.secrets import Sealer
from lds.errors import BadRequest, Conflict, Forbidden, NotFound
from lds.settings import Settings
from lds.state.models import Connection, Token, _iso, utcnow
from lds.state.store import StateStore
from lds.versions import served_path
from lds.warehouse import Warehouse, open_warehouse

log = logging.getLogger("lds.connections")

Opener = Callable[[str, Any, Settings], Warehouse]


def validated_credentials(provider: str, credentials: Any) -> dict[str, Any]:
    """The credentials as the driver accepts them (400 naming the bad field), password included."""
    if provider == "postgres":
        from lds.warehouse.postgres import PostgresConfig

        return normalised(PostgresConfig.from_credentials(credentials))
    raise BadRequest(f"unknown provider_id {provider!r}")


class WarehouseCache:
    """Open warehouses of this process, one per connection, keyed by connection id and record version.

    A forked child (gunicorn preloading) forgets the parent's warehouses without closing them: their pools
    and DuckDB instances belong to the parent.
    """

    def __init__(self, settings: Settings, opener: Opener = open_warehouse):
        self.settings = settings
        self.opener = opener
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._open: dict[str, tuple[str, Warehouse]] = {}

    def _mine(self) -> None:
        if self._pid != os.getpid():
            self._pid, self._lock, self._open = os.getpid(), threading.Lock(), {}

    def get(self, key: str, version: str, provider: str, credentials: Callable[[], Any]) -> Warehouse:
        """The open warehouse of connection ``key`` at ``version``; ``credentials()`` is called only to open one."""
        self._mine()
        with self._lock:
            held = self._open.get(key)
            if held is not None and held[0] == version:
                return held[1]
            warehouse = self.opener(provider, credentials(), self.settings)
            self._open[key] = (version, warehouse)
        if held is not None:
            held[1].close()  # an older version of the connection (changed by another process)
        return warehouse

    def drop(self, key: str) -> None:
        self._mine()
        with self._lock:
            held = self._open.pop(key, None)
        if held is not None:
            held[1].close()

    def close(self) -> None:
        self._mine()
        with self._lock:
            held, self._open = list(self._open.values()), {}
        for _, warehouse in held:
            warehouse.close()


class Connections:
    """Connection CRUD, resource browsing and the warehouse behind a connection (for the SQL API)."""

    def __init__(self, store: StateStore, settings: Settings, opener: Opener = open_warehouse):
        self.store = store
        self.settings = settings
        self.opener = opener
        self.sealer = Sealer(settings.secret_key, settings.state_dir)
        self.warehouses = WarehouseCache(settings, opener)
        self._builtin_at = _iso(utcnow())
        self._names: dict[str, str] = {}  # name -> id of the warehouses opened by name

    # --- reading -------------------------------------------------------------------------------------
    def builtin(self) -> dict[str, Any]:
        return {"id": BUILTIN, "name": BUILTIN, "provider_id": BUILTIN, "privacy": "shared", "builtin": True,
                "config": {}, "created_at": self._builtin_at, "updated_at": self._builtin_at}

    def fields(self, row: Connection) -> dict[str, Any]:
        config = dict(row.config or {})
        privacy = config.pop("privacy", "private")
        return {"id": row.id, "name": row.name, "provider_id": row.provider_id, "privacy": privacy,
                "builtin": False, "config": config, "created_at": _iso(row.created_at),
                "updated_at": _iso(row.updated_at)}

    def list(self) -> list[dict[str, Any]]:
        with self.store.session() as session:
            rows = list(session.scalars(select(Connection).order_by(Connection.created_at, Connection.id)))
        return [self.builtin(), *(self.fields(r) for r in rows)]

    def _find(self, session, ref: str) -> Connection:
        if not isinstance(ref, str) or not ref or len(ref) > 200:
            raise NotFound("Connection not found")
        rows = list(session.scalars(select(Connection).where(or_(Connection.id == ref, Connection.name == ref))))
        if not rows:
            raise NotFound(f"Connection not found: {ref[:100]!r}")
        return next((r for r in rows if r.id == ref), rows[0])

    def get(self, ref: str) -> dict[str, Any]:
        if ref == BUILTIN:
            return self.builtin()
        with self.store.session() as session:
            return self.fields(self._find(session, ref))

    # --- writing -------------------------------------------------------------------------------------
    def _test(self, provider: str, credentials: dict[str, Any]) -> None:
        """Open the warehouse and run a trivial statement; ConnectionFailed (400, password scrubbed) if not."""
        warehouse = self.opener(provider, credentials, self.settings)
        try:
            warehouse.test()
        finally:
            warehouse.close()

    def create(self, body: Any) -> dict[str, Any]:
        fields = parse_body(body, creating=True)
        name = fields["name"]
        if name == BUILTIN:
            raise Conflict(f"a connection named {name!r} already exists (built in)")
        with self.store.session() as session:
            if session.scalars(select(Connection.id).where(Connection.name == name)).first() is not None:
                raise Conflict(f"a connection named {name!r} already exists")
        credentials = validated_credentials(fields["provider_id"], fields["credentials"])
        self._test(fields["provider_id"], credentials)
        now = utcnow()
        row = Connection(id=new_id(), name=name, provider_id=fields["provider_id"],
                         config=self._config(fields, {}, credentials), secret=self.sealer.seal(credentials),
                         created_at=now, updated_at=now)
        try:
            with self.store.session() as session:
                session.add(row)
        except IntegrityError:
            raise Conflict(f"a connection named {name!r} already exists") from None
        log.info("connection %s (%s, %s) created", row.id, row.name, row.provider_id)
        return self.fields(row)

    def update(self, ref: str, body: Any, *, force: bool = False) -> dict[str, Any]:
        fields = parse_body(body, creating=False)
        self._refuse_builtin(ref, "changed")
        with self.store.session() as session:
            row = self._find(session, ref)
            row_id, old_name, provider, config = row.id, row.name, row.provider_id, dict(row.config or {})
            stored = self.sealer.open(row.secret)
        if fields.get("provider_id", provider) != provider:
            raise BadRequest(f"'provider_id' of a connection cannot change (it is {provider!r})")
        name = fields.get("name", old_name)
        if name != old_name:
            if name == BUILTIN:
                raise Conflict(f"a connection named {name!r} already exists (built in)")
            self._refuse_if_granted(old_name, force, "renamed")
        credentials = stored
        if "credentials" in fields:
            credentials = validated_credentials(provider, merge_credentials(stored, fields["credentials"]))
            self._test(provider, credentials)
        with self.store.session() as session:
            row = self._find(session, row_id)
            row.name = name
            row.config = self._config(fields, config, credentials)
            row.secret = self.sealer.seal(credentials)
            row.updated_at = utcnow()
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"a connection named {name!r} already exists") from None
        self.warehouses.drop(row_id)
        log.info("connection %s (%s) updated", row_id, name)
        return self.fields(row)

    def delete(self, ref: str, *, force: bool = False) -> None:
        self._refuse_builtin(ref, "deleted")
        with self.store.session() as session:
            row = self._find(session, ref)
            self._refuse_if_granted(row.name, force, "deleted", session)
            session.delete(row)
            row_id, name = row.id, row.name
        self.warehouses.drop(row_id)
        log.info("connection %s (%s) deleted%s", row_id, name, " (forced)" if force else "")

    @staticmethod
    def _config(fields: dict[str, Any], old: dict[str, Any], credentials: dict[str, Any]) -> dict[str, Any]:
        config = {"type": fields.get("type", old.get("type") or "password"),
                  "privacy": fields.get("privacy", old.get("privacy", "private")),
                  "credentials": public(credentials)}
        if config["type"] is None:
            config["type"] = "password"
        return config

    @staticmethod
    def _refuse_builtin(ref: str, what: str) -> None:
        if ref == BUILTIN:
            raise Forbidden(f"the built-in {BUILTIN} connection cannot be {what}")

    def granted_to(self, name: str, session=None) -> list[str]:
        """Ids of live API tokens whose grants name connection ``name``."""
        if session is None:
            with self.store.session() as s:
                return self.granted_to(name, s)
        now = utcnow()
        rows = session.execute(select(Token.id, Token.grants, Token.expiration_date).where(
            Token.kind == "api", Token.revoked_at.is_(None)))
        return sorted(tid for tid, grants, expires in rows
                      if (expires is None or expires > now)
                      and any(isinstance(g, dict) and g.get("connection_name") == name for g in grants or ()))

    def _refuse_if_granted(self, name: str, force: bool, what: str, session=None) -> None:
        if force:
            return
        tokens = self.granted_to(name, session)
        if tokens:
            shown = ", ".join(tokens[:5]) + (", ..." if len(tokens) > 5 else "")
            raise Conflict(f"connection {name!r} is named by the grants of {len(tokens)} token(s) ({shown}); "
                           f"add ?force=true to have it {what} anyway")

    # --- the warehouse behind a connection -------------------------------------------------------------
    def warehouse(self, ref: str) -> tuple[dict[str, Any], Warehouse]:
        """The connection's record and its open warehouse in this process (opened on first use)."""
        if ref == BUILTIN:
            served = served_path(self.settings.data_dir).name if self.settings.data_dir else ""  # lds.* follow a swap
            return self.builtin(), self.warehouses.get(BUILTIN, f"builtin:{served}", BUILTIN, lambda: None)
        try:
            with self.store.session() as session:
                row = self._find(session, ref)
                version = row.updated_at.isoformat() if isinstance(row.updated_at, datetime) else str(row.updated_at)
                record, provider, secret = self.fields(row), row.provider_id, row.secret
        except NotFound:
            self.warehouses.drop(self._names.pop(ref, ref))  # deleted by another process: close what we held
            raise
        self._names[record["name"]] = record["id"]
        return record, self.warehouses.get(record["id"], version, provider, lambda: self.sealer.open(secret))

    def resources(self, ref: str, path: str = "") -> list[dict[str, str]]:
        return self.warehouse(ref)[1].resources(path)

    def close(self) -> None:
        self.warehouses.close()
