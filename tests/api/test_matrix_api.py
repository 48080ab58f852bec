"""POST /v3/lds/routing/matrix over HTTP: the LDS envelope, the cells charged as routing units, the cache."""

from __future__ import annotations

from authfixtures import *
from authfixtures import bearer, make_token

A, B, C = [7.4197, 43.7311], [7.4270, 43.7400], [7.4216, 43.7370]


def _used(client, token: str) -> int:
    stats = client.get("/v3/lds/stats", headers=bearer(token)).get_json()
    return {s["service"]: s["used_quota"] for s in stats}["routing"]


def test_matrix_answers_in_the_lds_envelope(client, lds_core):
    r = client.post("/v3/lds/routing/matrix", json={"origins": [A, B], "destinations": [B, C], "mode": "car"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body[0]["error"] is None
    value = body[0]["value"][0]
    route = lds_core.route(tuple(A), tuple(B), mode="car")
    assert value["durations"][0][0] == route["duration"] and value["distances"][0][0] == route["distance"]
    assert len(value["durations"]) == 2 and len(value["durations"][0]) == 2


def test_matrix_text_points_and_default_destinations(client):
    r = client.post(
        "/v3/lds/routing/matrix", json={"origins": "7.4197,43.7311;7.4270,43.7400", "annotations": "duration"}
    )
    value = r.get_json()[0]["value"][0]
    assert "distances" not in value and value["durations"][0][0] == 0.0 and value["durations"][1][0] > 0


def test_matrix_charges_one_routing_unit_per_cell(auth_client):
    token = make_token(auth_client, name="matrix")
    before = _used(auth_client, token)
    r = auth_client.post(
        "/v3/lds/routing/matrix", json={"origins": [A, B, C], "destinations": [A, B]}, headers=bearer(token)
    )
    assert r.status_code == 200
    assert _used(auth_client, token) - before == 6
    assert auth_client.post("/v3/lds/routing/matrix", json={"origins": [A]}).status_code == 401


def test_matrix_is_cached(lds_core, tmp_path):
    from lds.app import create_app
    from lds.settings import Settings

    settings = Settings.from_env(
        env={}, data_dir=str(lds_core.data.path), auth=False, cache_enabled=True, state_dir=str(tmp_path)
    )
    app = create_app(settings, lds=lds_core)
    client = app.test_client()
    body = {"origins": [A, B], "mode": "walk"}
    first = client.post("/v3/lds/routing/matrix", json=body)
    second = client.post("/v3/lds/routing/matrix", json=body)
    assert first.headers.get("X-LDS-Cache") == "miss" and second.headers.get("X-LDS-Cache") == "hit"
    assert first.get_json() == second.get_json()


def _wait(client, job_id: str, headers=None) -> dict:
    import time

    deadline = time.monotonic() + 180  # generous: a loaded CI machine runs the job's thread slowly
    while time.monotonic() < deadline:
        doc = client.get(f"/v3/lds/jobs/{job_id}", headers=headers).get_json()
        if doc["status"] in ("success", "failure", "cancelled"):
            return doc
        time.sleep(0.05)
    raise AssertionError(f"matrix job still {doc['status']}")


def test_a_matrix_over_the_limit_becomes_a_job_of_rows(lds_core, tmp_path):
    """More origins than matrix_max_origins: 202 and a job whose entries are the rows, charged per cell."""
    from authfixtures import auth_settings

    from lds.app import create_app

    app = create_app(
        auth_settings(lds_core.data.path, tmp_path, matrix_max_origins=2, matrix_max_destinations=2), lds=lds_core
    )
    client = app.test_client()
    token = make_token(client, name="matrix job")
    h = bearer(token)
    far = [2.35, 48.85]
    before = _used(client, token)
    r = client.post("/v3/lds/routing/matrix", json={"origins": [A, B, far, C], "destinations": [B, C]}, headers=h)
    assert r.status_code == 202, r.get_json()
    doc = _wait(client, r.get_json()["jobId"], h)
    assert doc["status"] == "success" and doc["progress"] == {"done": 4, "total": 4}
    rows = doc["results"]
    sync = lds_core.matrix([A, B, C], [B, C], "car")
    assert rows[0] == {"error": None, "value": {"durations": sync["durations"][0], "distances": sync["distances"][0]}}
    assert (
        rows[1]["value"]["durations"] == sync["durations"][1] and rows[3]["value"]["distances"] == sync["distances"][2]
    )
    assert rows[2]["value"] is None and "farther than" in rows[2]["error"]
    assert _used(client, token) - before == 4 * 2
    small = client.post("/v3/lds/routing/matrix", json={"origins": [A], "destinations": [B], "async": True}, headers=h)
    assert small.status_code == 202
    too_wide = client.post("/v3/lds/routing/matrix", json={"origins": [A, B, C]}, headers=h)
    assert too_wide.status_code == 400 and "destinations" in too_wide.get_json()["error"]
