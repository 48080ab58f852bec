"""Two `lds serve` replicas, two job workers and HAProxy (deploy/haproxy.cfg) on 127.0.0.1, as on separate machines.

The replicas have state dirs of their own and share only what a real deployment shares: one Redis (cache, job
queue, rate limits) and one PostgreSQL database (``LDS_DATABASE_URL``: tokens, quotas). Whatever one replica
does, the other must see; the balancer must take a dead replica out without failing requests. The tests run in
file order on one replica set; the last one kills a replica.
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from authfixtures import ADMIN_TOKEN, bearer, pg_database, pg_database_url
from redisfixtures import REDIS_TEST_URL, delete_namespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from replicas import ReplicaSet

ADMIN = bearer(ADMIN_TOKEN)
QUOTA = 400


@pytest.fixture(scope="module")
def cluster(monaco_dir, tmp_path_factory):
    prefix = f"ldst{secrets.token_hex(5)}:"
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=5)
    env = {
        "LDS_AUTH": "true",
        "LDS_ADMIN_TOKEN": ADMIN_TOKEN,
        "LDS_SECRET_KEY": secrets.token_hex(16),
        "LDS_REDIS_URL": REDIS_TEST_URL,
        "LDS_REDIS_PREFIX": prefix,
        "LDS_LOG_LEVEL": "warning",
        "LDS_THREADS": "4",
        "LDS_JOB_CHUNK_SIZE": "25",
        # Small quota blocks, so that a quota of a few hundred units goes through blocks, then exact charges.
        "LDS_QUOTA_LEASE_UNITS": "20",
        "LDS_QUOTA_EXACT_BELOW": "100",
        "LDS_QUOTA_FLUSH_S": "0.2",
    }
    with pg_database("lds_replicas") as dbname:
        env["LDS_DATABASE_URL"] = pg_database_url(dbname)
        # carto_dw shared too: its DuckLake catalog (ducklake_* tables) in the same database, one data folder.
        env["LDS_CARTO_DW_CATALOG_URL"] = pg_database_url(dbname)
        env["LDS_CARTO_DW_DATA_PATH"] = str(tmp_path_factory.mktemp("lake"))
        replica_set = ReplicaSet(str(monaco_dir), tmp_path_factory.mktemp("replicas"), env, replicas=2, workers=2)
        replica_set.start()
        try:
            yield replica_set
        finally:
            replica_set.stop()
            delete_namespace(client, prefix)


def new_token(base: str, **body) -> str:
    r = requests.post(base + "/v3/tokens", json={"allowed_apis": ["lds"], **body}, headers=ADMIN, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def reverse_url(i: int) -> str:
    """A distinct reverse geocode inside Monaco for each ``i`` (distinct cache keys)."""
    return f"/v3/lds/geocoding/reverse?lat={43.7300 + (i % 97) * 1e-5:.6f}&lon={7.4200 + (i // 97) * 1e-5:.6f}"


def used_geocoding(base: str, token: str) -> int:
    r = requests.get(base + "/v3/lds/stats", headers=bearer(token), timeout=10)
    assert r.status_code == 200, r.text
    return next(s["used_quota"] for s in r.json() if s["service"] == "geocoding")


def test_a_token_made_on_one_replica_works_on_the_other_and_revocation_reaches_both(cluster):
    one, two = (s.base for s in cluster.servers)
    token = new_token(one)
    for base in (two, one, two, one, two, one):  # both replicas (and their workers) now trust the token
        assert requests.get(base + reverse_url(1), headers=bearer(token), timeout=10).status_code == 200
    r = requests.delete(f"{one}/v3/tokens/{token}", headers=ADMIN, timeout=10)
    assert r.status_code == 204
    revoked_at = time.monotonic()
    delays = {}
    for base in (two, one):
        while True:  # docs/auth.md: "at once", a few milliseconds on a very busy machine
            sent = time.monotonic() - revoked_at
            r = requests.get(base + reverse_url(1), headers=bearer(token), timeout=10)
            if r.status_code == 401:
                delays[base] = sent
                break
            assert sent < 1.0, "a replica still accepted a revoked token 1 s after the revocation"
    print("first refused request sent after", {k: f"{v * 1000:.1f} ms" for k, v in delays.items()})
    time.sleep(0.05)
    for base in (one, two, cluster.base):  # every worker of both replicas, and through the balancer
        for _ in range(6):
            r = requests.get(base + reverse_url(1), headers=bearer(token), timeout=10)
            assert r.status_code == 401 and r.json()["error"] == "Token revoked", r.text


def test_the_answer_cache_is_shared(cluster):
    one, two = (s.base for s in cluster.servers)
    url = f"/v3/lds/geocoding/reverse?lat=43.73{secrets.randbelow(10**4):04d}&lon=7.42{secrets.randbelow(10**4):04d}"
    first = requests.get(one + url, headers=ADMIN, timeout=10)
    assert first.status_code == 200 and first.headers["X-LDS-Cache"] == "miss"
    second = requests.get(two + url, headers=ADMIN, timeout=10)  # never asked there: the hit comes from Redis
    assert second.status_code == 200 and second.headers["X-LDS-Cache"] == "hit"
    assert second.json() == first.json()


def test_a_rate_limit_is_counted_across_replicas(cluster):
    """4 threads on each replica hammer one token limited to 10 requests/s: in every one-second interval at most 10
    answers across both (a per-replica count would let up to 20 through)."""
    limit = 10
    token = new_token(cluster.base, rate_limit_per_s=limit)
    seen: list[tuple[float, float, int, int]] = []  # (sent, answered, status, replica)
    lock = threading.Lock()
    stop_at = time.monotonic() + 2.5

    def hammer(replica: int) -> None:
        session = requests.Session()
        base = cluster.servers[replica].base
        while time.monotonic() < stop_at:
            sent = time.monotonic()
            status = session.get(base + reverse_url(2), headers=bearer(token), timeout=10).status_code
            with lock:
                seen.append((sent, time.monotonic(), status, replica))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(hammer, [0, 1] * 4))
    assert {status for _, _, status, _ in seen} == {200, 429}
    for replica in (0, 1):  # each replica both served and refused
        assert {status for _, _, status, r in seen if r == replica} >= {200, 429}, replica
    ok = sorted((sent, answered) for sent, answered, status, _ in seen if status == 200)
    for start, _ in ok:  # answers sent and received inside [start, start + 1 s) were granted inside it
        inside = sum(1 for sent, answered in ok if sent >= start and answered < start + 1.0)
        assert inside <= limit, (start, inside)
    print(
        f"rate limit {limit}/s: {len(ok)} of {len(seen)} requests served, statuses {Counter(s for _, _, s, _ in seen)}"
    )


def test_a_quota_is_exact_across_replicas_under_concurrent_load(cluster):
    token = new_token(cluster.base, quotas={"geocoding": QUOTA}, rate_limit_per_s=0)
    served = Counter()

    def one(i: int) -> tuple[int, str]:
        r = requests.get(cluster.base + reverse_url(i), headers=bearer(token), timeout=30)
        assert r.status_code != 429 or "quota" in r.json()["error"].lower(), r.text
        return r.status_code, r.headers.get("X-LDS-Replica", "")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(QUOTA + 80)))
    statuses = Counter(status for status, _ in results)
    served.update(replica for status, replica in results if status == 200)
    ok = statuses[200]
    assert set(statuses) == {200, 429} and ok <= QUOTA  # never over the quota
    assert set(served) == {"r1", "r2"}  # both replicas charged it
    deadline = time.monotonic() + 15
    while {used_geocoding(s.base, token) for s in cluster.servers} != {ok}:  # flushed within LDS_QUOTA_FLUSH_S
        assert time.monotonic() < deadline, [used_geocoding(s.base, token) for s in cluster.servers]
        time.sleep(0.1)
    # Units a process reserved but did not use may have caused false 429s at the end; they go back within a
    # flush interval, after which the rest of the quota is served and not one unit more.
    time.sleep(1.0)
    rest = [one(QUOTA + 100 + i)[0] for i in range(QUOTA - ok)]
    assert rest == [200] * (QUOTA - ok)
    assert one(QUOTA + 100 + QUOTA)[0] == 429
    assert [used_geocoding(s.base, token) for s in cluster.servers] == [QUOTA, QUOTA]
    print(f"quota {QUOTA}: {ok} served under load ({dict(served)}), {statuses[429]} refused; {QUOTA - ok} topped up")


def test_a_batch_job_submitted_to_one_replica_runs_on_both_workers_and_reads_from_either(cluster):
    one, two = (s.base for s in cluster.servers)
    token = new_token(one)
    addresses = [f"{n} Boulevard des Moulins" for n in range(1, 601)]  # 24 chunks of 25, none cached yet
    r = requests.post(
        one + "/v3/lds/geocoding/batch?async=true",
        json={"addresses": addresses, "limit": 1},
        headers=bearer(token),
        timeout=30,
    )
    assert r.status_code == 202, r.text
    job = r.json()["jobId"]
    deadline = time.monotonic() + 120
    while True:
        doc = requests.get(f"{two}/v3/lds/jobs/{job}", headers=bearer(token), timeout=10).json()
        if doc["status"] not in ("pending", "running"):
            break
        assert time.monotonic() < deadline, doc
        time.sleep(0.2)
    assert doc["status"] == "success" and doc["progress"] == {"done": 600, "total": 600}, doc
    other = requests.get(f"{one}/v3/lds/jobs/{job}", headers=bearer(token), timeout=10).json()
    assert other["results"] == doc["results"] and len(doc["results"]) == 600
    assert all(entry["error"] is None for entry in doc["results"])
    conn = redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=5)
    prefix = cluster.env["LDS_REDIS_PREFIX"].strip(":")
    done = [int(conn.hget(f"rq:worker:{prefix}-w{i}", "successful_job_count") or 0) for i in (1, 2)]
    assert sum(done) >= 24 and all(n > 0 for n in done), done  # chunks ran on both workers
    print("chunks per worker", done)


def test_a_carto_dw_table_written_by_a_sql_job_on_a_worker_is_read_through_both_replicas(cluster):
    """Each replica and worker has a state dir of its own: only the shared lake makes the job's table visible."""
    one, two = (s.base for s in cluster.servers)
    q = "CREATE TABLE from_job AS SELECT range AS n FROM range(5)"
    r = requests.post(one + "/v3/sql/carto_dw/job", json={"query": q}, headers=ADMIN, timeout=30)
    assert r.status_code == 202, r.text
    job, deadline = r.json()["jobId"], time.monotonic() + 60
    while True:  # run by a worker, followed through the other replica
        doc = requests.get(f"{two}/v3/sql/carto_dw/job/{job}", headers=ADMIN, timeout=10).json()
        if doc["status"] not in ("pending", "running"):
            break
        assert time.monotonic() < deadline, doc
        time.sleep(0.2)
    assert doc["status"] == "success", doc
    for base in (one, two):
        r = requests.get(
            base + "/v3/sql/carto_dw/query", params={"q": "SELECT sum(n) AS s FROM from_job"}, headers=ADMIN, timeout=30
        )
        assert r.status_code == 200 and r.json()["rows"] == [{"s": 10}], r.text


def test_a_killed_replica_leaves_the_rotation_and_no_request_fails(cluster):
    seen: list[tuple[float, float, int | str, str]] = []  # (sent, answered, status or error, replica)
    lock = threading.Lock()
    stop = threading.Event()

    def load(k: int) -> None:
        session, i = requests.Session(), 0
        while not stop.is_set():
            i += 1
            sent = time.monotonic()
            try:
                r = session.get(cluster.base + reverse_url(k * 1000 + i % 300), headers=ADMIN, timeout=30)
                outcome, replica = r.status_code, r.headers.get("X-LDS-Replica", "")
            except requests.RequestException as exc:
                outcome, replica = type(exc).__name__, ""
            with lock:
                seen.append((sent, time.monotonic(), outcome, replica))

    threads = [threading.Thread(target=load, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        killed_at = time.monotonic()
        cluster.kill(0)
        deadline = time.monotonic() + 20
        while cluster.balancer.stats()["r1"]["status"] != "DOWN":
            assert time.monotonic() < deadline, cluster.balancer.stats()["r1"]
            time.sleep(0.05)
        down_at = time.monotonic()
        sent_to_dead = cluster.balancer.stats()["r1"]["stot"]
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert cluster.balancer.stats()["r1"]["stot"] == sent_to_dead  # nothing sent to it once it was down
    in_flight = [s for s in seen if s[0] < killed_at < s[1]]
    failed = [s for s in seen if s[2] != 200]
    assert all(s in in_flight for s in failed), failed  # only requests in flight at the kill may fail ...
    assert len(failed) <= len(threads)
    after = [s for s in seen if s[0] > down_at]
    assert after and {s[3] for s in after} == {"r2"}  # ... and the survivor answers everything after
    replicas = Counter(s[3] for s in seen if s[0] < killed_at)
    print(
        f"{len(seen)} requests, {len(failed)} failed (in flight at the kill: {len(in_flight)}); "
        f"before the kill {dict(replicas)}; out of rotation {down_at - killed_at:.2f} s after the kill"
    )
