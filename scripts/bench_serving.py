"""Served benchmark: lds over HTTP against osrm-routed and valhalla_service, same extract, same queries, same run.

What issue 9 asks of the serving path, measured the way it states it: keep-alive connections, auth on with a
real API token (looked up, rate-checked with a limit it never reaches, charged), every answer computed (answer
cache off: ``LDS_CACHE_ENABLED=false``, which also turns off the response memo), on the embedded default (no
Redis) and with Redis (``--redis-url``, a spare database and a key prefix of this run, deleted at the end); then
cached answers (cache on, each query sent once to warm and again timed). Prints route p50/p95 and isoline (car
5+10 min) p50/p95 of every engine, the ratios against the targets (served route p50 <= 1.5x osrm-routed,
isoline p50 <= 0.5x valhalla_service, cached <= osrm-routed), and the per-stage cost of a served lds request:
parse, auth, quota, cache, core and serialise timed in-process on the app's own objects with the service's own
Flask-free functions (the registry's ``parse``, ``lds.api.access.authorize``, ``AccessControl.charge``, the
cache store's ``get_many``, the core call, ``lds.fastjson.dumps``), and WSGI/HTTP as what the served p50 adds
to them, split into what the app itself adds (the WSGI app called directly with the request's environ: fast
path, admission, metrics, request log) and what gunicorn, the sockets and the client add. Asserts nothing.

    .venv/bin/python scripts/bench_serving.py                      # Monaco, a minute or two
    .venv/bin/python scripts/bench_serving.py --extract ../shared/data/heidelberg-ors-2024-09.osm.pbf

How things run (all on 127.0.0.1, all stopped at the end):
- lds: ``lds serve`` of the project's interpreter (this script's: run it with ``.venv/bin/python``, whose Cython
  extensions the project builds; ``.venv-bench`` has copies built once by setup_bench.sh), gunicorn
  gthread, ``--workers`` 2 (a 2-core machine; ``LDS_THREADS`` default), the default log level (one JSON line per
  request, as in production). The data dir is built when missing or stale (``bench_routing.ensure_data``).
- peers: the real HTTP servers shipped in the peer wheels of ``.venv-bench`` (``scripts/setup_bench.sh``):
  ``osrm-routed`` (osrm-bindings, CH, ``-t 2``) on the data ``scripts/peers`` prepares, and ``valhalla_service``
  (pyvalhalla, concurrency 2) on the peer's tiles and config (listening on loopback, private IPC sockets).
  Preparation runs in ``--bench-python`` (the peer wheels need Python >= 3.12).
- queries: ``bench_routing.random_pairs`` (nodes of the largest strongly connected car component, fixed seed);
  isoline origins are the first origins of the pairs. OSRM is asked for what lds answers: the full geometry as
  GeoJSON and the steps (``--osrm-query``); Valhalla for car contours of 5 and 10 min as polygons.
- client: one keep-alive HTTP/1.1 connection per engine on a plain socket, sequential requests, each timed from
  the first byte sent to the last byte read (connecting is not timed). Queries are split into ``--rounds``
  blocks; each block goes to every engine in turn (order rotated), so background load on a shared machine falls
  on all engines alike.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_routing import SHARED_DATA, ensure_data, pct, random_pairs, ratio
from loadgen import Server, free_port, http_json

ISOLINE_RANGES_S = (300, 600)  # car 5 + 10 min, one request
TARGETS = {"route": 1.5, "isolines": 0.5, "cached": 1.0}
RATE_LIMIT_PER_S = 1_000_000  # checked on every request, never reached
BIG_QUOTA = 10**12
WARMUP = 10  # untimed requests per connection before timing (lazily built indexes, first-touched pages)
WARMUP_CONNECTIONS = 4
OSRM_QUERY = "overview=full&geometries=geojson&steps=true"

# lds configurations: name -> (answer cache on, Redis)
LDS_CONFIGS = {"lds embedded": (False, False), "lds redis": (False, True),
               "lds embedded cached": (True, False), "lds redis cached": (True, True)}


# --- a cheap keep-alive HTTP/1.1 client -----------------------------------------------------------------------

class Connection:
    """One persistent connection to 127.0.0.1:``port``; requests are pre-encoded bytes, sent one at a time."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.reader: Any = None
        self.opened = 0

    def open(self) -> None:
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb", buffering=1 << 16)
        self.opened += 1

    def close(self) -> None:
        if self.sock is not None:
            self.reader.close()
            self.sock.close()
        self.sock = self.reader = None

    def send(self, raw: bytes) -> tuple[float, int, dict[str, str], bytes]:
        """(seconds from the first byte sent to the last byte read, status, lower-cased headers, body)."""
        if self.sock is None:
            self.open()
        t0 = time.perf_counter()
        self.sock.sendall(raw)
        first = self.reader.readline()
        if not first:
            self.close()
            raise ConnectionError("connection closed by the server")
        headers = {}
        while (line := self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(first.split()[1])
        if status in (204, 304) or 100 <= status < 200:  # no body, whatever the headers say (RFC 9112 6.3)
            body = b""
        elif "content-length" in headers:
            body = self.reader.read(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:
            body = self.reader.read()
            headers["connection"] = "close"
        elapsed = time.perf_counter() - t0
        if headers.get("connection", "").lower() == "close":
            self.close()
        return elapsed, status, headers, body

    def _chunked(self) -> bytes:
        parts = []
        while (size := int(self.reader.readline().split(b";")[0], 16)) > 0:
            parts.append(self.reader.read(size))
            self.reader.readline()
        while self.reader.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(parts)


def get(path: str, port: int, headers: dict[str, str] | None = None) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()


def post_json(path: str, port: int, body: dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


# --- peers: prepared by scripts/peers in the bench interpreter, served by the wheels' own HTTP servers -----------

_PREPARE_PEERS = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import osrm
from valhalla._scripts import PYVALHALLA_BIN_DIR
from peers import OsrmPeer, ValhallaPeer
o, v = OsrmPeer(sys.argv[1]), ValhallaPeer(sys.argv[1])
print(json.dumps({
    "osrm": {"bin": str(Path(osrm.__file__).parent / "bin" / "osrm-routed"), "base": str(o.base),
             "reused": o.reused, "prepare_seconds": o.prepare_seconds},
    "valhalla": {"bin": str(PYVALHALLA_BIN_DIR / "valhalla_service"), "config": str(v.config_path),
                 "version": v.params["valhalla"], "reused": v.reused, "prepare_seconds": v.prepare_seconds}}))
o.close(); v.close()
"""


def prepare_peers(pbf: str, bench_python: str) -> dict[str, Any]:
    """Prepare (or reuse) OSRM's and Valhalla's data with scripts/peers; the servers' paths and data."""
    if not Path(bench_python).is_file():
        raise SystemExit(f"{bench_python} not found: run scripts/setup_bench.sh (or give --bench-python)")
    proc = subprocess.run([bench_python, "-c", _PREPARE_PEERS, pbf, str(REPO / "scripts")], check=False,
                          capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"preparing the peers failed:\n{proc.stderr[-3000:]}")
    peers = json.loads(proc.stdout.strip().splitlines()[-1])
    version = subprocess.run([peers["osrm"]["bin"], "--version"], check=False, capture_output=True, text=True)
    peers["osrm"]["version"] = version.stdout.strip()
    return peers


def valhalla_service_config(config: str, port: int, tmp: Path) -> Path:
    """The peer's config, listening on loopback ``port``, with IPC sockets of its own and a quick shutdown."""
    cfg = json.loads(Path(config).read_text())

    def private_ipc(node: dict[str, Any], where: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                private_ipc(value, f"{where}{key}-")
            elif isinstance(value, str) and value.startswith("ipc://"):
                node[key] = f"ipc://{tmp}/{where}{key}"

    private_ipc(cfg, "")
    service = cfg["httpd"]["service"]
    service.update({"listen": f"tcp://127.0.0.1:{port}", "drain_seconds": 0, "shutdown_seconds": 0})
    path = tmp / "valhalla_service.json"
    path.write_text(json.dumps(cfg))
    return path


class PeerServer(Server):
    """A peer's HTTP server (its own process group), ready when ``probe`` answers 200."""

    def __init__(self, name: str, cmd: list[str], port: int, probe: bytes, log_path: str):
        super().__init__("", {}, log_path=log_path, port=port)
        self.name, self.cmd, self.probe = name, cmd, probe

    def start(self, timeout: float = 120) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=log, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            conn = Connection(self.port)
            try:
                if conn.send(self.probe)[1] == 200:
                    return
            except (OSError, ValueError, IndexError):
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready; see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return super().stop(sig)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None


# --- requests and checks ---------------------------------------------------------------------------------------

def lds_route_path(a: tuple[float, float], b: tuple[float, float]) -> str:
    return "/v3/lds/routing?" + urlencode({"origin": f"{a[0]:.6f},{a[1]:.6f}", "destination": f"{b[0]:.6f},{b[1]:.6f}",
                                           "mode": "car"}, safe=",")


def lds_isolines_path(o: tuple[float, float]) -> str:
    return "/v3/lds/isolines?" + urlencode({"origin": f"{o[0]:.6f},{o[1]:.6f}", "mode": "car", "range_type": "time",
                                            "range": ",".join(map(str, ISOLINE_RANGES_S))}, safe=",")


def lds_answer_ok(body: bytes, n_values: int) -> bool:
    doc = json.loads(body)
    return doc[0]["error"] is None and len(doc[0]["value"]) == n_values


CHECKS: dict[str, Callable[[bytes], bool]] = {
    "lds route": lambda body: lds_answer_ok(body, 1),
    "lds isolines": lambda body: lds_answer_ok(body, len(ISOLINE_RANGES_S)),
    "osrm-routed": lambda body: json.loads(body)["code"] == "Ok",
    "valhalla_service": lambda body: len(json.loads(body)["features"]) == len(ISOLINE_RANGES_S),
}


class Engine:
    """One server measured on one kind of query: the encoded requests, then latencies and what came back."""

    def __init__(self, name: str, port: int, requests: list[bytes], check: Callable[[bytes], bool], cached: bool):
        self.name, self.requests, self.check, self.cached = name, requests, check, cached
        self.conn = Connection(port)
        self.ms: list[float] = []
        self.bytes: list[int] = []
        self.errors: list[str] = []
        self.cache = Counter()

    def run(self, indexes: range, timed: bool = True) -> None:
        for i in indexes:
            try:
                seconds, status, headers, body = self.conn.send(self.requests[i])
            except (OSError, ValueError) as exc:
                self.conn.close()
                self.errors.append(f"#{i}: {type(exc).__name__}: {exc}")
                continue
            if not timed:
                continue
            ok = status == 200
            with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                ok = ok and self.check(body)
            if not ok:
                self.errors.append(f"#{i}: HTTP {status} {body[:200]!r}")
                continue
            self.ms.append(seconds * 1000.0)
            self.bytes.append(len(body))
            if "x-lds-cache" in headers:
                self.cache[headers["x-lds-cache"]] += 1

    def summary(self) -> dict[str, Any]:
        return {"p50_ms": pct(self.ms, 50), "p95_ms": pct(self.ms, 95), "n": len(self.ms), "errors": len(self.errors),
                "first_errors": self.errors[:3], "body_kb_p50": round(pct(self.bytes, 50) / 1024, 1) if self.bytes else None,
                "x_lds_cache": dict(self.cache), "connections": self.conn.opened}


def measure(engines: list[Engine], n: int, rounds: int, log: Callable[[str], None]) -> None:
    """Warm every engine up, then send block after block of the queries to each engine in turn.

    A cached engine gets each block twice on the same connection: once to fill its caches, then timed.
    """
    for e in engines:
        for _ in range(WARMUP_CONNECTIONS):  # new connections land on any worker: warm them all
            e.conn.open()
            e.run(range(min(WARMUP, n)), timed=False)
        e.conn.close()
    bounds = [round(n * r / rounds) for r in range(rounds + 1)]
    for r in range(rounds):
        block = range(bounds[r], bounds[r + 1])
        for e in engines[r % len(engines):] + engines[: r % len(engines)]:
            e.conn.open()  # a fresh connection per block: no keep-alive timeout while other engines run
            if e.cached:
                e.run(block, timed=False)
            e.run(block)
            e.conn.close()
    for e in engines:
        s = e.summary()
        log(f"  {e.name:<22} p50 {s['p50_ms']!s:>7} ms  p95 {s['p95_ms']!s:>7} ms  n {s['n']:>4}  errors {s['errors']}"
            f"  body {s['body_kb_p50']} KB  connections {s['connections']}"
            + (f"  X-LDS-Cache {s['x_lds_cache']}" if s["x_lds_cache"] else ""))
        for err in s["first_errors"]:
            log(f"    error {err}")


# --- per-stage cost, in-process --------------------------------------------------------------------------------

STAGES = ("parse", "auth", "quota", "cache", "core", "serialise")


def in_process_app(settings: Any, core: Any, log_sink: Any) -> Any:
    """The WSGI app ``lds serve`` runs, built in this process on the loaded core (its request log to ``log_sink``)."""
    from lds.app import create_app

    with contextlib.redirect_stderr(log_sink):  # the app's log handler writes where stderr points now
        return create_app(settings, lds=core)


def stage_costs(app: Any, core: Any, token: str, kind: str, paths: list[str]) -> dict[str, Any]:
    """Each stage of a served request timed on its own (p50 ms over the queries), and the whole app called directly.

    Stages run on the app's own objects (its access control, its cached facade and store, the core under it):
    query string -> registry ``parse`` -> ``authorize`` -> ``AccessControl.charge`` -> cache key and store
    ``get_many`` -> the core call -> format and ``fastjson.dumps``. ``app`` is the WSGI app called with a
    request's environ, as gunicorn calls it (fast path, admission, metrics, request log included). With the
    answer cache on, ``app_repeat`` is the app answering the same request again, ``cache_hit`` a store lookup
    of an answer just stored.
    """
    from werkzeug.test import EnvironBuilder

    from lds import fastjson
    from lds.api.access import authorize
    from lds.services import SERVICES, core_kwargs, parse

    service = SERVICES["routing" if kind == "route" else "isolines"]
    settings, access, cached = app.extensions["lds_settings"], app.extensions["lds_access"], app.extensions["lds"]
    headers = {"Authorization": f"Bearer {token}"}
    statuses = Counter()
    clock = time.perf_counter

    def start_response(status: str, response_headers: list, exc_info: Any = None) -> None:
        statuses[status.split()[0]] += 1

    def call_app(path: str, query: str) -> float:
        environ = EnvironBuilder(path=path, query_string=query, headers=headers).get_environ()
        t0 = clock()
        b"".join(app(environ, start_response))
        return clock() - t0

    def one(path: str, query: str) -> dict[str, float]:
        t0 = clock()
        values = parse(service, dict(parse_qsl(query)), cached)
        t1 = clock()
        principal = authorize(access, path, token, None)
        t2 = clock()
        kw = core_kwargs(service, values)
        access.charge(principal, service.quota, service.units(kw))
        t3 = clock()
        key = cached.key(service.cache, service.cache_key(kw, settings))
        cached.store.get_many([key])
        t4 = clock()
        value = getattr(core, service.core)(**kw)
        t5 = clock()
        fastjson.dumps(service.format(value))
        t6 = clock()
        times = dict(zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)))
        times["app"] = call_app(path, query)
        if settings.cache_enabled:
            times["app_repeat"] = call_app(path, query)
            t7 = clock()
            found = cached.store.get_many([key])[0]
            if found is not None:
                times["cache_hit"] = clock() - t7
        return {k: v * 1000.0 for k, v in times.items()}

    for path_query in paths[:WARMUP]:
        one(*path_query.split("?", 1))
    statuses.clear()
    rows = [one(*path_query.split("?", 1)) for path_query in paths]
    out: dict[str, Any] = {name: pct([r[name] for r in rows if name in r], 50)
                           for name in (*STAGES, "app", "app_repeat", "cache_hit")}
    out["stages_sum"] = round(sum(out[s] for s in STAGES), 3)
    out["app_statuses"] = dict(statuses)
    out["backends"] = access.status() | {"cache": cached.store.backend}
    return out


def measure_stages(core: Any, data: Path, envs: dict[str, dict[str, str]], token: str, paths: dict[str, list[str]],
                   log_path: Path, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """:func:`stage_costs` of every lds configuration (its settings, an app built in-process) and kind of query."""
    from lds.logs import configure_logging
    from lds.settings import Settings

    out: dict[str, dict[str, Any]] = {kind: {} for kind in paths}
    with open(log_path, "a") as sink:
        for name, env in envs.items():
            app = in_process_app(Settings.from_env(env=env, data_dir=str(data)), core, sink)
            for kind, kind_paths in paths.items():
                try:
                    out[kind][name] = stage_costs(app, core, token, kind, kind_paths)
                except Exception as exc:  # noqa: BLE001 - the served figures still stand
                    log(f"per-stage cost of {name} {kind} not measured: {type(exc).__name__}: {exc}")
        configure_logging("warning")  # off the sink before it closes
    return out


def drop_keys(redis_url: str, prefix: str) -> None:
    """Delete every key of this run (cache answers, rate-limit windows, ...) from the Redis database it used."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i: i + 1000])


# --- main ------------------------------------------------------------------------------------------------------

def start_lds(data: Path, env: dict[str, str], workers: int, log_path: str, log: Callable[[str], None]) -> Server:
    server = Server(str(data), env, workers=workers, log_path=log_path)
    t0 = time.perf_counter()
    server.start()
    log(f"  started lds serve on :{server.port} in {time.perf_counter() - t0:.1f} s")
    return server


def print_targets(report: dict[str, Any], log: Callable[[str], None]) -> None:
    served = report["served"]
    osrm = served["route"].get("osrm-routed", {}).get("p50_ms")
    valhalla = served["isolines"].get("valhalla_service", {}).get("p50_ms")
    rows = []
    for name in LDS_CONFIGS:
        if name not in served["route"]:
            continue
        if name.endswith("cached"):
            rows.append((f"{name} route p50 / osrm-routed route p50", ratio(served["route"][name]["p50_ms"], osrm),
                         TARGETS["cached"]))
            rows.append((f"{name} isolines p50 / osrm-routed route p50 (information)",
                         ratio(served["isolines"][name]["p50_ms"], osrm), None))
        else:
            rows.append((f"{name} route p50 / osrm-routed", ratio(served["route"][name]["p50_ms"], osrm), TARGETS["route"]))
            rows.append((f"{name} isolines p50 / valhalla_service", ratio(served["isolines"][name]["p50_ms"], valhalla),
                         TARGETS["isolines"]))
    report["ratios"] = {}
    log("\nratios (p50, same queries, same run):")
    for label, value, target in rows:
        verdict = "" if target is None or value is None else (" meets" if value <= target else " MISSES") + \
            f" the target <= {target}x"
        report["ratios"][label] = {"ratio": value, "target": target}
        log(f"  {label:<62} {'n/a' if value is None else f'{value}x'}{verdict}")


def print_stages(report: dict[str, Any], log: Callable[[str], None]) -> None:
    stages, served = report["stages"], report["served"]
    cols = [(kind, name) for kind in ("route", "isolines") for name in ("lds embedded", "lds redis")
            if name in stages.get(kind, {})]
    if not cols:
        return
    log("\nper-stage cost of a served lds request, uncached (p50 ms; stages timed in-process on the app's own objects; "
        "WSGI/HTTP = served HTTP p50 - the stages)")
    log(f"  {'':<58}" + "".join(f"{k + ' ' + n.removeprefix('lds '):<19}" for k, n in cols))
    labels = [("parse", "parse (query string + registry parse)"), ("auth", "auth (authorize: token + rate limit)"),
              ("quota", "quota (AccessControl.charge)"), ("cache", "cache (key + store get, a miss)"),
              ("core", "core (the LDS core call)"), ("serialise", "serialise (format + fastjson.dumps)"),
              ("stages_sum", "sum of the stages"), ("http", "served HTTP p50"),
              ("wsgi", "WSGI/HTTP (served - stages)"),
              ("app_rest", "  in the app beyond the stages (app called directly)"),
              ("server", "  gunicorn, sockets, client (served - app)")]
    for key, label in labels:
        cells = []
        for kind, name in cols:
            s, http = stages[kind][name], served[kind][name]["p50_ms"]
            value = {"http": http, "wsgi": difference(http, s["stages_sum"]),
                     "app_rest": difference(s["app"], s["stages_sum"]), "server": difference(http, s["app"])
                     }.get(key, s.get(key))
            cells.append(f"{value if value is not None else '-':<19}")
        log(f"  {label:<58}" + "".join(cells))
    for kind, name in cols:
        s = stages[kind].get(f"{name} cached")
        if s is None or f"{name} cached" not in served[kind]:
            continue
        http = served[kind][f"{name} cached"]["p50_ms"]
        log(f"  cached {kind} ({name.removeprefix('lds ')}): served {http} ms = the app answering a repeat "
            f"{s['app_repeat']} (auth {s['auth']}, quota {s['quota']}, store get of a hit {s['cache_hit']}, ...) "
            f"+ gunicorn, sockets, client {difference(http, s['app_repeat'])}")
    odd = {f"{kind} {name}": s["app_statuses"] for kind in stages for name, s in stages[kind].items()
           if set(s["app_statuses"]) != {"200"}}
    if odd:
        log(f"  WARNING: the in-process app answered other than 200: {odd}")


def difference(a: float | None, b: float | None) -> float | None:
    return round(a - b, 3) if a is not None and b is not None else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extract", default=str(SHARED_DATA / "monaco-2020-07.osm.pbf"), help="OSM extract (.osm.pbf)")
    ap.add_argument("--data", help="lds data dir (default graph_data/<extract name>; built when missing or stale)")
    ap.add_argument("--routes", type=int, default=300, help="route queries (random pairs) per engine")
    ap.add_argument("--isolines", type=int, default=100, help="isoline queries (origins of the pairs) per engine")
    ap.add_argument("--rounds", type=int, default=10, help="blocks the queries are split into, engines taking turns")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers of lds serve (LDS_WORKERS)")
    ap.add_argument("--peer-threads", type=int, default=2, help="osrm-routed -t and valhalla_service concurrency")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/12",
                    help="Redis of the Redis runs (a spare database; keys under a prefix of this run, deleted after)")
    ap.add_argument("--no-redis", action="store_true", help="only the embedded default")
    ap.add_argument("--no-cached", action="store_true", help="skip the cached runs")
    ap.add_argument("--log-level", default="info", help="LDS_LOG_LEVEL of lds serve (info: a JSON line per request)")
    ap.add_argument("--osrm-query", default=OSRM_QUERY, help="query string of the osrm-routed route requests")
    ap.add_argument("--bench-python", default=str(REPO / ".venv-bench" / "bin" / "python"),
                    help="interpreter with the peer wheels (scripts/setup_bench.sh), used to prepare their data")
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument("--keep-logs", action="store_true", help="keep the servers' logs and state (a temporary dir)")
    args = ap.parse_args(argv)
    log = print

    from lds.build.pipeline import extract_name
    from lds.core import LDS
    from lds.settings import Settings

    data = Path(args.data or REPO / "graph_data" / extract_name(args.extract))
    _, built = ensure_data(args.extract, data, False, log)
    core = LDS(Settings.from_env(env={}, data_dir=str(data), cache_enabled=False, auth=False), data)
    pairs = random_pairs(core.graph("car"), max(args.routes, args.isolines), args.seed)
    origins = [a for a, _ in pairs[: args.isolines]]
    pairs = pairs[: args.routes]
    peers = prepare_peers(args.extract, args.bench_python)
    report: dict[str, Any] = {
        "extract": Path(args.extract).name, "routes": len(pairs), "isolines": len(origins), "seed": args.seed,
        "rounds": args.rounds, "lds": {"workers": args.workers, "threads": Settings.from_env(env={}).threads,
                                       "log_level": args.log_level, "data_built_now": built},
        "peers": peers, "cores": os.cpu_count()}
    log(f"extract {report['extract']}: {len(pairs)} route pairs, {len(origins)} isoline origins (car "
        f"{'+'.join(str(r // 60) for r in ISOLINE_RANGES_S)} min), seed {args.seed}, {args.rounds} rounds; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    log("client: one keep-alive HTTP/1.1 connection per engine (a fresh one per block), sequential requests, timed "
        "from the first byte sent to the last byte read")
    log(f"peers: osrm-routed {peers['osrm']['version']} {peers['osrm']['bin']} (CH, -t {args.peer_threads}); "
        f"valhalla_service {peers['valhalla']['version']} {peers['valhalla']['bin']} (concurrency {args.peer_threads})")

    configs = {k: v for k, v in LDS_CONFIGS.items() if not (args.no_redis and v[1]) and not (args.no_cached and v[0])}
    prefix = f"ldsbench-{os.getpid()}:"
    if any(redis for _, redis in configs.values()):
        import redis

        try:
            redis.Redis.from_url(args.redis_url, socket_timeout=2).ping()
        except redis.RedisError as exc:
            log(f"Redis runs skipped: {args.redis_url} unreachable ({exc})")
            configs = {k: v for k, v in configs.items() if not v[1]}

    tmp = Path(tempfile.mkdtemp(prefix="lds-bench-serving-"))
    admin = secrets.token_urlsafe(24)
    base_env = {"LDS_AUTH": "true", "LDS_ADMIN_TOKEN": admin, "LDS_STATE_DIR": str(tmp / "state"),
                "LDS_RATE_LIMIT_PER_S": str(RATE_LIMIT_PER_S), "LDS_LOG_LEVEL": args.log_level}
    envs = {name: {**base_env, "LDS_CACHE_ENABLED": str(cache).lower(),
                   **({} if cache else {"LDS_RESPONSE_MEMO_BYTES": "0"}),
                   **({"LDS_REDIS_URL": args.redis_url, "LDS_REDIS_PREFIX": prefix} if redis_on else {})}
            for name, (cache, redis_on) in configs.items()}
    for i, env in enumerate(envs.values()):
        env["LDS_METRICS_DIR"] = str(tmp / f"metrics-{i}")  # each server empties its own at start
    servers: dict[str, Server] = {}
    token = ""
    try:  # the Redis keys of this run go when it ends, however it ends
        try:
            log(f"lds serve: {args.workers} gthread workers x {report['lds']['threads']} threads, auth on (an API token, "
                f"rate limit {RATE_LIMIT_PER_S:,}/s checked), log level {args.log_level}; logs in {tmp}"
                + ("" if args.keep_logs else " (removed after a run that ends well)"))
            for name in configs:
                servers[name] = start_lds(data, envs[name], args.workers, str(tmp / "lds.log"), log)
                if not token:
                    status, body = http_json(
                        "POST", f"{servers[name].base}/v3/tokens", {"allowed_apis": ["lds"],
                                                                    "quotas": dict.fromkeys(("geocoding", "isolines",
                                                                                             "routing"), BIG_QUOTA)},
                        headers={"Authorization": f"Bearer {admin}"})
                    if status != 201:
                        raise RuntimeError(f"creating the API token failed: {status} {body}")
                    token = body["token"]
            osrm_port, valhalla_port = free_port(), free_port()
            probe = pairs[0][0]
            servers["osrm-routed"] = PeerServer(
                "osrm-routed", [peers["osrm"]["bin"], "--ip", "127.0.0.1", "--port", str(osrm_port), "-t",
                                str(args.peer_threads), "-a", "CH", peers["osrm"]["base"]], osrm_port,
                get(f"/nearest/v1/driving/{probe[0]:.6f},{probe[1]:.6f}", osrm_port), str(tmp / "osrm-routed.log"))
            servers["valhalla_service"] = PeerServer(
                "valhalla_service", [peers["valhalla"]["bin"], str(valhalla_service_config(peers["valhalla"]["config"],
                                                                                           valhalla_port, tmp)),
                                     str(args.peer_threads)], valhalla_port, get("/status", valhalla_port),
                str(tmp / "valhalla_service.log"))
            for name in ("osrm-routed", "valhalla_service"):
                servers[name].start()
                log(f"  started {name} on :{servers[name].port}")

            auth = {"Authorization": f"Bearer {token}"}
            route_engines = [Engine(name, servers[name].port, [get(lds_route_path(a, b), servers[name].port, auth)
                                                               for a, b in pairs], CHECKS["lds route"], cache)
                             for name, (cache, _) in configs.items()]
            route_engines.append(Engine("osrm-routed", osrm_port, [
                get(f"/route/v1/driving/{a[0]:.6f},{a[1]:.6f};{b[0]:.6f},{b[1]:.6f}?{args.osrm_query}", osrm_port)
                for a, b in pairs], CHECKS["osrm-routed"], False))
            iso_engines = [Engine(name, servers[name].port, [get(lds_isolines_path(o), servers[name].port, auth)
                                                             for o in origins], CHECKS["lds isolines"], cache)
                           for name, (cache, _) in configs.items()]
            iso_engines.append(Engine("valhalla_service", valhalla_port, [
                post_json("/isochrone", valhalla_port, {"locations": [{"lon": o[0], "lat": o[1]}], "costing": "auto",
                                                        "contours": [{"time": r / 60} for r in ISOLINE_RANGES_S],
                                                        "polygons": True}) for o in origins],
                CHECKS["valhalla_service"], False))
            report["served"] = {}
            for kind, engines, n in (("route", route_engines, len(pairs)), ("isolines", iso_engines, len(origins))):
                log(f"\nserved {kind} (one keep-alive connection per engine, sequential):")
                measure(engines, n, args.rounds, log)
                report["served"][kind] = {e.name: e.summary() for e in engines}
            report["load_average_after"] = round(os.getloadavg()[0], 1)
            log(f"load average {report['load_average_after']} on {os.cpu_count()} cores (other work slows every engine)")
        finally:
            for server in servers.values():
                server.stop()

        print_targets(report, log)
        report["stages"] = measure_stages(core, data, envs, token, {
            "route": [lds_route_path(a, b) for a, b in pairs], "isolines": [lds_isolines_path(o) for o in origins]},
            tmp / "in-process.log", log)
    finally:
        if any(redis for _, redis in configs.values()):
            drop_keys(args.redis_url, prefix)
    print_stages(report, log)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if not args.keep_logs:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
