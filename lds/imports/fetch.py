"""Download the file of an import without becoming a proxy into the private network (SSRF).

Every hop is checked: the host is resolved once, every address it resolves to must be public (not
loopback, private, link-local, multicast, reserved, unspecified, nor such an address embedded in IPv6),
and the connection goes to the very address that was checked (the ``Host`` header and TLS name carry the
host name), so a DNS answer that changes between check and connect (rebinding) cannot slip through.
Redirects are followed by hand, at most ``max_redirects``, each target checked the same way. A host (or
``host:port``) listed in ``import_allowed_hosts`` skips the address check, for in-house file servers.
``file://`` URLs are read only under ``import_file_root`` (off by default), symlinks resolved first.

The body goes to disk in chunks, never whole in memory; reading stops at ``max_bytes`` (a declared
``Content-Length`` over it is refused before reading), at the time budget, or when the job is cancelled.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3

from lds.errors import BadRequest, PayloadTooLarge
from lds.imports.budget import Budget

CHUNK = 1 << 20
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_USER_AGENT = "lds-import/1"


class Refused(BadRequest):
    """A URL the import may not fetch (scheme, address, root folder)."""


@dataclass(frozen=True)
class FetchPolicy:
    """What a download may do; built from settings by :meth:`from_settings`."""

    max_bytes: int
    allowed_hosts: frozenset[str] = frozenset()
    file_root: Path | None = None
    max_redirects: int = 5
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Any, *, max_bytes: int | None = None) -> FetchPolicy:
        hosts = frozenset(h.strip().lower() for h in (settings.import_allowed_hosts or "").split(",") if h.strip())
        root = Path(settings.import_file_root).resolve() if settings.import_file_root else None
        return cls(
            max_bytes=max_bytes or settings.import_max_bytes,
            allowed_hosts=hosts,
            file_root=root,
            max_redirects=settings.import_max_redirects,
            connect_timeout_s=settings.import_connect_timeout_s,
            read_timeout_s=settings.import_read_timeout_s,
        )


@dataclass
class Fetched:
    """A downloaded file (``owned``: ours to delete) and what the server said about it."""

    path: Path
    size: int
    url: str
    content_type: str | None = None
    truncated: bool = False
    owned: bool = True
    hops: list[str] = field(default_factory=list)


def fetch(
    url: str, dest: Path, policy: FetchPolicy, budget: Budget | None = None, *, truncate: bool = False
) -> Fetched:
    """Download ``url`` into ``dest`` (a file path) under ``policy``.

    Over ``max_bytes``: :class:`PayloadTooLarge`, or with ``truncate`` the first ``max_bytes`` bytes and
    ``truncated=True`` (a preview of a text file needs only its start).
    """
    if not isinstance(url, str) or not url.strip() or len(url) > 8192 or "\x00" in url:
        raise BadRequest("'url' must be an http(s) URL of at most 8192 characters")
    url = url.strip()
    hops: list[str] = []
    for _ in range(policy.max_redirects + 1):
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return _read_file(parts, dest, policy, truncate)
        if scheme not in ("http", "https"):
            raise Refused(f"unsupported URL scheme {parts.scheme!r}: use http or https")
        host, port = _host_port(parts, scheme)
        address = resolve_checked(host, port, policy.allowed_hosts)
        response = _request(scheme, host, port, address, parts, policy)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise BadRequest(f"{show_url(url)} answered {response.status} without a Location")
                hops.append(url)
                url = urllib.parse.urljoin(url, location.strip())
                continue
            if not 200 <= response.status < 300:
                raise BadRequest(f"{show_url(url)} answered HTTP {response.status}")
            fetched = _save(response, dest, policy, budget or Budget(), truncate)
        finally:
            response.release_conn()
        fetched.url, fetched.content_type, fetched.hops = url, response.headers.get("Content-Type"), hops
        return fetched
    raise Refused(f"more than {policy.max_redirects} redirects, starting at {show_url(hops[0] if hops else url)}")


def show_url(url: str) -> str:
    """A URL for messages: without user info or query string (which may carry secrets)."""
    p = urllib.parse.urlsplit(url)
    netloc = p.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((p.scheme, netloc, p.path, "", ""))[:300]


def _host_port(parts: urllib.parse.SplitResult, scheme: str) -> tuple[str, int]:
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise BadRequest(f"invalid URL: {exc}") from None
    if not host:
        raise BadRequest("the URL has no host")
    return host.lower(), port or (443 if scheme == "https" else 80)


def _allowed(host: str, port: int, allowed: frozenset[str]) -> bool:
    shown = f"[{host}]" if ":" in host else host
    return host in allowed or shown in allowed or f"{shown}:{port}" in allowed


def public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``ip`` is a public unicast address (IPv4 embedded in IPv6 judged by its IPv4 part)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return public_address(embedded)
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_unspecified
    )


def resolve_checked(host: str, port: int, allowed: frozenset[str]) -> str:
    """The address to connect to for ``host``: every address it resolves to must be public, unless allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BadRequest(f"cannot resolve {host!r}: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise BadRequest(f"cannot resolve {host!r}")
    if not _allowed(host, port, allowed):
        for text in addresses:
            if not public_address(ipaddress.ip_address(text.split("%")[0])):
                raise Refused(
                    f"refused: {host} resolves to {text}, a loopback, private, link-local or reserved "
                    "address (list the host in LDS_IMPORT_ALLOWED_HOSTS to allow it)"
                )
    return addresses[0]


def _request(
    scheme: str, host: str, port: int, address: str, parts: urllib.parse.SplitResult, policy: FetchPolicy
) -> urllib3.BaseHTTPResponse:
    timeout = urllib3.Timeout(connect=policy.connect_timeout_s, read=policy.read_timeout_s)
    if scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=host,
            assert_hostname=host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    default = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
    shown = f"[{host}]" if ":" in host else host
    headers = {"Host": shown if default else f"{shown}:{port}", "User-Agent": _USER_AGENT, "Accept": "*/*"}
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    try:
        return pool.urlopen(
            "GET", target, headers=headers, redirect=False, retries=False, preload_content=False, assert_same_host=False
        )
    except urllib3.exceptions.HTTPError as exc:
        raise BadRequest(f"cannot download {show_url(parts.geturl())}: {type(exc).__name__}: {exc}") from None


def _over(policy: FetchPolicy) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the file is larger than the import limit of {policy.max_bytes} bytes "
        "(LDS_IMPORT_MAX_BYTES); reading stopped there"
    )


def _save(
    response: urllib3.BaseHTTPResponse, dest: Path, policy: FetchPolicy, budget: Budget, truncate: bool
) -> Fetched:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > policy.max_bytes and not truncate:
        raise _over(policy)
    size, truncated = 0, False
    with open(dest, "wb") as out:
        while True:
            budget.check()
            try:
                chunk = response.read1(CHUNK)
            except urllib3.exceptions.HTTPError as exc:
                raise BadRequest(f"the download failed: {type(exc).__name__}: {exc}") from None
            if not chunk:
                break
            if size + len(chunk) > policy.max_bytes:
                if not truncate:
                    raise _over(policy)
                out.write(chunk[: policy.max_bytes - size])
                size, truncated = policy.max_bytes, True
                break
            out.write(chunk)
            size += len(chunk)
    return Fetched(path=dest, size=size, url="", truncated=truncated)


def _read_file(parts: urllib.parse.SplitResult, dest: Path, policy: FetchPolicy, truncate: bool) -> Fetched:
    if policy.file_root is None:
        raise Refused("file:// URLs are disabled (set LDS_IMPORT_FILE_ROOT to a folder to allow files under it)")
    if parts.netloc not in ("", "localhost"):
        raise Refused("file:// URLs must name a local path (file:///path)")
    path = Path(os.path.realpath(urllib.parse.unquote(parts.path)))
    if not path.is_relative_to(policy.file_root):
        raise Refused(f"refused: the file is outside the import folder {policy.file_root} (LDS_IMPORT_FILE_ROOT)")
    if not path.is_file():
        raise BadRequest(f"no such file under the import folder: {parts.path}")
    size = path.stat().st_size
    if size > policy.max_bytes:
        if not truncate:
            raise _over(policy)
        with open(path, "rb") as src, open(dest, "wb") as out:
            shutil.copyfileobj(_Limited(src, policy.max_bytes), out, CHUNK)
        return Fetched(path=dest, size=policy.max_bytes, url=parts.geturl(), truncated=True)
    return Fetched(path=path, size=size, url=parts.geturl(), owned=False)


class _Limited:
    def __init__(self, f: Any, left: int):
        self.f, self.left = f, left

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(min(n if n >= 0 else self.left, self.left))
        self.left -= len(data)
        return data
