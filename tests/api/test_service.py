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


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_status_shows_filesystem_paths_to_the_admin_token_only(lds_core, tmp_path):
    from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token

    from lds.app import create_app

    client = create_app(auth_settings(lds_core.data.path, tmp_path), lds=lds_core).test_client()
    admin = client.get("/v3/lds/status", headers=bearer(ADMIN_TOKEN)).get_json()
    assert admin["data_dir"] == str(lds_core.data.path) and admin["source"]["path"].startswith("/")
    rows = {row["name"]: row["value"] for row in admin["settings"]}
    assert rows["data_dir"] == lds_core.settings.data_dir and rows["state_dir"] == lds_core.settings.state_dir

    public = client.get("/v3/lds/status", headers=bearer(make_token(client))).get_json()
    assert "data_dir" not in public and "path" not in public["source"]
    assert public["source"]["sha256"] == admin["source"]["sha256"] and public["graphs"] == admin["graphs"]
    rows = {row["name"]: row["value"] for row in public["settings"]}
    assert rows["data_dir"] == rows["state_dir"] == "(hidden: admin only)"
    assert rows["snap_radius_m"] == lds_core.settings.snap_radius_m
    paths = (str(tmp_path), str(lds_core.data.path), lds_core.settings.state_dir)
    leaked = [s for s in _strings(public) if s.startswith("/") or any(p in s for p in paths)]
    assert not leaked and ADMIN_TOKEN not in str(public)
