"""The response memo of the fast path below Flask: repeated answer GETs replayed byte for byte, with the same
headers, auth, quota, metrics and logs as the answer they repeat (fast path vs Flask: test_fastpath.py)."""

import json
import logging

import pytest
from authfixtures import *
from authfixtures import auth_settings, bearer, make_token
from redisfixtures import isolated_settings

from lds.api.hotpath import ResponseMemo, memo_key
from lds.app import create_app
from lds.logs import JsonFormatter

GETS = [
    ("/v3/lds/routing", {"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"}),
    ("/v3/lds/isolines", {"origin": "7.4197,43.7311", "range": "300", "mode": "walk"}),
    ("/v3/lds/geocoding/geocode", {"address": "Avenue de Monte-Carlo"}),
    ("/v3/lds/geocoding/reverse", {"lat": "43.7384", "lon": "7.4246"}),
]


def counted(app):
    """Count requests that reach Flask (its before_request hooks run only there; GETs of the answer endpoints
    never do: the fast path answers them)."""
    calls = []
    app.before_request(lambda: calls.append(1))
    return calls


@pytest.fixture()
def memo_app(lds_core, monaco_dir, tmp_path):
    return create_app(isolated_settings(monaco_dir, state_dir=str(tmp_path), cache_enabled=True), lds=lds_core)


@pytest.mark.parametrize("path,query", GETS, ids=[p for p, _ in GETS])
def test_a_repeat_is_replayed_byte_for_byte_without_flask(memo_app, path, query):
    calls, client = counted(memo_app), memo_app.test_client()
    first = client.get(path, query_string=query)
    second = client.get(path, query_string=query)
    third = client.get(path, query_string=query)
    assert first.status_code == second.status_code == third.status_code == 200
    assert len(calls) == 0  # none went through Flask
    assert second.data == third.data == first.data and first.get_json()[0]["error"] is None
    assert first.headers["X-LDS-Cache"] == "miss" and second.headers["X-LDS-Cache"] == "hit"
    assert second.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    assert int(second.headers["Content-Length"]) == len(second.data)
    assert second.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert len(memo_app.extensions["lds_response_memo"]) == 1


def test_access_token_is_not_part_of_the_key_but_parameter_order_is(memo_app):
    calls, client = counted(memo_app), memo_app.test_client()
    assert memo_key("/p", "a=1&access_token=x&b=2") == memo_key("/p", "access_token=y&a=1&b=2") == "/p?a=1&b=2"
    base = "/v3/lds/isolines?origin=7.4197,43.7311&range=300"
    client.get(base + "&access_token=one")
    assert client.get(base + "&access_token=two").headers["X-LDS-Cache"] == "hit"
    assert len(calls) == 0 and len(memo_app.extensions["lds_response_memo"]) == 1
    # Repeated parameters: the first value wins, so two orders are two questions with two answers.
    walk_car = client.get(base + "&mode=walk&mode=car")
    car_walk = client.get(base + "&mode=car&mode=walk")
    assert walk_car.data == client.get(base + "&mode=walk").data
    assert car_walk.data == client.get(base + "&mode=car").data
    assert walk_car.data != car_walk.data
    assert client.get(base + "&mode=walk&mode=car").data == walk_car.data  # and the replay keeps them apart


def test_errors_are_never_kept_and_posts_and_batches_go_through_flask(memo_app):
    calls, client = counted(memo_app), memo_app.test_client()
    for _ in range(2):
        bad = client.get("/v3/lds/isolines", query_string={"origin": "7.4197,43.7311", "range": "x"})
        assert bad.status_code == 400 and bad.get_json()["status"] == 400 and "X-LDS-Cache" not in bad.headers
        assert client.post("/v3/lds/routing", json=dict(GETS[0][1])).status_code == 200
        assert client.post("/v3/lds/geocoding/batch", json={"addresses": ["Avenue de Monte-Carlo"]}).status_code == 200
    assert len(calls) == 4
    assert len(memo_app.extensions["lds_response_memo"]) == 0


def test_replays_are_counted_and_logged(memo_app, caplog):
    client = memo_app.test_client()
    path, query = GETS[1]
    client.get(path, query_string=query)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="lds.request"):
        r = client.get(path, query_string={**query, "access_token": "secret-token-value"}, headers={"X-Request-ID": "req-7"})
    assert r.headers["X-LDS-Cache"] == "hit" and r.headers["X-Request-ID"] == "req-7"
    records = [rec for rec in caplog.records if rec.name == "lds.request"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    doc = json.loads(line)
    assert doc["request_id"] == "req-7" and doc["endpoint"] == path and doc["cache"] == "hit"
    assert doc["status"] == 200 and doc["bytes"] == len(r.data) and "secret-token-value" not in line

    def count(text, needle):
        return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith(needle))

    before = client.get("/metrics").get_data(as_text=True)
    client.get(path, query_string=query)
    after = client.get("/metrics").get_data(as_text=True)
    requests = f'lds_http_requests_total{{endpoint="{path}",method="GET",status="200"}}'
    hits = 'lds_cache_lookups_total{endpoint="isolines",result="hit"}'
    assert count(after, requests) == count(before, requests) + 1
    assert count(after, hits) == count(before, hits) + 1


def test_memo_off_when_its_budget_is_zero_or_the_cache_is_off(lds_core, monaco_dir, tmp_path):
    off = create_app(isolated_settings(monaco_dir, state_dir=str(tmp_path), cache_enabled=True, response_memo_bytes=0),
                     lds=lds_core)
    assert "lds_response_memo" not in off.extensions
    calls, client = counted(off), off.test_client()
    path, query = GETS[0]
    client.get(path, query_string=query)
    assert client.get(path, query_string=query).headers["X-LDS-Cache"] == "hit" and len(calls) == 0  # the answer cache
    nocache = create_app(isolated_settings(monaco_dir, state_dir=str(tmp_path)), lds=lds_core)
    assert "lds_response_memo" not in nocache.extensions
    slow = create_app(isolated_settings(monaco_dir, state_dir=str(tmp_path), cache_enabled=True, fast_path=False),
                      lds=lds_core)
    assert "lds_response_memo" not in slow.extensions  # the memo is part of the fast path
    calls, client = counted(slow), slow.test_client()
    client.get(path, query_string=query)
    assert client.get(path, query_string=query).headers["X-LDS-Cache"] == "hit" and len(calls) == 2  # Flask + cache


def test_memo_bounds_bytes_and_expires_entries():
    now = [0.0]
    memo = ResponseMemo(max_bytes=1000, ttl_s=10, clock=lambda: now[0])
    for i in range(10):
        memo.put(f"k{i}", b"x" * 98, [])
    assert memo.bytes == 1000 and len(memo) == 10
    memo.put("k10", b"y" * 98, [])  # over budget: the least recently used goes
    assert memo.get("k0") is None and memo.get("k10") == (b"y" * 98, []) and memo.bytes <= 1000
    memo.put("huge", b"z" * 200, [])  # over an eighth of the budget: not kept at all
    assert memo.get("huge") is None
    now[0] = 10.5
    assert memo.get("k10") is None and memo.get("k5") is None  # expired


# --- with auth on: a replay is still authenticated, rate-limited and charged ----------------------------
@pytest.fixture()
def memo_auth_app(lds_core, tmp_path):
    return create_app(auth_settings(lds_core.data.path, tmp_path, cache_enabled=True), lds=lds_core)


def used(client, token):
    return {s["service"]: s["used_quota"] for s in client.get("/v3/lds/stats", headers=bearer(token)).get_json()}


def test_replays_need_a_token_and_charge_the_quota(memo_auth_app):
    calls, client = counted(memo_auth_app), memo_auth_app.test_client()
    path, query = GETS[0]
    token = make_token(client, quotas={"routing": 3})
    never = make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "c", "source": "*"}])
    assert client.get(path, query_string=query, headers=bearer(token)).status_code == 200  # through Flask: kept
    flask_refusals = len(calls)
    replay = client.get(path, query_string={**query, "access_token": token})
    assert replay.status_code == 200 and replay.headers["X-LDS-Cache"] == "hit"
    assert len(calls) == flask_refusals  # the replay did not touch Flask...
    assert used(client, token)["routing"] == 2  # ...and was charged
    anonymous = client.get(path, query_string=query)
    assert anonymous.status_code == 401 and anonymous.get_json() == {"error": "Token not defined", "status": 401}
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="lds"' and "X-LDS-Cache" not in anonymous.headers
    wrong = client.get(path, query_string=query, headers=bearer("not-a-token"))
    assert wrong.status_code == 401 and wrong.get_json() == {"error": "Invalid token", "status": 401}
    other_api = client.get(path, query_string=query, headers=bearer(never))
    assert other_api.status_code == 403 and other_api.get_json() == {"error": "Token not allowed to use the lds API", "status": 403}
    assert client.get(path, query_string=query, headers=bearer(token)).status_code == 200
    over = client.get(path, query_string=query, headers=bearer(token))
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert over.get_json() == {"error": "Monthly routing quota exceeded: 3 of 3 used, this request needs 1", "status": 429}
    assert used(client, token)["routing"] == 3
    assert len(memo_auth_app.extensions["lds_response_memo"]) == 1


def test_replay_refusals_match_the_flask_wording(memo_auth_app):
    """The same refusal, from Flask (nothing memoised yet) and from the hot path, is the same response."""
    client = memo_auth_app.test_client()
    path, query = GETS[2]
    token = make_token(client)
    cases = [{}, bearer("not-a-token"), bearer(make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "c", "source": "*"}]))]
    from_flask = [client.get(path, query_string=query, headers=h) for h in cases]
    assert client.get(path, query_string=query, headers=bearer(token)).status_code == 200
    from_memo = [client.get(path, query_string=query, headers=h) for h in cases]
    for a, b in zip(from_flask, from_memo):
        assert (a.status_code, a.get_json(), a.headers.get("WWW-Authenticate")) == \
               (b.status_code, b.get_json(), b.headers.get("WWW-Authenticate"))
        assert a.status_code in (401, 403) and b.mimetype == "application/json"
