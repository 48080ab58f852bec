"""A small CARTO-like upstream for the proxy tests: a real HTTP server on 127.0.0.1 in a thread.

It answers the LDS endpoints in CARTO's envelope (``"provider": "upstream"`` in every value, so a test can
tell its answers from local ones), echoes every other ``/v3`` request as JSON, and has ``/v3/test/...`` routes
for the proxy's edge cases (streams, redirects, hangs, odd headers). Every request it received is recorded.
Also here: a server that answers garbage instead of HTTP, and a port nobody listens on.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

NOWHERE = "xqzv kjwp"  # an address the upstream does not find either
STREAM_LINES = 2000


@dataclass
class Received:
    method: str
    path: str
    query: str  # raw, as sent
    headers: dict[str, str]  # names lower-cased
    body: bytes


def _json(value, status: int = 200, **headers) -> Response:
    return Response(json.dumps(value), status=status, content_type="application/json", headers=headers)


def _lonlat(text: str) -> list[float]:
    lon, lat = (float(x) for x in text.split(","))
    return [lon, lat]


class CartoUpstream:
    """The WSGI app of the fake upstream, with what it received."""

    def __init__(self):
        self.received: list[Received] = []
        self.release = threading.Event()  # frees requests hanging on /v3/test/hang
        self.base_url = ""

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.received.append(
            Received(
                request.method,
                request.path,
                environ.get("QUERY_STRING", ""),
                {k.lower(): v for k, v in request.headers.items()},
                request.get_data(),
            )
        )
        return self.answer(request)(environ, start_response)

    def answer(self, request: Request) -> Response:
        path, args = request.path, request.args
        if path.startswith("/status/"):  # an upstream base URL of /status/<code>: every answer is that error
            status = int(path.split("/")[2])
            return _json({"error": f"upstream says {status}", "status": status}, status, **{"Retry-After": "7"})
        if path == "/v3/lds/geocoding/geocode":
            address = args.get("address", "")
            if address == NOWHERE:
                return _json([{"error": "No results found", "value": []}])
            return _json([{"error": None, "value": [self._candidate(address)]}])
        if path == "/v3/lds/geocoding/reverse":
            lat, lon = float(args["lat"]), float(args["lon"])
            return _json(
                [
                    {
                        "error": None,
                        "value": [
                            {
                                "latitude": lat,
                                "longitude": lon,
                                "formattedAddress": f"upstream {lat},{lon}",
                                "provider": "upstream",
                            }
                        ],
                    }
                ]
            )
        if path == "/v3/lds/routing":
            points = [_lonlat(args["origin"])]
            points += [
                [float(p.split(",")[1]), float(p.split(",")[0])] for p in args.get("waypoints", "").split(";") if p
            ]
            points.append(_lonlat(args["destination"]))
            return _json(
                [
                    {
                        "error": None,
                        "value": [
                            {
                                "distance": 1234.5,
                                "duration": 99.5,
                                "mode": args.get("mode", "car"),
                                "geom": {"type": "LineString", "coordinates": points},
                                "provider": "upstream",
                            }
                        ],
                    }
                ]
            )
        if path == "/v3/lds/isolines":
            lon, lat = _lonlat(args["origin"])
            ring = [[lon, lat], [lon + 0.01, lat], [lon, lat + 0.01], [lon, lat]]
            return _json(
                [
                    {
                        "error": None,
                        "value": [
                            {
                                "range": float(r),
                                "range_type": args["range_type"],
                                "mode": args.get("mode", "car"),
                                "provider": "upstream",
                                "geom": {"type": "MultiPolygon", "coordinates": [[ring]]},
                            }
                            for r in args["range"].split(",")
                        ],
                    }
                ]
            )
        if path == "/v3/lds/geocoding/batch":
            body = json.loads(request.get_data())
            entries = []
            for item in body["addresses"]:
                address = item if isinstance(item, str) else item["address"]
                entries.append(
                    {"error": "No results found", "value": []}
                    if address == NOWHERE
                    else {"error": None, "value": [self._candidate(address)]}
                )
            return _json(entries)
        if path == "/v3/test/stream":

            def lines() -> Iterator[bytes]:
                yield b"id,name\n"
                for i in range(STREAM_LINES):
                    yield f"{i},row {i}\n".encode()

            return Response(
                lines(),
                content_type="text/csv; charset=utf-8",
                headers={
                    "Cache-Control": "max-age=300, public",
                    "ETag": '"v1"',
                    "Vary": "Accept",
                    "Last-Modified": "Sun, 06 Dec 2026 10:00:00 GMT",
                },
            )
        if path == "/v3/test/gzip":
            return Response(
                gzip.compress(b'{"zipped": true}'),
                content_type="application/json",
                headers={"Content-Encoding": "gzip"},
            )
        if path == "/v3/test/hang" or path.startswith("/hang/"):  # a base URL of /hang: every request hangs
            self.release.wait(30)
            return _json({"late": True})
        if path == "/v3/test/big":
            return Response(b"x" * int(args["n"]), content_type="application/octet-stream")
        if path == "/v3/test/bigstream":
            return Response(
                (b"y" * 1000 for _ in range(int(args["n"]) // 1000)), content_type="application/octet-stream"
            )
        if path == "/v3/test/redirect":
            return Response(
                status=int(args.get("status", 302)), headers={"Location": args["to"].replace("UPSTREAM", self.base_url)}
            )
        if path == "/v3/test/odd-headers":
            response = _json(
                {"odd": True},
                **{
                    "Set-Cookie": "upstream=1",
                    "Access-Control-Allow-Origin": "*",
                    "X-Upstream": "kept",
                    "Keep-Alive": "timeout=5",
                    "X-Secret": "hop",
                    "Connection": "X-Secret",
                },
            )
            return response
        if path == "/v3/test/nocontenttype":
            response = Response(b"raw", headers={"X-Kind": "raw"})
            del response.headers["Content-Type"]
            return response
        if path.startswith("/v3/test/status/"):
            status = int(path.rsplit("/", 1)[1])
            return _json({"error": f"upstream says {status}", "status": status}, status, **{"Retry-After": "7"})
        if path.startswith("/v3/sql/") and path.endswith("/query"):
            q = args.get("q") or (
                json.loads(request.get_data() or b"{}").get("q") if request.method == "POST" else None
            )
            return _json(
                {"rows": [{"q": q}], "schema": [{"name": "q", "type": "string"}], "meta": {}},
                **{"Cache-Control": "max-age=60"},
            )
        return _json({"echo": True, "method": request.method, "path": path}, 201 if request.method == "POST" else 200)

    @staticmethod
    def _candidate(address: str) -> dict:
        return {
            "latitude": 40.4168,
            "longitude": -3.7038,
            "formattedAddress": f"upstream {address}",
            "matchType": "address",
            "provider": "upstream",
        }

    def last(self) -> Received:
        return self.received[-1]


@contextmanager
def carto_upstream() -> Iterator[CartoUpstream]:
    """The fake upstream serving on a free port of 127.0.0.1 (``.base_url``) for the block."""
    app = CartoUpstream()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        app.release.set()
        server.shutdown()
        server.server_close()


@contextmanager
def garbage_server() -> Iterator[str]:
    """A TCP server that reads a request and answers bytes that are not HTTP; yields its base URL."""
    sock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"this is not HTTP at all\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        sock.close()


@contextmanager
def keepalive_server() -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server that keeps connections open (werkzeug's closes each one); yields its base URL and the
    client port of every request it answered."""
    ports: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between them

        def do_GET(self):
            ports.append(self.client_address[1])
            body = b'{"kept": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ports
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A base URL on a port nothing listens on (connections are refused)."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
