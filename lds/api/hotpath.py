"""Repeated GETs of the answer endpoints, answered below Flask from a per-process memo of whole responses.

A cache hit that goes through the whole Flask stack spends most of its Python time outside the cache:
request context, URL routing, query parsing, hooks, decoding the cached JSON and encoding it again.
This WSGI middleware is the in-process equivalent of a reverse proxy's micro-cache: it keeps the exact
bytes of a successful single-answer response, keyed by path and query string (in the client's order,
without ``access_token``), for ``response_memo_ttl_s`` within a budget of ``response_memo_bytes``, and
replays them with the same headers. The memo is per process, so the loaded data version is implicit.

A replayed answer is still a served request: the same token check, rate limit and quota charge as the
Flask hook (``lds.api.access.authorize``), the same request metrics, cache-hit count and request log
(``lds.api.metrics.record_request``), ``X-LDS-Cache: hit`` and an ``X-Request-ID``. Anything that is not
a repeat of such a GET (POST, other paths, a first request, errors, batches) goes through Flask unchanged.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from lds import fastjson, metrics
from lds.api.access import authorize, pick_token
from lds.api.metrics import record_request
from lds.errors import LdsError, error_body

# path -> (cache endpoint name as lds.cache counts it, quota service the blueprint charges)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "/v3/lds/routing": ("route", "routing"),
    "/v3/lds/isolines": ("isolines", "isolines"),
    "/v3/lds/geocoding/geocode": ("geocode", "geocoding"),
    "/v3/lds/geocoding/reverse": ("reverse", "geocoding"),
}
_REPLAYED_HEADERS_SKIP = {"x-lds-cache", "x-lds-cache-hits", "x-request-id"}


class ResponseMemo:
    """Byte-bounded, thread-safe LRU of response bodies with a per-entry expiry."""

    def __init__(self, max_bytes: int, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.bytes = 0
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, bytes, list[tuple[str, str]]]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> tuple[bytes, list[tuple[str, str]]] | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[0] < self._clock():
                self._drop(key)
                return None
            self._data.move_to_end(key)
            return entry[1], entry[2]

    def put(self, key: str, body: bytes, headers: list[tuple[str, str]]) -> None:
        size = len(body) + len(key)
        if size > self.max_bytes // 8:  # a few huge answers must not flush everything else
            return
        with self._lock:
            if key in self._data:
                self._drop(key)
            self._data[key] = (self._clock() + self.ttl_s, body, headers)
            self.bytes += size
            while self.bytes > self.max_bytes:
                self._drop(next(iter(self._data)))

    def _drop(self, key: str) -> None:
        _, body, _ = self._data.pop(key)
        self.bytes -= len(body) + len(key)


def memo_key(path: str, query: str) -> str:
    """Path plus the query as sent, minus ``access_token`` (the answer does not depend on who asks)."""
    if "access_token" in query:
        query = "&".join(p for p in query.split("&") if p.partition("=")[0] != "access_token")
    return f"{path}?{query}"


def _query_token(query: str) -> str | None:
    """The first ``access_token`` of a query string (as werkzeug's ``args.get`` reads it)."""
    if "access_token" in query:
        for name, token in parse_qsl(query, keep_blank_values=True):
            if name == "access_token":
                return token
    return None


class HotPath:
    """WSGI middleware in front of the Flask app (``app.wsgi_app = HotPath(app.wsgi_app, ...)``)."""

    def __init__(self, wsgi_app: Callable, memo: ResponseMemo, access: Any = None):
        self.wsgi_app = wsgi_app
        self.memo = memo
        self.access = access  # lds.auth.access.AccessControl, or None when auth is disabled

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        endpoint = ENDPOINTS.get(path)
        if endpoint is None or environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        t0 = time.perf_counter()
        query = environ.get("QUERY_STRING", "")
        key = memo_key(path, query)
        found = self.memo.get(key)
        if found is None:
            return self._through_flask(key, environ, start_response)
        body, headers = found
        status = "200 OK"
        if self.access is not None:
            try:
                token = pick_token(environ.get("HTTP_AUTHORIZATION"), _query_token(query))
                principal = authorize(self.access, path, token,
                                      environ.get("HTTP_REFERER") or environ.get("HTTP_ORIGIN"))
                self.access.charge(principal, endpoint[1])
            except LdsError as exc:  # refused: the one error envelope, as the Flask handler words it
                body = fastjson.dumps(error_body(exc.message, exc.status)) + b"\n"
                status = f"{exc.status} {HTTPStatus(exc.status).phrase}"
                headers = [("Content-Type", "application/json"), *exc.headers.items()]
            except Exception:  # noqa: BLE001 - e.g. the state store is down: Flask answers and words it
                return self.wsgi_app(environ, start_response)
        cache = None
        if status == "200 OK":
            cache = "hit"
            metrics.count_cache(endpoint[0], "hit", 1)
        request_id = record_request(path, "GET", path, int(status[:3]), time.perf_counter() - t0, cache,
                                    environ.get("HTTP_X_REQUEST_ID"), len(body), environ.get("REMOTE_ADDR"))
        out = [*headers, ("Content-Length", str(len(body))), ("X-Request-ID", request_id)]
        if cache is not None:
            out.append(("X-LDS-Cache", cache))
        start_response(status, out)
        return [body]

    def _through_flask(self, key: str, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        """Let Flask answer; keep the response when it is one successful answer (hit or miss)."""
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        headers = seen.get("headers") or []
        names = {name.lower() for name, _ in headers}
        if not seen.get("status", "").startswith("200 ") or "x-lds-cache" not in names or "x-lds-cache-hits" in names:
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        kept = [(n, v) for n, v in headers if n.lower() not in _REPLAYED_HEADERS_SKIP and n.lower() != "content-length"]
        self.memo.put(key, body, kept)
        return [body]


def install_hotpath(app: Any, settings: Any) -> None:
    """Put the hot path in front of ``app`` when answers are cached and the memo has a budget."""
    if not settings.cache_enabled or settings.response_memo_bytes <= 0:
        return
    memo = ResponseMemo(settings.response_memo_bytes, settings.response_memo_ttl_s)
    app.wsgi_app = HotPath(app.wsgi_app, memo, app.extensions.get("lds_access"))
    app.extensions["lds_response_memo"] = memo
