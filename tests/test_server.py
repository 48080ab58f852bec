"""The real thing: `lds serve` under gunicorn on a free loopback port, queried over HTTP."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data_dir, state_dir, **env_overrides):
    """Start `lds serve` on a free port; returns (process, base URL) once /health answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    env.update({"LDS_AUTH": "disabled", "LDS_STATE_DIR": str(state_dir), "LDS_WORKERS": "2", **env_overrides})
    lds = Path(sys.executable).with_name("lds")
    proc = subprocess.Popen([str(lds), "serve", "--data", str(data_dir), "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read().decode()) from None
            time.sleep(0.2)
    return proc, base


def stop(proc) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture()
def server(monaco_dir, tmp_path):
    proc, base = serve(monaco_dir, tmp_path)
    yield base
    stop(proc)


def test_gunicorn_serves_route_and_errors(server):
    r = requests.get(server + "/v3/lds/routing", params={"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"})
    assert r.status_code == 200, r.text
    value = r.json()[0]["value"][0]
    assert value["distance"] > 500 and value["geom"]["type"] == "LineString"
    bad = requests.get(server + "/v3/lds/routing", params={"origin": "x", "destination": "7.4,43.7"})
    assert bad.status_code == 400 and bad.json()["status"] == 400


# --- what gunicorn itself sees: chunked bodies, long request lines, its own error answers -----------------
BODY_LIMIT = 65536
ORIGIN = "https://app.example.com"
ROUTE = b'{"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"}'


@pytest.fixture(scope="module")
def strict_server(monaco_dir, tmp_path_factory):
    proc, base = serve(monaco_dir, tmp_path_factory.mktemp("strict"), LDS_WORKERS="1",
                       LDS_MAX_BODY_BYTES=str(BODY_LIMIT), LDS_JOB_MAX_BODY_BYTES=str(BODY_LIMIT),
                       LDS_CORS_ORIGINS=ORIGIN, LDS_LOG_LEVEL="warning")
    yield base
    stop(proc)


def raw(base: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is on a new connection; the status, headers and body of the answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return int(status_line.split()[1]), headers, body


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, body = out + body[:n], body[n + 2:]
    return out


def chunked(method: str, path: str, body: bytes, pieces: int = 3, content_type: str = "application/json") -> bytes:
    step = max(1, len(body) // pieces)
    parts = [body[i:i + step] for i in range(0, len(body), step)]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: {content_type}\r\n"
            f"Connection: close\r\n\r\n").encode() + encoded


def envelope(status: int, headers: dict[str, str], body: bytes, expected: int) -> str:
    assert status == expected, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    payload = json.loads(body)
    assert set(payload) == {"error", "status"} and payload["status"] == expected
    return payload["error"]


def test_chunked_bodies_are_read(strict_server):
    status, _, body = raw(strict_server, chunked("POST", "/v3/lds/routing", ROUTE))
    assert status == 200, body
    assert json.loads(body)[0]["value"][0]["distance"] > 500
    batch = json.dumps({"addresses": ["Boulevard des Moulins 12", "Rue Grimaldi 5"], "limit": 1}).encode()
    status, _, body = raw(strict_server, chunked("POST", "/v3/lds/geocoding/batch", batch, pieces=7))
    assert status == 200 and len(json.loads(body)) == 2, body


def test_chunked_body_over_the_limit_is_413(strict_server):
    big = b'{"address": "' + b"x" * (2 * BODY_LIMIT) + b'"}'
    for path in ("/v3/lds/geocoding/geocode", "/v3/lds/geocoding/batch"):
        status, headers, body = raw(strict_server, chunked("POST", path, big, pieces=40))
        assert "65536" in envelope(status, headers, body, 413)


def test_hostile_chunked_bodies_get_the_envelope(strict_server):
    cases = [(b"[" * 2000 + b"]" * 2000, 400), (b'{"address": "\\udcff"}', 400), (b'{"address": "\xff"}', 400)]
    for body, expected in cases:
        status, headers, answer = raw(strict_server, chunked("POST", "/v3/lds/geocoding/geocode", body))
        envelope(status, headers, answer, expected)
    status, headers, answer = raw(strict_server, chunked("POST", "/v3/lds/routing", ROUTE, content_type="text/plain"))
    envelope(status, headers, answer, 415)


def test_carto_length_get_requests_are_answered(strict_server):
    url = "/v3/lds/routing?origin=7.4197,43.7311&destination=7.4270,43.7400&client=" + "x" * 7600
    assert len(f"GET {url} HTTP/1.1") > 7600
    r = requests.get(strict_server + url, timeout=30)
    assert r.status_code == 200, r.text[:300]


def test_gunicorn_own_errors_are_the_envelope(strict_server):
    too_long = f"GET /v3/lds/routing?x={'y' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    assert "URI Too Long" in envelope(*raw(strict_server, too_long), 414)
    huge_header = f"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {'z' * 9000}\r\n\r\n".encode()
    envelope(*raw(strict_server, huge_header), 431)
    envelope(*raw(strict_server, b"NOT A REQUEST LINE AT ALL\r\n\r\n"), 400)
    bad_chunks = b"POST /v3/lds/routing HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    envelope(*raw(strict_server, bad_chunks), 400)
    assert requests.get(strict_server + "/health", timeout=5).status_code == 200  # and the worker still serves


def test_cors_under_gunicorn(strict_server):
    preflight = requests.options(strict_server + "/v3/lds/routing", timeout=5, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    for _ in range(2):  # the second one is replayed below Flask (lds.api.hotpath) when the memo is on
        r = requests.get(strict_server + "/v3/lds/routing", params={"origin": "7.4197,43.7311",
                         "destination": "7.4270,43.7400"}, headers={"Origin": ORIGIN}, timeout=30)
        assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Origin" in r.headers["Vary"]
    other = requests.get(strict_server + "/v3/lds/routing", params={"origin": "x"}, timeout=5,
                         headers={"Origin": "https://evil.example"})
    assert other.status_code == 400 and "Access-Control-Allow-Origin" not in other.headers
