"""Token records on both state-store backends: CRUD, authentication, expiry, revocation, the admin token."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from authfixtures import *
from sqlalchemy import update

from lds.auth.changes import CHANNEL, LayeredChanges, PgChanges
from lds.auth.tokens import ADMIN_ID, TokenStore
from lds.errors import BadRequest, Conflict, NotFound, Unauthorized
from lds.state import StateStore
from lds.state.models import Token


@pytest.fixture()
def tokens(state_store):
    return TokenStore(state_store)


def test_create_authenticate_and_fields(tokens):
    token, row = tokens.create({
        "name": "web map", "allowed_apis": ["lds", "maps"], "referers": ["*.example.com"],
        "grants": [{"connection_name": "carto_dw", "source": "proj.ds.*"}], "quotas": {"geocoding": 10},
    })
    fields = row.fields()
    assert fields["name"] == "web map" and fields["allowed_apis"] == ["lds", "maps"]
    assert fields["quotas"] == {"geocoding": 10} and fields["expiration_date"] is None
    assert "token" not in fields and "token_hash" not in fields
    p = tokens.authenticate(token)
    assert p.id == row.id and p.kind == "api" and not p.is_admin
    assert p.grants == ({"connection_name": "carto_dw", "source": "proj.ds.*"},)
    assert p.referers == ("*.example.com",) and p.quotas == {"geocoding": 10}


def test_unknown_token_is_invalid(tokens):
    with pytest.raises(Unauthorized, match="Invalid token"):
        tokens.authenticate("lds_nope")


def test_revoked_token_is_refused_and_hidden(tokens):
    token, row = tokens.create({"allowed_apis": ["lds"]})
    tokens.revoke(token)
    with pytest.raises(Unauthorized, match="Token revoked"):
        tokens.authenticate(token)
    with pytest.raises(NotFound):
        tokens.get(row.id)
    assert tokens.list() == []


def test_expired_token_is_refused(tokens, state_store):
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    token, row = tokens.create({"allowed_apis": ["lds"], "expiration_date": soon})
    assert tokens.authenticate(token).id == row.id
    with state_store.write() as conn:
        conn.execute(update(Token).where(Token.id == row.id).values(expiration_date=datetime.now(UTC) - timedelta(seconds=1)))
    with pytest.raises(Unauthorized, match="Token expired"):
        tokens.authenticate(token)


def test_find_by_token_or_id_update_and_list(tokens):
    t1, r1 = tokens.create({"allowed_apis": ["lds"]})
    _, r2 = tokens.create({"allowed_apis": ["sql"], "grants": [{"connection_name": "c", "source": "a.b.c"}]})
    assert tokens.get(t1).id == r1.id == tokens.get(r1.id).id
    assert [r.id for r in tokens.list()] == [r1.id, r2.id]
    updated = tokens.update(r1.id, {"referers": ["example.com"], "quotas": {"routing": 5}, "id": r1.id})
    assert updated.referers == ["example.com"] and updated.quotas == {"routing": 5}
    assert tokens.authenticate(t1).referers == ("example.com",)
    with pytest.raises(BadRequest, match="expiration_date"):
        tokens.update(r1.id, {"expiration_date": "2099-01-01T00:00:00Z"})
    with pytest.raises(BadRequest, match="grant"):
        tokens.update(r2.id, {"grants": []})  # sql needs a grant


@pytest.mark.parametrize("body,message", [
    ({}, "allowed_apis"),
    ({"allowed_apis": []}, "allowed_apis"),
    ({"allowed_apis": ["lds", "bogus"]}, "bogus"),
    ({"allowed_apis": ["imports", "lds"]}, "imports"),
    ({"allowed_apis": ["sql"]}, "grant"),
    ({"allowed_apis": ["lds"], "expiration_date": "2001-01-01T00:00:00Z"}, "past"),
    ({"allowed_apis": ["lds"], "expiration_date": "tomorrow"}, "ISO 8601"),
    ({"allowed_apis": ["lds"], "quotas": {"geocoding": -1}}, "quota"),
    ({"allowed_apis": ["lds"], "quotas": {"tiles": 1}}, "tiles"),
    ({"allowed_apis": ["lds"], "allowed_api": ["lds"]}, "allowed_api"),
    ({"allowed_apis": ["lds"], "referers": "example.com"}, "referers"),
])
def test_bad_bodies_are_400_naming_the_field(tokens, body, message):
    with pytest.raises(BadRequest, match=message):
        tokens.create(body)


def test_admin_generated_once_then_rotated(tokens):
    first = tokens.ensure_admin(None)
    assert first and tokens.authenticate(first).is_admin
    assert tokens.ensure_admin(None) is None  # never again, and the hash is kept
    assert tokens.authenticate(first).id == ADMIN_ID
    new = tokens.rotate_admin(None)
    assert tokens.authenticate(new).is_admin
    with pytest.raises(Unauthorized):
        tokens.authenticate(first)
    with pytest.raises(NotFound):
        tokens.get(ADMIN_ID)  # the admin token is not managed through the Tokens API
    assert tokens.list() == []


def test_admin_from_setting_replaces_the_stored_one(tokens):
    generated = tokens.ensure_admin(None)
    configured = "configured-admin-token-" + "z" * 20
    assert tokens.ensure_admin(configured) is None
    assert tokens.authenticate(configured).is_admin
    with pytest.raises(Unauthorized):
        tokens.authenticate(generated)
    with pytest.raises(Conflict, match="LDS_ADMIN_TOKEN"):
        tokens.rotate_admin(configured)


def _settled(tokens: TokenStore) -> None:
    """PostgreSQL: wait (briefly) until this store's listener took in the notifications already sent to it."""
    deadline = time.monotonic() + 2
    while isinstance(tokens.changes, PgChanges | LayeredChanges) and time.monotonic() < deadline:
        before = tokens.changes.current()
        time.sleep(0.05)
        if before is not None and tokens.changes.current() == before:
            return


def _delivered(tokens: TokenStore, seen: int | None) -> None:
    """PostgreSQL delivers a NOTIFY to each listener asynchronously (well under a millisecond, more on a busy
    machine): wait for it to reach this store. SQLite's shared counter needs no wait: it moved at the commit."""
    deadline = time.monotonic() + 2
    while isinstance(tokens.changes, PgChanges) and tokens.changes.current() == seen and time.monotonic() < deadline:
        time.sleep(0.001)


def test_trusted_lookups_end_at_once_when_any_store_changes_a_token(state_store):
    """A valid token is trusted without a query for up to cache_ttl_s, but a change made through any other
    store of the same database (another worker, another machine, the CLI) ends the trust at once."""
    now = [0.0]
    here = TokenStore(state_store, cache_ttl_s=3600, clock=lambda: now[0])
    elsewhere = TokenStore(StateStore(state_store.url))  # another worker or the CLI: its own change counter
    token, row = here.create({"allowed_apis": ["lds"], "quotas": {"routing": 1}})
    assert here.authenticate(token).quotas == {"routing": 1}
    _settled(here)
    with state_store.write() as conn:  # a write that bypasses the stores: the lookup stays trusted (no query)
        conn.execute(update(Token).where(Token.id == row.id).values(quotas={"routing": 7}))
    assert here.authenticate(token).quotas == {"routing": 1}
    seen = here.changes.current()
    elsewhere.update(row.id, {"quotas": {"routing": 2}})
    _delivered(here, seen)
    assert here.authenticate(token).quotas == {"routing": 2}  # at once, not after cache_ttl_s
    seen = here.changes.current()
    elsewhere.revoke(row.id)
    _delivered(here, seen)
    with pytest.raises(Unauthorized, match="Token revoked"):
        here.authenticate(token)
    other, other_row = here.create({"allowed_apis": ["lds"]})
    here.authenticate(other)
    here.revoke(other_row.id)
    with pytest.raises(Unauthorized, match="Token revoked"):
        here.authenticate(other)  # the process that revoked it refuses it at once
    with pytest.raises(Unauthorized, match="Invalid token"):
        here.authenticate("lds_nope")
    third, third_row = here.create({"allowed_apis": ["lds"]})
    here.authenticate(third)
    now[0] = 3600.1
    with state_store.write() as conn:
        conn.execute(update(Token).where(Token.id == third_row.id).values(name="renamed"))
    assert here.authenticate(third).name == "renamed"  # looked up again after cache_ttl_s anyway


def _revoke_in_another_process(url: str, token_id: str) -> None:
    TokenStore(StateStore(url)).revoke(token_id)


def test_a_revocation_by_another_process_applies_at_once(state_store):
    import multiprocessing

    here = TokenStore(state_store, cache_ttl_s=3600)
    token, row = here.create({"allowed_apis": ["lds"]})
    assert here.authenticate(token).id == row.id
    _settled(here)
    seen = here.changes.current()
    proc = multiprocessing.get_context("spawn").Process(target=_revoke_in_another_process,
                                                         args=(state_store.url, row.id))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    _delivered(here, seen)
    with pytest.raises(Unauthorized, match="Token revoked"):
        here.authenticate(token)


def test_without_its_listener_a_process_trusts_no_lookup(pg_url):
    """PostgreSQL: while the LISTEN connection is down nothing is trusted; after it is back, trust resumes."""
    import psycopg

    store = StateStore(pg_url)
    store.migrate()
    tokens = TokenStore(store, cache_ttl_s=3600)
    token, row = tokens.create({"allowed_apis": ["lds"]})
    tokens.authenticate(token)
    assert tokens.changes.current() is not None
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                      (f"LISTEN {CHANNEL}",))
    time.sleep(0.2)
    assert tokens.changes.current() is None  # the broken listener is noticed on the next read
    with store.write() as conn:
        conn.execute(update(Token).where(Token.id == row.id).values(name="changed while deaf"))
    assert tokens.authenticate(token).name == "changed while deaf"  # looked up: nothing is trusted meanwhile
    time.sleep(1.1)
    assert tokens.changes.current() is not None  # listening again


def test_workers_sharing_a_state_dir_see_a_change_with_no_wait(pg_url, tmp_path):
    """PostgreSQL signals every listener by the writer's commit, but a listener's backend may send the notification
    a moment later on a busy machine: the workers of one server (one state dir) also share a file counter, moved
    before the writer returns, so the very next lookup in another worker sees the change, no wait for delivery."""
    store = StateStore(pg_url)
    store.migrate()
    here = TokenStore(store, cache_ttl_s=3600, local_dir=tmp_path)
    elsewhere = TokenStore(StateStore(pg_url), local_dir=tmp_path)
    assert isinstance(here.changes, LayeredChanges)
    token, row = here.create({"allowed_apis": ["lds"], "quotas": {"routing": 1}})
    assert here.authenticate(token).quotas == {"routing": 1}
    _settled(here)
    for n in range(2, 12):
        elsewhere.update(row.id, {"quotas": {"routing": n}})
        assert here.authenticate(token).quotas == {"routing": n}  # no _delivered(): at once
    elsewhere.revoke(row.id)
    with pytest.raises(Unauthorized, match="Token revoked"):
        here.authenticate(token)
    # a process of another server (another state dir) still learns through PostgreSQL
    far = TokenStore(StateStore(pg_url), cache_ttl_s=3600, local_dir=tmp_path / "other")
    other, other_row = far.create({"allowed_apis": ["lds"]})
    assert far.authenticate(other).id == other_row.id
    seen = far.changes.current()
    here.update(other_row.id, {"name": "renamed"})
    deadline = time.monotonic() + 2
    while far.changes.current() == seen and time.monotonic() < deadline:
        time.sleep(0.001)
    assert far.authenticate(other).name == "renamed"


def test_trusted_lookup_still_checks_the_expiration_date(state_store):
    now = [0.0]
    tokens = TokenStore(state_store, cache_ttl_s=3600, clock=lambda: now[0])
    soon = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    token, row = tokens.create({"allowed_apis": ["lds"], "expiration_date": soon})
    assert tokens.authenticate(token).id == row.id
    import time

    time.sleep(1.6)
    with pytest.raises(Unauthorized, match="Token expired"):
        tokens.authenticate(token)


GRANT = {"connection_name": "carto_dw", "source": "project.dataset.table"}
UNSTORABLE = ["x\udcff", "\ud800", "a\x00b"]  # lone surrogates (from argv or a lax decoder), NUL (PostgreSQL refuses)


@pytest.mark.parametrize("bad", UNSTORABLE)
def test_every_string_field_is_checked_before_it_is_stored(tokens, bad):
    """Stored, one such string broke every later listing of the tokens; now each is a 400 naming the field."""
    token, _ = tokens.create({"allowed_apis": ["lds", "sql"], "grants": [GRANT], "name": "fine"})
    bodies = [
        ({"name": bad}, "name"),
        ({"referers": ["app.example.com", f"{bad}.example.com"]}, "referers"),
        ({"referers": [f"https://app.example.com/{bad}"]}, "referers"),
        ({"grants": [{"connection_name": "carto_dw", "source": f"project.{bad}.table"}]}, "source"),
        ({"grants": [{"connection_name": f"dw{bad}", "source": "project.dataset.table"}]}, "connection_name"),
        ({"allowed_apis": ["lds", bad]}, "allowed_apis"),
        ({"quotas": {bad: 1}}, "quotas"),
        ({bad: 1}, "field name"),
    ]
    for body, field in bodies:
        with pytest.raises(BadRequest, match=field):
            tokens.create({"allowed_apis": ["lds", "sql"], "grants": [GRANT], **body})
        with pytest.raises(BadRequest, match=field):
            tokens.update(token, body)
    with pytest.raises(BadRequest, match="expiration_date"):
        tokens.create({"allowed_apis": ["lds"], "expiration_date": f"2099-01-01{bad}"})
    [row] = tokens.list()  # the listing still works, and nothing was changed
    assert row.name == "fine" and row.referers == [] and row.grants == [GRANT]
