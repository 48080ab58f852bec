"""/docs in headless Chromium (tests/js/docs.mjs, playwright-core) against a live `lds serve` with auth on: Swagger
UI loads from the package alone (no request leaves the server), lists every operation of /openapi.json, takes a
token through "Authorize" and answers "Try it out" on reverse geocoding with the document's example point.
Screenshots are kept in the test's tmp dir (``artifacts/``)."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest
import requests
from authfixtures import *
from liveserver import browser_server, new_token, run_node


@pytest.fixture(scope="module")
def live(monaco_dir, tmp_path_factory):
    with browser_server(monaco_dir, tmp_path_factory.mktemp("docs")) as base:
        yield base


def test_docs_page_tries_a_call_with_a_pasted_token(live, tmp_path):
    token = new_token(live, allowed_apis=["lds"])
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    out = run_node("docs.mjs", {"LDS_BASE": live, "LDS_TOKEN": token, "LDS_ARTIFACTS": str(artifacts)}, timeout_s=180)
    print(f"screenshots: {artifacts}")
    doc = requests.get(live + "/openapi.json", timeout=30).json()
    assert out["title"].startswith(doc["info"]["title"])
    assert out["operations"] == sum(len(ops) for ops in doc["paths"].values())
    assert set(out["hosts"]) == {urlparse(live).netloc}, out["hosts"]  # offline: every asset from the server
    assert out["console"] == []
    assert out["status"] == "200", out
    answer = json.loads(out["body"])
    assert answer[0]["error"] is None and answer[0]["value"][0]["formattedAddress"]
    assert "Authorization: Bearer" in out["curl"] and "/v3/lds/geocoding/reverse?" in out["curl"]
    assert len(list(artifacts.glob("*.png"))) == 2
