"""Quotas through the LDS endpoints: charged after validation, 429 with Retry-After when exhausted,
per-token overrides, usage in /v3/lds/stats."""

from authfixtures import *
from authfixtures import auth_settings, bearer, make_token

from lds.auth.quota import period_of

ROUTE = {"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"}
ISO = {"origin": "7.4197,43.7311", "range": "300"}


def used(client, token):
    return {s["service"]: s["used_quota"] for s in client.get("/v3/lds/stats", headers=bearer(token)).get_json()}


def test_routing_and_isolines_charge_their_quota(auth_client):
    token = make_token(auth_client, quotas={"routing": 2, "isolines": 1})
    other = make_token(auth_client)
    headers = bearer(token)
    assert auth_client.get("/v3/lds/routing", query_string={"origin": "x"}, headers=headers).status_code == 400
    assert used(auth_client, token)["routing"] == 0  # invalid requests cost nothing
    many = ";".join(["43.7311,7.4197"] * 26)  # one over the default max_waypoints
    r = auth_client.get("/v3/lds/routing", query_string={**ROUTE, "waypoints": many}, headers=headers)
    assert r.status_code == 400 and r.get_json()["error"] == "too many waypoints: 26 (max_waypoints is 25)"
    assert used(auth_client, token)["routing"] == 0
    for _ in range(2):
        r = auth_client.get("/v3/lds/routing", query_string=ROUTE, headers=headers)
        assert r.status_code == 200, r.get_json()
    r = auth_client.get("/v3/lds/routing", query_string=ROUTE, headers=headers)
    assert r.status_code == 429
    assert r.get_json() == {"error": "Monthly routing quota exceeded: 2 of 2 used, this request needs 1", "status": 429}
    assert int(r.headers["Retry-After"]) > 0
    assert auth_client.get("/v3/lds/isolines", query_string=ISO, headers=headers).status_code == 200
    assert auth_client.get("/v3/lds/isolines", query_string=ISO, headers=headers).status_code == 429
    assert used(auth_client, token) == {"geocoding": 0, "isolines": 1, "routing": 2}
    assert auth_client.get("/v3/lds/routing", query_string=ROUTE, headers=bearer(other)).status_code == 200
    assert used(auth_client, other)["routing"] == 1


def test_stats_shape_defaults_and_overrides(auth_client, auth_app):
    token = make_token(auth_client, quotas={"geocoding": 7})
    stats = auth_client.get("/v3/lds/stats", headers=bearer(token)).get_json()
    s = auth_app.extensions["lds_settings"]
    assert stats == [
        {"service": "geocoding", "provider": "lds", "monthly_quota": 7, "used_quota": 0},
        {"service": "isolines", "provider": "lds", "monthly_quota": s.quota_isolines, "used_quota": 0},
        {"service": "routing", "provider": "lds", "monthly_quota": s.quota_routing, "used_quota": 0},
    ]


def test_quota_override_can_be_patched(auth_client, admin_headers):
    token = make_token(auth_client, quotas={"routing": 0})
    assert auth_client.get("/v3/lds/routing", query_string=ROUTE, headers=bearer(token)).status_code == 429
    r = auth_client.patch(f"/v3/tokens/{token}", json={"quotas": {"routing": 1}}, headers=admin_headers)
    assert r.status_code == 200 and r.get_json()["quotas"] == {"routing": 1}
    assert auth_client.get("/v3/lds/routing", query_string=ROUTE, headers=bearer(token)).status_code == 200


def test_geocoding_counts_geocode_reverse_and_batch_items(auth_client):
    token = make_token(auth_client, quotas={"geocoding": 5})
    headers = bearer(token)
    assert auth_client.get("/v3/lds/geocoding/geocode", query_string={"address": "Avenue de Monte-Carlo"},
                           headers=headers).status_code == 200
    assert auth_client.get("/v3/lds/geocoding/reverse", query_string={"lat": 43.7384, "lon": 7.4246},
                           headers=headers).status_code == 200
    assert used(auth_client, token)["geocoding"] == 2
    too_many = {"addresses": ["Boulevard des Moulins"] * 4}
    r = auth_client.post("/v3/lds/geocoding/batch", json=too_many, headers=headers)
    assert r.status_code == 429 and "this request needs 4 (3 left)" in r.get_json()["error"]
    assert used(auth_client, token)["geocoding"] == 2  # refused whole, before any work
    r = auth_client.post("/v3/lds/geocoding/batch", json={"addresses": ["Boulevard des Moulins"] * 3}, headers=headers)
    assert r.status_code == 200 and len(r.get_json()) == 3
    assert used(auth_client, token)["geocoding"] == 5
    assert auth_client.get("/v3/lds/geocoding/geocode", query_string={"address": "x"}, headers=headers).status_code == 429


def test_async_batch_jobs_are_charged_per_item_up_front(auth_client):
    token = make_token(auth_client, quotas={"geocoding": 3})
    headers = bearer(token)
    body = {"addresses": ["Boulevard des Moulins", "Avenue de la Costa"], "async": True}
    assert auth_client.post("/v3/lds/geocoding/batch", json=body, headers=headers).status_code == 202
    assert used(auth_client, token)["geocoding"] == 2
    assert auth_client.post("/v3/lds/geocoding/batch", json=body, headers=headers).status_code == 429
    assert used(auth_client, token)["geocoding"] == 2


def test_stats_are_exact_while_charges_are_counted_in_memory(auth_client, auth_app, admin_headers):
    """Default quotas are far from exhausted: units are counted in memory (one state-store write per block),
    and /v3/lds/stats and GET /v3/tokens/{id} still read exact numbers."""
    token = make_token(auth_client)
    access = auth_app.extensions["lds_access"]
    writes = access.counter.writes
    for _ in range(30):
        assert auth_client.get("/v3/lds/routing", query_string=ROUTE, headers=bearer(token)).status_code == 200
    assert access.counter.writes - writes <= 2  # not one write per request
    assert used(auth_client, token)["routing"] == 30
    got = auth_client.get(f"/v3/tokens/{token}", headers=admin_headers).get_json()
    assert {s["service"]: s["used_quota"] for s in got["stats"]}["routing"] == 30
    access.counter.flush()
    assert access.counter.ledger.used(got["id"], ["routing"], period_of())["routing"] == 30  # written, exactly


def test_quotas_beyond_a_64_bit_counter_are_refused(auth_client, admin_headers):
    big = 2**63 - 1
    r = auth_client.post("/v3/tokens", json={"allowed_apis": ["lds"], "quotas": {"routing": big + 1}},
                         headers=admin_headers)
    assert r.status_code == 400 and "quota for 'routing'" in r.get_json()["error"]
    token = make_token(auth_client, quotas={"routing": big})
    assert auth_client.get("/v3/lds/routing", query_string=ROUTE, headers=bearer(token)).status_code == 200
    r = auth_client.patch(f"/v3/tokens/{token}", json={"quotas": {"geocoding": 10**30}}, headers=admin_headers)
    assert r.status_code == 400 and set(r.get_json()) == {"error", "status"}
    assert used(auth_client, token)["routing"] == 1


def test_a_failed_answer_is_not_charged(lds_core, tmp_path):
    """A 5xx after the charge gives the units back: here a batch job whose queue (Redis) was killed."""
    from redisfixtures import PrivateRedis

    from lds.app import create_app

    server = PrivateRedis()
    server.start()
    try:
        app = create_app(auth_settings(lds_core.data.path, tmp_path, redis_url=server.url, redis_prefix="q5xx:",
                                       rate_limit_per_s=100), lds=lds_core)
        client = app.test_client()
        token = make_token(client)
        body = {"addresses": ["Boulevard des Moulins", "Avenue de la Costa"], "async": True}
        server.stop()
        r = client.post("/v3/lds/geocoding/batch", json=body, headers=bearer(token))
        assert r.status_code == 503 and "job queue unavailable" in r.get_json()["error"]
        assert used(client, token)["geocoding"] == 0  # charged before the queue failed, then given back
        assert client.get("/v3/lds/geocoding/reverse", query_string={"lat": 43.7384, "lon": 7.4246},
                          headers=bearer(token)).status_code == 200  # Redis down: still answered, and charged
        assert used(client, token)["geocoding"] == 1
    finally:
        server.stop()


def test_a_cancelled_job_is_charged_only_for_the_entries_done(lds_core, tmp_path):
    import time

    from lds.app import create_app

    app = create_app(auth_settings(lds_core.data.path, tmp_path, job_chunk_size=50, job_local_threads=1),
                     lds=lds_core)
    client = app.test_client()
    token = make_token(client)
    names = ["Boulevard des Moulins", "Avenue de la Costa", "Rue Grimaldi", "Avenue Princesse Grace"]
    body = {"addresses": [f"{names[i % 4]} {i % 40 + 1}" for i in range(5000)], "async": True}
    r = client.post("/v3/lds/geocoding/batch", json=body, headers=bearer(token))
    assert r.status_code == 202
    job_id = r.get_json()["jobId"]
    assert used(client, token)["geocoding"] == 5000  # charged up front, whole
    deadline = time.monotonic() + 60
    while client.get(f"/v3/lds/jobs/{job_id}", headers=bearer(token)).get_json()["progress"]["done"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    cancelled = client.delete(f"/v3/lds/jobs/{job_id}", headers=bearer(token)).get_json()
    done = cancelled["progress"]["done"]
    assert cancelled["status"] == "cancelled" and 0 < done < 5000
    assert used(client, token)["geocoding"] == done
    assert client.delete(f"/v3/lds/jobs/{job_id}", headers=bearer(token)).status_code == 409  # refunded once only
    assert used(client, token)["geocoding"] == done
