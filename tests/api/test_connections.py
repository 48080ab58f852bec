"""Connections API over HTTP with auth on, against the real PostgreSQL on 127.0.0.1:5432 (a database of its
own) and the embedded carto_dw: CRUD by id and name, failed connections, grants, browsing, admin only."""

from __future__ import annotations

import logging
import secrets

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, bearer, make_token, pg_database

PASSWORD = "pw-" + secrets.token_hex(12)
ADMIN = bearer(ADMIN_TOKEN)


@pytest.fixture(scope="module")
def dbname():
    with pg_database("lds_connapi_test", "CREATE SCHEMA shop; CREATE TABLE shop.stores (id bigint, name text)") as name:
        yield name


def body(dbname, name="pg1", **over):
    creds = {"host": "127.0.0.1", "port": 5432, "database": dbname, "username": "postgres", "password": PASSWORD,
             "sslmode": "disable", **over}
    return {"name": name, "provider_id": "postgres", "config": {"type": "password", "credentials": creds}}


def envelope(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    payload = r.get_json()
    assert set(payload) == {"error", "status"} and payload["status"] == status
    return payload["error"]


def test_password_is_not_in_the_state_store_in_clear(auth_client, dbname, tmp_path):
    r = auth_client.post("/v3/connections", json=body(dbname), headers=ADMIN)
    assert r.status_code == 201
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("lds.db*"))  # auth_app's state store, WAL included
    assert r.get_json()["id"].encode() in raw and PASSWORD.encode() not in raw
    r = auth_client.patch("/v3/connections/pg1", json={"privacy": "shared"}, headers=ADMIN)  # no credentials: kept
    assert r.status_code == 200 and r.get_json()["privacy"] == "shared"
    assert auth_client.get("/v3/connections/pg1/resources", headers=ADMIN).status_code == 200


def test_crud_by_id_and_name(auth_client, dbname, caplog):
    caplog.set_level(logging.DEBUG)
    r = auth_client.post("/v3/connections", json=body(dbname), headers=ADMIN)
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    assert made["name"] == "pg1" and made["provider_id"] == "postgres" and "password" not in made["config"]["credentials"]
    listed = auth_client.get("/v3/connections", headers=ADMIN).get_json()
    assert [(c["id"], c["name"], c["provider_id"]) for c in listed] == [
        ("carto_dw", "carto_dw", "carto_dw"), (made["id"], "pg1", "postgres")]
    assert auth_client.get(f"/v3/connections/{made['id']}", headers=ADMIN).get_json() == made
    assert auth_client.get("/v3/connections/pg1", headers=ADMIN).get_json() == made
    r = auth_client.patch("/v3/connections/pg1", json={"name": "pg2", "config": {"credentials": {"schema": "shop"}}},
                          headers=ADMIN)
    assert r.status_code == 200 and r.get_json()["name"] == "pg2"
    assert r.get_json()["config"]["credentials"]["schema"] == "shop"
    envelope(auth_client.post("/v3/connections", json=body(dbname, name="pg2"), headers=ADMIN), 409)
    assert auth_client.delete(f"/v3/connections/{made['id']}", headers=ADMIN).status_code == 204
    envelope(auth_client.get("/v3/connections/pg2", headers=ADMIN), 404)
    everything = [r.get_data(as_text=True) for r in (auth_client.get("/v3/connections", headers=ADMIN),)]
    assert PASSWORD not in "".join(everything) and PASSWORD not in caplog.text


@pytest.mark.parametrize("bad, reason", [({"port": 1}, "refused"), ({"database": "lds_no_such_db"}, "does not exist")])
def test_failed_connection_is_400_with_the_reason_and_nothing_stored(auth_client, dbname, bad, reason):
    r = auth_client.post("/v3/connections", json=body(dbname, **bad), headers=ADMIN)
    error = envelope(r, 400)
    assert reason in error and PASSWORD not in r.get_data(as_text=True)
    assert len(auth_client.get("/v3/connections", headers=ADMIN).get_json()) == 1


def test_delete_with_grants_is_409_unless_forced(auth_client, dbname):
    assert auth_client.post("/v3/connections", json=body(dbname), headers=ADMIN).status_code == 201
    make_token(auth_client, allowed_apis=["sql"], grants=[{"connection_name": "pg1", "source": "shop.stores"}])
    assert "force=true" in envelope(auth_client.delete("/v3/connections/pg1", headers=ADMIN), 409)
    envelope(auth_client.delete("/v3/connections/pg1?force=perhaps", headers=ADMIN), 400)
    assert auth_client.delete("/v3/connections/pg1?force=true", headers=ADMIN).status_code == 204


def test_resources_browsing(auth_client, dbname):
    assert auth_client.post("/v3/connections", json=body(dbname), headers=ADMIN).status_code == 201
    r = auth_client.get("/v3/connections/pg1/resources", headers=ADMIN)
    assert r.get_json() == {"children": [{"id": dbname, "name": dbname, "type": "database"}]}
    schemas = auth_client.get(f"/v3/connections/pg1/resources/{dbname}", headers=ADMIN).get_json()["children"]
    assert {"id": f"{dbname}.shop", "name": "shop", "type": "schema"} in schemas
    tables = auth_client.get(f"/v3/connections/pg1/resources/{dbname}.shop", headers=ADMIN).get_json()
    assert tables == {"children": [{"id": f"{dbname}.shop.stores", "name": "stores", "type": "table"}]}
    columns = auth_client.get(f"/v3/connections/pg1/resources/{dbname}.shop.stores", headers=ADMIN).get_json()
    assert [(c["name"], c["type"]) for c in columns["children"]] == [("id", "bigint"), ("name", "string")]
    envelope(auth_client.get(f"/v3/connections/pg1/resources/{dbname}.nope", headers=ADMIN), 404)
    envelope(auth_client.get("/v3/connections/nope/resources", headers=ADMIN), 404)
    r = auth_client.get("/v3/connections/carto_dw/resources", headers=ADMIN)
    assert r.status_code == 200 and [(c["id"], c["type"]) for c in r.get_json()["children"]] == [
        ("carto_dw", "database"), ("lds", "database")]  # the lake and the read-only LDS tables


def test_carto_dw_cannot_be_changed_or_deleted(auth_client):
    envelope(auth_client.delete("/v3/connections/carto_dw", headers=ADMIN), 403)
    envelope(auth_client.patch("/v3/connections/carto_dw", json={"name": "x"}, headers=ADMIN), 403)
    assert auth_client.get("/v3/connections/carto_dw", headers=ADMIN).get_json()["builtin"] is True


def test_admin_token_only(auth_client, dbname):
    token = make_token(auth_client, allowed_apis=["lds", "sql"], grants=[{"connection_name": "carto_dw", "source": "*"}])
    for method, path, payload in (("GET", "/v3/connections", None), ("POST", "/v3/connections", body(dbname)),
                                  ("GET", "/v3/connections/carto_dw", None), ("PATCH", "/v3/connections/x", {}),
                                  ("DELETE", "/v3/connections/x", None),
                                  ("GET", "/v3/connections/carto_dw/resources", None)):
        assert "admin" in envelope(auth_client.open(path, method=method, json=payload, headers=bearer(token)), 403)
        envelope(auth_client.open(path, method=method, json=payload), 401)
    assert len(auth_client.get("/v3/connections", headers=ADMIN).get_json()) == 1


def test_hostile_paths_and_bodies_get_the_envelope(auth_client, dbname):
    assert auth_client.post("/v3/connections", json=body(dbname), headers=ADMIN).status_code == 201
    for path in (f"/v3/connections/pg1/resources/{dbname}.%00", f"/v3/connections/pg1/resources/{dbname}." + "x" * 5000,
                 "/v3/connections/pg1/resources/..", f"/v3/connections/pg1/resources/{dbname}.a'b.c\"d",
                 "/v3/connections/" + "x" * 5000, "/v3/connections/%00"):
        r = auth_client.get(path, headers=ADMIN)
        assert 400 <= r.status_code < 500 and set(r.get_json()) == {"error", "status"}, (path, r.status_code)
    for payload in ({"config": {"credentials": {"port": True}}}, {"config": {"credentials": {"host": ["a"]}}},
                    {"config": {"credentials": {"password": {"a": 1}}}}, {"name": None}, {"privacy": 1},
                    {"config": {"type": "x" * 100}}, {"config": []}):
        envelope(auth_client.patch("/v3/connections/pg1", json=payload, headers=ADMIN), 400)
    assert auth_client.get("/v3/connections/pg1", headers=ADMIN).get_json()["config"]["credentials"]["port"] == 5432
