"""The fast path: GETs of the answer endpoints answered below Flask, with the same steps and the same bytes.

The Flask stack (request context, URL routing, hooks, response object) costs more per request than a
route itself. This WSGI middleware answers ``GET`` on every path the service registry (:mod:`lds.services`)
declares with GET, from a table built once, taking the steps of the Flask hooks and view in their order
(:meth:`FastPath.respond`): query string checked (``lds.inputs``), token authorised, rate-limited and given
its concurrency slot (``lds.api.access.authorize``, ``lds.admission``), parameters read by the service's
sanitisers, a heavy slot when the request is heavy, quota charged (refunded on a 5xx), the cached core
called and formatted, serialised with ``lds.fastjson``; then the request is counted and logged
(``lds.api.metrics.record_request``) with ``X-LDS-Cache``, ``X-Request-ID`` and the CORS headers. Any
``LdsError`` is the one error envelope, as the Flask handler words it. Status, body bytes and the headers
that matter are those Flask gives (tests/api/test_fastpath.py sends the same requests through both).

Everything else goes through Flask unchanged: other methods (POST bodies, OPTIONS preflights), other paths,
requests with a body (``Transfer-Encoding``, ``Content-Length``). The setting ``fast_path`` turns it off.

On top, a per-process memo of whole responses (``response_memo_bytes``, with the answer cache on) keeps the
bytes of successful single answers, keyed by path and query string (in the client's order, without
``access_token``), for ``response_memo_ttl_s``: a repeat skips parsing, the core and serialising, but is
still authorised, charged, counted and logged, with ``X-LDS-Cache: hit``. The memo is per process, so the
loaded data version is implicit (a data swap clears it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any
from urllib.parse import unquote

from werkzeug.http import HTTP_STATUS_CODES

from lds import fastjson, metrics
from lds.api.access import authorize, pick_token
from lds.api.metrics import record_request
from lds.cache import begin_outcome
from lds.errors import LdsError, error_body
from lds.inputs import check_query_string
from lds.services import SERVICES, Service, parse, run
from lds.services.registry import is_heavy

log = logging.getLogger("lds.api")

JSON_HEADERS: list[tuple[str, str]] = [("Content-Type", "application/json")]


def status_line(code: int) -> str:
    """The status line werkzeug writes for ``code`` (``429 TOO MANY REQUESTS``)."""
    return f"{code} {HTTP_STATUS_CODES[code].upper()}" if code in HTTP_STATUS_CODES else f"{code} UNKNOWN"


_STATUS = {code: status_line(code) for code in HTTP_STATUS_CODES}


def get_routes(services: Iterable[Service]) -> dict[str, Service]:
    """Path -> service, for every declared service answering GET: the only table the fast path reads."""
    return {s.path: s for s in services if "GET" in s.methods}


def query_args(query: str) -> dict[str, str]:
    """The query string as Flask's ``request.args.to_dict()`` reads it: the first value of each name.

    werkzeug runs ``parse_qsl(..., keep_blank_values=True)``; this does the same split, and unquotes only the
    pieces that need it (most parameters of these endpoints are plain ``name=1.23,4.56``).
    """
    if not query.isascii():
        query = query.encode("latin-1").decode()  # WSGI strings carry the raw bytes as latin-1
    args: dict[str, str] = {}
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "%" in piece or "+" in piece:
            name = unquote(name.replace("+", " "), errors="werkzeug.url_quote")
            value = unquote(value.replace("+", " "), errors="werkzeug.url_quote")
        if name not in args:
            args[name] = value
    return args


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

    def clear(self) -> None:
        """Forget every response (new data was swapped in: lds.data_follow.swap_app)."""
        with self._lock:
            self._data.clear()
            self.bytes = 0

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


class Reply:
    """What :meth:`FastPath.respond` answers: status, body, extra headers and the cache outcome."""

    __slots__ = ("body", "cache", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = (), cache: str | None = None):
        self.status, self.body, self.headers, self.cache = status, body, headers, cache


def error_reply(exc: LdsError) -> Reply:
    """The one error envelope, as the Flask handler (lds.api.envelope) words and sends it."""
    return Reply(exc.status, fastjson.dumps(error_body(exc.message, exc.status)) + b"\n", exc.headers.items())


class FastPath:
    """WSGI middleware in front of the Flask app (``app.wsgi_app = FastPath(app.wsgi_app, ...)``)."""

    def __init__(self, wsgi_app: Callable, lds: Any, *, access: Any = None, admission: Any = None, cors: Any = None,
                 memo: ResponseMemo | None = None, services: Iterable[Service] = SERVICES.values()):
        self.wsgi_app = wsgi_app
        self.lds = lds  # the cached facade the Flask views call (lds.cache.CachedLDS)
        self.access = access  # lds.auth.access.AccessControl, or None when auth is disabled
        self.admission = admission  # lds.admission.Admission, or None
        self.cors = cors if cors is not None and cors.enabled else None  # lds.cors.CorsPolicy
        self.memo = memo
        self.routes = get_routes(services)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        service = self.routes.get(environ.get("PATH_INFO"))
        if (service is None or environ.get("REQUEST_METHOD") != "GET" or "HTTP_TRANSFER_ENCODING" in environ
                or environ.get("CONTENT_LENGTH", "0") not in ("", "0")):  # a GET with a body: Flask decides
            return self.wsgi_app(environ, start_response)
        t0 = time.perf_counter()
        reply = self.respond(service, environ)
        body = reply.body
        path = service.path
        request_id = record_request(path, "GET", path, reply.status, time.perf_counter() - t0, reply.cache,
                                    environ.get("HTTP_X_REQUEST_ID"), len(body), environ.get("REMOTE_ADDR"))
        headers = [*JSON_HEADERS, ("Content-Length", str(len(body))), *reply.headers]
        if reply.cache is not None:
            headers.append(("X-LDS-Cache", reply.cache))
        headers.append(("X-Request-ID", request_id))
        headers.append(("X-LDS-Data-Version", self.lds.data_version))  # as lds.api.service adds to Flask's
        if self.cors is not None:
            headers.extend(self.cors.headers(environ.get("HTTP_ORIGIN")))
        start_response(_STATUS.get(reply.status) or status_line(reply.status), headers)
        return [body]

    def respond(self, service: Service, environ: dict[str, Any]) -> Reply:
        """One request's steps, in the order the Flask hooks and view take them (the place to hook in):

        1. the query string must decode to UTF-8 (400 before anything else);
        2. authorise the token (401/403, rate limit 429) and hold its concurrency slot (429);
        3. a memo hit: charge and replay; otherwise read the parameters with the service's sanitisers (400);
        4. a heavy request waits for a heavy slot (503), then the quota is charged (429) and the cached core
           answers, formatted and serialised; a 5xx afterwards gives the charged units back.
        """
        query = environ.get("QUERY_STRING", "")
        outcome = begin_outcome()
        charges: list[tuple[str, int, Any]] = []
        principal = held = None
        reply: Reply | None = None
        try:
            if query:
                check_query_string(query)
            args = query_args(query) if query else {}
            if self.access is not None:
                token = pick_token(environ.get("HTTP_AUTHORIZATION"), args.get("access_token"))
                principal = authorize(self.access, service.path, token,
                                      environ.get("HTTP_REFERER") or environ.get("HTTP_ORIGIN"))
                if self.admission is not None and not principal.is_admin:
                    held = self.admission.token(principal.id)

            def charge(quota: str, units: int) -> None:
                if principal is not None:
                    charges.append((quota, units, self.access.charge(principal, quota, units)))

            key = None
            if self.memo is not None:
                key = memo_key(service.path, query)
                found = self.memo.get(key)
                if found is not None:
                    charge(service.quota, 1)
                    metrics.count_cache(service.cache, "hit", 1)
                    reply = Reply(200, found[0], cache="hit")
                    return reply
            lds = self.lds
            values = parse(service, args, lds)
            heavy = self.admission is not None and is_heavy(service, values, lds.settings)
            with self.admission.heavy() if heavy else nullcontext():
                body = fastjson.dumps(run(service, lds, values, charge)) + b"\n"
            cache = outcome.label
            if key is not None and cache is not None and outcome.hits + outcome.misses == 1 and not outcome.upstream:
                self.memo.put(key, body, JSON_HEADERS)
            reply = Reply(200, body, _cache_headers(outcome), cache)
        except LdsError as exc:
            reply = error_reply(exc)
            reply.cache = outcome.label
            reply.headers = [*reply.headers, *_cache_headers(outcome)]
        except Exception:
            log.exception("unhandled error")
            reply = Reply(500, fastjson.dumps(error_body("Internal server error", 500)) + b"\n",
                          _cache_headers(outcome), outcome.label)
        finally:
            if charges and (reply is None or reply.status >= 500):  # failed or unanswered: not charged
                for quota, units, period in charges:
                    self.access.refund(principal, quota, units, period)
            if held is not None:
                held.release()
        return reply


def _cache_headers(outcome: Any) -> list[tuple[str, str]]:
    """``X-LDS-Cache-Hits`` when one request gave several answers (the Flask hook's rule)."""
    n = outcome.hits + outcome.misses
    return [("X-LDS-Cache-Hits", f"{outcome.hits}/{n}")] if n > 1 else []


def install_hotpath(app: Any, settings: Any) -> None:
    """Put the fast path in front of ``app`` (setting ``fast_path``), with the response memo when answers are
    cached and the memo has a budget."""
    if not settings.fast_path:
        return
    memo = None
    if settings.cache_enabled and settings.response_memo_bytes > 0:
        memo = ResponseMemo(settings.response_memo_bytes, settings.response_memo_ttl_s)
        app.extensions["lds_response_memo"] = memo
    app.wsgi_app = FastPath(app.wsgi_app, app.extensions["lds"], access=app.extensions.get("lds_access"),
                            admission=app.extensions.get("lds_admission"), cors=app.extensions.get("lds_cors"),
                            memo=memo)
