"""GET/POST /v3/lds/isolines/h3 through the app: CARTO's envelope, the isolines quota, the answer cache."""

from authfixtures import *
from authfixtures import auth_settings, bearer, make_token

from lds.app import create_app

H3 = {"origin": "7.4246,43.7384", "range": "120,300", "mode": "car", "resolution": "10"}


def test_envelope_get_and_post_agree(client, lds_core):
    r = client.get("/v3/lds/isolines/h3", query_string=H3)
    assert r.status_code == 200
    body = r.get_json()
    assert [e["error"] for e in body] == [None]
    value = body[0]["value"]
    assert [v["range"] for v in value] == [120, 300]
    assert {(v["range_type"], v["mode"], v["resolution"]) for v in value} == {("time", "car", 10)}
    assert value == lds_core.isolines_h3((7.4246, 43.7384), [120, 300], "time", "car", 10)
    post = client.post(
        "/v3/lds/isolines/h3", json={"origin": [7.4246, 43.7384], "range": [120, 300], "mode": "car", "resolution": 10}
    )
    assert post.status_code == 200 and post.get_json() == body


def test_charged_to_the_isolines_quota(auth_client):
    token = make_token(auth_client, quotas={"isolines": 1})
    headers = bearer(token)
    r = auth_client.get("/v3/lds/isolines/h3", query_string={**H3, "resolution": "99"}, headers=headers)
    assert r.status_code == 400 and "h3_isoline_max_resolution" in r.get_json()["error"]
    assert auth_client.get("/v3/lds/isolines/h3", query_string=H3, headers=headers).status_code == 200
    r = auth_client.get("/v3/lds/isolines/h3", query_string=H3, headers=headers)
    assert r.status_code == 429 and "isolines quota" in r.get_json()["error"]
    assert (
        auth_client.get(
            "/v3/lds/isolines", query_string={"origin": H3["origin"], "range": "60"}, headers=headers
        ).status_code
        == 429
    )


def test_cached_like_isolines_under_its_own_key(lds_core, tmp_path):
    app = create_app(
        auth_settings(lds_core.data.path, tmp_path, auth=False, cache_enabled=True, fast_path=False), lds=lds_core
    )
    client = app.test_client()
    first = client.get("/v3/lds/isolines/h3", query_string=H3)
    again = client.post("/v3/lds/isolines/h3", json={**H3, "range": [120.0, 300]})
    assert first.headers["X-LDS-Cache"] == "miss" and again.headers["X-LDS-Cache"] == "hit"
    assert again.get_json() == first.get_json()
    other = client.get("/v3/lds/isolines/h3", query_string={**H3, "resolution": "9"})
    assert other.headers["X-LDS-Cache"] == "miss" and other.get_json()[0]["value"][0]["resolution"] == 9
    polygons = client.get("/v3/lds/isolines", query_string={k: H3[k] for k in ("origin", "range", "mode")})
    assert polygons.headers["X-LDS-Cache"] == "miss"
