"""Site-owner proof covers exactly what was proven (SPEC.md §3.6): the origin's port and scheme,
redirects that stay on it, and one deadline for the whole proof fetch (a trickling server)."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crawler.registry.verify import check_scope, redirect_allowed
from filters.errors import RegistryValidationError

from .conftest import Site, entry, start_service

WELL_KNOWN = "/.well-known/heed-registry.txt"
ENTRY = {"choice": "opt-in", "purposes": ["train-ai"]}


def _challenge(client: httpx.Client, origin: str, kind: str, subject: str) -> httpx.Response:
    body = {"origin": origin, "entry": {**ENTRY, "subject_kind": kind, "subject": subject}}
    return client.post("/v1/challenges", json=body)


def _decide(client: httpx.Client, url: str) -> tuple[str, str | None]:
    """(verdict, winning entry id) of the service for ``url`` under train-ai."""
    answer = client.post("/v1/lookup", json={"urls": [url], "purpose": "train-ai"})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["results"][0]
    return result["verdict"], result["entry_id"]


@pytest.fixture
def other_site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_domain_proof_on_another_port_is_refused(store, site):
    """Proving ``http://127.0.0.1:<port>`` must not give a domain entry for every port."""
    svc = start_service(store)
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            refused = _challenge(client, site.origin, "domain", "127.0.0.1")
            assert refused.status_code == 422, refused.text
            assert "default port" in refused.json()["error"]
            # Had it been accepted, an owner of one port would hold a grant for all of them.
            assert _decide(client, f"http://127.0.0.1:{_free_port()}/page") == ("none", None)
    finally:
        svc.stop()
    assert store.count() == 0


def test_prefix_proof_covers_its_own_port_only(store, site):
    svc = start_service(store)
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            foreign = _challenge(client, site.origin, "prefix", f"http://127.0.0.1:{_free_port()}/")
            assert foreign.status_code == 422 and "not within" in foreign.json()["error"]
            started = _challenge(client, site.origin, "prefix", site.origin + "/docs/")
            assert started.status_code == 201, started.text
            proof = b"# heed\n" + started.json()["content"].encode() + b"\n"
            site.files[WELL_KNOWN] = (200, proof, {"Content-Type": "text/plain"})
            done = client.post(started.json()["verify_url"])
            assert done.status_code == 201, done.text
            assert done.json()["entry"]["verified"] is True
            granted = ("grant", done.json()["entry"]["id"])
            assert _decide(client, site.origin + "/docs/a") == granted
            assert _decide(client, f"http://127.0.0.1:{_free_port()}/docs/a") == ("none", None)
    finally:
        svc.stop()


def test_redirect_to_another_port_of_the_same_host_is_refused(store, site, other_site):
    svc = start_service(store)
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            started = _challenge(client, site.origin, "prefix", site.origin + "/").json()
            other_site.files[WELL_KNOWN] = (200, started["content"].encode(), {})
            away = {"Location": other_site.origin + WELL_KNOWN}
            site.files[WELL_KNOWN] = (302, b"", away)
            refused = client.post(started["verify_url"])
            assert refused.status_code == 422, refused.text
            assert "leaves the origin" in refused.json()["error"]
            # the same file on the proven origin itself is accepted
            site.files[WELL_KNOWN] = (200, started["content"].encode(), {})
            assert client.post(started["verify_url"]).status_code == 201
    finally:
        svc.stop()
    assert store.count() == 1


def _site_on_port_80() -> Site:
    for last in range(77, 97):
        try:
            return Site(f"127.0.{last}.80", 80)
        except OSError:
            continue
    pytest.skip("no loopback address with a free port 80")


def test_domain_proof_on_the_default_port(store):
    site = _site_on_port_80()
    host = site.origin.removeprefix("http://")
    strict = start_service(store)
    lenient = start_service(store, allow_http_proof=True)
    try:
        with httpx.Client(base_url=strict.url, timeout=10) as client:
            refused = _challenge(client, site.origin, "domain", host)
            assert refused.status_code == 422 and "https" in refused.json()["error"]
        with httpx.Client(base_url=lenient.url, timeout=10) as client:
            started = _challenge(client, site.origin + ":80", "domain", host)
            assert started.status_code == 201, started.text
            assert started.json()["origin"] == f"http://{host}"
            site.files[WELL_KNOWN] = (200, started.json()["content"].encode(), {})
            done = client.post(started.json()["verify_url"])
            assert done.status_code == 201, done.text
            assert done.json()["entry"]["subject"] == host
            proven = ("grant", done.json()["entry"]["id"])
            assert _decide(client, f"http://{host}:8080/x") == proven  # the whole host
    finally:
        strict.stop()
        lenient.stop()
        site.close()


@pytest.mark.parametrize(
    ("origin", "target", "allowed"),
    [
        ("http://example.com", "https://example.com/.well-known/heed-registry.txt", True),
        ("http://example.com", "HTTPS://Example.COM:443/other", True),
        ("http://example.com", "http://example.com:80/x", True),
        ("https://example.com", "https://example.com/x", True),
        ("http://example.com", "https://example.com:8443/x", False),
        ("http://example.com", "http://example.com:8080/x", False),
        ("https://example.com", "http://example.com/x", False),  # a downgrade
        ("http://example.com:8080", "https://example.com:8080/x", False),
        ("http://example.com:8080", "http://example.com/x", False),
        ("https://example.com", "https://www.example.com/x", False),
        ("https://example.com", "ftp://example.com/x", False),
        ("https://example.com", "https://user@example.com/x", False),
    ],
)
def test_redirect_allowed(origin, target, allowed):
    assert redirect_allowed(origin, target) is allowed


@pytest.mark.parametrize(
    ("kind", "subject", "origin", "allow_http", "message"),
    [
        ("domain", "example.com", "https://example.com", False, None),
        ("domain", "example.com", "https://example.com:8443", False, "default port"),
        ("domain", "example.com", "http://example.com", False, "https://example.com"),
        ("domain", "example.com", "http://example.com", True, None),
        ("domain", "www.example.com", "https://example.com", False, "not within"),
        ("domain", "example.com", "https://www.example.com", False, "not within"),
        ("prefix", "https://example.com:8443/a/", "https://example.com:8443", False, None),
        ("prefix", "https://example.com/a/", "https://example.com:8443", False, "not within"),
        ("prefix", "http://example.com/a/", "http://example.com", False, "https://"),
        ("prefix", "http://example.com:8080/a/", "http://example.com:8080", False, None),
        ("url", "https://example.com/p", "https://example.com", False, None),
        ("url", "https://example.com.evil/p", "https://example.com", False, "not within"),
    ],
)
def test_check_scope(kind, subject, origin, allow_http, message):
    item = entry(kind, subject)
    if message is None:
        check_scope(item, origin, allow_http=allow_http)
    else:
        with pytest.raises(RegistryValidationError, match=message):
            check_scope(item, origin, allow_http=allow_http)


class Trickler:
    """A loopback server that answers with ``response`` (bytes, set by the test) one byte at
    a time, ``pause`` seconds apart, from byte ``slow_from`` on; it stops when the client has
    gone, and in any case after the whole response."""

    def __init__(self, pause: float = 0.2, slow_from: int = 0) -> None:
        self.response = b""
        trickler = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.recv(65536)
                data = trickler.response
                try:
                    self.request.sendall(data[:slow_from])
                    for i in range(slow_from, len(data)):
                        time.sleep(pause)
                        self.request.sendall(data[i : i + 1])
                except OSError:
                    return  # the client gave up

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("where", ["status line and headers", "body"])
def test_a_trickling_proof_server_gets_an_error_at_the_deadline(store, where):
    """Every read gets a byte well within any per-read timeout; only a total deadline ends it.
    The published file is the right one: without the deadline the proof would succeed."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    trickler = Trickler(pause=0.2, slow_from=0 if where != "body" else len(head) + 30)
    svc = start_service(store, fetch_timeout=1.0)
    try:
        with httpx.Client(base_url=svc.url, timeout=60) as client:
            started = _challenge(client, trickler.origin, "prefix", trickler.origin + "/").json()
            body = started["content"].encode() + b"\n"
            trickler.response = head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            answer = client.post(started["verify_url"])
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"] == "application/json"
            assert "not read within 1 s" in answer.json()["error"]
            assert client.get("/v1/health").json() == {"status": "ok"}
    finally:
        svc.stop()
        trickler.close()
    assert store.count() == 0


def test_a_pending_challenge_wider_than_its_origin_is_refused_at_verification(store, site):
    """A challenge stored before the scope rules (a domain for a proof on another port) cannot
    complete: the scope is checked again when the proof is fetched."""
    from datetime import UTC, datetime, timedelta

    fields = {"subject_kind": "domain", "subject": "127.0.0.1", **ENTRY,
              "registered_by": f"owner:{site.origin}"}  # fmt: skip
    expires = datetime.now(UTC) + timedelta(hours=1)
    store.put_challenge("old-one", site.origin, "tok", json.dumps(fields), expires)
    site.files[WELL_KNOWN] = (200, b"heed-registry-verification=tok\n", {})
    svc = start_service(store)
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            refused = client.post("/v1/challenges/old-one/verify")
            assert refused.status_code == 422, refused.text
            assert "default port" in refused.json()["error"]
    finally:
        svc.stop()
    assert store.count() == 0
