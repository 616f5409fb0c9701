"""The registry API on FastAPI + uvicorn (a real server on 127.0.0.1): every route, auth
failures, bounds, malformed JSON, the shape of validation errors, the generated OpenAPI
document, the protocol's guards (stalled clients, graceful stop) and included routers."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from openapi_spec_validator import validate

from crawler.registry.openapi import openapi_document
from crawler.registry.service import ServiceConfig, make_server, serve_in_thread
from crawler.registry.store import RegistryStore

from .conftest import entry, start_service
from .test_service_limits import HeldSite

ADD = {"subject_kind": "domain", "subject": "example.com", "choice": "opt-out",
       "purposes": ["train-ai"]}  # fmt: skip
#: Every route of the API: (method, path as the OpenAPI document names it).
ROUTES = {
    ("get", "/v1/health"),
    ("post", "/v1/lookup"),
    ("get", "/v1/entries"),
    ("post", "/v1/entries"),
    ("get", "/v1/entries/{id}"),
    ("delete", "/v1/entries/{id}"),
    ("post", "/v1/challenges"),
    ("post", "/v1/challenges/{id}/verify"),
}


@pytest.fixture
def http(service):
    with httpx.Client(base_url=service.url, timeout=10) as client:
        yield client


def _auth(service) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.token}"}


def _error(answer: httpx.Response, status: int) -> str:
    """The answer is ``status`` with exactly ``{"error": "<text>"}`` as JSON; the text."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    return str(body["error"])


def _raw(port: int, request: bytes, *, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


# Every route ------------------------------------------------------------------------------


def test_every_route_answers(service, http, site):
    assert http.get("/v1/health").json() == {"status": "ok"}
    created = http.post("/v1/entries", json={**ADD, "id": "dom"}, headers=_auth(service))
    assert created.status_code == 201 and created.json()["entry"]["id"] == "dom"
    assert http.get("/v1/entries/dom").json()["entry"]["subject"] == "example.com"
    page = http.get("/v1/entries", params={"host": "example.com"}).json()
    assert [e["id"] for e in page["entries"]] == ["dom"] and page["next"] is None
    found = http.post("/v1/lookup", json={"urls": ["https://a.example.com/"]}).json()
    assert [e["id"] for e in found["results"][0]["entries"]] == ["dom"]
    assert "verdict" not in found["results"][0]
    decided = http.post(
        "/v1/lookup", json={"urls": ["https://a.example.com/"], "purpose": "train-ai"}
    ).json()
    assert decided["results"][0]["verdict"] == "deny"
    owner = {"subject_kind": "prefix", "subject": site.origin + "/", "choice": "opt-in",
             "purposes": ["search"]}  # fmt: skip
    started = http.post("/v1/challenges", json={"origin": site.origin, "entry": owner})
    assert started.status_code == 201, started.text
    challenge = started.json()
    site.files["/.well-known/heed-registry.txt"] = (200, challenge["content"].encode(), {})
    verified = http.post(challenge["verify_url"])
    assert verified.status_code == 201 and verified.json()["entry"]["verified"] is True
    assert http.delete("/v1/entries/dom", headers=_auth(service)).json() == {"removed": "dom"}
    assert service.store.get("dom") is None
    assert http.get("/openapi.json").json() == openapi_document()
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_unknown_ids_and_routes_are_404(http):
    assert "no entry nope" in _error(http.get("/v1/entries/nope"), 404)
    assert "no such challenge" in _error(http.post("/v1/challenges/nope/verify"), 404)
    # an id the route cannot take is no route at all (as before), not a validation error
    assert _error(http.get("/v1/entries/" + "x" * 200), 404) == "no such route"
    assert _error(http.post("/v1/challenges/a.b/verify"), 404) == "no such route"
    assert _error(http.get("/"), 404) == "no such route"  # left free for the owners' page
    assert _error(http.get("/v1/entries/"), 404) == "no such route"  # no slash redirects


# Auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "Bearer heed_wrong", "Basic abc", "Bearer", "Bearer  x", "bearer", "Token abc"],
)
def test_writes_without_a_valid_token_are_401_and_write_nothing(service, http, header):
    service.store.add(entry("domain", "kept.example", id="kept"))
    headers = {} if header is None else {"Authorization": header}
    for answer in (
        http.post("/v1/entries", json=ADD, headers=headers),
        http.delete("/v1/entries/kept", headers=headers),
    ):
        _error(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert service.store.count() == 1 and service.store.get("kept") is not None


def test_the_token_scheme_is_case_blind_and_names_the_writer(service, http):
    headers = {"Authorization": f"bearer {service.token}"}
    created = http.post("/v1/entries", json=ADD, headers=headers)
    assert created.status_code == 201 and created.json()["entry"]["registered_by"] == "token:ops"


# Bounds -----------------------------------------------------------------------------------


def test_body_and_batch_bounds(service, http):
    # the tests' service: max_body 65,536 bytes, max_batch 2,000 URLs
    over = http.post("/v1/lookup", content=b'{"urls": ["' + b"a" * 70_000 + b'"]}')
    assert "larger than 65536" in _error(over, 413)
    assert over.headers["connection"] == "close"
    assert "2000" in _error(http.post("/v1/lookup", json={"urls": ["https://x/"] * 2001}), 413)
    assert http.post("/v1/lookup", json={"urls": ["https://x/"] * 2000}).status_code == 200
    _error(http.post("/v1/lookup", json={"urls": ["https://x/" + "a" * 8200]}), 400)
    _error(http.post("/v1/lookup", json={"urls": [""]}), 400)
    for limit in ("0", "1001", "ten"):
        assert "limit" in _error(http.get("/v1/entries", params={"limit": limit}), 400)
    assert http.get("/v1/entries", params={"limit": "1000"}).status_code == 200


def test_a_service_with_a_smaller_body_bound(store):
    svc = start_service(store, max_body=100)
    try:
        with httpx.Client(base_url=svc.url, timeout=10) as client:
            urls = {"urls": ["https://example.com/" + "a" * 90]}
            _error(client.post("/v1/lookup", json=urls), 413)
            assert client.post("/v1/lookup", json={"urls": ["https://x/"]}).status_code == 200
    finally:
        svc.stop()


def test_length_is_required_and_a_bad_length_is_refused(service):
    port = service.server.server_address[1]
    for request, status in [
        (b"POST /v1/entries HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"411"),
        (
            b"POST /v1/challenges HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\n{}\r\n0\r\n\r\n",
            b"411",
        ),
        (b"POST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n{", b"413"),
        (b"POST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", b"400"),
    ]:
        head, _, body = _raw(port, request).partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == status, head
        assert b"Content-Type: application/json" in head and b"error" in body


def test_json_depth_is_bounded(service, http):
    nested = "[" * 33 + "]" * 33
    answer = http.post("/v1/entries", content=nested.encode(), headers=_auth(service))
    assert "nested deeper than 32" in _error(answer, 400)
    shallow = {**ADD, "note": "[[[[" * 20}  # brackets inside strings do not nest
    assert http.post("/v1/entries", json=shallow, headers=_auth(service)).status_code == 201


# Malformed JSON and validation errors -----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe{}", b"", b"[]", b'"urls"', b'{"urls": {"a": 1}}', b"{}"],
)
def test_malformed_bodies_are_400_json(http, body):
    _error(http.post("/v1/lookup", content=body), 400)
    _error(http.post("/v1/challenges", content=body), 400)


def test_validation_errors_name_the_field(service, http):
    assert "urls.1" in _error(http.post("/v1/lookup", json={"urls": ["https://x/", 2]}), 400)
    assert "purpose" in _error(http.post("/v1/lookup", json={"urls": [], "purpose": "x"}), 422)
    assert "origin" in _error(http.post("/v1/challenges", json={"entry": ADD}), 400)
    entry_list = {"origin": "https://example.com", "entry": [1]}
    assert "entry" in _error(http.post("/v1/challenges", json=entry_list), 400)
    # an entry's meaning is checked by the registry's own validator: its message, a 422
    bad = {**ADD, "choice": "maybe"}
    assert "choice" in _error(http.post("/v1/entries", json=bad, headers=_auth(service)), 422)
    assert service.store.count() == 0


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/entries/abc", "GET, DELETE"),
        ("GET", "/v1/lookup", "POST"),
        ("PATCH", "/v1/entries", "GET, POST"),
        ("POST", "/v1/health", "GET"),
        ("HEAD", "/openapi.json", "GET"),
        ("DELETE", "/docs", "GET"),
        ("GET", "/v1/challenges/abc/verify", "POST"),
    ],
)
def test_405_lists_every_method_of_the_path(http, method, path, allow):
    answer = http.request(method, path)
    assert answer.status_code == 405 and answer.headers["allow"] == allow
    if method != "HEAD":
        assert method in _error(answer, 405)


# The OpenAPI document ---------------------------------------------------------------------


def test_openapi_document_is_valid_and_lists_every_route(http):
    doc = http.get("/openapi.json").json()
    validate(doc)  # raises on an invalid document
    listed = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert listed == ROUTES
    for method, path in ROUTES:
        operation = doc["paths"][path][method]
        writes = (method, path) in {("post", "/v1/entries"), ("delete", "/v1/entries/{id}")}
        assert ("security" in operation) is writes, (method, path)
        errors = {s for s in operation["responses"] if s.startswith("4")}
        assert path == "/v1/health" or {"400", "422"} <= errors  # (health takes no input)
        for status in errors:  # every error is documented as {"error": ...}
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    schemas = doc["components"]["schemas"]
    lookup = doc["paths"]["/v1/lookup"]["post"]["requestBody"]["content"]["application/json"]
    assert lookup["schema"] == {"$ref": "#/components/schemas/LookupRequest"}
    assert schemas["LookupRequest"]["required"] == ["urls"]
    assert schemas["LookupRequest"]["properties"]["urls"]["items"]["maxLength"] == 8192
    required = {"subject_kind", "subject", "choice", "purposes"}
    assert set(schemas["EntryBody"]["required"]) == required
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# The server -------------------------------------------------------------------------------


def test_port_zero_reports_the_bound_port(store):
    server = make_server(store, "127.0.0.1", 0)
    try:
        port = server.server_address[1]
        assert port != 0
        serve_in_thread(server)
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=10).status_code == 200
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):  # stopped: nothing listens any more
        httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=10)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/lookup HTTP/1.1\r\nHost: x\r\n",  # a head that never ends
        b"POST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{",  # a body
        b"",  # a connection that never sends a byte
    ],
)
def test_a_stalled_client_is_dropped(store, request_bytes):
    svc = start_service(store, stall_timeout=0.5)
    try:
        # The server closes the connection without an answer (a stall raises socket.timeout).
        assert _raw(svc.server.server_address[1], request_bytes, timeout=20) == b""
    finally:
        svc.stop()


def test_an_idle_keep_alive_connection_is_dropped(store):
    svc = start_service(store, stall_timeout=1)
    try:
        request = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = _raw(svc.server.server_address[1], request, timeout=20)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"ok"}')
    finally:
        svc.stop()


def test_stop_lets_a_request_under_way_finish(store):
    held = HeldSite()
    svc = start_service(store, shutdown_grace=30)
    answers: list[httpx.Response] = []
    try:
        with httpx.Client(base_url=svc.url, timeout=30) as client:
            owner = {"subject_kind": "prefix", "subject": held.origin + "/",
                     "choice": "opt-out", "purposes": ["train-ai"]}  # fmt: skip
            started = client.post("/v1/challenges", json={"origin": held.origin, "entry": owner})
            url = started.json()["verify_url"]
            worker = threading.Thread(target=lambda: answers.append(client.post(url)))
            worker.start()
            assert held.arrived.acquire(timeout=20)  # the proof fetch is under way
            stopper = threading.Thread(target=svc.stop)
            stopper.start()
            held.release.set()
            worker.join(30)
            stopper.join(30)
        assert not stopper.is_alive()
        assert len(answers) == 1 and "404" in _error(answers[0], 422)
    finally:
        held.close()
        svc.stop()


def test_included_routers_are_served_beside_the_api(store):
    page = APIRouter()

    @page.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> str:
        return "<h1>registry</h1>"

    server = make_server(store, "127.0.0.1", 0, ServiceConfig(), routers=[page])
    serve_in_thread(server)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_address[1]}") as client:
            assert client.get("/").text == "<h1>registry</h1>"
            assert client.get("/v1/health").json() == {"status": "ok"}
            answer = client.post("/")
            assert answer.status_code == 405 and answer.headers["allow"] == "GET"
    finally:
        server.stop()


def test_a_fault_of_the_service_is_a_json_500(service, http, monkeypatch):
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(service.store, "candidates", broken)
    assert _error(http.post("/v1/lookup", json={"urls": ["https://x/"]}), 500) == ("internal error")
    assert http.get("/v1/health").status_code == 200


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_serve_command_stops_gracefully_on_a_signal(db_path, signum):
    RegistryStore(db_path).close()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawler.registry.cli",
            "serve",
            "--port",
            "0",
            "--db",
            str(db_path),
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert found, proc.stderr.read() if proc.stderr else ""
        url = found.group(0)
        assert found.group(1) != "0"  # the port it got
        assert httpx.get(url + "/v1/health", timeout=10).json() == {"status": "ok"}
        page = httpx.get(url + "/", timeout=10)  # the site-owner page is served at /
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_the_serve_command_refuses_an_invalid_check_config(db_path, tmp_path):
    RegistryStore(db_path).close()
    bad = tmp_path / "run.toml"
    bad.write_text('[policy]\npurpose = "everything"\n', encoding="utf-8")
    argv = [sys.executable, "-m", "crawler.registry.cli", "serve", "--port", "0", "--db"]
    root = Path(__file__).resolve().parents[2]
    for config, named in ((bad, "purpose"), (tmp_path / "missing.toml", "missing.toml")):
        done = subprocess.run(
            [*argv, str(db_path), "--check-config", str(config)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "--check-config" in done.stderr and named in done.stderr
        assert "listening" not in done.stdout and "Traceback" not in done.stderr
