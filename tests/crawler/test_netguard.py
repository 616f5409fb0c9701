"""``crawler/netguard.py``: httpx clients that connect only to checked addresses, over real
HTTP and TLS servers on loopback (SPEC.md §7, docs/network.md).

The TLS server's certificate names ``localhost`` only (no IP address), and the server records
the SNI name it was asked for: a client that connected by IP and then verified or sent the IP
would fail, so a successful request shows that the connection went to the resolved address
while TLS kept the host name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crawler import netguard


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        body = f"host={self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Server:
    def __init__(self, tls: tuple[Path, Path] | None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.sni: list[str | None] = []
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda sock, name, ctx: self.sni.append(name)  # type: ignore[assignment,misc]
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[_Server, ssl.SSLContext]]:
    cert, key = _certificate(tmp_path)
    server = _Server((cert, key))
    client = ssl.create_default_context(cafile=str(cert))
    yield server, client
    server.close()


@pytest.fixture
def plain() -> Iterator[_Server]:
    server = _Server(None)
    yield server
    server.close()


def test_async_tls_connects_to_the_resolved_address_with_the_host_name(
    tls: tuple[_Server, ssl.SSLContext],
) -> None:
    server, context = tls
    url = f"https://localhost:{server.port}/x"

    async def get() -> httpx.Response:
        transport = netguard.async_transport(allow_private=True, verify=context)
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.get(url)

    response = asyncio.run(get())
    assert response.status_code == 200
    assert response.text == f"host=localhost:{server.port}"
    assert server.sni == ["localhost"]


def test_sync_tls_connects_to_the_resolved_address_with_the_host_name(
    tls: tuple[_Server, ssl.SSLContext],
) -> None:
    server, context = tls
    transport = netguard.sync_transport(allow_private=True, verify=context)
    with httpx.Client(transport=transport) as client:
        response = client.get(f"https://localhost:{server.port}/x")
    assert response.status_code == 200
    assert server.sni == ["localhost"]


def test_loopback_is_refused_before_connecting_and_the_reason_is_kept(plain: _Server) -> None:
    urls = [f"http://localhost:{plain.port}/", f"http://127.0.0.1:{plain.port}/"]

    async def get(url: str) -> BaseException:
        transport = netguard.async_transport(allow_private=False)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.get(url)
            return caught.value

    for url in urls:
        refused = netguard.refusal_of(asyncio.run(get(url)))
        assert isinstance(refused, netguard.BlockedAddress), url
        with (
            httpx.Client(transport=netguard.sync_transport(allow_private=False)) as client,
            pytest.raises(httpx.ConnectError) as caught,
        ):
            client.get(url)
        assert isinstance(netguard.refusal_of(caught.value), netguard.BlockedAddress), url


def test_a_name_that_does_not_resolve_is_an_error_not_a_pass() -> None:
    with pytest.raises(netguard.UnresolvableHost):
        netguard.resolve_sync("does-not-exist.invalid", 80, allow_private=False)
    with pytest.raises(netguard.UnresolvableHost):
        asyncio.run(netguard.resolve("does-not-exist.invalid", 80, allow_private=True))
    with pytest.raises(netguard.BlockedAddress):
        netguard.resolve_sync("localhost", 80, allow_private=False)
    assert netguard.resolve_sync("localhost", 80, allow_private=True)
