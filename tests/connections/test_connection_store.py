"""lds.connections against the real PostgreSQL on 127.0.0.1:5432 (a database of its own, dropped afterwards)
and the embedded carto_dw: records, sealed credentials, tests before storing, grants, browsing, the cache."""

from __future__ import annotations

import multiprocessing
import os
import secrets
import sqlite3
import stat
from pathlib import Path

import psycopg
import pytest
from authfixtures import *
from authfixtures import pg_database

from lds.auth.tokens import TokenStore
from lds.connections import Connections, Sealer
from lds.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable
from lds.settings import Settings
from lds.state import StateStore
from lds.warehouse import ConnectionFailed

PASSWORD = "pw-" + secrets.token_hex(12)


@pytest.fixture(scope="module")
def dbname():
    with pg_database("lds_conn_test", "CREATE SCHEMA shop; CREATE TABLE shop.stores (id int, name text, opened date)",
                     "CREATE VIEW shop.open_stores AS SELECT id FROM shop.stores") as name:
        yield name


def creds(dbname, **over):
    return {"host": "127.0.0.1", "port": 5432, "database": dbname, "username": "postgres",
            "password": PASSWORD, "sslmode": "disable", **over}


def body(dbname, name="pg1", **over):
    return {"name": name, "provider_id": "postgres", "config": {"type": "password", "credentials": creds(dbname, **over)}}


@pytest.fixture()
def settings(tmp_path):
    return Settings.from_env(env={}, state_dir=str(tmp_path), warehouse_connect_timeout_s=2.0)


@pytest.fixture()
def store(settings):
    s = StateStore.from_settings(settings)
    yield s
    s.dispose()


@pytest.fixture()
def conns(store, settings):
    c = Connections(store, settings)
    yield c
    c.close()


def test_create_list_get_by_id_and_name(conns, dbname):
    made = conns.create(body(dbname))
    assert made["name"] == "pg1" and made["provider_id"] == "postgres" and made["builtin"] is False
    assert made["config"]["credentials"] == {"host": "127.0.0.1", "port": 5432, "database": dbname,
                                             "username": "postgres", "sslmode": "disable"}
    assert PASSWORD not in repr(made)
    assert conns.get(made["id"]) == conns.get("pg1") == made
    listed = conns.list()
    assert [c["name"] for c in listed] == ["carto_dw", "pg1"] and listed[0]["builtin"] is True
    with pytest.raises(NotFound):
        conns.get("nope")


def test_names_are_unique_and_carto_dw_is_reserved(conns, dbname):
    conns.create(body(dbname))
    with pytest.raises(Conflict, match="already exists"):
        conns.create(body(dbname))
    with pytest.raises(Conflict):
        conns.create(body(dbname, name="carto_dw"))
    other = conns.create(body(dbname, name="pg2"))
    with pytest.raises(Conflict, match="already exists"):
        conns.update(other["id"], {"name": "pg1"})
    for bad in ({"name": "a b"}, {"name": ""}, {"name": "x" * 101}, {"name": 5}):
        with pytest.raises(BadRequest, match="name"):
            conns.create({**body(dbname), **bad})


@pytest.mark.parametrize("bad, reason", [
    ({"port": 1}, "Connection refused"),
    ({"database": "lds_no_such_db"}, "does not exist"),
    ({"username": "lds_no_such_role"}, "does not exist"),
    ({"schema": "no_such_schema"}, "does not exist"),
    ({"host": "no-such-host.invalid"}, "no-such-host.invalid"),
])
def test_failed_connections_store_nothing_and_hide_the_password(conns, dbname, bad, reason):
    with pytest.raises(ConnectionFailed, match=reason) as err:
        conns.create(body(dbname, **bad))
    assert err.value.status == 400 and PASSWORD not in err.value.message
    assert [c["name"] for c in conns.list()] == ["carto_dw"]


def test_bad_bodies_are_400(conns, dbname):
    for bad in ("text", {"name": "x"}, {**body(dbname), "provider_id": "oracle"},
                {**body(dbname), "provider_id": "carto_dw"}, {**body(dbname), "extra": 1},
                {**body(dbname), "config": {"credentials": "x"}}, {**body(dbname), "config": {"nope": 1}},
                {**body(dbname), "privacy": "public"}, body(dbname, port="many"), body(dbname, sslmode="often"),
                body(dbname, database="d\x00")):
        with pytest.raises(BadRequest):
            conns.create(bad)
    assert len(conns.list()) == 1


def test_credentials_are_encrypted_at_rest(conns, dbname, settings, store):
    made = conns.create(body(dbname))
    raw = b"".join(p.read_bytes() for p in Path(settings.state_dir).glob("lds.db*"))  # the file and its WAL
    assert PASSWORD.encode() not in raw and made["id"].encode() in raw
    with sqlite3.connect(os.path.join(settings.state_dir, "lds.db")) as db:
        config, secret = db.execute("SELECT config, secret FROM connections").fetchone()
    assert PASSWORD not in config and PASSWORD not in secret and "127.0.0.1" not in secret
    assert Sealer(None, settings.state_dir).open(secret)["password"] == PASSWORD
    key = os.path.join(settings.state_dir, "secret.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    with pytest.raises(Unavailable, match="decrypted"):  # another key cannot read it
        Sealer("another key", settings.state_dir).open(secret)


def test_secret_key_setting_is_used_instead_of_a_file(tmp_path, dbname):
    settings = Settings.from_env(env={}, state_dir=str(tmp_path), secret_key="k-" + secrets.token_hex(8))
    store = StateStore.from_settings(settings)
    conns = Connections(store, settings)
    conns.create(body(dbname))
    assert not (tmp_path / "secret.key").exists()
    with store.read() as conn:
        secret = conn.exec_driver_sql("SELECT secret FROM connections").scalar()
    assert Sealer(settings.secret_key, tmp_path).open(secret)["password"] == PASSWORD
    store.dispose()


def _stored(store, sealer):
    with store.read() as conn:
        return sealer.open(conn.exec_driver_sql("SELECT secret FROM connections").scalar())


def test_patch_keeps_and_merges_credentials(conns, dbname, store):
    made = conns.create(body(dbname))
    renamed = conns.update("pg1", {"name": "pg_renamed", "privacy": "shared"})
    assert renamed["name"] == "pg_renamed" and renamed["privacy"] == "shared"
    assert _stored(store, conns.sealer)["password"] == PASSWORD
    patched = conns.update(made["id"], {"config": {"credentials": {"schema": "shop"}}})  # partial: merged
    assert patched["config"]["credentials"]["schema"] == "shop" and patched["updated_at"] >= made["updated_at"]
    assert _stored(store, conns.sealer) == {**creds(dbname), "schema": "shop"}
    conns.update(made["id"], {"config": {"credentials": {"schema": None}}})  # null removes a field
    assert "schema" not in _stored(store, conns.sealer)
    with pytest.raises(ConnectionFailed, match="refused"):  # tested first: nothing changes
        conns.update(made["id"], {"name": "changed", "config": {"credentials": {"port": 1}}})
    assert conns.get(made["id"])["name"] == "pg_renamed" and _stored(store, conns.sealer)["port"] == 5432
    with pytest.raises(BadRequest, match="provider_id"):
        conns.update(made["id"], {"provider_id": "oracle"})


def test_delete_refused_while_grants_name_it_unless_forced(conns, dbname, store):
    conns.create(body(dbname))
    tokens = TokenStore(store)
    _, row = tokens.create({"allowed_apis": ["sql"], "grants": [{"connection_name": "pg1", "source": "shop.stores"}]})
    _, gone = tokens.create({"allowed_apis": ["sql"], "grants": [{"connection_name": "pg2", "source": "*"}]})
    assert conns.granted_to("pg1") == [row.id]
    with pytest.raises(Conflict, match="force=true") as err:
        conns.delete("pg1")
    assert err.value.status == 409 and row.id in err.value.message
    with pytest.raises(Conflict):  # renaming would orphan the grant too
        conns.update("pg1", {"name": "pg9"})
    conns.create(body(dbname, name="pg2"))
    tokens.revoke(gone.id)
    conns.delete("pg2")  # only a revoked token named it
    conns.delete("pg1", force=True)
    assert [c["name"] for c in conns.list()] == ["carto_dw"]
    with pytest.raises(NotFound):
        conns.delete("pg1")


def test_resources_browse_databases_schemas_tables_columns(conns, dbname):
    conns.create(body(dbname))
    assert conns.resources("pg1") == [{"id": dbname, "name": dbname, "type": "database"}]
    schemas = {c["name"]: c for c in conns.resources("pg1", dbname)}
    assert schemas["shop"] == {"id": f"{dbname}.shop", "name": "shop", "type": "schema"} and "public" in schemas
    assert conns.resources("pg1", f"{dbname}.shop") == [
        {"id": f"{dbname}.shop.open_stores", "name": "open_stores", "type": "view"},
        {"id": f"{dbname}.shop.stores", "name": "stores", "type": "table"}]
    assert [(c["name"], c["type"]) for c in conns.resources("pg1", f"{dbname}.shop.stores")] == [
        ("id", "number"), ("name", "string"), ("opened", "timestamp")]
    with pytest.raises(NotFound):
        conns.resources("pg1", f"{dbname}.nope")


def test_carto_dw_is_built_in_and_protected(conns):
    assert conns.get("carto_dw")["provider_id"] == "carto_dw"
    with pytest.raises(Forbidden):
        conns.update("carto_dw", {"name": "x"})
    with pytest.raises(Forbidden):
        conns.delete("carto_dw")
    assert [c["type"] for c in conns.resources("carto_dw")] == ["database"]
    _, wh = conns.warehouse("carto_dw")
    assert conns.warehouse("carto_dw")[1] is wh


def test_open_warehouses_are_cached_and_reopened_after_a_change(conns, dbname, store, settings):
    made = conns.create(body(dbname))
    record, wh = conns.warehouse("pg1")
    assert record["id"] == made["id"] and conns.warehouse(made["id"])[1] is wh
    with wh.query("SELECT count(*) FROM shop.stores", timeout_s=10) as q:
        assert list(q.rows()) == [(0,)]
    other = Connections(store, settings)  # another process changes the connection
    other.update("pg1", {"config": {"credentials": {"schema": "shop"}}})
    _, wh2 = conns.warehouse("pg1")
    assert wh2 is not wh and wh2.config.schema == "shop"
    with wh2.query("SELECT count(*) FROM stores", timeout_s=10) as q:  # schema first on the search_path
        assert list(q.rows()) == [(0,)]
    conns.update("pg1", {"privacy": "shared"})  # this process: dropped at once
    _, wh3 = conns.warehouse("pg1")
    assert wh3 is not wh2
    with wh3.query("SELECT 1", timeout_s=10) as q:
        list(q.rows())
    assert wh3._pool is not None
    other.delete("pg1")  # another process deletes it: 404 on the next use, and the pool is closed
    with pytest.raises(NotFound):
        conns.warehouse("pg1")
    assert made["id"] not in conns.warehouses._open and wh3._pool is None
    other.close()


def _child(conns, parent_id, out):
    _, wh = conns.warehouse("pg1")
    with wh.query("SELECT 41 + 1", timeout_s=10) as q:
        out.put((id(wh) != parent_id, list(q.rows())))


def test_a_forked_process_opens_its_own_warehouses(conns, dbname):
    conns.create(body(dbname))
    _, wh = conns.warehouse("pg1")
    with wh.query("SELECT 1", timeout_s=10) as q:
        list(q.rows())
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(conns, id(wh), out))
    proc.start()
    result = out.get(timeout=30)
    proc.join(30)
    assert result == (True, [(42,)]) and proc.exitcode == 0
    with wh.query("SELECT 2", timeout_s=10) as q:  # the parent's pool still works
        assert list(q.rows()) == [(2,)]


def _key_of(state_dir, out):
    from lds.connections.secrets import key_file_key

    out.put(key_file_key(state_dir))


def test_processes_starting_at_once_make_one_key(tmp_path):
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_key_of, args=(tmp_path, out)) for _ in range(6)]
    for p in procs:
        p.start()
    keys = {out.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(30)
    assert keys == {(tmp_path / "secret.key").read_bytes()} and sorted(os.listdir(tmp_path)) == ["secret.key"]


def test_postgresql_state_store_holds_no_password_in_clear(pg_url, tmp_path, dbname):
    settings = Settings.from_env(env={}, state_dir=str(tmp_path), database_url=pg_url)
    store = StateStore.from_settings(settings)
    conns = Connections(store, settings)
    try:
        made = conns.create(body(dbname, name=f"pg_{secrets.token_hex(3)}"))
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT t::text FROM connections t WHERE id = %s", [made["id"]]).fetchone()[0]
        assert made["name"] in row and PASSWORD not in row
        assert conns.warehouse(made["name"])[1].config.password == PASSWORD
        conns.delete(made["id"])
    finally:
        conns.close()
        store.dispose()
