"""Token records on both state-store backends: CRUD, authentication, expiry, revocation, the admin token."""

from datetime import UTC, datetime, timedelta

import pytest
from authfixtures import *
from sqlalchemy import update

from lds.auth.tokens import ADMIN_ID, TokenStore
from lds.errors import BadRequest, Conflict, NotFound, Unauthorized
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


def test_trusted_lookups_expire_and_changes_through_the_store_apply_at_once(state_store):
    """With cache_ttl_s a valid token is trusted without a query for that long (another process's change
    shows after it), while revocations and updates through the same store apply at once."""
    now = [0.0]
    here = TokenStore(state_store, cache_ttl_s=5, clock=lambda: now[0])
    elsewhere = TokenStore(state_store)  # another worker or the CLI
    token, row = here.create({"allowed_apis": ["lds"], "quotas": {"routing": 1}})
    assert here.authenticate(token).quotas == {"routing": 1}
    elsewhere.update(row.id, {"quotas": {"routing": 2}})
    assert here.authenticate(token).quotas == {"routing": 1}  # trusted lookup
    now[0] = 5.1
    assert here.authenticate(token).quotas == {"routing": 2}  # looked up again after the TTL
    elsewhere.revoke(row.id)
    assert here.authenticate(token).id == row.id  # still trusted for up to cache_ttl_s...
    now[0] = 10.3
    with pytest.raises(Unauthorized, match="Token revoked"):
        here.authenticate(token)  # ...then refused
    other, other_row = here.create({"allowed_apis": ["lds"]})
    here.authenticate(other)
    here.revoke(other_row.id)
    with pytest.raises(Unauthorized, match="Token revoked"):
        here.authenticate(other)  # the process that revoked it refuses it at once
    with pytest.raises(Unauthorized, match="Invalid token"):
        here.authenticate("lds_nope")


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
