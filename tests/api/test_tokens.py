"""Tokens API over HTTP: admin only; create returns the token once; list/get/patch/delete by token or id."""

from authfixtures import *
from authfixtures import ADMIN_TOKEN, bearer


def test_crud_round_trip(auth_client, admin_headers):
    body = {"name": "app", "allowed_apis": ["lds", "sql"], "referers": ["https://app.example.com"],
            "grants": [{"connection_name": "carto_dw", "source": "proj.ds.airports"}],
            "expiration_date": "2099-12-31T00:00:00Z", "quotas": {"routing": 3}}
    r = auth_client.post("/v3/tokens", json=body, headers=admin_headers)
    assert r.status_code == 201
    created = r.get_json()
    token = created["token"]
    assert token.startswith("lds_") and created["id"] and created["name"] == "app"
    assert {k: created[k] for k in body} == body

    listed = auth_client.get("/v3/tokens", headers=admin_headers).get_json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0] and token not in auth_client.get("/v3/tokens", headers=admin_headers).text

    for key in (token, created["id"]):
        got = auth_client.get(f"/v3/tokens/{key}", headers=admin_headers).get_json()
        assert got["id"] == created["id"] and "token" not in got
        stats = {s["service"]: s for s in got["stats"]}
        assert stats["routing"] == {"service": "routing", "provider": "lds", "monthly_quota": 3, "used_quota": 0}

    r = auth_client.patch(f"/v3/tokens/{token}", json={"allowed_apis": ["lds"], "referers": []}, headers=admin_headers)
    assert r.status_code == 200 and r.get_json()["allowed_apis"] == ["lds"] and r.get_json()["referers"] == []
    assert auth_client.get("/v3/lds/stats", headers=bearer(token)).status_code == 200  # the change is live

    r = auth_client.patch(f"/v3/tokens/{token}", json={"expiration_date": "2100-01-01T00:00:00Z"}, headers=admin_headers)
    assert r.status_code == 400 and "expiration_date" in r.get_json()["error"]

    assert auth_client.delete(f"/v3/tokens/{created['id']}", headers=admin_headers).status_code == 204
    assert auth_client.get(f"/v3/tokens/{token}", headers=admin_headers).get_json() == {"error": "Token not found", "status": 404}
    assert auth_client.delete(f"/v3/tokens/{token}", headers=admin_headers).status_code == 404
    assert auth_client.get("/v3/lds/stats", headers=bearer(token)).get_json() == {"error": "Token revoked", "status": 401}
    assert auth_client.get("/v3/tokens", headers=admin_headers).get_json() == []


def test_bad_bodies_are_400(auth_client, admin_headers):
    for body in ({"allowed_apis": ["nope"]}, {"allowed_apis": ["lds"], "grants": "x"}, [1, 2], {"allowed_apis": ["sql"]}):
        r = auth_client.post("/v3/tokens", json=body, headers=admin_headers)
        assert r.status_code == 400 and set(r.get_json()) == {"error", "status"}
    r = auth_client.post("/v3/tokens", data="{not json", headers={**admin_headers, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert auth_client.patch("/v3/tokens/nope", json={}, headers=admin_headers).status_code == 404


def test_only_the_admin_token_manages_tokens(auth_client):
    token = make_token(auth_client, allowed_apis=["lds"])
    for method, path in (("post", "/v3/tokens"), ("get", "/v3/tokens"), ("get", f"/v3/tokens/{token}"),
                         ("patch", f"/v3/tokens/{token}"), ("delete", f"/v3/tokens/{token}")):
        r = getattr(auth_client, method)(path, json={}, headers=bearer(token))
        assert r.status_code == 403 and r.get_json() == {"error": "This endpoint requires the admin token", "status": 403}
    assert auth_client.get("/v3/tokens", headers=bearer(ADMIN_TOKEN)).status_code == 200


def test_hostile_token_fields_are_400_and_the_listing_survives(auth_client, admin_headers):
    bodies = [
        b'{"allowed_apis": ["lds"], "name": "\\udcff"}',
        b'{"allowed_apis": ["lds"], "referers": ["\\ud800.example.com"]}',
        b'{"allowed_apis": ["sql"], "grants": [{"connection_name": "c", "source": "a.\\udcff.b"}]}',
        b'{"allowed_apis": ["lds"], "name": "a\\u0000b"}',
        b'{"allowed_apis": ["lds"], "referers": ["https://evil.com\\\\@app.example.com"]}',
        b'{"allowed_apis": ["lds"], "name": "\xed\xb3\xbf"}',
    ]
    for body in bodies:
        r = auth_client.post("/v3/tokens", data=body, headers={**admin_headers, "Content-Type": "application/json"})
        assert r.status_code == 400 and set(r.get_json()) == {"error", "status"}, (body, r.get_json())
    r = auth_client.get("/v3/tokens", headers=admin_headers)
    assert r.status_code == 200 and r.get_json() == []
