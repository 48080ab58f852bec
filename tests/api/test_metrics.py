"""HTTP observability: X-LDS-Cache on answers, /metrics in Prometheus format, one JSON log line per request."""

import json
import logging

import pytest
from redisfixtures import isolated_settings

from lds.app import create_app
from lds.logs import JsonFormatter

ISO = {"origin": "7.4197,43.7311", "range": "300", "mode": "walk"}


@pytest.fixture()
def cached_client(lds_core, monaco_dir, tmp_path):
    app = create_app(isolated_settings(monaco_dir, state_dir=str(tmp_path), cache_enabled=True), lds=lds_core)
    return app.test_client()


def test_cache_header_says_miss_then_hit(cached_client):
    first = cached_client.get("/v3/lds/isolines", query_string=ISO)
    second = cached_client.get("/v3/lds/isolines", query_string=ISO)
    assert first.status_code == second.status_code == 200
    assert first.headers["X-LDS-Cache"] == "miss" and second.headers["X-LDS-Cache"] == "hit"
    assert first.get_json() == second.get_json()


def test_no_cache_header_without_an_answer(cached_client):
    assert "X-LDS-Cache" not in cached_client.get("/health").headers
    bad = cached_client.get("/v3/lds/isolines", query_string={**ISO, "range": "x"})
    assert bad.status_code == 400 and "X-LDS-Cache" not in bad.headers


def test_metrics_endpoint_counts_requests_latency_and_cache(cached_client):
    cached_client.get("/v3/lds/isolines", query_string=ISO)
    cached_client.get("/v3/lds/isolines", query_string=ISO)
    r = cached_client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    text = r.get_data(as_text=True)
    assert 'lds_http_requests_total{endpoint="/v3/lds/isolines",method="GET",status="200"}' in text
    assert 'lds_http_request_duration_seconds_bucket{endpoint="/v3/lds/isolines",le="0.005"}' in text
    assert 'lds_cache_lookups_total{endpoint="isolines",result="hit"}' in text
    assert "lds_job_queue_depth 0.0" in text and "lds_jobs_active" in text and "lds_job_backend_up 1.0" in text


def test_one_json_log_line_per_request_without_the_query_string(cached_client, caplog):
    with caplog.at_level(logging.INFO, logger="lds.request"):
        r = cached_client.get("/v3/lds/isolines", query_string={**ISO, "access_token": "secret-token-value"},
                              headers={"X-Request-ID": "req-42"})
    assert r.headers["X-Request-ID"] == "req-42"
    records = [rec for rec in caplog.records if rec.name == "lds.request"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    doc = json.loads(line)
    assert doc["path"] == "/v3/lds/isolines" and doc["status"] == 200 and doc["request_id"] == "req-42"
    assert doc["endpoint"] == "/v3/lds/isolines" and doc["cache"] in ("hit", "miss") and doc["duration_ms"] > 0
    assert "secret-token-value" not in line and "\n" not in line
