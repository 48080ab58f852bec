"""Can heavy work starve the service? Eight big synchronous batches against `lds serve`, probed meanwhile.

    .venv/bin/python scripts/starvation.py                        # Monaco, built into a temp dir
    .venv/bin/python scripts/starvation.py --data graph_data/monaco-2020-07 --items 2000 --style words
    .venv/bin/python scripts/starvation.py --env LDS_HEAVY_SLOTS=2 --auth

Starts `lds serve` (default worker count, auth off unless ``--auth``) on a free 127.0.0.1 port, then
fires ``--batches`` concurrent ``POST /v3/lds/geocoding/batch`` requests of ``--items`` random strings of
``--chars`` characters each (``chars``: letters, digits and a few spaces; ``words``: short random words,
several times dearer to geocode), while two probes hit ``GET /health`` and a small route (its points
moved a little each time, so the answer cache never helps) every ``--probe-ms`` on fresh connections
(``--keepalive``: two more on kept-alive connections, which stay with one worker and share its GIL).
Batches that the service turns into jobs (202) keep running in the background: the probes go on while
they run, for at most ``--job-seconds``, then the jobs are cancelled. Prints, for the time the batches
and jobs were running, each probe's count, p50/p99/max latency and failures, and each batch's outcome.
Nothing is asserted; the issue's targets are /health under 1 s and a small route under 2 s every time.
The whole run is bounded by ``--max-seconds`` and always stops the server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import Server

REPO = Path(__file__).resolve().parents[1]
ROUTE_FROM, ROUTE_TO = (7.4197, 43.7311), (7.4270, 43.7400)


def random_strings(n: int, chars: int, style: str, seed: int) -> list[str]:
    """``n`` random strings of exactly ``chars`` characters (fast: bytes mapped onto an alphabet)."""
    rng = random.Random(seed)
    if style == "words":
        out = []
        letters = "abcdefghijklmnopqrstuvwxyz"
        for _ in range(n):
            words, size = [], 0
            while size < chars:
                w = "".join(rng.choices(letters, k=rng.randint(3, 10)))
                words.append(w)
                size += len(w) + 1
            out.append(" ".join(words)[:chars])
        return out
    alphabet = (b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + b" " * 2)[:64]
    table = bytes(alphabet[i % 64] for i in range(256))
    blob = rng.randbytes(n * chars).translate(table).decode()
    return [blob[i * chars:(i + 1) * chars] for i in range(n)]


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = 60.0) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


class Probe(threading.Thread):
    """GETs ``path_fn()`` every ``every_s`` on a fresh connection; records (start time, latency, status)."""

    def __init__(self, name: str, port: int, path_fn, every_s: float, headers: dict, stop: threading.Event,
                 keepalive: bool = False):
        super().__init__(name=name, daemon=True)
        self.port, self.path_fn, self.every_s, self.headers, self.stop_event = port, path_fn, every_s, headers, stop
        self.keepalive = keepalive
        self.samples: list[tuple[float, float, int | str]] = []

    def run(self) -> None:
        conn = None
        while not self.stop_event.is_set():
            t0 = time.monotonic()
            try:
                if not self.keepalive:
                    status, _, _ = request(self.port, "GET", self.path_fn(), headers=self.headers, timeout=60)
                else:  # one connection, reused: it stays with the worker that accepted it
                    conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                    conn.request("GET", self.path_fn(), headers=self.headers)
                    r = conn.getresponse()
                    r.read()
                    status = r.status
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                if conn is not None:
                    conn.close()
                    conn = None
            self.samples.append((t0, time.monotonic() - t0, status))
            self.stop_event.wait(max(0.0, self.every_s - (time.monotonic() - t0)))


def summarise(samples: list[tuple[float, float, int | str]], start: float, end: float) -> dict:
    inside = [(lat, st) for t, lat, st in samples if start <= t <= end]
    lat = sorted(x for x, _ in inside)
    if not lat:
        return {"n": 0}
    failures = [st for _, st in inside if st != 200]

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1)

    worst = sorted(((lat, t) for t, lat, _ in samples if start <= t <= end), reverse=True)[:3]
    return {"n": len(lat), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": round(lat[-1] * 1000, 1),
            "failures": len(failures), "failure_kinds": sorted({str(f) for f in failures}),
            "over_1s": sum(x > 1.0 for x in lat), "over_2s": sum(x > 2.0 for x in lat),
            "worst_at_s": [[round(t - start, 1), round(x * 1000)] for x, t in worst]}


def make_token(port: int, admin: str) -> str:
    body = json.dumps({"grants": [], "allowed_apis": ["lds"]}).encode()
    status, raw, _ = request(port, "POST", "/v3/tokens", body,
                             {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
    if status != 201:
        raise RuntimeError(f"could not create a token: {status} {raw[:200]!r}")
    return json.loads(raw)["token"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pbf", default=str(REPO.parent / "shared" / "data" / "monaco-2020-07.osm.pbf"))
    ap.add_argument("--data", help="a built data dir (default: build --pbf into a temp dir)")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--chars", type=int, default=494)
    ap.add_argument("--style", choices=("chars", "words"), default="chars")
    ap.add_argument("--probe-ms", type=float, default=200)
    ap.add_argument("--workers", type=int, default=0, help="gunicorn workers (0 = lds's default)")
    ap.add_argument("--keepalive", action="store_true", help="also probe on kept-alive connections (GIL sharing)")
    ap.add_argument("--auth", action="store_true", help="auth on: every batch uses its own token, probes another")
    ap.add_argument("--env", action="append", default=[], help="extra LDS_*=value for the server")
    ap.add_argument("--job-seconds", type=float, default=60, help="longest time to keep probing while jobs run")
    ap.add_argument("--max-seconds", type=float, default=400, help="hard bound on the whole run")
    ap.add_argument("--log", help="server log file (default: discarded)")
    args = ap.parse_args()
    hard_deadline = time.monotonic() + args.max_seconds

    tmp = tempfile.mkdtemp(prefix="lds-starvation-")
    data = args.data
    if not data:
        from lds.build.pipeline import build

        data = str(Path(tmp) / "data")
        build(args.pbf, Path(data), quiet=True)
    env = {"LDS_STATE_DIR": str(Path(tmp) / "state")}
    admin = None
    if args.auth:
        admin = "lds_starvation_" + os.urandom(12).hex()
        env.update({"LDS_AUTH": "true", "LDS_ADMIN_TOKEN": admin, "LDS_RATE_LIMIT_PER_S": "0"})
    for kv in args.env:
        key, _, value = kv.partition("=")
        env[key] = value
    print(f"generating {args.batches} x {args.items} strings of {args.chars} chars ({args.style}) ...", flush=True)
    bodies = [json.dumps({"addresses": random_strings(args.items, args.chars, args.style, seed=i)}).encode()
              for i in range(args.batches)]
    server = Server(data, env, workers=args.workers, log_path=args.log)
    server.start()
    try:
        port = server.port
        probe_headers: dict = {}
        batch_headers = [{"Content-Type": "application/json"} for _ in bodies]
        if admin:
            probe_headers = {"Authorization": f"Bearer {make_token(port, admin)}"}
            for h in batch_headers:
                h["Authorization"] = f"Bearer {make_token(port, admin)}"
        rng = random.Random(5)

        def route_path() -> str:
            a = (ROUTE_FROM[0] + rng.uniform(-5e-4, 5e-4), ROUTE_FROM[1] + rng.uniform(-5e-4, 5e-4))
            b = (ROUTE_TO[0] + rng.uniform(-5e-4, 5e-4), ROUTE_TO[1] + rng.uniform(-5e-4, 5e-4))
            return f"/v3/lds/routing?origin={a[0]:.6f},{a[1]:.6f}&destination={b[0]:.6f},{b[1]:.6f}&mode=car"

        stop = threading.Event()
        probes = [Probe("health", port, lambda: "/health", args.probe_ms / 1000, {}, stop),
                  Probe("route", port, route_path, args.probe_ms / 1000, probe_headers, stop)]
        if args.keepalive:
            probes += [Probe(f"{p.name}_keepalive", port, p.path_fn, args.probe_ms / 1000, p.headers, stop, True)
                       for p in probes]
        for p in probes:
            p.start()
        time.sleep(2)  # a quiet baseline first

        outcomes: list[dict] = [{} for _ in bodies]

        def fire(i: int) -> None:
            t0 = time.monotonic()
            try:
                status, raw, headers = request(port, "POST", "/v3/lds/geocoding/batch", bodies[i], batch_headers[i],
                                               timeout=max(1.0, hard_deadline - time.monotonic()))
                out: dict = {"status": status, "seconds": round(time.monotonic() - t0, 2)}
                if status == 202:
                    out["job"] = json.loads(raw)["jobId"]
                elif status != 200:
                    out["error"] = raw[:160].decode(errors="replace")
                    out["retry_after"] = headers.get("retry-after")
            except OSError as exc:
                out = {"status": type(exc).__name__, "seconds": round(time.monotonic() - t0, 2)}
            outcomes[i] = out

        load_start = time.monotonic()
        senders = [threading.Thread(target=fire, args=(i,), daemon=True) for i in range(len(bodies))]
        for t in senders:
            t.start()
        for t in senders:
            t.join(max(0.0, hard_deadline - time.monotonic()))
        jobs = [(i, o["job"]) for i, o in enumerate(outcomes) if "job" in o]
        job_deadline = min(hard_deadline, time.monotonic() + args.job_seconds)
        while jobs and time.monotonic() < job_deadline:
            pending = 0
            for i, job_id in jobs:
                _, raw, _ = request(port, "GET", f"/v3/lds/jobs/{job_id}", headers=batch_headers[i], timeout=30)
                doc = json.loads(raw)
                outcomes[i]["job_status"] = doc.get("status")
                outcomes[i]["job_progress"] = doc.get("progress")
                pending += doc.get("status") in ("pending", "running")
            if not pending:
                break
            time.sleep(1)
        load_end = time.monotonic()
        for i, job_id in jobs:
            if outcomes[i].get("job_status") in ("pending", "running"):
                request(port, "DELETE", f"/v3/lds/jobs/{job_id}", headers=batch_headers[i], timeout=30)
                outcomes[i]["cancelled_after_s"] = round(load_end - load_start, 1)
        time.sleep(1)
        stop.set()
        for p in probes:
            p.join(65)
        report = {
            "settings": {"batches": args.batches, "items": args.items, "chars": args.chars, "style": args.style,
                         "workers": args.workers or "default", "auth": args.auth, "env": args.env},
            "load_seconds": round(load_end - load_start, 1),
            "probes_under_load": {p.name: summarise(p.samples, load_start, load_end) for p in probes},
            "probes_before_load": {p.name: summarise(p.samples, 0, load_start) for p in probes},
            "batches": outcomes,
        }
        print(json.dumps(report, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
