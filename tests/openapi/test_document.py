"""The OpenAPI document against the app that serves it: every route of app.url_map is described (and nothing
else), every answer-service parameter has a schema with the Settings' limits, the security schemes and the error
envelope are there; /docs works with no network (its assets are files of an installed wheel)."""

from __future__ import annotations

import pytest
import schemathesis
from isolated_settings import test_settings

from lds.api.docs import NOT_API, served_routes
from lds.openapi import document, openapi_path, undeclared
from lds.openapi.document import param_schema
from lds.services import SERVICES


@pytest.fixture(scope="module")
def doc(app) -> dict:
    r = app.test_client().get("/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def _operations(doc: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}


def test_document_matches_url_map_both_ways(app, doc):
    served = {
        (openapi_path(rule.rule), m)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in NOT_API
        for m in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert _operations(doc) == served
    assert undeclared(served_routes(app)) == [], "routes served but not described in lds.openapi.routes"
    assert doc["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(doc).validate()  # against the OpenAPI 3.1 meta-schema


def test_optional_routes_are_described_too(monaco_dir, tmp_path):
    """Routes that only some settings add (the upstream proxy, Nominatim at the root) are described as well."""
    from lds.app import create_app

    settings = test_settings(
        monaco_dir, tmp_path, upstream_api_url="http://127.0.0.1:9", nominatim_at_root=True, state_dir=str(tmp_path)
    )
    app = create_app(settings)
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/v3/<path:rest>", "/search"} <= rules
    assert undeclared(served_routes(app)) == []
    doc = app.test_client().get("/openapi.json").get_json()
    assert doc["paths"]["/v3/{rest}"]["delete"]["tags"] == ["proxy"]


def test_every_service_parameter_has_a_schema(lds_core):
    missing = [
        f"{s.name}.{p.names[0]}"
        for s in SERVICES.values()
        for p in s.params
        if param_schema(p.names[0], lds_core.settings) is None
    ]
    assert missing == [], "declare these in lds.openapi.schemas.PARAM_SCHEMAS"


def test_every_service_has_its_answer_schema(doc):
    from lds.openapi.schemas import ANSWER_ITEMS, SERVICE_SUMMARIES

    assert set(ANSWER_ITEMS) == set(SERVICES) == set(SERVICE_SUMMARIES), "declare the service in lds.openapi.schemas"
    for service in SERVICES.values():
        for method in service.methods:
            answer = doc["paths"][service.path][method.lower()]["responses"]["200"]["content"]["application/json"]
            item = answer["schema"]["items"]["properties"]["value"]["items"]
            assert item == {"$ref": f"#/components/schemas/{ANSWER_ITEMS[service.name]}"}


def test_parameter_limits_come_from_settings(monaco_dir, tmp_path):
    settings = test_settings(
        monaco_dir,
        tmp_path,
        max_ranges=3,
        geocode_max_limit=7,
        geocode_default_limit=2,
        max_isoline_time_s=900,
        max_isoline_distance_m=800,
    )
    routes = served_routes_of(settings)
    doc = document(routes, settings, version="t", modes=["car", "walk"])
    geocode = {p["name"]: p for p in doc["paths"]["/v3/lds/geocoding/geocode"]["get"]["parameters"]}
    assert geocode["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 7,
        "default": 2,
        "description": geocode["limit"]["schema"]["description"],
    }
    assert geocode["address"]["required"] and not geocode["limit"]["required"]
    body = doc["paths"]["/v3/lds/isolines"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    as_list = next(s for s in body["properties"]["range"]["oneOf"] if s["type"] == "array")
    assert as_list["maxItems"] == 3 and as_list["items"]["maximum"] == 900
    assert body["properties"]["mode"]["enum"] == ["car", "walk"]
    assert {"origin", "range"} <= set(body["required"])
    assert str(settings.max_body_bytes) in doc["paths"]["/v3/lds/isolines"]["post"]["requestBody"]["description"]
    batch = doc["paths"]["/v3/lds/geocoding/batch"]["post"]["requestBody"]["description"]
    assert str(settings.job_max_body_bytes) in batch


def served_routes_of(settings):
    from lds.app import create_app

    return served_routes(create_app(settings))


def test_security_and_error_envelope(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    assert schemes["access_token"] == {"type": "apiKey", "in": "query", "name": "access_token"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "status"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "dialects" not in op["tags"]:  # the peer APIs answer errors in their own shapes
                assert op["responses"]["default"] == {"$ref": "#/components/responses/Error"}, (method, path)
            assert ("security" in op) == path.startswith("/v3/"), (method, path)


def test_job_capable_services_document_202(doc):
    batch = doc["paths"]["/v3/lds/geocoding/batch"]["post"]
    assert batch["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobAccepted"
    }
    assert "202" not in doc["paths"]["/v3/lds/routing"]["get"]["responses"]


def test_docs_page_and_assets_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    for src in ("docs/swagger-ui-bundle.js", "docs/swagger-ui.css", "docs/lds-init.js"):
        assert src in page.get_data(as_text=True)
        asset = client.get("/" + src)
        assert asset.status_code == 200 and len(asset.data) > 100
    assert b"openapi.json" in client.get("/docs/lds-init.js").data


@pytest.mark.parametrize("path", ["/docs/nope.js", "/docs/../app.py", "/docs/%2e%2e/settings.py"])
def test_docs_missing_asset_is_an_enveloped_404(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.get_json() == {"error": r.get_json()["error"], "status": 404}


def test_public_url_is_the_server(monaco_dir, tmp_path):
    from lds.app import create_app

    app = create_app(test_settings(monaco_dir, tmp_path, public_url="https://lds.example.com", state_dir=str(tmp_path)))
    assert app.test_client().get("/openapi.json").get_json()["servers"] == [{"url": "https://lds.example.com"}]


@pytest.mark.parametrize(
    "url,status",
    [
        ("/openapi.json?q=caf%E9", 400),  # a query string that is not UTF-8
        ("/docs?x=%ff%fe", 400),
        ("/docs/%00", 404),
        ("/docs/..%2f..%2fpyproject.toml", 404),
        ("/docs/" + "a/" * 2000 + "b.js", 404),
        ("/docs/lds-init.js/..", 404),
    ],
)
def test_hostile_docs_requests_get_the_envelope(client, url, status):
    r = client.get(url)
    assert r.status_code == status, r.data[:200]
    assert set(r.get_json()) == {"error", "status"} and r.get_json()["status"] == status


def test_post_to_docs_is_an_enveloped_405(client):
    r = client.post("/openapi.json", json={})
    assert r.status_code == 405 and r.get_json() == {"error": "Method not allowed", "status": 405}


def test_the_generator_has_no_flask():
    """lds.openapi is core code: the document can be made (e.g. at build time, by a script) without Flask."""
    import subprocess
    import sys

    code = "import sys, lds.openapi; print('flask' in sys.modules or 'werkzeug' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
