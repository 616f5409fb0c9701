"""Abuse bounds of the registry service on 127.0.0.1: concurrent verifications, challenge rate
limit and cap, JSON depth, JSON answers for every error (unknown methods included), expiry."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from crawler.registry._limits import RateLimiter, client_key

from .conftest import start_service

WELL_KNOWN = "/.well-known/heed-registry.txt"
ADD = {"subject_kind": "domain", "subject": "example.com", "choice": "opt-out"}


def _owner_entry(origin: str, **fields: Any) -> dict[str, Any]:
    return {"subject_kind": "prefix", "subject": origin + "/", "choice": "opt-out",
            "purposes": ["train-ai"], **fields}  # fmt: skip


def _challenge(client: httpx.Client, origin: str, **fields: Any) -> httpx.Response:
    return client.post(
        "/v1/challenges", json={"origin": origin, "entry": _owner_entry(origin, **fields)}
    )


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


class HeldSite:
    """A loopback site whose every request waits until ``release`` is set (at most 60 s),
    then answers 404; ``arrived`` counts the requests that are waiting."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)
        held = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                held.arrived.release()
                held.release.wait(60)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def held() -> Iterator[HeldSite]:
    s = HeldSite()
    yield s
    s.close()


def test_verifications_beyond_the_pool_are_refused_at_once(store, held):
    svc = start_service(store, max_verifications=2, fetch_timeout=30)
    answers: list[httpx.Response] = []

    def verify(url: str) -> None:
        with httpx.Client(base_url=svc.url, timeout=60) as own:
            answers.append(own.post(url))

    try:
        with httpx.Client(base_url=svc.url, timeout=20) as client:
            urls = [_challenge(client, held.origin).json()["verify_url"] for _ in range(3)]
            workers = [threading.Thread(target=verify, args=(u,)) for u in urls[:2]]
            for worker in workers:
                worker.start()
            for _ in workers:  # both proof fetches are under way, held by the site
                assert held.arrived.acquire(timeout=20)
            try:
                refused = client.post(urls[2])  # the site still holds the other two
            finally:
                held.release.set()
            for worker in workers:
                worker.join(30)
            assert refused.status_code == 503, refused.text
            assert "too many verifications" in refused.json()["error"]
            assert int(refused.headers["retry-after"]) > 0
            # the two held ones ran to their end (the site answered 404), and the pool is free
            assert sorted(a.status_code for a in answers) == [422, 422]
            assert "404" in client.post(urls[2]).json()["error"]
    finally:
        held.release.set()
        svc.stop()


def test_challenges_are_rate_limited_per_client(store, site):
    svc = start_service(store, challenge_burst=3, challenge_refill=3600)
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            made = [_challenge(client, site.origin) for _ in range(3)]
            assert [r.status_code for r in made] == [201, 201, 201]
            limited = _challenge(client, site.origin)
            assert limited.status_code == 429
            assert limited.headers["content-type"] == "application/json"
            assert "too many challenges" in limited.json()["error"]
            assert 0 < int(limited.headers["retry-after"]) <= 3600
            assert client.get("/v1/health").status_code == 200  # other routes still answer
    finally:
        svc.stop()
    assert store.pending_challenges() == 3


def test_pending_challenges_are_capped(store, site):
    svc = start_service(store, max_pending_challenges=2, challenge_burst=100)
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            assert [_challenge(client, site.origin).status_code for _ in range(2)] == [201, 201]
            full = _challenge(client, site.origin)
            assert full.status_code == 429 and "pending" in full.json()["error"]
            assert "retry-after" in full.headers
    finally:
        svc.stop()
    assert store.pending_challenges() == 2


def test_a_challenge_keeps_only_the_entry_fields(store, site):
    """Unknown fields of the entry are not stored: a challenge row stays small."""
    svc = start_service(store)
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            started = _challenge(client, site.origin, padding="x" * 60_000, note="hello")
            assert started.status_code == 201, started.text
    finally:
        svc.stop()
    found = store.get_challenge(started.json()["challenge_id"])
    assert found is not None
    kept = json.loads(found[2])
    assert "padding" not in kept and kept["note"] == "hello"
    assert len(found[2]) < 1000


def test_rate_limiter_refills_and_bounds_its_table():
    now = [0.0]
    limiter = RateLimiter(2, 10.0, max_clients=2, clock=lambda: now[0])
    assert [limiter.take("10.0.0.1") for _ in range(3)] == [0, 0, 10]
    now[0] = 5.0
    assert limiter.take("10.0.0.1") == 5  # half a token back
    now[0] = 15.0
    assert limiter.take("10.0.0.1") == 0
    assert limiter.take("10.0.0.2") == 0
    assert limiter.take("10.0.0.3") == 10  # the table is full and nobody has refilled
    now[0] = 100.0
    assert limiter.take("10.0.0.3") == 0  # refilled clients are forgotten to make room
    # one IPv6 host holds a /64: its addresses share one bucket
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


@pytest.mark.parametrize("depth", [30_000, 200])  # past the recursion limit, and not
def test_deeply_nested_json_is_a_400_json_answer(service, depth):
    with httpx.Client(base_url=service.url, timeout=10) as client:
        nested = "[" * depth + "]" * depth
        body = '{"origin": "http://127.0.0.1:1", "entry": {"x": ' + nested + "}}"
        for path in ("/v1/lookup", "/v1/challenges"):
            answer = client.post(path, content=body.encode())
            assert answer.status_code == 400, answer.text
            assert "nested deeper than 32" in answer.json()["error"]
        assert client.get("/v1/health").json() == {"status": "ok"}
    assert service.store.pending_challenges() == 0


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/v1/entries/abc", "GET, DELETE"),
        ("PATCH", "/v1/lookup", "POST"),
        ("PUT", "/v1/challenges/abc/verify", "POST"),
        ("DELETE", "/v1/entries", "GET, POST"),
        ("OPTIONS", "/v1/health", "GET"),
        ("BREW", "/openapi.json", "GET"),
    ],
)
def test_unknown_methods_are_405_json_with_allow(service, method, path, allow):
    with httpx.Client(base_url=service.url, timeout=10) as client:
        answer = client.request(method, path, json={"a": 1})
        assert answer.status_code == 405
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["allow"] == allow
        assert method in answer.json()["error"]
        assert client.request("PATCH", "/v1/nowhere").json() == {"error": "no such route"}


def test_head_gets_a_405_without_a_body(service):
    port = service.server.server_address[1]
    answer = _raw(port, b"HEAD /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405") and b"Allow: GET" in head
    assert rest == b""


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n", b"400"),  # (no more bytes: the server answers on the first line)
        (b"GET / HTTP/9.x\r\n", b"400"),
    ],
)
def test_unreadable_requests_get_json_errors(service, request_bytes, status):
    answer = _raw(service.server.server_address[1], request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status
    assert b"Content-Type: application/json" in head
    assert "error" in json.loads(body)


def test_an_expiry_in_the_past_is_refused(service, site):
    past = {"expires_at": "2001-01-01T00:00:00Z"}
    auth = {"Authorization": f"Bearer {service.token}"}
    with httpx.Client(base_url=service.url, timeout=10) as client:
        body = {**ADD, "purposes": ["train-ai"], **past}
        added = client.post("/v1/entries", json=body, headers=auth)
        assert added.status_code == 400 and "in the past" in added.json()["error"]
        started = _challenge(client, site.origin, **past)
        assert started.status_code == 400 and "in the past" in started.json()["error"]
        future = {**body, "expires_at": "2999-01-01T00:00:00Z"}
        assert client.post("/v1/entries", json=future, headers=auth).status_code == 201
    assert service.store.count() == 1
    assert service.store.pending_challenges() == 0
