"""Shared pieces of scripts/load_test.py and scripts/fault_test.py (not a benchmark by itself).

- :class:`Server`: `lds serve` (gunicorn) on a free loopback port, started and stopped by the script.
- :class:`PrivateRedis`: a throwaway redis-server on a free loopback port (the shared one is never touched).
- :func:`run_load`: a bounded HTTP/1.1 keep-alive load from asyncio (C connections, a fixed number of
  requests or seconds), returning latencies and failures. Traffic goes to 127.0.0.1 only.
- :func:`run_wrk`: the same load from wrk (a C client, far cheaper per request) when it is installed.
- :func:`sample_requests`: a mixed set of geocode/reverse/route/isoline URLs drawn from the data itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
LDS_BIN = str(Path(sys.executable).with_name("lds"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    def __init__(self, port: int | None = None, appendonly: bool = False, workdir: str | None = None):
        self.port = port or free_port()
        self.appendonly = appendonly
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "yes" if self.appendonly else "no"]
        if self.workdir:
            args += ["--dir", self.workdir]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        for _ in range(200):
            try:
                redis.Redis(port=self.port, socket_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class Server:
    """`lds serve --data DIR` on a free loopback port with the given LDS_* environment."""

    def __init__(self, data_dir: str, env: dict[str, str], workers: int = 2, log_path: str | None = None,
                 port: int | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.workers = workers
        self.env = env
        self.log_path = log_path or os.devnull
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update({"LDS_AUTH": "disabled", "LDS_WORKERS": str(self.workers), **self.env})
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([LDS_BIN, "serve", "--data", self.data_dir, "--port", str(self.port)],
                                         env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lds serve exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("lds serve did not become healthy")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's processes (master and workers)."""
        return group_cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(60)
        self.proc = None


def group_cpu_seconds(pgid: int) -> float:
    """Sum of utime + stime over the live processes of process group ``pgid`` (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat, after the command name
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def start_worker(data_dir: str, env: dict[str, str], name: str, log_path: str | None = None) -> subprocess.Popen:
    """`lds worker --data DIR` (its own process group, so a SIGKILL takes the whole worker)."""
    penv = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    penv.update({"LDS_AUTH": "disabled", **env})
    with open(log_path or os.devnull, "ab") as log:
        return subprocess.Popen([LDS_BIN, "worker", "--data", data_dir, "--name", name], env=penv, stdout=log,
                                stderr=log, start_new_session=True)


# --- load ---------------------------------------------------------------------------------------------
@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # connection errors, 5xx
    cache: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, list[float]] = field(default_factory=dict)
    events: list[tuple[float, int, str]] = field(default_factory=list)  # (time, status or 0, cache header)
    versions: list[tuple[float, int, str]] = field(default_factory=list)  # (time, connection no., X-LDS-Data-Version)
    cpu: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def timeline(self, step: float = 1.0) -> list[dict]:
        """Per-``step`` seconds: requests, failures, and cache hits/misses (to see an outage and a recovery)."""
        if not self.events:
            return []
        start = self.events[0][0]
        bins: dict[int, dict] = {}
        for t, status, cache in self.events:
            b = bins.setdefault(int((t - start) / step), {"n": 0, "fail": 0, "hit": 0, "miss": 0})
            b["n"] += 1
            b["fail"] += status == 0 or status >= 500
            if cache in ("hit", "miss"):
                b[cache] += 1
        return [{"t": round(k * step, 1), **v} for k, v in sorted(bins.items())]

    @property
    def count(self) -> int:
        return len(self.latencies)

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else float("nan")

        return {"endpoints": {e: percentiles(v) for e, v in sorted(self.by_endpoint.items())},"requests": self.count, "seconds": round(self.seconds, 2),
                "req_per_s": round(self.count / self.seconds, 1) if self.seconds else 0.0,
                "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                "errors": len(self.failures), "statuses": dict(sorted(self.statuses.items())), "cache": self.cache,
                **self.cpu}


def percentiles(values: list[float]) -> dict:
    lat = sorted(values)
    if not lat:
        return {}

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2)

    return {"n": len(lat), "p50_ms": pct(0.5), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


_CONNECTIONS = itertools.count()  # a number per TCP connection opened, for LoadResult.versions


async def _one_connection(port: int, paths: list[str], next_index, result: LoadResult, stop_at: float,
                          extra: str = "") -> None:
    reader = writer = None
    conn = -1
    while True:
        i = next_index()
        if i is None or time.perf_counter() > stop_at:
            break
        path = paths[i % len(paths)]
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
        t0 = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                conn = next(_CONNECTIONS)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            await reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.failures.append(f"{path}: {type(exc).__name__}: {exc}")
            result.events.append((time.perf_counter(), 0, ""))
            if writer is not None:
                writer.close()
            reader = writer = None
            result.latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)
            continue
        elapsed = time.perf_counter() - t0
        result.latencies.append(elapsed)
        result.by_endpoint.setdefault(path.split("?", 1)[0], []).append(elapsed)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status >= 500:
            result.failures.append(f"{path}: HTTP {status}")
        cache = headers.get("x-lds-cache")
        result.events.append((time.perf_counter(), status, cache or ""))
        if "x-lds-data-version" in headers:
            result.versions.append((time.perf_counter(), conn, headers["x-lds-data-version"]))
        if cache:
            result.cache[cache] = result.cache.get(cache, 0) + 1
    if writer is not None:
        writer.close()


def run_load(port: int, paths: list[str], *, connections: int, total: int | None = None,
             seconds: float | None = None, server: Server | None = None,
             headers: dict[str, str] | None = None) -> LoadResult:
    """Send ``total`` requests (cycling over ``paths``) or keep going for ``seconds``, over ``connections``.

    With ``server``, also measures the CPU time the server and this client spent per request, which
    tells what the machine can do when nothing else runs on it (other load only slows the wall clock).
    """
    result = LoadResult()
    cpu0, server0 = time.process_time(), server.cpu_seconds() if server is not None else 0.0
    counter = iter(range(total if total is not None else 10**12))

    def next_index():
        return next(counter, None)

    async def main() -> None:
        t0 = time.perf_counter()
        stop_at = t0 + (seconds if seconds is not None else 3600)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        await asyncio.gather(*(_one_connection(port, paths, next_index, result, stop_at, extra) for _ in range(connections)))
        result.seconds = time.perf_counter() - t0

    asyncio.run(main())
    if server is not None and result.count:
        result.cpu = {"server_cpu_us_per_req": round((server.cpu_seconds() - server0) / result.count * 1e6, 1),
                      "client_cpu_us_per_req": round((time.process_time() - cpu0) / result.count * 1e6, 1)}
    return result


# --- wrk: the C load generator, when installed ------------------------------------------------------
_WRK_SCRIPT = """
local paths = {%(paths)s}
local hdrs = {%(headers)s}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  idx = 0; statuses = {}; cache = {}
end
function request()
  idx = idx %% #paths + 1
  return wrk.format("GET", paths[idx], hdrs)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local c = headers["X-LDS-Cache"] or headers["x-lds-cache"]  -- HAProxy sends header names in lower case
  if c then cache[c] = (cache[c] or 0) + 1 end
end
function done(summary, latency, requests)
  local st, ca = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do st[tostring(k)] = (st[tostring(k)] or 0) + v end
    for k, v in pairs(t:get("cache")) do ca[k] = (ca[k] or 0) + v end
  end
  local function obj(t)
    local parts = {}
    for k, v in pairs(t) do table.insert(parts, string.format("%%q:%%d", k, v)) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p95_us":%%d,"p99_us":%%d,"socket_errors":%%d,"statuses":%%s,"cache":%%s}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, obj(st), obj(ca)))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(port: int, paths: list[str], *, connections: int, seconds: float, server: Server | None = None,
            headers: dict[str, str] | None = None, threads: int = 1) -> dict:
    """The same cycling GET load as :func:`run_load`, generated by wrk; returns the same summary keys.

    wrk costs the machine a fraction of the Python client's CPU per request, so on a small machine the
    server gets the cores the client would otherwise take.
    """
    import resource
    import tempfile

    def lua(text: str) -> str:
        return json.dumps(text)  # a JSON string is a valid Lua string literal for these characters

    assert all(p.isascii() for p in paths), "paths must be URL-encoded"
    script = _WRK_SCRIPT % {"paths": ",".join(lua(p) for p in paths),
                            "headers": ",".join(f"[{lua(k)}]={lua(v)}" for k, v in (headers or {}).items())}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    usage0, server0 = resource.getrusage(resource.RUSAGE_CHILDREN), server.cpu_seconds() if server else 0.0
    try:
        run = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                              "-s", f.name, f"http://127.0.0.1:{port}"], check=False, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr.strip() or run.stdout.strip()}")
        out = run.stdout
    finally:
        os.unlink(f.name)
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(ln for ln in out.splitlines() if ln.startswith("WRKJSON "))
    raw = json.loads(line.split(" ", 1)[1])
    n, secs = raw["requests"], raw["duration_us"] / 1e6
    statuses = {int(k): v for k, v in sorted(raw["statuses"].items(), key=lambda kv: int(kv[0]))}
    summary = {"client": "wrk", "requests": n, "seconds": round(secs, 2), "req_per_s": round(n / secs, 1) if secs else 0.0,
               "p50_ms": round(raw["p50_us"] / 1000, 2), "p95_ms": round(raw["p95_us"] / 1000, 2),
               "p99_ms": round(raw["p99_us"] / 1000, 2),
               "errors": raw["socket_errors"] + sum(v for k, v in statuses.items() if k >= 500),
               "statuses": statuses, "cache": raw["cache"]}
    if server is not None and n:
        client = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
        summary["server_cpu_us_per_req"] = round((server.cpu_seconds() - server0) / n * 1e6, 1)
        summary["client_cpu_us_per_req"] = round(client / n * 1e6, 1)
    return summary


# --- requests from the data -------------------------------------------------------------------------
def sample_requests(data_dir: str, n_each: int, seed: int = 7) -> dict[str, list[str]]:
    """``n_each`` geocode, reverse, route and isoline URLs inside the extract, drawn with a fixed seed.

    Reverse points and route/isoline points are random road points of the car graph (so they snap);
    geocode queries are the addresses that reverse geocoding finds at those points.
    """
    from lds.core import LDS
    from lds.settings import Settings

    core = LDS(Settings.from_env(env={}, data_dir=data_dir, auth=False, cache_enabled=False))
    rng = random.Random(seed)
    points = road_points(core, rng, 4 * n_each)
    out: dict[str, list[str]] = {"reverse": [], "geocode": [], "route": [], "isolines": []}
    for lon, lat in points[:n_each]:
        out["reverse"].append("/v3/lds/geocoding/reverse?" + urlencode({"lat": f"{lat:.6f}", "lon": f"{lon:.6f}"}))
    for lon, lat in points[: 3 * n_each]:
        if len(out["geocode"]) >= n_each:
            break
        from lds.errors import LdsError

        try:
            found = core.reverse(lat, lon)
        except LdsError:
            found = None  # no address near this point: skip it
        text = found[0].get("formattedAddress") if found else None
        if text:
            out["geocode"].append("/v3/lds/geocoding/geocode?" + urlencode({"address": text}))
    for i in range(n_each):
        (a, b) = points[2 * i], points[2 * i + 1]
        out["route"].append("/v3/lds/routing?" + urlencode(
            {"origin": f"{a[0]:.6f},{a[1]:.6f}", "destination": f"{b[0]:.6f},{b[1]:.6f}", "mode": "car"}))
        out["isolines"].append("/v3/lds/isolines?" + urlencode(
            {"origin": f"{a[0]:.6f},{a[1]:.6f}", "range": "300", "range_type": "time", "mode": "walk"}))
    return out


def road_points(core, rng: random.Random, n: int) -> list[tuple[float, float]]:
    """Random nodes of the largest strongly connected car component (lon, lat), so routes exist."""
    graph = core.graphs["car"]
    nodes = [i for i, c in enumerate(graph.node_scc) if c == graph.largest_scc]
    picks = [nodes[rng.randrange(len(nodes))] for _ in range(n)]
    return [(float(graph.node_lon[i]), float(graph.node_lat[i])) for i in picks]


def sample_addresses(data_dir: str, n: int, seed: int = 11) -> list[str]:
    """Up to ``n`` distinct address strings of the extract (found by reverse geocoding random road points)."""
    from lds.core import LDS
    from lds.errors import LdsError
    from lds.settings import Settings

    core = LDS(Settings.from_env(env={}, data_dir=data_dir, auth=False, cache_enabled=False))
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    for lon, lat in road_points(core, rng, 20 * n):
        try:
            found = core.reverse(lat, lon)
        except LdsError:
            continue
        if found and found[0].get("formattedAddress"):
            seen.setdefault(found[0]["formattedAddress"], None)
        if len(seen) >= n:
            break
    return list(seen)


def http_json(method: str, url: str, body=None, timeout: float = 120, headers: dict[str, str] | None = None):
    """(status, parsed JSON) of one request, with the standard library only."""
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def dump(title: str, value) -> None:
    print(f"{title}: {json.dumps(value)}", flush=True)


def hello_app():
    """A bare Flask app answering a small JSON body: the baseline of what gunicorn + Flask cost per request."""
    from flask import Flask, jsonify

    app = Flask("hello")

    @app.get("/hello")
    def hello():
        return jsonify([{"error": None, "value": [{"hello": "world"}]}])

    return app


class BaselineServer(Server):
    """gunicorn with the same worker class/count/threads as `lds serve`, serving :func:`hello_app`."""

    def start(self, timeout: float = 60) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
        args = [sys.executable, "-m", "gunicorn", "--chdir", str(Path(__file__).parent), "-b", f"127.0.0.1:{self.port}",
                "-k", "gthread", "--threads", self.env.get("LDS_THREADS", "4"), "--keep-alive", "5",
                "-w", str(self.workers or min(2 * (os.cpu_count() or 1) + 1, 8)), "loadgen:hello_app()"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("baseline gunicorn did not start")
