"""Admission control over HTTP: per-token concurrency (429), heavy slots (503), the batch character cap (a job)."""

from __future__ import annotations

import threading
import time

import pytest
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token

WAIT = 30  # seconds a test waits for a background request (a bound on a broken test, not a timing check)
BATCH = {"addresses": ["Boulevard des Moulins 12", "Rue Grimaldi 5"]}
ROUTE = "/v3/lds/routing?origin=7.4197,43.7311&destination=7.4270,43.7400"


def make_app(lds_core, tmp_path, **overrides):
    from lds.app import create_app

    values = {"heavy_batch_items": 1, "heavy_slots": 1, **overrides}
    return create_app(auth_settings(lds_core.data.path, tmp_path, **values), lds=lds_core)


def wait_until(predicate) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "the background request never got in flight"
        time.sleep(0.01)


class HeavyHolder:
    """Another thread holding a heavy slot (a request of this thread would share it: nested heavy is a no-op)."""

    def __init__(self, admission):
        self.held, self.done = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, args=(admission,))

    def _hold(self, admission) -> None:
        with admission.heavy():
            self.held.set()
            self.done.wait(WAIT)

    def __enter__(self):
        self.thread.start()
        assert self.held.wait(WAIT)
        return self

    def release(self) -> None:
        self.done.set()
        self.thread.join(WAIT)

    def __exit__(self, *exc) -> None:
        self.release()


class InFlight:
    """A heavy batch sent from another thread, kept in flight by a heavy slot this test holds."""

    def __init__(self, app, token: str):
        self.app, self.token, self.admission = app, token, app.extensions["lds_admission"]
        self.blocker = HeavyHolder(self.admission).__enter__()
        self.response = None
        self.thread = threading.Thread(target=self._send)
        self.thread.start()
        wait_until(lambda: self.admission.status()["heavy_in_flight_here"] == 2)  # ours and the waiting batch

    def _send(self) -> None:
        self.response = self.app.test_client().post("/v3/lds/geocoding/batch", json=BATCH,
                                                    headers=bearer(self.token))

    def finish(self):
        self.blocker.release()
        self.thread.join(WAIT)
        return self.response


def test_a_token_over_its_concurrency_gets_429_with_retry_after(lds_core, tmp_path):
    app = make_app(lds_core, tmp_path, token_concurrency=1, heavy_wait_s=WAIT)
    client = app.test_client()
    token, other = make_token(client), make_token(client)
    busy = InFlight(app, token)
    try:
        for r in (client.get("/v3/lds/stats", headers=bearer(token)), client.get(ROUTE, headers=bearer(token))):
            assert r.status_code == 429 and r.headers["Retry-After"] == "1"
            body = r.get_json()
            assert body["status"] == 429 and "token_concurrency is 1" in body["error"]
        assert client.get(ROUTE, headers=bearer(other)).status_code == 200  # other tokens are not held up
    finally:
        response = busy.finish()
    assert response.status_code == 200 and len(response.get_json()) == 2
    assert client.get("/v3/lds/stats", headers=bearer(token)).status_code == 200  # its slot came back


def test_the_admin_token_is_not_held_to_the_token_concurrency(lds_core, tmp_path):
    app = make_app(lds_core, tmp_path, token_concurrency=1, heavy_wait_s=WAIT)
    busy = InFlight(app, ADMIN_TOKEN)
    try:
        assert app.test_client().get("/v3/lds/stats", headers=bearer(ADMIN_TOKEN)).status_code == 200
    finally:
        assert busy.finish().status_code == 200


def test_a_heavy_request_beyond_the_wait_gets_503_with_retry_after(lds_core, tmp_path):
    app = make_app(lds_core, tmp_path, heavy_wait_s=0.2, heavy_isoline_reach_m=1000)
    client = app.test_client()
    token = make_token(client)
    stats = client.get("/v3/lds/stats", headers=bearer(token)).get_json()
    with HeavyHolder(app.extensions["lds_admission"]):  # another request holds the only heavy slot
        r = client.post("/v3/lds/geocoding/batch", json=BATCH, headers=bearer(token))
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
        assert r.get_json()["status"] == 503 and "?async=true" in r.get_json()["error"]
        iso = "/v3/lds/isolines?origin=7.4197,43.7311&range=600"  # car 600 s reaches ~9 km: heavy here
        for r in (client.get(iso, headers=bearer(token)), client.post(iso, headers=bearer(token))):
            assert r.status_code == 503 and r.headers["Retry-After"] and r.get_json()["status"] == 503
        assert client.get(ROUTE, headers=bearer(token)).status_code == 200  # light requests pass
        small = client.post("/v3/lds/geocoding/batch", json={"addresses": ["Rue Grimaldi 5"]}, headers=bearer(token))
        assert small.status_code == 200  # one item: not heavy
    assert client.get("/v3/lds/stats", headers=bearer(token)).get_json() == [
        {**s, "used_quota": s["used_quota"] + {"geocoding": 1, "routing": 1}.get(s["service"], 0)}
        for s in stats]  # the refused requests were not charged
    r = client.post("/v3/lds/geocoding/batch", json=BATCH, headers=bearer(token))
    assert r.status_code == 200 and len(r.get_json()) == 2


@pytest.mark.parametrize("cap, expected", [(1000, 202), (0, 200)])
def test_a_batch_over_the_character_cap_becomes_a_job(lds_core, tmp_path, cap, expected):
    app = make_app(lds_core, tmp_path, batch_max_sync_chars=cap, heavy_batch_items=100, heavy_batch_chars=10**6)
    client = app.test_client()
    token = make_token(client)
    long_items = ["Boulevard des Moulins 12 " + "x" * 375] * 3  # 3 x 400 = 1,200 characters
    r = client.post("/v3/lds/geocoding/batch", json={"addresses": long_items}, headers=bearer(token))
    assert r.status_code == expected
    if expected == 202:
        assert r.get_json()["status"] == "pending" and r.headers["Location"].endswith(r.get_json()["jobId"])
    else:
        assert len(r.get_json()) == 3
    r = client.post("/v3/lds/geocoding/batch", json={"addresses": long_items[:2]}, headers=bearer(token))
    assert r.status_code == 200 and len(r.get_json()) == 2  # 800 characters: inline
