"""The HTTP client of the upstream: one kept-alive connection pool per process (urllib3), limits, 502/504.

Redirects are never followed and nothing is retried (a forwarded POST must not run twice upstream). The
pool is made on first use in each process, so gunicorn workers forked after start-up never share a socket.
Errors before an answer starts are the one envelope's :class:`~lds.errors.GatewayTimeout` (connecting or
waiting too long) and :class:`~lds.errors.BadGateway` (refused, reset, not HTTP, announced too large); once
an answer streams, a failure can only cut it (:class:`AnswerCut`), which the server turns into a closed
connection the client sees as an incomplete answer.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as UrllibTimeout

from lds import fastjson
from lds.errors import BadGateway, GatewayTimeout, LdsError
from lds.proxy.upstream import Upstream

log = logging.getLogger("lds.proxy")

CHUNK_BYTES = 64 * 1024


class AnswerCut(Exception):
    """A streamed upstream answer failed or outgrew its limit after its status was sent: the answer is cut."""


class UpstreamClient:
    """Sends requests to the upstream under its base URL, within the timeouts and size limits of the settings."""

    def __init__(self, upstream: Upstream, settings: Any):
        self.upstream = upstream
        self.max_answer_bytes = int(settings.upstream_max_answer_bytes)
        self._timeout = urllib3.Timeout(connect=settings.upstream_connect_timeout_s, read=settings.upstream_timeout_s)
        self._pool_size = max(1, int(settings.upstream_pool_size))
        self._pool: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    def pool(self) -> urllib3.HTTPConnectionPool:
        """This process's pool (a new one after a fork)."""
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._pool = urllib3.connection_from_url(
                        self.upstream.origin, maxsize=self._pool_size, block=False, timeout=self._timeout, retries=False
                    )
                    self._pid = pid
        return self._pool

    def send(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes | None = None,
        decode: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """The upstream's answer to ``method path?query`` (``path`` quoted, under the base path), its body unread.

        ``decode``: undo a content encoding while reading (the fallback reads JSON); off, the bytes pass as sent.
        """
        url = self.upstream.base_path + path + (f"?{query}" if query else "")
        try:
            answer = self.pool().urlopen(
                method,
                url,
                body=body,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=decode,
                assert_same_host=False,
            )
        except NewConnectionError as exc:  # refused, unreachable, no such host: a subclass of the timeouts
            raise BadGateway(f"the upstream API could not be reached ({_reason(exc)})") from None
        except UrllibTimeout:
            raise GatewayTimeout("the upstream API did not answer in time") from None
        except (HTTPError, OSError) as exc:  # not HTTP, reset, TLS
            raise BadGateway(f"the upstream API answered something that is not HTTP ({_reason(exc)})") from None
        length = answer.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_answer_bytes:
            discard(answer)
            raise BadGateway(
                f"the upstream answer is too large: {int(length)} bytes, at most {self.max_answer_bytes} "
                "here (upstream_max_answer_bytes)"
            )
        return answer

    def stream(self, answer: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        """The answer's bytes as they come, at most ``upstream_max_answer_bytes``; the connection goes back to
        the pool only when the answer was read to its end."""
        total = 0
        done = False
        connection = answer.connection  # urllib3 hands it back to the pool by itself once the body is read
        try:
            for chunk in answer.stream(CHUNK_BYTES, decode_content=False):
                total += len(chunk)
                if total > self.max_answer_bytes:
                    raise AnswerCut(f"upstream answer over {self.max_answer_bytes} bytes (upstream_max_answer_bytes)")
                yield chunk
            done = True
        except (HTTPError, OSError) as exc:
            raise AnswerCut(f"upstream answer failed while streaming ({_reason(exc)})") from None
        finally:
            if not done:
                discard(answer)
            elif _closes(answer) and connection is not None:
                connection.close()  # the pool reconnects it before its next use
            else:
                answer.release_conn()

    def read(self, answer: urllib3.BaseHTTPResponse) -> bytes:
        """The whole answer (within the size limit), for answers this installation reads itself."""
        try:
            return b"".join(self.stream(answer))
        except AnswerCut as exc:
            raise BadGateway(str(exc)) from None

    def json(
        self, method: str, path: str, query: str = "", body: Any = None, token: str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        """``(status, headers, JSON value)`` of a request this installation makes itself (the fallback)."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = fastjson.dumps(body)
            headers["Content-Type"] = "application/json"
        answer = self.send(method, path, query, headers, data, decode=True)
        raw = self.read(answer)
        status = answer.status
        if 300 <= status < 400:
            raise BadGateway(f"the upstream API redirected ({status}) instead of answering")
        try:
            value = fastjson.loads(raw) if raw else None
        except ValueError:
            raise BadGateway(f"the upstream API answered {status} with a body that is not JSON") from None
        return status, dict(answer.headers), value


def discard(answer: urllib3.BaseHTTPResponse) -> None:
    """Close an answer not read to its end: its connection cannot be reused."""
    try:
        answer.close()
        answer.release_conn()
    except Exception:
        log.debug("closing an upstream connection failed", exc_info=True)


def _closes(answer: urllib3.BaseHTTPResponse) -> bool:
    """Whether the upstream said it closes the connection, in any of its ``Connection`` headers (http.client
    reads only the first)."""
    return any(
        token.strip().lower() == "close" for value in answer.headers.getlist("Connection") for token in value.split(",")
    )


def _reason(exc: Exception) -> str:
    """A short, credential-free reason: the exception type and the cause's type."""
    cause = exc.__context__ or exc.__cause__
    name = type(exc).__name__
    return f"{name}: {type(cause).__name__}" if cause is not None and cause is not exc else name


def upstream_error(status: int, value: Any, headers: dict[str, str]) -> LdsError:
    """An upstream error answer to a request of this installation, as the error to give our caller.

    400/404/422 keep their status and message (the request was the caller's); 429 keeps Retry-After; a refused
    upstream token (401/403) and anything else are a 502: the caller's own credentials are not at fault.
    """
    message = value.get("error") if isinstance(value, dict) else None
    text = message[:300] if isinstance(message, str) else f"status {status}"
    if status in (400, 404, 422):
        return LdsError(f"upstream: {text}", status)
    if status == 429:
        retry = {k: v for k, v in headers.items() if k.lower() == "retry-after"}
        return LdsError(f"upstream: {text}", 429, {"Retry-After": next(iter(retry.values()))} if retry else None)
    if status in (401, 403):
        return BadGateway(f"the upstream API refused this installation's upstream token ({status}: {text})")
    return BadGateway(f"the upstream API failed ({status}: {text})")
