"""Per-token rate limit: at most N requests in any one-second interval, checked in a few µs.

**Embedded** (no Redis): each process keeps, per token, the times of the requests it allowed in the last
second (a lock-protected deque, ``time.monotonic``); a request passes when fewer than N are in the log.
Exact per process, no thread, no I/O; idle tokens are swept on the way.

**With Redis** all gunicorn workers and replicas share one count per token without a Redis call per
request: a process reserves a *block* of allowance with one atomic Lua call and serves the next requests of
that token from it in memory. Redis keeps, per token, the blocks granted recently (``<prefix>ratelimit:<id>``,
time from Redis's own clock): each with its count, the time it was granted and the time its last unit may be
used (its *end*). A block of more than one unit may be used for ``block_s`` after it was granted (its end
is then ``granted + block_s``); a single unit is used at once (end = granted: the moment Redis counted it, as
in any moving window; singles granted within 1 ms share one entry that ends at the last of them, which
bounds the entries kept). A block is granted (whole or
in part) only while the blocks whose end is within the last second leave room for it. When the process asks
for its next block it reports how many units of the previous one it used and when it used the last, and the
script shrinks that block to them. Block sizes follow each process's recent demand for the token (the units
it used while the previous block was valid, doubled when it ran out early), at most ``limit // 20`` and
1,000: below 40/s every request asks Redis, so small limits are exact as a moving window.

Bounds (processes healthy, Redis up):

- **No overshoot**: in any one-second interval a token is served at most N requests across all processes.
  (Every unit served in an interval belongs to a block whose end lies after the interval's start; when the
  last of those blocks was granted, all of them were counted against N.)
- **False 429s** (undershoot) only from allowance reserved and not (yet) used: each process's current
  block (at most ``min(limit // 20, 1000)`` units, sized to its use) counts in full until that process asks
  again or until one second after its end, and a used block counts until one second after its last use, so
  a token sending steadily at its limit gets at least ``N / (1 + block_s)`` per second (in practice close
  to N: blocks are shrunk to their last use). A refused process also answers 429 without asking Redis
  until the time it was told (same limit).
- **Retry-After**: the exact wait until the oldest counted unit leaves the window, rounded up to whole
  seconds (1, or 2 while a block granted in the last ``block_s`` holds the oldest units).
- **Cost**: one Redis round trip per block; between them a check is a lock and two comparisons.

**Redis down**: a circuit breaker (one failed call per ``retry_s``, not one per request) switches each
process to the embedded limit, so each process allows up to N per second on its own; blocks already held
are used until they expire. After ``retry_s`` one call tries Redis again and, when it answers, the count is
shared again; a one-second window has nothing to reconcile. Redis >= 5 (``TIME`` inside a script).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field

import redis

from lds.cache.breaker import CircuitBreaker

log = logging.getLogger("lds.auth")

WINDOW_S = 1.0
BLOCK_DIVISOR = 20  # a block is at most this fraction of the limit ...
MAX_BLOCK = 1000  # ... and at most this many units
_SWEEP_EVERY_S = 10.0

# KEYS[1] the token's key; ARGV: limit, units wanted, window µs, block validity µs, the caller's previous
# block (id, units used, µs from its grant to its last use; id 0 = none). Returns {granted, block id, wait µs}.
# State: msgpack {next id, {{id, granted at, end, units}, ...}}; ids start at the clock so they never repeat.
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, want = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, valid = tonumber(ARGV[3]), tonumber(ARGV[4])
local prev, used, span = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local raw = redis.call('GET', KEYS[1])
local seq, blocks = now, {}
if raw then
  local state = cmsgpack.unpack(raw)
  seq, blocks = state[1], state[2]
end
local live, sum, last, keep = {}, 0, nil, now + valid
for _, b in ipairs(blocks) do
  if prev > 0 and b[1] == prev then
    b[4] = used
    b[3] = math.min(b[3], b[2] + span)
  end
  if b[4] > 0 and b[3] > now - window then
    live[#live + 1] = b
    sum = sum + b[4]
    keep = math.max(keep, b[3])
  end
end
local grant, id, wait = math.min(want, limit - sum), 0, 0
if grant >= 2 then
  seq = seq + 1
  id = seq
  live[#live + 1] = {id, now, now + valid, grant}
elseif grant == 1 then
  last = live[#live]
  if last and last[1] < 0 and last[2] > now - 1000 then
    last[3] = now
    last[4] = last[4] + 1
  else
    seq = seq + 1
    live[#live + 1] = {-seq, now, now, 1}
  end
else
  grant = 0
  table.sort(live, function(a, b) return a[3] < b[3] end)
  local over = sum - limit + 1
  for _, b in ipairs(live) do
    over = over - b[4]
    if over <= 0 then
      wait = b[3] + window - now
      break
    end
  end
end
redis.call('SET', KEYS[1], cmsgpack.pack({seq, live}), 'PX', math.ceil((keep + window - now) / 1000) + 1000)
return {grant, id, wait}
"""


def _seconds(wait_s: float) -> int:
    """A wait as ``Retry-After`` takes it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait_s - 1e-6))


class MemoryWindow:
    """At most ``limit`` allowed checks per key in any ``window_s``: a log of their times (exact, per process)."""

    def __init__(self, window_s: float = WINDOW_S):
        self.window_s = window_s
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}
        self._sweep_at = time.monotonic() + _SWEEP_EVERY_S

    def check(self, key: str, limit: int) -> float | None:
        """None when allowed (and counted), else seconds until a check would be allowed."""
        with self._lock:
            now = time.monotonic()
            cutoff = now - self.window_s
            times = self._logs.get(key)
            if times is None:
                times = self._logs[key] = deque()
            while times and times[0] <= cutoff:
                times.popleft()
            while len(times) > limit:  # the limit was lowered: only the newest ``limit`` times matter
                times.popleft()
            if len(times) < limit:
                times.append(now)
                if now >= self._sweep_at:
                    self._sweep(cutoff)
                return None
            return times[0] + self.window_s - now

    def _sweep(self, cutoff: float) -> None:
        for key in [k for k, times in self._logs.items() if not times or times[-1] <= cutoff]:
            del self._logs[key]
        self._sweep_at = cutoff + self.window_s + _SWEEP_EVERY_S


@dataclass(eq=False)
class _Block:
    """This process's allowance for one token, reserved from Redis."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    left: int = 0  # units that may still be served here without asking Redis
    until: float = 0.0  # monotonic time after which ``left`` must not be used
    granted: int = 0  # units of the last grant (0: none yet, or refused)
    block_id: int = 0  # its id in Redis when it is to be shrunk at the next call (more than one unit)
    sent: float = 0.0  # monotonic time the last reservation was sent (before Redis granted it)
    used: int = 0  # units of the last grant served
    last_use: float = 0.0
    refused_until: float = 0.0  # refused by Redis: answer 429 here until then (for this limit)
    refused_limit: int = 0


class RateLimiter:
    """``retry_after(key, per_s)`` counts one request and says how long to wait when over the limit."""

    def __init__(self, redis_url: str | None = None, prefix: str = "lds:", timeout_s: float = 0.1,
                 retry_s: float = 5.0, block_s: float = 0.1):
        self.redis_url = redis_url
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.block_s = max(0.0, block_s)
        self._reset()
        _LIMITERS.add(self)

    @property
    def backend(self) -> str:
        return "redis" if self.redis_url else "memory"

    def _reset(self) -> None:
        """Fresh per-process state (also in a forked child: blocks, locks and sockets are not shared)."""
        self.memory = MemoryWindow()
        self.breaker = CircuitBreaker(self.retry_s)
        self._blocks: dict[str, _Block] = {}
        self._sweep_at = time.monotonic() + _SWEEP_EVERY_S
        self._script = None
        self._script_lock = threading.Lock()

    def retry_after(self, key: str, per_s: int) -> int | None:
        """None when this request is within ``per_s`` requests in the last second, else seconds to wait (>= 1)."""
        wait = self.wait_s(key, per_s)
        return None if wait is None else _seconds(wait)

    def wait_s(self, key: str, per_s: int) -> float | None:
        """Count one request of ``key``: None when it may pass, else the exact wait in seconds (no rounding)."""
        if per_s <= 0:
            return None
        if self.redis_url is None:
            return self.memory.check(key, per_s)
        block = self._blocks.get(key) or self._blocks.setdefault(key, _Block())
        with block.lock:
            now = time.monotonic()  # after the lock: another thread may have waited on Redis meanwhile
            if block.left > 0 and now < block.until:
                block.left -= 1
                block.used += 1
                block.last_use = now
                return None
            if now < block.refused_until and block.refused_limit == per_s:
                return block.refused_until - now
            if self.breaker.allow():
                try:
                    return self._reserve(key, block, per_s, now)
                except redis.RedisError as exc:
                    self._failed(exc, block)
        return self.memory.check(key, per_s)  # Redis down: limit per process

    # --- Redis --------------------------------------------------------------------------------------------
    def _want(self, block: _Block, per_s: int, now: float) -> int:
        """Units to ask for: what this process used of its last block while it was valid, doubled when it
        ran out early; 1 at first or after a refusal; at most ``per_s // 20`` and MAX_BLOCK."""
        cap = min(per_s // BLOCK_DIVISOR, MAX_BLOCK)
        if cap <= 1 or self.block_s <= 0 or block.granted == 0:
            return 1
        if block.used >= block.granted and now - block.sent < self.block_s:
            return min(cap, 2 * block.granted)
        return max(1, min(cap, block.used))

    def _reserve(self, key: str, block: _Block, per_s: int, now: float) -> float | None:
        """Ask Redis for the next block (reporting the last one); None when this request may pass."""
        script = self._script or self._load_script()
        want = self._want(block, per_s, now)
        prev = block.block_id if now - block.sent < WINDOW_S + self.block_s else 0
        span_us = math.ceil((block.last_use - block.sent) * 1e6) if prev else 0
        sent = time.monotonic()
        granted, block_id, wait_us = script(
            keys=[f"{self.prefix}ratelimit:{key}"],
            args=[per_s, want, round(WINDOW_S * 1e6), round(self.block_s * 1e6), prev, block.used if prev else 0,
                  span_us])
        if self.breaker.success(sent):
            log.info("rate-limit storage is back; rate limits are shared again")
        block.sent, block.granted, block.block_id = sent, int(granted), int(block_id)
        self._sweep(sent)
        if block.granted == 0:
            block.left = block.used = 0
            block.refused_until, block.refused_limit = sent + int(wait_us) / 1e6, per_s
            return int(wait_us) / 1e6
        block.left, block.used, block.last_use = block.granted - 1, 1, time.monotonic()
        block.until = sent + self.block_s
        return None

    def _load_script(self):
        with self._script_lock:
            if self._script is None:
                from lds.redisconn import redis_client

                # One immediate retry: after a Redis restart every pooled connection is stale and fails once.
                client = redis_client(self.redis_url, self.timeout_s, retries=1)
                self._script = client.register_script(_RESERVE_LUA)
            return self._script

    def _failed(self, exc: Exception, block: _Block) -> None:
        block.left = block.granted = block.used = block.block_id = 0  # whatever Redis did is not known
        if self.breaker.failure():
            log.warning("rate-limit storage unavailable (%s); limiting per process, trying Redis again in %.0f s",
                        type(exc).__name__, self.retry_s)

    def _sweep(self, now: float) -> None:
        """Forget tokens idle for a while (called on the slow path only)."""
        if now < self._sweep_at:
            return
        self._sweep_at = now + _SWEEP_EVERY_S
        idle = now - _SWEEP_EVERY_S
        for key in [k for k, b in list(self._blocks.items()) if max(b.sent, b.last_use) < idle]:
            self._blocks.pop(key, None)


_LIMITERS: weakref.WeakSet[RateLimiter] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for limiter in list(_LIMITERS):
        limiter._reset()


os.register_at_fork(after_in_child=_reset_after_fork)
