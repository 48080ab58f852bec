"""Rate limits through the API: a token's own limit (Tokens API field ``rate_limit_per_s``) overrides the
setting, null goes back to it, 0 is unlimited; the admin token is not limited unless LDS_RATE_LIMIT_ADMIN.
Each with the limiter per process and shared through Redis."""

import time

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, REDIS_URL, auth_settings, bearer, make_token


@pytest.fixture(params=["memory", "redis"])
def limited_client(request, lds_core, tmp_path):
    """Auth on, 3 requests per second per token by default; the limiter per process or shared through Redis."""
    from lds.app import create_app

    redis = {"redis_url": REDIS_URL, "redis_prefix": request.getfixturevalue("redis_prefix")}
    settings = auth_settings(lds_core.data.path, tmp_path, rate_limit_per_s=3, **(redis if request.param == "redis" else {}))
    app = create_app(settings, lds=lds_core)
    assert app.extensions["lds_access"].limiter.backend == request.param
    return app.test_client()


def burst(client, token, n=12):
    return [client.get("/v3/lds/stats", headers=bearer(token)).status_code for _ in range(n)]


def test_a_refusal_is_429_in_the_envelope_with_retry_after(limited_client):
    token = make_token(limited_client)
    assert burst(limited_client, token, 3) == [200] * 3
    r = limited_client.get("/v3/lds/stats", headers=bearer(token))
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"  # the window is one second
    assert r.get_json() == {"error": "Rate limit exceeded: at most 3 requests per second per token", "status": 429}
    time.sleep(1.05)
    assert burst(limited_client, token, 4) == [200, 200, 200, 429]  # the window moved on


def test_a_token_limit_overrides_the_setting_and_null_restores_it(limited_client):
    client = limited_client
    admin = bearer(ADMIN_TOKEN)
    r = client.post("/v3/tokens", json={"allowed_apis": ["lds"], "rate_limit_per_s": 5}, headers=admin)
    assert r.status_code == 201 and r.get_json()["rate_limit_per_s"] == 5
    token = r.get_json()["token"]
    assert client.get(f"/v3/tokens/{token}", headers=admin).get_json()["rate_limit_per_s"] == 5
    assert burst(client, token).count(200) == 5
    r = client.patch(f"/v3/tokens/{token}", json={"rate_limit_per_s": 0}, headers=admin)
    assert r.status_code == 200 and r.get_json()["rate_limit_per_s"] == 0
    assert burst(client, token).count(200) == 12  # 0 = unlimited for this token
    default = make_token(client)
    assert client.get(f"/v3/tokens/{default}", headers=admin).get_json()["rate_limit_per_s"] is None
    statuses = burst(client, default)
    assert statuses.count(200) == 3 and statuses.count(429) == 9  # the setting
    r = client.patch(f"/v3/tokens/{token}", json={"rate_limit_per_s": None}, headers=admin)
    assert r.get_json()["rate_limit_per_s"] is None
    assert [t["rate_limit_per_s"] for t in client.get("/v3/tokens", headers=admin).get_json()] == [None, None]


@pytest.mark.parametrize("value", [-1, 1.5, True, "3", 10**6 + 1, [3], {"n": 3}])
def test_bad_rate_limits_are_400(limited_client, value):
    admin = bearer(ADMIN_TOKEN)
    r = limited_client.post("/v3/tokens", json={"allowed_apis": ["lds"], "rate_limit_per_s": value}, headers=admin)
    assert r.status_code == 400 and "'rate_limit_per_s'" in r.get_json()["error"]
    token = make_token(limited_client)
    r = limited_client.patch(f"/v3/tokens/{token}", json={"rate_limit_per_s": value}, headers=admin)
    assert r.status_code == 400 and "'rate_limit_per_s'" in r.get_json()["error"]
    r = limited_client.post("/v3/tokens", json={"allowed_apis": ["lds"], "rate_limit_per_s": 10**6}, headers=admin)
    assert r.status_code == 201


def test_the_admin_token_is_not_rate_limited_unless_a_setting_says_so(lds_core, tmp_path):
    from lds.app import create_app

    free = create_app(auth_settings(lds_core.data.path, tmp_path / "a", rate_limit_per_s=3), lds=lds_core)
    assert burst(free.test_client(), ADMIN_TOKEN, 50).count(200) == 50
    limited = create_app(auth_settings(lds_core.data.path, tmp_path / "b", rate_limit_per_s=3, rate_limit_admin=True),
                         lds=lds_core)
    statuses = burst(limited.test_client(), ADMIN_TOKEN, 10)
    assert statuses.count(200) == 3 and statuses.count(429) == 7
