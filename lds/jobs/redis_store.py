"""Jobs in Redis: one hash per job, chunk inputs and results in two more hashes, all under one prefix.

Keys (``p`` = ``redis_prefix``, e.g. ``lds:``)::

    p job:<id>        hash   kind, total, chunk_size, params, status, done, timings, error, owner
    p job:<id>:in     hash   chunk number -> packed items (deleted when the job ends)
    p job:<id>:out    hash   chunk number -> packed results
    p job:<id>:done   set    chunk numbers whose results are stored
    p job:<id>:logs   list   a task's log lines (the last MAX_LOG_LINES)
    p jobs:index      zset   every job id by creation time (listing; expired ids are dropped when met)
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

from lds.jobs.model import CANCELLED, FAILURE, MAX_LOG_LINES, PENDING, SUCCESS, JobRecord, log_line, pack, split, unpack

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
  redis.call('EXPIRE', KEYS[7], ARGV[5])
  return 2
end
return 1
"""

_FINISH = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status == 'success' or status == 'failure' or status == 'cancelled' then return status end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'ended_at', ARGV[2], 'error', ARGV[3])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[6]) end
redis.call('DEL', KEYS[4])
redis.call('SREM', KEYS[5], ARGV[5])
redis.call('HINCRBY', KEYS[6], ARGV[1], 1)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
redis.call('EXPIRE', KEYS[7], ARGV[4])
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
        return [base, base + ":out", base + ":done", base + ":in", self.active_key, self.finished_key, base + ":logs"]

    @property
    def active_key(self) -> str:
        return f"{self.prefix}jobs:active"

    @property
    def finished_key(self) -> str:
        return f"{self.prefix}jobs:finished"

    @property
    def index_key(self) -> str:
        return f"{self.prefix}jobs:index"

    # --- writing ---------------------------------------------------------------------------
    def create(self, rec: JobRecord, items: list) -> None:
        job, _out, _done, inputs, active, *_ = self._keys(rec.id)
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
        pipe.zadd(self.index_key, {rec.id: rec.created_at})
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
        return self._end(job_id, status, error or "", "")

    def complete(self, job_id: str, result: dict[str, Any]) -> bool:
        """End an unfinished task as a success with ``result``; False when it had already ended."""
        previous = self._end(job_id, SUCCESS, "", json.dumps(result))
        return previous is not None and previous not in (SUCCESS, FAILURE, CANCELLED)

    def _end(self, job_id: str, status: str, error: str, result: str) -> str | None:
        previous = self._finish(keys=self._keys(job_id),
                                args=[status, repr(time.time()), error, self.result_ttl_s, job_id, result])
        return previous.decode() if isinstance(previous, bytes) else previous

    def append_log(self, job_id: str, message: str) -> None:
        key = self._keys(job_id)[6]
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(key, log_line(message))
        pipe.ltrim(key, -MAX_LOG_LINES, -1)
        pipe.expire(key, 2 * self.result_ttl_s)
        pipe.execute()

    def begin_attempt(self, job_id: str) -> int:
        """Count one more start of the task; returns the count."""
        return int(self.client.hincrby(self._keys(job_id)[0], "attempts", 1))

    def status(self, job_id: str) -> str | None:
        """The job's status alone (cheap: what a running task polls to see a cancel)."""
        value = self.client.hget(self._keys(job_id)[0], "status")
        return value.decode() if value is not None else None

    def active_ids(self) -> list[str]:
        """Ids of jobs that have not ended."""
        return [i.decode() for i in self.client.smembers(self.active_key)]

    def job_ids(self) -> list[str]:
        """Ids of the jobs still stored, oldest first (ids of expired jobs are dropped from the index)."""
        ids = [i.decode() for i in self.client.zrange(self.index_key, 0, -1)]
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for job_id in ids:
            pipe.exists(self._keys(job_id)[0])
        alive = pipe.execute()
        gone = [i for i, ok in zip(ids, alive, strict=True) if not ok]
        if gone:
            self.client.zrem(self.index_key, *gone)
        return [i for i, ok in zip(ids, alive, strict=True) if ok]

    # --- reading ---------------------------------------------------------------------------
    def load(self, job_id: str) -> JobRecord | None:
        return self.load_many([job_id])[0]

    def load_many(self, job_ids: list[str]) -> list[JobRecord | None]:
        """The records of ``job_ids`` (None for those gone), in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for job_id in job_ids:
            keys = self._keys(job_id)
            pipe.hgetall(keys[0])
            pipe.lrange(keys[6], 0, -1)
        replies = pipe.execute()
        return [_record(raw, logs) for raw, logs in zip(replies[::2], replies[1::2], strict=True)]

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


def _record(raw: dict[bytes, bytes], logs: list[bytes]) -> JobRecord | None:
    if not raw:
        return None
    h = {k.decode(): v.decode() for k, v in raw.items()}
    return JobRecord(
        id=h["id"], kind=h["kind"], total=int(h["total"]), chunk_size=int(h["chunk_size"]),
        params=json.loads(h.get("params") or "{}"), status=h["status"], done=int(h.get("done", 0)),
        created_at=float(h["created_at"]), started_at=_float(h.get("started_at")),
        ended_at=_float(h.get("ended_at")), error=h.get("error") or None, owner=h.get("owner"),
        data_version=h.get("data_version"), result=json.loads(h["result"]) if h.get("result") else None,
        logs=[line.decode() for line in logs],
    )


def _float(text: str | None) -> float | None:
    return float(text) if text else None

