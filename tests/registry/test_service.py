"""The registry service on 127.0.0.1: lookups, auth, bounds, verification, OpenAPI."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from crawler.registry.openapi import openapi_document

from .conftest import entry

ADD = {
    "subject_kind": "domain",
    "subject": "example.com",
    "choice": "opt-out",
    "purposes": ["train-ai"],
}


@pytest.fixture
def http(service):
    with httpx.Client(base_url=service.url, timeout=10) as client:
        yield client


def test_health_and_openapi_cover_every_route(http):
    assert http.get("/v1/health").json() == {"status": "ok"}
    doc = http.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert doc == openapi_document()
    assert {
        "/v1/health",
        "/v1/lookup",
        "/v1/entries",
        "/v1/entries/{id}",
        "/v1/challenges",
        "/v1/challenges/{id}/verify",
    } <= set(doc["paths"])
    assert "security" in doc["paths"]["/v1/entries"]["post"]
    assert "security" not in doc["paths"]["/v1/lookup"]["post"]


def test_batch_lookup_with_decision(service, http):
    service.store.add_many(
        [
            entry("domain", "example.com", "opt-out", id="dom"),
            entry("url", "https://example.com/ok", "opt-in", id="ok"),
        ]
    )
    urls = ["https://a.example.com/", "https://example.com/ok", "https://example.org/"]
    answer = http.post("/v1/lookup", json={"urls": urls, "purpose": "train-ai"}).json()
    by_url = {item["url"]: item for item in answer["results"]}
    assert by_url["https://a.example.com/"]["reasons"] == ["registry.opt-out"]
    assert by_url["https://a.example.com/"]["entry_id"] == "dom"
    assert by_url["https://example.com/ok"]["verdict"] == "grant"
    assert by_url["https://example.com/ok"]["entry_id"] == "ok"
    assert by_url["https://example.org/"] == {
        "url": "https://example.org/",
        "entries": [],
        "verdict": "none",
        "reasons": [],
        "entry_id": None,
    }


def test_writes_need_the_right_token(service, http):
    assert http.post("/v1/entries", json=ADD).status_code == 401
    wrong = {"Authorization": "Bearer heed_wrong"}
    assert http.post("/v1/entries", json=ADD, headers=wrong).status_code == 401
    basic = {"Authorization": f"Basic {service.token}"}
    assert http.post("/v1/entries", json=ADD, headers=basic).status_code == 401
    assert service.store.count() == 0
    right = {"Authorization": f"Bearer {service.token}"}
    created = http.post("/v1/entries", json=ADD, headers=right)
    assert created.status_code == 201
    entry_id = created.json()["entry"]["id"]
    assert created.json()["entry"]["registered_by"] == "token:ops"
    assert http.get(f"/v1/entries/{entry_id}").json()["entry"]["subject"] == "example.com"
    assert http.delete(f"/v1/entries/{entry_id}").status_code == 401
    assert http.delete(f"/v1/entries/{entry_id}", headers=wrong).status_code == 401
    assert http.delete(f"/v1/entries/{entry_id}", headers=right).status_code == 200
    assert http.get(f"/v1/entries/{entry_id}").status_code == 404
    assert http.delete(f"/v1/entries/{entry_id}", headers=right).status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"subject": "https://bad/"}, "bad domain"),
        ({"purposes": ["world-domination"]}, "unknown purpose"),
        ({"license": "NOT-A-LICENSE"}, "bad licence"),
        ({"subject_kind": None}, "missing field"),
    ],
)
def test_invalid_entries_are_422_and_write_nothing(service, http, change, message):
    body = {**ADD, **change}
    answer = http.post(
        "/v1/entries", json=body, headers={"Authorization": f"Bearer {service.token}"}
    )
    assert answer.status_code == 422
    assert message in answer.json()["error"]
    assert service.store.count() == 0


def test_malformed_requests(http):
    assert http.post("/v1/lookup", content=b"{not json").status_code == 400
    assert http.post("/v1/lookup", json={"urls": "https://x/"}).status_code == 400
    assert http.post("/v1/lookup", json={"urls": [1, 2]}).status_code == 400
    assert http.post("/v1/lookup", json={"urls": ["x" * 9000]}).status_code == 400
    assert http.post("/v1/lookup", json={"urls": [], "purpose": "nope"}).status_code == 422
    assert http.get("/v1/nowhere").status_code == 404
    assert http.put("/v1/lookup", json={}).status_code == 405
    assert http.get("/v1/entries", params={"limit": "0"}).status_code == 400
    # the service still answers after all that
    assert http.get("/v1/health").status_code == 200


def test_oversized_body_and_batch_are_refused(service, http):
    too_many = {"urls": [f"https://h{i}.example/" for i in range(2001)]}
    answer = http.post("/v1/lookup", json=too_many)
    assert answer.status_code == 413 and "2000" in answer.json()["error"]
    huge = {"urls": ["https://example.com/" + "a" * 8000] * 10}  # > 64 KiB configured bound
    assert http.post("/v1/lookup", json=huge).status_code == 413
    assert http.get("/v1/health").status_code == 200


def _raw(service, request: bytes) -> bytes:
    port = service.server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def test_missing_length_and_chunked_bodies_are_refused(service):
    no_length = b"POST /v1/lookup HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert _raw(service, no_length).startswith(b"HTTP/1.1 411")
    chunked = (
        b"POST /v1/lookup HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n{}{}{\r\n0\r\n\r\n"
    )
    assert _raw(service, chunked).startswith(b"HTTP/1.1 411")
    lying = b"POST /v1/lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{}"
    assert _raw(service, lying).startswith(b"HTTP/1.1 413")


def _challenge(http, origin, **entry_fields):
    # A prefix on the proven origin: a domain subject would need the host's default port.
    fields = {"subject_kind": "prefix", "subject": origin + "/", **entry_fields}
    body = {"origin": origin, "entry": {**ADD, **fields}}
    return http.post("/v1/challenges", json=body)


def test_verification_flow_records_a_verified_entry(service, http, site):
    started = _challenge(http, site.origin, purposes=["train-ai", "ai-input"], license="CC0-1.0")
    assert started.status_code == 201, started.text
    challenge = started.json()
    assert challenge["well_known_url"] == site.origin + "/.well-known/heed-registry.txt"
    verify_url = challenge["verify_url"]
    # not yet published: refused, nothing written
    refused = http.post(verify_url)
    assert refused.status_code == 422 and "404" in refused.json()["error"]
    site.files["/.well-known/heed-registry.txt"] = (200, b"heed-registry-verification=wrong\n", {})
    assert http.post(verify_url).status_code == 422
    assert service.store.count() == 0
    body = f"# proof\n{challenge['content']}\n".encode()
    site.files["/.well-known/heed-registry.txt"] = (200, body, {"Content-Type": "text/plain"})
    done = http.post(verify_url)
    assert done.status_code == 201, done.text
    recorded = done.json()["entry"]
    assert recorded["verified"] is True
    assert recorded["registered_by"] == f"owner:{site.origin}"
    assert service.store.get(recorded["id"]).license == "CC0-1.0"
    assert http.post(verify_url).status_code == 404  # single use


def test_verification_refuses_foreign_subjects_and_private_addresses(service, http, site):
    foreign = _challenge(http, site.origin, subject_kind="prefix", subject="https://example.com/")
    assert foreign.status_code == 422 and "not within" in foreign.json()["error"]
    assert _challenge(http, site.origin + "/path").status_code == 422
    started = _challenge(http, site.origin).json()
    site.files["/.well-known/heed-registry.txt"] = (200, started["content"].encode(), {})
    service.server.config = type(service.server.config)(allow_private=False)
    blocked = http.post(started["verify_url"])
    assert blocked.status_code == 422 and "non-public" in blocked.json()["error"]
    assert service.store.count() == 0


def test_verification_bounds_size_and_redirects(service, http, site):
    started = _challenge(http, site.origin).json()
    big = (started["content"] + "\n").encode() + b"x" * (70 * 1024)
    site.files["/.well-known/heed-registry.txt"] = (200, big, {})
    assert "larger" in http.post(started["verify_url"]).json()["error"]
    loop = {"Location": "/.well-known/heed-registry.txt"}
    site.files["/.well-known/heed-registry.txt"] = (302, b"", loop)
    assert "redirects" in http.post(started["verify_url"]).json()["error"]
    away = {"Location": "http://localhost:1/.well-known/heed-registry.txt"}
    site.files["/.well-known/heed-registry.txt"] = (302, b"", away)
    assert "leaves the origin" in http.post(started["verify_url"]).json()["error"]
    assert service.store.count() == 0


def test_list_entries_pages(service, http):
    service.store.add_many([entry("domain", f"h{i}.example", id=f"e{i:02d}") for i in range(5)])
    page = http.get("/v1/entries", params={"limit": 3}).json()
    assert [e["id"] for e in page["entries"]] == ["e00", "e01", "e02"] and page["next"] == "e02"
    rest = http.get("/v1/entries", params={"limit": 3, "after": page["next"]}).json()
    assert [e["id"] for e in rest["entries"]] == ["e03", "e04"] and rest["next"] is None
    assert json.loads(json.dumps(rest))  # plain JSON


@pytest.mark.parametrize("purpose", [None, "train-ai"])
def test_lookup_answer_is_compact_json_with_every_entry_in_full(service, http, purpose):
    # The answer is assembled from pre-serialised entries; it must be exactly the compact JSON
    # of the documented shape, each URL carrying its entries in full (also when shared).
    from filters.registry import entry_to_dict

    dom = entry("domain", "example.com", "opt-out", id="dom", note='quote " and é')
    pre = entry("prefix", "https://a.example.com/x/", "opt-in", id="pre", license="CC0-1.0")
    service.store.add_many([dom, pre])
    urls = ["https://a.example.com/x/1", "https://b.example.com/", "https://example.org/"]
    body = {"urls": [*urls, urls[0]]} | ({"purpose": purpose} if purpose else {})
    response = http.post("/v1/lookup", json=body)
    expected_entries = [[entry_to_dict(pre), entry_to_dict(dom)], [entry_to_dict(dom)], []]
    expected = []
    for url, entries, verdict, entry_id in zip(
        urls, expected_entries, ["grant", "deny", "none"], ["pre", "dom", None], strict=True
    ):
        item: dict[str, object] = {"url": url, "entries": entries}
        if purpose:
            reasons = ["registry.opt-out"] if verdict == "deny" else []
            item |= {"verdict": verdict, "reasons": reasons, "entry_id": entry_id}
        expected.append(item)
    assert response.content == json.dumps({"results": expected}, separators=(",", ":")).encode()
