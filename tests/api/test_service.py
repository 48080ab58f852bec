"""/health and /v3/lds/status: liveness, loaded data, every setting with value and help."""

from lds.settings import SETTINGS


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


def test_status_shows_data_graphs_and_settings(client, lds_core):
    body = client.get("/v3/lds/status").get_json()
    assert body["data_version"] == lds_core.data_version
    assert len(body["bbox"]) == 4
    assert body["graphs"]["car"]["nodes"] == lds_core.graphs["car"].n_nodes
    rows = {row["name"]: row for row in body["settings"]}
    assert set(rows) == {s.name for s in SETTINGS}
    assert rows["snap_radius_m"]["value"] == lds_core.settings.snap_radius_m
    assert all(row["help"] for row in rows.values())


def test_unknown_endpoint_is_json_404(client):
    r = client.get("/v3/lds/nope")
    assert r.status_code == 404 and r.get_json() == {"error": "Not found: no such endpoint", "status": 404}


def test_wrong_method_is_json_405(client):
    r = client.delete("/v3/lds/routing")
    assert r.status_code == 405 and r.get_json()["status"] == 405
