"""The dialects' HTTP layer (lds.api.dialects): which are served (settings), the LDS token and quota rules, the
answer cache, and hostile input answered in each dialect's error shape, never a 500."""

from __future__ import annotations

import pytest
from authfixtures import *
from authfixtures import auth_settings, bearer, make_token

from lds.app import create_app
from lds.settings import Settings

A, B, C = "7.4197,43.7311", "7.4270,43.7400", "7.4216,43.7370"


def _app(lds_core, tmp_path, **overrides):
    values = {
        "data_dir": str(lds_core.data.path),
        "auth": False,
        "cache_enabled": False,
        "state_dir": str(tmp_path),
        **overrides,
    }
    return create_app(Settings.from_env(env={}, **values), lds=lds_core)


def test_dialects_setting_picks_what_is_served(lds_core, tmp_path):
    only_osrm = _app(lds_core, tmp_path, dialects="osrm").test_client()
    assert only_osrm.get(f"/route/v1/driving/{A};{B}").status_code == 200
    assert only_osrm.get("/nominatim/search?q=Monaco").status_code == 404
    assert only_osrm.get("/isochrone").status_code == 404
    at_root = _app(lds_core, tmp_path, nominatim_at_root=True).test_client()
    assert at_root.get("/search?q=Monaco&format=json").get_json()[0]["display_name"]
    assert at_root.get("/search.php?q=Monaco&format=json").status_code == 200
    assert _app(lds_core, tmp_path, dialects="").test_client().get(f"/route/v1/driving/{A};{B}").status_code == 404
    with pytest.raises(ValueError, match="LDS_DIALECTS"):
        _app(lds_core, tmp_path, dialects="osrm,graphhopper")


def test_quota_units_of_the_dialects(lds_core, tmp_path):
    client = create_app(auth_settings(lds_core.data.path, tmp_path), lds=lds_core).test_client()
    token = make_token(client, name="dialects")

    def used() -> dict[str, int]:
        stats = client.get("/v3/lds/stats", headers=bearer(token)).get_json()
        return {s["service"]: s["used_quota"] for s in stats}

    before = used()
    h = bearer(token)
    assert client.get(f"/table/v1/driving/{A};{B};{C}?sources=0;1", headers=h).status_code == 200
    assert client.get(f"/route/v1/driving/{A};{B}", headers=h).status_code == 200
    assert client.get("/nominatim/search?q=Monaco", headers=h).status_code == 200
    assert (
        client.get(
            '/isochrone?json={"locations":[{"lat":43.7311,"lon":7.4197}],"costing":"auto","contours":[{"time":2}]}',
            headers=h,
        ).status_code
        == 200
    )
    after = used()
    assert after["routing"] - before["routing"] == 2 * 3 + 1
    assert after["geocoding"] - before["geocoding"] == 1 and after["isolines"] - before["isolines"] == 1
    other_api = make_token(client, name="imports only", allowed_apis=["imports"])
    r = client.get(f"/route/v1/driving/{A};{B}", headers=bearer(other_api))
    assert r.status_code == 403 and r.get_json()["code"] == "Forbidden"


def test_dialect_answers_share_the_cache(lds_core, tmp_path):
    client = _app(lds_core, tmp_path, cache_enabled=True).test_client()
    assert client.get(f"/v3/lds/routing?origin={A}&destination={B}").headers.get("X-LDS-Cache") == "miss"
    assert client.get(f"/route/v1/driving/{A};{B}").headers.get("X-LDS-Cache") == "hit"


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    "url,key",
    [
        (f"/isochrone?json={DEEP}", "error_code"),
        ("/isochrone?json=%22%5Cud800%22", "error_code"),
        ("/isochrone?json=%7B%22locations%22%3A%5B%7B%22lat%22%3A%22NaN%22%2C%22lon%22%3A1%7D%5D%7D", "error_code"),
        ("/route/v1/driving/nan,nan;1,1", "code"),
        ("/route/v1/driving/1e999,1;1,1", "code"),
        ("/table/v1/driving/" + ";".join([A] * 2100), "code"),
        ("/nearest/v1/driving/7.42,43.73;7.43,43.74", "code"),
        ("/nearest/v1/driving/7.42,43.73?number=-1", "code"),
        (f"/table/v1/driving/{A};{B}?sources=0;x", "code"),
        ("/nominatim/search?q=" + "x" * 5000, "error"),
        ("/nominatim/reverse?lat=1e999&lon=7", "error"),
        ("/nominatim/lookup?osm_ids=" + ",".join(["N1"] * 60), "error"),
        ("/nominatim/search?q=x&limit=abc", "error"),
        ("/nominatim/reverse?lat=43.7&lon=7.4&zoom=x", "error"),
    ],
)
def test_hostile_input_gets_the_dialects_error_shape(lds_core, tmp_path, url, key):
    r = _app(lds_core, tmp_path).test_client().get(url)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    assert key in r.get_json() and "Traceback" not in r.get_data(as_text=True)
