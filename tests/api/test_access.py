"""Auth on every /v3 route: no token, bad, expired, revoked, wrong-API and wrong-referer tokens; where
the token may come from; /health stays open; the disabled mode warns and says so in /v3/lds/status."""

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token
from sqlalchemy import update

from lds.api.access import required_api
from lds.state.models import Token

MISSING = {"error": "Token not defined", "status": 401}


def v3_routes(app):
    """(method, concrete path) for every /v3 route the app has, path variables filled with 'x'."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v3"):
            continue
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        out += [(m, path) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    assert len(out) >= 10, out  # tokens (5), stats, status, routing, isolines, jobs...
    return out


def call(client, method, path, **kw):
    return client.open(path, method=method, json={} if method in ("POST", "PATCH") else None, **kw)


def _lds(path):
    return path.startswith("/v3/lds/")


def test_every_v3_route_needs_a_token(auth_client, auth_app):
    for method, path in v3_routes(auth_app):
        r = call(auth_client, method, path)
        assert (r.status_code, r.get_json()) == (401, MISSING), (method, path)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_v3_route_refuses_a_bad_token(auth_client, auth_app):
    for method, path in v3_routes(auth_app):
        for headers in (bearer("lds_" + "A" * 43), bearer("garbage")):
            r = call(auth_client, method, path, headers=headers)
            assert r.get_json() == {"error": "Invalid token", "status": 401}, (method, path)
        r = call(auth_client, method, path + "?access_token=wrong")
        assert r.status_code == 401, (method, path)


def test_every_v3_route_refuses_expired_and_revoked_tokens(auth_client, auth_app, admin_headers):
    expired = make_token(auth_client, expiration_date=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    store = auth_app.extensions["lds_access"].store
    with store.write() as conn:
        conn.execute(update(Token).where(Token.kind == "api").values(expiration_date=datetime.now(UTC) - timedelta(seconds=1)))
    revoked = make_token(auth_client)
    assert auth_client.delete(f"/v3/tokens/{revoked}", headers=admin_headers).status_code == 204
    for method, path in v3_routes(auth_app):
        r = call(auth_client, method, path, headers=bearer(expired))
        assert r.get_json() == {"error": "Token expired", "status": 401}, (method, path)
        r = call(auth_client, method, path, headers=bearer(revoked))
        assert r.get_json() == {"error": "Token revoked", "status": 401}, (method, path)


def test_wrong_api_token_is_403_everywhere(auth_client, auth_app):
    sql_only = make_token(auth_client, allowed_apis=["sql"], grants=[{"connection_name": "c", "source": "*"}])
    lds_only = make_token(auth_client)
    for method, path in v3_routes(auth_app):
        api = required_api(path)  # every API route refuses a token without that API; the rest are admin only
        r = call(auth_client, method, path, headers=bearer(lds_only if api == "sql" else sql_only))
        expected = f"Token not allowed to use the {api} API" if api else "This endpoint requires the admin token"
        assert r.get_json() == {"error": expected, "status": 403}, (method, path)


def test_wrong_referer_is_403_on_lds_routes(auth_client, auth_app):
    token = make_token(auth_client, referers=["https://good.example.com"])
    for method, path in v3_routes(auth_app):
        if not _lds(path):
            continue
        for headers in ({"Referer": "https://evil.example.net/page"}, {}, {"Origin": "https://good.example.com.evil.net"}):
            r = call(auth_client, method, path, headers={**bearer(token), **headers})
            assert r.get_json() == {"error": "Referer not allowed for this token", "status": 403}, (method, path)
        r = call(auth_client, method, path, headers={**bearer(token), "Referer": "https://good.example.com/map"})
        assert r.status_code not in (401, 403), (method, path)
    r = auth_client.get("/v3/lds/stats", headers={**bearer(token), "Origin": "https://good.example.com"})
    assert r.status_code == 200


def test_good_tokens_pass_the_gate(auth_client, auth_app):
    lds = make_token(auth_client)
    for method, path in v3_routes(auth_app):
        r = call(auth_client, method, path, headers=bearer(lds))
        if _lds(path):
            assert r.status_code not in (401, 403), (method, path, r.get_json())
        else:
            assert r.status_code == 403, (method, path)
        r = call(auth_client, method, path, headers=bearer(ADMIN_TOKEN))
        assert r.status_code not in (401, 403), (method, path, r.get_json())


def test_token_sources_header_wins_over_query(auth_client):
    token = make_token(auth_client)
    assert auth_client.get(f"/v3/lds/stats?access_token={token}").status_code == 200
    assert auth_client.get("/v3/lds/stats?access_token=wrong", headers=bearer(token)).status_code == 200
    r = auth_client.get(f"/v3/lds/stats?access_token={token}", headers=bearer("wrong"))
    assert r.get_json() == {"error": "Invalid token", "status": 401}
    assert auth_client.get(f"/v3/lds/stats?access_token={token}", headers={"Authorization": "Basic abc"}).status_code == 200
    assert auth_client.get("/v3/lds/stats", headers={"Authorization": "Bearer "}).get_json() == MISSING


def test_health_stays_open_and_status_needs_a_token(auth_client):
    assert auth_client.get("/health").status_code == 200
    assert auth_client.get("/v3/lds/status").get_json() == MISSING
    body = auth_client.get("/v3/lds/status", headers=bearer(make_token(auth_client))).get_json()
    assert body["auth"] == {"enabled": True, "state_store": "sqlite", "quota_counter": "state",
                            "rate_limiter": "memory", "rate_limit_per_s": 0}


def test_preflight_options_is_not_blocked(auth_client):
    assert auth_client.options("/v3/lds/routing").status_code == 200


def test_disabled_auth_warns_and_shows_in_status(lds_core, tmp_path, caplog):
    from lds.app import create_app

    with caplog.at_level(logging.WARNING):
        app = create_app(auth_settings(lds_core.data.path, tmp_path, auth=False), lds=lds_core)
    assert "LDS_AUTH=disabled" in caplog.text
    client = app.test_client()
    auth = client.get("/v3/lds/status").get_json()["auth"]
    assert auth["enabled"] is False and "local development only" in auth["warning"]
    assert client.get("/v3/lds/stats").get_json() == []
    assert client.get("/v3/tokens").status_code == 503
    assert not list(tmp_path.glob("lds.db*"))  # auth off: the state store is not even opened


def test_generated_admin_token_is_printed_once_and_works(lds_core, tmp_path, capsys, caplog):
    from lds.app import create_app

    settings = auth_settings(lds_core.data.path, tmp_path, admin_token=None)
    with caplog.at_level(logging.DEBUG):
        app = create_app(settings, lds=lds_core)
    err = capsys.readouterr().err
    token = re.search(r"(lds_[A-Za-z0-9_-]{43})", err).group(1)
    assert "lds token rotate-admin" in err and token not in caplog.text  # printed, never logged
    assert app.test_client().get("/v3/tokens", headers=bearer(token)).status_code == 200
    create_app(settings, lds=lds_core)
    assert "lds_" not in capsys.readouterr().err  # second start: nothing to print
    assert token.encode() not in b"".join(f.read_bytes() for f in tmp_path.glob("lds.db*"))


def test_request_logs_never_contain_tokens(auth_client, admin_headers, caplog):
    with caplog.at_level(logging.DEBUG):
        token = make_token(auth_client)
        auth_client.get(f"/v3/lds/stats?access_token={token}")
        auth_client.get(f"/v3/tokens/{token}", headers=admin_headers)
        auth_client.delete(f"/v3/tokens/{token}", headers=admin_headers)
        auth_client.get(f"/v3/lds/stats?access_token={token}")
    assert any(r.name == "lds.request" for r in caplog.records)  # the request log is on, and was checked
    text = caplog.text + "".join(str(getattr(r, "fields", "")) for r in caplog.records)
    assert token not in text and ADMIN_TOKEN not in text


@pytest.mark.parametrize("path", ["/v3", "/v3/", "/v3/anything"])
def test_unknown_v3_paths_need_a_token_first(auth_client, path):
    assert auth_client.get(path).get_json() == MISSING
    assert auth_client.get(path, headers=bearer(ADMIN_TOKEN)).status_code == 404
