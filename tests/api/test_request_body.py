"""Request bodies as lds.api.params reads them: Content-Length or chunked, JSON only, same answers as GET."""

import io

ROUTE = {"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"}
ROUTE_JSON = b'{"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"}'


def chunked_post(client, path, body, content_type="application/json", terminated=True):
    """A body without Content-Length, as a chunk-aware server (gunicorn) hands it over."""
    return client.post(path, input_stream=io.BytesIO(body),
                       headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
                       environ_overrides={"wsgi.input_terminated": True} if terminated else {})


def test_chunked_bodies_get_the_same_answer_as_get(client):
    expected = client.get("/v3/lds/routing", query_string=ROUTE)
    assert expected.status_code == 200
    r = chunked_post(client, "/v3/lds/routing", ROUTE_JSON)
    assert r.status_code == 200 and r.get_data() == expected.get_data()
    r = chunked_post(client, "/v3/lds/geocoding/batch", b'{"addresses": ["Boulevard des Moulins 12"], "limit": 1}')
    assert r.status_code == 200 and len(r.get_json()) == 1


def test_a_chunked_body_the_server_cannot_delimit_is_411(client):
    r = chunked_post(client, "/v3/lds/routing", ROUTE_JSON, terminated=False)
    assert r.status_code == 411 and "Content-Length" in r.get_json()["error"]


def test_post_bodies_answer_byte_for_byte_as_before(client):
    """Decoding through lds.inputs changes nothing for valid requests: same bytes as the GET."""
    expected = client.get("/v3/lds/routing", query_string=ROUTE).get_data()
    for headers in ({"Content-Type": "application/json"}, {"Content-Type": "application/json; charset=utf-8"},
                    {"Content-Type": "application/geo+json"}, {}):
        r = client.post("/v3/lds/routing", data=ROUTE_JSON, headers=headers)
        assert r.status_code == 200 and r.get_data() == expected, headers
    r = client.post("/v3/lds/routing", data=b"\xef\xbb\xbf" + ROUTE_JSON, content_type="application/json")
    assert r.get_data() == expected  # a UTF-8 byte order mark is ignored, as before


def test_an_empty_body_means_query_parameters_only(client):
    r = client.post("/v3/lds/routing", query_string=ROUTE, data=b"", content_type="application/json")
    assert r.status_code == 200


def test_bad_bodies_name_the_problem(client):
    cases = [
        (b'{"origin": "\\udcff"}', "application/json", 400, "lone surrogate"),
        (b'{"origin": "\xff"}', "application/json", 400, "not valid UTF-8"),
        (b"[" * 100 + b"]" * 100, "application/json", 400, "nested more than 64 levels deep (max_json_depth)"),
        (b"[1, 2]", "application/json", 400, "must be a JSON object"),
        (ROUTE_JSON, "text/plain", 415, "Content-Type: application/json"),
    ]
    for body, content_type, status, words in cases:
        r = client.post("/v3/lds/routing", data=body, content_type=content_type)
        assert r.status_code == status and words in r.get_json()["error"], (body[:30], r.get_json())


def test_413_names_the_limit_that_applies(client, app):
    settings = app.extensions["lds_settings"]
    r = client.post("/v3/lds/routing", data=b" " * (settings.max_body_bytes + 1), content_type="application/json")
    assert r.status_code == 413 and str(settings.max_body_bytes) in r.get_json()["error"]
