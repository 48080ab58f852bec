"""In-process cost of serving one answer: the fast path below Flask against the Flask route, no sockets.

Each request is a WSGI environ (werkzeug's EnvironBuilder, built once) sent through ``app.wsgi_app`` with
auth on (the embedded SQLite state store, a real token; the rate limiter with ``--rate-limit``), the answer cache off,
so every request computes its answer. Prints microseconds per request (the best of 7 interleaved batches)
for the fast path and for Flask, and the bare core call for reference:

    .venv/bin/python scripts/bench_fastpath.py [--data DIR] [-n 2000]

Without ``--data`` it builds Monaco from ``../shared/data`` (or ``LDS_TEST_DATA``) into a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ADMIN = "bench-admin-token-0123456789abcdef0123456789"
QUERIES = {  # name -> (path, query string, core call)
    "route": ("/v3/lds/routing", "origin=7.4197,43.7311&destination=7.4270,43.7400",
              lambda lds: lds.route((7.4197, 43.7311), (7.4270, 43.7400))),
    "geocode": ("/v3/lds/geocoding/geocode", "address=Avenue+de+Monte-Carlo&limit=1",
                lambda lds: lds.geocode("Avenue de Monte-Carlo", limit=1)),
    "reverse": ("/v3/lds/geocoding/reverse", "lat=43.7384&lon=7.4246", lambda lds: lds.reverse(43.7384, 7.4246)),
    "isolines": ("/v3/lds/isolines", "origin=7.4197,43.7311&range=300&mode=walk",
                 lambda lds: lds.isolines((7.4197, 43.7311), [300], "time", "walk")),
}


def _data_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    from lds.build.pipeline import build

    shared = Path(os.environ.get("LDS_TEST_DATA") or REPO.parent / "shared" / "data")
    out = Path(tempfile.mkdtemp(prefix="lds-bench-fastpath-")) / "monaco"
    build(str(shared / "monaco-2020-07.osm.pbf"), out, quiet=True)
    return out


def _app(core, state_dir: str, fast: bool, rate_limit: int = 0):
    from lds.app import create_app
    from lds.settings import Settings

    settings = Settings.from_env(env={}, data_dir=str(core.data.path), auth=True, cache_enabled=False,
                                 state_dir=state_dir, admin_token=ADMIN, rate_limit_per_s=rate_limit,
                                 fast_path=fast, log_level="warning")
    app = create_app(settings, lds=core)
    r = app.test_client().post("/v3/tokens", json={"allowed_apis": ["lds"]}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 201, r.get_json()
    return app, r.get_json()["token"]


def _sender(app, token: str, path: str, query: str):
    """A function sending the request once through ``app.wsgi_app`` (the environ built once, copied per call)."""
    environ = EnvironBuilder(path=path, query_string=query, headers={"Authorization": f"Bearer {token}"}).get_environ()
    status: list[str] = []

    def start_response(s, headers, exc_info=None):
        status.append(s)

    def once():
        body = app.wsgi_app(dict(environ), start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    once()
    assert status[-1].startswith("200"), status[-1]
    return once


def _batch_us(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def _timings(fns: dict, n: int, rounds: int = 7) -> dict[str, float]:
    """Microseconds per call of each function: the best of ``rounds`` interleaved batches (the machine is shared:
    the minimum is the figure least disturbed by other processes)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], _batch_us(fn, max(1, n // rounds)))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="a built data dir (default: build Monaco into a temporary folder)")
    ap.add_argument("-n", type=int, default=2000, help="requests per endpoint and path (default 2000)")
    ap.add_argument("--only", help="comma-separated subset of: " + ", ".join(QUERIES))
    ap.add_argument("--rate-limit", type=int, default=0,
                    help="rate_limit_per_s of the apps (default 0: no limiter; e.g. 10000000 to time its check)")
    args = ap.parse_args()
    from lds.core import LDS
    from lds.settings import Settings

    core = LDS(Settings.from_env(env={}, data_dir=str(_data_dir(args.data)), cache_enabled=False, auth=False))
    core.warm()
    names = args.only.split(",") if args.only else list(QUERIES)
    with tempfile.TemporaryDirectory() as fast_state, tempfile.TemporaryDirectory() as flask_state:
        fast, fast_token = _app(core, fast_state, True, args.rate_limit)
        slow, slow_token = _app(core, flask_state, False, args.rate_limit)
        print(f"{'endpoint':<10} {'core us':>9} {'fast path us':>13} {'flask us':>9} {'saved us':>9}")
        for name in names:
            path, query, call = QUERIES[name]
            n = args.n if name != "isolines" else max(70, args.n // 20)
            best = _timings({"core": lambda call=call: call(core), "fast": _sender(fast, fast_token, path, query),
                             "flask": _sender(slow, slow_token, path, query)}, n)
            print(f"{name:<10} {best['core']:>9.1f} {best['fast']:>13.1f} {best['flask']:>9.1f} "
                  f"{best['flask'] - best['fast']:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
