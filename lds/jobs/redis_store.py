"""Jobs in Redis: one hash per job, chunk inputs and results in two more hashes, all under one prefix.

Keys (``p`` = ``redis_prefix``, e.g. ``lds:``)::

    p job:<id>        hash   kind, total, chunk_size, params, status, done, timings, error, owner
    p job:<id>:in     hash   chunk number -> packed items (deleted when the job ends)
    p job:<id>:out    hash   chunk number -> packed results
    p job:<id>:done   set    chunk numbers whose results are stored
    p jobs:active     set    ids of pending/running jobs (queue metrics)
    p jobs:finished   hash   status -> number of jobs that ended so (metrics)

Storing a chunk is one Lua script: the chunk number goes into the ``done`` set and only if it was
not there are the results written and ``done`` advanced, so a chunk computed twice (a worker killed
after its work but before RQ heard of it) is stored once. The last chunk flips the job to success.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from lds.jobs.model import CANCELLED, FAILURE, PENDING, JobRecord, pack, split, unpack

_SAVE_CHUNK = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status == 'success' or status == 'failure' or status == 'cancelled' then return 0 end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'done', ARGV[3])
if status == 'pending' then redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[4]) end
if redis.call('SCARD', KEYS[3]) >= tonumber(redis.call('HGET', KEYS[1], 'chunks')) then
  redis.call('HSET', KEYS[1], 'status', 'success', 'ended_at', ARGV[4])
  redis.call('DEL', KEYS[4])
  redis.call('SREM', KEYS[5], ARGV[6])
  redis.call('HINCRBY', KEYS[6], 'success', 1)
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
  return 2
end
return 1
"""

_FINISH = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status == 'success' or status == 'failure' or status == 'cancelled' then return status end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'ended_at', ARGV[2], 'error', ARGV[3])
redis.call('DEL', KEYS[4])
redis.call('SREM', KEYS[5], ARGV[5])
redis.call('HINCRBY', KEYS[6], ARGV[1], 1)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return status
"""

_MARK_RUNNING = """
if redis.call('HGET', KEYS[1], 'status') == 'pending' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1])
end
return 1
"""

_STATIC = ("id", "kind", "total", "chunk_size", "params", "created_at", "owner", "data_version")


class RedisJobStore:
    """Job records, chunk inputs and chunk results in Redis (shared by the API and every worker)."""

    backend = "redis"

    def __init__(self, client: redis.Redis, prefix: str, result_ttl_s: int):
        self.client = client
        self.prefix = prefix
        self.result_ttl_s = result_ttl_s
        self._save = client.register_script(_SAVE_CHUNK)
        self._finish = client.register_script(_FINISH)
        self._running = client.register_script(_MARK_RUNNING)

    # --- keys ------------------------------------------------------------------------------
    def _keys(self, job_id: str) -> list[str]:
        base = f"{self.prefix}job:{job_id}"
        return [base, base + ":out", base + ":done", base + ":in", self.active_key, self.finished_key]

    @property
    def active_key(self) -> str:
        return f"{self.prefix}jobs:active"

    @property
    def finished_key(self) -> str:
        return f"{self.prefix}jobs:finished"

    # --- writing ---------------------------------------------------------------------------
    def create(self, rec: JobRecord, items: list) -> None:
        job, _out, _done, inputs, active, _ = self._keys(rec.id)
        # Unfinished jobs keep their data for twice the result TTL at most, so a job nobody runs
        # (no worker ever started) does not live forever.
        ttl = 2 * self.result_ttl_s
        fields = {k: v for k, v in rec.static_fields().items() if v is not None}
        fields.update(params=json.dumps(rec.params), status=PENDING, done=0, chunks=rec.chunks)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(job, mapping=fields)
        for n, chunk in enumerate(split(items, rec.chunk_size)):
            pipe.hset(inputs, str(n), pack(chunk))
        for key in (job, inputs):
            pipe.expire(key, ttl)
        pipe.sadd(active, rec.id)
        pipe.execute()

    def mark_running(self, job_id: str) -> None:
        self._running(keys=[self._keys(job_id)[0]], args=[repr(time.time())])

    def save_chunk(self, job_id: str, n: int, results: list) -> bool:
        """Store chunk ``n``'s results once; False when it was already stored or the job has ended."""
        keys = self._keys(job_id)
        args = [str(n), pack(results), len(results), repr(time.time()), self.result_ttl_s, job_id]
        return int(self._save(keys=keys, args=args)) > 0

    def finish(self, job_id: str, status: str, error: str | None = None) -> str | None:
        """End an unfinished job as ``status`` (cancelled/failure); returns the status it had, None if unknown."""
        assert status in (CANCELLED, FAILURE)
        previous = self._finish(keys=self._keys(job_id),
                                args=[status, repr(time.time()), error or "", self.result_ttl_s, job_id])
        return previous.decode() if isinstance(previous, bytes) else previous

    # --- reading ---------------------------------------------------------------------------
    def load(self, job_id: str) -> JobRecord | None:
        raw = self.client.hgetall(self._keys(job_id)[0])
        if not raw:
            return None
        h = {k.decode(): v.decode() for k, v in raw.items()}
        return JobRecord(
            id=h["id"], kind=h["kind"], total=int(h["total"]), chunk_size=int(h["chunk_size"]),
            params=json.loads(h.get("params") or "{}"), status=h["status"], done=int(h.get("done", 0)),
            created_at=float(h["created_at"]), started_at=_float(h.get("started_at")),
            ended_at=_float(h.get("ended_at")), error=h.get("error") or None, owner=h.get("owner"),
            data_version=h.get("data_version"),
        )

    def chunk_input(self, job_id: str, n: int) -> list | None:
        blob = self.client.hget(self._keys(job_id)[3], str(n))
        return None if blob is None else unpack(blob)

    def chunk_done(self, job_id: str, n: int) -> bool:
        return bool(self.client.sismember(self._keys(job_id)[2], str(n)))

    def done_chunks(self, job_id: str) -> set[int]:
        return {int(x) for x in self.client.smembers(self._keys(job_id)[2])}

    def chunk_results(self, job_id: str, numbers: list[int]) -> list[list]:
        blobs = self.client.hmget(self._keys(job_id)[1], [str(n) for n in numbers])
        if any(b is None for b in blobs):
            raise LookupError(f"job {job_id}: results of a chunk are missing (expired?)")
        return [unpack(b) for b in blobs]

    def stats(self) -> dict[str, Any]:
        pipe = self.client.pipeline(transaction=False)
        pipe.scard(self.active_key)
        pipe.hgetall(self.finished_key)
        active, finished = pipe.execute()
        return {"active": int(active), "finished": {k.decode(): int(v) for k, v in finished.items()}}


def _float(text: str | None) -> float | None:
    return float(text) if text else None

