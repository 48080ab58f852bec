"""One error envelope everywhere: every endpoint, fed bad input, answers a 4xx
``{"error": "<message>", "status": <code>}`` — never a 500, never HTML, never a traceback."""

import pytest

# (method, url, json body or None, expected status) — at least one case for every route in the app.
BAD_REQUESTS = [
    ("GET", "/v3/lds/routing", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=abc&destination=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42&destination=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42,143.73&destination=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=nan,43.73&destination=7.42,43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42,43.73&destination=7.43,43.74&mode=plane", None, 400),
    ("GET", "/v3/lds/routing?origin=7.42,43.73&destination=7.43,43.74&waypoints=43.73", None, 400),
    ("GET", "/v3/lds/routing?origin=2.35,48.85&destination=7.43,43.74", None, 422),
    ("POST", "/v3/lds/routing", [1, 2], 400),
    ("POST", "/v3/lds/routing", "not json", 400),
    ("GET", "/v3/lds/isolines", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=abc", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=-5", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=1,2,3,4,5,6,7,8,9,10", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=300&range_type=weight", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=999999", None, 400),
    ("GET", "/v3/lds/isolines?origin=7.42,43.73&range=300&mode=boat", None, 400),
    ("GET", "/v3/lds/isolines?origin=2.35,48.85&range=300", None, 422),
    ("GET", "/v3/lds/geocoding/geocode", None, 400),
    ("GET", "/v3/lds/geocoding/geocode?address=Monaco&limit=zero", None, 400),
    ("GET", "/v3/lds/geocoding/geocode?address=Monaco&limit=100000", None, 400),
    ("GET", "/v3/lds/geocoding/geocode?address=Monaco&country=Monaco!", None, 400),
    ("GET", "/v3/lds/geocoding/reverse", None, 400),
    ("GET", "/v3/lds/geocoding/reverse?lat=95&lon=7.42", None, 400),
    ("GET", "/v3/lds/geocoding/reverse?lat=43.73&lon=east", None, 400),
    ("POST", "/v3/lds/geocoding/batch", None, 400),
    ("POST", "/v3/lds/geocoding/batch", {"addresses": "Monaco"}, 400),
    ("POST", "/v3/lds/geocoding/batch", {"nothing": []}, 400),
    ("POST", "/v3/lds/geocoding/batch", "not json", 400),
    ("GET", "/v3/lds/geocoding/batch", None, 405),
    ("GET", "/v3/lds/nope", None, 404),
    ("GET", "/v3/lds/jobs/does-not-exist", None, 404),
    ("DELETE", "/v3/lds/jobs/does-not-exist", None, 404),
    # auth is off in this client: the Tokens API says so (bad bodies with auth on: tests/api/test_tokens.py)
    ("POST", "/v3/tokens", "not json", 503),
    ("GET", "/v3/tokens/nope", None, 503),
    ("PUT", "/v3/tokens", None, 405),
    ("POST", "/v3/lds/stats", None, 405),
    ("POST", "/v3/lds/status", None, 405),
]


def _send(client, method, url, body):
    if body is None:
        return client.open(url, method=method)
    if isinstance(body, str):
        return client.open(url, method=method, data=body, content_type="application/json")
    return client.open(url, method=method, json=body)


@pytest.mark.parametrize("method,url,body,status", BAD_REQUESTS)
def test_bad_input_gets_the_envelope(client, method, url, body, status):
    r = _send(client, method, url, body)
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.is_json, r.get_data(as_text=True)[:300]
    payload = r.get_json()
    assert set(payload) == {"error", "status"} and payload["status"] == status
    assert isinstance(payload["error"], str) and payload["error"].strip()
    assert "Traceback" not in payload["error"]


def test_every_route_has_a_bad_input_case(app):
    covered = {url.split("?")[0] for _, url, _, _ in BAD_REQUESTS}
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/v3")}
    uncovered = []
    for rule in rules:
        prefix = rule.split("<")[0]
        if rule in covered or any(c.startswith(prefix) and "<" in rule for c in covered):
            continue
        uncovered.append(rule)
    assert not uncovered, f"add bad-input cases for: {sorted(uncovered)}"
