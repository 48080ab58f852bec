"""Batch jobs over HTTP: async batches become jobs, status/progress, paged results, cancellation.

Runs on both backends: the in-process runner (no Redis) and Redis + an RQ worker.
"""

import time

import pytest
from redisfixtures import *

from lds.app import create_app
from lds.jobs.worker import run_worker


@pytest.fixture(scope="module")
def addresses(lds_core):
    """25 batch items: real Monaco addresses (found by reverse geocoding road nodes) and one bad item."""
    graph = lds_core.graphs["car"]
    found: dict[str, None] = {}
    for i in range(0, graph.n_nodes, 7):
        answer = lds_core.reverse(float(graph.node_lat[i]), float(graph.node_lon[i]))
        if answer and answer[0].get("formattedAddress"):
            found.setdefault(answer[0]["formattedAddress"], None)
        if len(found) >= 24:
            break
    return [*list(found)[:12], "", *list(found)[12:24]]


def job_app(lds_core, monaco_dir, tmp_path, **overrides):
    settings = isolated_settings(monaco_dir, state_dir=str(tmp_path), job_chunk_size=7, job_page_size=10,
                             job_lease_s=3, **overrides)
    return create_app(settings, lds=lds_core)


@pytest.fixture()
def local_client(lds_core, monaco_dir, tmp_path):
    app = job_app(lds_core, monaco_dir, tmp_path)
    yield app.test_client()
    app.extensions["lds_jobs"].runner.stop()


def wait_done(client, job_id, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        doc = client.get(f"/v3/lds/jobs/{job_id}").get_json()
        if doc["status"] in ("success", "failure", "cancelled"):
            return doc
        time.sleep(0.05)
    raise AssertionError(f"job still {doc['status']}: {doc['progress']}")


def follow_pages(client, doc):
    entries, next_url, pages = list(doc["results"]), doc["next"], 1
    while next_url:
        page = client.get(next_url).get_json()
        assert set(page) >= {"results", "next"}
        entries.extend(page["results"])
        next_url, pages = page["next"], pages + 1
    return entries, pages


def test_async_batch_becomes_a_job_with_paged_results_in_order(local_client, lds_core, addresses):
    r = local_client.post("/v3/lds/geocoding/batch?async=true", json={"addresses": addresses})
    assert r.status_code == 202
    body = r.get_json()
    assert set(body) == {"jobId", "status"} and body["status"] == "pending"
    assert r.headers["Location"].endswith(f"/v3/lds/jobs/{body['jobId']}")
    doc = wait_done(local_client, body["jobId"])
    assert doc["status"] == "success" and doc["progress"] == {"done": 25, "total": 25}
    assert doc["kind"] == "geocode" and doc["dataVersion"] == lds_core.data_version and doc["error"] is None
    assert doc["createdAt"].endswith("Z") and doc["endedAt"] >= doc["startedAt"] and doc["elapsedSeconds"] >= 0
    assert len(doc["results"]) == 10 and doc["pages"] == 3 and "/results?page=2" in doc["next"]
    entries, pages = follow_pages(local_client, doc)
    assert pages == 3
    sync = local_client.post("/v3/lds/geocoding/batch", json={"addresses": addresses}).get_json()
    assert entries == sync  # the same entries as a synchronous batch, in input order
    assert entries[12]["error"] and entries[12]["value"] in ([], None)  # the bad item has its own error


def test_batches_over_the_sync_limit_become_jobs(lds_core, monaco_dir, tmp_path, addresses):
    app = job_app(lds_core, monaco_dir, tmp_path, batch_max_sync=5)
    client = app.test_client()
    try:
        assert client.post("/v3/lds/geocoding/batch", json={"addresses": addresses[:5]}).status_code == 200
        r = client.post("/v3/lds/geocoding/batch", json={"addresses": addresses[:6]})
        assert r.status_code == 202
        assert wait_done(client, r.get_json()["jobId"])["progress"] == {"done": 6, "total": 6}
    finally:
        app.extensions["lds_jobs"].runner.stop()


def test_job_size_limit_and_errors(lds_core, monaco_dir, tmp_path, addresses):
    app = job_app(lds_core, monaco_dir, tmp_path, job_max_items=10)
    client = app.test_client()
    r = client.post("/v3/lds/geocoding/batch?async=true", json={"addresses": addresses})
    assert r.status_code == 413 and r.get_json()["status"] == 413 and "job_max_items" in r.get_json()["error"]
    missing = client.get("/v3/lds/jobs/" + "0" * 32)
    assert missing.status_code == 404 and missing.get_json()["status"] == 404
    assert client.get("/v3/lds/jobs/..%2f..%2fetc").status_code == 404
    assert client.post("/v3/lds/geocoding/batch?async=maybe", json={"addresses": ["x"]}).status_code == 400


@pytest.fixture()
def redis_app(lds_core, monaco_dir, tmp_path, redis_url, redis_ns):
    return job_app(lds_core, monaco_dir, tmp_path, redis_url=redis_url, redis_prefix=redis_ns)


def test_redis_job_waits_for_a_worker_and_can_be_cancelled(redis_app, addresses):
    client = redis_app.test_client()
    job_id = client.post("/v3/lds/geocoding/batch?async=true", json={"addresses": addresses}).get_json()["jobId"]
    doc = client.get(f"/v3/lds/jobs/{job_id}").get_json()
    assert doc["status"] == "pending" and doc["progress"] == {"done": 0, "total": 25} and "results" not in doc
    assert "lds_job_queue_depth 4.0" in client.get("/metrics").get_data(as_text=True)
    r = client.delete(f"/v3/lds/jobs/{job_id}")
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    again = client.delete(f"/v3/lds/jobs/{job_id}")
    assert again.status_code == 409 and again.get_json()["status"] == 409
    results = client.get(f"/v3/lds/jobs/{job_id}/results?page=1")
    assert results.status_code == 409
    assert "lds_job_queue_depth 0.0" in client.get("/metrics").get_data(as_text=True)


def test_redis_job_done_by_a_worker(redis_app, lds_core, addresses):
    client = redis_app.test_client()
    job_id = client.post("/v3/lds/geocoding/batch?async=true", json={"addresses": addresses}).get_json()["jobId"]
    run_worker(redis_app.extensions["lds_settings"], burst=True, lds=lds_core)
    doc = client.get(f"/v3/lds/jobs/{job_id}").get_json()
    assert doc["status"] == "success" and doc["progress"]["done"] == 25
    entries, _ = follow_pages(client, doc)
    assert entries == lds_core.geocode_batch(addresses)
    assert client.get(f"/v3/lds/jobs/{job_id}/results?page=4").status_code == 400
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'lds_jobs_finished_total{status="success"} 1.0' in metrics


def test_redis_down_job_calls_answer_503_not_500(lds_core, monaco_dir, tmp_path, addresses):
    app = job_app(lds_core, monaco_dir, tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0",
                  job_redis_timeout_s=0.2)
    client = app.test_client()
    r = client.post("/v3/lds/geocoding/batch?async=true", json={"addresses": addresses})
    assert r.status_code == 503 and "job queue unavailable" in r.get_json()["error"]
    assert client.get("/v3/lds/jobs/" + "a" * 32).status_code == 503
    sync = client.post("/v3/lds/geocoding/batch", json={"addresses": addresses[:3]})  # answered, uncached
    assert sync.status_code == 200 and sync.headers["X-LDS-Cache"] == "miss"


def test_jobs_belong_to_the_token_that_submitted_them(lds_core, tmp_path, addresses):
    """With auth on: the submitter sees its job, another token gets 404, the admin token sees all."""
    from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token

    app = create_app(auth_settings(lds_core.data.path, tmp_path, job_chunk_size=7), lds=lds_core)
    client = app.test_client()
    try:
        mine, other = make_token(client), make_token(client)
        assert client.post("/v3/lds/geocoding/batch?async=true", json={"addresses": addresses}).status_code == 401
        r = client.post("/v3/lds/geocoding/batch?async=true", json={"addresses": addresses}, headers=bearer(mine))
        assert r.status_code == 202
        job_id = r.get_json()["jobId"]
        assert client.get(f"/v3/lds/jobs/{job_id}", headers=bearer(mine)).status_code == 200
        assert client.get(f"/v3/lds/jobs/{job_id}", headers=bearer(other)).status_code == 404
        assert client.delete(f"/v3/lds/jobs/{job_id}", headers=bearer(other)).status_code == 404
        assert client.get(f"/v3/lds/jobs/{job_id}", headers=bearer(ADMIN_TOKEN)).status_code == 200
        assert client.get(f"/v3/lds/jobs/{job_id}").status_code == 401
        used = {s["service"]: s["used_quota"] for s in client.get("/v3/lds/stats", headers=bearer(mine)).get_json()}
        assert used["geocoding"] == len(addresses)  # charged at submission, one unit per item
    finally:
        app.extensions["lds_jobs"].runner.stop()


@pytest.mark.parametrize("public_url,base", [(None, ""), ("https://lds.example.com/", "https://lds.example.com")])
def test_job_links_never_come_from_the_host_header(lds_core, monaco_dir, tmp_path, addresses, public_url, base):
    app = job_app(lds_core, monaco_dir, tmp_path, public_url=public_url)
    client = app.test_client()
    try:
        r = client.post("/v3/lds/geocoding/batch?async=true", json={"addresses": addresses},
                        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
        job_id = r.get_json()["jobId"]
        assert r.status_code == 202 and r.headers["Location"] == f"{base}/v3/lds/jobs/{job_id}"
        doc = wait_done(client, job_id)
        assert doc["next"] == f"{base}/v3/lds/jobs/{job_id}/results?page=2"
        page = client.get(f"/v3/lds/jobs/{job_id}/results?page=2", headers={"Host": "evil.example"}).get_json()
        assert page["next"] == f"{base}/v3/lds/jobs/{job_id}/results?page=3"
    finally:
        app.extensions["lds_jobs"].runner.stop()
