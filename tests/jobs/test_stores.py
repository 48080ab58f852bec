"""Both job stores keep the same promises: chunks stored once, ends are final, results in order."""

import pytest

from lds.jobs.file_store import FileJobStore
from lds.jobs.model import chunk_count, chunk_len, new_job, pack, split, unpack
from lds.jobs.redis_store import RedisJobStore
from lds.redisconn import redis_client as make_client


@pytest.fixture(params=["file", "redis"])
def store(request, tmp_path):
    if request.param == "file":
        return FileJobStore(tmp_path / "jobs", result_ttl_s=60)
    prefix = request.getfixturevalue("redis_ns")
    return RedisJobStore(make_client(request.getfixturevalue("redis_url"), 5), prefix, result_ttl_s=60)


def make(store, n=25, chunk_size=10):
    items = [f"item {i}" for i in range(n)]
    rec = new_job("geocode", n, chunk_size, {"country": "MC"}, "owner-1", "v1")
    store.create(rec, items)
    return rec, items


def answers(items):
    return [{"error": None, "value": [s.upper()]} for s in items]


def test_chunk_arithmetic_and_codec():
    assert chunk_count(25, 10) == 3 and [chunk_len(25, 10, n) for n in range(3)] == [10, 10, 5]
    assert split(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert unpack(pack([{"a": "é"}])) == [{"a": "é"}]


def test_new_job_is_pending_with_its_fields(store):
    rec, items = make(store)
    got = store.load(rec.id)
    assert (got.status, got.done, got.total, got.chunks, got.kind) == ("pending", 0, 25, 3, "geocode")
    assert got.params == {"country": "MC"} and got.owner == "owner-1" and got.data_version == "v1"
    assert store.chunk_input(rec.id, 2) == items[20:]
    assert store.load("0" * 32) is None


def test_chunks_are_stored_once_and_the_last_one_finishes_the_job(store):
    rec, items = make(store)
    assert store.save_chunk(rec.id, 1, answers(items[10:20]))
    assert not store.save_chunk(rec.id, 1, [{"error": "second copy", "value": []}] * 10)  # a retried chunk
    got = store.load(rec.id)
    assert got.status == "running" and got.done == 10 and got.started_at is not None
    store.save_chunk(rec.id, 2, answers(items[20:]))
    store.save_chunk(rec.id, 0, answers(items[:10]))
    got = store.load(rec.id)
    assert got.status == "success" and got.done == 25 and got.ended_at >= got.started_at
    results = [e for chunk in store.chunk_results(rec.id, [0, 1, 2]) for e in chunk]
    assert results == answers(items)  # every entry once, in input order
    assert store.chunk_input(rec.id, 0) is None  # inputs dropped once the job ended
    assert store.stats()["finished"].get("success", 0) >= 1


def test_cancel_is_final_and_later_chunks_are_ignored(store):
    rec, items = make(store)
    store.save_chunk(rec.id, 0, answers(items[:10]))
    assert store.finish(rec.id, "cancelled") == "running"
    assert not store.save_chunk(rec.id, 1, answers(items[10:20]))
    assert store.finish(rec.id, "cancelled") == "cancelled"  # already ended: unchanged
    got = store.load(rec.id)
    assert got.status == "cancelled" and got.done == 10 and got.ended_at is not None


def test_failure_records_the_error(store):
    rec, _ = make(store)
    assert store.finish(rec.id, "failure", "chunk 1 failed: boom") == "pending"
    got = store.load(rec.id)
    assert got.status == "failure" and got.error == "chunk 1 failed: boom"


def test_file_store_expires_old_jobs(tmp_path):
    store = FileJobStore(tmp_path / "jobs", result_ttl_s=10)
    rec, _ = make(store)
    store.finish(rec.id, "cancelled")
    ended = store.load(rec.id).ended_at
    assert store.expire(now=ended + 5) == 0 and store.load(rec.id) is not None
    assert store.expire(now=ended + 11) == 1 and store.load(rec.id) is None


def test_file_store_refuses_path_like_ids(tmp_path):
    store = FileJobStore(tmp_path / "jobs", result_ttl_s=10)
    assert store.load("../../etc") is None


def test_redis_job_keys_expire_after_the_end(redis_url, redis_client, redis_ns):
    store = RedisJobStore(make_client(redis_url, 5), redis_ns, result_ttl_s=60)
    rec, items = make(store, n=5, chunk_size=5)
    assert redis_client.ttl(f"{redis_ns}job:{rec.id}") > 60  # unfinished: kept longer
    store.save_chunk(rec.id, 0, answers(items))
    assert 0 < redis_client.ttl(f"{redis_ns}job:{rec.id}") <= 60
    assert 0 < redis_client.ttl(f"{redis_ns}job:{rec.id}:out") <= 60
    assert not redis_client.exists(f"{redis_ns}job:{rec.id}:in")
