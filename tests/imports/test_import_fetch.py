"""The import download (lds.imports.fetch) against a real HTTP server on 127.0.0.1: SSRF refusals (loopback
without the allow-list, private/link-local/embedded addresses, a redirect to loopback), file:// confinement,
the size limit (declared, and streamed without a length), redirects bounded, and the time budget."""

from __future__ import annotations

import ipaddress
import os
import time

import pytest
from importfixtures import *

from lds.errors import PayloadTooLarge
from lds.imports.budget import Budget, ImportCancelled, ImportTimeout
from lds.imports.fetch import FetchPolicy, Refused, fetch, public_address, resolve_checked


def policy(server=None, **kw):
    hosts = frozenset([server.host]) if server is not None else frozenset()
    return FetchPolicy(max_bytes=kw.pop("max_bytes", 10_000), allowed_hosts=kw.pop("allowed_hosts", hosts), **kw)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert not public_address(ipaddress.ip_address(address))
    with pytest.raises(Refused, match="LDS_IMPORT_ALLOWED_HOSTS"):
        resolve_checked(address, 80, frozenset())


def test_public_addresses_pass():
    for address in ("8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert public_address(ipaddress.ip_address(address))


def test_loopback_needs_the_allow_list(server, tmp_path):
    url = server.add("a.csv", b"a,b\n1,2\n", "text/csv")
    with pytest.raises(Refused, match="127.0.0.1"):
        fetch(url, tmp_path / "out", policy())
    # decimal and short forms of 127.0.0.1 resolve to loopback too
    for host in ("2130706433", "127.1", "localhost"):
        with pytest.raises(Refused):
            fetch(f"http://{host}:{server.port}/f/a.csv", tmp_path / "out", policy(allowed_hosts=frozenset()))
    got = fetch(url, tmp_path / "out", policy(server))
    assert got.path.read_bytes() == b"a,b\n1,2\n" and got.content_type == "text/csv" and got.size == 8
    # host:port allows that port only; the bare host allows every port
    assert fetch(url, tmp_path / "o2", policy(allowed_hosts=frozenset(["127.0.0.1"]))).size == 8
    with pytest.raises(Refused):
        fetch(url, tmp_path / "o3", policy(allowed_hosts=frozenset(["127.0.0.1:1"])))


def test_redirects_are_checked_at_every_hop(server, tmp_path):
    target = server.add("b.csv", b"x\n1\n", "text/csv")
    hop = f"http://{server.host}/redirect?to={target}"
    got = fetch(hop, tmp_path / "out", policy(server))
    assert got.size == 4 and got.hops == [hop] and got.url == target
    # the allowed server redirects to a loopback name that is not allowed: refused at the second hop
    sneaky = f"http://{server.host}/redirect?to=http://localhost:{server.port}/f/b.csv"
    with pytest.raises(Refused, match="localhost"):
        fetch(sneaky, tmp_path / "out", policy(server))
    # to the metadata address, and to a file:// URL
    for to in ("http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"):
        with pytest.raises(Refused):
            fetch(f"http://{server.host}/redirect?to={to}", tmp_path / "out", policy(server))
    loop = f"http://{server.host}/redirect?to=http://{server.host}/redirect%3Fto%3D{target}"
    assert fetch(loop, tmp_path / "out", policy(server, max_redirects=2)).size == 4
    with pytest.raises(Refused, match="more than 1 redirects"):
        fetch(loop, tmp_path / "out", policy(server, max_redirects=1))


def test_size_limit_declared_and_streamed(server, tmp_path):
    body = b"x" * 50_000
    url = server.add("big.csv", body, "text/csv")
    with pytest.raises(PayloadTooLarge, match="LDS_IMPORT_MAX_BYTES"):
        fetch(url, tmp_path / "out", policy(server))
    chunked = server.add("big2.csv", body, "text/csv", route="chunked")
    with pytest.raises(PayloadTooLarge):
        fetch(chunked, tmp_path / "out", policy(server))
    assert os.path.getsize(tmp_path / "out") <= 10_000  # stopped at the limit, not after the whole body
    cut = fetch(chunked, tmp_path / "cut", policy(server), truncate=True)
    assert cut.truncated and cut.size == 10_000


def test_schemes_and_errors(server, tmp_path):
    for url in ("ftp://example.com/a.csv", "gopher://x/", "javascript:alert(1)", "data:text/csv,a"):
        with pytest.raises(Refused, match="scheme"):
            fetch(url, tmp_path / "out", policy(server))
    missing = f"http://{server.host}/f/nope.csv"
    with pytest.raises(Exception, match="HTTP 404"):
        fetch(missing, tmp_path / "out", policy(server))


def test_file_urls_only_under_the_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.csv").write_bytes(b"a\n1\n")
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (root / "link.csv").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(Refused, match="disabled"):
        fetch(f"file://{root}/ok.csv", tmp_path / "out", policy())
    allowed = policy(file_root=root.resolve())
    got = fetch(f"file://{root}/ok.csv", tmp_path / "out", allowed)
    assert got.path == (root / "ok.csv").resolve() and not got.owned
    for url in (
        f"file://{tmp_path}/secret.txt",
        f"file://{root}/../secret.txt",
        f"file://{root}/link.csv",
        "file:///etc/passwd",
        f"file://{root}/%2e%2e/secret.txt",
    ):
        with pytest.raises(Refused, match="outside"):
            fetch(url, tmp_path / "out", allowed)


def test_cancel_and_time_budget_stop_a_slow_download(server, tmp_path):
    url = server.add("slow.csv", b"y" * 5000, "text/csv", route="slow")
    started = time.monotonic()
    with pytest.raises(ImportTimeout):
        fetch(url, tmp_path / "out", policy(server), Budget(0.3))
    with pytest.raises(ImportCancelled):
        fetch(url, tmp_path / "out", policy(server), Budget(None, cancelled=lambda: time.monotonic() - started > 0.5))


def test_https_verifies_the_certificate_against_the_host_name(tmp_path):
    """A TLS server with a self-signed certificate: the download is refused (verification is on, by name)."""
    import datetime as dt
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        port = httpd.server_address[1]
        allowed = policy(allowed_hosts=frozenset([f"127.0.0.1:{port}"]))
        with pytest.raises(Exception, match="(?i)certificate|SSL"):
            fetch(f"https://127.0.0.1:{port}/x.csv", tmp_path / "out", allowed)
    finally:
        httpd.shutdown()
        httpd.server_close()
