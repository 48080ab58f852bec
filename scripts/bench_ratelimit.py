"""In-process cost of one rate-limit check (``RateLimiter.retry_after``), embedded and with Redis.

Prints microseconds per check (the best of 5 batches) for: a limit never reached (the common case: the
benchmarks' 1,000,000/s), one token checked from 4 threads at once, a small limit (below 40/s every allowed
request asks Redis: exact), and a token far over its limit (429s). Asserts nothing.

    .venv/bin/python scripts/bench_ratelimit.py [--redis-url redis://127.0.0.1:6379/0] [-n 20000]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _best_us(fn, n: int, batches: int = 5) -> float:
    best = float("inf")
    for _ in range(batches):
        t0 = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def _cases(limiter) -> dict[str, object]:
    def never_reached(n: int) -> None:
        check, key = limiter.retry_after, "bench-" + secrets.token_hex(4)
        for _ in range(n):
            check(key, 1_000_000)

    def four_threads(n: int) -> None:
        key = "bench-" + secrets.token_hex(4)

        def run() -> None:
            for _ in range(n // 4):
                limiter.retry_after(key, 1_000_000)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def small_limit(n: int) -> None:  # 30/s: every allowed request is its own check against the shared count
        keys = ["bench-" + secrets.token_hex(4) for _ in range(n // 20 + 1)]
        for i in range(n):
            limiter.retry_after(keys[i // 20], 30)

    def over_limit(n: int) -> None:
        check, key = limiter.retry_after, "bench-" + secrets.token_hex(4)
        for _ in range(n):
            check(key, 10)

    return {"limit never reached": never_reached, "same token, 4 threads": four_threads,
            "30/s token, allowed (exact)": small_limit, "over the limit (429s)": over_limit}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--prefix", default="ldsbench:" + secrets.token_hex(4) + ":")
    ap.add_argument("-n", type=int, default=20000, help="checks per batch")
    args = ap.parse_args()

    import redis

    from lds.auth.ratelimit import RateLimiter

    print(f"µs per check, best of 5 batches of {args.n}")
    for name, url in (("embedded", None), ("redis", args.redis_url)):
        limiter = RateLimiter(url, args.prefix, timeout_s=1.0)
        for case, fn in _cases(limiter).items():
            n = min(args.n, 2000) if url and "exact" in case else args.n
            print(f"  {name:9s} {case:30s} {_best_us(fn, n):9.2f}")
    client = redis.Redis.from_url(args.redis_url)
    keys = list(client.scan_iter(match=args.prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
